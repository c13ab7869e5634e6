/*
 * record.c - the record format (okof(5)): the header's fields, the
 * chunks' checksums and what sealing authenticates.  The writer is
 * record_write.c, the reader record_read.c.
 */
#include "record.h"

#include <errno.h>
#include <string.h>

#include "crc32c.h"
#include "endian.h"

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
_Static_assert(REC_FINAL_AD_LEN == RH_STREAM - RH_VERSION,
	       "the final associated data: version .. expiry");
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
uint32_t
rec_chunk_crc(uint32_t seed, uint64_t index, const unsigned char *ch,
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
void
rec_start_ad(const struct rec_header *h, const struct rec_crypto *cr,
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
void
rec_final_ad(const struct rec_header *h, unsigned char *ad)
{
	unsigned char fixed[REC_FIXED];

	fixed_encode(h, fixed);
	memcpy(ad, fixed + RH_VERSION, REC_FINAL_AD_LEN);
}

int
rec_unseal_key(const struct rec_header *h, const struct rec_crypto *cr,
	       crypto_secretstream_xchacha20poly1305_state *st,
	       unsigned char *out)
{
	unsigned char ad[REC_START_AD_LEN + REC_FINAL_AD_LEN], tag;
	unsigned long long mlen;
	size_t adlen = REC_START_AD_LEN;

	rec_start_ad(h, cr, ad);
	if (h->nchunks == 0) {
		rec_final_ad(h, ad + REC_START_AD_LEN);
		adlen += REC_FINAL_AD_LEN;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(st, h->stream,
							    cr->key) != 0 ||
	    crypto_secretstream_xchacha20poly1305_pull(
		    st, out, &mlen, &tag, h->key, h->key_len, ad, adlen) != 0)
		return OKOF_ECORRUPT;
	/* An empty value ends the stream with the key. */
	if (tag !=
	    (h->nchunks == 0
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
	    (h->key_len <= REC_ABYTES ||
	     h->key_len > OKOF_KEY_MAX + REC_ABYTES)) {
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
