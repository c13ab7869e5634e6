/*
 * io.h - system calls with the loops and checks they always need.
 *
 * Each function returns 0 (or a byte count) on success and -errno on
 * failure; EINTR is retried, short counts are continued.
 */
#ifndef OKOF_IO_H
#define OKOF_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all of buf; a write that makes no progress is -ENOSPC. */
int io_write_all(int fd, const void *buf, size_t len);

/* Writes all of buf at offset off. */
int io_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/*
 * Reads until len bytes or end of file.  Returns the count read (less
 * than len only at end of file) or -errno.
 */
ssize_t io_read_full(int fd, void *buf, size_t len);

/* Starts writing len bytes of fd from off back to the disk, without
 * waiting (Linux; elsewhere nothing): a long write that will be fsynced
 * then overlaps its disk writes with the rest of its work, instead of
 * leaving them all to the fsync.  0 or -errno. */
int io_write_behind(int fd, uint64_t off, uint64_t len);

/* Makes fd's data durable: F_FULLFSYNC where the platform has it. */
int io_fsync(int fd);

/* close() that reports the error; EINTR counts as closed (POSIX leaves
 * the descriptor's state unspecified, and retrying may close another). */
int io_close(int fd);

/*
 * The calls okof makes, with EINTR retried (a signal is no reason to
 * fail a write): 0 (or a descriptor) on success, -errno on failure.
 */
int io_openat(int at, const char *path, int flags, mode_t mode);
int io_renameat(int at, const char *from, int to_at, const char *to);
int io_linkat(int at, const char *from, int to_at, const char *to);
int io_unlinkat(int at, const char *path);
int io_fchmod(int fd, mode_t mode);

/* flock() with EINTR retried.  0 or -errno. */
int io_flock(int fd, int op);

/* Opens dir (relative to at) as a directory without following a
 * symlink in its last component; returns the fd or -errno. */
int io_open_dir(int at, const char *dir);

/*
 * Opens path (relative to at, one or more components) for reading
 * without following a symlink in any component and without leaving at:
 * one openat2() on Linux, a walk with O_NOFOLLOW elsewhere.  flags are
 * added to O_RDONLY | O_NOFOLLOW | O_CLOEXEC.  Returns the fd or
 * -errno (-ELOOP for a symlink).
 */
int io_open_beneath(int at, const char *path, int flags);

/*
 * Creates directory name under at with mode 0700 whatever the umask,
 * then makes it durable in at.  An existing directory is not an error.
 * Returns 1 if it was created, 0 if it existed, or -errno.
 */
int io_mkdir_durable(int at, const char *name, int no_sync);

/*
 * Makes every missing directory of path, each mode 0700 and durable in
 * its parent, like mkdir -p.  Existing ancestors need only be
 * searchable.  Returns 0 or -errno.
 */
int io_mkdir_parents(const char *path);

#endif
