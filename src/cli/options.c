/* options.c - see options.h. */
#include "options.h"

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
		if (t->lng && strlen(t->lng) == n &&
		    memcmp(t->lng, name, n) == 0)
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
	/* A negative number is a value, not an option (incr k -5, put t
	 * -1.5, put t -2e3), unless the command has a digit option it
	 * could start with (list -0). */
	if (find_short(t1, a[1]) || find_short(t2, a[1]))
		return 0;
	const char *p = a + 1;
	size_t digits = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (digits > 0 && (*p == 'e' || *p == 'E')) {
		p += p[1] == '+' || p[1] == '-' ? 2 : 1;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return digits > 0 && *p == '\0';
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
		cli_given_twice(name);
		return -1;
	}
	c->set[o->id] = 1;
	c->val[o->id] = val;
	return 0;
}

void
cli_given_twice(const char *name)
{
	fprintf(stderr, "okof: option '%s' given twice\n", name);
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
	c->dashdash = -1;
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
			c->dashdash = c->nargs;
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
			if (!o && arg[2] != '\0') {
				fprintf(stderr,
					"okof: unknown option '-%c' in '%s'\n",
					*p, arg);
				return -1;
			}
			if (!o) {
				err("unknown option", arg);
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
