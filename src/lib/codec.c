/* codec.c - see codec.h. */
#include "codec.h"

#include <string.h>

#include <snappy-c.h>

size_t
codec_bound(size_t raw_len)
{
	return snappy_max_compressed_length(raw_len);
}

int
codec_pack(const void *raw, size_t len, size_t threshold, void *out,
	   const void **stored, size_t *stored_len)
{
	size_t clen = codec_bound(len);

	if (len > threshold &&
	    snappy_compress(raw, len, out, &clen) == SNAPPY_OK && clen < len) {
		*stored = out;
		*stored_len = clen;
		return CODEC_SNAPPY;
	}
	*stored = raw;
	*stored_len = len;
	return CODEC_RAW;
}

int
codec_unpack(int codec, const void *stored, size_t stored_len, void *out,
	     size_t raw_len)
{
	size_t n;

	switch (codec) {
	case CODEC_RAW:
		if (stored_len != raw_len)
			return -1;
		memcpy(out, stored, raw_len);
		return 0;
	case CODEC_SNAPPY:
		/* The declared length is checked before snappy writes. */
		if (snappy_uncompressed_length(stored, stored_len, &n) !=
			    SNAPPY_OK ||
		    n != raw_len)
			return -1;
		if (snappy_uncompress(stored, stored_len, out, &n) !=
			    SNAPPY_OK ||
		    n != raw_len)
			return -1;
		return 0;
	default:
		return -1;
	}
}
