/*
 * import.c - many records published together: staged as temp files,
 * made durable with one sync, then renamed into place.
 */
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syncfs */
#endif
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "io.h"
#include "record.h"
#include "lockfile.h"
#include "store.h"
#include "walk.h"

/* A staged record: where it goes.  Its temp file's name is derived
 * from the import's name and its index, so 100k records cost ~2 MB. */
struct staged {
	struct rec_name nm;
};

struct okof_import {
	okof_store *s;
	char name[TMP_NAME_LEN + 1]; /* the import's lock file, top dir */
	int lockfd;
	struct staged *v;
	size_t n, cap;
	int bfd[256];
	struct rec_writer w; /* its buffers serve every record */
	int mode_ok;	     /* the umask leaves 0600 alone */
	int w_started;
};

static void
child_name(const okof_import *im, size_t i, char *out, size_t cap)
{
	snprintf(out, cap, "%s-%zx", im->name, i);
}

int
okof_import_begin(okof_store *s, okof_import **out)
{
	okof_import *im;
	int fd, rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!s)
		return -EINVAL;
	if ((rc = store_check_sealed(s)) < 0)
		return rc;
	im = calloc(1, sizeof *im);
	if (!im)
		return -ENOMEM;
	im->s = s;
	for (int i = 0; i < 256; i++)
		im->bfd[i] = -1;
	/* The lock file in the top directory owns every staged file:
	 * gc leaves ".tmp-NAME-*" alone while ".tmp-NAME" is locked. */
	fd = tmp_create(s->dirfd, im->name, &im->lockfd);
	if (fd < 0) {
		free(im);
		return store_fail(s, fd, TMP_PREFIX "*", NULL,
				  "cannot create temp file");
	}
	close(fd);
	*out = im;
	return 0;
}

/*
 * Every file 0600 exactly, whatever the umask took away.  The first
 * staged file is checked; if the umask left 0600 alone (it nearly
 * always does), the rest of the import trusts it to and saves an
 * fchmod per record.  (A caller that changes its umask while an import
 * runs must not count on this.)  Otherwise every file is fchmod-ed.
 */
static int
set_mode(okof_import *im, int fd)
{
	struct stat st;

	if (im->mode_ok)
		return 0;
	if (fstat(fd, &st) != 0)
		return -errno;
	if ((st.st_mode & 07777) == 0600) {
		im->mode_ok = im->n == 0;
		return 0;
	}
	return io_fchmod(fd, 0600);
}

int
okof_import_add(okof_import *im, const char *key, size_t klen,
		const void *val, size_t vlen, int64_t expires)
{
	okof_store *s;
	struct rec_writer *w;
	struct rec_name nm;
	char tmp[TMP_NAME_LEN + 24];
	int fd, rc;

	if (!im || (!val && vlen > 0) || expires < 0)
		return -EINVAL;
	if ((rc = okof_check_key(key, klen)) != 0)
		return rc;
	s = im->s;
	w = &im->w;
	if (im->n == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 1024;
		struct staged *v = realloc(im->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		im->v = v;
		im->cap = cap;
	}
	store_name(s, key, klen, &nm);
	int b = walk_bucket_index(nm.bucket);
	if (im->bfd[b] < 0) {
		rc = store_open_bucket(s, &nm, 0);
		if (rc < 0)
			return rc;
		im->bfd[b] = rc;
	}
	child_name(im, im->n, tmp, sizeof tmp);
	fd = io_openat(im->bfd[b], tmp,
		       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	if (fd < 0)
		return store_fail(s, fd, nm.bucket, tmp,
				  "cannot create temp file");
	struct rec_crypto cr;
	rc = set_mode(im, fd);
	if (rc == 0)
		rc = (im->w_started ? recw_again : recw_init)(
			w, fd, key, klen, s->settings.compress_threshold,
			expires, store_crypto(s, &nm, &cr));
	im->w_started |= rc == 0;
	if (rc == 0) {
		rc = recw_write(w, val, vlen);
		if (rc == 0)
			rc = recw_finish(w, store_now_ns());
	}
#ifndef __linux__
	/* Without syncfs() each file is made durable on its own. */
	if (rc == 0)
		rc = io_fsync(fd);
#endif
	int crc = io_close(fd);
	if (rc == 0)
		rc = crc;
	if (rc < 0) {
		io_unlinkat(im->bfd[b], tmp);
		return store_fail(s, rc, nm.bucket, tmp, "cannot write");
	}
	im->v[im->n++].nm = nm;
	return 0;
}

/* Removes staged files from index from on, closes and frees im. */
static void
import_free(okof_import *im, size_t from)
{
	char tmp[TMP_NAME_LEN + 24];

	for (size_t i = from; i < im->n; i++) {
		int b = walk_bucket_index(im->v[i].nm.bucket);
		child_name(im, i, tmp, sizeof tmp);
		io_unlinkat(im->bfd[b], tmp);
	}
	for (int i = 0; i < 256; i++)
		if (im->bfd[i] >= 0)
			close(im->bfd[i]);
	io_unlinkat(im->s->dirfd, im->name);
	close(im->lockfd);
	if (im->w_started)
		recw_free(&im->w);
	free(im->v);
	free(im);
}

void
okof_import_abort(okof_import *im)
{
	if (im)
		import_free(im, 0);
}

int
okof_import_commit(okof_import *im)
{
	okof_store *s;
	char tmp[TMP_NAME_LEN + 24];
	int lfd[256];
	size_t i;
	int rc = 0;

	if (!im)
		return -EINVAL;
	s = im->s;
	for (int b = 0; b < 256; b++)
		lfd[b] = -1;

#ifdef __linux__
	/* One flush for every staged file: far cheaper than an fsync per
	 * record, and checked like one (Linux reports writeback errors to
	 * syncfs since 5.8). */
	if (syncfs(s->dirfd) != 0) {
		rc = store_fail(s, -errno, NULL, NULL, "cannot syncfs");
		import_free(im, 0);
		return rc;
	}
#endif
	for (i = 0; i < im->n; i++) {
		const struct rec_name *nm = &im->v[i].nm;
		int b = walk_bucket_index(nm->bucket);
		if (lfd[b] < 0 &&
		    (rc = lfd[b] = bucket_lock(s, nm->bucket, LOCK_SH)) < 0)
			break;
		child_name(im, i, tmp, sizeof tmp);
		if ((rc = io_renameat(im->bfd[b], tmp, im->bfd[b], nm->file)) <
		    0) {
			store_fail(s, rc, nm->bucket, tmp, "cannot rename");
			break;
		}
	}
	for (int b = 0; b < 256; b++)
		if (lfd[b] >= 0)
			close(lfd[b]); /* unlocks */
	/* The renames done so far are made durable even after a failure. */
	for (int b = 0; b < 256; b++) {
		if (im->bfd[b] < 0)
			continue;
		if (io_fsync(im->bfd[b]) != 0 && rc == 0) {
			char name[3];
			snprintf(name, sizeof name, "%02x", b);
			rc = store_fail(s, OKOF_EDIRSYNC, name, NULL,
					"cannot fsync directory");
		}
	}
	import_free(im, i);
	return rc;
}
