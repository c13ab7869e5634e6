/*
 * check_store.c - the store: placement of records, keys that look like
 * paths, create-only puts, expiry, listing, and the directories it
 * refuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "check_okof.h"
#include "store.h"

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

/* Reads key's whole value; returns the get status. */
static int
get_all(const char *key, char *buf, size_t cap, size_t *len)
{
	okof_reader *r;
	const void *p;
	size_t n;
	int rc = okof_get_open(s, key, strlen(key), &r);

	*len = 0;
	if (rc != 0)
		return rc;
	while ((rc = okof_get_read(r, &p, &n)) > 0) {
		ck_assert_uint_le(*len + n, cap);
		memcpy(buf + *len, p, n);
		*len += n;
	}
	okof_get_close(r);
	return rc;
}

START_TEST(put_get_del)
{
	char buf[64];
	size_t n;

	ck_assert_int_eq(okof_put(s, "k", 1, "hello", 5, NULL), 0);
	ck_assert_int_eq(get_all("k", buf, sizeof buf, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	ck_assert_int_eq(okof_put(s, "k", 1, "", 0, NULL), 0);
	ck_assert_int_eq(get_all("k", buf, sizeof buf, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(okof_del(s, "k", 1, 0), 0);
	ck_assert_int_eq(get_all("k", buf, sizeof buf, &n), OKOF_ENOTFOUND);
	ck_assert_int_eq(okof_del(s, "k", 1, 0), OKOF_ENOTFOUND);
}
END_TEST

/* The record is where the keyed hash says, and nowhere else. */
START_TEST(placement)
{
	const char *keys[] = {"../x", "/etc/passwd", "a/b", "..", ".", "-",
			      "meta", ".tmp-x"};
	char path[4096];
	struct stat st;

	/* dir's parent is shared (/tmp): what is there already is not
	 * ours to judge, only that the puts add nothing. */
	snprintf(path, sizeof path, "%s/../x", dir);
	int had_x = access(path, F_OK) == 0;
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		const char *k = keys[i];
		struct rec_name nm;
		ck_assert_int_eq(okof_put(s, k, strlen(k), "v", 1, NULL), 0);
		store_name(s, k, strlen(k), &nm);
		ck_assert_uint_eq(strlen(nm.bucket), 2);
		ck_assert_uint_eq(strlen(nm.file), 30);
		snprintf(path, sizeof path, "%s/%s/%s", dir, nm.bucket,
			 nm.file);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_int_eq(st.st_mode & 07777, 0600);
		snprintf(path, sizeof path, "%s/%s", dir, nm.bucket);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_int_eq(st.st_mode & 07777, 0700);
	}
	/* The name is the lowercase hex of the keyed hash (okof(5)): what
	 * stores written by any version hold. */
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		unsigned char h[HASH_BYTES];
		char hex[2 * HASH_BYTES + 1];
		struct rec_name nm;
		const char *k = keys[i];
		crypto_generichash(h, sizeof h, (const unsigned char *)k,
				   strlen(k), s->salt, sizeof s->salt);
		sodium_bin2hex(hex, sizeof hex, h, sizeof h);
		store_name(s, k, strlen(k), &nm);
		snprintf(path, sizeof path, "%s%s", nm.bucket, nm.file);
		ck_assert_str_eq(path, hex);
	}
	/* Nothing escaped: the paths the keys spell do not exist. */
	snprintf(path, sizeof path, "%s/../x", dir);
	ck_assert_int_eq(access(path, F_OK) == 0, had_x);
	snprintf(path, sizeof path, "%s/a", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	/* The same key in another store lands elsewhere (per-store salt). */
	char *d2 = make_tmpdir();
	okof_store *s2;
	struct rec_name a, b;
	ck_assert_int_eq(okof_open(&s2, d2, OKOF_CREATE, NULL, NULL), 0);
	store_name(s, "k", 1, &a);
	store_name(s2, "k", 1, &b);
	ck_assert(strcmp(a.bucket, b.bucket) != 0 ||
		  strcmp(a.file, b.file) != 0);
	okof_close(s2);
	remove_tree(d2);
	free(d2);
}
END_TEST

START_TEST(key_limits)
{
	char *big = malloc(OKOF_KEY_MAX + 1);
	char buf[8];
	size_t n;

	memset(big, 'k', OKOF_KEY_MAX + 1);
	ck_assert_int_eq(okof_put(s, big, OKOF_KEY_MAX, "v", 1, NULL), 0);
	ck_assert_int_eq(okof_put(s, big, OKOF_KEY_MAX + 1, "v", 1, NULL),
			 OKOF_EBADKEY);
	ck_assert_int_eq(okof_put(s, big, 0, "v", 1, NULL), OKOF_EBADKEY);
	ck_assert_int_eq(okof_put(s, "a\0b", 3, "v", 1, NULL), OKOF_EBADKEY);
	big[OKOF_KEY_MAX] = '\0';
	ck_assert_int_eq(get_all(big, buf, sizeof buf, &n), 0);
	ck_assert_uint_eq(n, 1);
	free(big);
}
END_TEST

START_TEST(if_absent)
{
	struct okof_put_opts o = {.if_absent = 1};
	char buf[8];
	size_t n;

	ck_assert_int_eq(okof_put(s, "k", 1, "one", 3, &o), 0);
	ck_assert_int_eq(okof_put(s, "k", 1, "two", 3, &o), OKOF_EEXIST);
	ck_assert_int_eq(get_all("k", buf, sizeof buf, &n), 0);
	ck_assert(n == 3 && memcmp(buf, "one", 3) == 0);
}
END_TEST

START_TEST(expiry)
{
	struct okof_put_opts o = {.expires = 1000}; /* long past */
	struct okof_keys keys;
	char buf[8];
	size_t n;

	ck_assert_int_eq(okof_put(s, "old", 3, "v", 1, &o), 0);
	ck_assert_int_eq(get_all("old", buf, sizeof buf, &n), OKOF_ENOTFOUND);
	o.expires = 4000000000LL;
	ck_assert_int_eq(okof_put(s, "new", 3, "v", 1, &o), 0);
	ck_assert_int_eq(get_all("new", buf, sizeof buf, &n), 0);
	ck_assert_int_eq(okof_list(s, "", 0, &keys), 0);
	ck_assert_uint_eq(keys.n, 1);
	ck_assert(memcmp(keys.v[0].key, "new", 3) == 0);
	okof_keys_free(&keys);
	/* Deleting an expired key removes it but reports it absent. */
	ck_assert_int_eq(okof_del(s, "old", 3, 0), OKOF_ENOTFOUND);
}
END_TEST

START_TEST(list_sorted_prefix)
{
	const char *keys[] = {"b", "a", "ab", "a\xff", "\x01", "abc", "b/1"};
	const char *want[] = {"\x01", "a", "ab", "abc", "a\xff", "b", "b/1"};
	struct okof_keys k;

	for (size_t i = 0; i < 7; i++)
		ck_assert_int_eq(okof_put(s, keys[i], strlen(keys[i]), "v", 1,
					  NULL),
				 0);
	ck_assert_int_eq(okof_list(s, "", 0, &k), 0);
	ck_assert_uint_eq(k.n, 7);
	for (size_t i = 0; i < 7; i++) {
		ck_assert_uint_eq(k.v[i].len, strlen(want[i]));
		ck_assert(memcmp(k.v[i].key, want[i], k.v[i].len) == 0);
	}
	okof_keys_free(&k);
	ck_assert_int_eq(okof_list(s, "ab", 2, &k), 0);
	ck_assert_uint_eq(k.n, 2);
	okof_keys_free(&k);
}
END_TEST

START_TEST(corrupt_record_reported)
{
	struct rec_name nm;
	char path[4096], buf[8];
	size_t n;

	ck_assert_int_eq(okof_put(s, "k", 1, "value", 5, NULL), 0);
	store_name(s, "k", 1, &nm);
	snprintf(path, sizeof path, "%s/%s/%s", dir, nm.bucket, nm.file);
	int fd = open(path, O_RDWR);
	struct stat st;
	fstat(fd, &st);
	char last;
	pread(fd, &last, 1, st.st_size - 1);
	last ^= 1;
	pwrite(fd, &last, 1, st.st_size - 1);
	close(fd);
	ck_assert_int_eq(get_all("k", buf, sizeof buf, &n), OKOF_ECORRUPT);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(okof_errdetail(s), "chunk checksum mismatch");
	snprintf(path, sizeof path, "%s/%s", nm.bucket, nm.file);
	ck_assert_str_eq(okof_errpath(s), path);
}
END_TEST

/* A record moved to another key's place is not returned for that key. */
START_TEST(moved_record_detected)
{
	struct rec_name a, b;
	char pa[4096], pb[4096], buf[8];
	size_t n;

	ck_assert_int_eq(okof_put(s, "a", 1, "AAA", 3, NULL), 0);
	ck_assert_int_eq(okof_put(s, "b", 1, "BBB", 3, NULL), 0);
	store_name(s, "a", 1, &a);
	store_name(s, "b", 1, &b);
	snprintf(pa, sizeof pa, "%s/%s/%s", dir, a.bucket, a.file);
	snprintf(pb, sizeof pb, "%s/%s/%s", dir, b.bucket, b.file);
	ck_assert_int_eq(rename(pa, pb), 0);
	ck_assert_int_eq(get_all("b", buf, sizeof buf, &n), OKOF_ECORRUPT);
}
END_TEST

START_TEST(refuses_strangers)
{
	char *d = make_tmpdir();
	char path[4096];
	okof_store *t;

	/* A missing store reads as absent; an empty directory too. */
	snprintf(path, sizeof path, "%s/none", d);
	ck_assert_int_eq(okof_open(&t, path, 0, NULL, NULL), OKOF_ENOSTORE);
	ck_assert_int_eq(okof_open(&t, d, 0, NULL, NULL), OKOF_ENOSTORE);
	/* An interrupted creation (only our temp files) reads as absent
	 * and is completed by a write. */
	snprintf(path, sizeof path, "%s/.tmp-meta-0011223344556677", d);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(okof_open(&t, d, 0, NULL, NULL), OKOF_ENOSTORE);
	ck_assert_int_eq(okof_open(&t, d, OKOF_CREATE, NULL, NULL), 0);
	okof_close(t);
	unlink(path);
	remove_tree(d);

	/* A directory with someone's files is not a store. */
	mkdir(d, 0700);
	snprintf(path, sizeof path, "%s/notes.txt", d);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(okof_open(&t, d, OKOF_CREATE, NULL, NULL), OKOF_ENOTSTORE);
	ck_assert_int_eq(access(d, F_OK), 0);
	snprintf(path, sizeof path, "%s/meta", d);
	ck_assert_int_ne(access(path, F_OK), 0);
	remove_tree(d);

	/* Group-writable is refused. */
	mkdir(d, 0700);
	ck_assert_int_eq(okof_open(&t, d, OKOF_CREATE, NULL, NULL), 0);
	okof_close(t);
	chmod(d, 0770);
	ck_assert_int_eq(okof_open(&t, d, 0, NULL, NULL), OKOF_EUNSAFE);
	chmod(d, 0700);

	/* Corrupt metadata is reported, not replaced. */
	snprintf(path, sizeof path, "%s/meta", d);
	int fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "X", 1, 30), 1);
	close(fd);
	ck_assert_int_eq(okof_open(&t, d, OKOF_CREATE, NULL, NULL), OKOF_ECORRUPT);
	remove_tree(d);
	free(d);
}
END_TEST

START_TEST(settings)
{
	struct okof_settings st = {.compress_threshold = 10}, got;
	char *d = make_tmpdir();
	okof_store *t;

	ck_assert_int_eq(okof_open(&t, d, OKOF_CREATE | OKOF_INIT, &st, NULL), 0);
	okof_close(t);
	ck_assert_int_eq(okof_open(&t, d, 0, NULL, NULL), 0);
	okof_get_settings(t, &got);
	ck_assert_uint_eq(got.compress_threshold, 10);
	okof_close(t);
	st.compress_threshold = 11;
	ck_assert_int_eq(okof_open(&t, d, OKOF_CREATE | OKOF_INIT, &st, NULL),
			 OKOF_ESETTINGS);
	remove_tree(d);
	free(d);
}
END_TEST

/*
 * Runs op on key in a child with its own handle while the test holds
 * the bucket's lock file exclusively: the child must wait for it (it
 * locks the file, not the directory, which excludes nothing on FUSE),
 * then finish once the lock is released.
 */
enum locked_op { OP_DEL, OP_INCR, OP_PUT, OP_PUT_IF_ABSENT };

static void
waits_for_bucket_lock(enum locked_op op)
{
	const char *key = "locked";
	struct rec_name nm;
	char path[4096];
	struct stat st;
	int status;

	ck_assert_int_eq(okof_put(s, key, strlen(key), "7", 1, NULL), 0);
	store_name(s, key, strlen(key), &nm);
	snprintf(path, sizeof path, "%s/.locks/%s", dir, nm.bucket);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	int lfd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(flock(lfd, LOCK_EX), 0);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		okof_store *c;
		struct okof_put_opts po = {.if_absent = 1};
		int64_t v;
		close(lfd); /* else its copy would keep the lock held */
		int rc = okof_open(&c, dir, 0, NULL, NULL);
		if (rc == 0 && op == OP_DEL)
			rc = okof_del(c, key, strlen(key), 0);
		else if (rc == 0 && op == OP_INCR)
			rc = okof_incr(c, key, strlen(key), 1, 0, &v);
		else if (rc == 0 && op == OP_PUT)
			rc = okof_put(c, key, strlen(key), "9", 1, NULL);
		else if (rc == 0)
			rc = okof_put(c, "other", 5, "9", 1, &po);
		okof_close(c);
		_exit(rc == 0 ? 0 : 1);
	}
	usleep(300 * 1000);
	ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0,
		      "the child did not wait for the bucket lock");
	char buf[8];
	size_t n;
	ck_assert_int_eq(get_all(key, buf, sizeof buf, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(buf[0], '7');
	close(lfd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	int rc = get_all(key, buf, sizeof buf, &n);
	if (op == OP_DEL) {
		ck_assert_int_eq(rc, OKOF_ENOTFOUND);
	} else {
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(buf[0], op == OP_PUT_IF_ABSENT ? '7' : op == OP_PUT ? '9' : '8');
	}
}

START_TEST(del_waits_for_bucket_lock)
{
	waits_for_bucket_lock(OP_DEL);
}
END_TEST

START_TEST(incr_waits_for_bucket_lock)
{
	waits_for_bucket_lock(OP_INCR);
}
END_TEST

START_TEST(put_waits_for_bucket_lock)
{
	waits_for_bucket_lock(OP_PUT);
}
END_TEST

START_TEST(streams_from_fd)
{
	size_t len = 5 * OKOF_CHUNK_SIZE + 3;
	unsigned char *data = malloc(len);
	char *back = malloc(len);
	int p[2];
	size_t n;

	fill_data(data, len, 1, 1);
	FILE *f = tmpfile();
	fwrite(data, 1, len, f);
	fflush(f);
	lseek(fileno(f), 0, SEEK_SET);
	ck_assert_int_eq(okof_put_fd(s, "f", 1, fileno(f), NULL), 0);
	fclose(f);
	ck_assert_int_eq(get_all("f", back, len, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(back, data, len) == 0);
	/* A read error on the source publishes nothing. */
	ck_assert_int_eq(pipe(p), 0);
	close(p[0]);
	int wfd = p[1]; /* reading a write end fails with EBADF */
	ck_assert_int_eq(okof_put_fd(s, "f", 1, wfd, NULL), -EBADF);
	close(wfd);
	ck_assert_int_eq(get_all("f", back, len, &n), 0);
	ck_assert_uint_eq(n, len);
	free(data);
	free(back);
}
END_TEST

/* Counts what okof_verify finds that is not a good record. */
static int
count_not_ok(void *ctx, const struct okof_item *it)
{
	if (it->kind != OKOF_ITEM_OK)
		(*(int *)ctx)++;
	return 0;
}

START_TEST(secret_on_plain_store)
{
	unsigned char secret[OKOF_SECRET_BYTES] = {1, 2, 3};
	struct okof_keys keys;
	okof_store *t;
	okof_import *im = (okof_import *)&im; /* must come back NULL */
	int64_t v = 0;
	char buf[16];
	size_t n;
	int p[2], junk = 0;

	ck_assert_int_eq(okof_put(s, "k", 1, "7", 1, NULL), 0);
	ck_assert_int_eq(okof_open(&t, dir, 0, NULL, secret), 0);
	ck_assert(!okof_encrypted(t));
	/* Reads work as usual. */
	okof_reader *r;
	const void *q;
	ck_assert_int_eq(okof_get_open(t, "k", 1, &r), 0);
	ck_assert_int_eq(okof_get_read(r, &q, &n), 1);
	ck_assert(n == 1 && memcmp(q, "7", 1) == 0);
	okof_get_close(r);
	/* Every write of a value refuses, before it writes or reads. */
	ck_assert_int_eq(okof_put(t, "k", 1, "8", 1, NULL), OKOF_EPLAIN);
	ck_assert_int_eq(okof_put(t, "new", 3, "8", 1, NULL), OKOF_EPLAIN);
	ck_assert_str_eq(okof_errpath(t), "meta");
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "9", 1), 1);
	close(p[1]);
	ck_assert_int_eq(okof_put_fd(t, "k", 1, p[0], NULL), OKOF_EPLAIN);
	ck_assert_int_eq(read(p[0], buf, sizeof buf), 1); /* not consumed */
	close(p[0]);
	ck_assert_int_eq(okof_incr(t, "k", 1, 1, 0, &v), OKOF_EPLAIN);
	ck_assert_int_eq(okof_incr(t, "c", 1, 1, 0, &v), OKOF_EPLAIN);
	ck_assert_int_eq(okof_import_begin(t, &im), OKOF_EPLAIN);
	ck_assert_ptr_null(im);
	ck_assert_str_eq(okof_strerror(OKOF_EPLAIN),
			 "the store is not encrypted, but a secret was given");
	okof_close(t);
	/* Nothing was written: the one record, its value, no temp file. */
	ck_assert_int_eq(get_all("k", buf, sizeof buf, &n), 0);
	ck_assert(n == 1 && buf[0] == '7');
	ck_assert_int_eq(okof_list(s, "", 0, &keys), 0);
	ck_assert_uint_eq(keys.n, 1);
	okof_keys_free(&keys);
	ck_assert_int_eq(okof_verify(s, count_not_ok, &junk), 0);
	ck_assert_int_eq(junk, 0);
	/* Without the secret the same writes work. */
	ck_assert_int_eq(okof_incr(s, "k", 1, 1, 0, &v), 0);
	ck_assert_int_eq(v, 8);
	/* A secret for a store that does not exist yet creates it sealed. */
	char *d = make_tmpdir();
	char sub[4096];
	snprintf(sub, sizeof sub, "%s/new", d);
	ck_assert_int_eq(okof_open(&t, sub, OKOF_CREATE, NULL, secret), 0);
	ck_assert(okof_encrypted(t));
	ck_assert_int_eq(okof_put(t, "k", 1, "v", 1, NULL), 0);
	okof_close(t);
	remove_tree(d);
	free(d);
}
END_TEST

/* What a backup told its callback, record by record. */
struct heard {
	int ok, copying, order_bad, stop;
	uint64_t copied, copied_now;
};

static int
hear_backup(void *ctx, const struct okof_item *it)
{
	struct heard *h = ctx;

	if (it->kind == OKOF_ITEM_COPYING) {
		h->copying++;
		h->copied += it->bytes;
		h->copied_now += it->bytes;
		if (it->key == NULL || it->bytes == 0 || it->bytes > 65536)
			h->order_bad++;
		return h->stop && h->copying == h->stop ? -ECANCELED : 0;
	}
	if (it->kind != OKOF_ITEM_OK)
		h->order_bad++;
	h->ok++;
	h->copied_now = 0;
	return 0;
}

START_TEST(backup_copy_reports_progress)
{
	size_t len = 5 * OKOF_CHUNK_SIZE + 7;
	unsigned char *data = malloc(len);
	char *back = malloc(len), dest[4096], file[4200];
	struct heard h = {0};
	struct stat a, b;
	okof_store *t;
	size_t n;

	/* Across filesystems, so that records are copied, not linked. */
	if (stat(dir, &a) != 0 || stat("/dev/shm", &b) != 0 ||
	    a.st_dev == b.st_dev) {
		free(data);
		free(back);
		return; /* nowhere to copy to here */
	}
	fill_data(data, len, 0, 7);
	ck_assert_int_eq(okof_put(s, "big", 3, data, len, NULL), 0);
	ck_assert_int_eq(okof_put(s, "small", 5, "v", 1, NULL), 0);
	snprintf(dest, sizeof dest, "/dev/shm/okof-check-bk-%d", (int)getpid());
	ck_assert_int_eq(okof_backup(s, dest, hear_backup, &h), 0);
	ck_assert_int_eq(h.ok, 2);
	ck_assert_int_eq(h.order_bad, 0);
	ck_assert_int_ge(h.copying, 7); /* big: 6 pieces at least */
	/* The pieces add up to the record files, byte for byte. */
	uint64_t files = 0;
	okof_store *u;
	ck_assert_int_eq(okof_open(&u, dest, 0, NULL, NULL), 0);
	for (int i = 0; i < 2; i++) {
		const char *k = i ? "small" : "big";
		struct rec_name nm;
		store_name(u, k, strlen(k), &nm);
		snprintf(file, sizeof file, "%s/%s/%s", dest, nm.bucket,
			 nm.file);
		ck_assert_int_eq(stat(file, &b), 0);
		files += (uint64_t)b.st_size;
	}
	okof_close(u);
	ck_assert_uint_eq(h.copied, files);
	ck_assert_int_eq(okof_open(&t, dest, 0, NULL, NULL), 0);
	okof_store *keep = s;
	s = t;
	ck_assert_int_eq(get_all("big", back, len, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(back, data, len) == 0);
	s = keep;
	okof_close(t);
	remove_tree(dest);
	/* A callback that stops the copy stops the backup with its code. */
	struct heard stop = {.stop = 2};
	ck_assert_int_eq(okof_backup(s, dest, hear_backup, &stop),
			 -ECANCELED);
	remove_tree(dest);
	free(data);
	free(back);
}
END_TEST

Suite *
store_suite(void)
{
	Suite *su = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, put_get_del);
	tcase_add_test(tc, placement);
	tcase_add_test(tc, key_limits);
	tcase_add_test(tc, if_absent);
	tcase_add_test(tc, expiry);
	tcase_add_test(tc, list_sorted_prefix);
	tcase_add_test(tc, corrupt_record_reported);
	tcase_add_test(tc, moved_record_detected);
	tcase_add_test(tc, refuses_strangers);
	tcase_add_test(tc, settings);
	tcase_add_test(tc, streams_from_fd);
	tcase_add_test(tc, del_waits_for_bucket_lock);
	tcase_add_test(tc, incr_waits_for_bucket_lock);
	tcase_add_test(tc, put_waits_for_bucket_lock);
	tcase_add_test(tc, secret_on_plain_store);
	tcase_add_test(tc, backup_copy_reports_progress);
	suite_add_tcase(su, tc);
	return su;
}
