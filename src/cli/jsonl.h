/*
 * jsonl.h - okof's JSON Lines: one record per line,
 *   {"key":"...","value":"...","expires":N}
 * with "key_base64"/"value_base64" for bytes that are not valid UTF-8,
 * and "expires" (Unix seconds) only for keys with a lifetime.
 */
#ifndef OKOF_JSONL_H
#define OKOF_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include "okof.h"

/* Where encoded output goes: 0 or an exit status. */
typedef int (*jsonl_write_fn)(const void *p, size_t n);

/*
 * Writes the record open in r (for key) as one line.  Streams the value
 * in constant memory: a first pass tells whether it is UTF-8, a second
 * (okof_get_rewind: the same file) writes it.  Returns 0, a library
 * error (< 0), or what out returned.
 */
int jsonl_write_record(okof_reader *r, const char *key, size_t klen,
		       jsonl_write_fn out);

/* A decoded line; key and value are owned by the caller (jsonl_free). */
struct jsonl_rec {
	char *key;
	size_t klen;
	char *value;
	size_t vlen;
	int64_t expires;
};

/*
 * Decodes one line.  Returns 0, or -1 with a reason in err (a static
 * string or one written into errbuf).
 */
int jsonl_parse(const char *line, size_t len, struct jsonl_rec *out,
		char *errbuf, size_t errcap);

void jsonl_free(struct jsonl_rec *r);

#endif
