/* policy/pol_uri.c — the URI half of the SigV4 canonical request: canonical path and canonical query.
 *
 * Path (non-S3 rules, as botocore and the AWS test suite's normalize-path cases): split the raw path
 * on '/', drop empty and "." segments, let ".." drop the previous one, keep a trailing '/' when any
 * segment remains, and URI-encode each segment's bytes outside A-Za-z0-9-_.~ — including '%', so a
 * path received as "/a%20b" is canonicalized as "/a%2520b" (AWS encodes non-S3 paths twice).
 *
 * Query: split the raw query on '&', each parameter on its first '='; percent-decode name and value
 * (only valid %XX; '+' stays a literal '+'), re-encode with the RFC 3986 unreserved set, sort by
 * encoded name then encoded value (byte order), join "k=v" with '&'. A parameter without '=' gets an
 * empty value. Decoding then encoding makes the result independent of how the client (or node/http.c,
 * which re-encodes what libmicrohttpd decoded) escaped the query.
 *
 * Nothing is allocated: parameters and segments are spans on the stack, bounded by POL_MAX_*, and the
 * sort compares encoded forms by streaming them byte by byte.
 */
#include <stdlib.h>
#include <string.h>

#include "pol_int.h"

static const char hexu[] = "0123456789ABCDEF";

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '.' || c == '~';
}


/* Writes the encoding of raw bytes p[n]. */
static void put_encoded(pol_sink *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (unreserved(c)) {
			pol_sink_putc(s, (char)c);
		} else {
			char e[3] = {'%', hexu[c >> 4], hexu[c & 15]};
			pol_sink_put(s, e, 3);
		}
	}
}

bool pol_canonical_uri(pol_sink *s, const char *path, size_t len)
{
	pol_span seg[POL_MAX_PATH_SEGMENTS];
	size_t nseg = 0;

	if (!path || len == 0) {
		pol_sink_putc(s, '/');
		return true;
	}
	if (len > POL_MAX_PATH_LEN)
		return false;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t n = j - i;
		if (n == 0 || (n == 1 && path[i] == '.')) {
			/* empty or "." segment: dropped */
		} else if (n == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (nseg)
				nseg--;
		} else {
			if (nseg == POL_MAX_PATH_SEGMENTS)
				return false;
			seg[nseg++] = (pol_span){path + i, n};
		}
		i = j + 1;
	}
	pol_sink_putc(s, '/');
	for (size_t k = 0; k < nseg; k++) {
		if (k)
			pol_sink_putc(s, '/');
		put_encoded(s, seg[k].p, seg[k].n);
	}
	if (nseg && path[len - 1] == '/')
		pol_sink_putc(s, '/');
	return true;
}

/* ---- query ------------------------------------------------------------------------------------ */

typedef struct qparam {
	pol_span name, value;
} qparam;

/* Streams the canonical encoding of a raw (possibly %-encoded) span one byte at a time. */
typedef struct enc_iter {
	const char *p;
	size_t n, i;
	char pend[3];
	int npend, ipend;
} enc_iter;

/* Next decoded byte of p[i..]; advances i. */
static unsigned char decode_next(const char *p, size_t n, size_t *i)
{
	if (p[*i] == '%' && *i + 2 < n) {
		int hi = bb_hexval(p[*i + 1]), lo = bb_hexval(p[*i + 2]);
		if (hi >= 0 && lo >= 0) {
			*i += 3;
			return (unsigned char)(hi * 16 + lo);
		}
	}
	return (unsigned char)p[(*i)++];
}

/* Returns the next encoded byte, or -1 at the end. */
static int enc_next(enc_iter *it)
{
	if (it->ipend < it->npend)
		return (unsigned char)it->pend[it->ipend++];
	if (it->i >= it->n)
		return -1;
	unsigned char c = decode_next(it->p, it->n, &it->i);
	if (unreserved(c))
		return c;
	it->pend[0] = '%';
	it->pend[1] = hexu[c >> 4];
	it->pend[2] = hexu[c & 15];
	it->npend = 3;
	it->ipend = 1;
	return '%';
}

static int enc_cmp(pol_span a, pol_span b)
{
	enc_iter x = {a.p, a.n, 0, {0}, 0, 0}, y = {b.p, b.n, 0, {0}, 0, 0};
	for (;;) {
		int ca = enc_next(&x), cb = enc_next(&y);
		if (ca != cb)
			return ca < cb ? -1 : 1; /* -1 (end) sorts first: a prefix precedes longer names */
		if (ca < 0)
			return 0;
	}
}

static int qparam_cmp(const void *a, const void *b)
{
	const qparam *x = a, *y = b;
	int c = enc_cmp(x->name, y->name);
	return c ? c : enc_cmp(x->value, y->value);
}

static void put_reencoded(pol_sink *s, pol_span v)
{
	enc_iter it = {v.p, v.n, 0, {0}, 0, 0};
	char buf[64];
	size_t k = 0;
	for (int c; (c = enc_next(&it)) >= 0;) {
		buf[k++] = (char)c;
		if (k == sizeof buf) {
			pol_sink_put(s, buf, k);
			k = 0;
		}
	}
	pol_sink_put(s, buf, k);
}

/* Splits a raw query into params (empty pieces between '&' are skipped). false if over the limits. */
static bool split_query(const char *q, size_t len, qparam *out, size_t *n)
{
	*n = 0;
	if (len > POL_MAX_QUERY_LEN)
		return false;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && q[j] != '&')
			j++;
		if (j > i) {
			if (*n == POL_MAX_QUERY_PARAMS)
				return false;
			size_t eq = i;
			while (eq < j && q[eq] != '=')
				eq++;
			out[*n].name = (pol_span){q + i, eq - i};
			out[*n].value = eq < j ? (pol_span){q + eq + 1, j - eq - 1} : (pol_span){q + j, 0};
			(*n)++;
		}
		i = j + 1;
	}
	return true;
}

static bool is_signature_param(pol_span name)
{
	static const char sig[] = "X-Amz-Signature";
	return name.n == sizeof sig - 1 && memcmp(name.p, sig, name.n) == 0;
}

bool pol_canonical_query(pol_sink *s, const char *query, size_t len, bool skip_signature)
{
	qparam ps[POL_MAX_QUERY_PARAMS];
	size_t n;
	bool first = true;

	if (!query || len == 0)
		return true;
	if (!split_query(query, len, ps, &n))
		return false;
	qsort(ps, n, sizeof ps[0], qparam_cmp);
	for (size_t i = 0; i < n; i++) {
		if (skip_signature && is_signature_param(ps[i].name))
			continue;
		if (!first)
			pol_sink_putc(s, '&');
		first = false;
		put_reencoded(s, ps[i].name);
		pol_sink_putc(s, '=');
		put_reencoded(s, ps[i].value);
	}
	return true;
}

int pol_query_get(const char *query, size_t len, const char *name, char *out, size_t cap, size_t *out_len)
{
	size_t nlen = strlen(name);
	int found = 0;

	if (!query || cap == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && query[j] != '&')
			j++;
		size_t eq = i;
		while (eq < j && query[eq] != '=')
			eq++;
		if (eq - i == nlen && memcmp(query + i, name, nlen) == 0) {
			if (found)
				return -1;
			found = 1;
			size_t k = 0, p = eq < j ? eq + 1 : j;
			while (p < j) {
				if (k + 1 >= cap)
					return -1;
				/* decode_next needs the span end: decode within [p, j) */
				size_t rel = p - (eq + 1);
				out[k++] = (char)decode_next(query + eq + 1, j - eq - 1, &rel);
				p = eq + 1 + rel;
			}
			out[k] = '\0';
			if (out_len)
				*out_len = k;
		}
		i = j + 1;
	}
	return found;
}
