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
#include "recfile.h"
#include "walk.h"

/*
 * The buckets are shared out between threads: listing is an open, a
 * read and a close per record, which the kernel serves in parallel.
 * Each thread has its own error context and key array; the handle is
 * only read.  The arrays are merged and sorted.
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
	const okof_store *s;
	struct store_err err; /* this thread's */
	struct list_shared *sh;
	const char *prefix;
	size_t plen;
	struct okof_keys out;
	size_t cap;
	size_t records; /* seen, live or not */
	int64_t now;
	int rc;
	struct recfile_peek pk;
};

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
	rc = recfile_peek(c->s, &c->err, bfd, bucket, name, &c->pk);
	if (rc == OKOF_ENOTFOUND)
		return 0; /* deleted meanwhile */
	if (rc < 0) {
		c->out.bad++; /* named by its error context */
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
		int rc = store_walk_bucket(c->s, &c->err, b, list_one, c);
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

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	if (!s || (!prefix && plen > 0))
		return -EINVAL;
	if (!prefix)
		prefix = ""; /* memcmp() wants a pointer even for 0 bytes */
	c = calloc(LIST_THREADS_MAX, sizeof *c);
	if (!c)
		return -ENOMEM;
	for (int i = 0; i < LIST_THREADS_MAX; i++) {
		c[i].s = s;
		c[i].sh = &sh;
		c[i].prefix = prefix;
		c[i].plen = plen;
		c[i].now = store_now_ns() / 1000000000;
	}
	/* The first bucket alone says how large the store is. */
	c[0].rc = store_walk_bucket(s, &c[0].err, 0, list_one, &c[0]);
	if (c[0].rc == 0 && c[0].records >= LIST_PARALLEL_MIN &&
	    pthread_mutex_init(&sh.mu, NULL) == 0) {
		for (int want = online_cpus(); nt < want; nt++)
			if (pthread_create(&tid[nt], NULL, list_run, &c[nt]) !=
			    0)
				break;
		list_run(&c[0]);
		for (int i = 1; i < nt; i++)
			pthread_join(tid[i], NULL);
		pthread_mutex_destroy(&sh.mu);
	} else if (c[0].rc == 0) {
		for (int b = 1; b < 256 && c[0].rc == 0; b++)
			c[0].rc = store_walk_bucket(s, &c[0].err, b, list_one,
						    &c[0]);
	}
	for (int i = 0; i < nt; i++) {
		/* The store's error context: the first failure, else the
		 * last corrupt record seen. */
		if (c[i].rc < 0 && rc == 0) {
			rc = c[i].rc;
			s->err = c[i].err;
		} else if (c[i].out.bad > 0 && rc == 0) {
			s->err = c[i].err;
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
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].key);
	free(k->v);
	k->v = NULL;
	k->n = 0;
}
