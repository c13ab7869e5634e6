/* tmpfile.c - see tmpfile.h. */
#include "tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "io.h"
#include "okof.h"

/*
 * The temp file being written, for okof_signal_cleanup(): one per
 * thread, so that threads putting at once never share it.  Initial-exec
 * TLS is a plain offset from the thread pointer, safe in a handler.
 */
#define TMP_TLS _Thread_local __attribute__((tls_model("initial-exec")))
static TMP_TLS volatile sig_atomic_t pending_fd = -1;
static TMP_TLS char pending_name[TMP_NAME_LEN + 1];

void
tmp_pending(int dirfd, const char *name)
{
	pending_fd = -1;
	if (name) {
		memcpy(pending_name, name, sizeof pending_name);
		pending_fd = dirfd;
	}
}

void
okof_signal_cleanup(void)
{
	int fd = pending_fd;

	if (fd >= 0)
		unlinkat(fd, pending_name, 0);
}

int
tmp_create(int bfd, char name[TMP_NAME_LEN + 1], int *lockfd)
{
	unsigned char rnd[8];
	struct stat st;

	for (int tries = 0; tries < 100; tries++) {
		randombytes_buf(rnd, sizeof rnd);
		memcpy(name, TMP_PREFIX, sizeof TMP_PREFIX - 1);
		sodium_bin2hex(name + sizeof TMP_PREFIX - 1, 17, rnd,
			       sizeof rnd);
		int fd = io_openat(bfd, name,
				   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					   O_CLOEXEC,
				   0600);
		if (fd == -EEXIST)
			continue;
		if (fd < 0)
			return fd;
		int rc = io_flock(fd, LOCK_EX);
		if (rc == 0 && fstat(fd, &st) != 0)
			rc = -errno;
		/* 0600 exactly, whatever the umask took away. */
		if (rc == 0 && (st.st_mode & 07777) != 0600)
			rc = io_fchmod(fd, 0600);
		if (rc == 0 && st.st_nlink == 0) {
			close(fd);
			continue;
		}
		if (rc == 0 && (*lockfd = dup(fd)) < 0)
			rc = -errno;
		if (rc < 0) {
			io_unlinkat(bfd, name);
			close(fd);
			return rc;
		}
		return fd;
	}
	return -EEXIST;
}

int
tmp_publish(int dirfd, int fd, int lockfd, const char *tmp, const char *name,
	    int link, int no_sync, int rc)
{
	if (rc == 0 && !no_sync)
		rc = io_fsync(fd);
	int crc = io_close(fd);
	if (rc == 0)
		rc = crc;
	if (rc == 0)
		rc = link ? io_linkat(dirfd, tmp, dirfd, name)
			  : io_renameat(dirfd, tmp, dirfd, name);
	if (link || rc < 0)
		io_unlinkat(dirfd, tmp);
	close(lockfd);
	return rc;
}
