/*
 * check_api.c - the library as a program uses it, where the command line
 * cannot reach: every public function given bad arguments, many threads
 * with a handle each on one store, a handle used after fork, values
 * streamed through a pipe in constant memory, key files, TTLs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_okof.h"
#include "okof.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static char *dir;
static okof_store *s;

/* valgrind runs the program with its preload library in LD_PRELOAD */
static int
under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");
	return p != NULL && strstr(p, "vgpreload") != NULL;
}

static void
setup(void)
{
	dir = make_tmpdir();
	ck_assert_int_eq(okof_open(&s, dir, OKOF_CREATE, NULL, NULL), 0);
}

static void
teardown(void)
{
	okof_close(s);
	remove_tree(dir);
	free(dir);
}

static int
count_item(void *ctx, const struct okof_item *it)
{
	(void)it;
	++*(int *)ctx;
	return 0;
}

/* Reads key's whole value into a malloc'd buffer; returns the status. */
static int
get_all(okof_store *h, const char *key, char **out, size_t *len)
{
	okof_reader *r;
	const void *p;
	size_t n;
	int rc = okof_get_open(h, key, strlen(key), &r);

	*out = NULL;
	*len = 0;
	if (rc != 0)
		return rc;
	while ((rc = okof_get_read(r, &p, &n)) > 0) {
		char *b = realloc(*out, *len + n + 1);
		ck_assert_ptr_nonnull(b);
		memcpy(b + *len, p, n);
		*out = b;
		*len += n;
	}
	okof_get_close(r);
	return rc;
}

/*
 * Every public function with each argument it must refuse: the
 * documented code, never a crash (Check runs each test in a child, so
 * a crash fails it).
 */
START_TEST(bad_arguments)
{
	struct okof_put_opts neg = {.expires = -1};
	struct okof_settings bad_enc = {.encrypt = 2};
	struct okof_settings st = {.compress_threshold = 7};
	struct okof_info info = {.size = 99};
	struct okof_keys keys = {0};
	okof_store *h = (okof_store *)&h; /* must be reset */
	okof_reader *r = (okof_reader *)&r;
	okof_import *im = (okof_import *)&im;
	const void *p;
	size_t n;
	int64_t v, e;
	unsigned char sec[OKOF_SECRET_BYTES];
	const char *why;
	char big[OKOF_KEY_MAX + 1];

	memset(big, 'k', sizeof big);
	/* okof_open */
	ck_assert_int_eq(okof_open(NULL, dir, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(okof_open(&h, NULL, 0, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(okof_open(&h, dir, 0x4, NULL, NULL), -EINVAL);
	ck_assert_int_eq(okof_open(&h, dir, -1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(okof_open(&h, dir, OKOF_CREATE, &bad_enc, NULL),
			 -EINVAL);
	ck_assert_ptr_null(h);
	/* handles */
	okof_close(NULL);
	ck_assert_int_eq(okof_encrypted(NULL), -EINVAL);
	okof_get_settings(NULL, &st);
	ck_assert_uint_eq(st.compress_threshold, 0);
	okof_get_settings(s, NULL);
	ck_assert_str_eq(okof_errpath(NULL), "");
	ck_assert_str_eq(okof_errdetail(NULL), "");
	ck_assert_str_ne(okof_strerror(12345), "");
	ck_assert_ptr_nonnull(okof_strerror(INT32_MIN));
	/* Static text even for an errno the C library does not know (its
	 * strerror() text for one lives in a buffer the next call frees). */
	const char *unknown = okof_strerror(-99999);
	ck_assert_ptr_nonnull(okof_strerror(-99998));
	ck_assert_str_eq(unknown, "unknown error");
	ck_assert_str_eq(okof_strerror(-ENOENT), strerror(ENOENT));
	/* keys */
	ck_assert_int_eq(okof_check_key(NULL, 1), -EINVAL);
	ck_assert_int_eq(okof_check_key(NULL, 0), OKOF_EBADKEY);
	ck_assert_int_eq(okof_check_key("k", 0), OKOF_EBADKEY);
	ck_assert_int_eq(okof_check_key("a\0b", 3), OKOF_EBADKEY);
	ck_assert_int_eq(okof_check_key(big, OKOF_KEY_MAX + 1), OKOF_EBADKEY);
	ck_assert_int_eq(okof_check_key(big, OKOF_KEY_MAX), 0);
	/* put */
	ck_assert_int_eq(okof_put(NULL, "k", 1, "v", 1, NULL), -EINVAL);
	ck_assert_int_eq(okof_put(s, NULL, 1, "v", 1, NULL), -EINVAL);
	ck_assert_int_eq(okof_put(s, "k", 0, "v", 1, NULL), OKOF_EBADKEY);
	ck_assert_int_eq(okof_put(s, big, sizeof big, "v", 1, NULL),
			 OKOF_EBADKEY);
	ck_assert_int_eq(okof_put(s, "k", 1, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(okof_put(s, "k", 1, "v", 1, &neg), -EINVAL);
	ck_assert_int_eq(okof_put_fd(NULL, "k", 1, 0, NULL), -EINVAL);
	ck_assert_int_eq(okof_put_fd(s, "k", 1, -1, NULL), -EBADF);
	ck_assert_int_eq(okof_put_fd(s, "k", 1, 1000, NULL), -EBADF);
	ck_assert_int_eq(okof_put_fd(s, "a\0", 2, 0, NULL), OKOF_EBADKEY);
	/* nothing above wrote anything */
	ck_assert_int_eq(okof_has(s, "k", 1), 0);
	ck_assert_int_eq(okof_put(s, "k", 1, NULL, 0, NULL), 0); /* empty */
	ck_assert_int_eq(okof_has(s, "k", 1), 1);
	/* get */
	ck_assert_int_eq(okof_get_open(NULL, "k", 1, &r), -EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(okof_get_open(s, "k", 1, NULL), -EINVAL);
	ck_assert_int_eq(okof_get_open(s, NULL, 1, &r), -EINVAL);
	ck_assert_int_eq(okof_get_read(NULL, &p, &n), -EINVAL);
	ck_assert_int_eq(okof_get_rewind(NULL), -EINVAL);
	okof_get_info(NULL, &info);
	ck_assert_uint_eq(info.size, 0);
	okof_get_close(NULL);
	ck_assert_int_eq(okof_get_open(s, "k", 1, &r), 0);
	ck_assert_int_eq(okof_get_read(r, NULL, &n), -EINVAL);
	ck_assert_int_eq(okof_get_read(r, &p, NULL), -EINVAL);
	okof_get_info(r, NULL);
	ck_assert_int_eq(okof_get_read(r, &p, &n), 0);
	okof_get_close(r);
	ck_assert_int_eq(okof_stat(NULL, "k", 1, &info), -EINVAL);
	ck_assert_int_eq(okof_stat(s, "k", 1, NULL), -EINVAL);
	ck_assert_int_eq(okof_stat(s, "", 0, &info), OKOF_EBADKEY);
	ck_assert_int_eq(okof_has(NULL, "k", 1), -EINVAL);
	ck_assert_int_eq(okof_has(s, NULL, 0), OKOF_EBADKEY);
	/* del, incr */
	ck_assert_int_eq(okof_del(NULL, "k", 1, 0), -EINVAL);
	ck_assert_int_eq(okof_del(s, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(okof_incr(NULL, "n", 1, 1, 0, &v), -EINVAL);
	ck_assert_int_eq(okof_incr(s, "", 0, 1, 0, &v), OKOF_EBADKEY);
	ck_assert_int_eq(okof_incr(s, "n", 1, 5, 1, NULL), 0);
	ck_assert_int_eq(okof_incr(s, "n", 1, 1, 1, &v), 0);
	ck_assert_int_eq(v, 6);
	/* list */
	ck_assert_int_eq(okof_list(NULL, "", 0, &keys), -EINVAL);
	ck_assert_int_eq(okof_list(s, "", 0, NULL), -EINVAL);
	ck_assert_int_eq(okof_list(s, NULL, 3, &keys), -EINVAL);
	ck_assert_uint_eq(keys.n, 0);
	ck_assert_int_eq(okof_list(s, NULL, 0, &keys), 0);
	ck_assert_uint_eq(keys.n, 2);
	okof_keys_free(&keys);
	okof_keys_free(NULL);
	/* import */
	ck_assert_int_eq(okof_import_begin(NULL, &im), -EINVAL);
	ck_assert_ptr_null(im);
	ck_assert_int_eq(okof_import_begin(s, NULL), -EINVAL);
	ck_assert_int_eq(okof_import_add(NULL, "k", 1, "v", 1, 0), -EINVAL);
	ck_assert_int_eq(okof_import_commit(NULL), -EINVAL);
	okof_import_abort(NULL);
	ck_assert_int_eq(okof_import_begin(s, &im), 0);
	ck_assert_int_eq(okof_import_add(im, NULL, 1, "v", 1, 0), -EINVAL);
	ck_assert_int_eq(okof_import_add(im, "i", 1, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(okof_import_add(im, "i", 1, "v", 1, -5), -EINVAL);
	ck_assert_int_eq(okof_import_add(im, "i", 1, "v", 1, 0), 0);
	ck_assert_int_eq(okof_import_commit(im), 0);
	ck_assert_int_eq(okof_has(s, "i", 1), 1);
	/* verify, gc, backup */
	int items = 0;
	ck_assert_int_eq(okof_verify(NULL, count_item, &items), -EINVAL);
	ck_assert_int_eq(okof_gc(NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(okof_verify(s, NULL, NULL), 0);
	ck_assert_int_eq(okof_verify(s, count_item, &items), 0);
	ck_assert_int_eq(items, 3);
	ck_assert_int_eq(okof_gc(s, NULL, NULL), 0);
	ck_assert_int_eq(okof_backup(NULL, "/nonexistent", NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(okof_backup(s, NULL, NULL, NULL), -EINVAL);
	/* secrets, TTL */
	ck_assert_int_eq(okof_keygen(NULL), -EINVAL);
	ck_assert_int_eq(okof_keygen(""), -EINVAL);
	ck_assert_int_eq(okof_load_secret(NULL, sec, &why), -EINVAL);
	ck_assert_int_eq(okof_load_secret("x", NULL, &why), -EINVAL);
	ck_assert_int_eq(okof_expires_in(-1, &e), -EINVAL);
	ck_assert_int_eq(okof_expires_in(1, NULL), -EINVAL);
	ck_assert_int_eq(okof_expires_in(INT64_MAX, &e), OKOF_EOVERFLOW);
	okof_signal_cleanup(); /* no put in progress: nothing */
	ck_assert_int_eq(okof_has(s, "k", 1), 1);
}
END_TEST

/* The first call into the library of a process (check runs each test
 * in a child of its own): okof_keygen() must not need an okof_open(). */
START_TEST(keygen_first)
{
	char *tmp = make_tmpdir(), path[4096];
	unsigned char sec[OKOF_SECRET_BYTES];
	const char *why;

	snprintf(path, sizeof path, "%s/keys/first.key", tmp);
	ck_assert_int_eq(okof_keygen(path), 0);
	ck_assert_int_eq(okof_load_secret(path, sec, &why), 0);
	remove_tree(tmp);
	free(tmp);
}
END_TEST

START_TEST(has_and_expires_in)
{
	struct okof_put_opts po = {0};
	struct okof_info info;
	int64_t e;
	time_t before = time(NULL);

	ck_assert_int_eq(okof_expires_in(100, &e), 0);
	time_t after = time(NULL);
	/* now + 100, rounded up: at least the whole TTL. */
	ck_assert_int_ge(e, (int64_t)before + 100);
	ck_assert_int_le(e, (int64_t)after + 101);
	ck_assert_int_eq(okof_expires_in(0, &e), 0);
	ck_assert_int_ge(e, (int64_t)before);

	ck_assert_int_eq(okof_has(s, "a", 1), 0);
	ck_assert_int_eq(okof_expires_in(100, &po.expires), 0);
	ck_assert_int_eq(okof_put(s, "a", 1, "x", 1, &po), 0);
	ck_assert_int_eq(okof_has(s, "a", 1), 1);
	ck_assert_int_eq(okof_stat(s, "a", 1, &info), 0);
	ck_assert_int_eq(info.expires, po.expires);
	po.expires = (int64_t)time(NULL) - 1; /* already expired */
	ck_assert_int_eq(okof_put(s, "b", 1, "x", 1, &po), 0);
	ck_assert_int_eq(okof_has(s, "b", 1), 0);
	ck_assert_int_eq(okof_has(s, "c", 1), 0);
}
END_TEST

START_TEST(load_secret)
{
	unsigned char sec[OKOF_SECRET_BYTES], sec2[OKOF_SECRET_BYTES];
	char path[4096], path2[4096];
	const char *why = "unset";
	okof_store *h;
	int fd;

	snprintf(path, sizeof path, "%s/keys/k", dir);
	ck_assert_int_eq(okof_load_secret(path, sec, &why), -ENOENT);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(okof_keygen(path), 0);
	ck_assert_int_eq(okof_keygen(path), -EEXIST);
	ck_assert_int_eq(okof_load_secret(path, sec, &why), 0);
	ck_assert_ptr_null(why);
	/* the bytes of the file, exactly */
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, sec2, sizeof sec2), sizeof sec2);
	close(fd);
	ck_assert_mem_eq(sec, sec2, sizeof sec);
	/* and they open the store they made */
	snprintf(path2, sizeof path2, "%s/enc", dir);
	ck_assert_int_eq(okof_open(&h, path2, OKOF_CREATE, NULL, sec), 0);
	ck_assert_int_eq(okof_encrypted(h), 1);
	okof_close(h);
	ck_assert_int_eq(okof_open(&h, path2, 0, NULL, NULL),
			 OKOF_ENEEDSECRET);
	/* An encrypted store asked for without a secret: nothing made. */
	struct okof_settings enc = {.encrypt = 1};
	snprintf(path2, sizeof path2, "%s/enc-nosecret/s", dir);
	ck_assert_int_eq(okof_open(&h, path2, OKOF_CREATE, &enc, NULL),
			 OKOF_ENEEDSECRET);
	snprintf(path2, sizeof path2, "%s/enc-nosecret", dir);
	ck_assert_int_eq(access(path2, F_OK), -1);
	snprintf(path2, sizeof path2, "%s/enc", dir);
	ck_assert_int_eq(okof_load_secret(path, sec, NULL), 0);
	ck_assert_int_eq(okof_open(&h, path2, 0, NULL, sec), 0);
	okof_close(h);

	/* readable by others */
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(okof_load_secret(path, sec, &why), OKOF_EKEYFILE);
	ck_assert_ptr_nonnull(strstr(why, "readable"));
	/* and the secret is not left half-loaded */
	memset(sec2, 0, sizeof sec2);
	ck_assert_mem_eq(sec, sec2, sizeof sec);
	ck_assert_int_eq(chmod(path, 0600), 0);
	/* wrong size */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	ck_assert_int_eq(okof_load_secret(path, sec, &why), OKOF_EKEYFILE);
	ck_assert_ptr_nonnull(strstr(why, "wrong size"));
	/* not a regular file */
	ck_assert_int_eq(okof_load_secret(dir, sec, &why), OKOF_EKEYFILE);
	ck_assert_str_eq(why, "not a regular file");
	snprintf(path2, sizeof path2, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path2, 0600), 0);
	ck_assert_int_eq(okof_load_secret(path2, sec, &why), OKOF_EKEYFILE);
	ck_assert_str_eq(why, "not a regular file");
}
END_TEST

/*
 * Threads, each with its own handle on one store: a shared counter
 * incremented by random deltas that each thread sums itself (the model),
 * a counter of its own, and values it writes and reads back.  The
 * totals must be exact.
 */
#define NTHREADS 8
#define ROUNDS 150

struct worker {
	int id;
	int64_t sum; /* what it added to "shared" */
	int err;     /* first failure, or 0 */
	int line;
};

#define W_CHECK(w, cond)                                                    \
	do {                                                                \
		if (!(cond) && !(w)->err) {                                 \
			(w)->err = 1;                                       \
			(w)->line = __LINE__;                               \
		}                                                           \
	} while (0)

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct okof_put_opts po = {.no_sync = 1};
	unsigned x = (unsigned)w->id * 7919u + 17u;
	okof_store *h;
	char key[32], val[64];
	int64_t v;

	if (okof_open(&h, dir, 0, NULL, NULL) != 0) {
		w->err = 1;
		w->line = __LINE__;
		return NULL;
	}
	for (int i = 0; i < ROUNDS && !w->err; i++) {
		x = x * 1103515245u + 12345u;
		int64_t d = (int64_t)((x >> 8) % 2001) - 1000;
		W_CHECK(w, okof_incr(h, "shared", 6, d, 1, &v) == 0);
		w->sum += d;
		int kl = snprintf(key, sizeof key, "own-%d", w->id);
		/* every tenth durable */
		W_CHECK(w, okof_incr(h, key, (size_t)kl, 1, i % 10 != 0, &v) ==
				   0);
		W_CHECK(w, v == i + 1);
		kl = snprintf(key, sizeof key, "t%d-%d", w->id, i % 16);
		int vl = snprintf(val, sizeof val, "value %d of %d %u", i,
				  w->id, x);
		W_CHECK(w, okof_put(h, key, (size_t)kl, val, (size_t)vl,
				    &po) == 0);
		okof_reader *r;
		const void *p;
		size_t n;
		W_CHECK(w, okof_get_open(h, key, (size_t)kl, &r) == 0);
		if (w->err)
			break;
		W_CHECK(w, okof_get_read(r, &p, &n) == 1);
		W_CHECK(w, !w->err && n == (size_t)vl && memcmp(p, val, n) == 0);
		W_CHECK(w, okof_get_read(r, &p, &n) == 0);
		okof_get_close(r);
	}
	okof_close(h);
	return NULL;
}

START_TEST(threads_own_handles)
{
	pthread_t tid[NTHREADS];
	struct worker w[NTHREADS];
	int64_t total = 0, v;

	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){.id = i};
		ck_assert_int_eq(pthread_create(&tid[i], NULL, worker_run,
						&w[i]),
				 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], NULL);
		ck_assert_msg(w[i].err == 0, "thread %d failed at line %d", i,
			      w[i].line);
		total += w[i].sum;
	}
	ck_assert_int_eq(okof_incr(s, "shared", 6, 0, 1, &v), 0);
	ck_assert_int_eq(v, total);
	for (int i = 0; i < NTHREADS; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "own-%d", i);
		ck_assert_int_eq(okof_incr(s, key, (size_t)kl, 0, 1, &v), 0);
		ck_assert_int_eq(v, ROUNDS);
	}
	/* the last value each thread wrote under each key */
	struct okof_keys keys;
	ck_assert_int_eq(okof_list(s, "t", 1, &keys), 0);
	ck_assert_uint_eq(keys.n, NTHREADS * 16);
	okof_keys_free(&keys);
	int items = 0;
	ck_assert_int_eq(okof_verify(s, count_item, &items), 0);
	ck_assert_int_eq(items, 1 + NTHREADS + NTHREADS * 16);
}
END_TEST

/*
 * fork: the child uses the parent's handle (open before the fork) while
 * the parent goes on using its own copy; on an encrypted store, whose
 * subkeys live in sodium_malloc'd memory.
 */
static void
fork_with(const unsigned char *secret)
{
	char sub[4096], *val;
	okof_store *h;
	size_t len;
	int64_t v;
	int st;

	snprintf(sub, sizeof sub, "%s/f%d", dir, secret != NULL);
	ck_assert_int_eq(okof_open(&h, sub, OKOF_CREATE, NULL, secret), 0);
	ck_assert_int_eq(okof_put(h, "before", 6, "b", 1, NULL), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int bad = 0;
		bad |= get_all(h, "before", &val, &len) != 0 || len != 1 ||
		       val[0] != 'b';
		free(val);
		bad |= okof_put(h, "child", 5, "c", 1, NULL) != 0;
		for (int i = 0; i < 100; i++)
			bad |= okof_incr(h, "n", 1, 1, 1, NULL) != 0;
		okof_close(h);
		_exit(bad);
	}
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(okof_incr(h, "n", 1, 1, 1, NULL), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child failed: status %d", st);
	ck_assert_int_eq(get_all(h, "child", &val, &len), 0);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(val[0], 'c');
	free(val);
	ck_assert_int_eq(okof_incr(h, "n", 1, 0, 1, &v), 0);
	ck_assert_int_eq(v, 200);
	okof_close(h);
}

START_TEST(handle_after_fork)
{
	unsigned char secret[OKOF_SECRET_BYTES];

	fork_with(NULL);
	memset(secret, 0x5a, sizeof secret);
	fork_with(secret);
}
END_TEST

/*
 * Reads keep what they can (tests/bench/libbench.c): a bucket read twice
 * running stays open, the last short key's name is remembered, and a
 * record's size is learned from its reads.  None of it may serve an old
 * value, follow a link, take more than four descriptors, or get a size
 * wrong.
 */
static int
open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/* The one record file of a store that holds one key. */
static void
only_record(const char *store, char *path, size_t size)
{
	char sub[300];
	struct dirent *e;

	for (int b = 0; b < 256; b++) {
		ck_assert_int_lt(snprintf(sub, sizeof sub, "%s/%02x", store, b),
				 (int)sizeof sub);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		while ((e = readdir(d)) != NULL && e->d_name[0] == '.')
			;
		ck_assert_ptr_nonnull(e);
		ck_assert_int_lt(snprintf(path, size, "%s/%s", sub, e->d_name),
				 (int)size);
		closedir(d);
		return;
	}
	ck_abort_msg("no record in %s", store);
}

static void
expect_value(okof_store *h, const char *key, const char *want, size_t wlen)
{
	char *got;
	size_t n;

	ck_assert_int_eq(get_all(h, key, &got, &n), 0);
	ck_assert_uint_eq(n, wlen);
	ck_assert(wlen == 0 || memcmp(got, want, wlen) == 0);
	free(got);
}

START_TEST(reads_kept_open)
{
	static const struct okof_put_opts fast = {.no_sync = 1};
	enum { N = 300 };
	char key[16], val[64], *got;
	size_t n;
	okof_store *h2;
	int base = open_fds();

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "k%d", i);
		snprintf(val, sizeof val, "value %d %.*s", i, i % 40,
			 "........................................");
		ck_assert_int_eq(okof_put(s, key, strlen(key), val,
					  strlen(val), &fast), 0);
	}
	/* every key read twice running, forwards then backwards: buckets
	 * come and go in the four slots */
	for (int pass = 0; pass < 2; pass++) {
		for (int j = 0; j < N; j++) {
			int i = pass ? N - 1 - j : j;
			snprintf(key, sizeof key, "k%d", i);
			snprintf(val, sizeof val, "value %d %.*s", i, i % 40,
				 "........................................");
			expect_value(s, key, val, strlen(val));
			expect_value(s, key, val, strlen(val));
			ck_assert_int_le(open_fds(), base + 4);
		}
	}
	ck_assert_int_ge(open_fds(), base + 1); /* some bucket is kept */

	/* another handle changes what this one keeps reading */
	ck_assert_int_eq(okof_open(&h2, dir, 0, NULL, NULL), 0);
	for (int round = 0; round < 3; round++) {
		snprintf(val, sizeof val, "round %d", round);
		ck_assert_int_eq(okof_put(h2, "k0", 2, val, strlen(val),
					  &fast), 0);
		expect_value(s, "k0", val, strlen(val));
		expect_value(s, "k0", val, strlen(val));
	}
	ck_assert_int_eq(okof_del(h2, "k0", 2, 0), 0);
	ck_assert_int_eq(get_all(s, "k0", &got, &n), OKOF_ENOTFOUND);
	okof_close(h2);

	/* a record replaced under a bucket that is kept open: a symlink is
	 * not followed, a FIFO does not hang, a directory is no value */
	char sub[300], rec[300], outside[300];
	okof_store *h;
	snprintf(sub, sizeof sub, "%s/one", dir);
	ck_assert_int_eq(okof_open(&h, sub, OKOF_CREATE, NULL, NULL), 0);
	ck_assert_int_eq(okof_put(h, "x", 1, "secret?", 7, &fast), 0);
	expect_value(h, "x", "secret?", 7);
	expect_value(h, "x", "secret?", 7);
	only_record(sub, rec, sizeof rec);
	snprintf(outside, sizeof outside, "%s/outside", dir);
	ck_assert_int_eq(rename(rec, outside), 0);
	ck_assert_int_eq(symlink(outside, rec), 0);
	ck_assert_int_eq(get_all(h, "x", &got, &n), OKOF_ENOTFILE);
	ck_assert_int_eq(unlink(rec), 0);
	ck_assert_int_eq(mkfifo(rec, 0600), 0);
	ck_assert_int_eq(get_all(h, "x", &got, &n), OKOF_ENOTFILE);
	ck_assert_int_eq(unlink(rec), 0);
	ck_assert_int_eq(mkdir(rec, 0700), 0);
	ck_assert_int_eq(get_all(h, "x", &got, &n), OKOF_ENOTFILE);
	ck_assert_int_eq(rmdir(rec), 0);
	ck_assert_int_eq(rename(outside, rec), 0);
	expect_value(h, "x", "secret?", 7);
	okof_close(h);

	okof_close(s);
	s = NULL;
	ck_assert_int_eq(open_fds(), base - 1); /* the handle's own, too */
}
END_TEST

/*
 * Record sizes on both sides of the reader's first read (512 bytes) and
 * of its largest header (a 4096-byte key), plain, sealed and
 * compressed: each value read back (twice: the second from a kept
 * bucket and name) is the one put, byte for byte.
 */
static void
sizes_in(okof_store *h, const char *key, size_t klen, size_t from, size_t to,
	 int text)
{
	static const struct okof_put_opts fast = {.no_sync = 1};
	unsigned char *val = malloc(to + 1);
	char *got;
	size_t n;

	ck_assert_ptr_nonnull(val);
	for (size_t len = from; len <= to; len++) {
		fill_data(val, len, text, (unsigned)len);
		ck_assert_int_eq(okof_put(h, key, klen, val, len, &fast), 0);
		for (int twice = 0; twice < 2; twice++) {
			okof_reader *r;
			const void *p;
			size_t piece;
			int rc;
			got = NULL;
			n = 0;
			ck_assert_int_eq(okof_get_open(h, key, klen, &r), 0);
			while ((rc = okof_get_read(r, &p, &piece)) > 0) {
				char *b = realloc(got, n + piece + 1);
				ck_assert_ptr_nonnull(b);
				memcpy(b + n, p, piece);
				got = b;
				n += piece;
			}
			okof_get_close(r);
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(n, len);
			ck_assert(len == 0 || memcmp(got, val, len) == 0);
			free(got);
		}
	}
	free(val);
}

START_TEST(sizes_around_first_read)
{
	static const struct okof_settings small_chunks = {
		.compress_threshold = 64};
	unsigned char secret[OKOF_SECRET_BYTES];
	char sub[4200], *longkey = malloc(OKOF_KEY_MAX);
	okof_store *h[3];

	ck_assert_ptr_nonnull(longkey);
	memset(longkey, 'L', OKOF_KEY_MAX);
	memset(secret, 0x33, sizeof secret);
	h[0] = s;
	snprintf(sub, sizeof sub, "%s/sealed", dir);
	ck_assert_int_eq(okof_open(&h[1], sub, OKOF_CREATE, NULL, secret), 0);
	snprintf(sub, sizeof sub, "%s/packed", dir);
	ck_assert_int_eq(okof_open(&h[2], sub, OKOF_CREATE, &small_chunks,
				   NULL),
			 0);
	for (int i = 0; i < 3; i++) {
		/* a 1-byte key: a file of 101 + len bytes (plain) */
		sizes_in(h[i], "k", 1, 0, 700, i == 2);
		sizes_in(h[i], "a key of some length", 20, 330, 520, i == 2);
		/* the longest key: the header alone is 4180 bytes */
		sizes_in(h[i], longkey, OKOF_KEY_MAX, 0, 48, i == 2);
	}
	okof_close(h[1]);
	okof_close(h[2]);
	free(longkey);
}
END_TEST

/*
 * A value streamed in from a pipe and out through okof_get_read(), much
 * larger than any buffer the library keeps: compared byte for byte with
 * the generator, in constant memory (peak RSS barely grows).
 */
static uint64_t stream_size;

/* Byte at offset x: stretches of text (compressible) and noise. */
static void
gen(uint64_t off, unsigned char *buf, size_t n)
{
	static const char text[] = "okof streams values in constant memory\n";

	for (size_t i = 0; i < n; i++) {
		uint64_t x = off + i;
		if ((x / 300007) % 2 == 0)
			buf[i] = (unsigned char)text[x % (sizeof text - 1)];
		else
			buf[i] = (unsigned char)((x * 0x9E3779B97F4A7C15u) >>
						 56);
	}
}

static void *
feeder(void *arg)
{
	int fd = *(int *)arg;
	static unsigned char buf[200000];
	uint64_t off = 0;
	size_t step = 1;

	while (off < stream_size) {
		/* irregular writes: the library must not care */
		step = (step * 7919 + 1) % sizeof buf + 1;
		size_t n = step;
		if (n > stream_size - off)
			n = (size_t)(stream_size - off);
		gen(off, buf, n);
		for (size_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, n - done);
			if (w < 0) {
				close(fd);
				return (void *)1;
			}
			done += (size_t)w;
		}
		off += n;
	}
	close(fd);
	return NULL;
}

static long
maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

START_TEST(stream_through_pipe)
{
	struct okof_put_opts po = {.no_sync = 1};
	static unsigned char want[OKOF_CHUNK_SIZE * 2];
	struct okof_info info;
	okof_reader *r;
	pthread_t tid;
	const void *p;
	size_t n;
	void *fed;
	int pfd[2];

	stream_size = UNDER_ASAN ? 48u << 20 : 200u << 20;
	/* warm up the library's own allocations before the baseline */
	ck_assert_int_eq(okof_put(s, "warm", 4, want, sizeof want, &po), 0);
	long base = maxrss_kb();

	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(pthread_create(&tid, NULL, feeder, &pfd[1]), 0);
	ck_assert_int_eq(okof_put_fd(s, "big", 3, pfd[0], &po), 0);
	close(pfd[0]);
	pthread_join(tid, &fed);
	ck_assert_ptr_null(fed);

	ck_assert_int_eq(okof_get_open(s, "big", 3, &r), 0);
	okof_get_info(r, &info);
	ck_assert_uint_eq(info.size, stream_size);
	ck_assert_int_eq(info.compressed, 1);
	uint64_t off = 0;
	int rc;
	while ((rc = okof_get_read(r, &p, &n)) > 0) {
		ck_assert_uint_le(n, sizeof want);
		ck_assert_uint_le(off + n, stream_size);
		gen(off, want, n);
		ck_assert_msg(memcmp(p, want, n) == 0,
			      "bytes differ in %zu at %" PRIu64, n, off);
		off += n;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(off, stream_size);
	okof_get_close(r);
	long grew = maxrss_kb() - base;
	printf("stream: %" PRIu64 " MiB in and out, peak RSS grew %ld KiB\n",
	       stream_size >> 20, grew);
	/* ASan's quarantine keeps freed blocks and valgrind's own heap
	 * counts in our RSS: only a plain run says what the library holds. */
	if (!UNDER_ASAN && !under_valgrind())
		ck_assert_int_lt(grew, 8 * 1024);
}
END_TEST

Suite *
api_suite(void)
{
	Suite *su = suite_create("api");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, has_and_expires_in);
	tcase_add_test(tc, load_secret);
	tcase_add_test(tc, threads_own_handles);
	tcase_add_test(tc, handle_after_fork);
	tcase_add_test(tc, stream_through_pipe);
	tcase_add_test(tc, reads_kept_open);
	tcase_add_test(tc, sizes_around_first_read);
	suite_add_tcase(su, tc);
	/* No fixture: no okof_open() before the test. */
	TCase *first = tcase_create("first call");
	tcase_add_test(first, keygen_first);
	suite_add_tcase(su, first);
	return su;
}
