/*
 * walk.h - visiting every file in a store's buckets.
 */
#ifndef OKOF_WALK_H
#define OKOF_WALK_H

#include "store.h"

/* What a directory entry of a bucket is. */
enum walk_kind {
	WALK_RECORD,	/* a record's name: NAME_HEX hex digits */
	WALK_TMP,	/* a temp file of okof's */
	WALK_OTHER,	/* anything else */
};

/*
 * Called for each entry of each bucket (bucket is "ab", bfd its open
 * directory) and for the entries of the store's top directory that are
 * neither buckets nor its metadata and lock directory (bucket ""; bfd
 * the store's): temp files, and WALK_OTHER for anything else.  A negative return stops the walk and is
 * returned by store_walk().
 */
typedef int (*walk_fn)(void *ctx, int bfd, const char *bucket,
		       const char *name, enum walk_kind kind);

int store_walk(okof_store *s, walk_fn fn, void *ctx);

/* The same for bucket b (0..255) alone; a missing bucket is empty.
 * Buckets may be walked by several threads at once, each with its own
 * error context e. */
int store_walk_bucket(const okof_store *s, struct store_err *e, int b,
		      walk_fn fn, void *ctx);

/* The number 0..255 of a bucket name ("ab" -> 0xab), as made by
 * store_name() or passed by store_walk(). */
int walk_bucket_index(const char *bucket);

#endif
