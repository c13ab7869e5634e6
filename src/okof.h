/*
 * okof.h - the okof key-value store library.
 *
 * One key is one file.  A store is a directory holding a metadata file
 * ("meta": format version, a random salt, settings) and 256 fan-out
 * directories "00".."ff".  A key's record lives at BUCKET/NAME, where
 * BUCKET and NAME are the hex digits of a keyed BLAKE2b hash of the key
 * under the store's salt, so a key never becomes a path.  A record holds
 * a header (the key, lengths, times, a checksum) and the value in
 * checksummed chunks, snappy-compressed where that pays.  The format is
 * described in okof(5).
 *
 * Every write goes to an exclusively created temp file beside its
 * target, is fsynced, then published by rename (or link, for create-only
 * puts), and the directory is fsynced after.  Readers therefore see the
 * old record or the new one, whole.
 *
 * Calling sequence (tests/examples.sh compiles it; okof(3) has more):
 *
 *	okof_store *s;
 *	okof_reader *r;
 *	const void *p;
 *	size_t n;
 *	int rc = okof_open(&s, "/path/to/store", OKOF_CREATE, NULL, NULL);
 *	if (rc == 0)
 *		rc = okof_put(s, "k", 1, "v", 1, NULL);
 *	if (rc == 0 && (rc = okof_get_open(s, "k", 1, &r)) == 0) {
 *		while ((rc = okof_get_read(r, &p, &n)) > 0)
 *			fwrite(p, 1, n, stdout);
 *		okof_get_close(r);
 *	}
 *	if (rc < 0)
 *		fprintf(stderr, "%s (%s)\n", okof_strerror(rc),
 *			okof_errpath(s));
 *	okof_close(s);
 *
 * Errors: every function that can fail returns 0 (or a documented
 * positive value) on success and a negative code on failure: -errno for
 * a failed system call, or one of the OKOF_E* codes below.
 * okof_strerror() describes either.  After a failure, okof_errpath()
 * names the file involved (relative to the store) and okof_errdetail()
 * says what was wrong with it, when the library knows.  No function
 * aborts: NULL where a pointer is needed, a NULL buffer with a length,
 * unknown flags are -EINVAL; a bad key is OKOF_EBADKEY.
 *
 * Ownership: memory the library returns stays the library's unless a
 * function says otherwise (okof_list()), and is valid as long as each
 * function says: okof_get_read()'s piece until the next call on the
 * reader, okof_item's strings during the callback, okof_errpath() and
 * okof_errdetail() until the next call on the handle.
 *
 * Threads and processes: a handle (and its readers and imports) is used
 * by one thread at a time; use one handle per thread, any number on a
 * store.  Any number of processes may share a store.  After fork() the
 * child may use a copy of a handle that no thread was using at the fork
 * (and so may the parent), but a reader or an import only on one side.
 * The library never prints, never exits and installs no signal handler.
 */
#ifndef OKOF_H
#define OKOF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OKOF_VERSION "0.1.0"

/*
 * The shared library is built with hidden visibility: OKOF_API marks
 * what it exports (and src/lib/libokof.map keeps only okof_* besides).
 */
#if defined(__GNUC__) && __GNUC__ >= 4
#define OKOF_API __attribute__((visibility("default")))
#else
#define OKOF_API
#endif

/* Limits of the contract. */
#define OKOF_KEY_MAX 4096	/* bytes in a key; a key is 1..OKOF_KEY_MAX */
#define OKOF_CHUNK_SIZE 65536	/* raw value bytes per record chunk */
#define OKOF_THRESHOLD_DEFAULT 256 /* chunks larger than this are compressed */

/*
 * okof's own error codes, in a range no errno uses.  Gaps are left on
 * purpose so that codes can be added without renumbering.
 */
enum {
	OKOF_ENOTFOUND = -30800,  /* key absent or expired */
	OKOF_EEXIST = -30799,	  /* create-only put: key already present */
	OKOF_EBADKEY = -30798,	  /* key empty, too long, or holds a NUL */
	OKOF_ECORRUPT = -30797,	  /* a record or metadata file fails its checks */
	OKOF_ENOTSTORE = -30796,  /* a non-empty directory that is not a store */
	OKOF_EUNSAFE = -30795,	  /* store owned by another user or group/other writable */
	OKOF_EVERSION = -30794,	  /* a format version this build does not know */
	OKOF_ESETTINGS = -30793,  /* store exists with other settings */
	OKOF_ENOSTORE = -30792,	  /* store does not exist (reads treat it as empty) */
	OKOF_EDIRSYNC = -30791,	  /* published, but the directory fsync failed */
	OKOF_ENOTFILE = -30789,	  /* a record is not a regular file */
	OKOF_ENOTINT = -30788,	  /* incr: the value is not a decimal integer */
	OKOF_EOVERFLOW = -30787,  /* incr: the result does not fit 64 bits */
	OKOF_ENEEDSECRET = -30786, /* the store is encrypted; no secret given */
	OKOF_EBADSECRET = -30785,  /* the secret is not this store's */
	OKOF_EPLAIN = -30784,	   /* a secret given, but the store is plain */
	OKOF_EKEYFILE = -30783,	   /* key file not a private 32-byte file */
	OKOF_EFSTYPE = -30782,	   /* a filesystem that cannot keep the guarantees */
	OKOF_EBUSY = -30781,	   /* a lock is held and the wait ran out */
};

/* Returns a static description of rc: an OKOF_E* code or a -errno. */
OKOF_API const char *okof_strerror(int rc);

typedef struct okof_store okof_store;

/* Settings fixed at store creation. */
struct okof_settings {
	uint32_t compress_threshold; /* compress chunks larger than this */
	int encrypt;		     /* seal keys and values (needs a secret) */
};

#define OKOF_SECRET_BYTES 32 /* an encryption secret, as okof keygen writes */

/*
 * Writes a new random secret (OKOF_SECRET_BYTES) to a new file at path,
 * mode 0600: written whole and fsynced beside it, then linked into
 * place, so it never replaces an existing file (-EEXIST, the file
 * untouched) and a crash never leaves a short one.  Missing parent
 * directories are made, mode 0700.  Returns 0, OKOF_EDIRSYNC (the file
 * exists but its directory fsync failed) or -errno.
 */
OKOF_API int okof_keygen(const char *path);

/*
 * Reads the key file at path into secret (OKOF_SECRET_BYTES, memory the
 * caller provides: sodium_malloc'd or mlock'ed, wiped when done).  The
 * file must be a regular file owned by the effective user, with no
 * permission for group or others, of exactly OKOF_SECRET_BYTES.
 * Returns 0; -errno (why NULL) if it cannot be opened; otherwise
 * OKOF_EKEYFILE or the -errno of a failed fstat/read, with *why (if why
 * is not NULL) a static text saying what is wrong ("" for an errno).
 * secret is left wiped on failure.  -EINVAL if path or secret is NULL.
 */
OKOF_API int okof_load_secret(const char *path, unsigned char *secret,
			      const char **why);

/* okof_open() flags. */
#define OKOF_CREATE 0x1	/* create the store (and missing parents) */
#define OKOF_INIT 0x2	/* with OKOF_CREATE: settings must match an existing store */

/*
 * Opens the store at dir.
 *
 * Without OKOF_CREATE a store that does not exist, or whose creation was
 * interrupted before its metadata was published, is OKOF_ENOSTORE.
 * With OKOF_CREATE it is created (or completed): missing directories are
 * made with mode 0700 and made durable in their parents, then the
 * metadata file is published.  settings (or the defaults when NULL) are
 * used for a new store; with OKOF_INIT, an existing store whose settings
 * differ from a non-NULL settings is OKOF_ESETTINGS.
 *
 * A directory owned by another user, or writable by group or others, is
 * OKOF_EUNSAFE; a non-empty directory without metadata OKOF_ENOTSTORE;
 * a directory on an object store mounted with FUSE (s3fs and the like:
 * no atomic rename, no hard links) OKOF_EFSTYPE.
 *
 * secret (OKOF_SECRET_BYTES, or NULL) is needed for an encrypted store:
 * without it OKOF_ENEEDSECRET, with the wrong one OKOF_EBADSECRET, both
 * before any record is read or written.  A new store is encrypted when
 * settings ask for it or a secret is given.  A secret given for an
 * existing store that is not encrypted opens it for reading as usual,
 * but every function that would write a value into it (okof_put,
 * okof_put_fd, okof_incr, okof_import_begin) refuses with OKOF_EPLAIN
 * before it writes anything: whoever holds a secret believes the values
 * are sealed, so plaintext is never written silently.  The library keeps only
 * subkeys derived from it, in locked memory that okof_close() wipes; the
 * caller wipes its copy.
 *
 * On success *out is a handle the caller frees with okof_close().  On
 * failure *out is NULL and there is no handle to ask okof_errpath():
 * the error concerns dir itself or its "meta" file.
 */
OKOF_API int okof_open(okof_store **out, const char *dir, int flags,
		       const struct okof_settings *settings,
		       const unsigned char *secret);

/* Closes the handle; NULL is allowed.  Close its readers first. */
OKOF_API void okof_close(okof_store *s);

/* Is the store encrypted?  1 or 0 (-EINVAL for NULL). */
OKOF_API int okof_encrypted(const okof_store *s);

/* The store's settings as read from its metadata (zeroes for NULL s). */
OKOF_API void okof_get_settings(const okof_store *s, struct okof_settings *out);

/*
 * The file (relative to the store) of the last failure, or "" (also for
 * NULL s).  The text is the handle's: valid until the next call on it.
 */
OKOF_API const char *okof_errpath(const okof_store *s);

/* What was wrong with that file (static text), or "". */
OKOF_API const char *okof_errdetail(const okof_store *s);

/* Returns 0 if key/klen is a valid key, -EINVAL for a NULL key with a
 * length, else OKOF_EBADKEY. */
OKOF_API int okof_check_key(const char *key, size_t klen);

/* okof_put options. */
struct okof_put_opts {
	int if_absent;	 /* publish only if the key is absent (link, not rename) */
	int no_sync;	 /* skip fsyncs: atomic, not durable */
	int64_t expires; /* Unix seconds after which the key reads as absent; 0: never */
};

/*
 * Stores val/vlen under key/klen.  opts may be NULL (durable, overwrite,
 * no expiry).  Returns 0, OKOF_EEXIST (if_absent and the key exists),
 * OKOF_EBADKEY, OKOF_EPLAIN (see okof_open), OKOF_EDIRSYNC (the new value is published but the final
 * directory fsync failed: durability unknown) or another error, in which
 * case the previous value is intact.
 */
OKOF_API int okof_put(okof_store *s, const char *key, size_t klen,
		      const void *val, size_t vlen,
		      const struct okof_put_opts *opts);

/*
 * Streaming put: the value is everything read from fd until end of file,
 * in constant memory.  Same returns as okof_put(), and -EBADF for a
 * negative fd.  A read error on fd returns its -errno and publishes
 * nothing.  fd stays open: it is the caller's.
 */
OKOF_API int okof_put_fd(okof_store *s, const char *key, size_t klen, int fd,
			 const struct okof_put_opts *opts);

/*
 * Streaming put: a writer that takes the value piece by piece, for a
 * value produced while it is stored (okof cache tees a command's output
 * into one).  okof_put_begin() creates the record's temp file (the key's
 * expiry, opts->expires, is fixed now); okof_put_write() adds bytes in
 * constant memory; okof_put_commit() finishes, fsyncs and publishes the
 * record exactly as okof_put() does, and okof_put_abort() removes it:
 * until one of them the key keeps its old value.  Both free w.  The
 * temp file is the writer's; okof_signal_cleanup() removes it if a
 * signal ends the process meanwhile (one writer per thread at a time).
 *
 * okof_put_begin: 0 with *out set, OKOF_EBADKEY, OKOF_EPLAIN or an error
 * (*out NULL).  okof_put_write: 0 or an error, after which only
 * okof_put_abort() is allowed.  okof_put_commit: the returns of
 * okof_put().  NULL w: -EINVAL (abort: nothing).
 */
typedef struct okof_writer okof_writer;

OKOF_API int okof_put_begin(okof_store *s, const char *key, size_t klen,
			    const struct okof_put_opts *opts, okof_writer **out);
OKOF_API int okof_put_write(okof_writer *w, const void *p, size_t n);
OKOF_API int okof_put_commit(okof_writer *w);
OKOF_API void okof_put_abort(okof_writer *w);

/*
 * Removes the temp file of a put in progress in the calling thread, if
 * any.  Async-signal-safe: for the caller's SIGINT/SIGTERM handler,
 * which then re-raises the signal.
 */
OKOF_API void okof_signal_cleanup(void);

/* Facts about a record. */
struct okof_info {
	uint64_t size;	  /* value bytes */
	uint64_t disk;	  /* bytes the record file occupies on disk */
	int compressed;	  /* some chunk is stored compressed */
	int encrypted;	  /* the record is sealed */
	int64_t mtime_ns; /* when the value was written, Unix nanoseconds */
	int64_t expires;  /* Unix seconds, 0: never */
};

typedef struct okof_reader okof_reader;

/*
 * Opens key for reading.  Returns 0 and sets *out, a reader the caller
 * closes with okof_get_close() before closing s, or OKOF_ENOTFOUND
 * (absent or expired), OKOF_ECORRUPT (the header fails its checks), or
 * another error (*out NULL).  The header is verified; chunks are
 * verified one by one as okof_get_read() returns them.  The reader holds
 * the record open: a later put of the key does not change what it reads.
 */
OKOF_API int okof_get_open(okof_store *s, const char *key, size_t klen,
			   okof_reader **out);

/* The record's facts; valid after okof_get_open() (zeroes for NULL r).
 * disk is found by an fstat of the record at this call (0 if that
 * fails; okof_stat() reports such a failure). */
OKOF_API void okof_get_info(const okof_reader *r, struct okof_info *out);

/*
 * Returns the next verified piece of the value: 1 with p and n set (the
 * memory belongs to r and is valid until the next call), 0 at the end
 * of a value that verified whole, or a negative code (OKOF_ECORRUPT for
 * a bad chunk, a short record or trailing garbage).
 */
OKOF_API int okof_get_read(okof_reader *r, const void **p, size_t *n);

/* Closes the reader; NULL is allowed. */
OKOF_API void okof_get_close(okof_reader *r);

/* okof_get_open() + okof_get_info() + close: 0, OKOF_ENOTFOUND, ... */
OKOF_API int okof_stat(okof_store *s, const char *key, size_t klen,
		       struct okof_info *out);

/*
 * Is key present (and not expired)?  Returns 1 present, 0 absent, or a
 * negative code (OKOF_EBADKEY, OKOF_ECORRUPT for a record whose header
 * fails its checks, -errno).
 */
OKOF_API int okof_has(okof_store *s, const char *key, size_t klen);

/*
 * The expiry time for a key that lives ttl seconds from now, for
 * okof_put_opts.expires: the current time plus ttl, rounded up to the
 * next whole second, so that the key lives at least the whole ttl.
 * Returns 0 with *out set, -EINVAL (ttl negative, out NULL) or
 * OKOF_EOVERFLOW (the time does not fit 64 bits).
 */
OKOF_API int okof_expires_in(int64_t ttl, int64_t *out);

/*
 * Deletes key.  Returns 0, OKOF_ENOTFOUND if it was absent (an expired
 * record is removed and still reported absent), or an error.  Without
 * no_sync the directory is fsynced after the unlink.
 */
OKOF_API int okof_del(okof_store *s, const char *key, size_t klen, int no_sync);

/*
 * Adds delta to the signed 64-bit decimal integer stored under key (an
 * absent or expired key counts as 0) and stores the result as digits
 * and a newline, keeping the key's expiry.  Surrounding whitespace is
 * accepted in the stored value.  The read-modify-write holds the
 * bucket's exclusive lock, so concurrent increments never lose an
 * update, from any number of threads or processes.  Returns 0 with *out
 * set (out may be NULL), OKOF_ENOTINT, OKOF_EOVERFLOW (the value is left
 * alone), OKOF_EPLAIN (see okof_open), OKOF_EDIRSYNC or another error.
 */
OKOF_API int okof_incr(okof_store *s, const char *key, size_t klen,
		       int64_t delta, int no_sync, int64_t *out);

/* What okof_verify() and okof_gc() found, item by item. */
enum okof_item_kind {
	OKOF_ITEM_OK,	   /* a record that passed every check */
	OKOF_ITEM_BAD,	   /* a record that failed one */
	OKOF_ITEM_TEMP,	   /* a temp file that no running write owns */
	OKOF_ITEM_BUSY,	   /* a temp file of a write in progress */
	OKOF_ITEM_STRAY,   /* a file okof did not make */
	OKOF_ITEM_EXPIRED, /* gc: an expired record, removed */
	OKOF_ITEM_REMOVED, /* gc: a temp file, removed */
	OKOF_ITEM_COPYING, /* backup: bytes more of a record copied */
};

struct okof_item {
	enum okof_item_kind kind;
	const char *path;   /* relative to the store */
	const char *key;    /* the record's key, or NULL if unreadable */
	size_t klen;
	const char *detail; /* what is wrong, for BAD; "" otherwise */
	uint64_t bytes;	    /* file size */
};

/*
 * Called for every item; a negative return stops the walk with it.  it
 * and the strings it points to are valid only during the call.
 */
typedef int (*okof_item_fn)(void *ctx, const struct okof_item *it);

/*
 * Checks every record in full (header, every chunk, that it sits under
 * its key's name) and looks at every temp and stray file, calling fn
 * (may be NULL) for each.  Returns 0 or an error that stopped the walk;
 * bad records are reported through fn, not by the return value.
 */
OKOF_API int okof_verify(okof_store *s, okof_item_fn fn, void *ctx);

/*
 * Removes expired records and the temp files that no running write
 * owns (a writer holds a lock on its temp file for as long as it runs),
 * and fsyncs the directories it changed.  fn (may be NULL) hears of
 * each removal.  Returns 0 or an error.
 */
OKOF_API int okof_gc(okof_store *s, okof_item_fn fn, void *ctx);

/*
 * Bulk import: records are written to temp files as they are added, but
 * none is published until okof_import_commit(), which makes them all
 * durable together (one syncfs() where the system has it), then renames
 * them into place and fsyncs their directories.  okof_import_abort()
 * (or a failed commit before any rename) removes every temp file, so a
 * failed import publishes nothing.  Keys added twice: the last wins.
 *
 *	okof_import *im;
 *	okof_import_begin(s, &im);
 *	okof_import_add(im, key, klen, val, vlen, expires);	(many times)
 *	okof_import_commit(im);	or okof_import_abort(im);
 */
typedef struct okof_import okof_import;

/* 0 with *out set, OKOF_EPLAIN (see okof_open; nothing staged) or an
 * error. */
OKOF_API int okof_import_begin(okof_store *s, okof_import **out);

/* Stages one record.  0, OKOF_EBADKEY or an error. */
OKOF_API int okof_import_add(okof_import *im, const char *key, size_t klen,
			     const void *val, size_t vlen, int64_t expires);

/* Publishes everything staged and frees im.  0, OKOF_EDIRSYNC or an
 * error; im is freed either way. */
OKOF_API int okof_import_commit(okof_import *im);

/* Removes everything staged and frees im; NULL is allowed. */
OKOF_API void okof_import_abort(okof_import *im);

/*
 * Starts reading the record open in r again from its first byte: the
 * same file, even if the key has been replaced since it was opened.
 * 0 or an error.
 */
OKOF_API int okof_get_rewind(okof_reader *r);

/*
 * Copies the store to dest, a directory that must not exist or be
 * empty, as a new store with the same salt and settings.  Every live
 * record is hard-linked (records are never changed in place, so a link
 * is a consistent copy) or, across filesystems, copied and fsynced.
 * The metadata file is published last, after everything else is
 * durable, so an interrupted backup is never mistaken for a store.  fn
 * (may be NULL) hears of each record copied (OKOF_ITEM_OK, bytes: its
 * value's length) and, while a record is copied byte by byte, of every
 * piece of its file written (OKOF_ITEM_COPYING, bytes: that piece), so
 * that a progress meter moves during a large record.  Returns 0,
 * -EEXIST if dest is not empty, or an error.
 */
OKOF_API int okof_backup(okof_store *s, const char *dest, okof_item_fn fn,
			 void *ctx);

/* A key as returned by okof_list(). */
struct okof_key {
	char *key;
	size_t len;
	uint64_t size;	  /* value bytes */
	int64_t mtime_ns; /* when the value was written */
};

/* okof_list() results, owned by the caller: free with okof_keys_free(). */
struct okof_keys {
	struct okof_key *v;
	size_t n;
	size_t bad; /* records skipped because their header is corrupt */
};

/*
 * The live keys that start with prefix/plen (plen may be 0), sorted
 * bytewise.  A record with a corrupt header is skipped and counted in
 * out->bad; okof_errpath() names the last one.  Returns 0 or an error
 * (out empty).  May run threads of its own, joined before it returns.
 */
OKOF_API int okof_list(okof_store *s, const char *prefix, size_t plen,
		       struct okof_keys *out);

/* Frees what okof_list() returned and empties k; NULL is allowed. */
OKOF_API void okof_keys_free(struct okof_keys *k);

/*
 * Locks: the store's exclusive locks by name, for jobs that must not
 * overlap (okof lock), and one lock per key (OKOF_LOCK_KEY: okof cache
 * runs a command under it so that of many callers one computes a value).
 * Names follow the key rules.  A lock is a kernel lock (an open file
 * description lock where the system has one, else flock) on a file of
 * the store's ".locks" directory, named by the keyed hash of the name
 * (hidden like a key on an encrypted store): the kernel releases it the
 * moment its holder ends, however it ends, so it is never left stale,
 * and on NFS and GlusterFS it excludes holders on other machines too.
 * Lock files are not records: no walk sees them and gc never removes
 * them (a removed lock file would let two holders in).
 *
 * Every acquisition gets a fencing token: a number that grows with each
 * acquisition of that lock in that store and never repeats, even across
 * crashes (it is kept in the lock file, fsynced before it is handed
 * out).  Beside it the file records the holder: pid, host, time and, on
 * a plain store, a note (okof lock writes the command line).
 *
 * The descriptor is close-on-exec, so a program the holder executes does
 * not inherit the lock; a forked child shares it until it exits or
 * executes.  One lock object per thread at a time, like a handle.
 */
typedef struct okof_lock okof_lock;

#define OKOF_LOCK_KEY 0x1 /* the lock of key name (okof cache), not a named lock */

/* Who holds (or last held) a lock: okof_lock_status(). */
struct okof_lock_holder {
	int64_t pid;	  /* the holder's process id, on host */
	int64_t since_ns; /* when it took the lock, Unix nanoseconds */
	uint64_t token;	  /* its fencing token */
	char host[256];	  /* the holder's host name */
	char note[256];	  /* its note ("" on an encrypted store) */
};

/*
 * Takes the lock name/nlen of the store (created on the first use),
 * waiting at most timeout_ms (-1: as long as it takes; 0: not at all).
 * note (may be NULL) is recorded for okof_lock_status() on a plain store,
 * cut to what fits with "..." at the end.  Returns 0 with *out set (free
 * it with okof_lock_release()), OKOF_EBUSY when the wait ran out,
 * OKOF_EBADKEY, -EINVAL (bad flags, NULL pointers, a timeout_ms below
 * -1) or an error; *out is NULL then.
 */
OKOF_API int okof_lock_acquire(okof_store *s, const char *name, size_t nlen,
			       int flags, int64_t timeout_ms, const char *note,
			       okof_lock **out);

/* The fencing token of this acquisition (0 for NULL l). */
OKOF_API uint64_t okof_lock_token(const okof_lock *l);

/* Releases the lock and frees l; NULL is allowed. */
OKOF_API void okof_lock_release(okof_lock *l);

/*
 * Is the lock held?  Asks the kernel without taking it: 1 when it is
 * held, with *out (may be NULL) the record its holder wrote; 0 when it
 * is free (*out: the last holder, or zeroes); or an error (OKOF_EBADKEY,
 * OKOF_ECORRUPT for a damaged lock file, -errno).  A holder that has just
 * taken the lock may still show its predecessor's record for an instant.
 */
OKOF_API int okof_lock_status(okof_store *s, const char *name, size_t nlen,
			      int flags, struct okof_lock_holder *out);

/*
 * Watching keys: the key-level version of inotifywait.  Events are
 * hints; the state is the truth.  Every hint makes the watch read the
 * named record again and compare it with the last state it reported
 * (a key changed when its record's file or header changed: a put of
 * the same bytes is a change), so no final state is missed and a burst
 * of writes to one key that is read late is reported once, with its
 * latest state.
 *
 *	okof_watch *w;
 *	struct okof_watch_opts o = {.keys = keys, .klens = lens, .nkeys = n};
 *	rc = okof_watch_open(&w, "/path/to/store", secret, &o);
 *	struct okof_watch_event ev;
 *	while ((rc = okof_watch_next(w, -1, &ev)) > 0)
 *		use(ev.kind, ev.key, ev.klen);
 *	okof_watch_close(w);
 *
 * In an event loop, wait until okof_watch_fd() is readable or
 * okof_watch_timeout() has passed, then call okof_watch_next(w, 0, &ev)
 * until it returns 0.
 *
 * Where the kernel notifies (inotify on Linux), the record files'
 * directories are watched: the watches are set up before the state is
 * read, so no change slips between the two, and a queue overflow makes
 * the watch read every record again.  Elsewhere, on filesystems whose
 * changes the kernel cannot see (NFS, FUSE, SMB, 9p, Ceph...), and with
 * OKOF_WATCH_POLL, the records are read every interval_ms.  A key that
 * expires is reported when its time comes, by a timer.
 *
 * A store that does not exist yet is waited for (its nearest existing
 * parent directory is watched) and its keys, all absent until then,
 * are reported as they appear.
 */
typedef struct okof_watch okof_watch;

/* okof_watch_opts flags. */
#define OKOF_WATCH_PREFIX 0x1  /* keys[0] is a prefix: every key under it */
#define OKOF_WATCH_INITIAL 0x2 /* report the live keys at the start as puts */
#define OKOF_WATCH_POLL 0x4    /* poll, even where the kernel can notify */

struct okof_watch_opts {
	const char *const *keys; /* the keys (or the prefix), copied */
	const size_t *klens;
	size_t nkeys;	  /* at least 1; 1 with OKOF_WATCH_PREFIX */
	int flags;	  /* OKOF_WATCH_* */
	int interval_ms;  /* polling period; 0: 1000; negative: -EINVAL */
};

enum okof_watch_kind {
	OKOF_WATCH_PUT = 1, /* the key holds a new record */
	OKOF_WATCH_DEL = 2, /* the key is gone: deleted, expired or gc'd */
};

struct okof_watch_event {
	enum okof_watch_kind kind;
	const char *key; /* valid until the next okof_watch_next() or close */
	size_t klen;
};

/*
 * Starts watching the store at dir (secret: as for okof_open(), copied
 * into locked memory until the store is open; the caller wipes its
 * copy).  The state of the keys is read now: only later changes are
 * reported, unless OKOF_WATCH_INITIAL.  Returns 0 with *out set (free
 * it with okof_watch_close()), or OKOF_EBADKEY (a bad key, or a prefix
 * longer than a key), -EINVAL (no key; a NULL out, dir, o, o->keys,
 * o->klens, or key with a length; unknown flags; a negative interval),
 * OKOF_ENEEDSECRET,
 * OKOF_EBADSECRET, OKOF_EUNSAFE, OKOF_ENOTSTORE or another error of
 * okof_open() or of reading the records; *out is NULL then.
 */
OKOF_API int okof_watch_open(okof_watch **out, const char *dir,
		    const unsigned char *secret,
		    const struct okof_watch_opts *o);

/*
 * Waits at most timeout_ms (-1: for ever, 0: not at all) for a change.
 * Returns 1 with *ev set, 0 when none came in time, -EINTR when a
 * signal interrupted the wait, -EINVAL (w or ev NULL), or an error (a
 * record that fails its checks is skipped, not an error).  A store that appears while it is
 * waited for is opened here, so okof_open()'s errors can come too.
 */
OKOF_API int okof_watch_next(okof_watch *w, int timeout_ms,
		    struct okof_watch_event *ev);

/* The descriptor that becomes readable when the kernel has news for w,
 * or -1 when w polls (-EINVAL: w NULL).  It belongs to w. */
OKOF_API int okof_watch_fd(const okof_watch *w);

/* Milliseconds until w's next timer (an expiry, a poll, work already
 * queued: 0), or -1 when there is none (-EINVAL: w NULL). */
OKOF_API int okof_watch_timeout(const okof_watch *w);

/* 1 when w polls (forced, a filesystem the kernel cannot watch, no
 * inotify, or its limits reached), else 0 (-EINVAL: w NULL). */
OKOF_API int okof_watch_polling(const okof_watch *w);

/* The open store, for okof_errpath() after a failure; NULL while the
 * store does not exist yet (or w is NULL).  It belongs to w. */
OKOF_API okof_store *okof_watch_store(const okof_watch *w);

/* Stops watching and frees w; NULL is allowed. */
OKOF_API void okof_watch_close(okof_watch *w);

#endif
