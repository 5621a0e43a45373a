/* policy/pol_canon.c — the SigV4 canonical request (AWS step 2) and string to sign (step 3).
 *
 * Output goes to a pol_sink: verification streams the canonical request straight into SHA-256 (no
 * buffer, no allocation); tests also capture the text to compare with AWS's published .creq files.
 *
 * Canonical headers: only the signed ones, in the order SignedHeaders lists them (clients sort them;
 * keeping the sender's order means a consistent signer always verifies), names lowercase, each value
 * trimmed with inner blank runs collapsed to one space, a line fold (CR/LF and the blanks after it)
 * treated as a separator ',' as AWS's get-header-value-multiline vector expects, and repeated headers
 * joined with ',' in arrival order (get-header-value-order). A signed header absent from the request is
 * an error (BB_EAUTHINCOMPLETE), not an empty line.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "pol_int.h"

void pol_sink_put(pol_sink *s, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (s->hash)
		crypto_hash_sha256_update(s->hash, p, n);
	if (!s->buf || s->overflow)
		return;
	if (s->len + n >= s->cap) {
		s->overflow = true;
		return;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

void pol_sink_putc(pol_sink *s, char c)
{
	pol_sink_put(s, &c, 1);
}

size_t pol_header_find(const pol_request *req, const char *name, size_t name_len, const pol_header **first)
{
	size_t count = 0;
	*first = NULL;
	for (size_t i = 0; i < req->n_headers; i++) {
		const pol_header *h = &req->headers[i];
		if (h->name && h->name_len == name_len && strncasecmp(h->name, name, name_len) == 0) {
			if (!count)
				*first = h;
			count++;
		}
	}
	return count;
}

/* Writes one occurrence's canonical value. */
static void put_trimmed(pol_sink *s, const char *v, size_t n)
{
	bool any = false, blank = false, fold = false;
	char buf[128];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == ' ' || c == '\t') {
			blank = true;
			continue;
		}
		if (c == '\r' || c == '\n') {
			fold = true;
			continue;
		}
		if (k + 2 > sizeof buf) {
			pol_sink_put(s, buf, k);
			k = 0;
		}
		if (any && (fold || blank))
			buf[k++] = fold ? ',' : ' ';
		buf[k++] = c;
		any = true;
		blank = fold = false;
	}
	pol_sink_put(s, buf, k);
}

size_t pol_canonical_header_value(pol_sink *s, const pol_request *req, const char *name, size_t name_len)
{
	size_t count = 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		const pol_header *h = &req->headers[i];
		if (!h->name || h->name_len != name_len || strncasecmp(h->name, name, name_len) != 0)
			continue;
		if (count)
			pol_sink_putc(s, ',');
		if (h->value)
			put_trimmed(s, h->value, h->value_len);
		count++;
	}
	return count;
}

/* Checks every header the canonical text will include against the limits. */
static bool headers_within_limits(const pol_request *req, const pol_canon_in *in)
{
	if (req->n_headers > POL_MAX_REQ_HEADERS || in->n_signed > POL_MAX_SIGNED_HEADERS)
		return false;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (req->headers[i].name_len > POL_MAX_HEADER_VALUE || req->headers[i].value_len > POL_MAX_HEADER_VALUE)
			return false;
	}
	return true;
}

bb_err pol_canonical_request(pol_sink *s, const pol_request *req, const pol_canon_in *in, size_t *missing)
{
	const pol_header *first;
	const char *method = req->method ? req->method : "";
	size_t path_len = req->path ? strnlen(req->path, POL_MAX_PATH_LEN + 1) : 0;
	size_t query_len = req->query ? strnlen(req->query, POL_MAX_QUERY_LEN + 1) : 0;

	*missing = SIZE_MAX;
	if (!headers_within_limits(req, in))
		return BB_EAUTHINCOMPLETE;
	for (size_t i = 0; i < in->n_signed; i++) {
		if (pol_header_find(req, in->signed_headers[i].p, in->signed_headers[i].n, &first) == 0) {
			*missing = i;
			return BB_EAUTHINCOMPLETE;
		}
	}
	pol_sink_put(s, method, strnlen(method, 32));
	pol_sink_putc(s, '\n');
	if (!pol_canonical_uri(s, req->path, path_len))
		return BB_EAUTHINCOMPLETE;
	pol_sink_putc(s, '\n');
	if (!pol_canonical_query(s, req->query, query_len, in->presigned))
		return BB_EAUTHINCOMPLETE;
	pol_sink_putc(s, '\n');
	for (size_t i = 0; i < in->n_signed; i++) {
		pol_sink_put(s, in->signed_headers[i].p, in->signed_headers[i].n);
		pol_sink_putc(s, ':');
		pol_canonical_header_value(s, req, in->signed_headers[i].p, in->signed_headers[i].n);
		pol_sink_putc(s, '\n');
	}
	pol_sink_putc(s, '\n');
	for (size_t i = 0; i < in->n_signed; i++) {
		if (i)
			pol_sink_putc(s, ';');
		pol_sink_put(s, in->signed_headers[i].p, in->signed_headers[i].n);
	}
	pol_sink_putc(s, '\n');
	pol_sink_put(s, in->payload_hash, in->payload_hash_len);
	return BB_OK;
}

bool pol_payload_declared(const pol_request *req)
{
	const pol_header *h;
	return pol_header_find(req, "x-amz-content-sha256", 20, &h) && h->value;
}

size_t pol_payload_hash(const pol_request *req, char out[65])
{
	const pol_header *h;
	if (pol_header_find(req, "x-amz-content-sha256", 20, &h) && h->value) {
		const char *v = h->value;
		size_t n = h->value_len;
		while (n && (*v == ' ' || *v == '\t')) {
			v++;
			n--;
		}
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n > 64)
			n = 64; /* longer than any hash: cannot match the signer's text; it fails as a mismatch */
		memcpy(out, v, n);
		out[n] = '\0';
		return n;
	}
	pol_sha256_hex(req->body, req->body ? req->body_len : 0, out);
	return 64;
}

void pol_string_to_sign(pol_sink *s, const char *amz_date, const char *scope, size_t scope_len,
			const char creq_hex[65])
{
	pol_sink_put(s, POL_ALGORITHM "\n", sizeof(POL_ALGORITHM "\n") - 1);
	pol_sink_put(s, amz_date, 16);
	pol_sink_putc(s, '\n');
	pol_sink_put(s, scope, scope_len);
	pol_sink_putc(s, '\n');
	pol_sink_put(s, creq_hex, 64);
}
