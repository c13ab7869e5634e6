/*
 * main.c - the command line: the command table, the commands, and
 * main().  Everything else is the library's (okof.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "options.h"
#include "outbuf.h"
#include "progress.h"
#include "completion.h"
#include "jsonl.h"
#include "okof.h"

static const struct cli_opt global_opts[] = {
	{"dir", 'd', 1, O_DIR},
	{"key-file", 'k', 1, O_KEYFILE},
	{"help", 'h', 0, O_HELP},
	{"version", 'V', 0, O_VERSION},
	{NULL, 0, 0, 0},
};

static int
cmd_keygen(struct cli *c)
{
	const char *path = c->args[0];

	if (!*path) {
		msg("bad FILE for keygen: an empty name");
		return EX_USAGE;
	}
	int rc = okof_keygen(path);

	if (rc == OKOF_EDIRSYNC) {
		char what[PATH_MAX + 16];
		snprintf(what, sizeof what, "key file '%s'", path);
		return durability_unknown("wrote", what, NULL, NULL);
	}
	if (rc < 0) {
		msg("cannot create key file '%s': %s%s", path,
		    okof_strerror(rc),
		    rc == -EEXIST ? " (not overwritten)" : "");
		return EX_FAIL;
	}
	return EX_OK;
}

static int usage_error(const char *name);

static int
cmd_put(struct cli *c)
{
	const char *key = c->args[0];
	size_t klen = strlen(key);
	struct okof_put_opts po = {0};
	okof_store *s = NULL;
	int rc;

	if ((rc = check_key_arg(key)) != 0)
		return rc;
	po.if_absent = c->set[O_IF_ABSENT];
	po.no_sync = c->set[O_NOSYNC];
	if (c->set[O_TTL]) {
		int64_t ttl = parse_duration(c->val[O_TTL]);
		if (ttl < 0) {
			msg("bad duration '%s' for --ttl (use 90, 90s, 15m, "
			    "2h or 7d)",
			    c->val[O_TTL]);
			return EX_USAGE;
		}
		if ((rc = okof_expires_in(ttl, &po.expires)) != 0) {
			msg("bad duration '%s' for --ttl: %s", c->val[O_TTL],
			    okof_strerror(rc));
			return EX_USAGE;
		}
	}
	if (c->nargs == 2 && cli_secret) {
		/* Secrets never pass through argv, where other users can
		 * read them: on an encrypted store (or one a secret would
		 * create) the value comes from standard input. */
		rc = okof_open(&s, c->dir, 0, NULL, cli_secret);
		int enc = rc == OKOF_ENOSTORE || (rc == 0 && okof_encrypted(s));
		okof_close(s);
		s = NULL;
		if (enc) {
			msg("cannot put %s: on an encrypted store the value "
			    "must come from standard input, not argv",
			    show_key(key, klen));
			return EX_USAGE;
		}
	}
	if ((rc = open_store(c, &s, OKOF_CREATE, NULL)) != 0)
		return rc;
	if (c->nargs == 2 && okof_encrypted(s)) {
		msg("cannot put %s: on an encrypted store the value must come "
		    "from standard input, not argv",
		    show_key(key, klen));
		okof_close(s);
		return EX_USAGE;
	}
	if (c->nargs == 2)
		rc = okof_put(s, key, klen, c->args[1], strlen(c->args[1]),
			      &po);
	else
		rc = okof_put_fd(s, key, klen, STDIN_FILENO, &po);
	if (rc == OKOF_EEXIST)
		rc = EX_ABSENT;
	else if (rc == OKOF_EDIRSYNC)
		rc = durability_unknown("stored", show_key(key, klen), c->dir,
					okof_errpath(s));
	else if (rc < 0 && *okof_errpath(s) == '\0')
		rc = (msg("cannot put %s: reading the value from standard "
			  "input: %s",
			  show_key(key, klen), okof_strerror(rc)),
		      EX_FAIL);
	else if (rc < 0)
		rc = report(c, s, "put", key, klen, rc);
	okof_close(s);
	return rc;
}

static int
cmd_get(struct cli *c)
{
	const char *key = c->args[0];
	size_t klen = strlen(key);
	okof_store *s = NULL;
	okof_reader *r = NULL;
	const void *p;
	size_t n;
	int rc;

	if ((rc = check_key_arg(key)) != 0)
		return rc;
	if ((rc = open_store(c, &s, 0, NULL)) != 0)
		return rc;
	rc = s ? okof_get_open(s, key, klen, &r) : OKOF_ENOTFOUND;
	if (rc == OKOF_ENOTFOUND) {
		/* Absent or expired, and only that: damage stays exit 3. */
		const char *def = c->val[O_DEFAULT];
		rc = def ? out_write(def, strlen(def)) : EX_ABSENT;
		goto out;
	}
	if (rc < 0) {
		rc = report(c, s, "get", key, klen, rc);
		goto out;
	}
	while ((rc = okof_get_read(r, &p, &n)) > 0)
		if ((rc = out_write(p, n)) != 0)
			goto out;
	if (rc < 0)
		rc = report(c, s, "get", key, klen, rc);
out:
	okof_get_close(r);
	okof_close(s);
	return rc;
}

static int
cmd_has(struct cli *c)
{
	const char *key = c->args[0];
	size_t klen = strlen(key);
	okof_store *s = NULL;
	int rc;

	if ((rc = check_key_arg(key)) != 0)
		return rc;
	if ((rc = open_store(c, &s, 0, NULL)) != 0)
		return rc;
	if (!s)
		return EX_ABSENT;
	rc = okof_has(s, key, klen);
	if (rc == 0)
		rc = EX_ABSENT;
	else if (rc == 1)
		rc = 0;
	else
		rc = report(c, s, "read", key, klen, rc);
	okof_close(s);
	return rc;
}

static int
cmd_del(struct cli *c)
{
	okof_store *s = NULL;
	int rc, status = EX_OK;

	/* As rm -f: nothing to delete is fine with -f (xargs -0 okof del -f
	 * runs it once even when nothing matched), a usage error without. */
	if (c->nargs == 0 && !c->set[O_FORCE])
		return usage_error("del");
	if (c->nargs == 0)
		return EX_OK;
	for (int i = 0; i < c->nargs; i++)
		if ((rc = check_key_arg(c->args[i])) != 0)
			return rc;
	if ((rc = open_store(c, &s, 0, NULL)) != 0)
		return rc;
	if (!s)
		return c->set[O_FORCE] ? EX_OK : EX_ABSENT;
	msg_hold(); /* one line for every key that failed */
	for (int i = 0; i < c->nargs; i++) {
		const char *key = c->args[i];
		size_t klen = strlen(key);
		rc = okof_del(s, key, klen, c->set[O_NOSYNC]);
		if (rc == OKOF_ENOTFOUND) {
			if (!c->set[O_FORCE] && status == EX_OK)
				status = EX_ABSENT;
		} else if (rc == OKOF_EDIRSYNC) {
			status = durability_unknown("deleted",
						    show_key(key, klen), c->dir,
						    okof_errpath(s));
		} else if (rc < 0) {
			status = report(c, s, "delete", key, klen, rc);
		}
	}
	msg_release();
	okof_close(s);
	return status;
}

static int
cmd_list(struct cli *c)
{
	const char *prefix = c->nargs ? c->args[0] : "";
	struct okof_keys keys;
	okof_store *s = NULL;
	int rc;

	if ((rc = open_store(c, &s, 0, NULL)) != 0)
		return rc;
	if (!s)
		return EX_OK;
	rc = okof_list(s, prefix, strlen(prefix), &keys);
	if (rc < 0) {
		rc = report(c, s, "list", NULL, 0, rc);
		okof_close(s);
		return rc;
	}
	char end = c->set[O_NUL] ? '\0' : '\n';
	struct outbuf ob = {0};
	for (size_t i = 0; i < keys.n && rc == 0; i++) {
		if (c->set[O_LONG]) {
			char when[32];
			iso_time(when, sizeof when,
				 keys.v[i].mtime_ns / 1000000000);
			ob_fmt(&ob, "%" PRIu64 "\t%s\t", keys.v[i].size, when);
		}
		ob_bytes(&ob, keys.v[i].key, keys.v[i].len);
		ob_bytes(&ob, &end, 1);
		if (ob.failed)
			rc = (msg("out of memory"), EX_FAIL);
		else if (ob.len >= 65536 || i + 1 == keys.n) {
			rc = out_write(ob.buf, ob.len);
			ob.len = 0;
		}
	}
	ob_free(&ob);
	if (rc == 0 && keys.bad > 0) {
		msg("skipped %zu corrupt record%s (last: %s/%s: %s); run "
		    "'okof verify'",
		    keys.bad, keys.bad == 1 ? "" : "s", c->dir,
		    okof_errpath(s), okof_errdetail(s));
		rc = EX_FAIL;
	}
	okof_keys_free(&keys);
	okof_close(s);
	return rc;
}

static int
cmd_stat(struct cli *c)
{
	const char *key = c->args[0];
	size_t klen = strlen(key);
	struct okof_info in;
	okof_store *s = NULL;
	char mod[32], exp[32];
	int rc;

	if ((rc = check_key_arg(key)) != 0)
		return rc;
	if ((rc = open_store(c, &s, 0, NULL)) != 0)
		return rc;
	if (!s)
		return EX_ABSENT;
	rc = okof_stat(s, key, klen, &in);
	if (rc == OKOF_ENOTFOUND) {
		okof_close(s);
		return EX_ABSENT;
	}
	if (rc < 0) {
		rc = report(c, s, "stat", key, klen, rc);
		okof_close(s);
		return rc;
	}
	okof_close(s);
	iso_time(mod, sizeof mod, in.mtime_ns / 1000000000);
	if (in.expires)
		iso_time(exp, sizeof exp, in.expires);
	else
		strcpy(exp, "never");

	struct outbuf j = {0};
	if (c->set[O_JSON]) {
		ob_str(&j, "{");
		ob_json_field(&j, "key", key, klen);
		ob_fmt(&j, ",\"size\":%" PRIu64 ",\"disk\":%" PRIu64
			     ",\"compressed\":%s,\"encrypted\":%s,"
			     "\"modified\":\"%s\",\"expires\":",
			 in.size, in.disk, in.compressed ? "true" : "false",
			 in.encrypted ? "true" : "false", mod);
		if (in.expires)
			ob_fmt(&j, "\"%s\"}\n", exp);
		else
			ob_str(&j, "null}\n");
	} else {
		ob_str(&j, "key: ");
		ob_bytes(&j, key, klen);
		ob_fmt(&j, "\nsize: %" PRIu64 "\ndisk: %" PRIu64
			     "\ncompressed: %s\nencrypted: %s\nmodified: "
			     "%s\nexpires: %s\n",
			 in.size, in.disk, in.compressed ? "yes" : "no",
			 in.encrypted ? "yes" : "no", mod, exp);
	}
	if (j.failed) {
		msg("out of memory");
		rc = EX_FAIL;
	} else {
		rc = out_write(j.buf, j.len);
	}
	ob_free(&j);
	return rc;
}

static int
parse_size(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
cmd_incr(struct cli *c)
{
	const char *key = c->args[0];
	size_t klen = strlen(key);
	int64_t delta = 1, value = 0;
	okof_store *s = NULL;
	int rc;

	if ((rc = check_key_arg(key)) != 0)
		return rc;
	if (c->nargs == 2 && parse_int64(c->args[1], &delta) != 0) {
		msg("bad number '%s' for incr (a 64-bit decimal integer)",
		    c->args[1]);
		return EX_USAGE;
	}
	/* It prints the new value: no change it could not report. */
	if ((rc = need_stdout()) != 0)
		return rc;
	if ((rc = open_store(c, &s, OKOF_CREATE, NULL)) != 0)
		return rc;
	rc = okof_incr(s, key, klen, delta, c->set[O_NOSYNC], &value);
	if (rc == OKOF_EDIRSYNC) {
		rc = durability_unknown("stored", show_key(key, klen), c->dir,
					okof_errpath(s));
	} else if (rc < 0) {
		rc = report(c, s, "incr", key, klen, rc);
	} else {
		char line[32];
		snprintf(line, sizeof line, "%" PRId64 "\n", value);
		if ((rc = out_try(line, strlen(line))) < 0) {
			/* Too late to fail before the change: say it is made,
			 * so that a script does not count twice. */
			msg("incr %s: stored %" PRId64 ", but cannot write it "
			    "to standard output: %s",
			    show_key(key, klen), value, strerror(-rc));
			rc = EX_FAIL;
		}
	}
	okof_close(s);
	return rc;
}

/* Export's standard output, counted by its meter as it streams: a
 * large record moves the meter while it is written, not after. */
static struct progress *export_meter;

static int
export_write(const void *p, size_t n)
{
	int rc = out_write(p, n);

	if (rc == 0)
		progress_tick(export_meter, 0, n);
	return rc;
}

static int
cmd_export(struct cli *c)
{
	struct okof_keys keys;
	struct progress prog;
	okof_store *s = NULL;
	int rc, status = EX_OK;

	if ((rc = open_store(c, &s, 0, NULL)) != 0 || !s)
		return rc;
	rc = okof_list(s, "", 0, &keys);
	if (rc < 0) {
		rc = report(c, s, "export", NULL, 0, rc);
		okof_close(s);
		return rc;
	}
	msg_hold(); /* one line for every record that failed */
	if (keys.bad > 0) {
		msg("cannot export %zu corrupt record%s (last: %s/%s: %s); run "
		    "'okof verify'",
		    keys.bad, keys.bad == 1 ? "" : "s", c->dir,
		    okof_errpath(s), okof_errdetail(s));
		status = EX_FAIL;
	}
	progress_init(&prog, "export");
	export_meter = &prog;
	for (size_t i = 0; i < keys.n; i++) {
		const struct okof_key *k = &keys.v[i];
		okof_reader *r;
		rc = okof_get_open(s, k->key, k->len, &r);
		if (rc == OKOF_ENOTFOUND)
			continue; /* deleted or expired since the listing */
		if (rc == 0)
			rc = jsonl_write_record(r, k->key, k->len,
						export_write);
		okof_get_close(r);
		progress_tick(&prog, 1, 0);
		if (rc > 0) { /* standard output failed: nothing more to do */
			status = rc;
			break;
		}
		if (rc < 0) {
			progress_done(&prog);
			status = report(c, s, "export", k->key, k->len, rc);
		}
	}
	progress_done(&prog);
	msg_release();
	okof_keys_free(&keys);
	okof_close(s);
	return status;
}

static int
cmd_import(struct cli *c)
{
	char *line = NULL, why[160];
	size_t cap = 0, lineno = 0;
	struct progress prog;
	okof_import *im = NULL;
	okof_store *s = NULL;
	ssize_t n;
	int rc;

	if ((rc = open_store(c, &s, OKOF_CREATE, NULL)) != 0)
		return rc;
	rc = okof_import_begin(s, &im);
	if (rc < 0) {
		rc = report(c, s, "import", NULL, 0, rc);
		okof_close(s);
		return rc;
	}
	progress_init(&prog, "import");
	for (;;) {
		errno = 0;
		n = getline(&line, &cap, stdin);
		if (n < 0)
			break;
		lineno++;
		size_t len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
				   line[len - 1] == ' ' || line[len - 1] == '\t'))
			len--;
		if (len == 0)
			continue; /* blank lines are allowed */
		struct jsonl_rec rec;
		if (jsonl_parse(line, len, &rec, why, sizeof why) != 0) {
			progress_done(&prog);
			msg("cannot import: line %zu: %s; nothing imported",
			    lineno, why);
			rc = EX_USAGE;
			goto fail;
		}
		rc = okof_import_add(im, rec.key, rec.klen, rec.value, rec.vlen,
				     rec.expires);
		jsonl_free(&rec);
		if (rc < 0) {
			progress_done(&prog);
			rc = report(c, s, "import", NULL, 0, rc);
			goto fail;
		}
		progress_tick(&prog, 1, (uint64_t)len);
	}
	if (errno != 0 || ferror(stdin)) {
		progress_done(&prog);
		msg("cannot import: reading standard input: %s; nothing "
		    "imported",
		    strerror(errno ? errno : EIO));
		rc = EX_FAIL;
		goto fail;
	}
	progress_done(&prog);
	rc = okof_import_commit(im);
	im = NULL;
	if (rc == OKOF_EDIRSYNC) {
		rc = durability_unknown("imported", "the records", c->dir,
					okof_errpath(s));
	} else if (rc < 0) {
		rc = report(c, s, "import", NULL, 0, rc);
	}
fail:
	okof_import_abort(im);
	free(line);
	okof_close(s);
	return rc;
}

/* The meter of a backup: records, and the bytes of those copied (not
 * linked) as they are written. */
struct backup_meter {
	struct progress prog;
	int copying; /* the current record is being copied */
};

static int
on_backup(void *ctx, const struct okof_item *it)
{
	struct backup_meter *m = ctx;

	if (it->kind == OKOF_ITEM_COPYING) {
		m->copying = 1;
		progress_tick(&m->prog, 0, it->bytes);
	} else {
		progress_tick(&m->prog, 1, m->copying ? 0 : it->bytes);
		m->copying = 0;
	}
	return 0;
}

static int
cmd_backup(struct cli *c)
{
	const char *dest = c->args[0];
	struct backup_meter m = {0};
	okof_store *s = NULL;
	int rc;

	if ((rc = open_store(c, &s, 0, NULL)) != 0)
		return rc;
	if (!s)
		return EX_ABSENT; /* a read of no store: nothing to copy */
	progress_init(&m.prog, "backup");
	rc = okof_backup(s, dest, on_backup, &m);
	progress_done(&m.prog);
	if (rc == -EEXIST) {
		msg("cannot back up to '%s': it exists and is not empty", dest);
		rc = EX_FAIL;
	} else if (rc < 0 && *okof_errpath(s) == '\0') {
		msg("cannot back up to '%s': %s", dest, okof_strerror(rc));
		rc = EX_FAIL;
	} else if (rc < 0) {
		rc = report(c, s, "back up", NULL, 0, rc);
	}
	okof_close(s);
	return rc;
}

static int
cmd_completion(struct cli *c)
{
	const char *script = completion_script(c->args[0]);

	if (!script) {
		msg("no completion for shell '%s' (bash, zsh and fish have "
		    "one)",
		    c->args[0]);
		return EX_USAGE;
	}
	return out_write(script, strlen(script));
}

struct walk_out {
	struct cli *c;
	struct progress prog;
	int quiet, verbose, bad, stray, err;
};

/* One line about an item: "KIND FILE: DETAIL (key 'KEY')". */
static int
item_line(struct walk_out *o, const char *kind, const struct okof_item *it,
	  const char *detail)
{
	struct outbuf b = {0};

	ob_fmt(&b, "%s %s/%s", kind, o->c->dir, it->path);
	if (detail && *detail)
		ob_fmt(&b, ": %s", detail);
	if (it->key)
		ob_fmt(&b, " (key %s)", show_key(it->key, it->klen));
	ob_str(&b, "\n");
	progress_done(&o->prog);
	int rc = b.failed ? (msg("out of memory"), EX_FAIL)
			  : out_write(b.buf, b.len);
	ob_free(&b);
	return rc;
}

static int
on_verify(void *ctx, const struct okof_item *it)
{
	struct walk_out *o = ctx;
	int rc = 0;

	progress_tick(&o->prog, 1, it->bytes);
	switch (it->kind) {
	case OKOF_ITEM_BAD:
		o->bad++;
		if (!o->quiet)
			rc = item_line(o, "bad", it, it->detail);
		break;
	case OKOF_ITEM_STRAY:
		o->stray++;
		if (!o->quiet)
			rc = item_line(o, "stray", it, "not an okof file");
		break;
	case OKOF_ITEM_TEMP:
		if (!o->quiet)
			rc = item_line(o, "temp", it,
				       "left by an interrupted write; 'okof gc' "
				       "removes it");
		break;
	default:
		break;
	}
	if (rc != 0)
		o->err = rc;
	return rc != 0 ? -1 : 0;
}

/* Runs a store walk (verify, gc) with its progress meter. */
static int
walk_command(struct cli *c, struct walk_out *o, const char *name,
	     int (*walk)(okof_store *, okof_item_fn, void *), okof_item_fn fn)
{
	okof_store *s = NULL;
	int rc;

	if ((rc = open_store(c, &s, 0, NULL)) != 0 || !s)
		return rc;
	progress_init(&o->prog, name);
	rc = walk(s, fn, o);
	progress_done(&o->prog);
	if (o->err)
		rc = o->err;
	else if (rc < 0)
		rc = report(c, s, name, NULL, 0, rc);
	else
		rc = o->bad || o->stray ? EX_FAIL : EX_OK;
	okof_close(s);
	return rc;
}

static int
cmd_verify(struct cli *c)
{
	struct walk_out o = {.c = c, .quiet = c->set[O_QUIET]};
	int rc = walk_command(c, &o, "verify", okof_verify, on_verify);

	/* The one line on standard error that every failure gets, after
	 * the per-record lines: a cron mail shows it even with -q. */
	if (rc == EX_FAIL && !o.err && (o.bad || o.stray)) {
		char what[96];
		int n = 0;
		if (o.bad)
			n = snprintf(what, sizeof what, "%d bad record%s",
				     o.bad, o.bad == 1 ? "" : "s");
		if (o.stray)
			snprintf(what + n, sizeof what - (size_t)n,
				 "%s%d stray file%s", o.bad ? " and " : "",
				 o.stray, o.stray == 1 ? "" : "s");
		msg("verify found %s in '%s'", what, c->dir);
	}
	return rc;
}

static int
on_gc(void *ctx, const struct okof_item *it)
{
	struct walk_out *o = ctx;
	int rc = 0;

	progress_tick(&o->prog, 1, it->bytes);
	if (o->verbose && it->kind == OKOF_ITEM_EXPIRED)
		rc = item_line(o, "removed", it, "expired");
	else if (o->verbose && it->kind == OKOF_ITEM_REMOVED)
		rc = item_line(o, "removed", it, "temp file");
	if (rc != 0)
		o->err = rc;
	return rc != 0 ? -1 : 0;
}

static int
cmd_gc(struct cli *c)
{
	struct walk_out o = {.c = c, .verbose = c->set[O_VERBOSE]};

	/* -v reports each removal after it is done: fail before any. */
	if (o.verbose && need_stdout() != 0)
		return EX_FAIL;
	return walk_command(c, &o, "gc", okof_gc, on_gc);
}

static int
cmd_init(struct cli *c)
{
	struct okof_settings st = {.compress_threshold =
					   OKOF_THRESHOLD_DEFAULT};
	okof_store *s = NULL;
	int rc, flags = OKOF_CREATE;

	if (c->set[O_THRESHOLD]) {
		if (parse_size(c->val[O_THRESHOLD], &st.compress_threshold) !=
		    0) {
			msg("bad number '%s' for --compress-threshold",
			    c->val[O_THRESHOLD]);
			return EX_USAGE;
		}
		flags |= OKOF_INIT;
	}
	if (c->set[O_ENCRYPT]) {
		if (!cli_secret) {
			msg("cannot init store '%s': --encrypt needs a secret: "
			    "give -k/--key-file or OKOF_KEY_FILE",
			    c->dir);
			return EX_FAIL;
		}
		st.encrypt = 1;
		flags |= OKOF_INIT;
	}
	rc = okof_open(&s, c->dir, flags, &st, cli_secret);
	if (rc == OKOF_ESETTINGS) {
		struct okof_settings have;
		okof_store *t = NULL;
		if (okof_open(&t, c->dir, 0, NULL, cli_secret) == 0) {
			okof_get_settings(t, &have);
			okof_close(t);
			msg("cannot init store '%s': it exists%s with "
			    "--compress-threshold %" PRIu32,
			    c->dir, have.encrypt ? ", encrypted," : ", plain,",
			    have.compress_threshold);
			return EX_FAIL;
		}
	}
	if (rc < 0) {
		msg("cannot init store '%s': %s", c->dir, okof_strerror(rc));
		return EX_FAIL;
	}
	/* A secret makes a new store encrypted: given for a plain one that
	 * exists, init is asked for other settings than it has. */
	struct okof_settings have;
	okof_get_settings(s, &have);
	okof_close(s);
	if (cli_secret && !have.encrypt) {
		msg("cannot init store '%s': %s", c->dir,
		    okof_strerror(OKOF_EPLAIN));
		return EX_FAIL;
	}
	return EX_OK;
}

static const struct cli_opt put_opts[] = {
	{"if-absent", 0, 0, O_IF_ABSENT},
	{"no-sync", 0, 0, O_NOSYNC},
	{"ttl", 0, 1, O_TTL},
	{NULL, 0, 0, 0},
};
static const struct cli_opt get_opts[] = {
	{"default", 0, 1, O_DEFAULT},
	{NULL, 0, 0, 0},
};
static const struct cli_opt del_opts[] = {
	{"force", 'f', 0, O_FORCE},
	{"no-sync", 0, 0, O_NOSYNC},
	{NULL, 0, 0, 0},
};
static const struct cli_opt list_opts[] = {
	{"null", '0', 0, O_NUL},
	{"long", 'l', 0, O_LONG},
	{NULL, 0, 0, 0},
};
static const struct cli_opt stat_opts[] = {
	{"json", 0, 0, O_JSON},
	{NULL, 0, 0, 0},
};
static const struct cli_opt init_opts[] = {
	{"compress-threshold", 0, 1, O_THRESHOLD},
	{"encrypt", 0, 0, O_ENCRYPT},
	{NULL, 0, 0, 0},
};
static const struct cli_opt verify_opts[] = {
	{"quiet", 'q', 0, O_QUIET},
	{NULL, 0, 0, 0},
};
static const struct cli_opt gc_opts[] = {
	{"verbose", 'v', 0, O_VERBOSE},
	{NULL, 0, 0, 0},
};
static const struct cli_opt nosync_opts[] = {
	{"no-sync", 0, 0, O_NOSYNC},
	{NULL, 0, 0, 0},
};
static const struct cli_opt no_opts[] = {
	{NULL, 0, 0, 0},
};

static int cmd_help(struct cli *c);

/* Sorted by name; the help strings follow struct cmd's rule (cli.h). */
static const struct cmd commands[] = {
	{"backup", cmd_backup, no_opts, 1, 1, 0, 1,
	 "DEST\n"
	 "a consistent copy of the store as a new store at DEST\n"
	 "example: okof backup /mnt/usb/okof-$(date +%F)\n", 0},
	{"cache", cmd_cache, cache_opts, 1, -1, 0, 1,
	 "[OPTIONS] KEY -- COMMAND [ARG...]\n"
	 "print KEY's live value, or run COMMAND and store its output\n"
	 "  --ttl DURATION    the stored output expires after DURATION\n"
	 "  -n, --no-wait     exit 75 at once if another caller is running\n"
	 "                    COMMAND for KEY\n"
	 "  --wait DURATION   wait at most DURATION for that caller (exit 75)\n"
	 "  --max-time DURATION\n"
	 "                    stop COMMAND (SIGTERM, SIGKILL 10s later) when\n"
	 "                    it has run DURATION: exit 124\n"
	 "example: okof cache --ttl 1h weather -- curl -fsS \"$URL\"\n", 1},
	{"completion", cmd_completion, no_opts, 1, 1, 0, 0,
	 "SHELL\n"
	 "print a completion script for SHELL (bash, zsh or fish)\n"
	 "example: source <(okof completion bash)\n", 0},
	{"del", cmd_del, del_opts, 0, -1, 0, 1,
	 "[-f] [--no-sync] KEY...\n"
	 "delete the keys (exit 1 if any was absent)\n"
	 "  -f, --force       absent keys, or no KEY at all, are not an error\n"
	 "  --no-sync         skip the directory fsync: not durable\n"
	 "example: okof list -0 tmp. | xargs -0 okof del -f\n", 0},
	{"export", cmd_export, no_opts, 0, 0, 0, 1,
	 "\n"
	 "every live record to standard output as JSON Lines\n"
	 "example: okof export > okof.jsonl\n", 0},
	{"gc", cmd_gc, gc_opts, 0, 0, 0, 1,
	 "[-v]\n"
	 "remove expired records and abandoned temp files\n"
	 "  -v, --verbose     print a line for each file removed\n"
	 "example: okof gc -v\n", 0},
	{"get", cmd_get, get_opts, 1, 1, 0, 1,
	 "[--default VALUE] KEY\n"
	 "write the value of KEY to standard output\n"
	 "  --default VALUE   write VALUE instead, and exit 0, when KEY is\n"
	 "                    absent or expired (damage still exits 3)\n"
	 "example: since=$(okof get --default 0 feed.cursor)\n", 0},
	{"has", cmd_has, no_opts, 1, 1, 0, 1,
	 "KEY\n"
	 "exit 0 if KEY is present, 1 if not; print nothing\n"
	 "example: okof has report.done || make-report\n", 0},
	{"help", cmd_help, no_opts, 0, 1, 0, 0,
	 "[COMMAND]\n"
	 "the usage of COMMAND, or of all commands\n"
	 "example: okof help put\n", 0},
	{"import", cmd_import, no_opts, 0, 0, 1, 1,
	 "\n"
	 "store every record of JSON Lines read from standard input\n"
	 "example: okof -d /srv/new import < okof.jsonl\n", 0},
	{"incr", cmd_incr, nosync_opts, 1, 2, 1, 1,
	 "[--no-sync] KEY [DELTA]\n"
	 "add DELTA (default 1) to the integer at KEY, print the sum\n"
	 "  --no-sync         skip the fsyncs: atomic, not durable\n"
	 "example: okof incr visits -5\n", 0},
	{"init", cmd_init, init_opts, 0, 0, 1, 1,
	 "[--encrypt] [--compress-threshold BYTES]\n"
	 "create the store now, with these settings\n"
	 "  --encrypt         seal keys and values with the secret of -k\n"
	 "  --compress-threshold BYTES\n"
	 "                    compress chunks larger than BYTES (default 256)\n"
	 "example: okof -k ~/.config/okof.key init --encrypt\n", 0},
	{"keygen", cmd_keygen, no_opts, 1, 1, 0, 0,
	 "FILE\n"
	 "write a new random secret key to a new FILE (mode 0600)\n"
	 "example: okof keygen ~/.config/okof.key\n", 0},
	{"list", cmd_list, list_opts, 0, 1, 0, 1,
	 "[-0] [-l] [PREFIX]\n"
	 "the keys that start with PREFIX, sorted bytewise\n"
	 "  -0, --null        end each key with NUL, not newline\n"
	 "  -l, --long        size and modification time before each key\n"
	 "example: okof list -0 tmp. | xargs -0 okof del -f\n", 0},
	{"lock", cmd_lock, lock_opts, 1, -1, 0, 1,
	 "[OPTIONS] NAME -- COMMAND [ARG...] | --status NAME\n"
	 "run COMMAND holding the lock NAME, or print its holder\n"
	 "  -n, --no-wait     exit 75 at once if NAME is held\n"
	 "  --wait DURATION   wait at most DURATION for NAME (then exit 75)\n"
	 "  --max-time DURATION\n"
	 "                    stop COMMAND (SIGTERM, SIGKILL 10s later) when\n"
	 "                    it has run DURATION: exit 124\n"
	 "  --status          print NAME's holder (exit 0) or exit 1 if free\n"
	 "example: okof lock -n nightly -- /usr/local/bin/nightly-job\n", 1},
	{"put", cmd_put, put_opts, 1, 2, 1, 1,
	 "[--if-absent] [--ttl DURATION] [--no-sync] KEY [VALUE]\n"
	 "store VALUE, or all of standard input, under KEY\n"
	 "  --if-absent       store only if KEY is absent (else exit 1)\n"
	 "  --ttl DURATION    KEY expires after 90, 90s, 15m, 2h, 7d...\n"
	 "  --no-sync         skip the fsyncs: atomic, not durable\n"
	 "example: curl -fsS \"$URL\" | okof put --ttl 1h weather\n", 0},
	{"stat", cmd_stat, stat_opts, 1, 1, 0, 1,
	 "[--json] KEY\n"
	 "facts about KEY: size, disk, compressed, encrypted, times\n"
	 "  --json            one JSON object instead of lines\n"
	 "example: okof stat --json weather\n", 0},
	{"verify", cmd_verify, verify_opts, 0, 0, 0, 1,
	 "[-q]\n"
	 "check every record in full; list the bad ones\n"
	 "  -q, --quiet       no line per record, only the exit status and\n"
	 "                    the count on standard error\n"
	 "example: okof verify -q || mail -s 'okof damage' root < /dev/null\n", 0},
	{"watch", cmd_watch, watch_opts, 0, -1, 0, 1,
	 "[OPTIONS] KEY... | --prefix PREFIX [-- COMMAND [ARG...]]\n"
	 "report each change as put KEY or del KEY, or run COMMAND\n"
	 "  --prefix PREFIX   every key that starts with PREFIX\n"
	 "  -0, --null        end each report with NUL, not newline\n"
	 "  --once            exit 0 after the first report\n"
	 "  --timeout DURATION\n"
	 "                    exit 1 when DURATION passes with no change\n"
	 "  --initial         first report the keys that exist, as put\n"
	 "  --interval DURATION\n"
	 "                    the polling period (default 1s; also 500ms)\n"
	 "  --poll            poll even where the kernel can notify\n"
	 "example: okof watch --once --timeout 2h report.ready && mail-report\n", 0},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

/* The global options, for every command's help: -d and -k only for
 * the commands that use a store. */
static const char help_store_opts[] =
	"  -d, --dir DIR     the store (else $OKOF_DIR, $XDG_DATA_HOME/okof,\n"
	"                    ~/.local/share/okof)\n"
	"  -k, --key-file FILE\n"
	"                    the secret of an encrypted store (else\n"
	"                    $OKOF_KEY_FILE)\n";
static const char help_any_opts[] =
	"  -h, --help        print this help\n"
	"  -V, --version     print okof's version\n";

/* The synopsis: the first line of a help string. */
static int
synopsis_len(const struct cmd *cmd)
{
	return (int)strcspn(cmd->help, "\n");
}

/* Prints help (the overview when cmd is NULL) or the version on
 * standard output: the one place that does. */
static int
print_usage(const struct cmd *cmd, int version)
{
	struct outbuf b = {0};

	if (version) {
		ob_str(&b, "okof " OKOF_VERSION "\n");
	} else if (cmd) {
		const char *h = cmd->help, *desc = h + synopsis_len(cmd) + 1;
		const char *end = desc + strlen(desc);
		const char *opts = strchr(desc, '\n');
		const char *ex = strstr(desc, "\nexample:");
		/* A row that breaks the rule still prints, only worse. */
		opts = opts ? opts + 1 : end;
		ex = ex ? ex + 1 : end;
		ob_fmt(&b, "usage: okof %s%s%.*s\n", cmd->name,
		       synopsis_len(cmd) ? " " : "", synopsis_len(cmd), h);
		ob_bytes(&b, desc, (size_t)(opts - desc));
		ob_str(&b, "\noptions:\n");
		ob_bytes(&b, opts, (size_t)(ex - opts));
		if (cmd->store)
			ob_str(&b, help_store_opts);
		ob_str(&b, help_any_opts);
		ob_fmt(&b, "\n%s", ex);
	} else {
		ob_str(&b, "usage: okof [-d DIR] [-k FILE] COMMAND [OPTIONS] "
			   "[ARGS]\n\ncommands:\n");
		for (size_t i = 0; i < NCOMMANDS; i++) {
			const struct cmd *k = &commands[i];
			const char *desc = k->help + synopsis_len(k) + 1;
			int w = (int)strlen(k->name) + 1 + synopsis_len(k);
			ob_fmt(&b, "  %s %.*s", k->name, synopsis_len(k), k->help);
			if (w > 16)
				ob_fmt(&b, "\n%20s", "");
			else
				ob_fmt(&b, "%*s", 18 - w, "");
			ob_bytes(&b, desc, strcspn(desc, "\n") + 1);
		}
		ob_fmt(&b, "\nglobal options:\n%s%s\n", help_store_opts,
		       help_any_opts);
		ob_str(&b, "'okof help COMMAND' (or 'okof COMMAND --help') "
			   "prints a command's options.\n"
			   "exit: 0 ok, 1 absent, 2 usage, 3 failure; see "
			   "okof(1)\n");
	}
	int rc = b.failed ? (msg("out of memory"), EX_FAIL)
			  : out_write(b.buf, b.len);
	ob_free(&b);
	return rc;
}

/* Optimal string alignment distance: edits, with swaps of neighbours
 * ("gte" is one from "get"). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][33], *prev2 = d[0], *prev = d[1], *cur = d[2];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t m = sub < del ? sub : del;
			m = m < ins ? m : ins;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < m)
				m = prev2[j - 2] + 1;
			cur[j] = m;
		}
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

static const struct cmd *
find_command(const char *name)
{
	for (size_t k = 0; k < NCOMMANDS; k++)
		if (strcmp(name, commands[k].name) == 0)
			return &commands[k];
	return NULL;
}

/* An unknown command: exit 2, and the nearest name when it is close
 * (one edit for short names, two from five letters on) and alone. */
static int
unknown_command(const char *name)
{
	size_t len = strlen(name), best = SIZE_MAX, limit = len >= 5 ? 2 : 1;
	const char *near = NULL;

	for (size_t k = 0; k < NCOMMANDS; k++) {
		size_t d = edit_distance(name, commands[k].name);
		if (d < best) {
			best = d;
			near = commands[k].name;
		} else if (d == best) {
			near = NULL; /* two as near: suggest neither */
		}
	}
	if (near && best <= limit && best < len)
		msg("unknown command '%s' (did you mean '%s'?)", name, near);
	else
		msg("unknown command '%s' (see 'okof help')", name);
	return EX_USAGE;
}

/* "okof: usage: okof NAME SYNOPSIS (see 'okof help NAME')": EX_USAGE. */
static int
usage_error(const char *name)
{
	const struct cmd *cmd = find_command(name);

	msg("usage: okof %s%s%.*s (see 'okof help %s')", cmd->name,
	    synopsis_len(cmd) ? " " : "", synopsis_len(cmd), cmd->help,
	    cmd->name);
	return EX_USAGE;
}

static int
cmd_help(struct cli *c)
{
	const struct cmd *cmd = NULL;

	if (c->nargs == 1 && !(cmd = find_command(c->args[0])))
		return unknown_command(c->args[0]);
	return print_usage(cmd, 0);
}

static void
on_signal(int sig)
{
	okof_signal_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * So that no stray write lands in a record, 0-2 are always open: a
 * closed one is opened on /dev/null.  Returns which were closed (bit
 * fd), or -1.
 */
static int
sane_fds(void)
{
	int closed = 0;

	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n != fd) {
			if (n >= 0)
				close(n);
			return -1;
		}
		closed |= 1 << fd;
	}
	return closed;
}

int
main(int argc, char **argv)
{
	struct cli c = {0};
	const struct cmd *cmd = NULL;
	int rc, closed = sane_fds();

	if (closed < 0)
		return EX_FAIL;
	cli_closed_fds = closed;
	cli_stdout_closed = closed & (1 << STDOUT_FILENO);
	/* A reader that goes away ends us as it ends cat, even if our
	 * parent ignored SIGPIPE. */
	signal(SIGPIPE, SIG_DFL);
	/* Past a file size limit, a write fails with EFBIG and is reported
	 * like any other failure, rather than killing us mid-write. */
	signal(SIGXFSZ, SIG_IGN);

	/* Global options, up to the command. */
	struct cli g = {0};
	if (cli_parse(&g, global_opts, NULL, argc - 1, argv + 1, 1) != 0)
		return EX_USAGE;
	int i = g.next + 1;
	prog_dir = g.val[O_DIR];
	prog_keyfile = g.val[O_KEYFILE];
	int help = g.set[O_HELP], version = g.set[O_VERSION];
	cli_free(&g);
	if (help || version)
		return print_usage(NULL, version && !help);
	if (i >= argc) {
		msg("usage: okof [-d DIR] [-k FILE] COMMAND [OPTIONS] [ARGS] "
		    "(see 'okof help')");
		return EX_USAGE;
	}
	if (!(cmd = find_command(argv[i])))
		return unknown_command(argv[i]);

	/* lock and cache exit 125 for okof's own misuse and failures. */
	int usage = cmd->runs_command ? EX_RUNFAIL : EX_USAGE;
	int fail = cmd->runs_command ? EX_RUNFAIL : EX_FAIL;
	rc = cli_parse(&c, cmd->opts, global_opts, argc - i - 1, argv + i + 1,
		       0);
	if (rc != 0) {
		cli_free(&c);
		return usage;
	}
	if (c.set[O_HELP] || c.set[O_VERSION]) {
		cli_free(&c);
		return print_usage(cmd, !c.set[O_HELP]);
	}
	if (c.set[O_DIR]) {
		if (prog_dir) {
			cli_given_twice("--dir");
			cli_free(&c);
			return usage;
		}
		prog_dir = c.val[O_DIR];
	}
	if (c.set[O_KEYFILE]) {
		if (prog_keyfile) {
			cli_given_twice("--key-file");
			cli_free(&c);
			return usage;
		}
		prog_keyfile = c.val[O_KEYFILE];
	}
	if (c.nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && c.nargs > cmd->max_args)) {
		cli_free(&c);
		usage_error(cmd->name);
		return usage;
	}
	if (sodium_init() < 0) {
		msg("cannot initialise libsodium");
		cli_free(&c);
		return fail;
	}
	if (cmd->writes) {
		/* An interrupted write removes its temp file on the way out. */
		struct sigaction sa = {0};
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	rc = cmd->store ? load_secret() : 0;
	if (rc == 0 && cmd->store)
		rc = locate_store(&c);
	if (rc != 0)
		rc = fail;
	else
		rc = cmd->run(&c);
	sodium_free(cli_secret); /* wipes */
	cli_secret = NULL;
	cli_free(&c);
	return rc;
}
