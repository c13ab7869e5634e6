/*
 * put.c - writing a record: temp file beside its target, created
 * exclusively and locked; the value streamed in; fsync; checked close;
 * rename (or link, create-only); fsync of the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "io.h"
#include "record.h"
#include "store.h"
#include "lockfile.h"
#include "tmpfile.h"

/*
 * Create-only publish, under the caller's exclusive bucket lock.
 * link() fails if the name exists, so of racing writers exactly one
 * wins.  An expired record counts as absent, and replacing it is a
 * check-then-act: the exclusive lock makes it atomic, so of the writers
 * that find the same expired record only the first replaces it and the
 * rest find a live one.  tmpfd is open on the temp file.  Returns 0
 * (linked), 1 (renamed over an expired record), OKOF_EEXIST or -errno.
 */
static int
publish_if_absent(okof_store *s, int bfd, const char *tmp, int tmpfd,
		  const char *key, size_t klen, const struct rec_name *nm,
		  const char **what)
{
	struct okof_info info;
	struct stat st;
	int rc;

	rc = io_linkat(bfd, tmp, bfd, nm->file);
	/* On NFS a retransmitted link whose first reply was lost answers
	 * EEXIST although it made the link: then the temp file has two. */
	if (rc == -EEXIST && fstat(tmpfd, &st) == 0 && st.st_nlink >= 2)
		rc = 0;
	if (rc == -EEXIST) {
		*what = "";
		rc = okof_stat(s, key, klen, &info);
		if (rc == OKOF_ENOTFOUND) {
			/* Expired (or deleted meanwhile): ours now. */
			rc = io_renameat(bfd, tmp, bfd, nm->file);
			rc = rc == 0 ? 1 : rc;
			if (rc < 0)
				*what = "cannot rename";
		} else {
			/* Live, or unreadable: present either way. */
			rc = OKOF_EEXIST;
		}
	} else if (rc < 0) {
		*what = "cannot link";
	}
	return rc;
}

/* Where the value comes from: a buffer or a descriptor. */
struct source {
	const void *buf;
	size_t len;
	int fd;
};

/*
 * Writes and publishes a record in the bucket open at bfd.  With locked
 * set the caller holds the bucket's exclusive lock; otherwise the
 * publish step takes it: shared for a plain put (renames need no order
 * among themselves), exclusive for a create-only one.
 */
static int
put_in_bucket(okof_store *s, int bfd, const struct rec_name *nm,
	      const char *key, size_t klen, const struct source *src,
	      const struct okof_put_opts *opts, int locked)
{
	struct rec_writer w = {0};
	char tmp[TMP_NAME_LEN + 1];
	int fd = -1, lockfd = -1, rc, in_failed = 0, bucket_lfd = -1;
	const char *what = "";

	fd = tmp_create(bfd, tmp, &lockfd);
	if (fd < 0)
		return store_fail(s, fd, nm->bucket, TMP_PREFIX "*",
				  "cannot create temp file");
	tmp_pending(bfd, tmp);

	struct rec_crypto cr;
	rc = recw_init(&w, fd, key, klen, s->settings.compress_threshold,
		       opts->expires, store_crypto(s, nm, &cr));
#ifndef OKOF_TEST_NO_FILE_FSYNC
	w.write_behind = !opts->no_sync;
#endif
	if (rc == 0) {
		if (src->fd < 0)
			rc = recw_write(&w, src->buf, src->len);
		else
			rc = recw_copy_fd(&w, src->fd, &in_failed);
	}
	if (rc == 0)
		rc = recw_finish(&w, store_now_ns());
	what = rc < 0 ? (in_failed ? "cannot read the value" : "cannot write")
		      : "";
#ifndef OKOF_TEST_NO_FILE_FSYNC /* the power-cut suite's negative control */
	if (rc == 0 && !opts->no_sync && (rc = io_fsync(fd)) < 0)
		what = "cannot fsync";
#endif
	int crc = io_close(fd);
	if (rc == 0 && crc < 0) {
		rc = crc;
		what = "cannot close";
	}
	if (rc < 0)
		goto out;
	if (!locked) {
		bucket_lfd = bucket_lock(s, nm->bucket,
					 opts->if_absent ? LOCK_EX : LOCK_SH);
		if (bucket_lfd < 0) {
			rc = bucket_lfd;
			goto out_failed;
		}
	}

	if (opts->if_absent) {
		rc = publish_if_absent(s, bfd, tmp, lockfd, key, klen, nm,
				       &what);
		if (rc == 1) {
			rc = 0;
			tmp[0] = '\0'; /* renamed over an expired record */
		}
	} else if ((rc = io_renameat(bfd, tmp, bfd, nm->file)) < 0) {
		what = "cannot rename";
	} else {
		tmp[0] = '\0'; /* renamed: nothing to remove */
	}
	if (bucket_lfd >= 0) {
		close(bucket_lfd); /* unlocks */
		bucket_lfd = -1;
	}
	if (rc < 0)
		goto out;
	if (tmp[0] != '\0') {
		io_unlinkat(bfd, tmp);
		tmp[0] = '\0';
	}
	/* Under a caller's lock the directory is fsynced by the caller,
	 * after unlocking: the next writer need not wait for it. */
	if (!locked && !opts->no_sync && io_fsync(bfd) != 0) {
		rc = OKOF_EDIRSYNC;
		what = "cannot fsync directory";
		store_fail(s, rc, nm->bucket, NULL, what);
	}
out:
	if (rc < 0 && rc != OKOF_EDIRSYNC) {
		if (in_failed)
			store_fail(s, rc, NULL, NULL, what);
		else if (rc == OKOF_EEXIST)
			store_fail(s, rc, nm->bucket, nm->file, "");
		else
			store_fail(s, rc, nm->bucket, tmp[0] ? tmp : nm->file,
				   what);
	}
out_failed: /* store_fail already said what */
	tmp_pending(-1, NULL);
	recw_free(&w);
	if (bucket_lfd >= 0)
		close(bucket_lfd);
	if (tmp[0] != '\0')
		io_unlinkat(bfd, tmp);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

static int
put_common(okof_store *s, const char *key, size_t klen,
	   const struct source *src, const struct okof_put_opts *opts)
{
	static const struct okof_put_opts defaults;
	struct rec_name nm;
	int bfd, rc;

	if (!opts)
		opts = &defaults;
	if (opts->expires < 0)
		return -EINVAL;
	if (okof_check_key(key, klen) != 0)
		return OKOF_EBADKEY;
	if ((rc = store_check_sealed(s)) < 0)
		return rc;
	store_name(s, key, klen, &nm);
	bfd = store_open_bucket(s, &nm, opts->no_sync);
	if (bfd < 0)
		return bfd;
	rc = put_in_bucket(s, bfd, &nm, key, klen, src, opts, 0);
	close(bfd);
	return rc;
}

int
store_put_locked(okof_store *s, int bfd, const struct rec_name *nm,
		 const char *key, size_t klen, const void *val, size_t vlen,
		 const struct okof_put_opts *opts)
{
	struct source src = {.buf = val, .len = vlen, .fd = -1};

	return put_in_bucket(s, bfd, nm, key, klen, &src, opts, 1);
}

int
okof_put(okof_store *s, const char *key, size_t klen, const void *val,
	 size_t vlen, const struct okof_put_opts *opts)
{
	struct source src = {.buf = val, .len = vlen, .fd = -1};

	if (!s || (!val && vlen > 0))
		return -EINVAL;
	return put_common(s, key, klen, &src, opts);
}

int
okof_put_fd(okof_store *s, const char *key, size_t klen, int fd,
	    const struct okof_put_opts *opts)
{
	struct source src = {.buf = NULL, .len = 0, .fd = fd};

	if (!s)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	return put_common(s, key, klen, &src, opts);
}
