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

struct okof_store {
	int dirfd;
	struct okof_settings settings;
	unsigned char salt[SALT_BYTES];
	struct store_keys *keys; /* NULL for a plain store */
	char errpath[64];
	const char *errdetail;
};

/* A record's place: "ab" and the 30 hex digits after it. */
struct rec_name {
	char bucket[BUCKET_HEX + 1];
	char file[NAME_HEX + 1];
};

void store_name(const okof_store *s, const char *key, size_t klen,
		struct rec_name *out);

/* The sealing context of record nm: NULL for a plain store, else cr
 * filled in. */
const struct rec_crypto *store_crypto(const okof_store *s,
				      const struct rec_name *nm,
				      struct rec_crypto *cr);

/* A record's header and (unsealed, authenticated) key, read without
 * its value: an open, one read (two for long keys) and a close. */
struct store_peek {
	struct rec_header h; /* h.key points at key */
	unsigned char key[OKOF_KEY_MAX];
	unsigned char buf[REC_FIXED + OKOF_KEY_MAX + REC_ABYTES + 4];
};

/*
 * Reads bucket/name's header, unseals its key on an encrypted store,
 * and checks the record sits under its key's name.  0, 1 if it has
 * vanished, OKOF_ECORRUPT (okof_errdetail says why) or -errno.
 */
int store_peek(okof_store *s, int bfd, const char *bucket, const char *name,
	       struct store_peek *pk);

/* The same on bucket/name open at fd (O_NONBLOCK), which stays open;
 * never 1. */
int store_peek_fd(okof_store *s, int fd, const char *bucket, const char *name,
		  struct store_peek *pk);

/* Records the file and reason of a failure for okof_errpath() and
 * okof_errdetail(); returns rc. */
int store_fail(okof_store *s, int rc, const char *bucket, const char *file,
	       const char *detail);

int64_t store_now_ns(void);

/* Does the directory hold entries (other than temp files, with
 * ignore_tmp)?  1, 0 or -errno. */
int store_dir_nonempty(int dirfd, int ignore_tmp);

/* Opens (making it if needed) the bucket of nm; fd or error. */
int store_open_bucket(okof_store *s, const struct rec_name *nm, int no_sync);

/* Writes and publishes key's record while the caller holds the bucket's
 * exclusive lock (io_flock(bfd, LOCK_EX)).  The caller then fsyncs bfd
 * (unless opts->no_sync), best after unlocking. */
struct okof_put_opts;
int store_put_locked(okof_store *s, int bfd, const struct rec_name *nm,
		     const char *key, size_t klen, const void *val,
		     size_t vlen, const struct okof_put_opts *opts);

#endif
