/* recfile.c - see recfile.h. */
#include "recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "io.h"

int
recfile_open(const okof_store *s, struct store_err *e, int bfd,
	     const struct rec_name *nm, struct stat *st)
{
	int fd, err;

	/* O_NONBLOCK: a FIFO planted as a record must not hang us. */
	if (bfd >= 0) {
		fd = io_openat(bfd, nm->file,
			       O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
			       0);
	} else {
		char path[BUCKET_HEX + 1 + NAME_HEX + 1];
		memcpy(path, nm->bucket, BUCKET_HEX);
		path[BUCKET_HEX] = '/';
		memcpy(path + BUCKET_HEX + 1, nm->file, NAME_HEX + 1);
		fd = io_open_beneath(s->dirfd, path, O_NONBLOCK);
	}
	if (fd == -ENOENT)
		return OKOF_ENOTFOUND;
	if (fd == -ELOOP || fd == -EXDEV)
		return store_fail_at(e, OKOF_ENOTFILE, nm->bucket, nm->file,
				     "record is a symlink");
	if (fd < 0)
		return store_fail_at(e, fd, nm->bucket, nm->file,
				     "cannot open");
	if (!st)
		return fd;
	if (fstat(fd, st) != 0) {
		err = errno;
		close(fd);
		return store_fail_at(e, -err, nm->bucket, nm->file,
				     "cannot stat");
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return store_fail_at(e, OKOF_ENOTFILE, nm->bucket, nm->file,
				     "record is not a regular file");
	}
	return fd;
}

int
recfile_holds(const okof_store *s, struct store_err *e,
	      const struct rec_name *nm, const void *key, size_t klen,
	      const void *want, size_t wlen)
{
	struct rec_name home;

	if (want) {
		if (klen == wlen && memcmp(key, want, klen) == 0)
			return 0;
	} else {
		store_name(s, key, klen, &home);
		if (strcmp(home.bucket, nm->bucket) == 0 &&
		    strcmp(home.file, nm->file) == 0)
			return 0;
	}
	return store_fail_at(e, OKOF_ECORRUPT, nm->bucket, nm->file,
			     "record holds another key");
}

int
recfile_peek_fd(const okof_store *s, struct store_err *e, int fd,
		const struct rec_name *nm, struct recfile_peek *pk)
{
	const char *bucket = nm->bucket, *name = nm->file;
	const char *detail = NULL;
	ssize_t n, hl = 0;

	/* One read brings a whole small record; more only for a long key.
	 * (O_NONBLOCK keeps a FIFO from hanging us; a directory fails
	 * EISDIR: neither needs an fstat first.) */
	do
		n = read(fd, pk->buf, sizeof pk->buf);
	while (n < 0 && errno == EINTR);
	if (n >= REC_FIXED && (size_t)n < sizeof pk->buf) {
		hl = rec_header_decode(pk->buf, (size_t)n, &pk->h, &detail, 0);
		if (hl == 0) {
			ssize_t more = io_read_full(fd, pk->buf + n,
						    sizeof pk->buf - (size_t)n);
			n = more < 0 ? more : n + more;
		}
	}
	int err = n < 0 ? errno : 0;
	if (n < 0)
		return store_fail_at(e, -err, bucket, name,
				  err == EISDIR || err == EAGAIN
					  ? "not a regular file"
					  : "cannot read");
	hl = rec_header_decode(pk->buf, (size_t)n, &pk->h, &detail, 0);
	if (hl <= 0)
		return store_fail_at(e, OKOF_ECORRUPT, bucket, name,
				  detail ? detail : "truncated header");
	struct rec_crypto cr;
	const struct rec_crypto *c = store_crypto(s, nm, &cr);
	if (!c != !(pk->h.flags & REC_F_ENCRYPTED))
		return store_fail_at(e, OKOF_ECORRUPT, bucket, name,
				  c ? "record is not encrypted"
				    : "record is encrypted");
	if (c) {
		/* Authenticates the key and the expiry with it. */
		crypto_secretstream_xchacha20poly1305_state ss;
		int rc = rec_unseal_key(&pk->h, c, &ss, pk->key);
		sodium_memzero(&ss, sizeof ss);
		if (rc < 0)
			return store_fail_at(e, rc, bucket, name,
					  "authentication failed (key)");
		pk->h.key_len -= REC_ABYTES;
	} else {
		memcpy(pk->key, pk->h.key, pk->h.key_len);
	}
	pk->h.key = pk->key;
	return recfile_holds(s, e, nm, pk->key, pk->h.key_len, NULL, 0);
}

static int
peek_once(const okof_store *s, struct store_err *e, int bfd,
	  const char *bucket, const char *name, struct recfile_peek *pk)
{
	struct rec_name nm;
	int fd, rc;

	snprintf(nm.bucket, sizeof nm.bucket, "%s", bucket);
	snprintf(nm.file, sizeof nm.file, "%s", name);
	fd = recfile_open(s, e, bfd, &nm, NULL);
	if (fd < 0)
		return fd;
	rc = recfile_peek_fd(s, e, fd, &nm, pk);
	close(fd);
	return rc;
}

int
recfile_peek(const okof_store *s, struct store_err *e, int bfd,
	     const char *bucket, const char *name, struct recfile_peek *pk)
{
	int rc;

	for (int tries = 0; tries < RECFILE_STALE_TRIES; tries++)
		if ((rc = peek_once(s, e, bfd, bucket, name, pk)) != -ESTALE)
			break;
	return rc;
}
