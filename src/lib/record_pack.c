/* record_pack.c - see record_pack.h. */
#include "record_pack.h"

#include <pthread.h>
#include <stdlib.h>

#include "codec.h"

struct packer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int job, quit;
	const void *in; /* the job: in/len -> out */
	size_t len, threshold;
	void *out;
	int codec; /* the result */
	const void *stored;
	size_t slen;
};

static void *
packer_main(void *arg)
{
	struct packer *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->job && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit)
			break;
		pthread_mutex_unlock(&p->mu);
		p->codec = codec_pack(p->in, p->len, p->threshold, p->out,
				      &p->stored, &p->slen);
		pthread_mutex_lock(&p->mu);
		p->job = 0;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct packer *
packer_start(void)
{
	struct packer *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return NULL;
	}
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return NULL;
	}
	if (pthread_create(&p->thread, NULL, packer_main, p) != 0) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		free(p);
		return NULL;
	}
	return p;
}

void
packer_submit(struct packer *p, const void *in, size_t len, size_t threshold,
	      void *out)
{
	pthread_mutex_lock(&p->mu);
	p->in = in;
	p->len = len;
	p->threshold = threshold;
	p->out = out;
	p->job = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
packer_wait(struct packer *p, const void **stored, size_t *slen)
{
	pthread_mutex_lock(&p->mu);
	while (p->job)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	*stored = p->stored;
	*slen = p->slen;
	return p->codec;
}

void
packer_stop(struct packer *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
