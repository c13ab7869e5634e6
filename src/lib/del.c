/*
 * del.c - removing a record: a check-then-act under the bucket's
 * exclusive lock (tmpfile.h), then the directory fsync.
 */
#include <errno.h>
#include <sys/file.h>
#include <unistd.h>

#include "io.h"
#include "lockfile.h"
#include "store.h"

int
okof_del(okof_store *s, const char *key, size_t klen, int no_sync)
{
	struct rec_name nm;
	struct okof_info info;
	int bfd, lfd, rc;

	if (!s)
		return -EINVAL;
	if ((rc = okof_check_key(key, klen)) != 0)
		return rc;
	store_name(s, key, klen, &nm);
	bfd = io_open_dir(s->dirfd, nm.bucket);
	if (bfd < 0)
		return bfd == -ENOENT ? OKOF_ENOTFOUND
				      : store_fail(s, bfd, nm.bucket, NULL,
						   "cannot open directory");
	/* Exclusive: no put renames a new value over the record between
	 * the look at it and the unlink, which would remove that value
	 * and still report "absent". */
	lfd = bucket_lock(s, nm.bucket, LOCK_EX);
	if (lfd < 0) {
		close(bfd);
		return lfd;
	}
	/* An expired record is removed but reported absent, as get would
	 * have reported it; a damaged one is removed. */
	rc = okof_stat(s, key, klen, &info);
	int expired = rc == OKOF_ENOTFOUND;
	if (rc < 0 && rc != OKOF_ENOTFOUND && rc != OKOF_ECORRUPT &&
	    rc != OKOF_ENOTFILE)
		goto out;
	if ((rc = io_unlinkat(bfd, nm.file)) < 0) {
		rc = rc == -ENOENT ? OKOF_ENOTFOUND : rc;
		if (rc != OKOF_ENOTFOUND)
			store_fail(s, rc, nm.bucket, nm.file, "cannot remove");
		goto out;
	}
	close(lfd); /* unlocks: the fsync need not hold others up */
	lfd = -1;
	rc = 0;
	if (!no_sync && io_fsync(bfd) != 0)
		rc = store_fail(s, OKOF_EDIRSYNC, nm.bucket, NULL,
				"cannot fsync directory");
	else if (expired)
		rc = OKOF_ENOTFOUND;
out:
	if (lfd >= 0)
		close(lfd);
	close(bfd);
	return rc;
}
