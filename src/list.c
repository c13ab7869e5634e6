/*
 * list.c - the store's live keys, sorted bytewise.  Only each record's
 * header is read and checked; values are not touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
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
	struct store_peek pk;
};

int
store_peek(okof_store *s, int bfd, const char *bucket, const char *name,
	   struct store_peek *pk)
{
	const char *detail = NULL;
	struct rec_name nm;
	ssize_t n, hl = 0;
	int fd;

	fd = io_openat(bfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		       0);
	if (fd < 0)
		return fd == -ENOENT ? 1 /* deleted meanwhile */
				     : store_fail(s, fd, bucket, name,
						  "cannot open");
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
	close(fd);
	if (n < 0)
		return store_fail(s, -err, bucket, name,
				  err == EISDIR || err == EAGAIN
					  ? "not a regular file"
					  : "cannot read");
	hl = rec_header_decode(pk->buf, (size_t)n, &pk->h, &detail, 0);
	if (hl <= 0)
		return store_fail(s, OKOF_ECORRUPT, bucket, name,
				  detail ? detail : "truncated header");
	snprintf(nm.bucket, sizeof nm.bucket, "%s", bucket);
	snprintf(nm.file, sizeof nm.file, "%s", name);
	struct rec_crypto cr;
	const struct rec_crypto *c = store_crypto(s, &nm, &cr);
	if (!c != !(pk->h.flags & REC_F_ENCRYPTED))
		return store_fail(s, OKOF_ECORRUPT, bucket, name,
				  c ? "record is not encrypted"
				    : "record is encrypted");
	if (c) {
		/* Authenticates the key and the expiry with it. */
		crypto_secretstream_xchacha20poly1305_state ss;
		int rc = rec_unseal_key(&pk->h, c, &ss, pk->key);
		sodium_memzero(&ss, sizeof ss);
		if (rc < 0)
			return store_fail(s, rc, bucket, name,
					  "authentication failed (key)");
		pk->h.key_len -= REC_ABYTES;
	} else {
		memcpy(pk->key, pk->h.key, pk->h.key_len);
	}
	pk->h.key = pk->key;
	/* A record must sit where its key hashes to, or get cannot find it. */
	struct rec_name want;
	store_name(s, (const char *)pk->key, pk->h.key_len, &want);
	if (strcmp(want.bucket, bucket) != 0 || strcmp(want.file, name) != 0)
		return store_fail(s, OKOF_ECORRUPT, bucket, name,
				  "record holds another key");
	return 0;
}

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
	const struct rec_header *h = &c->pk.h;
	int rc;

	if (kind != WALK_RECORD)
		return 0;
	rc = store_peek(c->s, bfd, bucket, name, &c->pk);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		c->out->bad++; /* named by okof_errpath() */
		return 0;
	}
	if (h->expires != 0 && h->expires <= c->now)
		return 0;
	if (h->key_len < c->plen || memcmp(h->key, c->prefix, c->plen) != 0)
		return 0;
	return add_key(c, h);
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
