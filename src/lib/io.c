/* io.c - see io.h. */
#ifdef __linux__
/* Before any header: openat2 and sync_file_range are GNU extensions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include "io.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int
io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

ssize_t
io_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
io_write_behind(int fd, uint64_t off, uint64_t len)
{
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EOVERFLOW;
	while (sync_file_range(fd, (off_t)off, (off_t)len,
			       SYNC_FILE_RANGE_WRITE) != 0)
		if (errno != EINTR)
			return -errno;
#else
	(void)fd;
	(void)off;
	(void)len;
#endif
	return 0;
}

int
io_fsync(int fd)
{
#ifdef F_FULLFSYNC
	/* macOS: fsync() does not flush the drive's cache; F_FULLFSYNC
	 * does, where the filesystem supports it. */
	if (fcntl(fd, F_FULLFSYNC) == 0)
		return 0;
	if (errno != ENOTTY && errno != ENOTSUP && errno != EINVAL)
		return -errno;
#endif
	/* EINTR is an interruption, not a lost write: retried.  Any other
	 * failure is not: after it the kernel may have dropped the dirty
	 * pages, so a later success would prove nothing.  The caller fails
	 * the write. */
	while (fsync(fd) != 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int
io_close(int fd)
{
	if (close(fd) != 0 && errno != EINTR)
		return -errno;
	return 0;
}

#define RETRY(call) \
	do { \
		while ((call) < 0) \
			if (errno != EINTR) \
				return -errno; \
	} while (0)

int
io_openat(int at, const char *path, int flags, mode_t mode)
{
	int fd;

	RETRY(fd = openat(at, path, flags, mode));
	return fd;
}

int
io_renameat(int at, const char *from, int to_at, const char *to)
{
	RETRY(renameat(at, from, to_at, to));
	return 0;
}

int
io_linkat(int at, const char *from, int to_at, const char *to)
{
	RETRY(linkat(at, from, to_at, to, 0));
	return 0;
}

int
io_unlinkat(int at, const char *path)
{
	RETRY(unlinkat(at, path, 0));
	return 0;
}

int
io_fchmod(int fd, mode_t mode)
{
	RETRY(fchmod(fd, mode));
	return 0;
}

int
io_flock(int fd, int op)
{
	while (flock(fd, op) != 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int
io_open_dir(int at, const char *dir)
{
	int fd;

	do
		fd = openat(at, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				     O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

int
io_open_beneath(int at, const char *path, int flags)
{
	int fd;

#if defined(__linux__) && defined(SYS_openat2) && defined(RESOLVE_BENEATH)
	static int no_openat2;
	if (!no_openat2) {
		struct open_how how = {
			.flags = (uint64_t)(O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
					    flags),
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
				   RESOLVE_NO_MAGICLINKS,
		};
		do
			fd = (int)syscall(SYS_openat2, at, path, &how,
					  sizeof how);
		while (fd < 0 && errno == EINTR);
		if (fd >= 0)
			return fd;
		/* Older kernels, or a seccomp filter that does not know
		 * openat2: walk instead, from now on. */
		if (errno != ENOSYS && errno != EPERM && errno != E2BIG)
			return -errno;
		no_openat2 = 1;
	}
#endif
	const char *slash = strchr(path, '/');
	if (!slash) {
		do
			fd = openat(at, path,
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | flags);
		while (fd < 0 && errno == EINTR);
		return fd < 0 ? -errno : fd;
	}
	char dir[256];
	size_t n = (size_t)(slash - path);
	if (n >= sizeof dir)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	int dfd = io_open_dir(at, dir);
	if (dfd < 0)
		return dfd;
	fd = io_open_beneath(dfd, slash + 1, flags);
	close(dfd);
	return fd;
}

int
io_mkdir_durable(int at, const char *name, int no_sync)
{
	int fd, rc;

	while (mkdirat(at, name, 0700) != 0)
		if (errno != EINTR)
			return errno == EEXIST ? 0 : -errno;
	/* The umask may have taken bits away; the contract says 0700. */
	fd = io_open_dir(at, name);
	if (fd < 0)
		return fd;
	rc = io_fchmod(fd, 0700);
	if (rc == 0 && !no_sync)
		rc = io_fsync(fd);
	int crc = io_close(fd);
	if (rc == 0)
		rc = crc;
	if (rc == 0 && !no_sync)
		rc = io_fsync(at);
	return rc < 0 ? rc : 1;
}

/*
 * Opens directory name in at to walk through it: for reading where we
 * may, else (a parent of mode 0711, as home directories often are) for
 * search alone, which is all that passing through it needs.
 */
static int
open_dir_search(int at, const char *name)
{
	int fd = io_openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
#ifdef O_PATH
	if (fd == -EACCES)
		fd = io_openat(at, name, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
#endif
	return fd;
}

/*
 * Makes every missing directory of path, each mode 0700 and durable in
 * its parent, like mkdir -p.  Returns 0 or -errno.
 */
int
io_mkdir_parents(const char *path)
{
	char *p = strdup(path);
	int at, rc = 0;

	if (!p)
		return -ENOMEM;
	char *c = p;
	at = open_dir_search(AT_FDCWD, *c == '/' ? "/" : ".");
	if (at < 0) {
		free(p);
		return at;
	}
	while (*c == '/')
		c++;
	while (*c != '\0') {
		char *end = strchr(c, '/');
		if (end)
			*end = '\0';
		if (strcmp(c, ".") != 0) {
			rc = io_mkdir_durable(at, c, 0);
			if (rc < 0)
				break;
			int next = open_dir_search(at, c);
			if (next < 0) {
				rc = next;
				break;
			}
			close(at);
			at = next;
		}
		if (!end)
			break;
		c = end + 1;
		while (*c == '/')
			c++;
	}
	close(at);
	free(p);
	return rc < 0 ? rc : 0;
}
