/* node/conn_auth.c — what a connection adds to an outbound API-destination request, and the OAuth
 * client-credentials token request.
 *
 * API_KEY adds the header `<ApiKeyName>: <ApiKeyValue>`; BASIC adds `Authorization: Basic
 * base64(user:password)`; OAUTH_CLIENT_CREDENTIALS adds `Authorization: Bearer <token>`. The
 * connection's InvocationHttpParameters add their HeaderParameters and QueryStringParameters (URL-
 * encoded); BodyParameters are not merged (the body is the event or the target's transformed input;
 * documented in docs/delivery.md). The token request goes to AuthorizationEndpoint with HttpMethod,
 * client id/secret as HTTP Basic auth and `grant_type=client_credentials` plus OAuthHttpParameters'
 * query strings and headers; the answer's access_token and expires_in (default 3600 s) are returned.
 * Nothing here logs a secret.
 */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

static bool add_header(char ***h, size_t *n, const char *name, const char *value)
{
	char **nh = realloc(*h, (*n + 1) * sizeof *nh);
	if (!nh)
		return false;
	*h = nh;
	size_t len = strlen(name) + strlen(value) + 3;
	char *line = malloc(len);
	if (!line)
		return false;
	snprintf(line, len, "%s: %s", name, value);
	nh[(*n)++] = line;
	return true;
}

/* Appends k=v (URL-encoded) to *q. */
static bool add_query(char **q, const char *k, const char *v)
{
	char *ek = curl_easy_escape(NULL, k, 0), *ev = curl_easy_escape(NULL, v, 0);
	size_t old = *q ? strlen(*q) : 0;
	size_t add = (ek ? strlen(ek) : 0) + (ev ? strlen(ev) : 0) + 3;
	char *nq = realloc(*q, old + add);
	bool ok = nq && ek && ev;
	if (nq) {
		snprintf(nq + old, add, "%s%s=%s", old ? "&" : "", ek ? ek : "", ev ? ev : "");
		*q = nq;
	}
	curl_free(ek);
	curl_free(ev);
	return ok;
}

static bool add_http_params(json_t *hp, char ***h, size_t *n, char **q)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(hp, "HeaderParameters"), i, p)
	{
		const char *k = json_string_value(json_object_get(p, "Key")), *v = json_string_value(json_object_get(p, "Value"));
		if (k && v && !add_header(h, n, k, v))
			return false;
	}
	json_array_foreach(json_object_get(hp, "QueryStringParameters"), i, p)
	{
		const char *k = json_string_value(json_object_get(p, "Key")), *v = json_string_value(json_object_get(p, "Value"));
		if (k && v && !add_query(q, k, v))
			return false;
	}
	return true;
}

static char *basic_value(const char *user, const char *pass)
{
	size_t raw_len = strlen(user) + strlen(pass) + 1;
	char *raw = malloc(raw_len + 1);
	size_t b64_len = sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(b64_len + 6);
	if (!raw || !out) {
		free(raw);
		free(out);
		return NULL;
	}
	snprintf(raw, raw_len + 1, "%s:%s", user, pass);
	memcpy(out, "Basic ", 6);
	sodium_bin2base64(out + 6, b64_len, (const unsigned char *)raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(raw, raw_len);
	free(raw);
	return out;
}

bb_err conn_auth_decorate(const json_t *conn, const char *oauth_token, char ***headers, size_t *n_headers, char **query)
{
	*headers = NULL;
	*n_headers = 0;
	*query = NULL;
	const char *type = json_string_value(json_object_get(conn, "AuthorizationType"));
	json_t *ap = json_object_get(conn, "AuthParameters");
	bool ok = true;
	if (type && strcmp(type, "API_KEY") == 0) {
		json_t *k = json_object_get(ap, "ApiKeyAuthParameters");
		const char *name = json_string_value(json_object_get(k, "ApiKeyName"));
		const char *val = json_string_value(json_object_get(k, "ApiKeyValue"));
		ok = name && val && add_header(headers, n_headers, name, val);
	} else if (type && strcmp(type, "BASIC") == 0) {
		json_t *b = json_object_get(ap, "BasicAuthParameters");
		const char *u = json_string_value(json_object_get(b, "Username"));
		const char *p = json_string_value(json_object_get(b, "Password"));
		char *v = u && p ? basic_value(u, p) : NULL;
		ok = v && add_header(headers, n_headers, "Authorization", v);
		free(v);
	} else if (type && strcmp(type, "OAUTH_CLIENT_CREDENTIALS") == 0) {
		char v[4200];
		ok = oauth_token && strlen(oauth_token) < 4000;
		if (ok) {
			snprintf(v, sizeof v, "Bearer %s", oauth_token);
			ok = add_header(headers, n_headers, "Authorization", v);
		}
	}
	if (ok)
		ok = add_http_params(json_object_get(ap, "InvocationHttpParameters"), headers, n_headers, query);
	if (ok)
		return BB_OK;
	for (size_t i = 0; i < *n_headers; i++)
		free((*headers)[i]);
	free(*headers);
	free(*query);
	*headers = NULL;
	*query = NULL;
	*n_headers = 0;
	return BB_EINVAL;
}

/* ---- OAuth ------------------------------------------------------------------------------------- */

typedef struct rbuf {
	char *p;
	size_t len;
} rbuf;

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	rbuf *b = ud;
	size_t n = size * nmemb;
	if (b->len + n > 65536)
		return 0; /* token answers are small: refuse anything large */
	char *np = realloc(b->p, b->len + n + 1);
	if (!np)
		return 0;
	memcpy(np + b->len, ptr, n);
	b->p = np;
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* libcurl's progress callback: a non-zero answer aborts the transfer. */
static int cancelled(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
	(void)dlt, (void)dln, (void)ult, (void)uln;
	return atomic_load((const _Atomic bool *)ud) ? 1 : 0;
}

bb_err conn_oauth_fetch(const json_t *conn, int64_t now_ms, const _Atomic bool *cancel, char **token,
			int64_t *expires_ms, char *err, size_t cap)
{
	json_t *o = json_object_get(json_object_get(conn, "AuthParameters"), "OAuthParameters");
	const char *ep = json_string_value(json_object_get(o, "AuthorizationEndpoint"));
	const char *method = json_string_value(json_object_get(o, "HttpMethod"));
	json_t *cp = json_object_get(o, "ClientParameters");
	const char *id = json_string_value(json_object_get(cp, "ClientID"));
	const char *secret = json_string_value(json_object_get(cp, "ClientSecret"));
	if (!ep || !id || !secret) {
		snprintf(err, cap, "the connection has no complete OAuth parameters");
		return BB_EINVAL;
	}
	char **hdrs = NULL, *query = NULL;
	size_t n_hdrs = 0;
	bb_err e = BB_ENOMEM;
	CURL *c = curl_easy_init();
	char *basic = basic_value(id, secret);
	struct curl_slist *sl = NULL;
	rbuf body = {0};
	char *url = NULL;
	if (!c || !basic || !add_query(&query, "grant_type", "client_credentials") ||
	    !add_http_params(json_object_get(o, "OAuthHttpParameters"), &hdrs, &n_hdrs, &query)) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_hdrs; i++)
		sl = curl_slist_append(sl, hdrs[i]);
	char auth[4200];
	snprintf(auth, sizeof auth, "Authorization: %s", basic);
	sl = curl_slist_append(sl, auth);
	sl = curl_slist_append(sl, "Accept: application/json");
	bool post = !method || strcmp(method, "GET") != 0;
	if (post) {
		sl = curl_slist_append(sl, "Content-Type: application/x-www-form-urlencoded");
		curl_easy_setopt(c, CURLOPT_URL, ep);
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, query);
		if (method && strcmp(method, "PUT") == 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
	} else {
		size_t ul = strlen(ep) + strlen(query) + 2;
		url = malloc(ul);
		if (!url)
			goto out;
		snprintf(url, ul, "%s%c%s", ep, strchr(ep, '?') ? '&' : '?', query);
		curl_easy_setopt(c, CURLOPT_URL, url);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (cancel) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, cancelled);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cancel);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		snprintf(err, cap, "token request failed: %s", curl_easy_strerror(rc));
		e = BB_EIO;
		goto out;
	}
	if (status < 200 || status >= 300) {
		snprintf(err, cap, "token endpoint answered HTTP %ld", status);
		e = BB_EIO;
		goto out;
	}
	json_t *j = body.p ? json_loads(body.p, 0, NULL) : NULL;
	const char *tok = json_string_value(json_object_get(j, "access_token"));
	json_t *exp = json_object_get(j, "expires_in");
	if (!tok || !*tok) {
		snprintf(err, cap, "token endpoint answer has no access_token");
		json_decref(j);
		e = BB_EIO;
		goto out;
	}
	*token = strdup(tok);
	long long secs = json_is_integer(exp) ? (long long)json_integer_value(exp) : json_is_real(exp) ? (long long)json_real_value(exp) : 3600;
	*expires_ms = now_ms + (secs > 0 ? secs : 3600) * 1000;
	json_decref(j);
	e = *token ? BB_OK : BB_ENOMEM;
out:
	for (size_t i = 0; i < n_hdrs; i++)
		free(hdrs[i]);
	free(hdrs);
	free(query);
	free(url);
	free(body.p);
	if (basic) {
		sodium_memzero(basic, strlen(basic));
		free(basic);
	}
	curl_slist_free_all(sl);
	if (c)
		curl_easy_cleanup(c);
	return e;
}
