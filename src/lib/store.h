/*
 * store.h - what the store's modules share inside the library.
 */
#ifndef OKOF_STORE_H
#define OKOF_STORE_H

#include <stdint.h>

#include "okof.h"
#include "record.h"
#include "tmpfile.h"

#define META_NAME "meta"
#define META_MAGIC "OKOFSTOR"
#define META_VERSION 1
#define META_SIZE 96
#define SALT_BYTES 32

#define HASH_BYTES 16		/* of the keyed BLAKE2b that names a record */
#define BUCKET_HEX 2		/* fan-out: 256 directories "00".."ff" */
#define NAME_HEX (2 * HASH_BYTES - BUCKET_HEX)

/* Subkeys of an encrypted store's secret, in sodium_malloc memory. */
struct store_keys {
	unsigned char name[32];	 /* keyed BLAKE2b of keys -> record names */
	unsigned char record[32]; /* crypto_secretstream key of records */
	unsigned char check[32]; /* stored in the metadata: a wrong secret */
};

/* What okof_errpath() and okof_errdetail() report: the file (relative
 * to the store) and the reason of a failure.  The handle has one; a
 * thread that works for it (list) has its own. */
struct store_err {
	char path[64];
	const char *detail;
};

/* A record's place: "ab" and the 30 hex digits after it. */
struct rec_name {
	char bucket[BUCKET_HEX + 1];
	char file[NAME_HEX + 1];
};

#define STORE_READ_KEY_MAX 128

/* A bucket directory a handle keeps open for reading (store.c). */
#define STORE_READ_BUCKETS 4
struct store_bucket {
	int fd;				/* -1: none */
	char name[BUCKET_HEX + 1];	/* of fd */
	char missed[BUCKET_HEX + 1];	/* read last time without fd */
};

struct okof_store {
	int dirfd;
	struct okof_settings settings;
	unsigned char salt[SALT_BYTES];
	struct store_keys *keys; /* NULL for a plain store */
	int plain_secret;	 /* a secret was given for a plain store */
	struct store_err err; /* of the last failure on this handle */
	struct store_bucket read_bfd[STORE_READ_BUCKETS]; /* store.c */
	/* The last key named for a read, while short (store_name_read) */
	size_t read_klen; /* 0: none */
	char read_key[STORE_READ_KEY_MAX];
	struct rec_name read_name;
};

void store_name(const okof_store *s, const char *key, size_t klen,
		struct rec_name *out);

/* store_name(), remembering the last short key that s named: a
 * program that keeps reading a key pays no hash. */
void store_name_read(okof_store *s, const char *key, size_t klen,
		     struct rec_name *out);

/* The sealing context of record nm: NULL for a plain store, else cr
 * filled in. */
const struct rec_crypto *store_crypto(const okof_store *s,
				      const struct rec_name *nm,
				      struct rec_crypto *cr);

/* Records the file and reason of a failure in e, for okof_errpath()
 * and okof_errdetail(). */
void store_note(struct store_err *e, const char *bucket, const char *file,
		const char *detail);

/* store_note() into e, then returns rc: "return store_fail_at(e, rc,
 * ...)".  Inline so that every caller (and clang's analyser, which sees
 * one file at a time) knows a failure code comes back unchanged. */
static inline int
store_fail_at(struct store_err *e, int rc, const char *bucket,
	      const char *file, const char *detail)
{
	store_note(e, bucket, file, detail);
	return rc;
}

/* The same into the handle's own error context. */
static inline int
store_fail(okof_store *s, int rc, const char *bucket, const char *file,
	   const char *detail)
{
	return store_fail_at(&s->err, rc, bucket, file, detail);
}

int64_t store_now_ns(void);

/* Before writing a value: OKOF_EPLAIN if a secret was given for this
 * plain store (plaintext must never be written silently), else 0. */
int store_check_sealed(okof_store *s);

/* Does the directory hold entries (other than temp files, with
 * ignore_tmp)?  1, 0 or -errno. */
int store_dir_nonempty(int dirfd, int ignore_tmp);

/* Opens (making it if needed) the bucket of nm; fd or error. */
int store_open_bucket(okof_store *s, const struct rec_name *nm, int no_sync);

/* For reading record nm: its bucket's descriptor, which s owns (do not
 * close it), or -1: then open nm by its path from the store. */
int store_read_bucket(okof_store *s, const struct rec_name *nm);

/* Writes and publishes key's record while the caller holds the bucket's
 * exclusive lock (io_flock(bfd, LOCK_EX)).  The caller then fsyncs bfd
 * (unless opts->no_sync), best after unlocking. */
struct okof_put_opts;
int store_put_locked(okof_store *s, int bfd, const struct rec_name *nm,
		     const char *key, size_t klen, const void *val,
		     size_t vlen, const struct okof_put_opts *opts);

#endif
