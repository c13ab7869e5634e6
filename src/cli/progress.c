/* progress.c - see progress.h. */
#include "progress.h"

#include <inttypes.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
progress_init(struct progress *p, const char *label)
{
	memset(p, 0, sizeof *p);
	p->on = isatty(STDERR_FILENO);
	p->label = label;
	if (p->on)
		p->start = p->last = mono_now();
}

void
progress_tick(struct progress *p, uint64_t n, uint64_t bytes)
{
	p->n += n;
	p->bytes += bytes;
	if (!p->on ||
	    (p->n - p->n_seen < 64 && p->bytes - p->bytes_seen < 256 * 1024))
		return;
	p->n_seen = p->n;
	p->bytes_seen = p->bytes;
	double t = mono_now();
	if (t - p->start < 0.5 || t - p->last < 0.1)
		return;
	p->last = t;
	p->drawn = 1;
	double el = t - p->start;
	fprintf(stderr,
		"\r\033[Kokof: %s: %" PRIu64 " records, %.1f MiB, %.0f/s, "
		"%.1f s",
		p->label, p->n, (double)p->bytes / 1048576.0, (double)p->n / el,
		el);
	fflush(stderr);
}

void
progress_done(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = 0;
}
