/* tests/fuzz/fuzz_pol_sigv4.c — libFuzzer target for SigV4 parsing and verification (policy/).
 *
 * The input is split on '\n' into: Authorization value, path, query, X-Amz-Date value, one extra
 * header "name:value", and the body (the rest). It drives the Authorization parser directly, then a
 * full pol_sigv4_verify (with and without the Authorization header, so the presigned-query path runs
 * too), then pol_sigv4_sign over the same request and pol_sigv4_verify of what it signed. Any crash,
 * sanitizer report or leak is a bug, and so is a request we sign but then refuse to verify.
 *
 * Build by hand: clang -g -O1 -fsanitize=fuzzer,address,undefined -I/work/main -I/work/main/common \
 *   -I/work/main/policy tests/fuzz/fuzz_pol_sigv4.c policy/pol_X.c (every one) common/bb_err.c -lsodium
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/pol_int.h"

static bb_err fuzz_lookup(void *ctx, const char *akid, char *secret, size_t cap, char account[13])
{
	(void)ctx;
	if (strcmp(akid, "AKIDEXAMPLE") != 0)
		return BB_ENOTFOUND;
	if (cap < 41)
		return BB_ETOOBIG;
	strcpy(secret, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	memcpy(account, "123456789012", 13);
	return BB_OK;
}

/* Copies the next '\n'-terminated field of data into a fresh NUL-terminated string. */
static char *next_field(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*len = n;
	*p += nl ? n + 1 : n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	size_t authz_len, path_len, query_len, date_len, extra_len;
	char *authz = next_field(&p, end, &authz_len);
	char *path = next_field(&p, end, &path_len);
	char *query = next_field(&p, end, &query_len);
	char *date = next_field(&p, end, &date_len);
	char *extra = next_field(&p, end, &extra_len);
	char why[512], out[1024];
	pol_auth a;
	pol_identity who;

	/* the parser alone, on the raw bytes (embedded NULs included) */
	(void)pol_authz_parse(authz, authz_len, true, &a, why, sizeof why);
	(void)pol_authz_parse((const char *)data, size, false, &a, why, sizeof why);

	char *colon = memchr(extra, ':', extra_len);
	size_t extra_name_len = colon ? (size_t)(colon - extra) : extra_len;
	pol_header h[5] = {
		{"Host", 4, "example.amazonaws.com", 21},
		{"X-Amz-Date", 10, date, date_len},
		{extra, extra_name_len, colon ? colon + 1 : "", colon ? extra_len - extra_name_len - 1 : 0},
		{"Authorization", 13, authz, authz_len},
	};
	pol_request req = {"POST", path, query, h, 4, p, (size_t)(end - p)};
	pol_verify_opts o = {1440938160000LL, 900, fuzz_lookup, NULL};

	if (pol_sigv4_verify(&req, &o, &who, why, sizeof why) == BB_OK && strcmp(who.access_key, "AKIDEXAMPLE") != 0)
		abort();
	req.n_headers = 3; /* no Authorization: presigned query or missing */
	if (pol_sigv4_verify(&req, &o, &who, why, sizeof why) == BB_OK && strcmp(who.access_key, "AKIDEXAMPLE") != 0)
		abort();
	if (pol_sigv4_sign(&req, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "events", date,
			   out, sizeof out) == BB_OK) {
		/* whatever we sign, we verify — unless the extra header is one verification treats specially
		 * (a second Authorization, or a content hash the body does not have) */
		h[3] = (pol_header){"Authorization", 13, out, strlen(out)};
		req.n_headers = 4;
		int64_t t;
		bool special = (extra_name_len == 13 && strncasecmp(extra, "authorization", 13) == 0) ||
			       (extra_name_len == 20 && strncasecmp(extra, "x-amz-content-sha256", 20) == 0);
		if (!pol_parse_amz_date(date, strlen(date), &t))
			abort(); /* sign accepted a date verify cannot read */
		pol_verify_opts o2 = {t * 1000, 900, fuzz_lookup, NULL};
		bb_err e = pol_sigv4_verify(&req, &o2, &who, why, sizeof why);
		if (!special && e != BB_OK)
			abort();
	}

	free(authz);
	free(path);
	free(query);
	free(date);
	free(extra);
	return 0;
}
