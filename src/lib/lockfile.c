/* lockfile.c - see lockfile.h. */
#include "lockfile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

/* Makes locks/name (and locks/) when missing: the fd, -EEXIST when
 * another process made it first, or -errno. */
static int
lock_create(okof_store *s, const char *name)
{
	int dfd = io_open_dir(s->dirfd, LOCKS_DIR), fd, rc;

	if (dfd == -ENOENT) {
		/* Durable, once per store: the lock command's tokens live
		 * in this directory and must survive a crash. */
		rc = io_mkdir_durable(s->dirfd, LOCKS_DIR, 0);
		if (rc < 0)
			return rc;
		dfd = io_open_dir(s->dirfd, LOCKS_DIR);
	}
	if (dfd < 0)
		return dfd;
	fd = io_openat(dfd, name,
		       O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
			       O_NONBLOCK,
		       0600);
	close(dfd);
	return fd;
}

int
lock_open(okof_store *s, const char *name, int *created)
{
	char path[sizeof LOCKS_DIR + NAME_MAX + 1];
	int fd = -ENOENT, made = 0, rc;
	struct stat st;

	if (snprintf(path, sizeof path, "%s/%s", LOCKS_DIR, name) >=
	    (int)sizeof path)
		return store_fail(s, -ENAMETOOLONG, LOCKS_DIR, name,
				  "cannot open lock file");
	/* Almost always there already: one open.  A race to make it has
	 * one winner; the others open the winner's file. */
	for (int tries = 0; fd == -ENOENT && tries < 3; tries++) {
		fd = io_open_beneath(s->dirfd, path, O_RDWR | O_NONBLOCK);
		if (fd == -ENOENT) {
			fd = lock_create(s, name);
			made = fd >= 0;
			if (fd == -EEXIST)
				fd = -ENOENT;
		}
	}
	if (fd < 0)
		return store_fail(s, fd, LOCKS_DIR, name,
				  "cannot open lock file");
	/* 0600 exactly, whatever the umask took away. */
	rc = 0;
	if (made && fstat(fd, &st) != 0)
		rc = -errno;
	else if (made && (st.st_mode & 07777) != 0600)
		rc = io_fchmod(fd, 0600);
	if (rc < 0) {
		close(fd);
		return store_fail(s, rc, LOCKS_DIR, name,
				  "cannot open lock file");
	}
	if (created)
		*created = made;
	return fd;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
lock_poll(lock_try_fn try_lock, int fd, int op, int64_t timeout_ms)
{
	if (timeout_ms < 0)
		return try_lock(fd, op, 1);
	/* No lock call has a timeout, and a library may not use SIGALRM
	 * behind its caller's back: try, then nap a little longer each
	 * time, up to 50 ms. */
	int64_t end = mono_ms() + timeout_ms;
	long nap_ms = 1;
	for (;;) {
		int rc = try_lock(fd, op, 0);
		if (rc != -EWOULDBLOCK)
			return rc;
		int64_t left = end - mono_ms();
		if (left <= 0)
			return -EWOULDBLOCK;
		if (nap_ms > left)
			nap_ms = (long)left;
		struct timespec ts = {nap_ms / 1000, nap_ms % 1000 * 1000000};
		nanosleep(&ts, NULL);
		if (nap_ms < 50)
			nap_ms *= 2;
	}
}

/* flock(fd, op), waiting or not: 0, -EWOULDBLOCK or -errno. */
static int
flock_try(int fd, int op, int wait)
{
	while (flock(fd, op | (wait ? 0 : LOCK_NB)) != 0)
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
	return 0;
}

int
lock_take(int fd, int op, int64_t timeout_ms)
{
	return lock_poll(flock_try, fd, op, timeout_ms);
}

int
bucket_lock(okof_store *s, const char *bucket, int op)
{
	int fd = lock_open(s, bucket, NULL);

	if (fd < 0)
		return fd;
	int rc = io_flock(fd, op);
	if (rc < 0) {
		close(fd);
		return store_fail(s, rc, LOCKS_DIR, bucket, "cannot lock");
	}
	return fd;
}
