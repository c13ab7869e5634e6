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
#include "recfile.h"
#include "store.h"

struct okof_reader {
	okof_store *s;
	struct rec_name nm;
	struct rec_crypto cr;
	struct rec_reader rr;
	struct okof_info info;
	int fd;
};

/* Is fd positively no regular file?  (Asked only once a read failed.) */
static int
not_regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
}

/*
 * Opens r's record and reads its header.  -ESTALE means the name now
 * leads to another file (on NFS or FUSE, another machine replaced the
 * record between our lookup and our read): open it again.
 */
static int
open_and_check(okof_reader *r, const char *key, size_t klen)
{
	okof_store *s = r->s;
	int rc;

	/* No fstat: the reader learns the size from its reads. */
	rc = recfile_open(s, &s->err, store_read_bucket(s, &r->nm), &r->nm,
			  NULL);
	if (rc < 0)
		return rc;
	r->fd = rc;
	rc = recr_open(&r->rr, r->fd, REC_SIZE_UNKNOWN, 0,
		       store_crypto(s, &r->nm, &r->cr));
	if (rc < 0 && not_regular(r->fd)) {
		/* a FIFO reads empty, a directory fails EISDIR: say why */
		rc = OKOF_ENOTFILE;
		r->rr.detail = "record is not a regular file";
	}
	if (rc < 0)
		return store_fail(s, rc, r->nm.bucket, r->nm.file,
				  r->rr.detail ? r->rr.detail : "cannot read");
	return recfile_holds(s, &s->err, &r->nm, r->rr.h.key, r->rr.h.key_len,
			     key, klen);
}

int
okof_get_open(okof_store *s, const char *key, size_t klen, okof_reader **out)
{
	okof_reader *r;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!s)
		return -EINVAL;
	if ((rc = okof_check_key(key, klen)) != 0)
		return rc;
	/* Not calloc: the reader is mostly its read buffer, which needs no
	 * zeroes; each other field is set here or by recr_open(). */
	r = malloc(sizeof *r);
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->fd = -1;
	memset(&r->info, 0, sizeof r->info);
	recr_init(&r->rr);
	store_name_read(s, key, klen, &r->nm);
	for (int tries = 0;; tries++) {
		rc = open_and_check(r, key, klen);
		if (rc != -ESTALE || tries == RECFILE_STALE_TRIES)
			break;
		recr_free(&r->rr);
		recr_init(&r->rr);
		if (r->fd >= 0)
			close(r->fd);
		r->fd = -1;
	}
	if (rc < 0)
		goto fail;
	const struct rec_header *h = &r->rr.h;
	if (h->expires != 0 && h->expires <= store_now_ns() / 1000000000) {
		rc = OKOF_ENOTFOUND;
		goto fail;
	}
	r->info.size = h->value_len;
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

/* The facts, and disk from the file: asked only here, so that a plain
 * read costs no fstat.  0 or -errno (disk then 0). */
static int
reader_info(const okof_reader *r, struct okof_info *out)
{
	struct stat st;

	*out = r->info;
	if (fstat(r->fd, &st) != 0)
		return -errno;
	out->disk = (uint64_t)st.st_blocks * 512;
	return 0;
}

void
okof_get_info(const okof_reader *r, struct okof_info *out)
{
	static const struct okof_info none;

	if (out && r)
		(void)reader_info(r, out);
	else if (out)
		*out = none;
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
		rc = reader_info(r, out);
		if (rc < 0)
			store_fail(s, rc, r->nm.bucket, r->nm.file,
				   "cannot stat");
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
