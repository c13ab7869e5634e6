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
#include "record.h"
#include "walk.h"

struct walk_ctx {
	okof_store *s;
	okof_item_fn fn;
	void *ctx;
	int64_t now;
	int gc;
	int dirty_top;		 /* gc removed something in the top directory */
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
 * under the lock), -1 if it vanished, or -errno.
 */
static int
tmp_owned(int dirfd, const char *name, int *fdp)
{
	int fd = io_openat(dirfd, name,
			   O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);

	*fdp = -1;
	if (fd < 0)
		return fd == -ENOENT ? -1 : fd;
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
		return rc == -1 ? 0 : rc;
	if (rc == 0 && strlen(name) > TMP_NAME_LEN && name[TMP_NAME_LEN] == '-') {
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
			return store_fail(w->s, rc, bucket, name, "cannot remove");
		mark_dirty(w, bucket);
		return emit(w, OKOF_ITEM_REMOVED, bucket, name, NULL, NULL,
			    bytes);
	}
	close(fd);
	return emit(w, OKOF_ITEM_TEMP, bucket, name, NULL, NULL, bytes);
}

/* Reads the whole record; returns 0, OKOF_ECORRUPT (r->detail) or -errno. */
static int
check_record(okof_store *s, int fd, struct stat *st, struct rec_reader *r,
	     struct rec_crypto *cr, const char *bucket, const char *name,
	     int full)
{
	struct rec_name nm;
	const void *p;
	size_t n;
	int rc;

	if (fstat(fd, st) != 0)
		return -errno;
	if (!S_ISREG(st->st_mode)) {
		r->detail = "not a regular file";
		return OKOF_ECORRUPT;
	}
	snprintf(nm.bucket, sizeof nm.bucket, "%s", bucket);
	snprintf(nm.file, sizeof nm.file, "%s", name);
	rc = recr_open(r, fd, (uint64_t)st->st_size, 0,
		       store_crypto(s, &nm, cr));
	if (rc < 0)
		return rc;
	store_name(s, (const char *)r->h.key, r->h.key_len, &nm);
	if (strcmp(nm.bucket, bucket) != 0 || strcmp(nm.file, name) != 0) {
		r->detail = "record holds another key";
		return OKOF_ECORRUPT;
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
	struct stat st = {0};
	int fd, rc, locked = 0;

	if (w->gc) {
		/* Exclusive: no put can rename a fresh record over this
		 * name between our check and our unlink. */
		rc = io_flock(bfd, LOCK_EX);
		if (rc < 0)
			return store_fail(w->s, rc, bucket, NULL,
					  "cannot lock directory");
		locked = 1;
	}
	fd = io_openat(bfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		       0);
	if (fd < 0) {
		rc = fd == -ENOENT ? 0 : fd;
		if (rc == -ELOOP) {
			rc = w->gc ? 0
				   : emit(w, OKOF_ITEM_BAD, bucket, name, NULL,
					  "record is a symlink", 0);
		} else if (rc < 0 && !w->gc) {
			rc = emit(w, OKOF_ITEM_BAD, bucket, name, NULL,
				  strerror(-rc), 0);
		}
		goto out;
	}
	rc = check_record(w->s, fd, &st, &r, &cr, bucket, name, !w->gc);
	const struct rec_header *h = r.h.key ? &r.h : NULL;
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
		io_flock(bfd, LOCK_UN);
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
	struct walk_ctx w = {.s = s, .fn = fn, .ctx = ctx};

	if (!s)
		return -EINVAL;
	w.now = store_now_ns() / 1000000000;
	return store_walk(s, visit, &w);
}

int
okof_gc(okof_store *s, okof_item_fn fn, void *ctx)
{
	struct walk_ctx w = {.s = s, .fn = fn, .ctx = ctx, .gc = 1};
	int rc;

	if (!s)
		return -EINVAL;
	w.now = store_now_ns() / 1000000000;
	rc = store_walk(s, visit, &w);
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
