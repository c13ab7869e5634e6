/*
 * lock.c - okof lock and okof cache: the commands that run a command.
 * The library holds the lock (okof_lock_*) and stores the value
 * (okof_put_begin...); this file runs COMMAND, passes signals on, keeps
 * --max-time, and for cache tees COMMAND's output to standard output
 * and into the record.  Exit statuses follow env, nice and timeout:
 * COMMAND's own, 75 busy, 124 out of time, 125 okof failed, 126/127
 * COMMAND not runnable / not found.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <sodium.h>

#include "cli.h"
#include "okof.h"

#define EX_BUSY 75	/* sysexits' EX_TEMPFAIL */
#define EX_TIMEOUT 124
#define EX_OKOF EX_RUNFAIL
#define EX_NOEXEC 126
#define EX_NOTFOUND 127
#define KILL_AFTER_MS 10000 /* --max-time: SIGTERM, then SIGKILL this late */

const struct cli_opt lock_opts[] = {
	{"max-time", 0, 1, O_MAXTIME},
	{"no-wait", 'n', 0, O_NOWAIT},
	{"status", 0, 0, O_STATUS},
	{"wait", 0, 1, O_WAIT},
	{NULL, 0, 0, 0},
};

const struct cli_opt cache_opts[] = {
	{"max-time", 0, 1, O_MAXTIME},
	{"no-wait", 'n', 0, O_NOWAIT},
	{"ttl", 0, 1, O_TTL},
	{"wait", 0, 1, O_WAIT},
	{NULL, 0, 0, 0},
};

/* The running COMMAND, and the pipe that tells the loop of a signal
 * (so that none is lost between a check and a poll). */
static volatile pid_t child_pid;
static volatile sig_atomic_t early_sig; /* came before COMMAND started */
static int sigpipe_fds[2] = {-1, -1};

static void
on_signal(int sig)
{
	int e = errno;

	if (sig != SIGCHLD && child_pid > 0)
		kill(child_pid, sig); /* COMMAND decides; we wait for it */
	else if (sig != SIGCHLD)
		early_sig = sig; /* passed on as soon as it runs */
	(void)!write(sigpipe_fds[1], "", 1);
	errno = e;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the command line asked for, parsed. */
struct run {
	const char *verb;	/* "lock" or "cache" */
	const char *name;	/* the lock's name or the cache's key */
	char **argv;		/* COMMAND */
	int64_t wait_ms;	/* -1: wait as long as it takes */
	int64_t max_ms;		/* --max-time, or -1 */
	int64_t ttl;		/* cache --ttl, seconds, or 0 */
};

/* A usage error: one line, and 125 (okof was misused). */
static int
misuse(const char *verb, const char *why)
{
	msg("%s (usage: okof %s %s -- COMMAND [ARG...]; see 'okof help %s')",
	    why, verb, strcmp(verb, "lock") == 0 ? "NAME" : "KEY", verb);
	return EX_OKOF;
}

/* A DURATION for --wait, where 0 (do not wait) is allowed too. */
static int
duration_ms(const char *verb, const char *opt, const char *s, int zero_ok,
	    int64_t *out)
{
	int64_t sec = zero_ok && strcmp(s, "0") == 0 ? 0 : parse_duration(s);

	if (sec < 0 || sec > INT64_MAX / 1000) {
		char why[128];
		snprintf(why, sizeof why,
			 "bad duration '%.40s' for %s (use 90, 90s, 15m, 2h "
			 "or 7d)",
			 s, opt);
		return misuse(verb, why);
	}
	*out = sec * 1000;
	return 0;
}

/* Reads the operands and options common to lock and cache. */
static int
parse_run(struct cli *c, const char *verb, struct run *r)
{
	char **cmd = c->dashdash >= 0 ? c->args + c->dashdash : NULL;
	int nbefore = cmd ? c->dashdash : c->nargs;

	/* A NAME that starts with '-' comes after a first '--' that ends
	 * the options: "lock -- -x -- COMMAND", "lock --status -- -x". */
	if (nbefore == 0 && cmd && cmd[0] &&
	    ((c->set[O_STATUS] && !cmd[1]) ||
	     (cmd[1] && strcmp(cmd[1], "--") == 0))) {
		nbefore = 1;
		cmd = cmd[1] ? cmd + 2 : NULL;
	}
	memset(r, 0, sizeof *r);
	r->verb = verb;
	r->wait_ms = -1;
	r->max_ms = -1;
	if (nbefore != 1 || !c->args)
		return misuse(verb, nbefore == 0 ? "no NAME"
						 : "one NAME before '--'");
	r->name = c->args[0];
	if (c->set[O_STATUS]) {
		if (cmd)
			return misuse(verb, "--status takes no COMMAND");
		if (c->set[O_NOWAIT] || c->set[O_WAIT] || c->set[O_MAXTIME])
			return misuse(verb, "--status with an option of "
					    "running a command");
	} else {
		if (!cmd)
			return misuse(verb, "no '--' before COMMAND");
		r->argv = cmd;
		if (!*r->argv)
			return misuse(verb, "no COMMAND after '--'");
	}
	if (c->set[O_NOWAIT] && c->set[O_WAIT])
		return misuse(verb, "-n and --wait together");
	if (c->set[O_NOWAIT])
		r->wait_ms = 0;
	if (c->set[O_WAIT] &&
	    duration_ms(verb, "--wait", c->val[O_WAIT], 1, &r->wait_ms) != 0)
		return EX_OKOF;
	if (c->set[O_MAXTIME] && duration_ms(verb, "--max-time",
					     c->val[O_MAXTIME], 0,
					     &r->max_ms) != 0)
		return EX_OKOF;
	if (c->set[O_TTL] && (r->ttl = parse_duration(c->val[O_TTL])) < 0) {
		char why[128];
		snprintf(why, sizeof why,
			 "bad duration '%.40s' for --ttl (use 90, 90s, 15m, "
			 "2h or 7d)",
			 c->val[O_TTL]);
		return misuse(verb, why);
	}
	if (okof_check_key(r->name, strlen(r->name)) != 0) {
		check_key_arg(r->name); /* says what is wrong */
		return EX_OKOF;
	}
	return 0;
}

/* "okof: lock 'NAME' is busy: held by pid P on HOST since TIME". */
static int
say_busy(okof_store *s, const struct run *r, int flags)
{
	struct okof_lock_holder h;
	const char *what = flags & OKOF_LOCK_KEY ? "the lock of key" : "lock";
	int held = okof_lock_status(s, r->name, strlen(r->name), flags, &h);

	if (held == 1 && h.pid > 0) {
		char since[32];
		iso_time(since, sizeof since, h.since_ns / 1000000000);
		msg("%s %s is busy: held by pid %" PRId64 " on %s since %s", what,
		    show_key(r->name, strlen(r->name)), h.pid,
		    h.host[0] ? h.host : "an unknown host", since);
	} else {
		msg("%s %s is busy", what, show_key(r->name, strlen(r->name)));
	}
	return EX_BUSY;
}

/* COMMAND's argv as one line, for the holder record of a plain store. */
static char *
join_args(char **argv)
{
	size_t n = 1;

	for (char **a = argv; *a; a++) {
		size_t l = strlen(*a) + 1;
		if (n > SIZE_MAX - l)
			return NULL;
		n += l;
	}
	char *out = malloc(n), *p = out;
	if (!out)
		return NULL;
	for (char **a = argv; *a; a++) {
		size_t l = strlen(*a);
		if (p != out)
			*p++ = ' ';
		memcpy(p, *a, l);
		p += l;
	}
	*p = '\0';
	return out;
}

/* The signals okof passes on, and SIGCHLD, go to the pipe. */
static int
catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};
	struct sigaction sa = {0};

	if (pipe(sigpipe_fds) != 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (fcntl(sigpipe_fds[i], F_SETFD, FD_CLOEXEC) != 0 ||
		    fcntl(sigpipe_fds[i], F_SETFL, O_NONBLOCK) != 0)
			return -errno;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			return -errno;
	return 0;
}

/*
 * Starts COMMAND with OKOF_LOCK/OKOF_LOCK_TOKEN (token 0: none), its
 * standard output on out_fd (or okof's own, -1).  Returns its pid, or
 * EX_NOEXEC / EX_NOTFOUND / EX_OKOF negated after one line.
 */
static pid_t
spawn(const struct run *r, uint64_t token, int out_fd)
{
	char tok[24];
	int ep[2], e = 0;
	pid_t parent = getpid(), pid;
	sigset_t all, old;

	if (token) {
		snprintf(tok, sizeof tok, "%" PRIu64, token);
		if (setenv("OKOF_LOCK", r->name, 1) != 0 ||
		    setenv("OKOF_LOCK_TOKEN", tok, 1) != 0) {
			msg("cannot run '%s': %s", r->argv[0], strerror(errno));
			return -EX_OKOF;
		}
	}
	/* exec's errno comes back through a pipe that exec closes. */
	if (pipe(ep) != 0 || fcntl(ep[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(ep[1], F_SETFD, FD_CLOEXEC) != 0) {
		msg("cannot run '%s': %s", r->argv[0], strerror(errno));
		return -EX_OKOF;
	}
	/* No handler of ours may run in the child before it is reset. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD,
					   SIGPIPE};
		for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
			signal(sigs[i], SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
#ifdef __linux__
		/* Never run on without the lock: if okof dies, so do we
		 * (and if it died already, before the call, we go now). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(EX_OKOF);
#else
		(void)parent;
#endif
		cli_reclose_fds(); /* okof's own: closed if they were */
		if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
			e = errno;
		else
			execvp(r->argv[0], r->argv);
		e = e ? e : errno;
		(void)!write(ep[1], &e, sizeof e);
		_exit(e == ENOENT ? EX_NOTFOUND : EX_NOEXEC);
	}
	int fork_errno = errno;
	if (pid > 0) {
		child_pid = pid;
		if (early_sig)
			kill(pid, early_sig);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		msg("cannot run '%s': %s", r->argv[0], strerror(fork_errno));
		return -EX_OKOF;
	}
	ssize_t n;
	do
		n = read(ep[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof e) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		child_pid = 0;
		msg("cannot run '%s': %s", r->argv[0], strerror(e));
		return e == ENOENT ? -EX_NOTFOUND : -EX_NOEXEC;
	}
	return pid;
}

/* What the tee of cache does with COMMAND's output. */
struct tee {
	int in;		    /* COMMAND's standard output, or -1 */
	okof_writer *w;	    /* the record, NULL once it failed */
	int out_gone;	    /* our reader went away: store on, print no more */
	int failed;	    /* EX_OKOF: a write failed (reported) */
	okof_store *s;
	struct cli *c;
	const char *key;
	const char *argv0;
};

/* Copies what COMMAND wrote so far; 1 at its end of file, else 0. */
static int
tee_some(struct tee *t)
{
	char buf[65536];
	ssize_t n = read(t->in, buf, sizeof buf);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0) {
		msg("cannot read the output of '%s': %s", t->argv0,
		    strerror(errno));
		t->failed = EX_OKOF;
		return 1;
	}
	if (n == 0)
		return 1;
	if (!t->failed && !t->out_gone) {
		for (ssize_t off = 0; off < n;) {
			ssize_t m = write(STDOUT_FILENO, buf + off,
					  (size_t)(n - off));
			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0 && errno == EPIPE) {
				t->out_gone = 1;
				break;
			}
			if (m < 0) {
				msg("cannot write to standard output: %s",
				    strerror(errno));
				t->failed = EX_OKOF;
				break;
			}
			off += m;
		}
	}
	if (!t->failed) {
		int rc = okof_put_write(t->w, buf, (size_t)n);
		if (rc < 0) {
			report(t->c, t->s, "cache", t->key, strlen(t->key), rc);
			t->failed = EX_OKOF;
		}
	}
	return 0;
}

/*
 * Runs COMMAND (started: pid) to its end, passing signals on (the
 * handler does) and keeping --max-time; for cache, tees its output.
 * Returns okof's exit status for it.
 */
static int
supervise(const struct run *r, pid_t pid, struct tee *t)
{
	int64_t start = mono_ms(), kill_at = -1;
	int timed_out = 0, status = 0, done = 0, eof = t ? 0 : 1;

	while (!done || !eof) {
		int64_t now = mono_ms(), wait = -1;
		if (!timed_out && r->max_ms >= 0 && now - start >= r->max_ms) {
			timed_out = 1;
			kill(pid, SIGTERM);
			kill_at = now + KILL_AFTER_MS;
		}
		if (timed_out && !done && kill_at >= 0 && now >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = -1;
		}
		if (!timed_out && r->max_ms >= 0)
			wait = start + r->max_ms - now;
		else if (kill_at >= 0 && !done)
			wait = kill_at - now;
		if (!done) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				done = 1;
				child_pid = 0;
				continue;
			}
			if (w < 0 && errno != EINTR) {
				msg("cannot wait for '%s': %s", r->argv[0],
				    strerror(errno));
				return EX_OKOF;
			}
		}
		struct pollfd p[2] = {
			{.fd = sigpipe_fds[0], .events = POLLIN},
			{.fd = eof ? -1 : t->in, .events = POLLIN},
		};
		if (done)
			p[0].fd = -1; /* only the tee is left */
		int n = poll(p, 2, wait > INT_MAX ? INT_MAX : (int)wait);
		if (n < 0 && errno != EINTR) {
			msg("cannot wait for '%s': %s", r->argv[0],
			    strerror(errno));
			return EX_OKOF;
		}
		if (n > 0 && (p[0].revents & POLLIN)) {
			char drain[64];
			while (read(sigpipe_fds[0], drain, sizeof drain) > 0)
				;
		}
		if (n > 0 && p[1].revents)
			eof = tee_some(t);
	}
	if (timed_out)
		return EX_TIMEOUT;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Opens the store for lock or cache (made if missing, with create).
 * 0 or EX_OKOF. */
static int
open_for_run(struct cli *c, okof_store **s, int create, const char *key)
{
	if (open_store(c, s, create ? OKOF_CREATE : 0, NULL) != 0)
		return EX_OKOF;
	/* cache: a secret given for a plain store.  Whoever gave it
	 * believes values are sealed: refuse before running anything. */
	if (key && *s && cli_secret && !okof_encrypted(*s)) {
		report(c, *s, "cache", key, strlen(key), OKOF_EPLAIN);
		okof_close(*s);
		*s = NULL;
		return EX_OKOF;
	}
	return 0;
}

static int
lock_status(struct cli *c, const struct run *r)
{
	struct okof_lock_holder h;
	okof_store *s = NULL;
	char line[1024], since[32];
	int rc;

	if ((rc = open_for_run(c, &s, 0, NULL)) != 0)
		return rc;
	if (!s)
		return EX_ABSENT; /* no store: nothing is held */
	int held = okof_lock_status(s, r->name, strlen(r->name), 0, &h);
	if (held < 0) {
		report(c, s, "ask about lock", r->name, strlen(r->name), held);
		okof_close(s);
		return EX_OKOF;
	}
	okof_close(s);
	if (!held)
		return EX_ABSENT;
	if (need_stdout() != 0)
		return EX_OKOF;
	iso_time(since, sizeof since, h.since_ns / 1000000000);
	int n = snprintf(line, sizeof line,
			 "pid: %" PRId64 "\nhost: %s\nsince: %s\ntoken: %" PRIu64
			 "\n%s%s%s",
			 h.pid, h.host, since, h.token,
			 h.note[0] ? "command: " : "", h.note,
			 h.note[0] ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof line) {
		msg("cannot print the holder of lock %s",
		    show_key(r->name, strlen(r->name)));
		return EX_OKOF;
	}
	return out_write(line, (size_t)n) == 0 ? EX_OK : EX_OKOF;
}

int
cmd_lock(struct cli *c)
{
	okof_store *s = NULL;
	okof_lock *l = NULL;
	struct run r;
	int rc;

	if ((rc = parse_run(c, "lock", &r)) != 0)
		return rc;
	if (c->set[O_TTL])
		return misuse("lock", "--ttl is for cache");
	if (c->set[O_STATUS])
		return lock_status(c, &r);
	if ((rc = open_for_run(c, &s, 1, NULL)) != 0)
		return rc;
	char *note = join_args(r.argv);
	rc = okof_lock_acquire(s, r.name, strlen(r.name), 0, r.wait_ms, note,
			       &l);
	free(note);
	if (rc == OKOF_EBUSY) {
		rc = say_busy(s, &r, 0);
		okof_close(s);
		return rc;
	}
	if (rc < 0) {
		report(c, s, "take lock", r.name, strlen(r.name), rc);
		okof_close(s);
		return EX_OKOF;
	}
	if (catch_signals() != 0) {
		msg("cannot run '%s': %s", r.argv[0], strerror(errno));
		rc = EX_OKOF;
	} else {
		pid_t pid = spawn(&r, okof_lock_token(l), -1);
		rc = pid < 0 ? (int)-pid : supervise(&r, pid, NULL);
	}
	okof_lock_release(l);
	okof_close(s);
	return rc;
}

/* Writes the live value of key to standard output: 1 (a hit), 0 (no
 * live value), or EX_OKOF negated (reported). */
static int
cache_hit(struct cli *c, okof_store *s, const char *key)
{
	okof_reader *rd;
	const void *p;
	size_t n;
	int rc = okof_get_open(s, key, strlen(key), &rd);

	if (rc == OKOF_ENOTFOUND)
		return 0;
	if (rc < 0) {
		report(c, s, "read", key, strlen(key), rc);
		return -EX_OKOF;
	}
	while ((rc = okof_get_read(rd, &p, &n)) > 0)
		if (out_write(p, n) != 0) {
			okof_get_close(rd);
			return -EX_OKOF;
		}
	okof_get_close(rd);
	if (rc < 0) {
		report(c, s, "read", key, strlen(key), rc);
		return -EX_OKOF;
	}
	return 1;
}

int
cmd_cache(struct cli *c)
{
	struct okof_put_opts po = {0};
	okof_store *s = NULL;
	okof_lock *l = NULL;
	okof_writer *w = NULL;
	struct run r;
	int rc, out[2] = {-1, -1};

	if ((rc = parse_run(c, "cache", &r)) != 0)
		return rc;
	if (c->set[O_STATUS])
		return misuse("cache", "--status is for lock");
	if (need_stdout() != 0)
		return EX_OKOF;
	if ((rc = open_for_run(c, &s, 1, r.name)) != 0)
		return rc;
	size_t klen = strlen(r.name);
	/* A hit needs no lock: records are published whole. */
	if ((rc = cache_hit(c, s, r.name)) != 0)
		goto out;
	rc = okof_lock_acquire(s, r.name, klen, OKOF_LOCK_KEY, r.wait_ms, NULL,
			       &l);
	if (rc == OKOF_EBUSY) {
		rc = say_busy(s, &r, OKOF_LOCK_KEY);
		goto out_status;
	}
	if (rc < 0) {
		report(c, s, "lock key", r.name, klen, rc);
		rc = -EX_OKOF;
		goto out;
	}
	/* The caller before us may have stored it while we waited. */
	if ((rc = cache_hit(c, s, r.name)) != 0)
		goto out;

	if (r.ttl > 0 && (rc = okof_expires_in(r.ttl, &po.expires)) < 0) {
		msg("bad duration for --ttl: %s", okof_strerror(rc));
		rc = -EX_OKOF;
		goto out;
	}
	if ((rc = okof_put_begin(s, r.name, klen, &po, &w)) < 0) {
		report(c, s, "cache", r.name, klen, rc);
		rc = -EX_OKOF;
		goto out;
	}
	if (pipe(out) != 0 || fcntl(out[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    catch_signals() != 0) {
		msg("cannot run '%s': %s", r.argv[0], strerror(errno));
		rc = -EX_OKOF;
		goto out;
	}
	/* Our reader may go: the value is stored all the same, and we end
	 * by SIGPIPE afterwards, as cat would. */
	signal(SIGPIPE, SIG_IGN);
	pid_t pid = spawn(&r, 0, out[1]);
	close(out[1]);
	out[1] = -1;
	if (pid < 0) {
		rc = (int)pid;
		goto out;
	}
	struct tee t = {.in = out[0], .w = w, .s = s, .c = c, .key = r.name,
		      .argv0 = r.argv[0]};
	int status = supervise(&r, pid, &t);
	if (t.failed) {
		rc = -t.failed;
	} else if (status != 0) {
		rc = status; /* stores nothing: the old value stays */
		goto out_status;
	} else {
		rc = okof_put_commit(w);
		w = NULL;
		if (rc == OKOF_EDIRSYNC) {
			durability_unknown("stored", r.name, c->dir,
					   okof_errpath(s));
			rc = -EX_OKOF;
		} else if (rc < 0) {
			report(c, s, "cache", r.name, klen, rc);
			rc = -EX_OKOF;
		}
		if (rc == 0 && t.out_gone) {
			okof_lock_release(l);
			okof_close(s);
			sodium_free(cli_secret); /* wipes */
			cli_secret = NULL;
			signal(SIGPIPE, SIG_DFL);
			raise(SIGPIPE);
		}
	}
out:
	/* rc: 1 a hit, 0 stored, or an exit status negated. */
	rc = rc >= 0 ? EX_OK : -rc;
out_status:
	okof_put_abort(w);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	okof_lock_release(l);
	okof_close(s);
	return rc;
}
