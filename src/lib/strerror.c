/*
 * strerror.c - okof_strerror(): the text of every code the library
 * returns, okof's own and errno values, as static strings.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* strerrordesc_np */
#endif
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "okof.h"

#if defined(__GLIBC__) &&                                                      \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define HAVE_STRERRORDESC_NP 1
#endif

const char *
okof_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "success";
	case OKOF_ENOTFOUND:
		return "no such key";
	case OKOF_EEXIST:
		return "key exists";
	case OKOF_EBADKEY:
		return "bad key (must be 1 to 4096 bytes, no NUL)";
	case OKOF_ECORRUPT:
		return "corrupt record";
	case OKOF_ENOTSTORE:
		return "not an okof store (a non-empty directory without okof "
		       "metadata)";
	case OKOF_EUNSAFE:
		return "unsafe store directory (owned by another user, or "
		       "writable by group or others)";
	case OKOF_EVERSION:
		return "store format version not supported by this okof";
	case OKOF_ESETTINGS:
		return "store exists with other settings";
	case OKOF_ENOSTORE:
		return "no store";
	case OKOF_EDIRSYNC:
		return "written, but the directory fsync failed: durability "
		       "unknown";
	case OKOF_ENOTFILE:
		return "record is not a regular file";
	case OKOF_ENOTINT:
		return "value is not a decimal integer";
	case OKOF_EOVERFLOW:
		return "integer overflow (the result must fit in 64 bits)";
	case OKOF_ENEEDSECRET:
		return "store is encrypted; its secret is needed";
	case OKOF_EBADSECRET:
		return "wrong key: this secret does not open this store";
	case OKOF_EPLAIN:
		return "the store is not encrypted, but a secret was given";
	case OKOF_EFSTYPE:
		return "filesystem without atomic rename or hard links (an "
		       "object store mounted with FUSE): okof cannot keep its "
		       "guarantees there";
	case OKOF_EKEYFILE:
		return "bad key file";
	case OKOF_EBUSY:
		return "lock is held by another process";
	default:
		/* INT_MIN has no negation: it is no errno either. */
		if (rc >= 0 || rc == INT_MIN)
			return "unknown error";
#ifdef HAVE_STRERRORDESC_NP
		/* Static text, or NULL for a code glibc does not know
		 * (whose strerror() text lives in a buffer that the next
		 * call frees). */
		const char *d = strerrordesc_np(-rc);
		return d ? d : "unknown error";
#else
		return strerror(-rc);
#endif
	}
}
