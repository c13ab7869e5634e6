/* outbuf.c - see outbuf.h. */
#include "outbuf.h"

#include <inttypes.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

static int
grow(struct outbuf *o, size_t more)
{
	if (o->failed)
		return -1;
	if (more > SIZE_MAX / 2 - o->len) {
		o->failed = 1;
		return -1;
	}
	if (o->len + more <= o->cap)
		return 0;
	size_t cap = o->cap ? o->cap : 256;
	while (cap < o->len + more)
		cap *= 2;
	char *b = realloc(o->buf, cap);
	if (!b) {
		o->failed = 1;
		return -1;
	}
	o->buf = b;
	o->cap = cap;
	return 0;
}

void
ob_bytes(struct outbuf *o, const void *p, size_t n)
{
	if (grow(o, n) != 0)
		return;
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

void
ob_str(struct outbuf *o, const char *s)
{
	ob_bytes(o, s, strlen(s));
}

void
ob_fmt(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->failed = 1;
		return;
	}
	if ((size_t)n < sizeof small) {
		ob_bytes(o, small, (size_t)n);
		return;
	}
	if (grow(o, (size_t)n + 1) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(o->buf + o->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

void
utf8_feed(struct utf8 *u, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n && !u->bad; i++) {
		unsigned char c = p[i];
		if (u->need > 0) {
			if ((c & 0xc0) != 0x80) {
				u->bad = 1;
				break;
			}
			u->cp = u->cp << 6 | (c & 0x3f);
			if (--u->need > 0)
				continue;
			uint32_t cp = u->cp;
			if ((u->len == 2 && cp < 0x80) ||
			    (u->len == 3 && cp < 0x800) ||
			    (u->len == 4 && cp < 0x10000) || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff))
				u->bad = 1;
		} else if (c < 0x80) {
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			u->need = 1;
			u->cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			u->need = 2;
			u->cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			u->need = 3;
			u->cp = c & 0x07;
		} else {
			u->bad = 1;
		}
		if (u->need > 0 && u->len == 0)
			u->len = u->need + 1;
		if (u->need == 0)
			u->len = 0;
	}
}

int
utf8_valid(const unsigned char *p, size_t n)
{
	struct utf8 u = {0};

	utf8_feed(&u, p, n);
	return utf8_end(&u);
}

void
ob_json_escape(struct outbuf *o, const unsigned char *p, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		ob_bytes(o, p + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			ob_str(o, "\\\"");
			break;
		case '\\':
			ob_str(o, "\\\\");
			break;
		case '\n':
			ob_str(o, "\\n");
			break;
		case '\t':
			ob_str(o, "\\t");
			break;
		case '\r':
			ob_str(o, "\\r");
			break;
		default:
			ob_fmt(o, "\\u%04x", c);
		}
	}
	ob_bytes(o, p + run, n - run);
}

static void
json_string(struct outbuf *o, const unsigned char *p, size_t n)
{
	ob_bytes(o, "\"", 1);
	ob_json_escape(o, p, n);
	ob_bytes(o, "\"", 1);
}

void
ob_base64(struct outbuf *o, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (n > (SIZE_MAX - 16) / 4 * 3) {
		o->failed = 1;
		return;
	}
	size_t b64 = sodium_base64_ENCODED_LEN(n,
					       sodium_base64_VARIANT_ORIGINAL);
	if (grow(o, b64) != 0)
		return;
	sodium_bin2base64(o->buf + o->len, b64, p, n,
			  sodium_base64_VARIANT_ORIGINAL);
	o->len += b64 - 1;
}

void
ob_json_field(struct outbuf *o, const char *name, const void *p, size_t n)
{
	if (utf8_valid(p, n)) {
		ob_fmt(o, "\"%s\":", name);
		json_string(o, p, n);
		return;
	}
	ob_fmt(o, "\"%s_base64\":\"", name);
	ob_base64(o, p, n);
	ob_bytes(o, "\"", 1);
}

void
ob_free(struct outbuf *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->cap = 0;
}
