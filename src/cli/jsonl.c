/* jsonl.c - see jsonl.h.  Parsing is jansson's; writing is ours, so
 * that values of any size stream through. */
#include "jsonl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "options.h"
#include "outbuf.h"

/* Flush encoded output in pieces about this big. */
#define FLUSH_AT (256 * 1024)

static int
flush(struct outbuf *o, jsonl_write_fn out, int force)
{
	int rc = 0;

	if (o->failed)
		return -ENOMEM;
	if (o->len >= FLUSH_AT || (force && o->len > 0)) {
		rc = out(o->buf, o->len);
		o->len = 0;
	}
	return rc;
}

/*
 * Base64 of a value that arrives in chunks of any length.  Whole groups
 * of 3 bytes are encoded as they come; the 0 to 2 bytes left over wait
 * in carry until the next chunk completes their group, or until the end,
 * where b64_end pads them.
 */
struct b64 {
	unsigned char carry[2];
	size_t n;
};

static void
b64_feed(struct outbuf *o, struct b64 *s, const unsigned char *p, size_t n)
{
	if (s->n > 0) {
		unsigned char group[3];
		size_t take = 3 - s->n;

		if (n < take) {
			memcpy(s->carry + s->n, p, n);
			s->n += n;
			return;
		}
		memcpy(group, s->carry, s->n);
		memcpy(group + s->n, p, take);
		ob_base64(o, group, 3);
		p += take;
		n -= take;
	}
	size_t whole = n / 3 * 3;
	ob_base64(o, p, whole);
	s->n = n - whole;
	memcpy(s->carry, p + whole, s->n);
}

static void
b64_end(struct outbuf *o, struct b64 *s)
{
	ob_base64(o, s->carry, s->n);
	s->n = 0;
}

int
jsonl_write_record(okof_reader *r, const char *key, size_t klen,
		   jsonl_write_fn out)
{
	struct outbuf o = {0};
	struct okof_info info;
	struct utf8 u = {0};
	struct b64 b64 = {0};
	const void *p;
	size_t n;
	int rc;

	okof_get_info(r, &info);
	/* Pass 1: is the value UTF-8? */
	while ((rc = okof_get_read(r, &p, &n)) > 0)
		utf8_feed(&u, p, n);
	if (rc < 0)
		return rc;
	int text = utf8_end(&u);
	if (info.size > 0 && (rc = okof_get_rewind(r)) < 0)
		return rc;

	ob_str(&o, "{");
	ob_json_field(&o, "key", key, klen);
	ob_str(&o, text ? ",\"value\":\"" : ",\"value_base64\":\"");
	/* Pass 2: the value, escaped or in base64. */
	while (info.size > 0 && (rc = okof_get_read(r, &p, &n)) > 0) {
		if (text)
			ob_json_escape(&o, p, n);
		else
			b64_feed(&o, &b64, p, n);
		if ((rc = flush(&o, out, 0)) != 0)
			goto out;
	}
	if (rc < 0)
		goto out;
	b64_end(&o, &b64);
	ob_str(&o, "\"");
	if (info.expires)
		ob_fmt(&o, ",\"expires\":%" PRId64, info.expires);
	ob_str(&o, "}\n");
	rc = flush(&o, out, 1);
out:
	ob_free(&o);
	return rc;
}

/* Decodes a JSON string, or base64 text when b64, into a new buffer. */
static int
take_bytes(json_t *v, int b64, char **out, size_t *len, const char **why)
{
	if (!json_is_string(v)) {
		*why = "must be a string";
		return -1;
	}
	const char *s = json_string_value(v);
	size_t sl = json_string_length(v);
	char *buf = malloc(sl + 1);
	if (!buf) {
		*why = "out of memory";
		return -1;
	}
	if (!b64) {
		memcpy(buf, s, sl);
		*len = sl;
	} else if (sodium_base642bin((unsigned char *)buf, sl + 1, s, sl, NULL,
				     len, NULL,
				     sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(buf);
		*why = "is not valid base64";
		return -1;
	}
	*out = buf;
	return 0;
}

int
jsonl_parse(const char *line, size_t len, struct jsonl_rec *out,
	    char *errbuf, size_t errcap)
{
	json_error_t e;
	json_t *j, *v;
	const char *name, *why = NULL;
	int have_key = 0, have_value = 0;

	memset(out, 0, sizeof *out);
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	if (!j) {
		snprintf(errbuf, errcap, "bad JSON at column %d: %s", e.column,
			 e.text);
		return -1;
	}
	if (!json_is_object(j)) {
		snprintf(errbuf, errcap, "not a JSON object");
		json_decref(j);
		return -1;
	}
	json_object_foreach(j, name, v)
	{
		int b64 = 0;
		if (strcmp(name, "key") == 0 ||
		    (b64 = (strcmp(name, "key_base64") == 0))) {
			if (have_key++) {
				why = "has both key and key_base64";
				break;
			}
			if (take_bytes(v, b64, &out->key, &out->klen, &why) !=
			    0)
				break;
		} else if (strcmp(name, "value") == 0 ||
			   (b64 = (strcmp(name, "value_base64") == 0))) {
			if (have_value++) {
				why = "has both value and value_base64";
				break;
			}
			if (take_bytes(v, b64, &out->value, &out->vlen, &why) !=
			    0)
				break;
		} else if (strcmp(name, "expires") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) <= 0) {
				why = "expires must be a positive integer";
				break;
			}
			out->expires = json_integer_value(v);
		} else {
			snprintf(errbuf, errcap, "unknown field \"%.40s\"",
				 name);
			why = errbuf;
			break;
		}
	}
	if (!why && !have_key)
		why = "no key";
	if (!why && !have_value)
		why = "no value";
	if (!why && okof_check_key(out->key, out->klen) != 0)
		why = "bad key (1 to 4096 bytes, no NUL)";
	json_decref(j);
	if (why) {
		if (why != errbuf)
			snprintf(errbuf, errcap, "%s", why);
		jsonl_free(out);
		return -1;
	}
	return 0;
}

void
jsonl_free(struct jsonl_rec *r)
{
	free(r->key);
	free(r->value);
	r->key = r->value = NULL;
}
