/*
 * failshim.c - an LD_PRELOAD library that makes the N-th call of one
 * libc function fail, the way SQLite's test VFS fails I/O.
 *
 *   FAIL_CALL   write | pwrite | fsync | close | renameat | linkat |
 *               mkdirat | openat | unlinkat | read
 *   FAIL_N      which call fails (1 = the first)
 *   FAIL_ERRNO  EIO | ENOSPC | EDQUOT | EINTR | EACCES ... or SHORT
 *               (a write that writes half, then succeeds normally)
 *   FAIL_MODE   once (only the N-th call) | persist (the N-th and after)
 *   FAIL_MARK   a file created when a fault is injected
 *
 * Only calls the program makes through the PLT are seen: exactly the
 * program's own system calls, not libc's internal ones.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *which;
static long fail_n, count;
static int fail_errno, persist, shorten, ready;

static void
setup(void)
{
	if (ready)
		return;
	ready = 1;
	which = getenv("FAIL_CALL");
	const char *n = getenv("FAIL_N"), *e = getenv("FAIL_ERRNO"),
		   *m = getenv("FAIL_MODE");
	fail_n = n ? atol(n) : 0;
	persist = m && strcmp(m, "persist") == 0;
	if (!e || strcmp(e, "EIO") == 0)
		fail_errno = EIO;
	else if (strcmp(e, "ENOSPC") == 0)
		fail_errno = ENOSPC;
	else if (strcmp(e, "EDQUOT") == 0)
		fail_errno = EDQUOT;
	else if (strcmp(e, "EINTR") == 0)
		fail_errno = EINTR;
	else if (strcmp(e, "EACCES") == 0)
		fail_errno = EACCES;
	else if (strcmp(e, "SHORT") == 0)
		shorten = 1;
	else
		fail_errno = EIO;
}

/* Should this call of name fail?  Counts it. */
static int
hit(const char *name)
{
	setup();
	if (!which || strcmp(which, name) != 0 || fail_n <= 0)
		return 0;
	count++;
	if (count == fail_n || (persist && count > fail_n)) {
		const char *mark = getenv("FAIL_MARK");
		if (mark) {
			int fd = (int)syscall(SYS_openat, AT_FDCWD, mark,
					      O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if (fd >= 0)
				syscall(SYS_close, fd);
		}
		return 1;
	}
	return 0;
}

#define REAL(ret, name, ...)                                                  \
	static ret (*real_##name)(__VA_ARGS__);                               \
	if (!real_##name)                                                     \
		real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL(ssize_t, write, int, const void *, size_t);
	if (fd > 2 && hit("write")) {
		if (shorten && n > 1)
			return real_write(fd, buf, n / 2);
		if (!shorten) {
			errno = fail_errno;
			return -1;
		}
	}
	return real_write(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
	if (hit("pwrite")) {
		if (shorten && n > 1)
			return real_pwrite(fd, buf, n / 2, off);
		if (!shorten) {
			errno = fail_errno;
			return -1;
		}
	}
	return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
	__attribute__((alias("pwrite")));

ssize_t
read(int fd, void *buf, size_t n)
{
	REAL(ssize_t, read, int, void *, size_t);
	if (fd > 2 && hit("read") && !shorten) {
		errno = fail_errno;
		return -1;
	}
	return real_read(fd, buf, n);
}

#define SIMPLE(ret, name, params, args)                                       \
	ret name params                                                       \
	{                                                                     \
		static ret(*real) params;                                     \
		if (!real)                                                    \
			real = (ret(*) params)dlsym(RTLD_NEXT, #name);        \
		if (hit(#name) && !shorten) {                                 \
			errno = fail_errno;                                   \
			return -1;                                            \
		}                                                             \
		return real args;                                             \
	}

SIMPLE(int, fsync, (int fd), (fd))
SIMPLE(int, fdatasync, (int fd), (fd))
SIMPLE(int, renameat, (int a, const char *b, int c, const char *d),
       (a, b, c, d))
SIMPLE(int, linkat, (int a, const char *b, int c, const char *d, int e),
       (a, b, c, d, e))
SIMPLE(int, mkdirat, (int a, const char *b, mode_t m), (a, b, m))
SIMPLE(int, unlinkat, (int a, const char *b, int f), (a, b, f))
SIMPLE(int, fchmod, (int fd, mode_t m), (fd, m))
SIMPLE(int, flock, (int fd, int op), (fd, op))

int
close(int fd)
{
	REAL(int, close, int);
	if (fd > 2 && hit("close") && !shorten) {
		/* Linux closes the descriptor even when close fails. */
		real_close(fd);
		errno = fail_errno;
		return -1;
	}
	return real_close(fd);
}

int
openat(int at, const char *path, int flags, ...)
{
	REAL(int, openat, int, const char *, int, ...);
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (hit("openat") && !shorten) {
		errno = fail_errno;
		return -1;
	}
	return real_openat(at, path, flags, mode);
}

int openat64(int at, const char *path, int flags, ...)
	__attribute__((alias("openat")));

int
open(const char *path, int flags, ...)
{
	REAL(int, open, const char *, int, ...);
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (hit("openat") && !shorten) { /* counted with openat */
		errno = fail_errno;
		return -1;
	}
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));
