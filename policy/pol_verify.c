/* policy/pol_verify.c — pol_sigv4_verify: who signed this request, and is the signature good?
 *
 * Order of checks (each failure stops with its own error and AWS-worded reason):
 *   1. credentials present: Authorization header, else presigned query (X-Amz-Signature) — else
 *      BB_EAUTHMISSING "Missing Authentication Token";
 *   2. parse them and the request date (X-Amz-Date, else Date; presigned: X-Amz-Date parameter) —
 *      BB_EAUTHINCOMPLETE (pol_authz.c lists the texts);
 *   3. the access key is known — BB_EAUTHUNKNOWN "The security token included in the request is
 *      invalid.";
 *   4. scope date == request date — BB_EAUTHEXPIRED "Date in Credential scope does not match YYYYMMDD
 *      from ISO-8601 version of date from HTTP: '<scope>' != '<date>', from '<timestamp>'.";
 *   5. request time within max_skew_s of now — BB_EAUTHEXPIRED "Signature expired: <t> is now earlier
 *      than <now-skew> (<now> - 15 min.)" or "Signature not yet current: <t> is still later than
 *      <now+skew> (<now> + 15 min.)"; a presigned request with X-Amz-Expires is instead valid until
 *      t + expires ("Request has expired").
 *   6. a 64-hex x-amz-content-sha256 equals the body's hash — BB_EAUTHSIG "The provided
 *      'x-amz-content-sha256' header does not match what was computed." (other values, e.g.
 *      UNSIGNED-PAYLOAD, are signed as sent and leave the body unauthenticated, as on AWS);
 *   7. every signed header is present — BB_EAUTHINCOMPLETE;
 *   8. the signature matches (sodium_memcmp, constant time) — BB_EAUTHSIG "The request signature we
 *      calculated does not match the signature you provided. Check your AWS Secret Access Key and
 *      signing method. Consult the service documentation for details."
 * The secret and derived keys are wiped before this call returns, except the signing key of the
 * thread's last (secret, day, region, service), kept to sign the next request of the day (pol_hash.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pol_int.h"

#define POL_DEFAULT_SKEW_S 900

static bb_err fail(bb_err e, char *why, size_t cap, const char *text)
{
	pol_why_clear(why, cap);
	pol_why_add(why, cap, text);
	return e;
}

static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

static bool is_hex64(const char *p, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* Reads the request timestamp into amz_date[17] and *t. Returns BB_OK, or BB_EAUTHINCOMPLETE. */
static bb_err request_date(const char *raw, size_t n, bool iso_only, char amz_date[17], int64_t *t, char *why,
			   size_t cap)
{
	trim(&raw, &n);
	bool ok = iso_only ? pol_parse_amz_date(raw, n, t) : pol_parse_http_date(raw, n, t);
	if (!ok) {
		pol_why_clear(why, cap);
		pol_why_add(why, cap, "Date must be in ISO-8601 'basic format'. Got '");
		pol_why_echo(why, cap, raw, n);
		pol_why_add(why, cap, "'. See http://en.wikipedia.org/wiki/ISO_8601");
		return BB_EAUTHINCOMPLETE;
	}
	if (n == 16)
		memcpy(amz_date, raw, 16), amz_date[16] = '\0'; /* keep the signer's text (":60" seconds) */
	else
		pol_format_amz_date(*t, amz_date);
	return BB_OK;
}

/* Step 5: the request time window. */
static bb_err check_time(const pol_auth *a, const pol_verify_opts *o, const char *amz_date, int64_t t, char *why,
			 size_t cap)
{
	int64_t skew = o->max_skew_s > 0 ? o->max_skew_s : POL_DEFAULT_SKEW_S;
	int64_t now = o->now_ms >= 0 ? o->now_ms / 1000 : -((-(o->now_ms + 1)) / 1000) - 1;
	char now_s[17], edge_s[17], msg[160];
	char span[32];

	if (t <= now + skew && (a->presigned && a->expires_s >= 0 ? now <= t + a->expires_s : t >= now - skew))
		return BB_OK; /* the common case: no message to format */
	if (skew % 60 == 0)
		snprintf(span, sizeof span, "%" PRId64 " min.", skew / 60);
	else
		snprintf(span, sizeof span, "%" PRId64 " sec.", skew);
	pol_format_amz_date(now, now_s);
	if (t > now + skew) {
		pol_format_amz_date(now + skew, edge_s);
		snprintf(msg, sizeof msg, "Signature not yet current: %s is still later than %s (%s + %s)", amz_date,
			 edge_s, now_s, span);
		return fail(BB_EAUTHEXPIRED, why, cap, msg);
	}
	if (a->presigned && a->expires_s >= 0) {
		if (now > t + a->expires_s)
			return fail(BB_EAUTHEXPIRED, why, cap, "Request has expired");
		return BB_OK;
	}
	if (t < now - skew) {
		pol_format_amz_date(now - skew, edge_s);
		snprintf(msg, sizeof msg, "Signature expired: %s is now earlier than %s (%s - %s)", amz_date, edge_s,
			 now_s, span);
		return fail(BB_EAUTHEXPIRED, why, cap, msg);
	}
	return BB_OK;
}

/* Steps 1-2: finds and parses the credentials and the request date. */
static bb_err parse_credentials(const pol_request *req, pol_auth *a, char amz_date[17], int64_t *t, char *why,
				size_t cap)
{
	const pol_header *authz, *xdate, *date;
	size_t qlen = req->query ? strnlen(req->query, POL_MAX_QUERY_LEN + 1) : 0;
	size_t n_authz = pol_header_find(req, "authorization", 13, &authz);
	size_t n_xdate = pol_header_find(req, "x-amz-date", 10, &xdate);
	size_t n_date = pol_header_find(req, "date", 4, &date);
	char probe[2];

	if (n_authz == 0) {
		if (pol_query_get(req->query, qlen, "X-Amz-Signature", probe, sizeof probe, NULL) == 0)
			return fail(BB_EAUTHMISSING, why, cap, "Missing Authentication Token");
		bb_err e = pol_presign_parse(req->query, qlen, a, why, cap);
		if (e != BB_OK)
			return e;
		return request_date(a->date_raw.p, a->date_raw.n, true, amz_date, t, why, cap);
	}
	if (n_authz > 1)
		return fail(BB_EAUTHINCOMPLETE, why, cap, "The request must contain exactly one Authorization header.");
	if (n_xdate > 1 || (!n_xdate && n_date > 1))
		return fail(BB_EAUTHINCOMPLETE, why, cap, "The request must contain exactly one 'X-Amz-Date' or 'Date' header.");
	bb_err e = pol_authz_parse(authz->value ? authz->value : "", authz->value ? authz->value_len : 0,
				   n_xdate + n_date > 0, a, why, cap);
	if (e != BB_OK)
		return e;
	const pol_header *dh = n_xdate ? xdate : date;
	return request_date(dh->value, dh->value ? dh->value_len : 0, n_xdate > 0, amz_date, t, why, cap);
}

/* Step 6: a declared body hash must be the body's hash. */
static bb_err check_payload(const pol_request *req, const char *declared, size_t n, char *why, size_t cap)
{
	char actual[65];
	if (!is_hex64(declared, n))
		return BB_OK;
	pol_sha256_hex(req->body, req->body ? req->body_len : 0, actual);
	for (size_t i = 0; i < 64; i++) {
		char c = declared[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (c != actual[i])
			return fail(BB_EAUTHSIG, why, cap,
				    "The provided 'x-amz-content-sha256' header does not match what was computed.");
	}
	return BB_OK;
}

static void copy_span(char *dst, size_t cap, pol_span s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

bb_err pol_sigv4_verify(const pol_request *req, const pol_verify_opts *opts, pol_identity *who, char *why,
			size_t why_cap)
{
	pol_auth a;
	char amz_date[17], akid[POL_MAX_AKID + 1], secret[POL_MAX_SECRET], account[13] = "";
	char payload[65], expected[65], given[65];
	int64_t t = 0;
	size_t missing = SIZE_MAX, plen;
	pol_canon_in in;
	bb_err e;

	pol_why_clear(why, why_cap);
	if (who)
		memset(who, 0, sizeof *who);
	if (!req || !opts || !opts->lookup)
		return fail(BB_EINVAL, why, why_cap, "pol_sigv4_verify: missing request, options or key lookup");
	if (req->n_headers > POL_MAX_REQ_HEADERS || (req->n_headers && !req->headers))
		return fail(BB_EAUTHINCOMPLETE, why, why_cap, "The request has too many headers to verify.");
	pol_crypto_init();

	e = parse_credentials(req, &a, amz_date, &t, why, why_cap);
	if (e != BB_OK)
		return e;

	/* 3. the key */
	copy_span(akid, sizeof akid, a.akid);
	secret[0] = '\0';
	e = opts->lookup(opts->lookup_ctx, akid, secret, sizeof secret, account);
	secret[sizeof secret - 1] = '\0';
	account[12] = '\0';
	if (e == BB_ENOTFOUND) {
		e = fail(BB_EAUTHUNKNOWN, why, why_cap, "The security token included in the request is invalid.");
		goto wipe_secret;
	}
	if (e != BB_OK) {
		fail(e, why, why_cap, "The access key could not be looked up.");
		goto wipe_secret;
	}

	/* 4-5. dates */
	if (memcmp(a.date8.p, amz_date, 8) != 0) {
		pol_why_clear(why, why_cap);
		pol_why_add(why, why_cap, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
					  "date from HTTP: '");
		pol_why_echo(why, why_cap, a.date8.p, 8);
		pol_why_add(why, why_cap, "' != '");
		pol_why_echo(why, why_cap, amz_date, 8);
		pol_why_add(why, why_cap, "', from '");
		pol_why_add(why, why_cap, amz_date);
		pol_why_add(why, why_cap, "'.");
		e = BB_EAUTHEXPIRED;
		goto wipe_secret;
	}
	e = check_time(&a, opts, amz_date, t, why, why_cap);
	if (e != BB_OK)
		goto wipe_secret;

	/* 6-8. payload, canonical request, signature. Without the header the hash was computed from the
	 * body just now (nothing to compare); with it, the body is hashed once to check the claim. */
	plen = pol_payload_hash(req, payload);
	if (pol_payload_declared(req)) {
		e = check_payload(req, payload, plen, why, why_cap);
		if (e != BB_OK)
			goto wipe_secret;
	}
	in = (pol_canon_in){a.signed_headers, a.n_signed, payload, plen, a.presigned};
	e = pol_compute_signature(req, &in, amz_date, a.scope, a.region, a.service, secret, expected, &missing);
	if (e != BB_OK) {
		pol_why_clear(why, why_cap);
		if (missing != SIZE_MAX) {
			pol_why_add(why, why_cap, "The request is missing the header '");
			pol_why_echo(why, why_cap, a.signed_headers[missing].p, a.signed_headers[missing].n);
			pol_why_add(why, why_cap, "' named in SignedHeaders.");
		} else {
			pol_why_add(why, why_cap, "The request's path, query or headers exceed the limits for signing.");
		}
		goto wipe_secret;
	}
	memset(given, 0, sizeof given);
	if (is_hex64(a.signature.p, a.signature.n)) {
		for (size_t i = 0; i < 64; i++) {
			char c = a.signature.p[i];
			given[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
		}
	}
	if (sodium_memcmp(expected, given, 64) != 0) {
		e = fail(BB_EAUTHSIG, why, why_cap,
			 "The request signature we calculated does not match the signature you provided. Check your AWS "
			 "Secret Access Key and signing method. Consult the service documentation for details.");
		goto wipe_expected;
	}
	if (who) {
		copy_span(who->access_key, sizeof who->access_key, a.akid);
		memcpy(who->account, account, sizeof who->account);
		copy_span(who->region, sizeof who->region, a.region);
		copy_span(who->service, sizeof who->service, a.service);
	}
	e = BB_OK;
wipe_expected:
	sodium_memzero(expected, sizeof expected);
wipe_secret:
	sodium_memzero(secret, sizeof secret);
	return e;
}
