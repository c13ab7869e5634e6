/*
 * record_pack.h - the compression worker: a thread that compresses one
 * chunk while the writer reads and compresses the next, so a large
 * compressible value streams in at the speed of two cores.
 *
 *	p = packer_start();		NULL: go on with one core
 *	packer_submit(p, in, len, threshold, out);
 *	... the caller works on another chunk ...
 *	codec = packer_wait(p, &stored, &slen);
 *	packer_stop(p);
 *
 * in and out belong to the caller and must stay untouched between
 * submit and wait.
 */
#ifndef OKOF_RECORD_PACK_H
#define OKOF_RECORD_PACK_H

#include <stddef.h>

struct packer;

struct packer *packer_start(void);

/* Compresses in/len into out (codec_pack() of codec.h) in the worker. */
void packer_submit(struct packer *p, const void *in, size_t len,
		   size_t threshold, void *out);

/* Waits for the job; returns its codec and where its stored bytes are
 * (out or in). */
int packer_wait(struct packer *p, const void **stored, size_t *slen);

/* Ends the worker; NULL is allowed. */
void packer_stop(struct packer *p);

#endif
