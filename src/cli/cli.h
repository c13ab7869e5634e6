/*
 * cli.h - what the command line's files share: exit statuses, option
 * ids, the command table's row, and the helpers of common.c.
 */
#ifndef OKOF_CLI_H
#define OKOF_CLI_H

#include <stddef.h>

#include "okof.h"
#include "options.h"

#define EX_OK 0
#define EX_ABSENT 1
#define EX_USAGE 2
#define EX_FAIL 3

/* Option ids. */
enum {
	O_DIR = 1,
	O_KEYFILE,
	O_HELP,
	O_VERSION,
	O_IF_ABSENT,
	O_TTL,
	O_NOSYNC,
	O_FORCE,
	O_NUL,
	O_LONG,
	O_JSON,
	O_THRESHOLD,
	O_QUIET,
	O_VERBOSE,
	O_ENCRYPT,
	O_PREFIX,
	O_ONCE,
	O_TIMEOUT,
	O_INITIAL,
	O_INTERVAL,
	O_POLL,
	O_COUNT
};

struct cmd {
	const char *name;
	int (*run)(struct cli *c);
	const struct cli_opt *opts;
	int min_args, max_args; /* operands; max -1: any */
	const char *args;	/* operand synopsis, for messages */
	int writes;		/* writes records: clean up on signals */
};

/* From the global options (-d, -k), for every command. */
extern const char *prog_dir;
extern const char *prog_keyfile;
/* The secret of -k or $OKOF_KEY_FILE (sodium_malloc'd), or NULL. */
extern unsigned char *cli_secret;

/* One "okof: ..." line on standard error. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A key fit for a one-line message: quoted, escaped, cut after 64
 * bytes.  A static buffer, valid until the next call. */
const char *show_key(const char *key, size_t len);

/* Reports library failure rc of verb on key (NULL: none) in one line;
 * returns EX_FAIL. */
int report(struct cli *c, okof_store *s, const char *verb, const char *key,
	   size_t klen, int rc);

/* Reads the secret of -k or $OKOF_KEY_FILE into cli_secret: 0 (none
 * given is fine) or EX_FAIL. */
int load_secret(void);

/* Sets c->dir: -d, $OKOF_DIR, $XDG_DATA_HOME/okof, ~/.local/share/okof. */
int locate_store(struct cli *c);

/* Opens the store at c->dir; without OKOF_CREATE a missing store is 0
 * with *s NULL.  0 or EX_FAIL (reported). */
int open_store(struct cli *c, okof_store **s, int flags,
	       const struct okof_settings *st);

/* A key operand: 0, or EX_USAGE (reported). */
int check_key_arg(const char *key);

/* Writes all of p/n to standard output: 0, or EX_FAIL (reported);
 * a reader that went away ends the process by SIGPIPE. */
int out_write(const void *p, size_t n);

/* watch.c: okof watch, and its usage (synopsis, options, example). */
int cmd_watch(struct cli *c);
extern const struct cli_opt watch_opts[];
extern const char watch_usage[];

#endif
