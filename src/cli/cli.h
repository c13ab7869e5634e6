/*
 * cli.h - what the command line's files share: exit statuses, option
 * ids, the command table's row, and the helpers of common.c.
 */
#ifndef OKOF_CLI_H
#define OKOF_CLI_H

#include <stddef.h>
#include <stdint.h>

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
	O_DEFAULT,
	O_PREFIX,
	O_ONCE,
	O_TIMEOUT,
	O_INITIAL,
	O_INTERVAL,
	O_POLL,
	O_MAXTIME,
	O_NOWAIT,
	O_STATUS,
	O_WAIT,
	O_COUNT
};

/*
 * A row of the command table (main.c).  help is the command's whole
 * usage, one string: the synopsis after "okof NAME " on the first line,
 * what the command does on the second (at most 60 columns), then one
 * line per option of its own ("  -f, --force       ...", a description
 * from column 21, continuation lines indented as far), and last a line
 * "example: ...".  "okof help NAME" prints it with the
 * global options that apply; "okof help" lists every row's first two
 * lines.
 */
struct cmd {
	const char *name;
	int (*run)(struct cli *c);
	const struct cli_opt *opts;
	int min_args, max_args; /* operands; max -1: any */
	int writes;		/* writes records: clean up on signals */
	int store;		/* uses the store: -d and -k apply */
	const char *help;
	/* Runs a command (lock, cache): okof's own misuse and failures
	 * exit 125, as env's and timeout's do, not 2 and 3. */
	int runs_command;
};

/* From the global options (-d, -k), for every command. */
extern const char *prog_dir;
extern const char *prog_keyfile;
/* The secret of -k or $OKOF_KEY_FILE (sodium_malloc'd), or NULL. */
extern unsigned char *cli_secret;

/* Standard output was closed when okof started (main sets it). */
extern int cli_stdout_closed;
/* Which of descriptors 0-2 were closed when okof started (bit fd):
 * main opens them on /dev/null, and a COMMAND okof runs gets them
 * closed again (cli_reclose_fds(), in the child). */
extern int cli_closed_fds;
void cli_reclose_fds(void);

/* One "okof: ..." line on standard error. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For a command that may fail on many keys, one line for them all:
 * after msg_hold(), msg() only counts and keeps the first message;
 * msg_release() prints it (with how many more there were) and returns
 * EX_FAIL, or EX_OK when there was none. */
void msg_hold(void);
int msg_release(void);

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

/* Writes all of p/n to standard output: 0, or EX_FAIL (reported; also
 * when standard output was closed at start and n > 0); a reader that
 * went away ends the process by SIGPIPE. */
int out_write(const void *p, size_t n);
/* The same without a message: 0 or -errno (-EBADF when closed). */
int out_try(const void *p, size_t n);

/* For a command that changes the store and then prints: 0, or EX_FAIL
 * (reported) when standard output was closed at start, so that it fails
 * before it changes anything. */
int need_stdout(void);

/* "okof: DONE WHAT, but cannot fsync its directory (DIR/SUB):
 * durability unknown" (dir may be NULL); returns EX_FAIL. */
int durability_unknown(const char *done, const char *what, const char *dir,
		       const char *sub);
/* Unix time secs as ISO 8601 UTC ("2026-12-02T10:00:00Z") in buf. */
void iso_time(char *buf, size_t n, int64_t secs);

/* lock.c: okof lock and okof cache, and their options. */
#define EX_RUNFAIL 125
int cmd_lock(struct cli *c);
int cmd_cache(struct cli *c);
extern const struct cli_opt lock_opts[];
extern const struct cli_opt cache_opts[];

/* watch.c: okof watch and its options. */
int cmd_watch(struct cli *c);
extern const struct cli_opt watch_opts[];

#endif
