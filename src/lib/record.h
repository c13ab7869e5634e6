/*
 * record.h - the record file format (okof(5)).
 *
 *	header	 magic "OKOFREC\0", version, flags, key length, chunk
 *		 size, value length, chunk count, mtime, expiry, a
 *		 reserved stream header, the key, CRC-32C of all that
 *	chunks	 each: stored length, raw length, codec, CRC-32C (seeded
 *		 with the key's CRC, over the chunk's index, its header
 *		 and its bytes), then the stored bytes
 *
 * All integers are little-endian.  Every chunk but the last holds
 * exactly chunk_size raw bytes; the file ends right after the last
 * chunk.  So a torn, truncated, reordered, spliced or bit-flipped file
 * fails a check and is never returned as a value.
 */
#ifndef OKOF_RECORD_H
#define OKOF_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#include "okof.h"

#define REC_MAGIC "OKOFREC"	/* plus its NUL: 8 bytes */
#define REC_VERSION 1
#define REC_FIXED 80		/* header bytes before the key */
#define REC_CHUNK_HDR 16	/* bytes before each chunk's data */

#define REC_F_COMPRESSED 0x1	/* at least one chunk is compressed */
#define REC_F_ENCRYPTED 0x2	/* key and chunks are sealed */
#define REC_F_EXPIRES 0x4	/* the expiry field is set */
#define REC_F_KNOWN 0x7

#define REC_CHUNK_MIN 4096
#define REC_CHUNK_MAX (1u << 20)

#define REC_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define REC_NAME_LEN 32		/* bucket and file hex digits */
#define REC_SALT_LEN 32

/*
 * Sealing, for records of encrypted stores: the record subkey, and what
 * a record is bound to, its file name and its store's salt.
 */
struct rec_crypto {
	const unsigned char *key;	/* crypto_secretstream key */
	const unsigned char *salt;	/* REC_SALT_LEN bytes */
	char name[REC_NAME_LEN + 1];	/* "ab" + the file name */
};

struct rec_header {
	uint16_t version;
	uint16_t flags;
	uint32_t key_len;
	uint32_t chunk_size;
	uint64_t value_len;
	uint64_t nchunks;
	int64_t mtime_ns;
	int64_t expires;
	unsigned char stream[24];
	const unsigned char *key; /* points into the caller's buffer */
	uint32_t crc;
};

/* Bytes of a header whose key is key_len bytes. */
static inline size_t
rec_header_len(size_t key_len)
{
	return REC_FIXED + key_len + 4;
}

/*
 * Decodes and checks a header from buf/avail.  Returns the header's
 * length, 0 if avail is too short (when avail >= REC_FIXED, h->key_len
 * is set: read rec_header_len(h->key_len) bytes), or -1 with *detail set when
 * it is not a valid header.  h->key points into buf.
 */
ssize_t rec_header_decode(const unsigned char *buf, size_t avail,
			  struct rec_header *h, const char **detail,
			  int no_crc);

/* Encodes h (with h->key) into out (rec_header_len bytes), setting h->crc. */
void rec_header_encode(struct rec_header *h, unsigned char *out);

/* Whole chunks one read of recw_copy_fd may bring in after the current
 * one: four chunks a read (256 KiB), where each system call costs. */
#define REC_AHEAD 3

/*
 * Writes a record to a file descriptor, streaming, in constant memory.
 * Each full chunk is held back until more data follows, so the last
 * chunk is known when it is written (an encrypted record's last chunk
 * carries the final tag).
 */
struct rec_writer {
	int fd;
	const struct rec_crypto *cr;	/* NULL: plain record */
	crypto_secretstream_xchacha20poly1305_state ss;
	int key_sealed;
	unsigned char *ahead[REC_AHEAD]; /* copy_fd's read-ahead chunks */
	unsigned char *pend;	/* a full chunk the worker compresses */
	size_t pend_len;	/* while the next one is read */
	unsigned char *cbuf2;	/* its compression output */
	struct packer *packer;	/* the worker thread, once started */
	int no_pairs;		/* no memory or thread for a second chunk */
	unsigned skip, backoff;	/* chunks not to try after one that did
				 * not compress, and the next such run */
	size_t out_alloc, key_alloc;
	unsigned char *ebuf;	/* an encrypted chunk */
	size_t threshold;
	struct rec_header h;
	size_t hlen;
	unsigned char *raw;	/* the chunk being filled */
	size_t raw_len, raw_cap;	/* raw_cap < a chunk until more comes */
	unsigned char *cbuf;	/* compression scratch */
	size_t cbuf_cap;	/* ebuf holds cbuf_cap + REC_ABYTES */
	unsigned char *out;	/* pending output; the header slot first */
	size_t out_len;
	size_t out_cap;
	int flushed;		/* some output already went to fd */
	int write_behind;	/* set after recw_init for a record that will
				 * be fsynced: start writeback as it goes */
	uint64_t written, behind; /* bytes to fd; writeback started so far */
	unsigned char *keycopy;
	uint32_t seed;		/* chunk checksum seed, from the stored key */
	size_t key_plain_len;	/* sealed records: the key's length */
};

/* Starts a record for key at the start of the empty file fd, sealed
 * with cr unless it is NULL.  0 or -errno. */
int recw_init(struct rec_writer *w, int fd, const void *key, size_t klen,
	      size_t threshold, int64_t expires, const struct rec_crypto *cr);

/* Starts another record with the buffers of a writer that was started
 * before and not freed: for many records in a row.  0 or -errno. */
int recw_again(struct rec_writer *w, int fd, const void *key, size_t klen,
	       size_t threshold, int64_t expires, const struct rec_crypto *cr);

/* Appends value bytes.  0 or -errno. */
int recw_write(struct rec_writer *w, const void *data, size_t len);

/* Appends everything read from in until end of file.  0, or -errno
 * from reading (*in_failed set) or writing. */
int recw_copy_fd(struct rec_writer *w, int in, int *in_failed);

/* Writes the last chunk and the final header.  0 or -errno. */
int recw_finish(struct rec_writer *w, int64_t mtime_ns);

void recw_free(struct rec_writer *w);

/* Reads and verifies a record from a file descriptor. */
struct rec_reader {
	int fd;
	const struct rec_crypto *cr;
	crypto_secretstream_xchacha20poly1305_state ss;
	unsigned char *dbuf;	/* a decrypted chunk */
	size_t dbuf_cap;
	uint64_t file_size;
	struct rec_header h;
	unsigned char *buf;	/* file bytes read ahead */
	size_t pos, end, cap;
	unsigned char *raw;	/* a decompressed chunk */
	size_t raw_cap;
	size_t bound;		/* the most a stored chunk may hold: a chunk,
				 * or snappy's bound if one may be compressed */
	unsigned char *key;	/* h.key points here */
	uint32_t seed;
	uint64_t next_chunk;
	uint64_t done;		/* value bytes returned */
	uint64_t consumed;	/* file bytes parsed */
	int no_crc;		/* fuzzing only: skip checksum comparisons */
	const char *detail;	/* what failed, for OKOF_ECORRUPT */
	/* buf for a record of unknown size, while it fits: a small record
	 * needs no allocation for its bytes (last: recr_init() leaves it) */
	unsigned char small[512];
};

/* Makes r safe to recr_free() before (or without) a recr_open(). */
void recr_init(struct rec_reader *r);

/*
 * Reads the header from fd (positioned at 0; file_size from fstat, or
 * REC_SIZE_UNKNOWN: then the reads find it, and fstat only for a
 * record that is not small).  With cr the record must be sealed, and
 * its key is unsealed and authenticated (h.key then holds the plaintext
 * key); without cr it must be plain.  Returns 0, OKOF_ECORRUPT with
 * r->detail set, OKOF_ENOTFILE (an unknown size that is no regular
 * file), or -errno.  The reader owns its buffers, not fd.
 */
#define REC_SIZE_UNKNOWN UINT64_MAX
int recr_open(struct rec_reader *r, int fd, uint64_t file_size, int no_crc,
	      const struct rec_crypto *cr);

/*
 * What sealing authenticates.  The key's message: the header fields
 * known when a record starts (the others zero), its file name and its
 * store's salt, so a record moved or copied elsewhere fails to open.
 * The stream's last message (the last chunk, or the key of an empty
 * value) also: the fixed fields from the version to the expiry, known
 * only at the end, so no header bit can change.
 */
#define REC_START_AD_LEN (REC_FIXED + REC_NAME_LEN + REC_SALT_LEN)
#define REC_FINAL_AD_LEN 48
void rec_start_ad(const struct rec_header *h, const struct rec_crypto *cr,
		  unsigned char *ad);
void rec_final_ad(const struct rec_header *h, unsigned char *ad);

/* A chunk's checksum: over its index, its header's first 12 bytes and
 * its stored data, from the record's seed. */
uint32_t rec_chunk_crc(uint32_t seed, uint64_t index, const unsigned char *ch,
		       const void *data, size_t len);

/*
 * Unseals a header's key into out (h->key_len - REC_ABYTES bytes),
 * leaving st ready for the record's chunks.  0 or OKOF_ECORRUPT.
 */
int rec_unseal_key(const struct rec_header *h, const struct rec_crypto *cr,
		   crypto_secretstream_xchacha20poly1305_state *st,
		   unsigned char *out);

/*
 * The next verified piece of the value: 1 with p and n set (valid until
 * the next call), 0 at the verified end, OKOF_ECORRUPT or -errno.
 */
int recr_next(struct rec_reader *r, const void **p, size_t *n);

void recr_free(struct rec_reader *r);

#endif
