/*
 * lock.c - the store's named locks and key locks, with fencing tokens
 * (okof_lock_*: see okof.h).
 *
 * A lock is the kernel's: an open file description lock (F_OFD_SETLK,
 * Linux) on the whole of a file in the store's locks directory, else
 * flock().  Either is released when the last descriptor of the open
 * file goes, however the holder ends, and both are passed by NFS and
 * GlusterFS to the server, so holders on other machines are excluded
 * too (tests/sharedfs checks it on two GlusterFS mounts).  Open file
 * description locks are used where they exist because the kernel can
 * be asked about them without taking them (F_OFD_GETLK): okof lock
 * --status must never make a holder's rival see "busy".
 *
 * The lock file is ".locks/L" (a named lock) or ".locks/C" (a key's
 * lock, for okof cache) followed by the 32 hex digits of the name's
 * keyed hash, as a record's name.  It holds two slots of SLOT_SIZE
 * bytes, each a holder record with its own CRC-32C:
 *
 *	0	8	magic "OKOFLCK1"
 *	8	4	CRC-32C of bytes 12..511
 *	12	2	host length		14	2	note length
 *	16	8	token			24	8	pid
 *	32	8	since (Unix ns)		40	216	host, then note
 *
 * A new holder reads both, takes the larger valid token plus one,
 * writes it into the other slot (the one with the smaller token) and
 * fsyncs before it hands the token out.  A crash tears at most the slot
 * being written, and the other keeps the largest token ever handed out,
 * so tokens never repeat.  Both slots written and neither valid is
 * outside damage: OKOF_ECORRUPT, never a token counted again from 1.
 */
/* Open file description locks (F_OFD_*) are Linux's: glibc shows them
 * with _GNU_SOURCE only.  Elsewhere nothing changes. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/statfs.h>
#endif
#include <unistd.h>

#include "crc32c.h"
#include "endian.h"
#include "io.h"
#include "lockfile.h"
#include "store.h"

#define SLOT_SIZE 512
#define SLOT_MAGIC "OKOFLCK1"
#define SLOT_TEXT 40 /* where host and note start */
#define SLOT_HOST_MAX 255

struct okof_lock {
	int fd;
	uint64_t token;
};

/* The lock file's name: "L" or "C" and the hash of name. */
static void
lock_name(const okof_store *s, const char *name, size_t nlen, int flags,
	  char out[2 + 2 * HASH_BYTES])
{
	struct rec_name nm;

	store_name(s, name, nlen, &nm);
	out[0] = flags & OKOF_LOCK_KEY ? 'C' : 'L';
	memcpy(out + 1, nm.bucket, BUCKET_HEX);
	memcpy(out + 1 + BUCKET_HEX, nm.file, NAME_HEX + 1);
}

/* Decodes slot p: 1 valid (h filled), 0 empty (all zero), -1 torn. */
static int
slot_decode(const unsigned char *p, struct okof_lock_holder *h)
{
	size_t hl, nl;

	if (memcmp(p, SLOT_MAGIC, 8) != 0 ||
	    ld32(p + 8) != crc32c(0, p + 12, SLOT_SIZE - 12)) {
		for (size_t i = 0; i < SLOT_SIZE; i++)
			if (p[i] != 0)
				return -1;
		return 0;
	}
	hl = ld16(p + 12);
	nl = ld16(p + 14);
	if (hl > SLOT_HOST_MAX || nl > SLOT_SIZE - SLOT_TEXT - hl ||
	    nl >= sizeof h->note)
		return -1;
	memset(h, 0, sizeof *h);
	h->token = ld64(p + 16);
	h->pid = (int64_t)ld64(p + 24);
	h->since_ns = (int64_t)ld64(p + 32);
	memcpy(h->host, p + SLOT_TEXT, hl);
	memcpy(h->note, p + SLOT_TEXT + hl, nl);
	return 1;
}

/* Encodes h into slot p (SLOT_SIZE bytes). */
static void
slot_encode(unsigned char *p, const struct okof_lock_holder *h)
{
	size_t hl = strnlen(h->host, SLOT_HOST_MAX);
	size_t nl = strnlen(h->note, SLOT_SIZE - SLOT_TEXT - hl);

	memset(p, 0, SLOT_SIZE);
	memcpy(p, SLOT_MAGIC, 8);
	st16(p + 12, (uint16_t)hl);
	st16(p + 14, (uint16_t)nl);
	st64(p + 16, h->token);
	st64(p + 24, (uint64_t)h->pid);
	st64(p + 32, (uint64_t)h->since_ns);
	memcpy(p + SLOT_TEXT, h->host, hl);
	memcpy(p + SLOT_TEXT + hl, h->note, nl);
	st32(p + 8, crc32c(0, p + 12, SLOT_SIZE - 12));
}

#ifdef POSIX_FADV_DONTNEED
/*
 * Is what the page cache holds of the lock file always what is on disk?
 * On a local filesystem yes; on a shared one another machine may have
 * written since, and FUSE keeps the cache across opens (two GlusterFS
 * mounts handed out one token twice).  There the cache is dropped
 * before the slots are read, so that the read goes to the server; NFS
 * revalidates on locking anyway.  On a local filesystem dropping it
 * would cost a disk read, so those are told apart by their magic.
 */
static int
cache_is_truth(int fd)
{
#ifdef __linux__
	static const unsigned long local[] = {
		0xEF53,	    /* ext2/3/4 */
		0x58465342, /* xfs */
		0x9123683E, /* btrfs */
		0x01021994, /* tmpfs */
		0xF2F52010, /* f2fs */
		0x2FC12FC1, /* zfs */
		0xCA451A4E, /* bcachefs */
	};
	struct statfs sf;

	if (fstatfs(fd, &sf) != 0)
		return 0;
	for (size_t i = 0; i < sizeof local / sizeof *local; i++)
		if ((unsigned long)sf.f_type == local[i])
			return 1;
	return 0;
#else
	(void)fd;
	return 0;
#endif
}
#endif

/*
 * Reads both slots of the lock file fd: the newest valid one into *h
 * (zeroes when there is none) and in *older the index of the slot to
 * write next.  0, OKOF_ECORRUPT or -errno.
 */
static int
slots_read(int fd, struct okof_lock_holder *h, int *older)
{
	unsigned char buf[2 * SLOT_SIZE] = {0};
	struct okof_lock_holder v[2];
	int ok[2], torn = 0;
	ssize_t n;

	memset(h, 0, sizeof *h);
	*older = 0;
#ifdef POSIX_FADV_DONTNEED
	if (!cache_is_truth(fd))
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* advice */
#endif
	n = pread(fd, buf, sizeof buf, 0);
	if (n < 0)
		return errno ? -errno : -EIO;
	for (int i = 0; i < 2; i++) {
		ok[i] = slot_decode(buf + i * SLOT_SIZE, &v[i]);
		torn += ok[i] < 0;
	}
	if (ok[0] <= 0 && ok[1] <= 0) {
		/* One torn slot and no other: the very first write was cut,
		 * no token was handed out.  Two: damage. */
		return torn == 2 ? OKOF_ECORRUPT : 0;
	}
	int newest = ok[1] > 0 && (ok[0] <= 0 || v[1].token > v[0].token);
	*h = v[newest];
	*older = !newest;
	return 0;
}

/* A failure of slots_read() on lock file file, noted; returns rc. */
static int
slots_fail(okof_store *s, int rc, const char *file)
{
	return store_fail(s, rc, LOCKS_DIR, file,
			  rc == OKOF_ECORRUPT ? "both token slots are damaged"
					      : "cannot read lock file");
}

/* The exclusive lock of fd, once, waiting or not (a lock_try_fn; op is
 * always LOCK_EX here): 0, -EWOULDBLOCK or -errno. */
static int
lock_try(int fd, int op, int wait)
{
#ifdef F_OFD_SETLK
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	(void)op;
	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) != 0) {
		if (errno == EINTR)
			continue;
		return errno == EACCES || errno == EAGAIN ? -EWOULDBLOCK
							  : -errno;
	}
	return 0;
#else
	while (flock(fd, op | (wait ? 0 : LOCK_NB)) != 0) {
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
	}
	return 0;
#endif
}

static int
lock_args(okof_store *s, const char *name, size_t nlen, int flags)
{
	if (!s || (flags & ~OKOF_LOCK_KEY) != 0)
		return -EINVAL;
	return okof_check_key(name, nlen);
}

/* Copies note into out (size bytes), marking a cut with "...". */
static void
copy_note(char *out, size_t size, const char *note)
{
	size_t n = strlen(note);

	if (n < size) {
		memcpy(out, note, n + 1);
		return;
	}
	memcpy(out, note, size - 4);
	memcpy(out + size - 4, "...", 4);
}

int
okof_lock_acquire(okof_store *s, const char *name, size_t nlen, int flags,
		  int64_t timeout_ms, const char *note, okof_lock **out)
{
	char file[2 + 2 * HASH_BYTES];
	struct okof_lock_holder h;
	unsigned char slot[SLOT_SIZE];
	okof_lock *l = NULL;
	int fd, rc, older;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (timeout_ms < -1)
		return -EINVAL;
	if ((rc = lock_args(s, name, nlen, flags)) < 0)
		return rc;
	lock_name(s, name, nlen, flags, file);
	if ((fd = lock_open(s, file, NULL)) < 0)
		return fd;
	rc = lock_poll(lock_try, fd, LOCK_EX, timeout_ms);
	if (rc == -EWOULDBLOCK) {
		close(fd);
		return store_fail(s, OKOF_EBUSY, LOCKS_DIR, file, "");
	}
	if (rc < 0) {
		close(fd);
		return store_fail(s, rc, LOCKS_DIR, file, "cannot lock");
	}

	/* Ours: the next token, durable before anyone sees it. */
	if ((rc = slots_read(fd, &h, &older)) < 0) {
		close(fd);
		return slots_fail(s, rc, file);
	}
	uint64_t token = h.token + 1;
	memset(&h, 0, sizeof h);
	h.token = token;
	h.pid = getpid();
	h.since_ns = store_now_ns();
	if (gethostname(h.host, SLOT_HOST_MAX) != 0)
		h.host[0] = '\0';
	h.host[SLOT_HOST_MAX] = '\0';
	if (note && !s->keys) {
		/* What the slot has room for after the host, and the
		 * holder struct with its NUL. */
		size_t room = SLOT_SIZE - SLOT_TEXT - strlen(h.host) + 1;
		copy_note(h.note, room < sizeof h.note ? room : sizeof h.note,
			  note);
	}
	slot_encode(slot, &h);
	const char *what = "cannot write lock file";
	rc = io_pwrite_all(fd, slot, sizeof slot, (off_t)older * SLOT_SIZE);
	if (rc == 0 && (rc = io_fsync(fd)) != 0)
		what = "cannot fsync lock file";
	if (rc == 0 && !(l = malloc(sizeof *l))) {
		rc = -ENOMEM;
		what = "";
	}
	if (rc != 0 || !l) {
		close(fd);
		return store_fail(s, rc < 0 ? rc : -EIO, LOCKS_DIR, file, what);
	}
	l->fd = fd;
	l->token = token;
	*out = l;
	return 0;
}

uint64_t
okof_lock_token(const okof_lock *l)
{
	return l ? l->token : 0;
}

void
okof_lock_release(okof_lock *l)
{
	if (!l)
		return;
	close(l->fd); /* the last descriptor of the open file: unlocks */
	free(l);
}

/* Is the lock of fd held by anyone?  1, 0 or -errno. */
static int
lock_held(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

#ifdef F_OFD_GETLK
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -errno;
#else
	/* Where flock and fcntl locks are one (the BSDs, macOS), F_GETLK
	 * sees a flock too. */
	if (fcntl(fd, F_GETLK, &fl) != 0)
		return -errno;
#endif
	return fl.l_type != F_UNLCK;
}

int
okof_lock_status(okof_store *s, const char *name, size_t nlen, int flags,
		 struct okof_lock_holder *out)
{
	char file[2 + 2 * HASH_BYTES];
	char path[sizeof LOCKS_DIR + sizeof file];
	struct okof_lock_holder h;
	int fd, rc, older, held;

	if (out)
		memset(out, 0, sizeof *out);
	if ((rc = lock_args(s, name, nlen, flags)) < 0)
		return rc;
	lock_name(s, name, nlen, flags, file);
	memcpy(path, LOCKS_DIR "/", sizeof LOCKS_DIR);
	memcpy(path + sizeof LOCKS_DIR, file, sizeof file);
	/* Never made: never held.  Read-write, as a write lock is asked
	 * about (and NFS wants the file open for writing to lock it). */
	fd = io_open_beneath(s->dirfd, path, O_RDWR | O_NONBLOCK);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return store_fail(s, fd, LOCKS_DIR, file,
				  "cannot open lock file");
	held = lock_held(fd);
	if (held < 0) {
		close(fd);
		return store_fail(s, held, LOCKS_DIR, file,
				  "cannot ask about the lock");
	}
	rc = slots_read(fd, &h, &older);
	close(fd);
	if (rc < 0)
		return slots_fail(s, rc, file);
	if (out)
		*out = h;
	return held;
}
