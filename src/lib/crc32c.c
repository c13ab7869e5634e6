/*
 * crc32c.c - CRC-32C, reflected polynomial 0x82F63B78: slicing-by-8 in
 * portable C, the SSE4.2 crc32 instruction where the CPU has it.
 *
 * The instruction has a latency of three cycles and a throughput of
 * one, so long buffers are cut into three blocks whose CRCs run side by
 * side and are then joined: the CRC register after a block B is
 * shift_B(register before B) xor (B's CRC from a zero register), and
 * shift_B, the effect of |B| zero bytes, is linear, so a table per byte
 * of the register applies it.  The tables are made on first use.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

/* Where glibc (2.33 and later) says what its start-up learned of the CPU,
 * ask it: a CPUID instruction of our own traps to the hypervisor in a
 * virtual machine and costs microseconds (7 us here; libgcc's
 * __builtin_cpu_init runs a dozen of them in every process). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#if defined(__GLIBC__) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define HW_FROM_LIBC 1
#endif
#endif
#ifndef HW_FROM_LIBC
#include <cpuid.h>
#endif
#endif

#define POLY 0x82F63B78u
#define BLOCK 1024

static uint32_t table[8][256];	/* slicing-by-8 */
static uint32_t zeros[4][256];	/* the shift over BLOCK zero bytes */
static int have_hw;
static pthread_once_t once_cpu = PTHREAD_ONCE_INIT;
static pthread_once_t once_table = PTHREAD_ONCE_INIT;
static pthread_once_t once_zeros = PTHREAD_ONCE_INIT;

/* The 32x32 matrices over GF(2) below are arrays of columns: m[n] is
 * the image of bit n. */
static uint32_t
gf2_times(const uint32_t *m, uint32_t v)
{
	uint32_t sum = 0;

	for (; v; v >>= 1, m++)
		if (v & 1)
			sum ^= *m;
	return sum;
}

/* out = a applied after b (out must not alias either). */
static void
gf2_compose(uint32_t *out, const uint32_t *a, const uint32_t *b)
{
	for (int n = 0; n < 32; n++)
		out[n] = gf2_times(a, b[n]);
}

/* Fills zeros so that shift(crc) is the register crc after BLOCK more
 * zero bytes. */
static void
make_zeros(void)
{
	uint32_t op[32], sq[32], acc[32], tmp[32];

	/* One zero bit, then squared to one zero byte. */
	op[0] = POLY;
	for (int n = 1; n < 32; n++)
		op[n] = 1u << (n - 1);
	for (int i = 0; i < 3; i++) {
		gf2_compose(sq, op, op);
		memcpy(op, sq, sizeof op);
	}
	for (int n = 0; n < 32; n++)
		acc[n] = 1u << n;
	for (size_t len = BLOCK; len; len >>= 1) {
		if (len & 1) {
			gf2_compose(tmp, op, acc);
			memcpy(acc, tmp, sizeof acc);
		}
		if (len > 1) {
			gf2_compose(sq, op, op);
			memcpy(op, sq, sizeof op);
		}
	}
	/* One table per byte of the register: byte k is bits 8k..8k+7. */
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++)
			zeros[k][b] = gf2_times(acc + 8 * k, b);
}

static uint32_t
shift(uint32_t crc)
{
	return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^
	       zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

static void
detect_cpu(void)
{
#if defined(HW_FROM_LIBC)
	have_hw = CPU_FEATURE_ACTIVE(SSE4_2);
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	unsigned int a, b, c, d;

	have_hw = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) != 0;
#endif
}

static void
make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^
				      table[0][table[t - 1][i] & 0xff];
}

static uint32_t
crc32c_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint32_t lo =
			crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		      table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		      table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
		      table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

static inline __attribute__((target("sse4.2"))) uint64_t
word(uint64_t c, const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return _mm_crc32_u64(c, w);
}

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	if (len >= 3 * BLOCK)
		pthread_once(&once_zeros, make_zeros);
	for (; len >= 3 * BLOCK; p += 3 * BLOCK, len -= 3 * BLOCK) {
		uint64_t c1 = 0, c2 = 0;
		for (size_t i = 0; i < BLOCK; i += 8) {
			c = word(c, p + i);
			c1 = word(c1, p + BLOCK + i);
			c2 = word(c2, p + 2 * BLOCK + i);
		}
		c = shift((uint32_t)c) ^ c1;
		c = shift((uint32_t)c) ^ c2;
	}
	for (; len >= 8; p += 8, len -= 8)
		c = word(c, p);
	while (len-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&once_cpu, detect_cpu);
	crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (have_hw)
		return ~crc32c_hw(crc, buf, len);
#endif
	pthread_once(&once_table, make_table);
	return ~crc32c_sw(crc, buf, len);
}

uint32_t
crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&once_table, make_table);
	return ~crc32c_sw(~crc, buf, len);
}
