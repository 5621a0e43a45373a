/* policy/pol_sign.c — pol_sigv4_sign: SigV4 header signing for our own clients (benchmark, tests,
 * later forward/).
 *
 * Signs every header of the request except Authorization itself (a re-sign must not cover the old
 * signature), names lowercased, de-duplicated (repeated headers become one comma-joined line) and
 * sorted, as botocore does. The request must carry host and either x-amz-date (equal to amz_date) or
 * Date; otherwise the result could never verify, so BB_EINVAL is returned instead. The payload hash
 * follows the verifier: x-amz-content-sha256 if present, else SHA-256 of the body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pol_int.h"

typedef struct sign_names {
	pol_span span[POL_MAX_SIGNED_HEADERS];
	size_t n;
	char buf[POL_MAX_SIGNED_HEADERS * (POL_MAX_HEADER_NAME + 1)];
	size_t used;
} sign_names;

static int span_cmp(const void *a, const void *b)
{
	const pol_span *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, n);
	return c ? c : (x->n < y->n ? -1 : x->n > y->n);
}

static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Collects the lowercase, unique, sorted names to sign. */
static bb_err collect_names(const pol_request *req, sign_names *sn)
{
	char lower[POL_MAX_HEADER_NAME];
	sn->n = sn->used = 0;
	if (req->n_headers > POL_MAX_REQ_HEADERS || (req->n_headers && !req->headers))
		return BB_EINVAL;
	for (size_t i = 0; i < req->n_headers; i++) {
		const pol_header *h = &req->headers[i];
		if (!h->name || h->name_len == 0 || h->name_len > POL_MAX_HEADER_NAME)
			return BB_EINVAL;
		for (size_t k = 0; k < h->name_len; k++) {
			char c = h->name[k];
			if (!token_char(c))
				return BB_EINVAL;
			lower[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		if (h->name_len == 13 && memcmp(lower, "authorization", 13) == 0)
			continue;
		bool seen = false;
		for (size_t k = 0; k < sn->n && !seen; k++)
			seen = sn->span[k].n == h->name_len && memcmp(sn->span[k].p, lower, h->name_len) == 0;
		if (seen)
			continue;
		if (sn->n == POL_MAX_SIGNED_HEADERS)
			return BB_EINVAL;
		memcpy(sn->buf + sn->used, lower, h->name_len);
		sn->span[sn->n++] = (pol_span){sn->buf + sn->used, h->name_len};
		sn->used += h->name_len;
	}
	qsort(sn->span, sn->n, sizeof sn->span[0], span_cmp);
	return BB_OK;
}

static bool has_name(const sign_names *sn, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sn->n; i++) {
		if (sn->span[i].n == n && memcmp(sn->span[i].p, name, n) == 0)
			return true;
	}
	return false;
}

static bool scope_ok(const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == ',' || c == ';')
			return false;
	}
	return true;
}

bb_err pol_sigv4_sign(const pol_request *req, const char *access_key, const char *secret, const char *region,
		      const char *service, const char *amz_date, char *out, size_t cap)
{
	sign_names sn;
	int64_t t;
	char payload[65], sig[65], scope[8 + 1 + POL_MAX_SCOPE_PART + 1 + POL_MAX_SCOPE_PART + 1 + 13];
	size_t missing;
	const pol_header *xd;

	if (!req || !secret || !out || cap == 0 || !scope_ok(access_key, POL_MAX_AKID) ||
	    !scope_ok(region, POL_MAX_SCOPE_PART) || !scope_ok(service, POL_MAX_SCOPE_PART) || !amz_date ||
	    !pol_parse_amz_date(amz_date, strnlen(amz_date, 17), &t) || strnlen(secret, POL_MAX_SECRET) >= POL_MAX_SECRET)
		return BB_EINVAL;
	out[0] = '\0';
	bb_err e = collect_names(req, &sn);
	if (e != BB_OK)
		return e;
	if (!has_name(&sn, "host") || (!has_name(&sn, "x-amz-date") && !has_name(&sn, "date")))
		return BB_EINVAL;
	if (pol_header_find(req, "x-amz-date", 10, &xd)) {
		char v[32] = "";
		pol_sink vs = {NULL, v, sizeof v, 0, false};
		pol_canonical_header_value(&vs, req, "x-amz-date", 10);
		if (vs.overflow || vs.len != 16 || memcmp(v, amz_date, 16) != 0)
			return BB_EINVAL;
	}

	int sl = snprintf(scope, sizeof scope, "%.8s/%s/%s/%s", amz_date, region, service, POL_TERMINATOR);
	size_t plen = pol_payload_hash(req, payload);
	pol_canon_in in = {sn.span, sn.n, payload, plen, false};
	pol_span sc = {scope, (size_t)sl}, rg = {region, strlen(region)}, sv = {service, strlen(service)};
	e = pol_compute_signature(req, &in, amz_date, sc, rg, sv, secret, sig, &missing);
	if (e != BB_OK)
		return BB_EINVAL;

	int n = snprintf(out, cap, "%s Credential=%s/%s, SignedHeaders=", POL_ALGORITHM, access_key, scope);
	for (size_t i = 0; n >= 0 && (size_t)n < cap && i < sn.n; i++)
		n += snprintf(out + n, cap - (size_t)n, "%s%.*s", i ? ";" : "", (int)sn.span[i].n, sn.span[i].p);
	if (n >= 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, ", Signature=%s", sig);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return BB_ETOOBIG;
	}
	return BB_OK;
}
