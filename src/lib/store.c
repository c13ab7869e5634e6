/*
 * store.c - the store directory: opening and creating it, its metadata
 * file, the safety checks on it, naming records, deleting them.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#endif
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <sodium.h>

#include "crc32c.h"
#include "endian.h"
#include "io.h"
#include "record.h"

void
store_note(struct store_err *e, const char *bucket, const char *file,
	   const char *detail)
{
	if (bucket && file)
		snprintf(e->path, sizeof e->path, "%s/%s", bucket, file);
	else
		snprintf(e->path, sizeof e->path, "%s",
			 bucket ? bucket : file ? file : "");
	e->detail = detail;
}

const char *
okof_errpath(const okof_store *s)
{
	return s ? s->err.path : "";
}

const char *
okof_errdetail(const okof_store *s)
{
	return s && s->err.detail ? s->err.detail : "";
}

int64_t
store_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (int64_t)time(NULL) * 1000000000;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
store_check_sealed(okof_store *s)
{
	if (s->plain_secret)
		return store_fail(s, OKOF_EPLAIN, META_NAME, NULL, "");
	return 0;
}

int
okof_check_key(const char *key, size_t klen)
{
	if (!key && klen > 0)
		return -EINVAL; /* a NULL buffer with a length */
	if (!key || klen == 0 || klen > OKOF_KEY_MAX ||
	    memchr(key, 0, klen) != NULL)
		return OKOF_EBADKEY;
	return 0;
}

int
okof_expires_in(int64_t ttl, int64_t *out)
{
	struct timespec ts;

	if (!out || ttl < 0)
		return -EINVAL;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -errno;
	/* Round up: the key lives at least the whole ttl. */
	int64_t now = (int64_t)ts.tv_sec + (ts.tv_nsec > 0);
	if (ttl > INT64_MAX - now)
		return OKOF_EOVERFLOW;
	*out = now + ttl;
	return 0;
}

void
store_name(const okof_store *s, const char *key, size_t klen,
	   struct rec_name *out)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char h[HASH_BYTES];
	char hex[2 * HASH_BYTES + 1];

	/* Keyed with the store's salt, or for an encrypted store with a
	 * subkey of the secret, so that names say nothing of keys. */
	crypto_generichash(h, sizeof h, (const unsigned char *)key, klen,
			   s->keys ? s->keys->name : s->salt, 32);
	/* Not sodium_bin2hex(): the name is no secret (it is on disk for
	 * anyone who may list the store; the 16 digits share one cache
	 * line for anyone who may not), and its constant-time loop costs a
	 * read of a small record some 1% (tests/bench/libbench.c). */
	for (size_t i = 0; i < sizeof h; i++) {
		hex[2 * i] = digits[h[i] >> 4];
		hex[2 * i + 1] = digits[h[i] & 0xf];
	}
	hex[2 * HASH_BYTES] = '\0';
	memcpy(out->bucket, hex, BUCKET_HEX);
	out->bucket[BUCKET_HEX] = '\0';
	memcpy(out->file, hex + BUCKET_HEX, NAME_HEX + 1);
}

void
store_name_read(okof_store *s, const char *key, size_t klen,
		struct rec_name *out)
{
	if (klen == s->read_klen && memcmp(key, s->read_key, klen) == 0) {
		*out = s->read_name;
		return;
	}
	store_name(s, key, klen, out);
	if (klen <= sizeof s->read_key) {
		memcpy(s->read_key, key, klen);
		s->read_klen = klen;
		s->read_name = *out;
	}
}

const struct rec_crypto *
store_crypto(const okof_store *s, const struct rec_name *nm,
	     struct rec_crypto *cr)
{
	if (!s->keys)
		return NULL;
	cr->key = s->keys->record;
	cr->salt = s->salt;
	memcpy(cr->name, nm->bucket, BUCKET_HEX);
	memcpy(cr->name + BUCKET_HEX, nm->file, NAME_HEX + 1);
	return cr;
}

/*
 * Derives an encrypted store's subkeys: a key for this store from the
 * secret and the store's salt, then one subkey per purpose from that
 * with libsodium's KDF.
 */
static int
derive_keys(okof_store *s, const unsigned char *secret)
{
	unsigned char *sk = sodium_malloc(crypto_kdf_KEYBYTES);

	s->keys = sodium_malloc(sizeof *s->keys);
	if (!sk || !s->keys) {
		sodium_free(sk);
		return -ENOMEM;
	}
	crypto_generichash(sk, crypto_kdf_KEYBYTES, s->salt, sizeof s->salt,
			   secret, OKOF_SECRET_BYTES);
	crypto_kdf_derive_from_key(s->keys->name, 32, 1, "okofname", sk);
	crypto_kdf_derive_from_key(s->keys->record, 32, 2, "okofrecd", sk);
	crypto_kdf_derive_from_key(s->keys->check, 32, 3, "okofchck", sk);
	sodium_free(sk);
	return 0;
}

/*
 * Metadata layout (okof(5)): magic[8] version[4] flags[4] threshold[4]
 * chunk_size[4] salt[32] key check[32] reserved[4] crc32c[4].
 */
static void
meta_encode(unsigned char *m, const struct okof_settings *st,
	    const unsigned char *salt, const struct store_keys *keys)
{
	memset(m, 0, META_SIZE);
	memcpy(m, META_MAGIC, 8);
	st32(m + 8, META_VERSION);
	st32(m + 12, keys ? 1 : 0);
	if (keys)
		memcpy(m + 56, keys->check, 32);
	st32(m + 16, st->compress_threshold);
	st32(m + 20, OKOF_CHUNK_SIZE);
	memcpy(m + 24, salt, SALT_BYTES);
	st32(m + 92, crc32c(0, m, 92));
}

static int
meta_decode(okof_store *s, const unsigned char *m, size_t len,
	    unsigned char check[32])
{
	static const unsigned char zero[36];
	uint32_t flags;

	if (len != META_SIZE || memcmp(m, META_MAGIC, 8) != 0)
		return OKOF_ECORRUPT;
	if (crc32c(0, m, 92) != ld32(m + 92))
		return OKOF_ECORRUPT;
	flags = ld32(m + 12);
	if (ld32(m + 8) != META_VERSION || flags > 1 ||
	    memcmp(m + 88, zero, 4) != 0 ||
	    (flags == 0 && memcmp(m + 56, zero, 32) != 0))
		return OKOF_EVERSION;
	if (ld32(m + 20) != OKOF_CHUNK_SIZE)
		return OKOF_EVERSION;
	s->settings.compress_threshold = ld32(m + 16);
	s->settings.encrypt = flags == 1;
	memcpy(s->salt, m + 24, SALT_BYTES);
	memcpy(check, m + 56, 32);
	return 0;
}

static int
meta_read(okof_store *s, const unsigned char *secret)
{
	unsigned char m[META_SIZE + 1], check[32];
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = io_openat(s->dirfd, META_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
		       0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_size != META_SIZE)
		rc = OKOF_ECORRUPT;
	else if ((n = io_read_full(fd, m, META_SIZE)) < 0)
		rc = (int)n;
	else
		rc = meta_decode(s, m, (size_t)n, check);
	io_close(fd);
	if (rc < 0 || !s->settings.encrypt)
		return rc;
	/* Encrypted: the secret must be given, and be this store's. */
	if (!secret)
		return OKOF_ENEEDSECRET;
	if (!s->keys && (rc = derive_keys(s, secret)) < 0)
		return rc;
	if (sodium_memcmp(check, s->keys->check, 32) != 0) {
		sodium_free(s->keys);
		s->keys = NULL;
		return OKOF_EBADSECRET;
	}
	return 0;
}

int
store_dir_nonempty(int dirfd, int ignore_tmp)
{
	int fd = dup(dirfd);
	DIR *d;
	struct dirent *e;
	int found = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int err = errno;
		close(fd);
		return -err;
	}
	rewinddir(d);
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
		    (ignore_tmp &&
		     strncmp(n, TMP_PREFIX, strlen(TMP_PREFIX)) == 0))
			continue;
		found = 1;
		break;
	}
	int err = errno;
	closedir(d);
	if (!found && err != 0)
		return -err;
	return found;
}

/* Publishes a new metadata file; a concurrent creator may win. */
static int
meta_create(okof_store *s, const struct okof_settings *st,
	    const unsigned char *secret, int no_sync)
{
	unsigned char m[META_SIZE];
	char tmp[TMP_NAME_LEN + 1];
	int fd, lockfd, rc;

	randombytes_buf(s->salt, sizeof s->salt);
	if (st->encrypt && (rc = derive_keys(s, secret)) < 0)
		return rc;
	meta_encode(m, st, s->salt, s->keys);
	fd = tmp_create(s->dirfd, tmp, &lockfd);
	if (fd < 0)
		return fd;
	/* Linked, not renamed: of two processes creating the store at
	 * once, one publishes and the other reads what it published. */
	rc = tmp_publish(s->dirfd, fd, lockfd, tmp, META_NAME, 1,
			       no_sync, io_write_all(fd, m, sizeof m));
	if (rc == -EEXIST) {
		/* Another process created it first: its salt, its keys. */
		sodium_free(s->keys);
		s->keys = NULL;
		return meta_read(s, secret);
	}
	if (rc == 0) {
		s->settings = *st;
		if (!no_sync)
			rc = io_fsync(s->dirfd);
	}
	return rc;
}

static int
check_owner(int dirfd)
{
	struct stat st;

	if (fstat(dirfd, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return OKOF_EUNSAFE;
	return 0;
}

#ifdef __linux__
/*
 * FUSE filesystems that store files as objects (S3, GCS, Azure) have
 * no atomic rename and no hard links: a reader could see half a value
 * and create-only puts could have two winners.  fstatfs() says only
 * "FUSE"; the mount's subtype in /proc/self/mountinfo says which.
 */
static const char *const object_fuse[] = {
	"fuse.s3fs",	 "fuse.goofys",	  "fuse.mountpoint-s3",
	"fuse.gcsfuse",	 "fuse.blobfuse", "fuse.blobfuse2",
	"fuse.s3backer", "fuse.riofs",	  "fuse.yas3fs",
};

#define FUSE_SUPER_MAGIC 0x65735546

/* Is the filesystem of dirfd one that cannot keep the guarantees? */
static int
check_filesystem(int dirfd)
{
	struct statfs sf;
	struct stat st;
	char line[4096];
	int bad = 0;

	if (fstatfs(dirfd, &sf) != 0 || sf.f_type != FUSE_SUPER_MAGIC ||
	    fstat(dirfd, &st) != 0)
		return 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	/* "36 35 0:42 / /mnt rw,relatime shared:1 - fuse.s3fs s3fs rw" */
	while (!bad && fgets(line, sizeof line, f)) {
		unsigned maj, min;
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %u:%u", &maj, &min) != 2 ||
		    makedev(maj, min) != st.st_dev)
			continue;
		size_t n = strcspn(sep + 3, " ");
		for (size_t i = 0; i < sizeof object_fuse / sizeof *object_fuse;
		     i++)
			if (strlen(object_fuse[i]) == n &&
			    memcmp(sep + 3, object_fuse[i], n) == 0)
				bad = 1;
	}
	fclose(f);
	return bad ? OKOF_EFSTYPE : 0;
}
#else
static int
check_filesystem(int dirfd)
{
	(void)dirfd;
	return 0;
}
#endif

int
okof_open(okof_store **out, const char *dir, int flags,
	  const struct okof_settings *settings, const unsigned char *secret)
{
	struct okof_settings def = {.compress_threshold =
					    OKOF_THRESHOLD_DEFAULT};
	struct okof_settings want = settings ? *settings : def;
	okof_store *s;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!dir || (flags & ~(OKOF_CREATE | OKOF_INIT)) != 0 ||
	    (settings && (settings->encrypt & ~1) != 0))
		return -EINVAL;
	if (sodium_init() < 0)
		return -ENOSYS;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (int i = 0; i < STORE_READ_BUCKETS; i++)
		s->read_bfd[i].fd = -1;
	s->dirfd = io_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			     0);
	if (s->dirfd == -ENOENT && (flags & OKOF_CREATE)) {
		/* Nothing made for a store that could not be made. */
		if (want.encrypt && !secret) {
			rc = OKOF_ENEEDSECRET;
			goto fail;
		}
		rc = io_mkdir_parents(dir);
		if (rc < 0)
			goto fail;
		s->dirfd = io_openat(AT_FDCWD, dir,
				     O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	}
	if (s->dirfd < 0) {
		rc = s->dirfd == -ENOENT ? OKOF_ENOSTORE : s->dirfd;
		s->dirfd = -1;
		goto fail;
	}
	rc = check_owner(s->dirfd);
	if (rc == 0)
		rc = check_filesystem(s->dirfd);
	if (rc < 0)
		goto fail;

	/* A secret given for a new store means: encrypt it. */
	if (secret)
		want.encrypt = 1;
	if (want.encrypt && !secret) {
		rc = OKOF_ENEEDSECRET;
		goto fail;
	}
	rc = meta_read(s, secret);
	if (rc == -ENOENT) {
		/* No metadata: an empty directory, one whose creation was
		 * interrupted (only our temp files), or a stranger's. */
		rc = store_dir_nonempty(s->dirfd, 1);
		if (rc > 0 && meta_read(s, secret) == 0)
			rc = 0; /* created meanwhile by another process */
		else if (rc > 0)
			rc = OKOF_ENOTSTORE;
		else if (rc == 0 && !(flags & OKOF_CREATE))
			rc = OKOF_ENOSTORE;
		else if (rc == 0) {
			rc = io_fchmod(s->dirfd, 0700);
			if (rc == 0)
				rc = meta_create(s, &want, secret, 0);
		}
	} else if (rc == 0 && (flags & OKOF_INIT) && settings &&
		   (settings->compress_threshold !=
			    s->settings.compress_threshold ||
		    want.encrypt != s->settings.encrypt)) {
		rc = OKOF_ESETTINGS;
	}
	if (rc < 0)
		goto fail;
	s->plain_secret = secret && !s->keys;
	*out = s;
	return 0;
fail:
	okof_close(s);
	return rc;
}

void
okof_close(okof_store *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	for (int i = 0; i < STORE_READ_BUCKETS; i++)
		if (s->read_bfd[i].fd >= 0)
			close(s->read_bfd[i].fd);
	sodium_memzero(s->salt, sizeof s->salt);
	sodium_memzero(s->read_key, sizeof s->read_key); /* a sealed name */
	sodium_free(s->keys); /* wipes */
	free(s);
}

int
okof_encrypted(const okof_store *s)
{
	return s ? s->keys != NULL : -EINVAL;
}

void
okof_get_settings(const okof_store *s, struct okof_settings *out)
{
	static const struct okof_settings none;

	if (out)
		*out = s ? s->settings : none;
}

int
store_open_bucket(okof_store *s, const struct rec_name *nm, int no_sync)
{
	int bfd = io_open_dir(s->dirfd, nm->bucket);

	if (bfd == -ENOENT) {
		int rc = io_mkdir_durable(s->dirfd, nm->bucket, no_sync);
		if (rc < 0)
			return store_fail(s, rc, nm->bucket, NULL,
					  "cannot create directory");
		bfd = io_open_dir(s->dirfd, nm->bucket);
	}
	if (bfd < 0)
		return store_fail(s, bfd, nm->bucket, NULL,
				  "cannot open directory");
	return bfd;
}

/*
 * Buckets are made once and never removed, so a bucket's descriptor
 * stays good.  Reading through one spares a read the walk of a second
 * name (and openat2's checks): a program that keeps reading its keys
 * pays the one-name openat of the floor (tests/bench/libbench.c).  A
 * bucket is kept open when it is read twice running in its slot, so
 * reads of random keys, which would rarely meet their bucket again,
 * cost no opening and closing of directories.
 */
int
store_read_bucket(okof_store *s, const struct rec_name *nm)
{
	/* the bucket's last hex digit picks its slot */
	struct store_bucket *b =
		&s->read_bfd[(unsigned char)nm->bucket[BUCKET_HEX - 1] %
			     STORE_READ_BUCKETS];

	if (b->fd >= 0 && memcmp(b->name, nm->bucket, sizeof b->name) == 0)
		return b->fd;
	if (memcmp(b->missed, nm->bucket, sizeof b->missed) != 0) {
		memcpy(b->missed, nm->bucket, sizeof b->missed);
		return -1;
	}
	/* Absent, a symlink, anything odd: the path says so, as before. */
	int fd = io_open_dir(s->dirfd, nm->bucket);
	if (fd < 0)
		return -1;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = fd;
	memcpy(b->name, nm->bucket, sizeof b->name);
	return fd;
}
