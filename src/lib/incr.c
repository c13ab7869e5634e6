/*
 * incr.c - atomic read-modify-write of a decimal counter, under the
 * bucket's exclusive lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "io.h"
#include "lockfile.h"
#include "store.h"

/* Longest stored text we will read as an integer: digits of INT64_MIN
 * plus generous surrounding whitespace. */
#define INT_TEXT_MAX 64

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Parses [ws][+-]digits[ws]: 0, OKOF_ENOTINT or OKOF_EOVERFLOW. */
static int
parse_int(const char *p, size_t n, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, lim;

	while (i < n && is_space(p[i]))
		i++;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		neg = p[i++] == '-';
	if (i == n || p[i] < '0' || p[i] > '9')
		return OKOF_ENOTINT;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (lim - d) / 10)
			return OKOF_EOVERFLOW;
		v = v * 10 + d;
	}
	while (i < n && is_space(p[i]))
		i++;
	if (i != n)
		return OKOF_ENOTINT;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* Reads the current value: 0 with *cur (and *expires) or an error. */
static int
read_current(okof_store *s, const char *key, size_t klen, int64_t *cur,
	     int64_t *expires)
{
	char text[INT_TEXT_MAX];
	struct okof_info info;
	okof_reader *r;
	const void *p;
	size_t n, len = 0;
	int rc;

	*cur = 0;
	*expires = 0;
	rc = okof_get_open(s, key, klen, &r);
	if (rc == OKOF_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	okof_get_info(r, &info);
	if (info.size > sizeof text) {
		okof_get_close(r);
		return OKOF_ENOTINT;
	}
	while ((rc = okof_get_read(r, &p, &n)) > 0) {
		memcpy(text + len, p, n); /* size checked above */
		len += n;
	}
	okof_get_close(r);
	if (rc < 0)
		return rc;
	*expires = info.expires;
	return parse_int(text, len, cur);
}

int
okof_incr(okof_store *s, const char *key, size_t klen, int64_t delta,
	  int no_sync, int64_t *out)
{
	struct okof_put_opts po = {.no_sync = no_sync};
	struct rec_name nm;
	char text[32];
	int64_t cur, next;
	int bfd, lfd = -1, rc, tl;

	if (!s)
		return -EINVAL;
	if ((rc = okof_check_key(key, klen)) != 0)
		return rc;
	if ((rc = store_check_sealed(s)) < 0)
		return rc;
	store_name(s, key, klen, &nm);
	bfd = store_open_bucket(s, &nm, no_sync);
	if (bfd < 0)
		return bfd;
	lfd = bucket_lock(s, nm.bucket, LOCK_EX);
	if (lfd < 0) {
		rc = lfd;
		goto out;
	}
	rc = read_current(s, key, klen, &cur, &po.expires);
	if (rc == OKOF_ENOTINT || rc == OKOF_EOVERFLOW)
		store_fail(s, rc, nm.bucket, nm.file, "");
	if (rc < 0)
		goto out;
	if (__builtin_add_overflow(cur, delta, &next)) {
		rc = store_fail(s, OKOF_EOVERFLOW, nm.bucket, nm.file, "");
		goto out;
	}
	tl = snprintf(text, sizeof text, "%" PRId64 "\n", next);
	rc = store_put_locked(s, bfd, &nm, key, klen, text, (size_t)tl, &po);
	if (rc < 0)
		goto out;
	if (out)
		*out = next;
	/* Published: the next incr may read it while this one makes it
	 * durable.  Its own fsync covers ours if it comes first, and
	 * neither reports success before its own. */
	close(lfd); /* unlocks */
	lfd = -1;
	if (!no_sync && io_fsync(bfd) != 0)
		rc = store_fail(s, OKOF_EDIRSYNC, nm.bucket, NULL,
				"cannot fsync directory");
out:
	if (lfd >= 0)
		close(lfd);
	close(bfd);
	return rc;
}
