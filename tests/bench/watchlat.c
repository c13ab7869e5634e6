/*
 * watchlat - the latency from the exit of `okof put` to the line that
 * reports it, read from a watcher's standard output through a pipe.
 *
 *	watchlat OKOF ROUNDS LINE -- WATCHER [ARG...]
 *
 * Starts WATCHER, then ROUNDS times: runs `OKOF put --no-sync k N`,
 * waits for it to exit, and times how long after that a line containing
 * LINE arrives (a line that came before the exit counts as 0).  The
 * first rounds, until the watcher answers at all, are not counted.
 * Prints the median and the 90th percentile in microseconds, then the
 * median counted from the start of the put instead (the put's own
 * time included: a report that beats the put's exit shows there).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];
static size_t have;

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits up to ms for a whole line holding want; 1 found, 0 not. */
static int
wait_line(int fd, const char *want, int ms)
{
	long long end = now_us() + (long long)ms * 1000;

	for (;;) {
		char *nl;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			*nl = '\0';
			int hit = strstr(buf, want) != NULL;
			size_t used = (size_t)(nl - buf) + 1;
			memmove(buf, nl + 1, have - used);
			have -= used;
			if (hit)
				return 1;
		}
		long long left = (end - now_us()) / 1000;
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(fd, buf + have, sizeof buf - have - 1);
		if (n <= 0) {
			fprintf(stderr, "watchlat: watcher ended\n");
			exit(1);
		}
		have += (size_t)n;
	}
}

static long long
put(const char *okof, int n)
{
	char v[32];
	pid_t pid;
	int st;

	snprintf(v, sizeof v, "%d", n);
	long long t = now_us();
	pid = fork();
	if (pid == 0) {
		execl(okof, okof, "put", "--no-sync", "k", v, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "watchlat: okof put failed\n");
		exit(1);
	}
	return t;
}

static int
cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	if (argc < 6 || strcmp(argv[4], "--") != 0) {
		fprintf(stderr, "usage: watchlat OKOF ROUNDS LINE -- WATCHER "
				"[ARG...]\n");
		return 2;
	}
	const char *okof = argv[1], *want = argv[3];
	int rounds = atoi(argv[2]);
	int p[2];
	if (rounds < 1 || pipe(p) != 0)
		return 2;
	pid_t w = fork();
	if (w == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execvp(argv[5], argv + 5);
		_exit(127);
	}
	close(p[1]);
	/* Until the watcher has read its state and answers. */
	int n = 0;
	do
		put(okof, ++n);
	while (!wait_line(p[0], want, 200) && n < 100);
	usleep(200000);
	while (wait_line(p[0], want, 50))
		;
	long long *lat = calloc((size_t)rounds, sizeof *lat);
	long long *all = calloc((size_t)rounds, sizeof *all);
	for (int i = 0; i < rounds; i++) {
		long long ts = put(okof, ++n);
		long long t0 = now_us();
		if (!wait_line(p[0], want, 5000)) {
			fprintf(stderr, "watchlat: no report in 5 s\n");
			return 1;
		}
		lat[i] = now_us() - t0;
		all[i] = now_us() - ts;
		/* Drain a second report of the same put, if any (a
		 * watcher that reports create and rename both). */
		usleep(2000);
		while (wait_line(p[0], want, 0))
			;
	}
	kill(w, SIGTERM);
	waitpid(w, NULL, 0);
	qsort(lat, (size_t)rounds, sizeof *lat, cmp);
	qsort(all, (size_t)rounds, sizeof *all, cmp);
	printf("%lld %lld %lld\n", lat[rounds / 2], lat[rounds * 9 / 10],
	       all[rounds / 2]);
	free(lat);
	free(all);
	return 0;
}
