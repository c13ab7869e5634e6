/*
 * fuzz.c - libFuzzer targets, one per build (-DTARGET_...):
 *
 *   record        the record decoder, checksums on
 *   record_nocrc  the same with checksum comparisons skipped, so the
 *                 fuzzer reaches the length, codec and snappy checks
 *   codec         a snappy chunk of a declared length
 *   sealed        the encrypted-record opener (checksums skipped: the
 *                 authentication is what is under test)
 *   jsonl         one JSON Lines import record
 *   export        a value stored, exported as a JSON Lines record and
 *                 parsed back: it must come back byte for byte (the
 *                 round trip that once lost 2 bytes of 65,537)
 *   parse         the duration and integer argument parsers
 *
 * Nothing may crash, leak or read out of bounds, and a record that
 * decodes must have returned exactly its declared length.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "options.h"
#include "outbuf.h"
#include "codec.h"
#include "jsonl.h"
#include "record.h"

#if defined(TARGET_export)
/* What jsonl_write_record() writes, gathered. */
static char *captured;
static size_t captured_len, captured_cap;

static int
capture(const void *p, size_t n)
{
	if (captured_len + n > captured_cap) {
		size_t cap = (captured_len + n) * 2;
		char *b = realloc(captured, cap);
		if (!b)
			abort();
		captured = b;
		captured_cap = cap;
	}
	memcpy(captured + captured_len, p, n);
	captured_len += n;
	return 0;
}
#endif

#if defined(TARGET_record) || defined(TARGET_record_nocrc) || \
	defined(TARGET_sealed)
static int
decode(const uint8_t *data, size_t size, int no_crc,
       const struct rec_crypto *cr)
{
	struct rec_reader r;
	const void *p;
	size_t n;
	uint64_t total = 0;
	int fd = memfd_create("rec", MFD_CLOEXEC), rc;

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	/* Both ways of knowing the size: from fstat (odd sizes) and from
	 * the reads (even sizes, as okof_get_open() does). */
	rc = recr_open(&r, fd, size % 2 ? size : REC_SIZE_UNKNOWN, no_crc, cr);
	if (rc == 0) {
		while ((rc = recr_next(&r, &p, &n)) > 0) {
			/* Touch every byte handed out. */
			volatile unsigned char x = 0;
			for (size_t i = 0; i < n; i++)
				x ^= ((const unsigned char *)p)[i];
			total += n;
		}
		if (rc == 0 && total != r.h.value_len)
			abort(); /* verified, but not the declared length */
	}
	recr_free(&r);
	close(fd);
	return 0;
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#if defined(TARGET_record)
	return decode(data, size, 0, NULL);
#elif defined(TARGET_record_nocrc)
	return decode(data, size, 1, NULL);
#elif defined(TARGET_sealed)
	static const unsigned char key[32] = {1, 2, 3, 4};
	static const unsigned char salt[32] = {5, 6, 7, 8};
	static const struct rec_crypto cr = {
		key, salt, "00112233445566778899aabbccddeeff"};
	return decode(data, size, 1, &cr);
#elif defined(TARGET_codec)
	static unsigned char out[OKOF_CHUNK_SIZE];
	if (size < 2)
		return 0;
	size_t raw = ((size_t)data[0] << 8 | data[1]) % (OKOF_CHUNK_SIZE + 1);
	codec_unpack(CODEC_SNAPPY, data + 2, size - 2, out, raw);
	return 0;
#elif defined(TARGET_jsonl)
	struct jsonl_rec rec;
	char why[160];
	if (jsonl_parse((const char *)data, size, &rec, why, sizeof why) == 0) {
		if (okof_check_key(rec.key, rec.klen) != 0)
			abort(); /* a bad key must be refused */
		jsonl_free(&rec);
	}
	return 0;
#elif defined(TARGET_export)
	static okof_store *st;
	struct okof_put_opts po = {.no_sync = 1};
	struct jsonl_rec rec;
	okof_reader *r;
	char why[160];

	if (!st) {
		char dir[] = "/dev/shm/okof-fuzz-export-XXXXXX";
		if (!mkdtemp(dir) ||
		    okof_open(&st, dir, OKOF_CREATE, NULL, NULL) != 0)
			abort();
	}
	if (okof_put(st, "k", 1, data, size, &po) != 0 ||
	    okof_get_open(st, "k", 1, &r) != 0)
		abort();
	captured_len = 0;
	if (jsonl_write_record(r, "k", 1, capture) != 0)
		abort();
	okof_get_close(r);
	if (captured_len == 0 || captured[captured_len - 1] != '\n' ||
	    jsonl_parse(captured, captured_len - 1, &rec, why, sizeof why) != 0)
		abort();
	if (rec.klen != 1 || rec.key[0] != 'k' || rec.vlen != size ||
	    (size > 0 && memcmp(rec.value, data, size) != 0))
		abort(); /* the round trip lost or changed bytes */
	jsonl_free(&rec);
	return 0;
#elif defined(TARGET_parse)
	char *s = malloc(size + 1);
	int64_t v;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t d = parse_duration(s);
	if (d == 0 || d < -1)
		abort(); /* a duration is positive, or -1 for bad */
	parse_int64(s, &v);
	free(s);
	return 0;
#else
#error "define one TARGET_..."
#endif
}
