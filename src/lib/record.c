/* record.c - see record.h and okof(5). */
#include "record.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "codec.h"
#include "crc32c.h"
#include "endian.h"
#include "io.h"

/* Output is gathered and written in pieces of about this size. */
#define OUT_CAP (256 * 1024)
/* Read-ahead for readers: one whole chunk of any valid size fits. */
#define IN_MIN (256 * 1024)

/*
 * The fixed part of a record's header, field by field (okof(5)): the
 * one table that encoding, decoding and the sealing's associated data
 * are all written from.
 */
enum {
	RH_MAGIC = 0,	    /* 8 bytes: "OKOFREC" and a NUL */
	RH_VERSION = 8,	    /* u16 */
	RH_FLAGS = 10,	    /* u16: REC_F_* */
	RH_KEY_LEN = 12,    /* u32: bytes of key (sealed: with its tag) */
	RH_CHUNK_SIZE = 16, /* u32: raw value bytes per chunk */
	RH_RESERVED = 20,   /* u32: zero */
	RH_VALUE_LEN = 24,  /* u64 */
	RH_NCHUNKS = 32,    /* u64 */
	RH_MTIME = 40,	    /* u64: Unix nanoseconds */
	RH_EXPIRES = 48,    /* u64: Unix seconds, 0: never */
	RH_STREAM = 56,	    /* 24 bytes: secretstream header, or zero */
	RH_END = 80
};

_Static_assert(RH_END == REC_FIXED, "record header layout");
_Static_assert(RH_STREAM + sizeof ((struct rec_header *)0)->stream == RH_END,
	       "record header: stream field");

/* Writes h's fixed fields (not the key or the CRC) to out[REC_FIXED]. */
static void
fixed_encode(const struct rec_header *h, unsigned char *out)
{
	memcpy(out + RH_MAGIC, REC_MAGIC, 8);
	st16(out + RH_VERSION, h->version);
	st16(out + RH_FLAGS, h->flags);
	st32(out + RH_KEY_LEN, h->key_len);
	st32(out + RH_CHUNK_SIZE, h->chunk_size);
	st32(out + RH_RESERVED, 0);
	st64(out + RH_VALUE_LEN, h->value_len);
	st64(out + RH_NCHUNKS, h->nchunks);
	st64(out + RH_MTIME, (uint64_t)h->mtime_ns);
	st64(out + RH_EXPIRES, (uint64_t)h->expires);
	memcpy(out + RH_STREAM, h->stream, sizeof h->stream);
}

/*
 * A chunk's checksum covers its index and its header, so chunks cannot
 * be reordered or dropped unnoticed, and starts from a seed made of the
 * key, so a chunk cannot be spliced in from another key's record.  (The
 * header's own CRC would bind tighter, but it is only known once the
 * whole value has streamed through.)
 */
static uint32_t
chunk_crc(uint32_t seed, uint64_t index, const unsigned char *ch,
	  const void *data, size_t len)
{
	unsigned char idx[8];

	st64(idx, index);
	return crc32c(crc32c(crc32c(seed, idx, 8), ch, 12), data, len);
}

static uint64_t
chunks_for(uint64_t value_len, uint32_t chunk_size)
{
	return value_len / chunk_size + (value_len % chunk_size != 0);
}

/*
 * What a sealed key is authenticated with: the header fields known when
 * a record starts (the others are zero here), its file name and its
 * store's salt.  So a record moved to another name, or copied into
 * another store, fails to open.
 */
#define START_AD_LEN (REC_FIXED + REC_NAME_LEN + REC_SALT_LEN)

static void
start_ad(const struct rec_header *h, const struct rec_crypto *cr,
	 unsigned char *ad)
{
	struct rec_header known = {
		.version = h->version,
		.flags = h->flags & (REC_F_ENCRYPTED | REC_F_EXPIRES),
		.key_len = h->key_len,
		.chunk_size = h->chunk_size,
		.expires = h->expires,
	};

	memcpy(known.stream, h->stream, sizeof known.stream);
	fixed_encode(&known, ad);
	memcpy(ad + REC_FIXED, cr->name, REC_NAME_LEN);
	memcpy(ad + REC_FIXED + REC_NAME_LEN, cr->salt, REC_SALT_LEN);
}

/*
 * The stream's last message (the last chunk, or the key of an empty
 * value) is also authenticated with the header fields only known at the
 * end: flags, lengths, chunk count, mtime (the fixed fields from the
 * version to the expiry).  So no header bit can change.
 */
#define FINAL_AD_LEN (RH_STREAM - RH_VERSION)

static void
final_ad(const struct rec_header *h, unsigned char *ad)
{
	unsigned char fixed[REC_FIXED];

	fixed_encode(h, fixed);
	memcpy(ad, fixed + RH_VERSION, FINAL_AD_LEN);
}

int
rec_unseal_key(const struct rec_header *h, const struct rec_crypto *cr,
	       crypto_secretstream_xchacha20poly1305_state *st,
	       unsigned char *out)
{
	unsigned char ad[START_AD_LEN + FINAL_AD_LEN], tag;
	unsigned long long mlen;
	size_t adlen = START_AD_LEN;

	start_ad(h, cr, ad);
	if (h->nchunks == 0) {
		final_ad(h, ad + START_AD_LEN);
		adlen += FINAL_AD_LEN;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(st, h->stream,
							    cr->key) != 0 ||
	    crypto_secretstream_xchacha20poly1305_pull(
		    st, out, &mlen, &tag, h->key, h->key_len, ad, adlen) != 0)
		return OKOF_ECORRUPT;
	/* An empty value ends the stream with the key. */
	if (tag != (h->nchunks == 0
			    ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
			    : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
		return OKOF_ECORRUPT;
	return 0;
}

void
rec_header_encode(struct rec_header *h, unsigned char *out)
{
	fixed_encode(h, out);
	memcpy(out + REC_FIXED, h->key, h->key_len);
	h->crc = crc32c(0, out, REC_FIXED + h->key_len);
	st32(out + REC_FIXED + h->key_len, h->crc);
}

ssize_t
rec_header_decode(const unsigned char *buf, size_t avail,
		  struct rec_header *h, const char **detail, int no_crc)
{
	static const unsigned char zero[24];

	if (avail < REC_FIXED)
		return 0;
	if (memcmp(buf + RH_MAGIC, REC_MAGIC, 8) != 0) {
		*detail = "not a record (bad magic)";
		return -1;
	}
	h->version = ld16(buf + RH_VERSION);
	h->flags = ld16(buf + RH_FLAGS);
	h->key_len = ld32(buf + RH_KEY_LEN);
	h->chunk_size = ld32(buf + RH_CHUNK_SIZE);
	h->value_len = ld64(buf + RH_VALUE_LEN);
	h->nchunks = ld64(buf + RH_NCHUNKS);
	h->mtime_ns = (int64_t)ld64(buf + RH_MTIME);
	h->expires = (int64_t)ld64(buf + RH_EXPIRES);
	memcpy(h->stream, buf + RH_STREAM, sizeof h->stream);
	if (h->version != REC_VERSION) {
		*detail = "unknown record version";
		return -1;
	}
	if (h->key_len == 0 || h->key_len > OKOF_KEY_MAX + 64) {
		*detail = "bad key length";
		return -1;
	}
	size_t hlen = rec_header_len(h->key_len);
	if (avail < hlen)
		return 0;
	h->key = buf + REC_FIXED;
	h->crc = ld32(buf + REC_FIXED + h->key_len);
	if (!no_crc && crc32c(0, buf, REC_FIXED + h->key_len) != h->crc) {
		*detail = "header checksum mismatch";
		return -1;
	}
	/* The checksum matched: what follows catches writers' bugs and
	 * crafted files rather than torn ones. */
	if ((h->flags & ~REC_F_KNOWN) != 0 || ld32(buf + RH_RESERVED) != 0) {
		*detail = "unknown header flags";
		return -1;
	}
	if ((h->flags & REC_F_ENCRYPTED) &&
	    (h->key_len <= REC_ABYTES || h->key_len > OKOF_KEY_MAX + REC_ABYTES)) {
		*detail = "bad key";
		return -1;
	}
	if (!(h->flags & REC_F_ENCRYPTED) &&
	    (h->key_len > OKOF_KEY_MAX ||
	     memchr(h->key, 0, h->key_len) != NULL ||
	     memcmp(h->stream, zero, sizeof zero) != 0)) {
		*detail = "bad key";
		return -1;
	}
	if (h->chunk_size < REC_CHUNK_MIN || h->chunk_size > REC_CHUNK_MAX ||
	    h->nchunks != chunks_for(h->value_len, h->chunk_size)) {
		*detail = "bad chunk layout";
		return -1;
	}
	if (((h->flags & REC_F_EXPIRES) != 0) != (h->expires != 0) ||
	    h->expires < 0) {
		*detail = "bad expiry";
		return -1;
	}
	return (ssize_t)hlen;
}

static int writer_start(struct rec_writer *w, int fd, const void *key,
			size_t klen, size_t threshold, int64_t expires,
			const struct rec_crypto *cr, int keep_buffers);

int
recw_init(struct rec_writer *w, int fd, const void *key, size_t klen,
	  size_t threshold, int64_t expires, const struct rec_crypto *cr)
{
	memset(w, 0, sizeof *w);
	return writer_start(w, fd, key, klen, threshold, expires, cr, 0);
}

int
recw_again(struct rec_writer *w, int fd, const void *key, size_t klen,
	   size_t threshold, int64_t expires, const struct rec_crypto *cr)
{
	return writer_start(w, fd, key, klen, threshold, expires, cr, 1);
}

/*
 * A writer starts with buffers for SMALL_CAP bytes of value and grows
 * them to a whole chunk only when more comes: a put of a few bytes then
 * stays in the heap it already has, where whole-chunk buffers (400 KiB
 * with the output) cost a mapping, a page fault per page touched and an
 * unmapping, a tenth of a small put's time on a virtual machine.
 */
#define SMALL_CAP 4096

/* Replaces *p by n bytes that start with its first keep bytes; the old
 * buffer is wiped first when it may hold plaintext. */
static int
regrow(unsigned char **p, size_t old, size_t n, size_t keep, int wipe)
{
	unsigned char *q = malloc(n);

	if (!q)
		return -ENOMEM;
	if (*p) {
		memcpy(q, *p, keep);
		if (wipe)
			sodium_memzero(*p, old);
		free(*p);
	}
	*p = q;
	return 0;
}

/* Makes the buffers hold chunks of up to cap raw bytes (and the key,
 * which cbuf holds while it is sealed), keeping what raw and out hold.
 * 0 or -ENOMEM, with the buffers as they were or bigger. */
static int
writer_fit(struct rec_writer *w, size_t cap)
{
	size_t cb = codec_bound(cap), out_cap;
	int wipe = w->cr != NULL;

	if (cb < w->key_plain_len)
		cb = w->key_plain_len;
	out_cap = w->hlen +
		  (cap < OKOF_CHUNK_SIZE ? REC_CHUNK_HDR + cb + REC_ABYTES
					 : OUT_CAP);
	if (w->raw_cap < cap) {
		if (regrow(&w->raw, w->raw_cap, cap, w->raw_len, wipe) < 0)
			return -ENOMEM;
		w->raw_cap = cap;
	}
	if (w->cbuf_cap < cb) {
		/* Scratch between chunks: nothing in it to keep. */
		if (regrow(&w->cbuf, w->cbuf_cap, cb, 0, wipe) < 0)
			return -ENOMEM;
		free(w->ebuf);
		w->ebuf = NULL;
		w->cbuf_cap = cb;
	}
	if (w->cr && !w->ebuf && !(w->ebuf = malloc(cb + REC_ABYTES)))
		return -ENOMEM;
	if (w->out_alloc < out_cap) {
		if (regrow(&w->out, w->out_alloc, out_cap, w->out_len, 0) < 0)
			return -ENOMEM;
		w->out_alloc = out_cap;
	}
	w->out_cap = out_cap;
	return 0;
}

static int
writer_start(struct rec_writer *w, int fd, const void *key, size_t klen,
	     size_t threshold, int64_t expires, const struct rec_crypto *cr,
	     int keep_buffers)
{
	size_t stored_klen = klen + (cr ? REC_ABYTES : 0);

	/* recw_again() keeps the buffers from one record to the next: an
	 * import of many small records would otherwise grow and trim the
	 * heap for every one. */
	struct rec_writer keep = *w;
	memset(w, 0, sizeof *w);
	if (keep_buffers) {
		w->raw = keep.raw;
		w->raw_cap = keep.raw_cap;
		memcpy(w->ahead, keep.ahead, sizeof w->ahead);
		w->cbuf = keep.cbuf;
		w->cbuf_cap = keep.cbuf_cap;
		w->pend = keep.pend;
		w->cbuf2 = keep.cbuf2;
		w->out = keep.out;
		w->out_alloc = keep.out_alloc;
		w->keycopy = keep.keycopy;
		w->key_alloc = keep.key_alloc;
		w->ebuf = keep.ebuf;
		w->packer = keep.packer;
	}
	w->fd = fd;
	w->cr = cr;
	w->threshold = threshold;
	w->hlen = rec_header_len(stored_klen);
	if (cr)
		w->key_plain_len = klen;
	if (w->key_alloc < stored_klen) {
		free(w->keycopy);
		w->keycopy = malloc(stored_klen);
		w->key_alloc = w->keycopy ? stored_klen : 0;
	}
	if (!w->keycopy ||
	    writer_fit(w, w->raw_cap > SMALL_CAP ? w->raw_cap : SMALL_CAP) <
		    0) {
		recw_free(w);
		return -ENOMEM;
	}
	w->h.version = REC_VERSION;
	w->h.key_len = (uint32_t)stored_klen;
	w->h.key = w->keycopy;
	if (cr) {
		w->h.flags |= REC_F_ENCRYPTED;
		crypto_secretstream_xchacha20poly1305_init_push(
			&w->ss, w->h.stream, cr->key);
		/* Sealed once we know whether a chunk follows. */
		memcpy(w->keycopy, key, klen);
	} else {
		memcpy(w->keycopy, key, klen);
		w->seed = crc32c(0, key, klen);
	}
	w->h.chunk_size = OKOF_CHUNK_SIZE;
	w->h.expires = expires;
	if (expires != 0)
		w->h.flags |= REC_F_EXPIRES;
	/* The header slot is filled in by recw_finish(). */
	memset(w->out, 0, w->hlen);
	w->out_len = w->hlen;
	return 0;
}

/*
 * A long value asks the kernel to start writing each WRITE_BEHIND bytes
 * back as soon as they are written: with gigabytes of RAM nothing else
 * starts writeback before the fsync, which then found the whole value
 * to write while the disk had idled.
 */
#define WRITE_BEHIND (8u << 20)

static int
flush_out(struct rec_writer *w)
{
	int rc = io_write_all(w->fd, w->out, w->out_len);
	if (rc < 0)
		return rc;
	w->written += w->out_len;
	w->out_len = 0;
	w->flushed = 1;
	if (w->write_behind && w->written - w->behind >= WRITE_BEHIND) {
		rc = io_write_behind(w->fd, w->behind, w->written - w->behind);
		if (rc == -EINVAL || rc == -ENOSYS || rc == -EOPNOTSUPP ||
		    rc == -ESPIPE) {
			w->write_behind = 0; /* not here: the fsync does it */
			rc = 0;
		}
		w->behind = w->written;
	}
	return rc;
}

/* Seals the key, the stream's first message; last if the value is empty. */
static void
seal_key(struct rec_writer *w, int last)
{
	unsigned char ad[START_AD_LEN + FINAL_AD_LEN], *plain = w->cbuf;

	memcpy(plain, w->keycopy, w->key_plain_len);
	start_ad(&w->h, w->cr, ad);
	if (last)
		final_ad(&w->h, ad + START_AD_LEN); /* an empty value */
	crypto_secretstream_xchacha20poly1305_push(
		&w->ss, w->keycopy, NULL, plain, w->key_plain_len, ad,
		START_AD_LEN + (last ? FINAL_AD_LEN : 0),
		last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
		     : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	sodium_memzero(plain, w->key_plain_len);
	w->seed = crc32c(0, w->keycopy, w->h.key_len);
	w->key_sealed = 1;
}

/*
 * Seals (for an encrypted record), checksums and appends one chunk
 * whose stored form is already made: raw_len raw bytes, stored/slen
 * under codec.  Chunks must come in order: index is the chunk count.
 */
static int
put_packed(struct rec_writer *w, size_t raw_len, int codec,
	   const void *stored, size_t slen, int last)
{
	unsigned char ch[REC_CHUNK_HDR];
	int rc;

	if (codec != CODEC_RAW)
		w->h.flags |= REC_F_COMPRESSED;
	st32(ch, (uint32_t)(slen + (w->cr ? REC_ABYTES : 0)));
	st32(ch + 4, (uint32_t)raw_len);
	st32(ch + 8, (uint32_t)codec);
	if (w->cr) {
		/* Compressed first, then sealed; the chunk's index and
		 * header are authenticated with it, and with the last
		 * chunk the header as it will be when this one is in. */
		unsigned char ad[8 + 12 + FINAL_AD_LEN];
		size_t adlen = 8 + 12;
		st64(ad, w->h.nchunks);
		memcpy(ad + 8, ch, 12);
		if (last) {
			struct rec_header fin = w->h;
			fin.value_len += raw_len;
			fin.nchunks++;
			final_ad(&fin, ad + adlen);
			adlen += FINAL_AD_LEN;
		}
		crypto_secretstream_xchacha20poly1305_push(
			&w->ss, w->ebuf, NULL, stored, slen, ad, adlen,
			last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
			     : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
		stored = w->ebuf;
		slen += REC_ABYTES;
	}
	st32(ch + 12, chunk_crc(w->seed, w->h.nchunks, ch, stored, slen));

	if (w->out_len + REC_CHUNK_HDR + slen > w->out_cap) {
		rc = flush_out(w);
		if (rc < 0)
			return rc;
	}
	memcpy(w->out + w->out_len, ch, REC_CHUNK_HDR);
	w->out_len += REC_CHUNK_HDR;
	if (w->out_len + slen > w->out_cap) {
		/* Cannot happen with OUT_CAP > a chunk's bound; kept so an
		 * edit of the constants cannot overflow the buffer. */
		rc = flush_out(w);
		if (rc == 0)
			rc = io_write_all(w->fd, stored, slen);
		if (rc < 0)
			return rc;
	} else {
		memcpy(w->out + w->out_len, stored, slen);
		w->out_len += slen;
	}
	w->h.nchunks++;
	w->h.value_len += raw_len;
	return 0;
}

/*
 * The second core: compression is the costly part of storing text, so
 * chunks that will be compressed go in pairs, the first compressed on
 * a worker thread while this one compresses the second.  Everything
 * after compression (sealing, checksums, output) stays here, in order.
 */
struct packer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int job, quit;
	const void *in;		/* the job: in/len -> out */
	size_t len, threshold;
	void *out;
	int codec;		/* the result */
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

/* Starts the worker; 0, or -1 to go on with one core. */
static int
packer_start(struct rec_writer *w)
{
	struct packer *p = calloc(1, sizeof *p);

	if (!p)
		return -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, packer_main, p) != 0) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		free(p);
		return -1;
	}
	w->packer = p;
	return 0;
}

static void
packer_stop(struct rec_writer *w)
{
	struct packer *p = w->packer;

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
	w->packer = NULL;
}

/* Hands the staged chunk to the worker, which compresses it while
 * this thread reads the next one. */
static void
packer_submit(struct rec_writer *w)
{
	struct packer *p = w->packer;

	pthread_mutex_lock(&p->mu);
	p->in = w->pend;
	p->len = w->pend_len;
	p->threshold = w->threshold;
	p->out = w->cbuf2;
	p->job = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/*
 * Data that did not compress (already compressed media, random bytes)
 * is not tried again for a while: after each such chunk, the next
 * 1, 2, 4 ... up to PACK_SKIP_MAX chunks are stored as they are.  One
 * that compresses resets the run.  So text costs nothing, and a large
 * incompressible value is stored at the speed of a copy.
 */
#define PACK_SKIP_MAX 16

static size_t
pack_threshold(struct rec_writer *w)
{
	if (w->skip == 0)
		return w->threshold;
	w->skip--;
	return SIZE_MAX;
}

static void
pack_result(struct rec_writer *w, size_t raw_len, size_t threshold,
	    int codec)
{
	if (raw_len <= threshold)
		return; /* not tried */
	if (codec != CODEC_RAW) {
		w->backoff = 0;
		return;
	}
	w->backoff = w->backoff ? w->backoff * 2 : 1;
	if (w->backoff > PACK_SKIP_MAX)
		w->backoff = PACK_SKIP_MAX;
	w->skip = w->backoff;
}

/* Emits the staged chunk (compressed by the worker meanwhile) and the
 * current one. */
static int
emit_pair(struct rec_writer *w, int last)
{
	struct packer *p = w->packer;
	const void *stored;
	size_t slen, t = pack_threshold(w);
	int codec, rc;

	codec = codec_pack(w->raw, w->raw_len, t, w->cbuf, &stored, &slen);

	pthread_mutex_lock(&p->mu);
	while (p->job)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);

	pack_result(w, w->pend_len, w->threshold, p->codec);
	pack_result(w, w->raw_len, t, codec);
	rc = put_packed(w, w->pend_len, p->codec, p->stored, p->slen, 0);
	w->pend_len = 0;
	if (rc == 0)
		rc = put_packed(w, w->raw_len, codec, stored, slen, last);
	w->raw_len = 0;
	return rc;
}

/* Encodes the pending raw chunk into the output; last: no more follow. */
static int
emit_chunk(struct rec_writer *w, int last)
{
	const void *stored;
	size_t slen, t;
	int codec, rc;

	if (w->cr && !w->key_sealed)
		seal_key(w, 0);
	if (w->pend_len > 0)
		return emit_pair(w, last);
	t = pack_threshold(w);
	/* A full chunk that will be compressed goes to the worker (with
	 * one core's worth of memory and threads, if those run out). */
	if (!last && w->raw_len > t && !w->pend) {
		w->pend = malloc(OKOF_CHUNK_SIZE);
		w->cbuf2 = malloc(codec_bound(OKOF_CHUNK_SIZE));
		if (!w->pend || !w->cbuf2) {
			free(w->pend);
			free(w->cbuf2);
			w->pend = w->cbuf2 = NULL;
			w->no_pairs = 1;
		}
	}
	if (!last && w->raw_len > t && !w->no_pairs &&
	    (w->packer || packer_start(w) == 0)) {
		unsigned char *tmp = w->pend;
		w->pend = w->raw;
		w->raw = tmp;
		w->pend_len = w->raw_len;
		w->raw_len = 0;
		packer_submit(w);
		return 0;
	}
	codec = codec_pack(w->raw, w->raw_len, t, w->cbuf, &stored, &slen);
	pack_result(w, w->raw_len, t, codec);
	rc = put_packed(w, w->raw_len, codec, stored, slen, last);
	w->raw_len = 0;
	return rc;
}

int
recw_write(struct rec_writer *w, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		/* A full chunk goes out only now that more data follows. */
		int rc = 0;
		if (w->raw_len == OKOF_CHUNK_SIZE)
			rc = emit_chunk(w, 0);
		else if (w->raw_len == w->raw_cap)
			rc = writer_fit(w, OKOF_CHUNK_SIZE);
		if (rc < 0)
			return rc;
		size_t take = w->raw_cap - w->raw_len;
		if (take > len)
			take = len;
		memcpy(w->raw + w->raw_len, p, take);
		w->raw_len += take;
		p += take;
		len -= take;
	}
	return 0;
}

int
recw_copy_fd(struct rec_writer *w, int in, int *in_failed)
{
	*in_failed = 0;
	for (;;) {
		struct iovec iov[1 + REC_AHEAD];
		int niov = 0, rc;

		if (w->raw_len == w->raw_cap && w->raw_cap < OKOF_CHUNK_SIZE &&
		    (rc = writer_fit(w, OKOF_CHUNK_SIZE)) < 0)
			return rc;
		/* The rest of the chunk and, with whole chunks, spare ones
		 * after it: a full chunk goes out only once more data has
		 * come, and a few chunks a read spare system calls. */
		size_t room = w->raw_cap - w->raw_len;
		if (room > 0) {
			iov[niov].iov_base = w->raw + w->raw_len;
			iov[niov++].iov_len = room;
		}
		if (w->raw_cap == OKOF_CHUNK_SIZE) {
			for (int i = 0; i < REC_AHEAD; i++) {
				if (!w->ahead[i] &&
				    !(w->ahead[i] = malloc(OKOF_CHUNK_SIZE)))
					return -ENOMEM;
				iov[niov].iov_base = w->ahead[i];
				iov[niov++].iov_len = OKOF_CHUNK_SIZE;
			}
		}
		ssize_t n = readv(in, iov, niov);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*in_failed = 1;
			return -errno;
		}
		if (n == 0)
			return 0;
		if ((size_t)n <= room) {
			w->raw_len += (size_t)n;
			continue;
		}
		/* raw is full, and the rest came in the spare chunks, in
		 * order: each full chunk goes out, the next becomes raw. */
		size_t left = (size_t)n - room;
		w->raw_len = OKOF_CHUNK_SIZE;
		for (int i = 0; left > 0; i++) {
			if ((rc = emit_chunk(w, 0)) < 0)
				return rc;
			unsigned char *t = w->raw;
			w->raw = w->ahead[i];
			w->ahead[i] = t;
			w->raw_len = left < OKOF_CHUNK_SIZE ? left : OKOF_CHUNK_SIZE;
			left -= w->raw_len;
		}
	}
}

int
recw_finish(struct rec_writer *w, int64_t mtime_ns)
{
	int rc;

	w->h.mtime_ns = mtime_ns; /* before the last message seals it */
	if (w->raw_len > 0 && (rc = emit_chunk(w, 1)) < 0)
		return rc;
	packer_stop(w);
	if (w->cr && !w->key_sealed)
		seal_key(w, 1); /* an empty value */
	if (!w->flushed) {
		/* The common small value: header and data in one write. */
		rec_header_encode(&w->h, w->out);
		return flush_out(w);
	}
	if (w->out_len > 0 && (rc = flush_out(w)) < 0)
		return rc;
	unsigned char *hdr = malloc(w->hlen);
	if (!hdr)
		return -ENOMEM;
	rec_header_encode(&w->h, hdr);
	rc = io_pwrite_all(w->fd, hdr, w->hlen, 0);
	free(hdr);
	return rc;
}

void
recw_free(struct rec_writer *w)
{
	packer_stop(w);
	/* Plaintext may linger in these: wipe before freeing. */
	if (w->cr) {
		if (w->raw)
			sodium_memzero(w->raw, w->raw_cap);
		for (int i = 0; i < REC_AHEAD; i++)
			if (w->ahead[i])
				sodium_memzero(w->ahead[i], OKOF_CHUNK_SIZE);
		if (w->pend)
			sodium_memzero(w->pend, OKOF_CHUNK_SIZE);
		if (w->cbuf2)
			sodium_memzero(w->cbuf2, codec_bound(OKOF_CHUNK_SIZE));
		if (w->cbuf)
			sodium_memzero(w->cbuf, w->cbuf_cap);
		sodium_memzero(&w->ss, sizeof w->ss);
	}
	free(w->raw);
	for (int i = 0; i < REC_AHEAD; i++) {
		free(w->ahead[i]);
		w->ahead[i] = NULL;
	}
	free(w->pend);
	free(w->cbuf2);
	free(w->cbuf);
	free(w->out);
	free(w->keycopy);
	free(w->ebuf);
	w->raw = w->pend = w->cbuf = w->cbuf2 = w->out = NULL;
	w->keycopy = w->ebuf = NULL;
	w->out_alloc = w->key_alloc = w->raw_cap = w->cbuf_cap = 0;
}

/* Makes at least need bytes available at r->buf + r->pos.  Returns 1,
 * 0 at a premature end of file, or -errno. */
static int
fill(struct rec_reader *r, size_t need)
{
	if (r->end - r->pos >= need)
		return 1;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->end -= r->pos;
		r->pos = 0;
	}
	while (r->end < need) {
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		r->end += (size_t)n;
	}
	return 1;
}

static int
corrupt(struct rec_reader *r, const char *why)
{
	r->detail = why;
	return OKOF_ECORRUPT;
}

int
recr_open(struct rec_reader *r, int fd, uint64_t file_size, int no_crc,
	  const struct rec_crypto *cr)
{
	ssize_t hl;
	int rc;

	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->cr = cr;
	r->file_size = file_size;
	r->no_crc = no_crc;
	/* A small record is read whole by the first read(), into a buffer
	 * its own size; a large one gets room for its largest chunk once
	 * the header has said how large that is. */
	r->cap = file_size < IN_MIN ? (size_t)file_size + 1 : IN_MIN;
	if (r->cap < rec_header_len(OKOF_KEY_MAX + REC_ABYTES))
		r->cap = rec_header_len(OKOF_KEY_MAX + REC_ABYTES);
	r->buf = malloc(r->cap);
	if (!r->buf)
		return -ENOMEM;

	rc = fill(r, REC_FIXED);
	hl = rc > 0 ? rec_header_decode(r->buf, r->end, &r->h, &r->detail,
					no_crc)
		    : 0;
	if (hl == 0 && rc > 0) {
		/* The fixed part was good; read the rest of the header. */
		rc = fill(r, rec_header_len(r->h.key_len));
		if (rc > 0)
			hl = rec_header_decode(r->buf, r->end, &r->h,
					       &r->detail, no_crc);
	}
	if (rc < 0)
		return rc;
	if (rc == 0)
		return corrupt(r, "truncated header");
	if (hl <= 0)
		return corrupt(r, r->detail ? r->detail : "bad header");

	if (!cr != !(r->h.flags & REC_F_ENCRYPTED))
		return corrupt(r, cr ? "record is not encrypted"
				     : "record is encrypted");
	/* Buffers no larger than this record can need: a chunk holds at
	 * most value_len bytes, and a sealed chunk fits in the file. */
	r->raw_cap = r->h.value_len < r->h.chunk_size ? (size_t)r->h.value_len
						       : r->h.chunk_size;
	r->bound = r->h.chunk_size;
	if (cr || (r->h.flags & REC_F_COMPRESSED) || file_size > r->cap)
		r->bound = codec_bound(r->h.chunk_size);
	r->dbuf_cap = r->bound;
	if (file_size < r->dbuf_cap)
		r->dbuf_cap = (size_t)file_size;
	r->key = malloc(r->h.key_len);
	r->raw = malloc(r->raw_cap + 1);
	if (cr)
		r->dbuf = malloc(r->dbuf_cap + 1);
	if (!r->key || !r->raw || (cr && !r->dbuf))
		return -ENOMEM;
	r->seed = crc32c(0, r->h.key, r->h.key_len);
	if (cr) {
		if (rec_unseal_key(&r->h, cr, &r->ss, r->key) != 0)
			return corrupt(r, "authentication failed (key)");
		r->h.key_len -= REC_ABYTES;
	} else {
		memcpy(r->key, r->h.key, r->h.key_len);
	}
	r->h.key = r->key;
	/* Only now (h.key pointed into buf until here): room for a whole
	 * chunk of a record larger than the first buffer. */
	size_t need = IN_MIN + REC_CHUNK_HDR + r->bound + REC_ABYTES;
	if (file_size > r->cap && r->cap < need) {
		unsigned char *nb = realloc(r->buf, need);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = need;
	}
	r->pos = (size_t)hl;
	r->consumed = (uint64_t)hl;
	/* Every chunk has a header: a file shorter than that is cut short,
	 * and is caught before a single byte is returned. */
	if ((file_size - r->consumed) / REC_CHUNK_HDR < r->h.nchunks ||
	    file_size < r->consumed)
		return corrupt(r, "truncated record");
	return 0;
}

int
recr_next(struct rec_reader *r, const void **p, size_t *n)
{
	const unsigned char *ch;
	uint32_t slen, rlen, codec;
	int rc;

	if (r->next_chunk == r->h.nchunks) {
		if (r->consumed != r->file_size || r->end > r->pos)
			return corrupt(r, "trailing data after last chunk");
		return 0;
	}
	rc = fill(r, REC_CHUNK_HDR);
	if (rc <= 0)
		return rc < 0 ? rc : corrupt(r, "truncated record");
	ch = r->buf + r->pos;
	slen = ld32(ch);
	rlen = ld32(ch + 4);
	codec = ld32(ch + 8);
	uint64_t left = r->h.value_len - r->done;
	size_t ab = r->cr ? REC_ABYTES : 0;
	if (rlen != (left < r->h.chunk_size ? left : r->h.chunk_size) ||
	    slen < ab || slen > r->bound + ab ||
	    slen - ab > r->dbuf_cap ||
	    (codec != CODEC_RAW && codec != CODEC_SNAPPY) ||
	    (codec == CODEC_RAW && slen != rlen + ab))
		return corrupt(r, "bad chunk header");
	rc = fill(r, REC_CHUNK_HDR + (size_t)slen);
	if (rc <= 0)
		return rc < 0 ? rc : corrupt(r, "truncated record");
	ch = r->buf + r->pos;
	const unsigned char *data = ch + REC_CHUNK_HDR;
	if (!r->no_crc &&
	    chunk_crc(r->seed, r->next_chunk, ch, data, slen) != ld32(ch + 12))
		return corrupt(r, "chunk checksum mismatch");
	r->pos += REC_CHUNK_HDR + slen;
	r->consumed += REC_CHUNK_HDR + slen;
	if (r->cr) {
		unsigned char ad[8 + 12 + FINAL_AD_LEN], tag;
		unsigned long long mlen;
		size_t adlen = 8 + 12;
		int last = r->next_chunk + 1 == r->h.nchunks;
		st64(ad, r->next_chunk);
		memcpy(ad + 8, ch, 12);
		if (last) {
			/* As stored: the sealed key's length. */
			struct rec_header fin = r->h;
			fin.key_len += REC_ABYTES;
			final_ad(&fin, ad + adlen);
			adlen += FINAL_AD_LEN;
		}
		if (crypto_secretstream_xchacha20poly1305_pull(
			    &r->ss, r->dbuf, &mlen, &tag, data, slen, ad,
			    adlen) != 0)
			return corrupt(r, "authentication failed (chunk)");
		if (tag != (last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
				 : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
			return corrupt(r, "authentication failed (stream end)");
		data = r->dbuf;
		slen -= REC_ABYTES;
	}
	if (codec == CODEC_RAW) {
		*p = data;
	} else {
		if (codec_unpack((int)codec, data, slen, r->raw, rlen) != 0)
			return corrupt(r, "bad compressed chunk");
		*p = r->raw;
	}
	*n = rlen;
	r->done += rlen;
	r->next_chunk++;
	return 1;
}

void
recr_free(struct rec_reader *r)
{
	if (r->cr) {
		if (r->raw)
			sodium_memzero(r->raw, r->raw_cap);
		if (r->dbuf)
			sodium_memzero(r->dbuf, r->dbuf_cap);
		sodium_memzero(&r->ss, sizeof r->ss);
	}
	free(r->buf);
	free(r->raw);
	free(r->key);
	free(r->dbuf);
	r->buf = r->raw = r->key = r->dbuf = NULL;
}
