/*
 * example.c - a program built against the installed okof alone (see
 * tests/install/run): okof-example DIR KEY FILE stores FILE's bytes
 * under KEY in the store DIR (created if need be), then reads them back
 * through the library and writes them to standard output.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <okof.h>

static int
fail(const char *what, okof_store *s, int rc)
{
	fprintf(stderr, "okof-example: cannot %s: %s%s%s\n", what,
		okof_strerror(rc), s && *okof_errpath(s) ? ": " : "",
		s ? okof_errpath(s) : "");
	okof_close(s);
	return 1;
}

int
main(int argc, char **argv)
{
	okof_store *s = NULL;
	okof_reader *r = NULL;
	const void *p;
	size_t n;
	int fd, rc;

	if (argc != 4) {
		fprintf(stderr, "usage: okof-example DIR KEY FILE\n");
		return 2;
	}
	if ((rc = okof_open(&s, argv[1], OKOF_CREATE, NULL, NULL)) != 0)
		return fail("open the store", NULL, rc);
	if ((fd = open(argv[3], O_RDONLY)) < 0) {
		perror(argv[3]);
		okof_close(s);
		return 1;
	}
	rc = okof_put_fd(s, argv[2], strlen(argv[2]), fd, NULL);
	close(fd);
	if (rc != 0)
		return fail("put", s, rc);
	if ((rc = okof_get_open(s, argv[2], strlen(argv[2]), &r)) != 0)
		return fail("get", s, rc);
	while ((rc = okof_get_read(r, &p, &n)) > 0)
		if (fwrite(p, 1, n, stdout) != n)
			break;
	okof_get_close(r);
	if (rc < 0)
		return fail("read", s, rc);
	okof_close(s);
	return fflush(stdout) == 0 ? 0 : 1;
}
