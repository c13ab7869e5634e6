/*
 * cli.h - the command line's helpers: option parsing, and an output
 * buffer that can write JSON strings.
 */
#ifndef OKOF_CLI_H
#define OKOF_CLI_H

#include <stddef.h>

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

/* Is p/n valid UTF-8 (no overlongs, no surrogates)? */
int utf8_valid(const unsigned char *p, size_t n);

#endif
