/* check_codec.c - chunk encoding: when it compresses, and round trips;
 * the checksum. */
#include <stdlib.h>
#include <string.h>

#include "check_okof.h"
#include "codec.h"
#include "crc32c.h"
#include "okof.h"

static void
round_trip(size_t len, int text, size_t threshold, int want_codec)
{
	unsigned char *raw = malloc(len + 1), *out = malloc(codec_bound(len));
	unsigned char *back = malloc(len + 1);
	const void *stored;
	size_t slen;

	fill_data(raw, len, text, (unsigned)len);
	int codec = codec_pack(raw, len, threshold, out, &stored, &slen);
	ck_assert_int_eq(codec, want_codec);
	if (codec == CODEC_RAW) {
		ck_assert_ptr_eq(stored, raw);
		ck_assert_uint_eq(slen, len);
	} else {
		ck_assert_uint_lt(slen, len);
	}
	ck_assert_int_eq(codec_unpack(codec, stored, slen, back, len), 0);
	ck_assert(memcmp(back, raw, len) == 0);
	free(raw);
	free(out);
	free(back);
}

START_TEST(threshold_boundaries)
{
	size_t t = OKOF_THRESHOLD_DEFAULT;

	round_trip(0, 1, t, CODEC_RAW);
	round_trip(1, 1, t, CODEC_RAW);
	round_trip(t - 1, 1, t, CODEC_RAW);
	round_trip(t, 1, t, CODEC_RAW);		/* not above: stored raw */
	round_trip(t + 1, 1, t, CODEC_SNAPPY);	/* above and shrinks */
	round_trip(OKOF_CHUNK_SIZE, 1, t, CODEC_SNAPPY);
	round_trip(OKOF_CHUNK_SIZE, 0, t, CODEC_RAW); /* does not shrink */
	round_trip(OKOF_CHUNK_SIZE, 1, OKOF_CHUNK_SIZE, CODEC_RAW);
	round_trip(5000, 1, 0, CODEC_SNAPPY);
}
END_TEST

START_TEST(rejects_bad_input)
{
	unsigned char raw[4096], out[8192], back[4096];
	const void *stored;
	size_t slen;

	fill_data(raw, sizeof raw, 1, 7);
	ck_assert_int_eq(codec_pack(raw, sizeof raw, 0, out, &stored, &slen),
			 CODEC_SNAPPY);
	/* Wrong expected length, either way. */
	ck_assert_int_eq(codec_unpack(CODEC_SNAPPY, stored, slen, back, 4095),
			 -1);
	ck_assert_int_eq(codec_unpack(CODEC_RAW, raw, 10, back, 11), -1);
	/* Truncated compressed data. */
	ck_assert_int_eq(
		codec_unpack(CODEC_SNAPPY, stored, slen / 2, back, 4096), -1);
	/* Unknown codec. */
	ck_assert_int_eq(codec_unpack(7, raw, 10, back, 10), -1);
	/* Garbage that claims a huge length. */
	unsigned char junk[8] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0};
	ck_assert_int_eq(codec_unpack(CODEC_SNAPPY, junk, 8, back, 4096), -1);
}
END_TEST

/* Bit by bit, straight from the definition. */
static uint32_t
crc_reference(uint32_t crc, const unsigned char *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

START_TEST(crc32c_matches_definition)
{
	/* The check value of CRC-32C (RFC 3720's iSCSI polynomial). */
	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(crc32c_portable(0, "123456789", 9), 0xE3069283u);

	/* Every path of the fast code: unaligned heads, the three-way
	 * blocks (3 KiB and up), the tails; and continuing a CRC. */
	size_t max = 3 * 65536 + 77;
	unsigned char *buf = malloc(max + 8);
	fill_data(buf, max + 8, 0, 42);
	size_t lens[] = {0,    1,    7,    8,    9,    255,  1023, 3071,
			 3072, 3073, 6144, 9215, 9216, 65536, 65552, max};
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
		for (size_t off = 0; off < 8; off += 3) {
			const unsigned char *p = buf + off;
			uint32_t want = crc_reference(0, p, lens[i]);
			ck_assert_uint_eq(crc32c(0, p, lens[i]), want);
			ck_assert_uint_eq(crc32c_portable(0, p, lens[i]), want);
			size_t h = lens[i] / 3;
			uint32_t part = crc32c(0, p, h);
			ck_assert_uint_eq(crc32c(part, p + h, lens[i] - h), want);
		}
	}
	free(buf);
}
END_TEST

Suite *
codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, threshold_boundaries);
	tcase_add_test(tc, rejects_bad_input);
	tcase_add_test(tc, crc32c_matches_definition);
	suite_add_tcase(s, tc);
	return s;
}
