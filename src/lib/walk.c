/* walk.c - see walk.h. */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "lockfile.h"

static int
is_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return p[n] == '\0';
}

static int
hex_digit(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

int
walk_bucket_index(const char *bucket)
{
	return hex_digit(bucket[0]) << 4 | hex_digit(bucket[1]);
}

static enum walk_kind
kind_of(const char *name)
{
	if (strncmp(name, TMP_PREFIX, sizeof TMP_PREFIX - 1) == 0)
		return WALK_TMP;
	return is_hex(name, NAME_HEX) ? WALK_RECORD : WALK_OTHER;
}

/* Runs fn on every entry of the directory open at dirfd (not closed). */
static int
walk_dir(int dirfd, const char *bucket, walk_fn fn, void *ctx, int top)
{
	int fd = dup(dirfd);
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* The duplicate shares dirfd's offset, which an earlier walk may
	 * have left at the end. */
	rewinddir(d);
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			rc = errno ? -errno : 0;
			break;
		}
		const char *n = e->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (top) {
			int bfd = -ENOTDIR;
			if (kind_of(n) == WALK_TMP) {
				rc = fn(ctx, dirfd, "", n, WALK_TMP);
				goto next;
			}
			if (strcmp(n, META_NAME) == 0 ||
			    strcmp(n, LOCKS_DIR) == 0)
				continue;
			if (is_hex(n, BUCKET_HEX))
				bfd = io_open_dir(dirfd, n);
			if (bfd == -ENOENT)
				continue;
			if (bfd == -ENOTDIR) {
				/* Not a bucket: no file okof made. */
				rc = fn(ctx, dirfd, "", n, WALK_OTHER);
				goto next;
			}
			if (bfd < 0) {
				rc = bfd;
				break;
			}
			rc = walk_dir(bfd, n, fn, ctx, 0);
			close(bfd);
		} else {
			rc = fn(ctx, dirfd, bucket, n, kind_of(n));
		}
	next:
		if (rc < 0)
			break;
	}
	closedir(d);
	return rc;
}

int
store_walk(okof_store *s, walk_fn fn, void *ctx)
{
	return walk_dir(s->dirfd, "", fn, ctx, 1);
}

int
store_walk_bucket(const okof_store *s, struct store_err *e, int b, walk_fn fn,
		  void *ctx)
{
	char name[BUCKET_HEX + 1];
	int bfd, rc;

	name[0] = "0123456789abcdef"[b >> 4 & 15];
	name[1] = "0123456789abcdef"[b & 15];
	name[2] = '\0';
	bfd = io_open_dir(s->dirfd, name);
	if (bfd == -ENOENT)
		return 0;
	if (bfd < 0)
		return store_fail_at(e, bfd, name, NULL,
				     "cannot open directory");
	rc = walk_dir(bfd, name, fn, ctx, 0);
	close(bfd);
	return rc;
}
