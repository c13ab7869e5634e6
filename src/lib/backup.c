/*
 * backup.c - a consistent copy of a store as a new store: hard links
 * where the filesystem allows, byte copies where it does not.
 */
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syncfs */
#endif
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "record.h"
#include "recfile.h"
#include "walk.h"

struct backup {
	okof_store *s;
	int dst;		/* the new store's directory */
	int dbfd[256];		/* its buckets, opened as needed */
	okof_item_fn fn;
	void *ctx;
	int64_t now;
	struct recfile_peek pk;
};

/* Copies the file name in sb into bucket db under the same name,
 * through a temp file: write, fsync, rename.  b->fn hears of each
 * piece written. */
static int
copy_file(struct backup *b, int sb, int db, const char *bucket,
	  const char *name)
{
	char path[64];
	struct okof_item it = {.kind = OKOF_ITEM_COPYING, .path = path,
			       .key = (const char *)b->pk.h.key,
			       .klen = b->pk.h.key_len, .detail = ""};
	char tmp[TMP_NAME_LEN + 1], buf[65536];
	int in, out, lockfd, rc = 0;
	ssize_t n;

	in = io_openat(sb, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		       0);
	if (in < 0)
		return in == -ENOENT ? 0 : in;
	out = tmp_create(db, tmp, &lockfd);
	if (out < 0) {
		close(in);
		return out;
	}
	snprintf(path, sizeof path, "%s/%s", bucket, name);
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if ((rc = io_write_all(out, buf, (size_t)n)) < 0)
			break;
		it.bytes = (uint64_t)n;
		if (b->fn && (rc = b->fn(b->ctx, &it)) < 0)
			break;
	}
	close(in);
	return tmp_publish(db, out, lockfd, tmp, name, 0, 0, rc);
}

static int
backup_one(void *ctx, int sb, const char *bucket, const char *name,
	   enum walk_kind kind)
{
	struct backup *b = ctx;
	const struct rec_header *h = &b->pk.h;
	int rc;

	if (kind != WALK_RECORD)
		return 0;
	/* link() fails with ENOENT when a writer's rename replaced the name
	 * between its lookup and the link: the key is still there, so that
	 * is retried (from the peek: the record is a new one); only a name
	 * that is really gone is left out. */
	int tries = 0;
again:
	rc = recfile_peek(b->s, &b->s->err, sb, bucket, name, &b->pk);
	if (rc != 0)
		return rc == OKOF_ENOTFOUND ? 0 : rc; /* a bad one stops it */
	if (h->expires != 0 && h->expires <= b->now)
		return 0; /* not live: left out */

	int i = walk_bucket_index(bucket);
	if (b->dbfd[i] < 0) {
		rc = io_mkdir_durable(b->dst, bucket, 0);
		if (rc < 0)
			return store_fail(b->s, rc, bucket, NULL,
					  "cannot create directory in backup");
		b->dbfd[i] = io_open_dir(b->dst, bucket);
		if (b->dbfd[i] < 0)
			return store_fail(b->s, b->dbfd[i], bucket, NULL,
					  "cannot open directory in backup");
	}
	rc = io_linkat(sb, name, b->dbfd[i], name);
	if (rc == -ENOENT && ++tries < 1000)
		goto again;
	if (rc == -EXDEV || rc == -EPERM || rc == -EMLINK || rc == -ENOTSUP)
		rc = copy_file(b, sb, b->dbfd[i], bucket, name);
	if (rc < 0)
		return store_fail(b->s, rc, bucket, name, "cannot copy");
	if (b->fn) {
		char path[64];
		struct okof_item it = {.kind = OKOF_ITEM_OK, .path = path,
				       .key = (const char *)h->key,
				       .klen = h->key_len, .detail = "",
				       .bytes = b->pk.h.value_len};
		snprintf(path, sizeof path, "%s/%s", bucket, name);
		return b->fn(b->ctx, &it);
	}
	return 0;
}

/* Opens dest, making it (durably) if needed; it must be empty. */
static int
open_dest(const char *dest)
{
	int fd, rc;

	rc = io_mkdir_parents(dest);
	if (rc < 0)
		return rc;
	fd = io_openat(AT_FDCWD, dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	rc = store_dir_nonempty(fd, 0);
	if (rc == 0)
		rc = io_fchmod(fd, 0700);
	if (rc != 0) {
		close(fd);
		return rc > 0 ? -EEXIST : rc;
	}
	return fd;
}

/* Publishes the copy's metadata: the source's, byte for byte. */
static int
copy_meta(okof_store *s, int dst)
{
	char tmp[TMP_NAME_LEN + 1];
	unsigned char m[META_SIZE + 1];
	int in, out, lockfd, rc;

	in = io_openat(s->dirfd, META_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
		       0);
	if (in < 0)
		return in;
	ssize_t n = io_read_full(in, m, sizeof m);
	close(in);
	if (n < 0)
		return (int)n;
	if (n != META_SIZE)
		return OKOF_ECORRUPT;
	out = tmp_create(dst, tmp, &lockfd);
	if (out < 0)
		return out;
	rc = tmp_publish(dst, out, lockfd, tmp, META_NAME, 1, 0,
			 io_write_all(out, m, META_SIZE));
	if (rc == 0)
		rc = io_fsync(dst);
	return rc;
}

int
okof_backup(okof_store *s, const char *dest, okof_item_fn fn, void *ctx)
{
	struct backup *b;
	int rc;

	if (!s || !dest)
		return -EINVAL;
	b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	for (int i = 0; i < 256; i++)
		b->dbfd[i] = -1;
	b->s = s;
	b->fn = fn;
	b->ctx = ctx;
	b->now = store_now_ns() / 1000000000;
	b->dst = open_dest(dest);
	if (b->dst < 0) {
		rc = b->dst;
		free(b);
		return rc;
	}
	rc = store_walk(s, backup_one, b);
	/* Linked records share the source's durable inodes, but the new
	 * names are only durable once their directories are fsynced; copies
	 * were fsynced one by one. */
	for (int i = 0; i < 256 && rc == 0; i++)
		if (b->dbfd[i] >= 0 && (rc = io_fsync(b->dbfd[i])) < 0)
			store_fail(s, rc, NULL, NULL,
				   "cannot fsync a directory of the backup");
#ifdef __linux__
	/* A record the source wrote with --no-sync may not be on disk. */
	if (rc == 0 && syncfs(b->dst) != 0)
		rc = store_fail(s, -errno, NULL, NULL, "cannot syncfs backup");
#endif
	if (rc == 0) {
		rc = copy_meta(s, b->dst);
		if (rc < 0)
			store_fail(s, rc, META_NAME, NULL,
				   "cannot write the backup's metadata");
	}
	for (int i = 0; i < 256; i++)
		if (b->dbfd[i] >= 0)
			close(b->dbfd[i]);
	close(b->dst);
	free(b);
	return rc;
}
