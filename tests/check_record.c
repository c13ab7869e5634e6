/*
 * check_record.c - the record format: round trips at every size
 * boundary, and every kind of damage detected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_okof.h"
#include "record.h"

/* The sealing context of the crypto tests, and one for another store. */
static unsigned char test_key[32] = {1, 2, 3};
static unsigned char test_salt[32] = {9, 9, 9};
static unsigned char other_salt[32] = {7};
static struct rec_crypto cr_a = {test_key, test_salt,
				 "00112233445566778899aabbccddeeff"};
static struct rec_crypto cr_b = {test_key, test_salt,
				 "ffeeddccbbaa99887766554433221100"};
static struct rec_crypto cr_c = {test_key, other_salt,
				 "00112233445566778899aabbccddeeff"};
static const struct rec_crypto *crypto; /* for the next write/read */

/* Writes a record of data/len for key into a new temp file; returns fd. */
static int
write_record(const char *key, const unsigned char *data, size_t len,
	     size_t threshold)
{
	FILE *f = tmpfile();
	struct rec_writer w;
	int fd, in_failed;

	ck_assert_ptr_nonnull(f);
	fd = dup(fileno(f));
	fclose(f);
	ck_assert_int_eq(recw_init(&w, fd, key, strlen(key), threshold, 0, crypto),
			 0);
	/* Feed it in uneven pieces to cross chunk edges mid-write. */
	size_t off = 0, step = 1;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		ck_assert_int_eq(recw_write(&w, data + off, n), 0);
		off += n;
		step = step * 3 + 7;
	}
	(void)in_failed;
	ck_assert_int_eq(recw_finish(&w, 1234567890123456789LL), 0);
	recw_free(&w);
	return fd;
}

/*
 * Reads the record in fd.  Returns 0 and the value in *out, or the
 * first error.  Either way *out_len says how many bytes were returned.
 */
static int read_record_opts(int fd, unsigned char **out, size_t *out_len,
			    int no_crc);

static int
read_record(int fd, unsigned char **out, size_t *out_len)
{
	return read_record_opts(fd, out, out_len, 0);
}

static int
read_record_opts(int fd, unsigned char **out, size_t *out_len, int no_crc)
{
	struct rec_reader r;
	struct stat st;
	const void *p;
	size_t n, len = 0, cap = 1024;
	unsigned char *buf = malloc(cap);
	int rc;

	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	rc = recr_open(&r, fd, (uint64_t)st.st_size, no_crc, crypto);
	if (rc == 0) {
		while ((rc = recr_next(&r, &p, &n)) > 0) {
			while (len + n > cap)
				cap *= 2;
			buf = realloc(buf, cap);
			memcpy(buf + len, p, n);
			len += n;
		}
	}
	recr_free(&r);
	*out = buf;
	*out_len = len;
	return rc;
}

/* The record in fd reads back as exactly data/len. */
static void
expect_value(int fd, const unsigned char *data, size_t len)
{
	unsigned char *back;
	size_t blen;

	ck_assert_int_eq(read_record(fd, &back, &blen), 0);
	ck_assert_uint_eq(blen, len);
	ck_assert(memcmp(back, data, len) == 0);
	free(back);
}

static const size_t sizes[] = {
	0,
	1,
	OKOF_THRESHOLD_DEFAULT - 1,
	OKOF_THRESHOLD_DEFAULT,
	OKOF_THRESHOLD_DEFAULT + 1,
	4095, /* a writer's first buffers hold 4096 bytes, then grow */
	4096,
	4097,
	OKOF_CHUNK_SIZE - 1,
	OKOF_CHUNK_SIZE,
	OKOF_CHUNK_SIZE + 1,
	3 * OKOF_CHUNK_SIZE + 17,
	10 * OKOF_CHUNK_SIZE,
};

START_TEST(round_trip_sizes)
{
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		for (int text = 0; text < 2; text++) {
			size_t len = sizes[i];
			unsigned char *data = malloc(len + 1);
			fill_data(data, len, text, (unsigned)i);
			int fd = write_record("key", data, len,
					      OKOF_THRESHOLD_DEFAULT);
			expect_value(fd, data, len);
			close(fd);
			free(data);
		}
	}
}
END_TEST

START_TEST(header_fields)
{
	unsigned char data[300];
	struct rec_reader r;
	struct stat st;

	fill_data(data, sizeof data, 1, 3);
	int fd = write_record("some/key", data, sizeof data, 100);
	fstat(fd, &st);
	lseek(fd, 0, SEEK_SET);
	ck_assert_int_eq(recr_open(&r, fd, (uint64_t)st.st_size, 0, NULL), 0);
	ck_assert_uint_eq(r.h.key_len, 8);
	ck_assert(memcmp(r.h.key, "some/key", 8) == 0);
	ck_assert_uint_eq(r.h.value_len, 300);
	ck_assert_uint_eq(r.h.nchunks, 1);
	ck_assert(r.h.flags & REC_F_COMPRESSED);
	ck_assert_int_eq(r.h.mtime_ns, 1234567890123456789LL);
	ck_assert_int_eq(r.h.expires, 0);
	recr_free(&r);
	close(fd);
}
END_TEST

/* Copies the record in fd to a new temp file, keeping len bytes. */
static int
copy_prefix(int fd, size_t len, unsigned char *whole)
{
	FILE *f = tmpfile();
	int out = dup(fileno(f));

	fclose(f);
	ck_assert_int_eq(pwrite(out, whole, len, 0), (ssize_t)len);
	(void)fd;
	return out;
}

static unsigned char *
slurp(int fd, size_t *len)
{
	struct stat st;

	fstat(fd, &st);
	unsigned char *b = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	return b;
}

/* Every single-bit flip anywhere in a record is caught. */
START_TEST(every_bit_flip_detected)
{
	for (int text = 0; text < 2; text++) {
		unsigned char data[700];
		fill_data(data, sizeof data, text, 11);
		int fd = write_record("flip", data, sizeof data, 64);
		size_t len;
		unsigned char *whole = slurp(fd, &len);
		for (size_t byte = 0; byte < len; byte++) {
			for (int bit = 0; bit < 8; bit++) {
				whole[byte] ^= (unsigned char)(1 << bit);
				int f = copy_prefix(fd, len, whole);
				unsigned char *back;
				size_t blen;
				int rc = read_record(f, &back, &blen);
				ck_assert_msg(rc == OKOF_ECORRUPT,
					      "flip of byte %zu bit %d: rc %d",
					      byte, bit, rc);
				close(f);
				free(back);
				whole[byte] ^= (unsigned char)(1 << bit);
			}
		}
		free(whole);
		close(fd);
	}
}
END_TEST

/* A record cut anywhere, at chunk boundaries above all, is caught,
 * and what was returned before is a prefix of the value. */
START_TEST(every_truncation_detected)
{
	size_t vlen = 3 * OKOF_CHUNK_SIZE + 100;
	unsigned char *data = malloc(vlen);

	fill_data(data, vlen, 0, 5);
	int fd = write_record("cut", data, vlen, OKOF_THRESHOLD_DEFAULT);
	size_t len;
	unsigned char *whole = slurp(fd, &len);
	size_t hlen = rec_header_len(3);
	size_t cuts[64], nc = 0;
	/* Chunk boundaries (incompressible: every chunk stored raw). */
	for (size_t k = 0; k <= 4; k++) {
		size_t b = hlen + k * (REC_CHUNK_HDR + OKOF_CHUNK_SIZE);
		if (b < len) {
			cuts[nc++] = b;
			cuts[nc++] = b + 1;
			cuts[nc++] = b + REC_CHUNK_HDR;
		}
	}
	for (size_t c = 0; c < hlen; c += 7)
		cuts[nc++] = c;
	cuts[nc++] = len - 1;
	for (size_t i = 0; i < nc; i++) {
		int f = copy_prefix(fd, cuts[i], whole);
		unsigned char *back;
		size_t blen;
		int rc = read_record(f, &back, &blen);
		ck_assert_msg(rc == OKOF_ECORRUPT, "cut at %zu: rc %d", cuts[i],
			      rc);
		ck_assert_uint_lt(blen, vlen);
		ck_assert(memcmp(back, data, blen) == 0);
		close(f);
		free(back);
	}
	/* Extra bytes after the last chunk are damage too. */
	whole = realloc(whole, len + 1);
	whole[len] = 0;
	int f = copy_prefix(fd, len + 1, whole);
	unsigned char *back;
	size_t blen;
	ck_assert_int_eq(read_record(f, &back, &blen), OKOF_ECORRUPT);
	close(f);
	free(back);
	free(whole);
	free(data);
	close(fd);
}
END_TEST

/* Two chunks swapped in place are caught by the index in the CRC. */
START_TEST(swapped_chunks_detected)
{
	size_t vlen = 2 * OKOF_CHUNK_SIZE;
	unsigned char *data = malloc(vlen);

	fill_data(data, vlen, 0, 9);
	int fd = write_record("swap", data, vlen, OKOF_THRESHOLD_DEFAULT);
	size_t len;
	unsigned char *whole = slurp(fd, &len);
	size_t hlen = rec_header_len(4), cl = REC_CHUNK_HDR + OKOF_CHUNK_SIZE;
	unsigned char *tmp = malloc(cl);
	memcpy(tmp, whole + hlen, cl);
	memmove(whole + hlen, whole + hlen + cl, cl);
	memcpy(whole + hlen + cl, tmp, cl);
	int f = copy_prefix(fd, len, whole);
	unsigned char *back;
	size_t blen;
	ck_assert_int_eq(read_record(f, &back, &blen), OKOF_ECORRUPT);
	ck_assert_uint_eq(blen, 0);
	close(f);
	free(back);
	free(tmp);
	free(whole);
	free(data);
	close(fd);
}
END_TEST

START_TEST(sealed_round_trips)
{
	crypto = &cr_a;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		for (int text = 0; text < 2; text++) {
			size_t len = sizes[i];
			unsigned char *data = malloc(len + 1), *back;
			size_t blen;
			fill_data(data, len, text, (unsigned)i);
			int fd = write_record("secret key", data, len,
					      OKOF_THRESHOLD_DEFAULT);
			/* Neither the key nor the value is in the file. */
			size_t flen;
			unsigned char *whole = slurp(fd, &flen);
			ck_assert_ptr_null(memmem(whole, flen, "secret key", 10));
			if (len >= 64)
				ck_assert_ptr_null(memmem(whole, flen, data, 64));
			free(whole);
			ck_assert_int_eq(read_record(fd, &back, &blen), 0);
			ck_assert_uint_eq(blen, len);
			ck_assert(memcmp(back, data, len) == 0);
			free(back);
			/* Bound to its name and its store. */
			crypto = &cr_b;
			ck_assert_int_eq(read_record(fd, &back, &blen),
					 OKOF_ECORRUPT);
			free(back);
			crypto = &cr_c;
			ck_assert_int_eq(read_record(fd, &back, &blen),
					 OKOF_ECORRUPT);
			free(back);
			/* A plain reader refuses it, and vice versa. */
			crypto = NULL;
			ck_assert_int_eq(read_record(fd, &back, &blen),
					 OKOF_ECORRUPT);
			free(back);
			crypto = &cr_a;
			close(fd);
			free(data);
		}
	}
	crypto = NULL;
	int fd = write_record("plain", (const unsigned char *)"v", 1, 256);
	crypto = &cr_a;
	unsigned char *back;
	size_t blen;
	ck_assert_int_eq(read_record(fd, &back, &blen), OKOF_ECORRUPT);
	free(back);
	close(fd);
	crypto = NULL;
}
END_TEST

/*
 * With checksums switched off, as an attacker who rewrites them would
 * have it, authentication alone catches every flipped bit, a chunk cut
 * off at its boundary and chunks swapped.
 */
START_TEST(sealed_tampering_detected)
{
	crypto = &cr_a;
	size_t vlen = 2 * OKOF_CHUNK_SIZE + 10;
	unsigned char *data = malloc(vlen);
	fill_data(data, vlen, 0, 3);
	int fd = write_record("k", data, vlen, OKOF_THRESHOLD_DEFAULT);
	size_t len;
	unsigned char *whole = slurp(fd, &len);
	size_t hlen = rec_header_len(1 + REC_ABYTES);
	size_t cl = REC_CHUNK_HDR + OKOF_CHUNK_SIZE + REC_ABYTES;
	unsigned char *back;
	size_t blen;

	/* Every bit of the header, the chunk headers, and a sample of
	 * chunk bytes; not the CRC fields, which no_crc ignores. */
	size_t at[4096], na = 0;
	for (size_t b = 0; b < hlen + 12; b++)
		if (b < hlen - 4 || b >= hlen)
			at[na++] = b;
	for (size_t b = hlen + cl; b < hlen + cl + 12; b++)
		at[na++] = b;
	for (size_t b = hlen + REC_CHUNK_HDR; b < len; b += 997)
		at[na++] = b;
	at[na++] = len - 1;
	for (size_t i = 0; i < na; i++) {
		for (int bit = 0; bit < 8; bit++) {
			whole[at[i]] ^= (unsigned char)(1 << bit);
			int f = copy_prefix(fd, len, whole);
			int rc = read_record_opts(f, &back, &blen, 1);
			ck_assert_msg(rc == OKOF_ECORRUPT,
				      "flip at %zu bit %d: rc %d", at[i], bit,
				      rc);
			/* What came out before the failure is genuine. */
			ck_assert(memcmp(back, data, blen) == 0);
			free(back);
			close(f);
			whole[at[i]] ^= (unsigned char)(1 << bit);
		}
	}
	/* The last chunk dropped, header patched to match: the stream's
	 * final tag is missing. */
	int f = copy_prefix(fd, hlen + 2 * cl, whole);
	ck_assert_int_eq(read_record_opts(f, &back, &blen, 1), OKOF_ECORRUPT);
	free(back);
	close(f);
	/* The first two chunks swapped. */
	unsigned char *tmp = malloc(cl);
	memcpy(tmp, whole + hlen, cl);
	memmove(whole + hlen, whole + hlen + cl, cl);
	memcpy(whole + hlen + cl, tmp, cl);
	f = copy_prefix(fd, len, whole);
	ck_assert_int_eq(read_record_opts(f, &back, &blen, 1), OKOF_ECORRUPT);
	ck_assert_uint_eq(blen, 0);
	free(back);
	close(f);
	free(tmp);
	free(whole);
	free(data);
	close(fd);
	crypto = NULL;
}
END_TEST

/*
 * One writer for records in a row (as import does), its buffers grown by
 * a big value in the middle and a long key, sealed and not.
 */
START_TEST(writer_reuse_across_sizes)
{
	static const size_t lens[] = {5, 3 * OKOF_CHUNK_SIZE + 5, 0, 4097, 9};
	char longkey[4097];
	struct rec_writer w;

	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	for (int sealed = 0; sealed < 2; sealed++) {
		crypto = sealed ? &cr_a : NULL;
		for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
			const char *key = i == 2 ? longkey : "k";
			size_t len = lens[i];
			unsigned char *data = malloc(len + 1);
			FILE *f = tmpfile();
			ck_assert_ptr_nonnull(f);
			int fd = dup(fileno(f));
			fclose(f);
			fill_data(data, len, (int)(i & 1), (unsigned)i);
			ck_assert_int_eq((i ? recw_again : recw_init)(
						 &w, fd, key, strlen(key),
						 OKOF_THRESHOLD_DEFAULT, 0,
						 crypto),
					 0);
			ck_assert_int_eq(recw_write(&w, data, len), 0);
			ck_assert_int_eq(recw_finish(&w, 1), 0);
			expect_value(fd, data, len);
			close(fd);
			free(data);
		}
		recw_free(&w);
	}
	crypto = NULL;
}
END_TEST

Suite *
record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("record");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip_sizes);
	tcase_add_test(tc, header_fields);
	tcase_add_test(tc, every_bit_flip_detected);
	tcase_add_test(tc, every_truncation_detected);
	tcase_add_test(tc, swapped_chunks_detected);
	tcase_add_test(tc, sealed_round_trips);
	tcase_add_test(tc, sealed_tampering_detected);
	tcase_add_test(tc, writer_reuse_across_sizes);
	suite_add_tcase(s, tc);
	return s;
}
