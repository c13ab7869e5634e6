/*
 * secret.c - key files: making a new random secret, durably, without
 * ever overwriting one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "io.h"
#include "okof.h"
#include "tmpfile.h"

/* Splits path into its directory (a new string) and its last part. */
static int
split_path(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	*base = slash ? slash + 1 : path;
	if (**base == '\0')
		return -EISDIR;
	if (!slash)
		*dir = strdup(".");
	else if (slash == path)
		*dir = strdup("/");
	else
		*dir = strndup(path, (size_t)(slash - path));
	return *dir ? 0 : -ENOMEM;
}

int
okof_keygen(const char *path)
{
	unsigned char *k = NULL;
	char tmp[TMP_NAME_LEN + 1];
	const char *base;
	char *dir = NULL;
	int dfd = -1, fd, lockfd = -1, rc;

	if (!path || !*path)
		return -EINVAL;
	/* sodium_malloc() and randombytes abort without it: this may be
	 * the program's first call into the library. */
	if (sodium_init() < 0)
		return -ENOSYS;
	rc = split_path(path, &dir, &base);
	if (rc < 0)
		return rc;
	rc = io_mkdir_parents(dir);
	if (rc == 0)
		rc = dfd = io_openat(AT_FDCWD, dir,
				     O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (rc < 0)
		goto out;
	k = sodium_malloc(OKOF_SECRET_BYTES);
	if (!k) {
		rc = -ENOMEM;
		goto out;
	}
	randombytes_buf(k, OKOF_SECRET_BYTES);
	/* Written whole beside its name, then linked: a crash never leaves
	 * a short key file, and link() never replaces an existing one. */
	fd = tmp_create(dfd, tmp, &lockfd);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	rc = io_write_all(fd, k, OKOF_SECRET_BYTES);
	rc = tmp_publish(dfd, fd, lockfd, tmp, base, 1, 0, rc);
	if (rc == 0 && io_fsync(dfd) < 0)
		rc = OKOF_EDIRSYNC;
out:
	if (k)
		sodium_free(k);
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return rc;
}

int
okof_load_secret(const char *path, unsigned char *secret, const char **why)
{
	const char *bad = NULL;
	struct stat st;
	unsigned char extra;
	int fd, rc = 0;

	if (why)
		*why = NULL;
	if (!path || !secret)
		return -EINVAL;
	sodium_memzero(secret, OKOF_SECRET_BYTES);
	/* O_NONBLOCK: a FIFO planted there must not hang the caller. */
	fd = io_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		bad = "";
	} else if (!S_ISREG(st.st_mode)) {
		bad = "not a regular file";
	} else if (st.st_uid != geteuid()) {
		bad = "owned by another user";
	} else if (st.st_mode & 077) {
		bad = "readable or writable by others (chmod 600 it)";
	} else if (st.st_size != OKOF_SECRET_BYTES) {
		bad = "wrong size (a key file is 32 bytes; make one with "
		      "'okof keygen FILE')";
	} else {
		/* The whole secret, and nothing after it. */
		ssize_t n = io_read_full(fd, secret, OKOF_SECRET_BYTES);
		ssize_t more = n == OKOF_SECRET_BYTES
				       ? io_read_full(fd, &extra, 1)
				       : 0;
		if (n < 0 || more < 0) {
			rc = (int)(n < 0 ? n : more);
			bad = "";
		} else if (n != OKOF_SECRET_BYTES) {
			bad = "short read";
		} else if (more != 0) {
			bad = "changed size while read";
		}
	}
	close(fd);
	if (bad) {
		sodium_memzero(secret, OKOF_SECRET_BYTES);
		if (why)
			*why = bad;
		return rc < 0 ? rc : OKOF_EKEYFILE;
	}
	return 0;
}
