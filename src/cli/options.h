/*
 * options.h - the command line's option parser and its number and
 * duration arguments.
 */
#ifndef OKOF_OPTIONS_H
#define OKOF_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

/* An option: long name, short letter (0: none), takes a value, id. */
struct cli_opt {
	const char *lng;
	char shrt;
	int arg;
	int id;
};

#define CLI_MAX_IDS 64

struct cli {
	int set[CLI_MAX_IDS];
	const char *val[CLI_MAX_IDS];
	char **args; /* operands, in order */
	int nargs;
	int next;    /* cli_parse with stop: index of the first operand */
	int dashdash; /* operands before "--", or -1 without one */
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

/* The one message for an option given twice: "okof: option 'NAME'
 * given twice" (NAME with its dashes). */
void cli_given_twice(const char *name);

/* A duration: a positive whole number, optionally followed by s, m, h
 * or d.  Returns seconds, or -1. */
int64_t parse_duration(const char *s);

/* A whole [+-]digits argument that fits in 64 bits: 0, or -1. */
int parse_int64(const char *s, int64_t *out);

#endif
