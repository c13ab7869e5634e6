/*
 * watch.c - okof watch: report changes to keys, or run a command after
 * them.  The library (okof_watch_*) finds the changes; this file parses,
 * prints, runs COMMAND and ends cleanly on SIGINT/SIGTERM/SIGHUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "okof.h"

const struct cli_opt watch_opts[] = {
	{"initial", 0, 0, O_INITIAL},
	{"interval", 0, 1, O_INTERVAL},
	{"null", '0', 0, O_NUL},
	{"once", 0, 0, O_ONCE},
	{"poll", 0, 0, O_POLL},
	{"prefix", 0, 1, O_PREFIX},
	{"timeout", 0, 1, O_TIMEOUT},
	{NULL, 0, 0, 0},
};

/* The signal that ends the watch (0: none), the running COMMAND, and
 * the pipe that wakes the loop (so no signal is lost before a poll). */
static volatile sig_atomic_t stop_sig;
static volatile pid_t child_pid;
static int wake[2] = {-1, -1};

static void
on_stop(int sig)
{
	int e = errno;

	stop_sig = sig;
	if (child_pid > 0)
		kill(child_pid, sig); /* COMMAND ends first, then we */
	if (wake[1] >= 0)
		(void)!write(wake[1], "", 1);
	errno = e;
}

/* A DURATION (90, 90s, 15m, 2h, 7d) or a whole number of ms ("500ms"),
 * in milliseconds; -1 if it is neither. */
static int64_t
parse_ms(const char *s)
{
	size_t n = strlen(s);

	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		int64_t v = 0;
		for (size_t i = 0; i < n - 2; i++) {
			if (s[i] < '0' || s[i] > '9' || v > INT32_MAX / 10)
				return -1;
			v = v * 10 + (s[i] - '0');
		}
		return v > 0 ? v : -1;
	}
	int64_t sec = parse_duration(s);
	return sec < 0 || sec > INT32_MAX / 1000 ? -1 : sec * 1000;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
kind_word(enum okof_watch_kind k)
{
	return k == OKOF_WATCH_PUT ? "put" : "del";
}

/* "put KEY\n" (or NUL-ended) in one write, so a pipe reader sees it
 * whole and at once. */
static int
print_event(const struct okof_watch_event *ev, int nul)
{
	char buf[4 + OKOF_KEY_MAX + 1];

	memcpy(buf, kind_word(ev->kind), 3);
	buf[3] = ' ';
	memcpy(buf + 4, ev->key, ev->klen);
	buf[4 + ev->klen] = nul ? '\0' : '\n';
	return out_write(buf, 4 + ev->klen + 1);
}

/*
 * Runs argv with the event in its environment and waits for it.  A run
 * that fails is named in one line; the watch goes on either way.
 */
static void
run_command(char **argv, const struct okof_watch_event *ev)
{
	char key[OKOF_KEY_MAX + 1];
	int ep[2];
	pid_t pid;

	memcpy(key, ev->key, ev->klen);
	key[ev->klen] = '\0';
	if (setenv("OKOF_WATCH_KEY", key, 1) != 0 ||
	    setenv("OKOF_WATCH_EVENT", kind_word(ev->kind), 1) != 0) {
		msg("cannot run '%s' for %s %s: %s", argv[0],
		    kind_word(ev->kind), show_key(ev->key, ev->klen),
		    strerror(errno));
		return;
	}
	/* exec's errno comes back through a pipe that exec closes. */
	if (pipe(ep) != 0) {
		msg("cannot run '%s': %s", argv[0], strerror(errno));
		return;
	}
	fcntl(ep[0], F_SETFD, FD_CLOEXEC);
	fcntl(ep[1], F_SETFD, FD_CLOEXEC);
	pid = fork();
	if (pid < 0) {
		msg("cannot run '%s': %s", argv[0], strerror(errno));
		close(ep[0]);
		close(ep[1]);
		return;
	}
	if (pid == 0) {
		close(ep[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		cli_reclose_fds(); /* okof's own: closed if they were */
		execvp(argv[0], argv);
		int e = errno;
		(void)!write(ep[1], &e, sizeof e);
		_exit(e == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	close(ep[1]);
	int e = 0;
	ssize_t n;
	do
		n = read(ep[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_pid = 0;
	if (n == (ssize_t)sizeof e)
		msg("cannot run '%s' for %s %s: %s", argv[0],
		    kind_word(ev->kind), show_key(ev->key, ev->klen),
		    strerror(e));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		msg("'%s' failed for %s %s: exit status %d", argv[0],
		    kind_word(ev->kind), show_key(ev->key, ev->klen),
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) != stop_sig)
		msg("'%s' failed for %s %s: killed by signal %d (%s)",
		    argv[0], kind_word(ev->kind), show_key(ev->key, ev->klen),
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
}

static int
usage_error(const char *why)
{
	msg("%s (usage: okof watch KEY... | --prefix PREFIX "
	    "[-- COMMAND [ARG...]])",
	    why);
	return EX_USAGE;
}

int
cmd_watch(struct cli *c)
{
	int nkeys = c->dashdash >= 0 ? c->dashdash : c->nargs;
	char **command = c->dashdash >= 0 ? c->args + c->dashdash : NULL;
	char **keyv = c->args;
	int64_t timeout = -1, interval = 1000;
	struct okof_watch_opts o = {0};
	const char **keys = NULL;
	size_t *klens = NULL;
	okof_watch *w = NULL;
	int rc = EX_FAIL;

	/* Keys that start with '-' come after a first '--' that ends the
	 * options, up to a second one before COMMAND: "watch -- -x". */
	if (command && nkeys == 0 && !c->set[O_PREFIX] && *command) {
		keyv = command;
		while (keyv[nkeys] && strcmp(keyv[nkeys], "--") != 0)
			nkeys++;
		command = keyv[nkeys] ? keyv + nkeys + 1 : NULL;
	}
	if (command && !*command)
		return usage_error("no COMMAND after '--'");
	if (c->set[O_PREFIX] && nkeys > 0)
		return usage_error("KEY and --prefix together");
	if (!c->set[O_PREFIX] && nkeys == 0)
		return usage_error("no KEY and no --prefix");
	if (command && c->set[O_NUL])
		return usage_error("-0 with a COMMAND, which gets the key in "
				   "OKOF_WATCH_KEY");
	/* keyv is NULL only when there are no operands (nkeys 0): said for
	 * clang's analyser, which cannot see that cli_parse() ties them. */
	for (int i = 0; keyv && i < nkeys; i++)
		if (check_key_arg(keyv[i]) != 0)
			return EX_USAGE;
	if (c->set[O_PREFIX] && strlen(c->val[O_PREFIX]) > OKOF_KEY_MAX) {
		msg("bad prefix: longer than a key (%d bytes)", OKOF_KEY_MAX);
		return EX_USAGE;
	}
	if (c->set[O_TIMEOUT] && (timeout = parse_ms(c->val[O_TIMEOUT])) < 0) {
		msg("bad duration '%s' for --timeout (use 90, 90s, 15m, 2h, 7d "
		    "or 500ms)",
		    c->val[O_TIMEOUT]);
		return EX_USAGE;
	}
	if (c->set[O_INTERVAL] &&
	    (interval = parse_ms(c->val[O_INTERVAL])) < 0) {
		msg("bad duration '%s' for --interval (use 90, 90s, 15m, 2h, "
		    "7d or 500ms)",
		    c->val[O_INTERVAL]);
		return EX_USAGE;
	}

	size_t n = c->set[O_PREFIX] ? 1 : (size_t)nkeys;
	keys = calloc(n, sizeof *keys);
	klens = calloc(n, sizeof *klens);
	if (!keys || !klens) {
		msg("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* Without --prefix, n is nkeys: operands, so keyv is set
		 * (said for clang's analyser). */
		keys[i] = c->set[O_PREFIX] || !keyv ? c->val[O_PREFIX]
						    : keyv[i];
		if (!keys[i])
			goto out;
		klens[i] = strlen(keys[i]);
	}
	o.keys = keys;
	o.klens = klens;
	o.nkeys = n;
	o.flags = (c->set[O_PREFIX] ? OKOF_WATCH_PREFIX : 0) |
		  (c->set[O_INITIAL] ? OKOF_WATCH_INITIAL : 0) |
		  (c->set[O_POLL] ? OKOF_WATCH_POLL : 0);
	o.interval_ms = (int)interval;

	if (pipe(wake) != 0) {
		msg("cannot watch: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(wake[i], F_SETFD, FD_CLOEXEC);
		fcntl(wake[i], F_SETFL, O_NONBLOCK);
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	int lrc = okof_watch_open(&w, c->dir, cli_secret, &o);
	if (lrc < 0) {
		msg("cannot watch store '%s': %s", c->dir, okof_strerror(lrc));
		goto out;
	}
	int said_polling = c->set[O_POLL] || !isatty(STDERR_FILENO);
	int64_t deadline = timeout >= 0 ? mono_ms() + timeout : -1;
	struct okof_watch_event ev;
	while (!stop_sig) {
		lrc = okof_watch_next(w, 0, &ev);
		if (lrc < 0 && lrc != -EINTR) {
			report(c, okof_watch_store(w), "watch", NULL, 0, lrc);
			goto out;
		}
		if (!said_polling && okof_watch_polling(w)) {
			msg("watching '%s' by polling every %lld ms: the "
			    "kernel cannot report its changes (a network or "
			    "FUSE filesystem, or inotify's limits reached)",
			    c->dir, (long long)interval);
			said_polling = 1;
		}
		if (lrc > 0) {
			if (command)
				run_command(command, &ev);
			else if (print_event(&ev, c->set[O_NUL]) != 0)
				goto out;
			if (c->set[O_ONCE]) {
				rc = EX_OK;
				goto out;
			}
			if (timeout >= 0)
				deadline = mono_ms() + timeout;
			continue;
		}
		int wait = okof_watch_timeout(w);
		if (deadline >= 0) {
			int64_t left = deadline - mono_ms();
			if (left <= 0) {
				rc = EX_ABSENT;
				goto out;
			}
			if (wait < 0 || left < wait)
				wait = (int)(left > INT_MAX ? INT_MAX : left);
		}
		struct pollfd pfd[2] = {
			{.fd = wake[0], .events = POLLIN},
			{.fd = okof_watch_fd(w), .events = POLLIN},
		};
		if (poll(pfd, pfd[1].fd >= 0 ? 2 : 1, wait) < 0 &&
		    errno != EINTR) {
			msg("cannot watch: %s", strerror(errno));
			goto out;
		}
	}
out:
	okof_watch_close(w);
	free(keys);
	free(klens);
	if (stop_sig) {
		/* Ended by a signal: say so in our status, as a shell
		 * expects, once everything is closed. */
		sodium_free(cli_secret);
		cli_secret = NULL;
		signal(stop_sig, SIG_DFL);
		raise(stop_sig);
	}
	return rc;
}
