/* cli.c - see cli.h. */
#include "cli.h"

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

/* One "okof: WHAT 'ARG'" line; what never comes from the user. */
static void
err(const char *what, const char *arg)
{
	fprintf(stderr, "okof: %s '%s'\n", what, arg);
}

static const struct cli_opt *
find_long(const struct cli_opt *t, const char *name, size_t n)
{
	for (; t && t->id; t++)
		if (t->lng && strlen(t->lng) == n && memcmp(t->lng, name, n) == 0)
			return t;
	return NULL;
}

static const struct cli_opt *
find_short(const struct cli_opt *t, char ch)
{
	for (; t && t->id; t++)
		if (t->shrt == ch)
			return t;
	return NULL;
}

static int
is_operand(const char *a, const struct cli_opt *t1, const struct cli_opt *t2)
{
	if (a[0] != '-' || a[1] == '\0')
		return 1;
	/* A negative number is a value, not an option (incr k -5), unless
	 * the command has a digit option it could start with (list -0). */
	if (find_short(t1, a[1]) || find_short(t2, a[1]))
		return 0;
	const char *p = a + 1;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

static int
record(struct cli *c, const struct cli_opt *o, const char *val)
{
	if (c->set[o->id]) {
		char name[64];
		if (o->lng)
			snprintf(name, sizeof name, "--%s", o->lng);
		else
			snprintf(name, sizeof name, "-%c", o->shrt);
		err("option given twice:", name);
		return -1;
	}
	c->set[o->id] = 1;
	c->val[o->id] = val;
	return 0;
}

int
cli_parse(struct cli *c, const struct cli_opt *a, const struct cli_opt *b,
	  int argc, char **argv, int stop)
{
	int only_operands = 0;

	c->args = calloc((size_t)argc + 1, sizeof *c->args);
	if (!c->args) {
		err("out of memory parsing", "arguments");
		return -1;
	}
	c->nargs = 0;
	c->next = argc;
	for (int i = 0; i < argc; i++) {
		char *arg = argv[i];
		if (only_operands || is_operand(arg, a, b)) {
			if (stop) {
				c->next = i;
				return 0;
			}
			c->args[c->nargs++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_operands = 1;
			if (stop) {
				c->next = i + 1;
				return 0;
			}
			continue;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			const struct cli_opt *o = find_long(a, name, n);
			if (!o)
				o = find_long(b, name, n);
			if (!o) {
				err("unknown option", arg);
				return -1;
			}
			const char *val = NULL;
			if (o->arg && eq)
				val = eq + 1;
			else if (o->arg && i + 1 < argc)
				val = argv[++i];
			else if (o->arg) {
				err("option needs a value:", arg);
				return -1;
			} else if (eq) {
				err("option takes no value:", arg);
				return -1;
			}
			if (record(c, o, val) != 0)
				return -1;
			continue;
		}
		for (const char *p = arg + 1; *p; p++) {
			const struct cli_opt *o = find_short(a, *p);
			if (!o)
				o = find_short(b, *p);
			if (!o) {
				err("unknown option", (char[]){'-', *p, 0});
				return -1;
			}
			const char *val = NULL;
			if (o->arg) {
				if (p[1])
					val = p + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else {
					err("option needs a value:",
					    (char[]){'-', *p, 0});
					return -1;
				}
			}
			if (record(c, o, val) != 0)
				return -1;
			if (o->arg)
				break;
		}
	}
	return 0;
}

void
cli_free(struct cli *c)
{
	free(c->args);
	free(c->dir_buf);
	c->args = NULL;
	c->dir_buf = NULL;
}

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

/*
 * Parses a duration: a positive whole number with an optional unit s,
 * m, h or d.  Returns seconds, or -1.
 */
int64_t
parse_duration(const char *s)
{
	int64_t mult = 1, v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return -1;
	}
	if (*p != '\0' && p[1] != '\0')
		return -1;
	/* Far enough for any lifetime, small enough that now + it fits. */
	if (v <= 0 || v > (INT64_C(1) << 40) / mult)
		return -1;
	return v * mult;
}

/* Parses a whole [+-]digits argument into *out; -1 if it is not one. */
int
parse_int64(const char *s, int64_t *out)
{
	const char *p = s + (*s == '-' || *s == '+');
	char *end;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
progress_init(struct progress *p, const char *label)
{
	memset(p, 0, sizeof *p);
	p->on = isatty(STDERR_FILENO);
	p->label = label;
	if (p->on)
		p->start = p->last = mono_now();
}

void
progress_tick(struct progress *p, uint64_t n, uint64_t bytes)
{
	p->n += n;
	p->bytes += bytes;
	if (!p->on || (p->n & 63) != 0)
		return;
	double t = mono_now();
	if (t - p->start < 0.5 || t - p->last < 0.1)
		return;
	p->last = t;
	p->drawn = 1;
	double el = t - p->start;
	fprintf(stderr, "\r\033[Kokof: %s: %" PRIu64 " records, %.1f MiB, %.0f/s, "
		"%.1f s",
		p->label, p->n, (double)p->bytes / 1048576.0,
		(double)p->n / el, el);
	fflush(stderr);
}

void
progress_done(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = 0;
}
