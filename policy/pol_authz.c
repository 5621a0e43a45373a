/* policy/pol_authz.c — parsing SigV4 credentials: the Authorization header and the presigned query.
 *
 * Header form: "AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request,
 * SignedHeaders=a;b;c, Signature=<hex64>". Leniency: parameters may be separated by commas, blanks or
 * both, blanks may surround '=', parameter names are matched case-insensitively, and unknown
 * parameters are ignored (what is verified does not depend on them). Each of the three parameters
 * must appear exactly once.
 *
 * Reasons (BB_EAUTHINCOMPLETE) follow AWS's IncompleteSignatureException wording where it is known:
 *   "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature'
 *    parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires
 *    existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=<value as sent>"
 * (one sentence per missing piece, then the header echoed), also used for an unknown algorithm or an
 * unparseable header; "Credential must have exactly 5 slash-delimited elements, e.g.
 * keyid/date/region/service/term, got '<credential>'"; "Credential should be scoped to a valid
 * region, not '<r>'. "; "Credential should be scoped with a valid terminator: 'aws4_request', not
 * '<t>'. "; "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.". Texts for
 * cases whose AWS wording is unknown (a parameter repeated, an over-long header, a bad SignedHeaders
 * entry, an invalid credential date or service) are ours, in the same style.
 * Presigned queries use S3's texts ("AWS query-string parameters must include 'X-Amz-Algorithm',
 * 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the
 * query-string parameters.", "X-Amz-Expires must be less than a week (in seconds) that is 604800").
 */
#include <string.h>
#include <strings.h>

#include "pol_int.h"

#define POL_MAX_AUTHZ_TOKENS 64

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool scope_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.';
}

/* RFC 7230 tchar, the characters a header name may contain. */
static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool span_eq(pol_span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static void why_param(char *why, size_t cap, const char *what)
{
	pol_why_add(why, cap, "Authorization header requires '");
	pol_why_add(why, cap, what);
	pol_why_add(why, cap, "' parameter. ");
}

/* The AWS "requires ..." message listing every missing piece, then the header echoed. */
static bb_err incomplete(const pol_auth *a, bool have_date, const char *v, size_t len, char *why, size_t cap)
{
	pol_why_clear(why, cap);
	if (!a || !a->akid.p)
		why_param(why, cap, "Credential");
	if (!a || !a->signature.p)
		why_param(why, cap, "Signature");
	if (!a || !a->signed_headers_raw.p)
		why_param(why, cap, "SignedHeaders");
	if (!have_date)
		pol_why_add(why, cap, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
	pol_why_add(why, cap, "Authorization=");
	pol_why_echo(why, cap, v, len);
	return BB_EAUTHINCOMPLETE;
}

static bb_err fail(char *why, size_t cap, const char *text)
{
	pol_why_clear(why, cap);
	pol_why_add(why, cap, text);
	return BB_EAUTHINCOMPLETE;
}

static bb_err fail_echo(char *why, size_t cap, const char *pre, pol_span s, const char *post)
{
	pol_why_clear(why, cap);
	pol_why_add(why, cap, pre);
	pol_why_echo(why, cap, s.p, s.n);
	pol_why_add(why, cap, post);
	return BB_EAUTHINCOMPLETE;
}

bb_err pol_split_credential(pol_auth *a, const char *v, size_t len, char *why, size_t cap)
{
	pol_span part[5];
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || v[i] == '/') {
			if (n == 5) {
				n = 6;
				break;
			}
			part[n++] = (pol_span){v + start, i - start};
			start = i + 1;
		}
	}
	if (n != 5)
		return fail_echo(why, cap,
				 "Credential must have exactly 5 slash-delimited elements, e.g. "
				 "keyid/date/region/service/term, got '",
				 (pol_span){v, len}, "'");
	if (part[0].n == 0 || part[0].n > POL_MAX_AKID)
		return fail_echo(why, cap, "Credential should contain a valid access key id, not '", part[0], "'. ");
	for (size_t i = 0; i < part[0].n; i++) {
		unsigned char c = (unsigned char)part[0].p[i];
		if (c <= 0x20 || c >= 0x7f)
			return fail_echo(why, cap, "Credential should contain a valid access key id, not '", part[0],
					 "'. ");
	}
	bool date_ok = part[1].n == 8;
	for (size_t i = 0; date_ok && i < 8; i++)
		date_ok = part[1].p[i] >= '0' && part[1].p[i] <= '9';
	if (!date_ok)
		return fail_echo(why, cap, "Invalid credential date. Date is not the required format: yyyyMMdd, got '",
				 part[1], "'. ");
	for (int k = 2; k <= 3; k++) {
		bool ok = part[k].n > 0 && part[k].n <= POL_MAX_SCOPE_PART;
		for (size_t i = 0; ok && i < part[k].n; i++)
			ok = scope_char(part[k].p[i]);
		if (!ok)
			return fail_echo(why, cap,
					 k == 2 ? "Credential should be scoped to a valid region, not '"
						: "Credential should be scoped to a valid service, not '",
					 part[k], "'. ");
	}
	if (part[4].n != strlen(POL_TERMINATOR) || memcmp(part[4].p, POL_TERMINATOR, part[4].n) != 0)
		return fail_echo(why, cap, "Credential should be scoped with a valid terminator: 'aws4_request', not '",
				 part[4], "'. ");
	a->akid = part[0];
	a->date8 = part[1];
	a->region = part[2];
	a->service = part[3];
	a->terminator = part[4];
	a->scope = (pol_span){part[1].p, (size_t)(v + len - part[1].p)};
	return BB_OK;
}

bb_err pol_split_signed_headers(pol_auth *a, const char *v, size_t len, char *why, size_t cap)
{
	size_t start = 0, used = 0;
	bool host = false;

	a->n_signed = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && v[i] != ';')
			continue;
		pol_span name = {v + start, i - start};
		if (name.n == 0 || name.n > POL_MAX_HEADER_NAME)
			return fail_echo(why, cap, "SignedHeaders contains an empty or over-long header name: '",
					 (pol_span){v, len}, "'. ");
		if (a->n_signed == POL_MAX_SIGNED_HEADERS)
			return fail(why, cap, "SignedHeaders names too many headers.");
		char *dst = a->names + used;
		for (size_t k = 0; k < name.n; k++) {
			char c = name.p[k];
			if (!token_char(c))
				return fail_echo(why, cap, "SignedHeaders contains an invalid header name: '", name, "'. ");
			dst[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		dst[name.n] = '\0';
		pol_span lower = {dst, name.n};
		for (size_t k = 0; k < a->n_signed; k++) {
			if (a->signed_headers[k].n == lower.n && memcmp(a->signed_headers[k].p, dst, lower.n) == 0)
				return fail_echo(why, cap, "SignedHeaders names a header twice: '", name, "'. ");
		}
		if (span_eq(lower, "host"))
			host = true;
		a->signed_headers[a->n_signed++] = lower;
		used += name.n + 1;
		start = i + 1;
	}
	a->signed_headers_raw = (pol_span){v, len};
	if (!host)
		return fail(why, cap, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
	return BB_OK;
}

/* Splits the parameter part of the header into tokens: maximal runs of non-blank, non-comma bytes. */
static size_t tokenize(const char *v, size_t len, pol_span *tok, size_t max, bool *overflow)
{
	size_t n = 0;
	*overflow = false;
	for (size_t i = 0; i < len;) {
		while (i < len && (blank(v[i]) || v[i] == ','))
			i++;
		if (i == len)
			break;
		size_t j = i;
		while (j < len && !blank(v[j]) && v[j] != ',')
			j++;
		if (n == max) {
			*overflow = true;
			return n;
		}
		tok[n++] = (pol_span){v + i, j - i};
		i = j;
	}
	return n;
}

bb_err pol_authz_parse(const char *v, size_t len, bool have_date, pol_auth *a, char *why, size_t cap)
{
	pol_span tok[POL_MAX_AUTHZ_TOKENS];
	pol_span cred = {0}, sh = {0}, sig = {0};
	bool overflow, dup = false;
	size_t i = 0, n;

	memset(a, 0, offsetof(pol_auth, names));
	a->expires_s = -1;
	if (!v)
		return incomplete(NULL, have_date, "", 0, why, cap);
	if (len > POL_MAX_AUTHZ_LEN)
		return fail(why, cap, "Authorization header exceeds the maximum length of 4096 bytes.");
	while (i < len && blank(v[i]))
		i++;
	size_t alg = i;
	while (i < len && !blank(v[i]))
		i++;
	if (i - alg != strlen(POL_ALGORITHM) || memcmp(v + alg, POL_ALGORITHM, i - alg) != 0)
		return incomplete(NULL, have_date, v, len, why, cap);
	n = tokenize(v + i, len - i, tok, POL_MAX_AUTHZ_TOKENS, &overflow);
	if (overflow)
		return incomplete(NULL, have_date, v, len, why, cap);
	for (size_t t = 0; t < n; t++) {
		pol_span key, val = {0};
		const char *eq = memchr(tok[t].p, '=', tok[t].n);
		if (eq && eq != tok[t].p) { /* "k=v" or "k=" [v] */
			key = (pol_span){tok[t].p, (size_t)(eq - tok[t].p)};
			val = (pol_span){eq + 1, tok[t].n - key.n - 1};
			if (val.n == 0 && t + 1 < n && !memchr(tok[t + 1].p, '=', tok[t + 1].n))
				val = tok[++t];
		} else if (!eq && t + 1 < n && tok[t + 1].p[0] == '=') { /* "k" "=v" or "k" "=" "v" */
			key = tok[t++];
			val = (pol_span){tok[t].p + 1, tok[t].n - 1};
			if (val.n == 0 && t + 1 < n && !memchr(tok[t + 1].p, '=', tok[t + 1].n))
				val = tok[++t];
		} else {
			continue; /* a stray word: ignored */
		}
		pol_span *slot = span_eq(key, "Credential") ? &cred
				 : span_eq(key, "SignedHeaders") ? &sh
				 : span_eq(key, "Signature") ? &sig
								 : NULL;
		if (!slot)
			continue;
		if (slot->p)
			dup = true;
		*slot = val;
		if (!slot->p)
			slot->p = key.p + key.n; /* present but empty: still "present" */
	}
	if (dup)
		return fail_echo(why, cap, "Authorization header repeats a parameter. Authorization=", (pol_span){v, len},
				 "");
	a->akid.p = cred.p && cred.n ? cred.p : NULL;
	a->signature = sig.n ? sig : (pol_span){0};
	a->signed_headers_raw = sh.n ? sh : (pol_span){0};
	if (!a->akid.p || !a->signature.p || !a->signed_headers_raw.p || !have_date)
		return incomplete(a, have_date, v, len, why, cap);
	bb_err e = pol_split_credential(a, cred.p, cred.n, why, cap);
	if (e == BB_OK)
		e = pol_split_signed_headers(a, sh.p, sh.n, why, cap);
	return e;
}

/* ---- presigned query ---------------------------------------------------------------------------- */

static bb_err presign_missing(char *why, size_t cap)
{
	return fail(why, cap,
		    "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
		    "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.");
}

bb_err pol_presign_parse(const char *query, size_t len, pol_auth *a, char *why, size_t cap)
{
	static const char *const names[6] = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-SignedHeaders",
					     "X-Amz-Signature", "X-Amz-Date", "X-Amz-Expires"};
	size_t n[6];
	int found[6];

	memset(a, 0, offsetof(pol_auth, names));
	a->expires_s = -1;
	a->presigned = true;
	if (len > POL_MAX_QUERY_LEN)
		return fail(why, cap, "The query string exceeds the maximum length.");
	for (int k = 0; k < 6; k++) {
		n[k] = 0;
		found[k] = pol_query_get(query, len, names[k], a->qbuf[k], sizeof a->qbuf[k], &n[k]);
		if (found[k] < 0 || (k < 5 && (found[k] == 0 || n[k] == 0)))
			return presign_missing(why, cap);
	}
	if (n[0] != strlen(POL_ALGORITHM) || memcmp(a->qbuf[0], POL_ALGORITHM, n[0]) != 0)
		return fail(why, cap, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
	if (found[5]) {
		int64_t e = 0;
		bool ok = n[5] > 0 && n[5] <= 7;
		for (size_t i = 0; ok && i < n[5]; i++) {
			ok = a->qbuf[5][i] >= '0' && a->qbuf[5][i] <= '9';
			e = e * 10 + (a->qbuf[5][i] - '0');
		}
		if (!ok)
			return fail(why, cap, "X-Amz-Expires should be a number");
		if (e > 604800)
			return fail(why, cap, "X-Amz-Expires must be less than a week (in seconds) that is 604800");
		a->expires_s = e;
	}
	a->signature = (pol_span){a->qbuf[3], n[3]};
	a->date_raw = (pol_span){a->qbuf[4], n[4]};
	bb_err e = pol_split_credential(a, a->qbuf[1], n[1], why, cap);
	if (e == BB_OK)
		e = pol_split_signed_headers(a, a->qbuf[2], n[2], why, cap);
	return e;
}
