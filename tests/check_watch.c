/*
 * check_watch.c - okof_watch_*: reports against a model of the store.
 *
 * inotify queues an event inside the system call that causes it, so
 * after okof_put() returns, okof_watch_next(w, 0, ...) already has it:
 * the tests drain the watch at chosen moments and compare the state the
 * reports describe with the state okof_stat() finds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include "check_okof.h"
#include "okof.h"

#define NKEYS 24

static char *dir;
static okof_store *s;

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

static void
key_of(int i, char *buf, size_t n)
{
	snprintf(buf, n, "r.%d", i);
}

static int
key_index(const struct okof_watch_event *ev)
{
	char k[32];

	for (int i = 0; i < NKEYS; i++) {
		key_of(i, k, sizeof k);
		if (ev->klen == strlen(k) && memcmp(ev->key, k, ev->klen) == 0)
			return i;
	}
	return -1;
}

/* Next event within ms, which must come: its kind; key checked. */
static int
expect_event(okof_watch *w, int ms, const char *key)
{
	struct okof_watch_event ev;
	int rc = okof_watch_next(w, ms, &ev);

	ck_assert_int_eq(rc, 1);
	ck_assert_uint_eq(ev.klen, strlen(key));
	ck_assert(memcmp(ev.key, key, ev.klen) == 0);
	return ev.kind;
}

START_TEST(put_del_in_order)
{
	const char *keys[] = {"a", "b"};
	size_t lens[] = {1, 1};
	struct okof_watch_opts o = {.keys = keys, .klens = lens, .nkeys = 2};
	struct okof_watch_event ev;
	okof_watch *w;

	ck_assert_int_eq(okof_put(s, "a", 1, "old", 3, NULL), 0);
	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), 0);
	ck_assert_int_ge(okof_watch_fd(w), 0);
	ck_assert_int_eq(okof_watch_polling(w), 0);
	/* What existed at the start is not news. */
	ck_assert_int_eq(okof_watch_next(w, 0, &ev), 0);
	ck_assert_int_eq(okof_put(s, "c", 1, "x", 1, NULL), 0);
	ck_assert_int_eq(okof_put(s, "b", 1, "x", 1, NULL), 0);
	ck_assert_int_eq(expect_event(w, 1000, "b"), OKOF_WATCH_PUT);
	ck_assert_int_eq(okof_del(s, "b", 1, 0), 0);
	ck_assert_int_eq(expect_event(w, 1000, "b"), OKOF_WATCH_DEL);
	/* The same bytes again are a new record: a change. */
	ck_assert_int_eq(okof_put(s, "a", 1, "old", 3, NULL), 0);
	ck_assert_int_eq(expect_event(w, 1000, "a"), OKOF_WATCH_PUT);
	/* Ten puts before a look: one report. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(okof_put(s, "a", 1, "v", 1, NULL), 0);
	ck_assert_int_eq(expect_event(w, 1000, "a"), OKOF_WATCH_PUT);
	ck_assert_int_eq(okof_watch_next(w, 50, &ev), 0);
	/* A put and a del before a look: the key changed, and is gone. */
	ck_assert_int_eq(okof_put(s, "b", 1, "x", 1, NULL), 0);
	ck_assert_int_eq(okof_del(s, "b", 1, 0), 0);
	ck_assert_int_eq(expect_event(w, 1000, "b"), OKOF_WATCH_DEL);
	ck_assert_int_eq(okof_watch_next(w, 0, &ev), 0);
	okof_watch_close(w);
}
END_TEST

START_TEST(bad_arguments)
{
	const char *keys[] = {""};
	size_t lens[] = {0};
	struct okof_watch_opts o = {.keys = keys, .klens = lens, .nkeys = 1};
	okof_watch *w = (okof_watch *)1;

	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), OKOF_EBADKEY);
	ck_assert_ptr_null(w);
	o.nkeys = 0;
	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), -EINVAL);
	/* An empty prefix is every key. */
	o.nkeys = 1;
	o.flags = OKOF_WATCH_PREFIX;
	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), 0);
	/* NULL where a pointer is needed, unknown flags: -EINVAL. */
	struct okof_watch_event ev;
	ck_assert_int_eq(okof_watch_next(NULL, 0, &ev), -EINVAL);
	ck_assert_int_eq(okof_watch_next(w, 0, NULL), -EINVAL);
	ck_assert_int_eq(okof_watch_fd(NULL), -EINVAL);
	ck_assert_int_eq(okof_watch_timeout(NULL), -EINVAL);
	ck_assert_int_eq(okof_watch_polling(NULL), -EINVAL);
	ck_assert_ptr_null(okof_watch_store(NULL));
	okof_watch_close(w);
	okof_watch_close(NULL);
	ck_assert_int_eq(okof_watch_open(NULL, dir, NULL, &o), -EINVAL);
	ck_assert_int_eq(okof_watch_open(&w, NULL, NULL, &o), -EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, NULL), -EINVAL);
	o.klens = NULL;
	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), -EINVAL);
	o.klens = lens;
	o.flags = 0x100;
	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), -EINVAL);
	o.flags = OKOF_WATCH_PREFIX;
	o.interval_ms = -5;
	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), -EINVAL);
	o.interval_ms = 0;
	const char *nokey[] = {NULL};
	size_t one[] = {1};
	o.keys = nokey;
	o.klens = one;
	o.flags = 0;
	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), -EINVAL);
	ck_assert_ptr_null(w);
}
END_TEST

/*
 * Random puts and deletes of NKEYS keys, with the watch drained at
 * random moments.  Every report must be of a key that changed since
 * its last report, every put must be reported, and after a drain the
 * reports must describe the store exactly.
 */
static void
random_run(int flags, unsigned seed)
{
	const char *prefix[] = {"r."};
	size_t plen[] = {2};
	struct okof_watch_opts o = {.keys = prefix,
				    .klens = plen,
				    .nkeys = 1,
				    .flags = OKOF_WATCH_PREFIX | flags,
				    .interval_ms = 10};
	int truth[NKEYS] = {0}, seen[NKEYS] = {0}, changed[NKEYS] = {0};
	struct okof_watch_event ev;
	okof_watch *w;
	char k[32];
	unsigned x = seed;
	int steps = (flags & OKOF_WATCH_POLL) ? 150 : 400;

	ck_assert_int_eq(okof_watch_open(&w, dir, NULL, &o), 0);
	for (int step = 0; step < steps; step++) {
		x = x * 1103515245u + 12345u;
		int i = (int)((x >> 16) % NKEYS);
		key_of(i, k, sizeof k);
		if ((x >> 8) % 3 == 0) {
			int rc = okof_del(s, k, strlen(k), 1);
			ck_assert(rc == 0 || rc == OKOF_ENOTFOUND);
			changed[i] |= rc == 0;
			truth[i] = 0;
		} else {
			ck_assert_int_eq(okof_put(s, k, strlen(k), "v", 1,
						  &(struct okof_put_opts){
							  .no_sync = 1}),
					 0);
			changed[i] = 1;
			truth[i] = 1;
		}
		if ((x >> 4) % 5 != 0 && step != steps - 1)
			continue;
		/* Drain: polling needs a poll to pass, twice to be sure. */
		int quiet = 0;
		while (quiet < ((flags & OKOF_WATCH_POLL) ? 2 : 1)) {
			int rc = okof_watch_next(w, (flags & OKOF_WATCH_POLL)
							    ? 25 : 0, &ev);
			ck_assert_int_ge(rc, 0);
			if (rc == 0) {
				quiet++;
				continue;
			}
			int j = key_index(&ev);
			ck_assert_int_ge(j, 0);
			ck_assert_msg(changed[j], "report of unchanged r.%d",
				      j);
			changed[j] = 0;
			seen[j] = ev.kind == OKOF_WATCH_PUT;
		}
		for (int j = 0; j < NKEYS; j++) {
			ck_assert_msg(seen[j] == truth[j],
				      "r.%d: reported %d, is %d (step %d)", j,
				      seen[j], truth[j], step);
			/* A put since the last report must be reported;
			 * a put and a del may leave no trace (a prefix
			 * watch never learns that record's key). */
			ck_assert_msg(!changed[j] || !truth[j],
				      "r.%d: put not reported (step %d)", j,
				      step);
			changed[j] = 0;
		}
	}
	okof_watch_close(w);
}

START_TEST(random_inotify)
{
	random_run(0, 1234u + (unsigned)_i);
}
END_TEST

START_TEST(random_poll)
{
	random_run(OKOF_WATCH_POLL, 99u + (unsigned)_i);
}
END_TEST

#ifdef __linux__
/*
 * check_okof is linked with --wrap=inotify_add_watch: a watch of
 * race_dir that fails because it does not exist makes it, as another
 * process's mkdir between that watch and the watch of its parent
 * would.
 */
int __real_inotify_add_watch(int fd, const char *path, uint32_t mask);
int __wrap_inotify_add_watch(int fd, const char *path, uint32_t mask);
#endif
static const char *race_dir;

#ifdef __linux__
int
__wrap_inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	int wd = __real_inotify_add_watch(fd, path, mask);

	if (wd < 0 && errno == ENOENT && race_dir &&
	    strcmp(path, race_dir) == 0) {
		race_dir = NULL;
		ck_assert_int_eq(mkdir(path, 0700), 0);
		errno = ENOENT;
	}
	return wd;
}
#endif

/* Watches dir/rel, a store not made yet, then makes it and puts k: the
 * put must be seen.  With race, the store's directory is made in the
 * window between the failed watch of it and the watch of its parent. */
static void
store_made_later(const char *rel, int race)
{
	char sub[4096];
	const char *keys[] = {"k"};
	size_t lens[] = {1};
	struct okof_watch_opts o = {.keys = keys, .klens = lens, .nkeys = 1};
	okof_watch *w;
	okof_store *t;

	snprintf(sub, sizeof sub, "%s/%s", dir, rel);
	race_dir = race ? sub : NULL;
	ck_assert_int_eq(okof_watch_open(&w, sub, NULL, &o), 0);
	ck_assert_ptr_null(race_dir); /* the window was hit, if asked */
	ck_assert_ptr_null(okof_watch_store(w));
	ck_assert_int_eq(okof_open(&t, sub, OKOF_CREATE, NULL, NULL), 0);
	ck_assert_int_eq(okof_put(t, "k", 1, "v", 1, NULL), 0);
	ck_assert_int_eq(expect_event(w, 2000, "k"), OKOF_WATCH_PUT);
	ck_assert_ptr_nonnull(okof_watch_store(w));
	okof_close(t);
	okof_watch_close(w);
}

START_TEST(store_created_later)
{
	store_made_later("not/yet", 0);
}
END_TEST

#ifdef __linux__
START_TEST(store_dir_made_while_watching_parent)
{
	store_made_later("later", 1);
}
END_TEST
#endif

Suite *
watch_suite(void)
{
	Suite *su = suite_create("watch");
	TCase *tc = tcase_create("watch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, put_del_in_order);
	tcase_add_test(tc, bad_arguments);
	tcase_add_loop_test(tc, random_inotify, 0, 3);
	tcase_add_loop_test(tc, random_poll, 0, 2);
	tcase_add_test(tc, store_created_later);
#ifdef __linux__
	tcase_add_test(tc, store_dir_made_while_watching_parent);
#endif
	suite_add_tcase(su, tc);
	return su;
}
