/*
 * cli.h - the command line's helpers: option parsing, and an output
 * buffer that can write JSON strings.
 */
#ifndef OKOF_CLI_H
#define OKOF_CLI_H

#include <stddef.h>
#include <stdint.h>

/* An option: long name, short letter (0: none), takes a value, id. */
struct cli_opt {
	const char *lng;
	char shrt;
	int arg;
	int id;
};

#define CLI_MAX_IDS 32

struct cli {
	int set[CLI_MAX_IDS];
	const char *val[CLI_MAX_IDS];
	char **args; /* operands, in order */
	int nargs;
	int next;    /* cli_parse with stop: index of the first operand */
	const char *dir;
	char *dir_buf;
};

/*
 * Parses argv[0..argc) against two option tables (b may be NULL).
 * Options may come before or after operands; "--" ends options; "-" and
 * a negative number ("-5") are operands (unless a table has a short
 * option for its first digit, as list has -0); "--opt=v", "--opt v", "-o v",
 * "-ov" and bundled flags "-0l" are understood.  An option given twice
 * is an error.  With stop set, parsing ends at the first operand and
 * c->next is its index.  On error prints one "okof: " line and returns
 * -1.
 */
int cli_parse(struct cli *c, const struct cli_opt *a, const struct cli_opt *b,
	      int argc, char **argv, int stop);

void cli_free(struct cli *c);

/* A duration: a positive whole number, optionally followed by s, m, h
 * or d.  Returns seconds, or -1. */
int64_t parse_duration(const char *s);

/* A whole [+-]digits argument that fits in 64 bits: 0, or -1. */
int parse_int64(const char *s, int64_t *out);

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

/*
 * A one-line progress meter on standard error, drawn only when it is a
 * terminal and the work has run for half a second, erased at the end.
 */
struct progress {
	int on;
	const char *label;
	uint64_t n, bytes;
	double start, last;
	int drawn;
};

void progress_init(struct progress *p, const char *label);
void progress_tick(struct progress *p, uint64_t n, uint64_t bytes);
void progress_done(struct progress *p);

#endif
