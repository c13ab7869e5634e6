/*
 * spawnbench.c - the per-process cost of two commands, measured side by
 * side: each round runs A once and B once (the order alternating), with
 * standard output to /dev/null, and the medians are printed.
 *
 *   spawnbench ROUNDS A [ARGS...] -- B [ARGS...]
 *
 * Prints "a_median_us b_median_us ratio" and fails if any run fails.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double
run(char **argv, posix_spawn_file_actions_t *fa)
{
	pid_t pid;
	int st;
	double t0 = now_us();

	if (posix_spawn(&pid, argv[0], fa, NULL, argv, environ) != 0) {
		perror(argv[0]);
		exit(2);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "spawnbench: %s failed\n", argv[0]);
		exit(2);
	}
	return now_us() - t0;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	int rounds, split = -1;

	if (argc < 5)
		goto usage;
	rounds = atoi(argv[1]);
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			split = i;
	if (rounds <= 0 || split < 3 || split == argc - 1)
		goto usage;
	argv[split] = NULL;
	char **a = argv + 2, **b = argv + split + 1;
	double *ta = malloc(sizeof *ta * (size_t)rounds);
	double *tb = malloc(sizeof *tb * (size_t)rounds);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	for (int r = 0; r < rounds; r++) {
		if (r % 2 == 0) {
			ta[r] = run(a, &fa);
			tb[r] = run(b, &fa);
		} else {
			tb[r] = run(b, &fa);
			ta[r] = run(a, &fa);
		}
	}
	qsort(ta, (size_t)rounds, sizeof *ta, cmp);
	qsort(tb, (size_t)rounds, sizeof *tb, cmp);
	double ma = ta[rounds / 2], mb = tb[rounds / 2];
	printf("%.1f %.1f %.3f\n", ma, mb, ma / mb);
	return 0;
usage:
	fputs("usage: spawnbench ROUNDS A [ARGS...] -- B [ARGS...]\n", stderr);
	return 2;
}
