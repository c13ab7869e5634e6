/*
 * recfile.h - a record file of the store, opened and checked.  Every
 * reader goes through here (get, list, verify and gc, backup), so each
 * rule below has one home:
 *
 *	recfile_open()	 the file: opened beneath the store without
 *			 following links, never a FIFO that hangs us, a
 *			 regular file
 *	recfile_holds()	 the record is the one its name says: it holds
 *			 the key asked for, or a key that hashes to the
 *			 name it sits under (else get could not find it)
 *	recfile_peek()	 the header and key alone, for list and backup
 *
 * The header and chunks themselves are record.h's (recr_open,
 * recr_next).  On NFS and FUSE filesystems another machine may replace
 * a record between our lookup and our read, and the read answers
 * ESTALE; the name then leads to the new record, so a reader opens it
 * again, at most RECFILE_STALE_TRIES times, and checks it as always.
 */
#ifndef OKOF_RECFILE_H
#define OKOF_RECFILE_H

#include <sys/stat.h>

#include "record.h"
#include "store.h"

#define RECFILE_STALE_TRIES 10

/*
 * Opens record nm: in the bucket open at bfd, or (bfd -1) beneath the
 * store's directory.  With st, fstat()s it and refuses anything but a
 * regular file.  The fd, OKOF_ENOTFOUND, OKOF_ENOTFILE (a symlink or
 * not a regular file) or -errno; failures other than ENOTFOUND are
 * recorded in e.
 */
int recfile_open(const okof_store *s, struct store_err *e, int bfd,
		 const struct rec_name *nm, struct stat *st);

/*
 * Is the record at nm, whose header holds key/klen, the one it should
 * be?  With want (the key asked for) its bytes must be want's; without,
 * the key must hash to nm.  0 or OKOF_ECORRUPT (recorded in e).
 */
int recfile_holds(const okof_store *s, struct store_err *e,
		  const struct rec_name *nm, const void *key, size_t klen,
		  const void *want, size_t wlen);

/* A record's header and (unsealed, authenticated) key, read without
 * its value: an open, one read (two for long keys) and a close. */
struct recfile_peek {
	struct rec_header h; /* h.key points at key */
	unsigned char key[OKOF_KEY_MAX];
	unsigned char buf[REC_FIXED + OKOF_KEY_MAX + REC_ABYTES + 4];
};

/*
 * Reads bucket/name's header in the bucket open at bfd, unseals its key
 * on an encrypted store, and checks recfile_holds().  0,
 * OKOF_ENOTFOUND if it has vanished, OKOF_ECORRUPT or -errno (recorded
 * in e).  s is only read: threads may peek at once, each with its e.
 */
int recfile_peek(const okof_store *s, struct store_err *e, int bfd,
		 const char *bucket, const char *name, struct recfile_peek *pk);

/* The same on record nm already open at fd (by recfile_open), which
 * stays open; no ESTALE retry (the caller opened it). */
int recfile_peek_fd(const okof_store *s, struct store_err *e, int fd,
		    const struct rec_name *nm, struct recfile_peek *pk);

#endif
