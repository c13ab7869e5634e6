/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of record headers and
 * chunks.  Chosen over BLAKE2b for speed: it runs at memory speed with
 * the SSE4.2 instruction, so verifying every chunk costs little; it is
 * for detecting torn and corrupted files, not tampering (encrypted
 * stores authenticate with Poly1305 instead).
 */
#ifndef OKOF_CRC32C_H
#define OKOF_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over buf; start with crc = 0. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The same by the portable code whatever the CPU (for tests). */
uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
