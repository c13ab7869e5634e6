/*
 * outbuf.h - a growing output buffer that can write JSON strings and
 * base64, and incremental UTF-8 validation.
 */
#ifndef OKOF_OUTBUF_H
#define OKOF_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

/* A growing output buffer; failed is set once memory runs out. */
struct outbuf {
	char *buf;
	size_t len, cap;
	int failed;
};

void ob_bytes(struct outbuf *o, const void *p, size_t n);
void ob_str(struct outbuf *o, const char *s);
void ob_fmt(struct outbuf *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "name":"json string" if p/n is valid UTF-8, else "name_base64":"..." */
void ob_json_field(struct outbuf *o, const char *name, const void *p,
		   size_t n);
void ob_free(struct outbuf *o);

/* JSON string escaping of p/n, without the quotes. */
void ob_json_escape(struct outbuf *o, const unsigned char *p, size_t n);
/* Standard padded base64 of p/n. */
void ob_base64(struct outbuf *o, const void *p, size_t n);

/* Incremental UTF-8 validation (no overlongs, no surrogates). */
struct utf8 {
	uint32_t cp;
	int need, len, bad;
};
void utf8_feed(struct utf8 *u, const unsigned char *p, size_t n);
static inline int
utf8_end(const struct utf8 *u)
{
	return !u->bad && u->need == 0;
}
int utf8_valid(const unsigned char *p, size_t n);

#endif
