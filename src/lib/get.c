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

/*
 * Opens r's record and reads its header.  -ESTALE means the name now
 * leads to another file (on NFS or FUSE, another machine replaced the
 * record between our lookup and our read): open it again.
 */
static int
open_and_check(okof_reader *r, const char *key, size_t klen)
{
	okof_store *s = r->s;
	struct stat st;
	int rc;

	rc = recfile_open(s, &s->err, -1, &r->nm, &st);
	if (rc < 0)
		return rc;
	r->fd = rc;
	rc = recr_open(&r->rr, r->fd, (uint64_t)st.st_size, 0,
		       store_crypto(s, &r->nm, &r->cr));
	if (rc < 0)
		return store_fail(s, rc, r->nm.bucket, r->nm.file,
				  rc == OKOF_ECORRUPT ? r->rr.detail
						      : "cannot read");
	rc = recfile_holds(s, &s->err, &r->nm, r->rr.h.key, r->rr.h.key_len,
			   key, klen);
	if (rc < 0)
		return rc;
	r->info.disk = (uint64_t)st.st_blocks * 512;
	return 0;
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
	if (okof_check_key(key, klen) != 0)
		return OKOF_EBADKEY;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->fd = -1;
	store_name(s, key, klen, &r->nm);
	for (int tries = 0;; tries++) {
		rc = open_and_check(r, key, klen);
		if (rc != -ESTALE || tries == RECFILE_STALE_TRIES)
			break;
		recr_free(&r->rr);
		memset(&r->rr, 0, sizeof r->rr);
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
