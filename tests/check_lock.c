/*
 * check_lock.c - okof_lock_* and the streaming writer (okof_put_begin
 * ... commit/abort), through the public API.
 *
 * Locks are open file description locks (or flock): two acquisitions
 * in one process exclude each other as two processes would, so the
 * tests hold a lock in one handle and try it from another.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_okof.h"
#include "okof.h"

static char *dir;
static okof_store *s, *s2;

static void
setup(void)
{
	dir = make_tmpdir();
	ck_assert_int_eq(okof_open(&s, dir, OKOF_CREATE, NULL, NULL), 0);
	ck_assert_int_eq(okof_open(&s2, dir, 0, NULL, NULL), 0);
}

static void
teardown(void)
{
	okof_close(s2);
	okof_close(s);
	remove_tree(dir);
	free(dir);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

START_TEST(tokens_grow)
{
	okof_lock *l;

	for (uint64_t want = 1; want <= 5; want++) {
		ck_assert_int_eq(okof_lock_acquire(s, "job", 3, 0, 0, NULL, &l), 0);
		ck_assert_uint_eq(okof_lock_token(l), want);
		okof_lock_release(l);
	}
	/* Another name, and the key lock of the same name, count apart. */
	ck_assert_int_eq(okof_lock_acquire(s, "job2", 4, 0, 0, NULL, &l), 0);
	ck_assert_uint_eq(okof_lock_token(l), 1);
	okof_lock_release(l);
	ck_assert_int_eq(okof_lock_acquire(s, "job", 3, OKOF_LOCK_KEY, 0, NULL, &l), 0);
	ck_assert_uint_eq(okof_lock_token(l), 1);
	okof_lock_release(l);
}
END_TEST

START_TEST(excludes_and_times_out)
{
	okof_lock *l, *l2 = (okof_lock *)&l;
	struct timespec t0;

	ck_assert_int_eq(okof_lock_acquire(s, "x", 1, 0, -1, NULL, &l), 0);
	ck_assert_int_eq(okof_lock_acquire(s2, "x", 1, 0, 0, NULL, &l2), OKOF_EBUSY);
	ck_assert_ptr_null(l2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(okof_lock_acquire(s2, "x", 1, 0, 200, NULL, &l2), OKOF_EBUSY);
	long took = ms_since(&t0);
	ck_assert_int_ge(took, 190);
	ck_assert_int_lt(took, 2000);
	/* The key lock of "x" is another lock. */
	ck_assert_int_eq(okof_lock_acquire(s2, "x", 1, OKOF_LOCK_KEY, 0, NULL, &l2), 0);
	okof_lock_release(l2);
	okof_lock_release(l);
	ck_assert_int_eq(okof_lock_acquire(s2, "x", 1, 0, 0, NULL, &l2), 0);
	ck_assert_uint_eq(okof_lock_token(l2), 2);
	okof_lock_release(l2);
}
END_TEST

START_TEST(status_tells_holder)
{
	struct okof_lock_holder h;
	okof_lock *l;
	char host[256] = "";

	ck_assert_int_eq(okof_lock_status(s, "st", 2, 0, &h), 0);
	ck_assert_uint_eq(h.token, 0);
	ck_assert_int_eq(okof_lock_acquire(s, "st", 2, 0, 0, "make nightly", &l), 0);
	ck_assert_int_eq(okof_lock_status(s2, "st", 2, 0, &h), 1);
	ck_assert_int_eq(h.pid, getpid());
	ck_assert_uint_eq(h.token, okof_lock_token(l));
	ck_assert_str_eq(h.note, "make nightly");
	gethostname(host, sizeof host - 1);
	ck_assert_str_eq(h.host, host);
	ck_assert_int_gt(h.since_ns, 0);
	/* Asking never takes it: the holder's rival still cannot. */
	okof_lock *l2;
	ck_assert_int_eq(okof_lock_acquire(s2, "st", 2, 0, 0, NULL, &l2), OKOF_EBUSY);
	okof_lock_release(l);
	ck_assert_int_eq(okof_lock_status(s2, "st", 2, 0, &h), 0);
	ck_assert_uint_eq(h.token, 1); /* the last holder's record */
	ck_assert_int_eq(okof_lock_status(s2, "st", 2, 0, NULL), 0);
}
END_TEST

START_TEST(long_note_cut)
{
	char note[2000];
	struct okof_lock_holder h;
	okof_lock *l;

	memset(note, 'a', sizeof note - 1);
	note[sizeof note - 1] = '\0';
	ck_assert_int_eq(okof_lock_acquire(s, "n", 1, 0, 0, note, &l), 0);
	ck_assert_int_eq(okof_lock_status(s2, "n", 1, 0, &h), 1);
	size_t len = strlen(h.note);
	ck_assert_uint_gt(len, 100);
	ck_assert_uint_lt(len, sizeof h.note);
	ck_assert_str_eq(h.note + len - 3, "...");
	okof_lock_release(l);
}
END_TEST

START_TEST(lock_bad_arguments)
{
	okof_lock *l = (okof_lock *)&l;
	char big[OKOF_KEY_MAX + 2];

	memset(big, 'k', sizeof big);
	ck_assert_int_eq(okof_lock_acquire(NULL, "a", 1, 0, 0, NULL, &l), -EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(okof_lock_acquire(s, "a", 1, 0, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(okof_lock_acquire(s, "a", 1, 0x80, 0, NULL, &l), -EINVAL);
	ck_assert_int_eq(okof_lock_acquire(s, "", 0, 0, 0, NULL, &l), OKOF_EBADKEY);
	ck_assert_int_eq(okof_lock_acquire(s, NULL, 1, 0, 0, NULL, &l), -EINVAL);
	ck_assert_int_eq(okof_lock_acquire(s, "a", 1, 0, -2, NULL, &l), -EINVAL);
	ck_assert_int_eq(okof_lock_acquire(s, "a", 1, 0, INT64_MIN, NULL, &l),
			 -EINVAL);
	ck_assert_int_eq(okof_lock_acquire(s, big, sizeof big, 0, 0, NULL, &l),
			 OKOF_EBADKEY);
	ck_assert_int_eq(okof_lock_acquire(s, "a\0b", 3, 0, 0, NULL, &l), OKOF_EBADKEY);
	ck_assert_int_eq(okof_lock_status(NULL, "a", 1, 0, NULL), -EINVAL);
	ck_assert_int_eq(okof_lock_status(s, "", 0, 0, NULL), OKOF_EBADKEY);
	ck_assert_uint_eq(okof_lock_token(NULL), 0);
	okof_lock_release(NULL);
	ck_assert_str_eq(okof_strerror(OKOF_EBUSY), "lock is held by another process");
}
END_TEST

static void
expect_value(okof_store *st, const char *key, const void *want, size_t n)
{
	okof_reader *r;
	const void *p;
	size_t got, off = 0;
	int rc;

	ck_assert_int_eq(okof_get_open(st, key, strlen(key), &r), 0);
	while ((rc = okof_get_read(r, &p, &got)) > 0) {
		ck_assert_uint_le(off + got, n);
		ck_assert(memcmp((const char *)want + off, p, got) == 0);
		off += got;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(off, n);
	okof_get_close(r);
}

START_TEST(writer_streams)
{
	static unsigned char val[3 * OKOF_CHUNK_SIZE + 17];
	okof_writer *w;

	fill_data(val, sizeof val, _i % 2, (unsigned)_i);
	ck_assert_int_eq(okof_put(s, "k", 1, "old", 3, NULL), 0);
	ck_assert_int_eq(okof_put_begin(s, "k", 1, NULL, &w), 0);
	/* Pieces of every size around a chunk. */
	size_t off = 0, step = 1;
	while (off < sizeof val) {
		size_t n = step < sizeof val - off ? step : sizeof val - off;
		ck_assert_int_eq(okof_put_write(w, val + off, n), 0);
		off += n;
		step = step * 3 + (size_t)_i;
		if (off < OKOF_CHUNK_SIZE)
			expect_value(s2, "k", "old", 3); /* not yet */
	}
	expect_value(s2, "k", "old", 3);
	ck_assert_int_eq(okof_put_commit(w), 0);
	expect_value(s2, "k", val, sizeof val);
}
END_TEST

static int
count_temps(void *ctx, const struct okof_item *it)
{
	if (it->kind == OKOF_ITEM_TEMP || it->kind == OKOF_ITEM_BUSY)
		++*(int *)ctx;
	return 0;
}

START_TEST(writer_abort_keeps_old)
{
	okof_writer *w;
	struct okof_put_opts po = {.expires = 4000000000};
	struct okof_info info;

	ck_assert_int_eq(okof_put(s, "k", 1, "old", 3, NULL), 0);
	ck_assert_int_eq(okof_put_begin(s, "k", 1, &po, &w), 0);
	ck_assert_int_eq(okof_put_write(w, "new", 3), 0);
	okof_put_abort(w);
	expect_value(s, "k", "old", 3);
	/* No temp file is left for gc to find. */
	int temps = 0;
	ck_assert_int_eq(okof_verify(s, count_temps, &temps), 0);
	ck_assert_int_eq(temps, 0);
	/* The expiry of a committed stream is the one given. */
	ck_assert_int_eq(okof_put_begin(s, "e", 1, &po, &w), 0);
	ck_assert_int_eq(okof_put_commit(w), 0);
	ck_assert_int_eq(okof_stat(s, "e", 1, &info), 0);
	ck_assert_int_eq(info.expires, 4000000000);
	ck_assert_uint_eq(info.size, 0);
}
END_TEST

START_TEST(writer_temp_is_owned)
{
	okof_writer *w;
	int temps = 0;

	ck_assert_int_eq(okof_put_begin(s, "k", 1, NULL, &w), 0);
	ck_assert_int_eq(okof_verify(s2, count_temps, &temps), 0);
	ck_assert_int_eq(temps, 1);
	/* gc leaves a running write's temp file alone. */
	ck_assert_int_eq(okof_gc(s2, NULL, NULL), 0);
	ck_assert_int_eq(okof_put_write(w, "v", 1), 0);
	ck_assert_int_eq(okof_put_commit(w), 0);
	expect_value(s, "k", "v", 1);
	ck_assert_int_eq(okof_put_begin(s, "k2", 2, NULL, &w), 0);
	okof_put_abort(w);
	temps = 0;
	ck_assert_int_eq(okof_verify(s2, count_temps, &temps), 0);
	ck_assert_int_eq(temps, 0);
}
END_TEST

START_TEST(writer_if_absent)
{
	okof_writer *w;
	struct okof_put_opts po = {.if_absent = 1};

	ck_assert_int_eq(okof_put(s, "k", 1, "old", 3, NULL), 0);
	ck_assert_int_eq(okof_put_begin(s, "k", 1, &po, &w), 0);
	ck_assert_int_eq(okof_put_write(w, "new", 3), 0);
	ck_assert_int_eq(okof_put_commit(w), OKOF_EEXIST);
	expect_value(s, "k", "old", 3);
}
END_TEST

START_TEST(writer_bad_arguments)
{
	okof_writer *w = (okof_writer *)&w;
	struct okof_put_opts bad = {.expires = -1};
	unsigned char secret[OKOF_SECRET_BYTES] = {1};
	okof_store *ps;

	ck_assert_int_eq(okof_put_begin(NULL, "k", 1, NULL, &w), -EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(okof_put_begin(s, "k", 1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(okof_put_begin(s, "", 0, NULL, &w), OKOF_EBADKEY);
	ck_assert_int_eq(okof_put_begin(s, "k", 1, &bad, &w), -EINVAL);
	ck_assert_int_eq(okof_put_write(NULL, "v", 1), -EINVAL);
	ck_assert_int_eq(okof_put_commit(NULL), -EINVAL);
	okof_put_abort(NULL);
	ck_assert_int_eq(okof_put_begin(s, "k", 1, NULL, &w), 0);
	ck_assert_int_eq(okof_put_write(w, NULL, 1), -EINVAL);
	ck_assert_int_eq(okof_put_write(w, NULL, 0), 0);
	okof_put_abort(w);
	/* A secret for a plain store: refused before anything is made. */
	ck_assert_int_eq(okof_open(&ps, dir, 0, NULL, secret), 0);
	ck_assert_int_eq(okof_put_begin(ps, "k", 1, NULL, &w), OKOF_EPLAIN);
	ck_assert_ptr_null(w);
	okof_close(ps);
}
END_TEST

Suite *
lock_suite(void)
{
	Suite *su = suite_create("lock");
	TCase *tc = tcase_create("lock");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tokens_grow);
	tcase_add_test(tc, excludes_and_times_out);
	tcase_add_test(tc, status_tells_holder);
	tcase_add_test(tc, long_note_cut);
	tcase_add_test(tc, lock_bad_arguments);
	tcase_add_loop_test(tc, writer_streams, 0, 4);
	tcase_add_test(tc, writer_abort_keeps_old);
	tcase_add_test(tc, writer_temp_is_owned);
	tcase_add_test(tc, writer_if_absent);
	tcase_add_test(tc, writer_bad_arguments);
	suite_add_tcase(su, tc);
	return su;
}
