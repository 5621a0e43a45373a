/* policy/pol.h — who is asking, and may they? The one public header of policy/.
 *
 * This issue: AWS Signature Version 4 verification of API requests (and signing, for our own
 * clients: the benchmark and, later, forward/). Later issues add account/org registries and
 * resource-policy evaluation here. policy/ depends on nothing of ours except common/ (bb.h).
 *
 * Thread-safety: every function here is pure or reentrant; call from any thread.
 */
#ifndef POL_H
#define POL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bb.h"

/* One request header as received (name in any case; value untrimmed). Borrowed. */
typedef struct pol_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
} pol_header;

/* The parts of an HTTP request SigV4 covers. All pointers are borrowed for the call. */
typedef struct pol_request {
	const char *method;     /* "POST" */
	const char *path;       /* raw request path, e.g. "/" (no query) */
	const char *query;      /* raw query string without '?', or NULL/"" */
	const pol_header *headers;
	size_t n_headers;
	const uint8_t *body;
	size_t body_len;
} pol_request;

/* Who signed a verified request. */
typedef struct pol_identity {
	char access_key[129];
	char account[13];   /* 12-digit account id */
	char region[64];    /* from the credential scope */
	char service[64];   /* from the credential scope: "events", "sqs", ... */
} pol_identity;

/* Looks up the secret for an access key id. Must copy the secret (NUL-terminated) into secret[cap]
 * and the 12-digit account into account[13]. Returns BB_OK, BB_ENOTFOUND for an unknown key, or
 * another error. Called on the verifying thread. */
typedef bb_err (*pol_key_lookup_fn)(void *ctx, const char *access_key, char *secret, size_t cap,
				    char account[13]);

typedef struct pol_verify_opts {
	int64_t now_ms;            /* current wall time (from the injected clock) */
	int max_skew_s;            /* allowed |request time - now|; AWS uses 900 (15 min) */
	pol_key_lookup_fn lookup;
	void *lookup_ctx;
} pol_verify_opts;

/* Verifies the SigV4 `Authorization` header of req (header auth; presigned query auth is also
 * accepted when no Authorization header is present).
 * On success fills *who and returns BB_OK. Errors (each with an AWS-style reason in why[why_cap]):
 *   BB_EAUTHMISSING    no Authorization header and no X-Amz-Signature query parameter
 *   BB_EAUTHINCOMPLETE malformed Authorization / missing Credential, SignedHeaders, Signature, date,
 *                      or a header named in SignedHeaders is absent, or `host` is not signed
 *   BB_EAUTHUNKNOWN    the access key id is not known (lookup returned BB_ENOTFOUND)
 *   BB_EAUTHEXPIRED    request date outside max_skew_s of now, or scope date != request date
 *   BB_EAUTHSIG        the signature does not match (constant-time compare)
 * why may be NULL. */
bb_err pol_sigv4_verify(const pol_request *req, const pol_verify_opts *opts, pol_identity *who, char *why,
			size_t why_cap);

/* Signs req for (access_key, secret, region, service) at amz_date ("YYYYMMDDTHHMMSSZ"); writes the
 * full Authorization header value into out[cap]. req->headers must already contain every header to
 * be signed (at least host and x-amz-date); all of them are signed. Returns BB_ETOOBIG if out is
 * too small. */
bb_err pol_sigv4_sign(const pol_request *req, const char *access_key, const char *secret, const char *region,
		      const char *service, const char *amz_date, char *out, size_t cap);

/* Lowercase hex SHA-256 of data into out[65]. */
void pol_sha256_hex(const void *data, size_t len, char out[65]);

#endif /* POL_H */
