/*
 * get.c - reading a record: open it without following links, verify
 * the header and that it holds the key asked for, then hand out the
 * value chunk by chunk, each verified before it is returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "record.h"
#include "store.h"

struct okof_reader {
	okof_store *s;
	struct rec_name nm;
	struct rec_crypto cr;
	struct rec_reader rr;
	struct okof_info info;
	int fd;
};

/* Opens bucket/file under the store without following symlinks. */
static int
open_record(okof_store *s, const struct rec_name *nm, struct stat *st)
{
	char path[BUCKET_HEX + 1 + NAME_HEX + 1];
	int fd, err;

	memcpy(path, nm->bucket, BUCKET_HEX);
	path[BUCKET_HEX] = '/';
	memcpy(path + BUCKET_HEX + 1, nm->file, NAME_HEX + 1);
	/* O_NONBLOCK: a FIFO planted as a record must not hang us. */
	fd = io_open_beneath(s->dirfd, path, O_NONBLOCK);
	if (fd < 0) {
		if (fd == -ENOENT)
			return OKOF_ENOTFOUND;
		if (fd == -ELOOP || fd == -EXDEV)
			return store_fail(s, OKOF_ENOTFILE, nm->bucket,
					  nm->file, "record is a symlink");
		return store_fail(s, fd, nm->bucket, nm->file, "cannot open");
	}
	if (fstat(fd, st) != 0) {
		err = errno;
		close(fd);
		return store_fail(s, -err, nm->bucket, nm->file, "cannot stat");
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return store_fail(s, OKOF_ENOTFILE, nm->bucket, nm->file,
				  "record is not a regular file");
	}
	return fd;
}

int
okof_get_open(okof_store *s, const char *key, size_t klen, okof_reader **out)
{
	struct stat st;
	okof_reader *r;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!s)
		return -EINVAL;
	if (okof_check_key(key, klen) != 0)
		return OKOF_EBADKEY;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->fd = -1;
	store_name(s, key, klen, &r->nm);
	rc = open_record(s, &r->nm, &st);
	if (rc < 0)
		goto fail;
	r->fd = rc;
	rc = recr_open(&r->rr, r->fd, (uint64_t)st.st_size, 0,
		       store_crypto(s, &r->nm, &r->cr));
	if (rc < 0) {
		store_fail(s, rc, r->nm.bucket, r->nm.file,
			   rc == OKOF_ECORRUPT ? r->rr.detail : "cannot read");
		goto fail;
	}
	if (r->rr.h.key_len != klen || memcmp(r->rr.h.key, key, klen) != 0) {
		rc = store_fail(s, OKOF_ECORRUPT, r->nm.bucket, r->nm.file,
				"record holds another key");
		goto fail;
	}
	const struct rec_header *h = &r->rr.h;
	if (h->expires != 0 && h->expires <= store_now_ns() / 1000000000) {
		rc = OKOF_ENOTFOUND;
		goto fail;
	}
	r->info.size = h->value_len;
	r->info.disk = (uint64_t)st.st_blocks * 512;
	r->info.compressed = (h->flags & REC_F_COMPRESSED) != 0;
	r->info.encrypted = (h->flags & REC_F_ENCRYPTED) != 0;
	r->info.mtime_ns = h->mtime_ns;
	r->info.expires = h->expires;
	*out = r;
	return 0;
fail:
	okof_get_close(r);
	return rc;
}

int
okof_get_rewind(okof_reader *r)
{
	int rc;

	if (!r)
		return -EINVAL;
	if (lseek(r->fd, 0, SEEK_SET) != 0)
		return store_fail(r->s, -errno, r->nm.bucket, r->nm.file,
				  "cannot seek");
	uint64_t size = r->rr.file_size;
	recr_free(&r->rr);
	rc = recr_open(&r->rr, r->fd, size, 0,
		       store_crypto(r->s, &r->nm, &r->cr));
	if (rc < 0)
		store_fail(r->s, rc, r->nm.bucket, r->nm.file,
			   rc == OKOF_ECORRUPT ? r->rr.detail : "cannot read");
	return rc;
}

void
okof_get_info(const okof_reader *r, struct okof_info *out)
{
	static const struct okof_info none;

	if (out)
		*out = r ? r->info : none;
}

int
okof_get_read(okof_reader *r, const void **p, size_t *n)
{
	if (!r || !p || !n)
		return -EINVAL;
	int rc = recr_next(&r->rr, p, n);

	if (rc < 0)
		store_fail(r->s, rc, r->nm.bucket, r->nm.file,
			   rc == OKOF_ECORRUPT ? r->rr.detail : "cannot read");
	return rc;
}

void
okof_get_close(okof_reader *r)
{
	if (!r)
		return;
	recr_free(&r->rr);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

int
okof_stat(okof_store *s, const char *key, size_t klen, struct okof_info *out)
{
	okof_reader *r;
	int rc;

	if (!out)
		return -EINVAL;
	if ((rc = okof_get_open(s, key, klen, &r)) == 0) {
		okof_get_info(r, out);
		okof_get_close(r);
	}
	return rc;
}

int
okof_has(okof_store *s, const char *key, size_t klen)
{
	okof_reader *r;
	int rc = okof_get_open(s, key, klen, &r);

	okof_get_close(r);
	return rc == 0 ? 1 : rc == OKOF_ENOTFOUND ? 0 : rc;
}
