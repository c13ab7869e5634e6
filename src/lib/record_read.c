/*
 * record_read.c - reading a record: the header checked, then the value
 * handed out chunk by chunk, each verified (checksum, or unsealed)
 * before it is returned.
 */
#include "record.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "crc32c.h"
#include "endian.h"
#include "io.h"

/* Read-ahead for readers: one whole chunk of any valid size fits. */
#define IN_MIN (256 * 1024)

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

/* The read-ahead buffer for a record of file_size bytes: a small one
 * whole (and one byte more, to see its end), a large one in pieces;
 * always room for the longest header. */
static size_t
buf_cap(uint64_t file_size)
{
	size_t cap = file_size < IN_MIN ? (size_t)file_size + 1 : IN_MIN;

	if (cap < rec_header_len(OKOF_KEY_MAX + REC_ABYTES))
		cap = rec_header_len(OKOF_KEY_MAX + REC_ABYTES);
	return cap;
}

/* Makes r->buf at least cap bytes, keeping what it holds. */
static int
grow(struct rec_reader *r, size_t cap)
{
	unsigned char *nb;

	if (cap <= r->cap)
		return 0;
	if (r->buf == r->small) {
		nb = malloc(cap);
		if (nb)
			memcpy(nb, r->buf, r->end);
	} else {
		nb = realloc(r->buf, cap);
	}
	if (!nb)
		return -ENOMEM;
	r->buf = nb;
	r->cap = cap;
	return 0;
}

/*
 * A record of unknown size: the first read is its size when it comes
 * back short.  A short read of a regular file is its end (records are
 * never written in place, and Linux cuts a read of a regular file short
 * only for a signal that ends the process); were it ever cut short
 * otherwise, the record would read as truncated (corrupt), never as
 * other bytes.  Only a record that fills r->small costs an fstat: that
 * saves the fstat of every small get.
 */
static int
learn_size(struct rec_reader *r)
{
	struct stat st;
	ssize_t n;

	do
		n = read(r->fd, r->buf, r->cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	r->end = (size_t)n;
	if ((size_t)n < r->cap) {
		r->file_size = (uint64_t)n;
		return 0;
	}
	if (fstat(r->fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return OKOF_ENOTFILE;
	r->file_size = (uint64_t)st.st_size;
	return grow(r, buf_cap(r->file_size));
}

int
recr_open(struct rec_reader *r, int fd, uint64_t file_size, int no_crc,
	  const struct rec_crypto *cr)
{
	ssize_t hl;
	int rc;

	recr_init(r);
	r->fd = fd;
	r->cr = cr;
	r->file_size = file_size;
	r->no_crc = no_crc;
	/* A small record is read whole by the first read(), into a buffer
	 * its own size; a large one gets room for its largest chunk once
	 * the header has said how large that is. */
	if (file_size == REC_SIZE_UNKNOWN) {
		r->buf = r->small;
		r->cap = sizeof r->small;
		if ((rc = learn_size(r)) != 0)
			return rc;
	} else {
		r->cap = buf_cap(file_size);
		r->buf = malloc(r->cap);
		if (!r->buf)
			return -ENOMEM;
	}
	file_size = r->file_size;

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
	/* One allocation: the key, then room to decompress a chunk (if
	 * any chunk is compressed), then to decrypt one (if sealed).  All
	 * three are bounded above (4 KiB, 1 MiB, snappy's bound of 1 MiB):
	 * the sum cannot overflow. */
	size_t rawn = (r->h.flags & REC_F_COMPRESSED) ? r->raw_cap + 1 : 0;
	size_t dbufn = cr ? r->dbuf_cap + 1 : 0;
	r->key = malloc(r->h.key_len + rawn + dbufn);
	if (!r->key)
		return -ENOMEM;
	r->raw = rawn ? r->key + r->h.key_len : NULL;
	r->dbuf = dbufn ? r->key + r->h.key_len + rawn : NULL;
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
	if (file_size > r->cap && (rc = grow(r, need)) != 0)
		return rc;
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
	if (!r->no_crc && rec_chunk_crc(r->seed, r->next_chunk, ch, data,
					slen) != ld32(ch + 12))
		return corrupt(r, "chunk checksum mismatch");
	r->pos += REC_CHUNK_HDR + slen;
	r->consumed += REC_CHUNK_HDR + slen;
	if (r->cr) {
		unsigned char ad[8 + 12 + REC_FINAL_AD_LEN], tag;
		unsigned long long mlen;
		size_t adlen = 8 + 12;
		int last = r->next_chunk + 1 == r->h.nchunks;
		st64(ad, r->next_chunk);
		memcpy(ad + 8, ch, 12);
		if (last) {
			/* As stored: the sealed key's length. */
			struct rec_header fin = r->h;
			fin.key_len += REC_ABYTES;
			rec_final_ad(&fin, ad + adlen);
			adlen += REC_FINAL_AD_LEN;
		}
		if (crypto_secretstream_xchacha20poly1305_pull(
			    &r->ss, r->dbuf, &mlen, &tag, data, slen, ad,
			    adlen) != 0)
			return corrupt(r, "authentication failed (chunk)");
		if (tag !=
		    (last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
			  : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
			return corrupt(r, "authentication failed (stream end)");
		data = r->dbuf;
		slen -= REC_ABYTES;
	}
	if (codec == CODEC_RAW) {
		*p = data;
	} else {
		if (!r->raw)
			return corrupt(r, "compressed chunk in a record "
					  "not marked compressed");
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
recr_init(struct rec_reader *r)
{
	memset(r, 0, offsetof(struct rec_reader, small));
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
	if (r->buf != r->small)
		free(r->buf);
	free(r->key); /* raw and dbuf are in the same allocation */
	r->buf = r->raw = r->key = r->dbuf = NULL;
}
