/*
 * record_write.c - writing a record: the value streamed in, cut into
 * chunks, compressed (a worker thread takes every other chunk, see
 * record_pack.h) or sealed, and the header written last.
 */
#include "record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "codec.h"
#include "crc32c.h"
#include "endian.h"
#include "io.h"
#include "record_pack.h"

/* Output is gathered and written in pieces of about this size. */
#define OUT_CAP (256 * 1024)

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
	out_cap = w->hlen + (cap < OKOF_CHUNK_SIZE
				     ? REC_CHUNK_HDR + cb + REC_ABYTES
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
	unsigned char ad[REC_START_AD_LEN + REC_FINAL_AD_LEN], *plain = w->cbuf;

	memcpy(plain, w->keycopy, w->key_plain_len);
	rec_start_ad(&w->h, w->cr, ad);
	if (last)
		rec_final_ad(&w->h, ad + REC_START_AD_LEN); /* an empty value */
	crypto_secretstream_xchacha20poly1305_push(
		&w->ss, w->keycopy, NULL, plain, w->key_plain_len, ad,
		REC_START_AD_LEN + (last ? REC_FINAL_AD_LEN : 0),
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
		unsigned char ad[8 + 12 + REC_FINAL_AD_LEN];
		size_t adlen = 8 + 12;
		st64(ad, w->h.nchunks);
		memcpy(ad + 8, ch, 12);
		if (last) {
			struct rec_header fin = w->h;
			fin.value_len += raw_len;
			fin.nchunks++;
			rec_final_ad(&fin, ad + adlen);
			adlen += REC_FINAL_AD_LEN;
		}
		crypto_secretstream_xchacha20poly1305_push(
			&w->ss, w->ebuf, NULL, stored, slen, ad, adlen,
			last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
			     : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
		stored = w->ebuf;
		slen += REC_ABYTES;
	}
	st32(ch + 12, rec_chunk_crc(w->seed, w->h.nchunks, ch, stored, slen));

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

	const void *pstored;
	size_t pslen;

	codec = codec_pack(w->raw, w->raw_len, t, w->cbuf, &stored, &slen);
	int pcodec = packer_wait(p, &pstored, &pslen);
	pack_result(w, w->pend_len, w->threshold, pcodec);
	pack_result(w, w->raw_len, t, codec);
	rc = put_packed(w, w->pend_len, pcodec, pstored, pslen, 0);
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
	    (w->packer || (w->packer = packer_start()) != NULL)) {
		unsigned char *tmp = w->pend;
		w->pend = w->raw;
		w->raw = tmp;
		w->pend_len = w->raw_len;
		w->raw_len = 0;
		packer_submit(w->packer, w->pend, w->pend_len, w->threshold,
			      w->cbuf2);
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
			w->raw_len =
				left < OKOF_CHUNK_SIZE ? left : OKOF_CHUNK_SIZE;
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
	packer_stop(w->packer);
	w->packer = NULL;
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
	packer_stop(w->packer);
	w->packer = NULL;
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
