/*
 * put.c - writing a record: temp file beside its target, created
 * exclusively and locked; the value streamed in; fsync; checked close;
 * rename (or link, create-only); fsync of the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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

/*
 * A record being written: its temp file, created exclusively and
 * locked, in the bucket open at bfd.  okof_put() and okof_put_fd() keep
 * one on the stack; okof_put_begin() hands one out.
 */
struct okof_writer {
	okof_store *s;
	int bfd;
	struct rec_name nm;
	const char *key; /* the caller's (put) or a copy (put_begin) */
	size_t klen;
	struct okof_put_opts opts;
	int locked;	 /* the caller holds the bucket's exclusive lock */
	int failed;	 /* the error of a failed write: only abort is left */
	struct rec_crypto cr;
	struct rec_writer w;
	char tmp[TMP_NAME_LEN + 1];
	int fd, lockfd;
};

/* Creates wr's temp file and starts its record.  On failure nothing is
 * left behind and the error is noted. */
static int
writer_start(struct okof_writer *wr)
{
	okof_store *s = wr->s;
	int rc;

	wr->lockfd = -1;
	wr->fd = tmp_create(wr->bfd, wr->tmp, &wr->lockfd);
	if (wr->fd < 0)
		return store_fail(s, wr->fd, wr->nm.bucket, TMP_PREFIX "*",
				  "cannot create temp file");
	tmp_pending(wr->bfd, wr->tmp);
	rc = recw_init(&wr->w, wr->fd, wr->key, wr->klen,
		       s->settings.compress_threshold, wr->opts.expires,
		       store_crypto(s, &wr->nm, &wr->cr));
#ifndef OKOF_TEST_NO_FILE_FSYNC
	wr->w.write_behind = !wr->opts.no_sync;
#endif
	if (rc < 0) {
		store_fail(s, rc, wr->nm.bucket, wr->tmp, "cannot write");
		tmp_pending(-1, NULL);
		recw_free(&wr->w);
		close(wr->fd);
		io_unlinkat(wr->bfd, wr->tmp);
		close(wr->lockfd);
	}
	return rc;
}

/*
 * Finishes the record (rc: the result of writing it so far; in_failed:
 * reading the value failed), fsyncs and publishes it: shared bucket
 * lock for a plain put (renames need no order among themselves),
 * exclusive for a create-only one, none when the caller holds the
 * exclusive lock.  Removes the temp file unless it was published.
 */
static int
writer_finish(struct okof_writer *wr, int rc, int in_failed)
{
	okof_store *s = wr->s;
	const struct okof_put_opts *opts = &wr->opts;
	const struct rec_name *nm = &wr->nm;
	int bfd = wr->bfd, bucket_lfd = -1;
	char *tmp = wr->tmp;
	const char *what = "";

	if (rc == 0)
		rc = recw_finish(&wr->w, store_now_ns());
	what = rc < 0 ? (in_failed ? "cannot read the value" : "cannot write")
		      : "";
#ifndef OKOF_TEST_NO_FILE_FSYNC /* the power-cut suite's negative control */
	if (rc == 0 && !opts->no_sync && (rc = io_fsync(wr->fd)) < 0)
		what = "cannot fsync";
#endif
	int crc = io_close(wr->fd);
	if (rc == 0 && crc < 0) {
		rc = crc;
		what = "cannot close";
	}
	if (rc < 0)
		goto out;
	if (!wr->locked) {
		bucket_lfd = bucket_lock(s, nm->bucket,
					 opts->if_absent ? LOCK_EX : LOCK_SH);
		if (bucket_lfd < 0) {
			rc = bucket_lfd;
			goto out_failed;
		}
	}

	if (opts->if_absent) {
		rc = publish_if_absent(s, bfd, tmp, wr->lockfd, wr->key,
				       wr->klen, nm, &what);
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
	if (!wr->locked && !opts->no_sync && io_fsync(bfd) != 0) {
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
	recw_free(&wr->w);
	if (bucket_lfd >= 0)
		close(bucket_lfd);
	if (tmp[0] != '\0')
		io_unlinkat(bfd, tmp);
	close(wr->lockfd);
	return rc;
}

/* Frees what okof_put_begin() allocated for wr. */
static void
writer_free(struct okof_writer *wr)
{
	close(wr->bfd);
	free((char *)wr->key);
	free(wr);
}

/* Where the value comes from: a buffer or a descriptor. */
struct source {
	const void *buf;
	size_t len;
	int fd;
};

/* Writes and publishes a record in the bucket open at bfd (locked: as
 * for writer_finish). */
static int
put_in_bucket(okof_store *s, int bfd, const struct rec_name *nm,
	      const char *key, size_t klen, const struct source *src,
	      const struct okof_put_opts *opts, int locked)
{
	struct okof_writer wr = {.s = s, .bfd = bfd, .nm = *nm, .key = key,
				 .klen = klen, .opts = *opts,
				 .locked = locked};
	int rc, in_failed = 0;

	if ((rc = writer_start(&wr)) < 0)
		return rc;
	if (src->fd < 0)
		rc = recw_write(&wr.w, src->buf, src->len);
	else
		rc = recw_copy_fd(&wr.w, src->fd, &in_failed);
	return writer_finish(&wr, rc, in_failed);
}

/* The checks every put makes before it touches the store; then the
 * bucket of key, open (made if needed). */
static int
put_prepare(okof_store *s, const char *key, size_t klen,
	    const struct okof_put_opts *opts, struct rec_name *nm)
{
	int rc;

	if (opts->expires < 0)
		return -EINVAL;
	if ((rc = okof_check_key(key, klen)) != 0)
		return rc;
	if ((rc = store_check_sealed(s)) < 0)
		return rc;
	store_name(s, key, klen, nm);
	return store_open_bucket(s, nm, opts->no_sync);
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
	bfd = put_prepare(s, key, klen, opts, &nm);
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

int
okof_put_begin(okof_store *s, const char *key, size_t klen,
	       const struct okof_put_opts *opts, okof_writer **out)
{
	static const struct okof_put_opts defaults;
	struct okof_writer *wr;
	struct rec_name nm;
	char *kcopy;
	int bfd, rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!s)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	bfd = put_prepare(s, key, klen, opts, &nm);
	if (bfd < 0)
		return bfd;
	wr = calloc(1, sizeof *wr);
	kcopy = malloc(klen);
	if (!wr || !kcopy) {
		free(wr);
		free(kcopy);
		close(bfd);
		return -ENOMEM;
	}
	memcpy(kcopy, key, klen);
	*wr = (struct okof_writer){.s = s, .bfd = bfd, .nm = nm, .key = kcopy,
				   .klen = klen, .opts = *opts};
	if ((rc = writer_start(wr)) < 0) {
		writer_free(wr);
		return rc;
	}
	*out = wr;
	return 0;
}

int
okof_put_write(okof_writer *w, const void *p, size_t n)
{
	if (!w || (!p && n > 0))
		return -EINVAL;
	if (w->failed)
		return w->failed;
	int rc = recw_write(&w->w, p, n);
	if (rc < 0) {
		w->failed = rc;
		store_fail(w->s, rc, w->nm.bucket, w->tmp, "cannot write");
	}
	return rc;
}

int
okof_put_commit(okof_writer *w)
{
	if (!w)
		return -EINVAL;
	if (w->failed) {
		int rc = w->failed;
		okof_put_abort(w);
		return rc;
	}
	int rc = writer_finish(w, 0, 0);
	writer_free(w);
	return rc;
}

void
okof_put_abort(okof_writer *w)
{
	if (!w)
		return;
	tmp_pending(-1, NULL);
	recw_free(&w->w);
	close(w->fd);
	io_unlinkat(w->bfd, w->tmp);
	close(w->lockfd);
	writer_free(w);
}
