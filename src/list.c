/*
 * list.c - the store's live keys, sorted bytewise.  Only each record's
 * header is read and checked; values are not touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "record.h"
#include "walk.h"

struct list_ctx {
	okof_store *s;
	const char *prefix;
	size_t plen;
	struct okof_keys *out;
	size_t cap;
	int64_t now;
	unsigned char buf[REC_FIXED + OKOF_KEY_MAX + 64 + 4];
};

static int
add_key(struct list_ctx *c, const struct rec_header *h)
{
	const unsigned char *key = h->key;
	size_t len = h->key_len;
	struct okof_keys *k = c->out;

	if (k->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct okof_key *v = realloc(k->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		k->v = v;
		c->cap = cap;
	}
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, key, len);
	k->v[k->n].key = copy;
	k->v[k->n].len = len;
	k->v[k->n].size = h->value_len;
	k->v[k->n].mtime_ns = h->mtime_ns;
	k->n++;
	return 0;
}

static int
list_one(void *ctx, int bfd, const char *bucket, const char *name,
	 enum walk_kind kind)
{
	struct list_ctx *c = ctx;
	struct rec_header h;
	struct rec_name nm;
	const char *detail = NULL;
	ssize_t n, hl;
	int fd;

	if (kind != WALK_RECORD)
		return 0;
	do
		fd = openat(bfd, name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* deleted meanwhile */
		int err = errno;
		store_fail(c->s, -err, bucket, name, "cannot open");
		c->out->bad++;
		return 0;
	}
	n = io_read_full(fd, c->buf, sizeof c->buf);
	close(fd);
	if (n < 0) {
		store_fail(c->s, (int)n, bucket, name, "cannot read");
		c->out->bad++;
		return 0;
	}
	hl = rec_header_decode(c->buf, (size_t)n, &h, &detail, 0);
	if (hl <= 0) {
		store_fail(c->s, OKOF_ECORRUPT, bucket, name,
			   detail ? detail : "truncated header");
		c->out->bad++;
		return 0;
	}
	/* A record must sit where its key hashes to, or get cannot find it. */
	store_name(c->s, (const char *)h.key, h.key_len, &nm);
	if (strcmp(nm.bucket, bucket) != 0 || strcmp(nm.file, name) != 0) {
		store_fail(c->s, OKOF_ECORRUPT, bucket, name,
			   "record holds another key");
		c->out->bad++;
		return 0;
	}
	if (h.expires != 0 && h.expires <= c->now)
		return 0;
	if (h.key_len < c->plen || memcmp(h.key, c->prefix, c->plen) != 0)
		return 0;
	return add_key(c, &h);
}

static int
key_cmp(const void *a, const void *b)
{
	const struct okof_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

int
okof_list(okof_store *s, const char *prefix, size_t plen,
	  struct okof_keys *out)
{
	struct list_ctx *c;
	int rc;

	memset(out, 0, sizeof *out);
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->s = s;
	c->prefix = prefix;
	c->plen = plen;
	c->out = out;
	c->now = store_now_ns() / 1000000000;
	rc = store_walk(s, list_one, c);
	free(c);
	if (rc < 0) {
		okof_keys_free(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, key_cmp);
	return 0;
}

void
okof_keys_free(struct okof_keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].key);
	free(k->v);
	k->v = NULL;
	k->n = 0;
}
