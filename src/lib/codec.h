/*
 * codec.h - how one chunk of a value is stored: as it is, or snappy
 * compressed when it is larger than the store's threshold and
 * compression actually makes it smaller.
 */
#ifndef OKOF_CODEC_H
#define OKOF_CODEC_H

#include <stddef.h>

#define CODEC_RAW 0
#define CODEC_SNAPPY 1

/* Room codec_pack() may need in out for a chunk of raw_len bytes. */
size_t codec_bound(size_t raw_len);

/*
 * Encodes raw/len.  Compresses into out (codec_bound(len) bytes) when
 * len > threshold and the result is shorter; then *stored points into
 * out.  Otherwise *stored is raw itself.  Returns CODEC_SNAPPY or
 * CODEC_RAW and sets *stored_len.
 */
int codec_pack(const void *raw, size_t len, size_t threshold, void *out,
	       const void **stored, size_t *stored_len);

/*
 * Decodes a stored chunk that must expand to exactly raw_len bytes into
 * out (raw_len bytes).  Returns 0 or -1 when the data is not a valid
 * chunk of that length (the caller reports corruption).
 */
int codec_unpack(int codec, const void *stored, size_t stored_len,
		 void *out, size_t raw_len);

#endif
