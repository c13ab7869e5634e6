/*
 * watch.c - reporting changes to keys (okof_watch_*, see okof.h).
 *
 * The state is the truth, events are hints.  Each watched record (by
 * its name: bucket and file) has an entry holding the last state
 * reported: live or not, and the record's inode, write time and expiry.
 * A hint (an inotify event naming the record, a rescan, the expiry
 * timer) puts the entry on the dirty queue; settling an entry reads the
 * record as it is now and reports the difference, if any.  A key hinted
 * a hundred times before it is settled is read, and reported, once.
 *
 * Order of work: watches first, state second.  Each bucket directory is
 * watched before it is read, so a change after the read is seen as an
 * event and one before it is in the state.
 *
 * A put and a delete that both happen before the entry is settled would
 * compare absent with absent: the creation event (the rename or link
 * that published the record) marks the entry "touched", and a touched
 * entry that settles absent is reported deleted.  In prefix mode such a
 * record's key is never read, so that pair of changes, which left no
 * trace, is not reported; nor is it between two polls.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/inotify.h>
#include <sys/vfs.h>
#endif

#include "io.h"
#include "store.h"
#include "recfile.h"
#include "walk.h"

#ifdef __APPLE__
#define st_mtim st_mtimespec
#endif

#define NBUCKETS 256
#define BLOCK_SHIFT 12 /* entries are allocated 4096 at a time */
#define BLOCK_SIZE (1u << BLOCK_SHIFT)
#define NIL UINT32_MAX
#define WAIT_DEPTH 64 /* parents watched while the store does not exist */

/* One watched record.  Small: a prefix watch may hold 100k of them. */
struct entry {
	unsigned char name[HASH_BYTES]; /* bucket byte, then the file's */
	uint32_t hnext;			/* hash chain */
	uint32_t qnext;			/* dirty queue, or free list */
	uint16_t klen;
	uint8_t live;	 /* last reported: the key is present */
	uint8_t dirty;	 /* on the queue */
	uint8_t touched; /* a record was published since the last settle */
	uint8_t fixed;	 /* a key given to watch: never dropped */
	char *key;	 /* NULL until known (prefix mode) */
	uint64_t ino;
	int64_t mtime_ns;
	int64_t expires;
};

struct okof_watch {
	char *dir;
	unsigned char *secret; /* sodium_malloc'd copy, until the store opens */
	okof_store *s;	       /* NULL until the store exists */
	int flags;
	int interval_ms;
	int polling;

	/* What is watched: the keys, or a prefix. */
	char **keys;
	size_t *klens;
	size_t nkeys;
	unsigned char want[NBUCKETS]; /* buckets that hold a watched key */

	/* Entries: blocks of BLOCK_SIZE, a hash index, a free list. */
	struct entry **blocks;
	uint32_t nblocks, nused, nfree, free_head;
	uint32_t *hash;
	uint32_t hmask; /* hash size - 1 */
	uint32_t q_head, q_tail;

	int bfd[NBUCKETS];		  /* open bucket directories, or -1 */
	struct timespec bmtime[NBUCKETS]; /* at the last poll */

	int ifd; /* inotify, or -1 */
	int top_wd;
	int bwd[NBUCKETS];
	int wait_wd[WAIT_DEPTH];
	int nwait;
	/* Set by events, done before the queue is settled. */
	int rescan, reopen, newbucket[NBUCKETS], any_newbucket;

	int64_t next_expiry; /* Unix seconds, a lower bound; 0: none */
	int64_t next_poll;   /* CLOCK_MONOTONIC ms; 0: none */

	char evkey[OKOF_KEY_MAX];
	struct recfile_peek pk;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct entry *
ent(const okof_watch *w, uint32_t i)
{
	return &w->blocks[i >> BLOCK_SHIFT][i & (BLOCK_SIZE - 1)];
}

/* Record names are hashes already: their first bytes index well. */
static uint32_t
name_hash(const unsigned char *n)
{
	return (uint32_t)n[1] | (uint32_t)n[2] << 8 | (uint32_t)n[3] << 16 |
	       (uint32_t)n[4] << 24;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "ab" + 30 hex digits -> 16 bytes; -1 if it is no record's name. */
static int
parse_name(int b, const char *file, unsigned char out[HASH_BYTES])
{
	out[0] = (unsigned char)b;
	for (int i = 0; i < NAME_HEX; i += 2) {
		int hi = hexval(file[i]);
		int lo = hi < 0 ? -1 : hexval(file[i + 1]);
		if (lo < 0)
			return -1;
		out[1 + i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return file[NAME_HEX] == '\0' ? 0 : -1;
}

static void
name_file(const unsigned char n[HASH_BYTES], char file[NAME_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < NAME_HEX / 2; i++) {
		file[2 * i] = hex[n[1 + i] >> 4];
		file[2 * i + 1] = hex[n[1 + i] & 15];
	}
	file[NAME_HEX] = '\0';
}

static void
bucket_name(int b, char out[BUCKET_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";

	out[0] = hex[b >> 4];
	out[1] = hex[b & 15];
	out[2] = '\0';
}

static uint32_t
lookup(const okof_watch *w, const unsigned char *name)
{
	if (!w->hash)
		return NIL;
	uint32_t i = w->hash[name_hash(name) & w->hmask];
	while (i != NIL && memcmp(ent(w, i)->name, name, HASH_BYTES) != 0)
		i = ent(w, i)->hnext;
	return i;
}

/* Doubles the hash index once it holds as many entries as slots. */
static int
grow_hash(okof_watch *w)
{
	uint32_t n = w->hash ? (w->hmask + 1) * 2 : 1024;
	uint32_t *h = malloc(n * sizeof *h);

	if (!h)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		h[i] = NIL;
	for (uint32_t i = 0; i < w->nused; i++) {
		struct entry *e = ent(w, i);
		if (e->hnext == NIL - 1)
			continue; /* on the free list */
		uint32_t *slot = &h[name_hash(e->name) & (n - 1)];
		e->hnext = *slot;
		*slot = i;
	}
	free(w->hash);
	w->hash = h;
	w->hmask = n - 1;
	return 0;
}

/* A new entry for name, absent: its index, or NIL (no memory). */
static uint32_t
insert(okof_watch *w, const unsigned char *name)
{
	uint32_t i;

	if (w->nused - w->nfree >= (w->hash ? w->hmask + 1 : 0) &&
	    grow_hash(w) != 0)
		return NIL;
	if (w->nfree > 0) {
		i = w->free_head;
		w->free_head = ent(w, i)->qnext;
		w->nfree--;
	} else {
		if ((w->nused >> BLOCK_SHIFT) == w->nblocks) {
			struct entry **b = realloc(
				w->blocks, (w->nblocks + 1) * sizeof *b);
			if (!b)
				return NIL;
			w->blocks = b;
			b[w->nblocks] = malloc(BLOCK_SIZE * sizeof **b);
			if (!b[w->nblocks])
				return NIL;
			w->nblocks++;
		}
		i = w->nused++;
	}
	struct entry *e = ent(w, i);
	memset(e, 0, sizeof *e);
	memcpy(e->name, name, HASH_BYTES);
	e->qnext = NIL;
	uint32_t *slot = &w->hash[name_hash(name) & w->hmask];
	e->hnext = *slot;
	*slot = i;
	return i;
}

/* Forgets entry i (not on the queue). */
static void
drop(okof_watch *w, uint32_t i)
{
	struct entry *e = ent(w, i);
	uint32_t *p = &w->hash[name_hash(e->name) & w->hmask];

	while (*p != i)
		p = &ent(w, *p)->hnext;
	*p = e->hnext;
	free(e->key);
	e->key = NULL;
	e->hnext = NIL - 1; /* marks it free for grow_hash() */
	e->qnext = w->free_head;
	w->free_head = i;
	w->nfree++;
}

static void
mark(okof_watch *w, uint32_t i, int touched)
{
	struct entry *e = ent(w, i);

	if (touched)
		e->touched = 1;
	if (e->dirty)
		return;
	e->dirty = 1;
	e->qnext = NIL;
	if (w->q_tail == NIL)
		w->q_head = i;
	else
		ent(w, w->q_tail)->qnext = i;
	w->q_tail = i;
}

/* A hint about bucket b's file: mark its entry, making one for a
 * prefix watch.  0 or -ENOMEM. */
static int
hint(okof_watch *w, int b, const char *file, int touched)
{
	unsigned char name[HASH_BYTES];

	if (parse_name(b, file, name) != 0)
		return 0; /* a temp file, a lock, a stranger */
	uint32_t i = lookup(w, name);
	if (i == NIL) {
		if (!(w->flags & OKOF_WATCH_PREFIX))
			return 0;
		i = insert(w, name);
		if (i == NIL)
			return -ENOMEM;
	}
	mark(w, i, touched);
	return 0;
}

static int
open_bucket(okof_watch *w, int b)
{
	char bn[BUCKET_HEX + 1];

	if (w->bfd[b] >= 0)
		return w->bfd[b];
	bucket_name(b, bn);
	int fd = io_open_dir(w->s->dirfd, bn);
	if (fd >= 0)
		w->bfd[b] = fd;
	else if (fd != -ENOENT)
		return store_fail(w->s, fd, bn, NULL, "cannot open directory");
	return fd;
}

/*
 * Reads entry i's record as it is now and compares it with what was
 * reported.  Returns 1 with w->evkey and *ev set when the key changed
 * (unless quiet: then the state is only taken in), 0 when it did not,
 * or an error.  The entry has left the queue.
 */
static int
settle(okof_watch *w, uint32_t i, int quiet, struct okof_watch_event *ev)
{
	struct entry *e = ent(w, i);
	const struct rec_header *h = &w->pk.h;
	struct stat st;
	int live = 0, rc = 0, fd = -ENOENT;
	int b = e->name[0];

	e->dirty = 0;
	int bfd = open_bucket(w, b);
	if (bfd < 0 && bfd != -ENOENT)
		return bfd;
	struct rec_name nm;
	bucket_name(b, nm.bucket);
	name_file(e->name, nm.file);
	if (bfd >= 0) {
		fd = recfile_open(w->s, &w->s->err, bfd, &nm, &st);
		if (fd == OKOF_ENOTFOUND)
			fd = -ENOENT;
		else if (fd == OKOF_ENOTFILE)
			fd = OKOF_ECORRUPT; /* damage, as below */
		else if (fd < 0)
			return fd;
	}
	if (fd >= 0 || fd == OKOF_ECORRUPT) {
		rc = fd >= 0 ? recfile_peek_fd(w->s, &w->s->err, fd, &nm,
					       &w->pk)
			     : fd;
		if (fd >= 0)
			close(fd);
		if (rc == OKOF_ECORRUPT) {
			/* Damage is verify's to report; the key's state is
			 * unknown, so nothing changes. */
			if (!e->fixed && !e->live)
				drop(w, i);
			return 0;
		}
		if (rc < 0)
			return rc;
		live = 1;
		if (h->expires != 0 &&
		    h->expires <= store_now_ns() / 1000000000)
			live = 0;
		const char *p = w->keys[0];
		size_t pl = w->klens[0];
		if ((w->flags & OKOF_WATCH_PREFIX) &&
		    (h->key_len < pl || memcmp(h->key, p, pl) != 0))
			live = 0;
	}

	int changed;
	if (live) {
		changed = !e->live || e->ino != (uint64_t)st.st_ino ||
			  e->mtime_ns != h->mtime_ns ||
			  e->expires != h->expires;
		if (!e->key) {
			e->key = malloc(h->key_len);
			if (!e->key)
				return -ENOMEM;
			memcpy(e->key, h->key, h->key_len);
			e->klen = (uint16_t)h->key_len;
		}
		e->ino = (uint64_t)st.st_ino;
		e->mtime_ns = h->mtime_ns;
		e->expires = h->expires;
		if (e->expires != 0 &&
		    (w->next_expiry == 0 || e->expires < w->next_expiry))
			w->next_expiry = e->expires;
	} else {
		/* Gone, or came and went since the last look. */
		changed = (e->live || e->touched) && e->key;
	}
	e->live = (uint8_t)live;
	e->touched = 0;
	if (changed && !quiet) {
		memcpy(w->evkey, e->key, e->klen);
		ev->kind = live ? OKOF_WATCH_PUT : OKOF_WATCH_DEL;
		ev->key = w->evkey;
		ev->klen = e->klen;
	}
	if (!live && !e->fixed)
		drop(w, i);
	return changed && !quiet;
}

#ifdef __linux__
#define BUCKET_EVENTS \
	(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR | \
	 IN_DONT_FOLLOW)
/* The store's path is the user's, and may be a symlink, as for
 * okof_open(); buckets never are. */
#define TOP_EVENTS \
	(IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* Filesystems whose changes on other machines inotify does not see. */
static int
remote_fs(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) != 0)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case 0x6969:	 /* NFS */
	case 0x65735546: /* FUSE (sshfs, glusterfs, s3fs...) */
	case 0x517b:	 /* SMB */
	case 0xff534d42: /* CIFS */
	case 0xfe534d42: /* SMB2 */
	case 0x01021997: /* 9p */
	case 0x00c36400: /* Ceph */
	case 0x5346414f: /* AFS */
	case 0x6b414653: /* kAFS */
	case 0x73757245: /* Coda */
	case 0x7461636f: /* OCFS2 */
	case 0x01161970: /* GFS2 */
	case 0x0bd00bd0: /* Lustre */
		return 1;
	}
	return 0;
}
#endif

/* Gives up on the kernel's notifications: from now on, w polls. */
static void
start_polling(okof_watch *w)
{
	w->polling = 1;
	if (w->next_poll == 0)
		w->next_poll = mono_ms() + w->interval_ms;
}

/* Watches bucket b (inotify), if w does not poll.  0 or an error. */
static int
watch_bucket(okof_watch *w, int b)
{
#ifdef __linux__
	char bn[BUCKET_HEX + 1];

	if (w->polling || w->bwd[b] >= 0)
		return 0;
	bucket_name(b, bn);
	int fd = open_bucket(w, b);
	if (fd == -ENOENT)
		return 0; /* its creation is seen at the top */
	if (fd < 0)
		return fd;
	size_t n = strlen(w->dir);
	char *path = malloc(n + 4);
	if (!path)
		return -ENOMEM;
	snprintf(path, n + 4, "%s/%s", w->dir, bn);
	int wd = inotify_add_watch(w->ifd, path, BUCKET_EVENTS);
	free(path);
	if (wd < 0) {
		if (errno == ENOSPC || errno == ENOMEM || errno == ENOENT) {
			start_polling(w); /* max_user_watches reached */
			return 0;
		}
		return store_fail(w->s, -errno, bn, NULL, "cannot watch");
	}
	w->bwd[b] = wd;
#else
	(void)w;
	(void)b;
#endif
	return 0;
}

/* walk_fn of a bucket rescan: every record's name is a hint. */
static int
rescan_one(void *ctx, int bfd, const char *bucket, const char *name,
	   enum walk_kind kind)
{
	okof_watch *w = ctx;

	(void)bfd;
	if (kind != WALK_RECORD)
		return 0;
	return hint(w, walk_bucket_index(bucket), name, 0);
}

/*
 * Reads the buckets again: every record found and every entry is
 * hinted.  With polled set, a bucket whose directory has not changed
 * since the last poll is skipped (unless it changed within the clock's
 * granularity of that poll).
 */
static int
rescan(okof_watch *w, int polled)
{
	unsigned char changed[NBUCKETS];
	int rc;

	memset(changed, 0, sizeof changed);
	for (int b = 0; b < NBUCKETS; b++) {
		if (!(w->flags & OKOF_WATCH_PREFIX) && !w->want[b])
			continue;
		if ((rc = watch_bucket(w, b)) < 0)
			return rc;
		if (polled && open_bucket(w, b) >= 0) {
			struct stat st;
			if (fstat(w->bfd[b], &st) == 0) {
				struct timespec now;
				clock_gettime(CLOCK_REALTIME, &now);
				struct timespec *last = &w->bmtime[b];
				if (st.st_mtim.tv_sec == last->tv_sec &&
				    st.st_mtim.tv_nsec == last->tv_nsec &&
				    now.tv_sec > st.st_mtim.tv_sec + 2)
					continue;
				w->bmtime[b] = st.st_mtim;
			}
		}
		changed[b] = 1;
		if ((w->flags & OKOF_WATCH_PREFIX) &&
		    (rc = store_walk_bucket(w->s, &w->s->err, b, rescan_one,
					    w)) < 0)
			return rc;
	}
	for (uint32_t i = 0; i < w->nused; i++) {
		struct entry *e = ent(w, i);
		if (e->hnext != NIL - 1 && changed[e->name[0]])
			mark(w, i, 0);
	}
	return 0;
}

/* Takes in the state of every queued entry without reporting. */
static int
settle_quietly(okof_watch *w)
{
	while (w->q_head != NIL) {
		uint32_t i = w->q_head;
		w->q_head = ent(w, i)->qnext;
		if (w->q_head == NIL)
			w->q_tail = NIL;
		int rc = settle(w, i, 1, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The store now exists: make the entries of the keys, watch, read. */
static int
store_ready(okof_watch *w, int initial)
{
	int rc;

	if (w->secret) {
		sodium_free(w->secret);
		w->secret = NULL;
	}
	if (!(w->flags & OKOF_WATCH_PREFIX)) {
		for (size_t k = 0; k < w->nkeys; k++) {
			struct rec_name nm;
			unsigned char name[HASH_BYTES];
			store_name(w->s, w->keys[k], w->klens[k], &nm);
			int b = walk_bucket_index(nm.bucket);
			parse_name(b, nm.file, name);
			if (lookup(w, name) != NIL)
				continue; /* given twice */
			uint32_t i = insert(w, name);
			if (i == NIL)
				return -ENOMEM;
			struct entry *e = ent(w, i);
			e->fixed = 1;
			e->key = malloc(w->klens[k]);
			if (!e->key)
				return -ENOMEM;
			memcpy(e->key, w->keys[k], w->klens[k]);
			e->klen = (uint16_t)w->klens[k];
			w->want[b] = 1;
		}
	}
#ifdef __linux__
	/* The store's directory may be the one watched while waiting: the
	 * same watch, which is made again with the store's events. */
	for (int k = 0; k < w->nwait; k++)
		inotify_rm_watch(w->ifd, w->wait_wd[k]);
	w->nwait = 0;
	if (!w->polling && remote_fs(w->s->dirfd))
		start_polling(w);
	if (!w->polling) {
		w->top_wd = inotify_add_watch(w->ifd, w->dir, TOP_EVENTS);
		if (w->top_wd < 0) {
			if (errno != ENOSPC && errno != ENOMEM)
				return store_fail(w->s, -errno, "", NULL,
						  "cannot watch");
			start_polling(w);
		}
	}
#endif
	if ((rc = rescan(w, w->polling)) < 0)
		return rc;
	return initial ? 0 : settle_quietly(w);
}

#ifdef __linux__
#define WAIT_EVENTS \
	(IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* "a/b" -> "a", "a" -> ".", "/a" -> "/"; 0 when p is "/" or ".". */
static int
path_up(char *p)
{
	char *sl = strrchr(p, '/');

	while (sl && sl > p && sl[1] == '\0') {
		*sl = '\0';
		sl = strrchr(p, '/');
	}
	if (strcmp(p, "/") == 0 || strcmp(p, ".") == 0)
		return 0;
	if (!sl)
		strcpy(p, ".");
	else if (sl == p)
		p[1] = '\0';
	else
		*sl = '\0';
	return 1;
}

/*
 * Watches the store's directory or, while it does not exist, its
 * nearest existing parent.  Watch first, then look, as for the
 * buckets: a directory made on the path after the watch is an event.
 * One made between the failed watch of it and the watch of its parent
 * (another process's mkdir, in that window) would be no event, and
 * the store made inside it never seen: so the path below the watched
 * parent is looked at again, and if it is a directory now, the watch
 * starts over from the store's own directory.
 */
static int
watch_nearest(okof_watch *w)
{
	size_t n = strlen(w->dir);
	char *p = malloc(2 * (n + 2)), *below;
	struct stat st;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	below = p + n + 2;
	for (int again = 0; again < WAIT_DEPTH; again++) {
		for (int k = 0; k < w->nwait; k++)
			inotify_rm_watch(w->ifd, w->wait_wd[k]);
		w->nwait = 0;
		memcpy(p, w->dir, n + 1);
		below[0] = '\0';
		for (int depth = 0; depth < WAIT_DEPTH; depth++) {
			int wd = inotify_add_watch(w->ifd, p, WAIT_EVENTS);
			if (wd >= 0) {
				w->wait_wd[w->nwait++] = wd;
				break; /* dir, or its nearest parent */
			}
			if (errno != ENOENT && errno != ENOTDIR) {
				if (errno != ENOSPC && errno != ENOMEM &&
				    errno != EACCES)
					rc = -errno;
				goto out;
			}
			memcpy(below, p, strlen(p) + 1);
			if (!path_up(p))
				break;
		}
		if (w->nwait == 0)
			goto out; /* nothing to watch: poll */
		if (below[0] == '\0' || stat(below, &st) != 0 ||
		    !S_ISDIR(st.st_mode))
			goto out_watched;
	}
out: /* made and removed again and again, or no watch to be had */
	if (rc == 0)
		start_polling(w);
out_watched:
	free(p);
	return rc;
}
#endif

/*
 * Opens the store if it exists now: 1 when it is open, 0 when it does
 * not exist yet (and its nearest existing parent is watched), or an
 * error.
 */
static int
try_open(okof_watch *w, int initial)
{
#ifdef __linux__
	if (!w->polling) {
		int rc = watch_nearest(w);
		if (rc < 0)
			return rc;
	}
#endif
	int rc = okof_open(&w->s, w->dir, 0, NULL, w->secret);
	if (rc == OKOF_ENOSTORE)
		return 0;
	if (rc < 0)
		return rc;
	for (int b = 0; b < NBUCKETS; b++)
		w->bfd[b] = -1;
	rc = store_ready(w, initial);
	return rc < 0 ? rc : 1;
}

int
okof_watch_open(okof_watch **out, const char *dir, const unsigned char *secret,
		const struct okof_watch_opts *o)
{
	okof_watch *w;
	int rc = -ENOMEM;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!dir || !o || !o->keys || !o->klens || o->nkeys == 0 ||
	    (o->flags & ~(OKOF_WATCH_PREFIX | OKOF_WATCH_INITIAL |
			  OKOF_WATCH_POLL)) != 0 ||
	    o->interval_ms < 0 ||
	    ((o->flags & OKOF_WATCH_PREFIX) && o->nkeys != 1))
		return -EINVAL;
	for (size_t k = 0; k < o->nkeys; k++) {
		if (!o->keys[k] && o->klens[k] > 0)
			return -EINVAL;
		if (o->flags & OKOF_WATCH_PREFIX) {
			if (o->klens[k] > OKOF_KEY_MAX ||
			    (o->klens[k] > 0 &&
			     memchr(o->keys[k], 0, o->klens[k])))
				return OKOF_EBADKEY;
		} else if ((rc = okof_check_key(o->keys[k], o->klens[k])) < 0) {
			return rc;
		}
	}
	if (sodium_init() < 0)
		return -ENOSYS;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->ifd = -1;
	w->top_wd = -1;
	w->flags = o->flags;
	w->interval_ms = o->interval_ms > 0 ? o->interval_ms : 1000;
	w->q_head = w->q_tail = NIL;
	for (int b = 0; b < NBUCKETS; b++) {
		w->bfd[b] = -1;
		w->bwd[b] = -1;
	}
	w->dir = strdup(dir);
	w->keys = calloc(o->nkeys, sizeof *w->keys);
	w->klens = calloc(o->nkeys, sizeof *w->klens);
	if (!w->dir || !w->keys || !w->klens)
		goto fail;
	w->nkeys = o->nkeys;
	for (size_t k = 0; k < o->nkeys; k++) {
		w->keys[k] = malloc(o->klens[k] + 1);
		if (!w->keys[k])
			goto fail;
		memcpy(w->keys[k], o->keys[k], o->klens[k]);
		w->klens[k] = o->klens[k];
	}
	if (secret) {
		w->secret = sodium_malloc(OKOF_SECRET_BYTES);
		if (!w->secret)
			goto fail;
		memcpy(w->secret, secret, OKOF_SECRET_BYTES);
	}
	if (o->flags & OKOF_WATCH_POLL)
		start_polling(w);
#ifdef __linux__
	if (!w->polling) {
		w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w->ifd < 0)
			start_polling(w); /* max_user_instances reached */
	}
#else
	start_polling(w);
#endif
	rc = try_open(w, o->flags & OKOF_WATCH_INITIAL);
	if (rc < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	okof_watch_close(w);
	return rc;
}

#ifdef __linux__
/* Reads what inotify has queued, turning it into hints and flags. */
static int
drain(okof_watch *w)
{
	char buf[16384]
		__attribute__((aligned(__alignof__(struct inotify_event))));

	/* Bounded: a writer that never stops must not keep us here. */
	for (int round = 0; round < 64; round++) {
		ssize_t n = read(w->ifd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				w->rescan = 1;
				continue;
			}
			if (!w->s) {
				w->reopen = 1;
				continue;
			}
			if (ev->wd == w->top_wd) {
				if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
					w->rescan = 1;
				if (ev->len == 0 || !(ev->mask & IN_ISDIR) ||
				    hexval(ev->name[0]) < 0 ||
				    hexval(ev->name[1]) < 0 || ev->name[2])
					continue;
				int b = hexval(ev->name[0]) << 4 |
					hexval(ev->name[1]);
				if ((w->flags & OKOF_WATCH_PREFIX) ||
				    w->want[b])
					w->newbucket[b] = w->any_newbucket = 1;
				continue;
			}
			int b = 0;
			while (b < NBUCKETS && w->bwd[b] != ev->wd)
				b++;
			if (b == NBUCKETS)
				continue; /* a watch removed meanwhile */
			if (ev->mask & IN_IGNORED) {
				/* The bucket itself went away. */
				w->bwd[b] = -1;
				if (w->bfd[b] >= 0)
					close(w->bfd[b]);
				w->bfd[b] = -1;
				w->rescan = 1;
				continue;
			}
			if (ev->len == 0 || (ev->mask & IN_ISDIR))
				continue;
			int made = (ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0;
			int rc = hint(w, b, ev->name, made);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}
#endif

/* Does what events and timers ask for, up to a queue to settle. */
static int
work(okof_watch *w)
{
	int rc;

#ifdef __linux__
	if (w->ifd >= 0 && (rc = drain(w)) < 0)
		return rc;
#endif
	int64_t now = mono_ms();
	if (w->polling && w->next_poll != 0 && now >= w->next_poll) {
		w->next_poll = now + w->interval_ms;
		if (w->s)
			w->rescan = 2; /* a poll */
		else
			w->reopen = 1;
	}
	if (w->reopen && !w->s) {
		w->reopen = 0;
		/* All keys were absent: what the store holds is news. */
		if ((rc = try_open(w, 1)) < 0)
			return rc;
	}
	if (!w->s)
		return 0;
	if (w->rescan) {
		int polled = w->rescan == 2;
		w->rescan = 0;
		w->any_newbucket = 0;
		memset(w->newbucket, 0, sizeof w->newbucket);
		if ((rc = rescan(w, polled)) < 0)
			return rc;
	}
	if (w->any_newbucket) {
		w->any_newbucket = 0;
		for (int b = 0; b < NBUCKETS; b++) {
			if (!w->newbucket[b])
				continue;
			w->newbucket[b] = 0;
			if ((rc = watch_bucket(w, b)) < 0)
				return rc;
			if ((w->flags & OKOF_WATCH_PREFIX) &&
			    (rc = store_walk_bucket(w->s, &w->s->err, b,
						    rescan_one, w)) < 0)
				return rc;
			for (uint32_t i = 0; i < w->nused; i++) {
				struct entry *e = ent(w, i);
				if (e->hnext != NIL - 1 && e->name[0] == b)
					mark(w, i, 0);
			}
		}
	}
	if (w->next_expiry != 0 &&
	    store_now_ns() / 1000000000 >= w->next_expiry) {
		int64_t t = store_now_ns() / 1000000000, next = 0;
		for (uint32_t i = 0; i < w->nused; i++) {
			struct entry *e = ent(w, i);
			if (e->hnext == NIL - 1 || !e->live || e->expires == 0)
				continue;
			if (e->expires <= t)
				mark(w, i, 0);
			else if (next == 0 || e->expires < next)
				next = e->expires;
		}
		w->next_expiry = next;
	}
	return 0;
}

int
okof_watch_timeout(const okof_watch *w)
{
	int64_t t = -1;

	if (!w)
		return -EINVAL;
	if (w->q_head != NIL || w->rescan || w->reopen || w->any_newbucket)
		return 0;
	if (w->polling && w->next_poll != 0) {
		t = w->next_poll - mono_ms();
		if (t < 0)
			t = 0;
	}
	if (w->next_expiry != 0) {
		int64_t e = w->next_expiry * 1000 - store_now_ns() / 1000000;
		if (e < 0)
			e = 0;
		if (t < 0 || e < t)
			t = e;
	}
	return t > INT_MAX ? INT_MAX : (int)t;
}

int
okof_watch_next(okof_watch *w, int timeout_ms, struct okof_watch_event *ev)
{
	int64_t end = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
	int rc;

	if (!w || !ev)
		return -EINVAL;
	for (;;) {
		if ((rc = work(w)) < 0)
			return rc;
		while (w->q_head != NIL) {
			uint32_t i = w->q_head;
			w->q_head = ent(w, i)->qnext;
			if (w->q_head == NIL)
				w->q_tail = NIL;
			if ((rc = settle(w, i, 0, ev)) != 0)
				return rc;
		}
		int wait = okof_watch_timeout(w);
		if (timeout_ms >= 0) {
			int64_t left = timeout_ms == 0 ? 0 : end - mono_ms();
			if (left <= 0)
				return 0;
			if (wait < 0 || left < wait)
				wait = (int)left;
		}
		struct pollfd pfd = {.fd = w->ifd, .events = POLLIN};
		if (poll(&pfd, w->ifd >= 0, wait) < 0)
			return -errno;
	}
}

int
okof_watch_fd(const okof_watch *w)
{
	if (!w)
		return -EINVAL;
	return w->polling ? -1 : w->ifd;
}

int
okof_watch_polling(const okof_watch *w)
{
	return w ? w->polling : -EINVAL;
}

okof_store *
okof_watch_store(const okof_watch *w)
{
	return w ? w->s : NULL;
}

void
okof_watch_close(okof_watch *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->nused; i++)
		if (ent(w, i)->hnext != NIL - 1)
			free(ent(w, i)->key);
	for (uint32_t b = 0; b < w->nblocks; b++)
		free(w->blocks[b]);
	free(w->blocks);
	free(w->hash);
	for (int b = 0; b < NBUCKETS; b++)
		if (w->bfd[b] >= 0)
			close(w->bfd[b]);
	if (w->ifd >= 0)
		close(w->ifd);
	for (size_t k = 0; k < w->nkeys && w->keys; k++)
		free(w->keys[k]);
	free(w->keys);
	free(w->klens);
	free(w->dir);
	sodium_free(w->secret);
	okof_close(w->s);
	free(w);
}
