/*
 * progress.h - a progress meter for long commands.
 */
#ifndef OKOF_PROGRESS_H
#define OKOF_PROGRESS_H

#include <stdint.h>

/*
 * A one-line progress meter on standard error, drawn only when it is a
 * terminal and the work has run for half a second, erased at the end.
 */
struct progress {
	int on;
	const char *label;
	uint64_t n, bytes;
	uint64_t n_seen, bytes_seen; /* at the last look at the clock */
	double start, last;
	int drawn;
};

void progress_init(struct progress *p, const char *label);

/* Counts n more records and bytes more bytes: tick per record and as
 * the bytes of a large one stream.  Cheap: the clock is read every 64
 * records or 256 KiB, and the line redrawn at most every 0.1 s. */
void progress_tick(struct progress *p, uint64_t n, uint64_t bytes);
void progress_done(struct progress *p);

#endif
