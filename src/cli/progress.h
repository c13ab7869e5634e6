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
	double start, last;
	int drawn;
};

void progress_init(struct progress *p, const char *label);
void progress_tick(struct progress *p, uint64_t n, uint64_t bytes);
void progress_done(struct progress *p);

#endif
