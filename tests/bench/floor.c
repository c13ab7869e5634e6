/*
 * floor.c - the least a program must do for each okof operation; the
 * baselines of tests/bench/run.  Static, no libraries.
 *
 *   floor true                      nothing: exec and exit
 *   floor read FILE                 open, read, write to stdout
 *   floor write DIR NAME VALUE [-n] temp file O_EXCL, write, fsync,
 *                                   rename, fsync DIR (-n: no fsyncs)
 *   floor stream DIR NAME [-n]      the same, the value from stdin
 *   floor incr DIR NAME COUNT       COUNT times: flock DIR, read NAME,
 *                                   add 1, write temp, fsync, rename,
 *                                   fsync DIR, unlock
 *   floor lock FILE PROG [ARG...]   open FILE, lock it (flock), read and
 *                                   write a 512-byte token slot, fsync,
 *                                   fork, exec PROG, wait: okof lock's
 *                                   least
 *   floor list DIR                  open, read and close every file one
 *                                   level down (what list must do when
 *                                   keys live inside their files)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[1 << 17];

static void
die(const char *what)
{
	perror(what);
	exit(3);
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			die("write");
		p += w;
		n -= (size_t)w;
	}
}

/* Writes DIR/NAME through a temp file from buf/len, or from stdin. */
static void
publish(int dfd, const char *name, const char *val, size_t len, int sync)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, ".tmp-%ld", (long)getpid());
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0600);
	if (fd < 0)
		die("open temp");
	if (val) {
		write_all(fd, val, len);
	} else {
		ssize_t n;
		while ((n = read(0, buf, sizeof buf)) > 0)
			write_all(fd, buf, (size_t)n);
		if (n < 0)
			die("read");
	}
	if (sync && fsync(fd) != 0)
		die("fsync");
	if (close(fd) != 0)
		die("close");
	if (renameat(dfd, tmp, dfd, name) != 0)
		die("rename");
	if (sync && fsync(dfd) != 0)
		die("fsync dir");
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "true") == 0)
		return 0; /* the cost of a static C program's exec and exit */
	if (argc >= 3 && strcmp(argv[1], "read") == 0) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		ssize_t n;
		if (fd < 0)
			return 1;
		while ((n = read(fd, buf, sizeof buf)) > 0)
			write_all(1, buf, (size_t)n);
		return n < 0 ? 3 : 0;
	}
	if (argc >= 4 && strcmp(argv[1], "lock") == 0) {
		int fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
			die("lock");
		if (pread(fd, buf, 1024, 0) < 0)
			die("pread");
		buf[0]++;
		if (pwrite(fd, buf, 512, 0) != 512 || fsync(fd) != 0)
			die("pwrite");
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execvp(argv[3], argv + 3);
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) < 0)
			die("waitpid");
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (argc == 3 && strcmp(argv[1], "list") == 0) {
		DIR *top = opendir(argv[2]);
		struct dirent *e, *r;
		if (!top)
			die("opendir");
		while ((e = readdir(top)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			int bfd = openat(dirfd(top), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			DIR *b = bfd >= 0 ? fdopendir(bfd) : NULL;
			if (!b)
				continue;
			while ((r = readdir(b)) != NULL) {
				if (r->d_name[0] == '.')
					continue;
				int fd = openat(bfd, r->d_name,
						O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					die("open");
				if (read(fd, buf, 4200) < 0)
					die("read");
				close(fd);
			}
			closedir(b);
		}
		closedir(top);
		return 0;
	}
	if (argc >= 4 && (strcmp(argv[1], "write") == 0 ||
			  strcmp(argv[1], "stream") == 0 ||
			  strcmp(argv[1], "incr") == 0)) {
		int dfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			die("open dir");
		if (strcmp(argv[1], "write") == 0 && argc >= 5) {
			int sync = !(argc >= 6 && strcmp(argv[5], "-n") == 0);
			publish(dfd, argv[3], argv[4], strlen(argv[4]), sync);
			return 0;
		}
		if (strcmp(argv[1], "stream") == 0) {
			int sync = !(argc >= 5 && strcmp(argv[4], "-n") == 0);
			publish(dfd, argv[3], NULL, 0, sync);
			return 0;
		}
		if (strcmp(argv[1], "incr") == 0 && argc >= 5) {
			long count = atol(argv[4]);
			for (long i = 0; i < count; i++) {
				if (flock(dfd, LOCK_EX) != 0)
					die("flock");
				long v = 0;
				int fd = openat(dfd, argv[3], O_RDONLY | O_CLOEXEC);
				if (fd >= 0) {
					ssize_t n = read(fd, buf, 64);
					if (n > 0) {
						buf[n] = 0;
						v = atol(buf);
					}
					close(fd);
				}
				char out[32];
				int n = snprintf(out, sizeof out, "%ld\n", v + 1);
				publish(dfd, argv[3], out, (size_t)n, 1);
				flock(dfd, LOCK_UN);
			}
			return 0;
		}
	}
	fputs("usage: floor true | read FILE | write DIR NAME VALUE [-n] | "
	      "lock FILE PROG [ARG...] | "
	      "stream DIR NAME [-n] | incr DIR NAME COUNT | list DIR\n",
	      stderr);
	return 2;
}
