/*
 * lockfile.h - the store's locks: kernel locks on regular files.
 *
 * Every lock okof takes is a flock() on a regular file opened read and
 * write, never on a directory.  On a FUSE filesystem (GlusterFS) flock
 * on a directory returns 0 but excludes no other client; NFS emulates
 * flock with byte-range locks, which need the file open for writing to
 * lock it exclusively.  Locks on regular files hold on both, across
 * machines, and like every kernel lock they are released the moment
 * their holder ends, however it ends.
 *
 * The lock files live in the store's ".locks" directory, made on first
 * use (so a store made by an older okof gains it when it is next
 * written):
 *
 *	.locks/00 .. .locks/ff	the bucket locks: which step takes which
 *				mode is told in tmpfile.h
 *	.locks/<other names>	the locks of okof_lock() (see okof.h)
 *
 * A lock file holds no data the store needs, so it is never fsynced
 * for its own sake; it is never removed (by gc or anything else): a
 * process that had it open would lock a file that a newcomer no longer
 * finds, and both would hold "the" lock.  Walkers (list, verify,
 * export, backup, gc) visit buckets only and never see it.
 */
#ifndef OKOF_LOCKFILE_H
#define OKOF_LOCKFILE_H

#include <stdint.h>

#include "store.h"

#define LOCKS_DIR ".locks"

/*
 * Opens (creating it, and the locks directory, when missing) the lock
 * file name in the store's locks directory, read-write, mode 0600.
 * Returns the fd or an error (store_fail is set).  With created set,
 * *created tells whether this call made the file.
 */
int lock_open(okof_store *s, const char *name, int *created);

/*
 * Takes a lock of fd in mode op (LOCK_SH or LOCK_EX) once, waiting for
 * it (wait set) or not: 0, -EWOULDBLOCK (held by another) or -errno.
 */
typedef int (*lock_try_fn)(int fd, int op, int wait);

/*
 * try_lock(fd, op, ...) until it succeeds or timeout_ms has passed (-1:
 * wait as long as it takes; 0: one try).  0, -EWOULDBLOCK when the time
 * ran out, or -errno.
 */
int lock_poll(lock_try_fn try_lock, int fd, int op, int64_t timeout_ms);

/*
 * flock(fd, op) (op LOCK_SH or LOCK_EX), waiting at most timeout_ms
 * (-1: as long as it takes; 0: not at all).  0, -EWOULDBLOCK when the
 * time ran out, or -errno.
 */
int lock_take(int fd, int op, int64_t timeout_ms);

/*
 * Takes bucket's lock (LOCK_SH or LOCK_EX) and returns the fd that
 * holds it: close() releases it.  Or an error (store_fail is set).
 */
int bucket_lock(okof_store *s, const char *bucket, int op);

#endif
