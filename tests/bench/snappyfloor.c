/*
 * snappyfloor.c - the snappy floor of tests/bench/run: a stream
 * compressed in 64 KiB chunks, single thread, written durably; and its
 * decompression.  No checksums, no header: less than okof must do.
 *
 *   snappyfloor put FILE < data      compress to FILE, fsync
 *   snappyfloor get FILE > data      decompress FILE
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <snappy-c.h>

#define CHUNK 65536

static char in[CHUNK], out[CHUNK * 2];

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

static size_t
read_full(int fd, char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0)
			die("read");
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return got;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "put") == 0) {
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		size_t n;
		if (fd < 0)
			die("open");
		while ((n = read_full(0, in, CHUNK)) > 0) {
			size_t clen = sizeof out - 4;
			if (snappy_compress(in, n, out + 4, &clen) != SNAPPY_OK)
				die("snappy");
			uint32_t l = (uint32_t)clen;
			memcpy(out, &l, 4);
			write_all(fd, out, clen + 4);
		}
		if (fsync(fd) != 0 || close(fd) != 0)
			die("fsync");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "get") == 0) {
		int fd = open(argv[2], O_RDONLY);
		uint32_t l;
		if (fd < 0)
			die("open");
		while (read_full(fd, (char *)&l, 4) == 4) {
			if (l > sizeof out || read_full(fd, out, l) != l)
				die("short");
			size_t n = sizeof in;
			if (snappy_uncompress(out, l, in, &n) != SNAPPY_OK)
				die("snappy");
			write_all(1, in, n);
		}
		return 0;
	}
	fputs("usage: snappyfloor put FILE < data | get FILE > data\n",
	      stderr);
	return 2;
}
