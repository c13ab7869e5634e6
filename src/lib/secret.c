/*
 * secret.c - key files: making a new random secret, durably, without
 * ever overwriting one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
	rc = split_path(path, &dir, &base);
	if (rc < 0)
		return rc;
	rc = io_mkdir_parents(dir);
	if (rc == 0)
		rc = dfd = io_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
				0);
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
