/*
 * common.c - what every command of the command line shares: messages,
 * the store's location and opening, the secret, standard output.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

const char *prog_dir;	   /* from -d, for every command */
const char *prog_keyfile;  /* from -k */
unsigned char *cli_secret; /* sodium_malloc'd; wiped at exit */
int cli_stdout_closed;
int cli_closed_fds;

/* Messages held by msg_hold(): how many, and the first one's text. */
static struct {
	int on;
	size_t n;
	char *first;
} held;

void
msg(const char *fmt, ...)
{
	va_list ap;

	if (held.on) {
		if (held.n++ > 0)
			return;
		va_start(ap, fmt);
		int len = vsnprintf(NULL, 0, fmt, ap);
		va_end(ap);
		if (len < 0 || !(held.first = malloc((size_t)len + 1)))
			return; /* counted; msg_release says what it can */
		va_start(ap, fmt);
		vsnprintf(held.first, (size_t)len + 1, fmt, ap);
		va_end(ap);
		return;
	}
	fputs("okof: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_reclose_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (cli_closed_fds & (1 << fd))
			close(fd);
}

void
msg_hold(void)
{
	held.on = 1;
	held.n = 0;
	held.first = NULL;
}

int
msg_release(void)
{
	size_t more = held.n > 0 ? held.n - 1 : 0;
	char *first = held.first;

	held.on = 0;
	if (held.n == 0)
		return EX_OK;
	if (!first)
		msg("%zu failures (out of memory for their messages)", held.n);
	else if (more == 0)
		msg("%s", first);
	else
		msg("%s (and %zu more failure%s)", first, more,
		    more == 1 ? "" : "s");
	free(first);
	return EX_FAIL;
}

/*
 * A key fit for a one-line message: quoted, control and non-ASCII bytes
 * escaped, cut (with "...") after 64 bytes.
 */
const char *
show_key(const char *key, size_t len)
{
	static char out[64 * 4 + 8];
	size_t o = 0;

	out[o++] = '\'';
	for (size_t i = 0; i < len && i < 64; i++) {
		unsigned char ch = (unsigned char)key[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, sizeof out - o,
					      "\\x%02x", ch);
	}
	if (len > 64) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\'';
	out[o] = '\0';
	return out;
}

/*
 * Reports a library failure for key (NULL: none) in one line:
 * "okof: cannot VERB 'KEY': REASON (DETAIL; STORE/FILE)".
 */
int
report(struct cli *c, okof_store *s, const char *verb, const char *key,
       size_t klen, int rc)
{
	const char *path = s ? okof_errpath(s) : "";
	const char *detail = s ? okof_errdetail(s) : "";

	const char *k = key ? show_key(key, klen) : "";

	if (!*detail && !*path)
		msg("cannot %s%s%s: %s", verb, key ? " " : "", k,
		    okof_strerror(rc));
	else
		msg("cannot %s%s%s: %s (%s%s%s%s%s)", verb, key ? " " : "", k,
		    okof_strerror(rc), detail, *detail && *path ? ": " : "",
		    *path ? c->dir : "", *path ? "/" : "", path);
	return EX_FAIL;
}

/*
 * Reads the secret from the key file named by -k or $OKOF_KEY_FILE:
 * exactly OKOF_SECRET_BYTES, a regular file of ours that no one else
 * can read.  Returns 0 (the secret stays NULL without a key file) or exit 3.
 */
int
load_secret(void)
{
	const char *path = prog_keyfile;
	const char *why;
	int rc;

	if (!path) {
		path = getenv("OKOF_KEY_FILE");
		if (!path || !*path)
			return 0;
	}
	cli_secret = sodium_malloc(OKOF_SECRET_BYTES);
	if (!cli_secret) {
		msg("bad key file '%s': out of memory", path);
		return EX_FAIL;
	}
	rc = okof_load_secret(path, cli_secret, &why);
	if (rc == 0)
		return 0;
	if (!why)
		msg("cannot read key file '%s': %s", path, okof_strerror(rc));
	else
		msg("bad key file '%s': %s", path,
		    *why ? why : okof_strerror(rc));
	sodium_free(cli_secret);
	cli_secret = NULL;
	return EX_FAIL;
}

/* Where the store is: -d, $OKOF_DIR, $XDG_DATA_HOME/okof,
 * ~/.local/share/okof. */
int
locate_store(struct cli *c)
{
	const char *e;

	if (prog_dir) {
		c->dir = prog_dir;
		return 0;
	}
	if ((e = getenv("OKOF_DIR")) && *e) {
		c->dir = e;
		return 0;
	}
	const char *base = NULL, *sub = NULL;
	if ((e = getenv("XDG_DATA_HOME")) && *e == '/') {
		base = e;
		sub = "/okof";
	} else if ((e = getenv("HOME")) && *e) {
		base = e;
		sub = "/.local/share/okof";
	}
	if (!base) {
		msg("cannot locate the store: set -d, OKOF_DIR or HOME");
		return EX_FAIL;
	}
	size_t n = strlen(base) + strlen(sub) + 1;
	c->dir_buf = malloc(n);
	if (!c->dir_buf) {
		msg("out of memory");
		return EX_FAIL;
	}
	snprintf(c->dir_buf, n, "%s%s", base, sub);
	c->dir = c->dir_buf;
	return 0;
}

/*
 * Opens the store.  For reads a missing store is not an error: *s is
 * left NULL and 0 is returned, and the command behaves as on an empty
 * store.
 */
int
open_store(struct cli *c, okof_store **s, int flags,
	   const struct okof_settings *st)
{
	int rc = okof_open(s, c->dir, flags, st, cli_secret);

	if (rc == OKOF_ENOSTORE && !(flags & OKOF_CREATE))
		return 0;
	if (rc == 0)
		return 0;
	if (rc == OKOF_ENEEDSECRET)
		msg("cannot open store '%s': %s (give -k/--key-file or "
		    "OKOF_KEY_FILE)",
		    c->dir, okof_strerror(rc));
	else if (rc == OKOF_EBADSECRET)
		msg("cannot open store '%s': %s", c->dir, okof_strerror(rc));
	else if (rc == OKOF_ECORRUPT)
		msg("cannot open store '%s': metadata is corrupt (%s/meta)",
		    c->dir, c->dir);
	else
		msg("cannot open store '%s': %s", c->dir, okof_strerror(rc));
	return EX_FAIL;
}

static int
bad_key(const char *key, size_t len)
{
	if (len == 0)
		msg("bad key: empty (a key is 1 to %d bytes)", OKOF_KEY_MAX);
	else
		msg("bad key: %zu bytes long (a key is 1 to %d bytes)", len,
		    OKOF_KEY_MAX);
	(void)key;
	return EX_USAGE;
}

int
check_key_arg(const char *key)
{
	size_t len = strlen(key);

	if (okof_check_key(key, len) != 0)
		return bad_key(key, len);
	return 0;
}

int
durability_unknown(const char *done, const char *what, const char *dir,
		   const char *sub)
{
	if (dir)
		msg("%s %s, but cannot fsync its directory (%s%s%s): "
		    "durability unknown",
		    done, what, dir, *sub ? "/" : "", sub);
	else
		msg("%s %s, but cannot fsync its directory: durability "
		    "unknown",
		    done, what);
	return EX_FAIL;
}

/* As cat: standard output closed is an error once there is output. */
static int
closed_stdout(void)
{
	msg("cannot write to standard output: %s", strerror(EBADF));
	return EX_FAIL;
}

int
need_stdout(void)
{
	return cli_stdout_closed ? closed_stdout() : 0;
}

/* Writes all of p/n to standard output: 0 or -errno (a reader that
 * went away is SIGPIPE, which ends us).  Descriptor 1 may be our
 * /dev/null stand-in, closed as far as the caller knows: see main.c
 * sane_fds. */
int
out_try(const void *p, size_t n)
{
	const char *b = p;

	if (cli_stdout_closed && n > 0)
		return -EBADF;
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -ENOSPC;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int
out_write(const void *p, size_t n)
{
	int rc = out_try(p, n);

	if (rc < 0) {
		msg("cannot write to standard output: %s", strerror(-rc));
		return EX_FAIL;
	}
	return 0;
}

void
iso_time(char *buf, size_t n, int64_t secs)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ",
					   &tm) == 0)
		snprintf(buf, n, "%" PRId64, secs);
}
