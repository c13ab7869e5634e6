/*
 * check.c - walking the whole store: verify (every record read and
 * checked in full) and gc (expired records and abandoned temp files
 * removed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "lockfile.h"
#include "recfile.h"
#include "record.h"
#include "walk.h"

struct walk_ctx {
	okof_store *s;
	okof_item_fn fn;
	void *ctx;
	int64_t now;
	int gc;
	int dirty_top;		 /* gc removed something in the top directory */
	int lock_fd;		 /* gc: the lock file of bucket lock_bucket */
	char lock_bucket[BUCKET_HEX + 1];
	unsigned char dirty[32]; /* gc removed something in bucket i */
};

static int
emit(struct walk_ctx *w, enum okof_item_kind kind, const char *bucket,
     const char *name, const struct rec_header *h, const char *detail,
     uint64_t bytes)
{
	char path[64];
	struct okof_item it = {0};

	if (!w->fn)
		return 0;
	if (*bucket)
		snprintf(path, sizeof path, "%s/%s", bucket, name);
	else
		snprintf(path, sizeof path, "%s", name);
	it.kind = kind;
	it.path = path;
	it.key = h ? (const char *)h->key : NULL;
	it.klen = h ? h->key_len : 0;
	it.detail = detail ? detail : "";
	it.bytes = bytes;
	return w->fn(w->ctx, &it);
}

/*
 * Is the temp file name in dirfd owned by a running write?  1 yes, 0 no
 * (and then *fdp is open on it, locked, for the caller to remove it
 * under the lock), -ENOENT if it vanished, or -errno.
 */
static int
tmp_owned(int dirfd, const char *name, int *fdp)
{
	/* Read-write: NFS locks a file exclusively only if it is open
	 * for writing. */
	int fd = io_openat(dirfd, name,
			   O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);

	*fdp = -1;
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		close(fd);
		return err == EWOULDBLOCK ? 1 : -err;
	}
	*fdp = fd;
	return 0;
}

static void
mark_dirty(struct walk_ctx *w, const char *bucket)
{
	if (!*bucket) {
		w->dirty_top = 1;
		return;
	}
	int v = walk_bucket_index(bucket);
	w->dirty[v / 8] |= (unsigned char)(1u << (v % 8));
}

static int
visit_tmp(struct walk_ctx *w, int bfd, const char *bucket, const char *name)
{
	struct stat st;
	int fd, rc = tmp_owned(bfd, name, &fd);

	if (rc < 0)
		return rc == -ENOENT ? 0 : rc; /* finished meanwhile */
	if (rc == 0 && strlen(name) > TMP_NAME_LEN &&
	    name[TMP_NAME_LEN] == '-') {
		/* Staged by an import: owned while the import's lock file
		 * ".tmp-NAME" in the top directory is locked. */
		char parent[TMP_NAME_LEN + 1];
		int pfd;
		memcpy(parent, name, TMP_NAME_LEN);
		parent[TMP_NAME_LEN] = '\0';
		int prc = tmp_owned(w->s->dirfd, parent, &pfd);
		if (pfd >= 0)
			close(pfd);
		if (prc == 1) {
			close(fd);
			rc = 1;
		}
	}
	if (rc == 1)
		return emit(w, OKOF_ITEM_BUSY, bucket, name, NULL, NULL, 0);
	uint64_t bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (w->gc) {
		/* Removed while we hold its lock: its writer is gone, and a
		 * new writer cannot have reused the name (O_EXCL). */
		rc = io_unlinkat(bfd, name);
		close(fd);
		if (rc == -ENOENT)
			return 0;
		if (rc < 0)
			return store_fail(w->s, rc, bucket, name,
					  "cannot remove");
		mark_dirty(w, bucket);
		return emit(w, OKOF_ITEM_REMOVED, bucket, name, NULL, NULL,
			    bytes);
	}
	close(fd);
	return emit(w, OKOF_ITEM_TEMP, bucket, name, NULL, NULL, bytes);
}

/* Checks the record open at fd (st its fstat) as get would, and with
 * full every chunk too: 0, OKOF_ECORRUPT (r->detail says why) or
 * -errno. */
static int
check_record(okof_store *s, int fd, const struct stat *st,
	     struct rec_reader *r, struct rec_crypto *cr,
	     const struct rec_name *nm, int full)
{
	const void *p;
	size_t n;
	int rc;

	rc = recr_open(r, fd, (uint64_t)st->st_size, 0,
		       store_crypto(s, nm, cr));
	if (rc < 0)
		return rc;
	rc = recfile_holds(s, &s->err, nm, r->h.key, r->h.key_len, NULL, 0);
	if (rc < 0) {
		r->detail = okof_errdetail(s);
		return rc;
	}
	if (full)
		while ((rc = recr_next(r, &p, &n)) > 0)
			;
	return rc;
}

static int
visit_record(struct walk_ctx *w, int bfd, const char *bucket,
	     const char *name)
{
	struct rec_reader r = {0};
	struct rec_crypto cr; /* r points at it */
	struct rec_name nm;
	struct stat st = {0};
	int fd, rc, locked = 0;

	if (w->gc) {
		/* Exclusive: no put can rename a fresh record over this
		 * name between our check and our unlink.  The lock file stays
		 * open while the walk is in its bucket. */
		if (w->lock_fd >= 0 && strcmp(w->lock_bucket, bucket) != 0) {
			close(w->lock_fd);
			w->lock_fd = -1;
		}
		if (w->lock_fd < 0) {
			w->lock_fd = lock_open(w->s, bucket, NULL);
			if (w->lock_fd < 0)
				return w->lock_fd;
			memcpy(w->lock_bucket, bucket, sizeof w->lock_bucket);
		}
		rc = io_flock(w->lock_fd, LOCK_EX);
		if (rc < 0)
			return store_fail(w->s, rc, LOCKS_DIR, bucket,
					  "cannot lock");
		locked = 1;
	}
	snprintf(nm.bucket, sizeof nm.bucket, "%s", bucket);
	snprintf(nm.file, sizeof nm.file, "%s", name);
	for (int tries = 0;; tries++) {
		fd = recfile_open(w->s, &w->s->err, bfd, &nm, &st);
		if (fd < 0) {
			rc = fd;
			break;
		}
		rc = check_record(w->s, fd, &st, &r, &cr, &nm, !w->gc);
		/* ESTALE: replaced by another machine; look at the new one. */
		if (rc != -ESTALE || tries == RECFILE_STALE_TRIES)
			break;
		close(fd);
		recr_free(&r);
		memset(&r, 0, sizeof r);
	}
	if (fd < 0) {
		if (rc == OKOF_ENOTFOUND)
			rc = 0; /* gone meanwhile */
		else if (w->gc)
			rc = rc == OKOF_ENOTFILE ? 0 : rc; /* damage: left */
		else
			rc = emit(w, OKOF_ITEM_BAD, bucket, name, NULL,
				  rc == OKOF_ENOTFILE ? okof_errdetail(w->s)
						      : strerror(-rc),
				  0);
		goto out;
	}
	/* The key is named only once it is known good: the header's
	 * checksum held and a sealed key was opened (recr_open points
	 * h.key at its own copy only then; before, at the file's bytes). */
	const struct rec_header *h = r.h.key && r.h.key == r.key ? &r.h : NULL;
	if (rc == OKOF_ECORRUPT) {
		/* gc leaves damage alone: that is for a person to see. */
		rc = w->gc ? 0
			   : emit(w, OKOF_ITEM_BAD, bucket, name, h, r.detail,
				  (uint64_t)st.st_size);
	} else if (rc < 0) {
		rc = w->gc ? 0
			   : emit(w, OKOF_ITEM_BAD, bucket, name, h,
				  strerror(-rc), (uint64_t)st.st_size);
	} else if (w->gc) {
		if (r.h.expires != 0 && r.h.expires <= w->now) {
			rc = io_unlinkat(bfd, name);
			if (rc == 0) {
				mark_dirty(w, bucket);
				rc = emit(w, OKOF_ITEM_EXPIRED, bucket, name,
					  &r.h, NULL, (uint64_t)st.st_size);
			} else if (rc == -ENOENT) {
				rc = 0;
			} else {
				store_fail(w->s, rc, bucket, name,
					   "cannot remove");
			}
		}
	} else {
		rc = emit(w, OKOF_ITEM_OK, bucket, name, &r.h, NULL,
			  (uint64_t)st.st_size);
	}
	close(fd);
out:
	recr_free(&r);
	if (locked)
		io_flock(w->lock_fd, LOCK_UN);
	return rc;
}

static int
visit(void *ctx, int bfd, const char *bucket, const char *name,
      enum walk_kind kind)
{
	struct walk_ctx *w = ctx;

	switch (kind) {
	case WALK_TMP:
		return visit_tmp(w, bfd, bucket, name);
	case WALK_RECORD:
		return visit_record(w, bfd, bucket, name);
	default:
		return w->gc ? 0
			     : emit(w, OKOF_ITEM_STRAY, bucket, name, NULL,
				    "not an okof file", 0);
	}
}

int
okof_verify(okof_store *s, okof_item_fn fn, void *ctx)
{
	struct walk_ctx w = {.s = s, .fn = fn, .ctx = ctx, .lock_fd = -1};

	if (!s)
		return -EINVAL;
	w.now = store_now_ns() / 1000000000;
	return store_walk(s, visit, &w);
}

int
okof_gc(okof_store *s, okof_item_fn fn, void *ctx)
{
	struct walk_ctx w = {.s = s, .fn = fn, .ctx = ctx, .gc = 1,
			     .lock_fd = -1};
	int rc;

	if (!s)
		return -EINVAL;
	w.now = store_now_ns() / 1000000000;
	rc = store_walk(s, visit, &w);
	if (w.lock_fd >= 0)
		close(w.lock_fd);
	/* Make the removals durable, one fsync per directory changed. */
	for (unsigned b = 0; rc == 0 && b < 256; b++) {
		if (!(w.dirty[b / 8] & (1u << (b % 8))))
			continue;
		char name[3];
		snprintf(name, sizeof name, "%02x", b);
		int bfd = io_open_dir(s->dirfd, name);
		if (bfd < 0)
			continue;
		rc = io_fsync(bfd);
		close(bfd);
		if (rc < 0)
			store_fail(s, rc, name, NULL, "cannot fsync directory");
	}
	if (rc == 0 && w.dirty_top && (rc = io_fsync(s->dirfd)) < 0)
		store_fail(s, rc, NULL, NULL, "cannot fsync directory");
	return rc;
}
