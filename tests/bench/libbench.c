/*
 * libbench.c - the library without process start-up, against the least
 * a program must do (tests/bench/run prints the ratios).
 *
 *   libbench DIR GET_ROUNDS PUT_ROUNDS
 *
 * get: okof_get_open + okof_get_read + okof_get_close of a 5-byte value,
 *      against openat + read + close of a 5-byte file in a directory
 *      held open (the floor).
 * put: a durable okof_put of 5 bytes, against the durable writer floor:
 *      temp file O_EXCL, write, fsync, rename, fsync of the directory.
 *
 * get-syscalls: okof's get against the system calls it made before it
 *      kept buckets open and learned sizes from its reads: openat2
 *      RESOLVE_BENEATH of BUCKET/NAME from the store, fstat, read, close.
 * get-many: a small get of MANY keys in a shuffled order (no key, and
 *      mostly no bucket, twice running), against openat + read + close
 *      of as many files of one directory in the same order.
 *
 * Rounds alternate okof and floor, in alternating order, so that drift
 * on a shared machine hits both alike; each prints the medians of the
 * per-operation times (get: CPU time; put: wall time) and their ratio:
 *   NAME OKOF_NS FLOOR_NS RATIO
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "okof.h"

#define GET_BATCH 2000
#define PUT_BATCH 10
#define MANY 1000 /* divides GET_BATCH */

static okof_store *s;
static int floordir = -1;
static char floorpath[4096];
static int storedir = -1;
static char recpath[520]; /* BUCKET/NAME of key "k" */

static void
die(const char *what, int rc)
{
	fprintf(stderr, "libbench: %s: %s\n", what, okof_strerror(rc));
	exit(1);
}

/*
 * get is measured in this thread's CPU time: it waits for nothing, and
 * on a shared machine wall time mostly measures the other tenants.  put
 * waits for the disk, which is its cost: wall time.
 */
static clockid_t clock_id = CLOCK_THREAD_CPUTIME_ID;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

/* A small get of key, its 5 bytes read. */
static void
get_key(const char *key)
{
	okof_reader *r;
	const void *p;
	size_t n;
	int rc;

	if ((rc = okof_get_open(s, key, strlen(key), &r)) != 0)
		die("get", rc);
	while ((rc = okof_get_read(r, &p, &n)) > 0)
		if (n != 5)
			die("get: wrong size", 0);
	if (rc < 0)
		die("get", rc);
	okof_get_close(r);
}

static void
okof_get_once(void)
{
	get_key("k");
}

static void
floor_get_once(void)
{
	char buf[64];
	int fd = openat(floordir, "k", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, buf, sizeof buf) != 5 || close(fd) != 0)
		die("floor get", -errno);
}

static char many_key[MANY][8];
static unsigned many_next;

static void
okof_get_many(void)
{
	get_key(many_key[many_next++ % MANY]);
}

static void
floor_get_many(void)
{
	char buf[64];
	int fd = openat(floordir, many_key[many_next++ % MANY],
			O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, buf, sizeof buf) != 5 || close(fd) != 0)
		die("floor get", -errno);
}

/* MANY keys, and as many floor files, in a shuffled order. */
static void
make_many(void)
{
	int rc;

	for (int i = 0; i < MANY; i++) {
		snprintf(many_key[i], sizeof many_key[i], "m%d", i);
		if ((rc = okof_put(s, many_key[i], strlen(many_key[i]),
				   "hello", 5, NULL)) != 0)
			die("put", rc);
		int fd = openat(floordir, many_key[i],
				O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, "hello", 5) != 5 || close(fd) != 0)
			die("floor file", -errno);
	}
	srand(1);
	for (int i = MANY - 1; i > 0; i--) {
		int j = rand() % (i + 1);
		char t[8];
		memcpy(t, many_key[i], sizeof t);
		memcpy(many_key[i], many_key[j], sizeof t);
		memcpy(many_key[j], t, sizeof t);
	}
}

static void
syscalls_get_once(void)
{
	struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_NOFOLLOW |
					O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH |
					  RESOLVE_NO_SYMLINKS |
					  RESOLVE_NO_MAGICLINKS};
	char buf[4197];
	struct stat st;
	int fd = (int)syscall(SYS_openat2, storedir, recpath, &how, sizeof how);

	if (fd < 0 || fstat(fd, &st) != 0 ||
	    read(fd, buf, sizeof buf) != st.st_size || close(fd) != 0)
		die("syscalls get", -errno);
}

/* The one record in the store, found by reading its directories. */
static void
find_record(const char *store)
{
	DIR *d = opendir(store);
	struct dirent *e, *f;

	if (!d)
		die(store, -errno);
	while ((e = readdir(d)) != NULL) {
		if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
			continue;
		char sub[4200];
		snprintf(sub, sizeof sub, "%s/%s", store, e->d_name);
		DIR *b = opendir(sub);
		while (b && (f = readdir(b)) != NULL) {
			if (f->d_name[0] != '.') {
				snprintf(recpath, sizeof recpath, "%s/%s",
					 e->d_name, f->d_name);
				closedir(b);
				closedir(d);
				return;
			}
		}
		if (b)
			closedir(b);
	}
	die("no record found", OKOF_ENOTFOUND);
}

static void
okof_put_once(void)
{
	int rc = okof_put(s, "p", 1, "value", 5, NULL);

	if (rc != 0)
		die("put", rc);
}

static void
floor_put_once(void)
{
	static unsigned seq;
	char tmp[32];

	/* a new temp name each time, as okof's are */
	snprintf(tmp, sizeof tmp, ".tmp-%08x", seq++);
	int fd = openat(floordir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0600);

	if (fd < 0 || write(fd, "value", 5) != 5 || fsync(fd) != 0 ||
	    close(fd) != 0 || renameat(floordir, tmp, floordir, "p") != 0 ||
	    fsync(floordir) != 0)
		die("floor put", -errno);
}

static void
bench(const char *name, int rounds, int batch, void (*a)(void),
      void (*b)(void))
{
	double *ta = calloc((size_t)rounds, sizeof *ta);
	double *tb = calloc((size_t)rounds, sizeof *tb);

	if (!ta || !tb)
		die("out of memory", -ENOMEM);
	for (int i = 0; i < batch; i++) {
		a();
		b();
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 2; k++) {
			int first = (r + k) % 2 == 0;
			void (*f)(void) = first ? a : b;
			double t0 = now_ns();
			for (int i = 0; i < batch; i++)
				f();
			double t = (now_ns() - t0) / batch;
			if (first)
				ta[r] = t;
			else
				tb[r] = t;
		}
	}
	double ma = median(ta, rounds), mb = median(tb, rounds);
	printf("%s %.0f %.0f %.3f\n", name, ma, mb, ma / mb);
	free(ta);
	free(tb);
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: libbench DIR GET_ROUNDS PUT_ROUNDS\n");
		return 2;
	}
	int get_rounds = atoi(argv[2]), put_rounds = atoi(argv[3]);
	if (get_rounds < 1 || put_rounds < 1)
		return 2;
	char store[4096];
	snprintf(store, sizeof store, "%s/store", argv[1]);
	snprintf(floorpath, sizeof floorpath, "%s/floor", argv[1]);
	if ((rc = okof_open(&s, store, OKOF_CREATE, NULL, NULL)) != 0)
		die(store, rc);
	if ((rc = okof_put(s, "k", 1, "hello", 5, NULL)) != 0)
		die("put", rc);
	if (mkdir(floorpath, 0700) != 0 && errno != EEXIST)
		die(floorpath, -errno);
	floordir = open(floorpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (floordir < 0)
		die(floorpath, -errno);
	int fd = openat(floordir, "k", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "hello", 5) != 5 || close(fd) != 0)
		die("floor file", -errno);

	find_record(store);
	storedir = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (storedir < 0)
		die(store, -errno);

	/* LIBBENCH_PROFILE=okof|syscalls: that loop alone, for perf. */
	const char *prof = getenv("LIBBENCH_PROFILE");
	if (prof) {
		void (*f)(void) = strcmp(prof, "okof") == 0    ? okof_get_once
				  : strcmp(prof, "floor") == 0 ? floor_get_once
							       : syscalls_get_once;
		for (int i = 0; i < get_rounds * GET_BATCH; i++)
			f();
		return 0;
	}
	bench("get", get_rounds, GET_BATCH, okof_get_once, floor_get_once);
	bench("get-syscalls", get_rounds, GET_BATCH, okof_get_once,
	      syscalls_get_once);
	make_many();
	bench("get-many", get_rounds, GET_BATCH, okof_get_many,
	      floor_get_many);
	clock_id = CLOCK_MONOTONIC;
	bench("put", put_rounds, PUT_BATCH, okof_put_once, floor_put_once);
	okof_close(s);
	close(floordir);
	close(storedir);
	return 0;
}
