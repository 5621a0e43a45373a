/* policy/pol_int.h — private to policy/ (and its unit tests, fuzz targets): the pieces SigV4 is built
 * from, so each can be tested against AWS's published intermediate texts (canonical request, string
 * to sign, signing key).
 *
 * Bounds (DESIGN.md §5.5): verification never allocates. Everything is parsed into fixed arrays on
 * the caller's stack, and input beyond the limits below is rejected (BB_EAUTHINCOMPLETE when
 * verifying, BB_EINVAL/BB_ETOOBIG when signing) instead of being processed without bound.
 */
#ifndef POL_INT_H
#define POL_INT_H

#include <sodium.h>

#include "pol.h"

/* ---- limits ------------------------------------------------------------------------------------ */
#define POL_MAX_AUTHZ_LEN 4096       /* bytes of the Authorization header value */
#define POL_MAX_SIGNED_HEADERS 64    /* names in SignedHeaders */
#define POL_MAX_HEADER_NAME 128      /* bytes of one signed header name */
#define POL_MAX_REQ_HEADERS 256      /* headers on the request */
#define POL_MAX_HEADER_VALUE 16384   /* bytes of one header value */
#define POL_MAX_PATH_LEN 8192        /* bytes of the raw path */
#define POL_MAX_PATH_SEGMENTS 256    /* '/'-separated segments of the path */
#define POL_MAX_QUERY_LEN 16384      /* bytes of the raw query string */
#define POL_MAX_QUERY_PARAMS 256     /* '&'-separated parameters of the query */
#define POL_MAX_AKID 128             /* bytes of an access key id */
#define POL_MAX_SCOPE_PART 63        /* bytes of the region or the service in a credential scope */
#define POL_MAX_SECRET 256           /* bytes (with NUL) of a secret access key from the lookup */

#define POL_ALGORITHM "AWS4-HMAC-SHA256"
#define POL_TERMINATOR "aws4_request"

/* ---- hashing (pol_hash.c) ---------------------------------------------------------------------- */
/* Runs sodium_init() exactly once per process (pthread_once). Every entry point calls it first. */
void pol_crypto_init(void);
/* Lowercase hex of n bytes into out[2n+1]. */
void pol_hex(const uint8_t *in, size_t n, char *out);
/* HMAC-SHA256 with a key of any length. */
void pol_hmac(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32]);
/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
 * Strings are borrowed, lengths explicit. The caller should sodium_memzero() the key after use. */
void pol_signing_key(const char *secret, const char *date8, const char *region, size_t region_len,
		     const char *service, size_t service_len, uint8_t out[32]);

/* ---- time (pol_time.c) ------------------------------------------------------------------------- */
/* Parses "YYYYMMDDTHHMMSSZ" (ISO 8601 basic, exactly 16 bytes) into seconds since the epoch. */
bool pol_parse_amz_date(const char *s, size_t len, int64_t *out);
/* Parses an HTTP Date header: ISO 8601 basic as above, or IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT". */
bool pol_parse_http_date(const char *s, size_t len, int64_t *out);
/* Formats epoch seconds as "YYYYMMDDTHHMMSSZ" into out[17]. */
void pol_format_amz_date(int64_t t, char out[17]);

/* ---- output sink (pol_canon.c) ----------------------------------------------------------------- */
/* Where canonical text goes: into a running SHA-256 (verification, no copy), into a caller buffer
 * (tests, debugging), or both. A full buffer sets overflow and keeps hashing. */
typedef struct pol_sink {
	crypto_hash_sha256_state *hash; /* may be NULL */
	char *buf;                      /* may be NULL; NUL-terminated while not overflowed */
	size_t cap;
	size_t len;
	bool overflow;
} pol_sink;

void pol_sink_put(pol_sink *s, const void *p, size_t n);
void pol_sink_putc(pol_sink *s, char c);

/* ---- canonical pieces (pol_uri.c, pol_canon.c) ------------------------------------------------- */
/* A borrowed byte span. */
typedef struct pol_span {
	const char *p;
	size_t n;
} pol_span;

/* Writes the canonical URI of a raw request path (non-S3 rules: remove "." and ".." segments and
 * empty segments, then URI-encode every byte outside A-Za-z0-9-_.~ of each segment, '%' included —
 * i.e. the path as received is encoded once more). Returns false if the path exceeds the limits. */
bool pol_canonical_uri(pol_sink *s, const char *path, size_t len);

/* Writes the canonical query string of a raw query (no '?'): each parameter percent-decoded, then
 * RFC 3986-encoded, sorted by encoded name then encoded value, "k=v" joined by '&'. '+' is a literal
 * plus (encoded %2B), not a space. If skip_signature, the X-Amz-Signature parameter is left out
 * (presigned requests). Returns false if the query exceeds the limits. */
bool pol_canonical_query(pol_sink *s, const char *query, size_t len, bool skip_signature);

/* Finds a query parameter by exact (raw) name and percent-decodes its value into out[cap] (NUL-
 * terminated). Returns 1 if found, 0 if absent, -1 if the decoded value does not fit or the
 * parameter occurs twice. */
int pol_query_get(const char *query, size_t len, const char *name, char *out, size_t cap, size_t *out_len);

/* Finds the request header named name (case-insensitive). Returns the number of occurrences (0 if
 * absent) and the first one in *first. */
size_t pol_header_find(const pol_request *req, const char *name, size_t name_len, const pol_header **first);

/* The canonical header value of all occurrences of one header: each value trimmed, inner runs of
 * spaces/tabs collapsed to one space, line folds (CR/LF plus following blanks, as in AWS's
 * get-header-value-multiline vector) treated as value separators, occurrences joined with ','.
 * Returns the number of occurrences written (0: header absent, nothing written). */
size_t pol_canonical_header_value(pol_sink *s, const pol_request *req, const char *name, size_t name_len);

/* Everything the canonical request needs besides the request itself. */
typedef struct pol_canon_in {
	const pol_span *signed_headers; /* lowercase names in the order to emit */
	size_t n_signed;
	const char *payload_hash;       /* hex SHA-256 or e.g. "UNSIGNED-PAYLOAD" */
	size_t payload_hash_len;
	bool presigned;                 /* leave X-Amz-Signature out of the query */
} pol_canon_in;

/* Writes the whole canonical request (AWS step 2). Returns BB_OK, or BB_EAUTHINCOMPLETE with *missing
 * set to the index of a signed header absent from req (or SIZE_MAX if the path/query exceeds the
 * limits). */
bb_err pol_canonical_request(pol_sink *s, const pol_request *req, const pol_canon_in *in, size_t *missing);

/* Payload hash: the trimmed x-amz-content-sha256 header value if present (≤ 64 bytes + NUL), else hex
 * SHA-256 of the body. Writes into out[65]; returns its length. */
size_t pol_payload_hash(const pol_request *req, char out[65]);
/* Whether req carries an x-amz-content-sha256 header (then the body must be hashed to check it). */
bool pol_payload_declared(const pol_request *req);

/* Computes the hex signature of req (steps 2-5): canonical request per in, string to sign for
 * amz_date ("YYYYMMDDTHHMMSSZ") and scope ("date8/region/service/aws4_request"), key from secret.
 * Errors as pol_canonical_request. Wipes the derived key. (pol_signature.c) */
bb_err pol_compute_signature(const pol_request *req, const pol_canon_in *in, const char *amz_date, pol_span scope,
			     pol_span region, pol_span service, const char *secret, char out[65], size_t *missing);

/* Writes the string to sign (AWS step 3) for a canonical request hash. */
void pol_string_to_sign(pol_sink *s, const char *amz_date, const char *scope, size_t scope_len,
			const char creq_hex[65]);

/* ---- Authorization header / presigned query (pol_authz.c) -------------------------------------- */
/* A parsed SigV4 credential set. Spans point into the header value or into this struct's storage. */
typedef struct pol_auth {
	bool presigned;
	pol_span akid, date8, region, service, terminator; /* parts of Credential */
	pol_span scope;                                     /* date8/region/service/terminator */
	pol_span signature;
	pol_span signed_headers_raw;                        /* "a;b;c" as sent */
	pol_span signed_headers[POL_MAX_SIGNED_HEADERS];
	size_t n_signed;
	char names[POL_MAX_SIGNED_HEADERS * (POL_MAX_HEADER_NAME + 1)]; /* lowercased names */
	int64_t expires_s;                                  /* X-Amz-Expires, or -1 */
	char qbuf[6][512];                                  /* decoded presigned params */
	pol_span date_raw;                                  /* presigned: X-Amz-Date as sent (decoded) */
} pol_auth;

/* Parses an Authorization header value into a. have_date says whether the request carries X-Amz-Date
 * or Date (AWS reports that in the same message as missing parameters). On failure returns
 * BB_EAUTHINCOMPLETE with the AWS-style reason in why[cap] (why may be NULL). Never reads beyond len. */
bb_err pol_authz_parse(const char *v, size_t len, bool have_date, pol_auth *a, char *why, size_t cap);

/* Parses the presigned-query parameters (X-Amz-Algorithm, -Credential, -SignedHeaders, -Signature,
 * -Date into a->date_raw, optional -Expires). Same errors as pol_authz_parse. */
bb_err pol_presign_parse(const char *query, size_t len, pol_auth *a, char *why, size_t cap);

/* Splits "a;b;c" into a->signed_headers (lowercased copies in a->names). */
bb_err pol_split_signed_headers(pol_auth *a, const char *v, size_t len, char *why, size_t cap);

/* Splits "AKID/date/region/service/aws4_request" into a's credential spans. */
bb_err pol_split_credential(pol_auth *a, const char *v, size_t len, char *why, size_t cap);

/* ---- reasons (pol_why.c) ----------------------------------------------------------------------- */
/* Appends literal text to why[cap] (NUL-terminated, truncated to fit; why may be NULL). */
void pol_why_add(char *why, size_t cap, const char *text);
/* Appends request-supplied bytes, with anything outside printable ASCII replaced by '?' (the reason
 * ends up in a JSON error message, which must be valid UTF-8) and at most 256 bytes shown. */
void pol_why_echo(char *why, size_t cap, const char *p, size_t n);
/* Clears why[cap]. */
void pol_why_clear(char *why, size_t cap);

#endif /* POL_INT_H */
