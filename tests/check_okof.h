/* check_okof.h - the unit test suites, one per module, and helpers. */
#ifndef CHECK_OKOF_H
#define CHECK_OKOF_H

#include <check.h>
#include <stddef.h>

Suite *codec_suite(void);
Suite *record_suite(void);
Suite *store_suite(void);
Suite *api_suite(void);
Suite *watch_suite(void);
Suite *lock_suite(void);

/* Fills buf with n bytes: compressible text if text, else random. */
void fill_data(unsigned char *buf, size_t n, int text, unsigned seed);

/* A fresh empty directory under $TMPDIR; the caller removes it. */
char *make_tmpdir(void);

/* rm -rf */
void remove_tree(const char *path);

#endif
