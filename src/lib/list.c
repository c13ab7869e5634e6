/*
 * list.c - the store's live keys, sorted bytewise.  Only each record's
 * header is read and checked; values are not touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "record.h"
#include "walk.h"

/*
 * The buckets are shared out between threads: listing is an open, a
 * read and a close per record, which the kernel serves in parallel.
 * Each thread has its own copy of the store handle (so its own error
 * context) and its own key array; the arrays are merged and sorted.
 */
#define LIST_THREADS_MAX 4
/* Buckets are filled evenly: fewer records than this in the first one
 * means a store too small to be worth a thread (~1k keys). */
#define LIST_PARALLEL_MIN 4

struct list_shared {
	pthread_mutex_t mu;
	int next; /* the next bucket to walk, 0..256 */
	int stop; /* a thread failed: the others stop early */
};

struct list_ctx {
	okof_store s; /* a copy: its own errpath */
	struct list_shared *sh;
	const char *prefix;
	size_t plen;
	struct okof_keys out;
	size_t cap;
	size_t records; /* seen, live or not */
	int64_t now;
	int rc;
	struct store_peek pk;
};

int
store_peek(okof_store *s, int bfd, const char *bucket, const char *name,
	   struct store_peek *pk)
{
	int fd, rc;

	fd = io_openat(bfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		       0);
	if (fd < 0)
		return fd == -ENOENT ? 1 /* deleted meanwhile */
				     : store_fail(s, fd, bucket, name,
						  "cannot open");
	rc = store_peek_fd(s, fd, bucket, name, pk);
	close(fd);
	return rc;
}

int
store_peek_fd(okof_store *s, int fd, const char *bucket, const char *name,
	      struct store_peek *pk)
{
	const char *detail = NULL;
	struct rec_name nm;
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
	struct okof_keys *k = &c->out;

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
	c->records++;
	rc = store_peek(&c->s, bfd, bucket, name, &c->pk);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		c->out.bad++; /* named by its errpath */
		return 0;
	}
	if (h->expires != 0 && h->expires <= c->now)
		return 0;
	if (h->key_len < c->plen || memcmp(h->key, c->prefix, c->plen) != 0)
		return 0;
	return add_key(c, h);
}

/* Walks buckets until none is left; the thread's body. */
static void *
list_run(void *arg)
{
	struct list_ctx *c = arg;
	struct list_shared *sh = c->sh;

	for (;;) {
		pthread_mutex_lock(&sh->mu);
		int b = sh->stop ? 256 : sh->next;
		if (b < 256)
			sh->next++;
		pthread_mutex_unlock(&sh->mu);
		if (b == 256)
			return NULL;
		int rc = store_walk_bucket(&c->s, b, list_one, c);
		if (rc < 0) {
			c->rc = rc;
			pthread_mutex_lock(&sh->mu);
			sh->stop = 1;
			pthread_mutex_unlock(&sh->mu);
			return NULL;
		}
	}
}

static int
online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > LIST_THREADS_MAX ? LIST_THREADS_MAX : (int)n;
}

/* Moves c's keys to the end of out (cap: out's room). */
static int
merge(struct okof_keys *out, size_t *cap, struct list_ctx *c)
{
	struct okof_keys *in = &c->out;

	out->bad += in->bad;
	if (in->n == 0)
		return 0;
	if (out->n == 0) {
		free(out->v);
		out->v = in->v;
		out->n = in->n;
		*cap = c->cap;
	} else {
		if (in->n > SIZE_MAX / sizeof *out->v - out->n)
			return -ENOMEM;
		if (out->n + in->n > *cap) {
			struct okof_key *v =
				realloc(out->v, (out->n + in->n) * sizeof *v);
			if (!v)
				return -ENOMEM;
			out->v = v;
			*cap = out->n + in->n;
		}
		memcpy(out->v + out->n, in->v, in->n * sizeof *in->v);
		out->n += in->n;
		free(in->v);
	}
	in->v = NULL;
	in->n = 0;
	return 0;
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
	struct list_shared sh = {.next = 1};
	struct list_ctx *c;
	pthread_t tid[LIST_THREADS_MAX];
	int nt = 1, rc = 0;
	size_t cap = 0;

	memset(out, 0, sizeof *out);
	c = calloc(LIST_THREADS_MAX, sizeof *c);
	if (!c)
		return -ENOMEM;
	for (int i = 0; i < LIST_THREADS_MAX; i++) {
		c[i].s = *s;
		c[i].sh = &sh;
		c[i].prefix = prefix;
		c[i].plen = plen;
		c[i].now = store_now_ns() / 1000000000;
	}
	/* The first bucket alone says how large the store is. */
	c[0].rc = store_walk_bucket(&c[0].s, 0, list_one, &c[0]);
	if (c[0].rc == 0 && c[0].records >= LIST_PARALLEL_MIN &&
	    pthread_mutex_init(&sh.mu, NULL) == 0) {
		for (int want = online_cpus(); nt < want; nt++)
			if (pthread_create(&tid[nt], NULL, list_run, &c[nt]) != 0)
				break;
		list_run(&c[0]);
		for (int i = 1; i < nt; i++)
			pthread_join(tid[i], NULL);
		pthread_mutex_destroy(&sh.mu);
	} else if (c[0].rc == 0) {
		for (int b = 1; b < 256 && c[0].rc == 0; b++)
			c[0].rc = store_walk_bucket(&c[0].s, b, list_one, &c[0]);
	}
	for (int i = 0; i < nt; i++) {
		/* The store's error context: the first failure, else the
		 * last corrupt record seen. */
		if (c[i].rc < 0 && rc == 0) {
			rc = c[i].rc;
			memcpy(s->errpath, c[i].s.errpath, sizeof s->errpath);
			s->errdetail = c[i].s.errdetail;
		} else if (c[i].out.bad > 0 && rc == 0) {
			memcpy(s->errpath, c[i].s.errpath, sizeof s->errpath);
			s->errdetail = c[i].s.errdetail;
		}
		if (rc == 0)
			rc = merge(out, &cap, &c[i]);
	}
	for (int i = 0; i < nt; i++)
		okof_keys_free(&c[i].out);
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
