/*
 * tmpfile.h - temp files: how every file of a store comes to exist.
 *
 * No file of a store is ever written in place.  Records, the metadata
 * file, backup copies and key files all live the same life:
 *
 *	fd = tmp_create(dirfd, tmp, &lockfd);	exclusive, 0600, locked
 *	... write the whole content to fd ...
 *	rc = tmp_publish(dirfd, fd, lockfd, tmp, name, link, no_sync, rc);
 *	then fsync dirfd (unless no_sync): the new name is durable
 *
 * tmp_publish() owns the tail: fsync, checked close, rename (replace)
 * or link (create-only: fails with -EEXIST when name exists), and on
 * any failure the temp name is removed and the first cause returned.
 * Nobody else writes that sequence again.
 *
 * Locks.  A writer holds an exclusive lock on its temp file from
 * creation to publication; gc removes a temp file only when it can
 * take that lock itself, so it never removes the file of a running
 * write.  In a bucket, the bucket lock orders publishing:
 *
 *	rename of a plain put		bucket lock shared
 *	check-then-act (create-only	bucket lock exclusive, held from the
 *	over an expired record, incr,	check to the publish
 *	del)
 *
 * Renames need no order among themselves (last writer wins), so plain
 * puts share the lock; a step that looks at the current record and then
 * replaces or removes it takes it exclusively, so no rename slips in
 * between.
 *
 * Readers take no lock.  They open a record by name and see the old
 * record or the new one, whole: rename() is atomic and a published
 * record is never changed again.
 *
 * Signals: tmp_pending() names the one temp file a put is writing, and
 * okof_signal_cleanup() (async-signal-safe) removes it, for a command
 * line that is interrupted.  A temp file left by a crash stays until gc
 * finds it unlocked.
 */
#ifndef OKOF_TMPFILE_H
#define OKOF_TMPFILE_H

#define TMP_PREFIX ".tmp-"	/* temp files, in the store and its buckets */
#define TMP_NAME_LEN (sizeof TMP_PREFIX - 1 + 16)

/*
 * Creates a temp file ".tmp-" + 16 random hex digits in bfd, exclusively,
 * mode 0600, and locked: the lock tells gc that a running write owns it
 * (a file that gc removed between our create and our lock has no links
 * left, and we start over).  Returns the write fd; *lockfd is a
 * duplicate that keeps the lock after the write fd is closed.
 */
int tmp_create(int bfd, char name[TMP_NAME_LEN + 1], int *lockfd);

/*
 * Finishes a temp file made by tmp_create() in dirfd: rc is the
 * result of writing it so far.  Unless that failed: fsync (unless
 * no_sync), checked close, then publish it as name, by rename or, with
 * link set, by link (which fails with -EEXIST if name exists).  The temp
 * name is removed unless the rename consumed it; fd and lockfd are
 * closed either way.  Returns 0 or the first error.
 */
int tmp_publish(int dirfd, int fd, int lockfd, const char *tmp,
		const char *name, int link, int no_sync, int rc);

/*
 * Names the temp file a put is writing (dirfd, name), or none (name
 * NULL), for okof_signal_cleanup(), in the calling thread: each
 * thread has its own.
 */
void tmp_pending(int dirfd, const char *name);

#endif
