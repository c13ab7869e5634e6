/* check_main.c - runs every suite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftw.h>
#include <unistd.h>

#include "check_okof.h"

void
fill_data(unsigned char *buf, size_t n, int text, unsigned seed)
{
	static const char *words[] = {"okof ", "store ", "value ", "chunk ",
				      "durable ", "shell\n", "key=", "42 "};
	unsigned x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n;) {
		x = x * 1103515245u + 12345u;
		if (text) {
			const char *w = words[(x >> 16) % 8];
			for (; *w && i < n; w++)
				buf[i++] = (unsigned char)*w;
		} else {
			buf[i++] = (unsigned char)(x >> 23);
		}
	}
}

char *
make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p;

	if (!t || !*t)
		t = "/tmp";
	size_t n = strlen(t) + sizeof "/okof-check-XXXXXX";
	p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/okof-check-XXXXXX", t);
	if (!mkdtemp(p))
		abort();
	return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

void
remove_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_add_suite(sr, record_suite());
	srunner_add_suite(sr, store_suite());
	srunner_add_suite(sr, api_suite());
	srunner_add_suite(sr, watch_suite());
	srunner_add_suite(sr, lock_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
