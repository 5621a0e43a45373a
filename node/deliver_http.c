/* node/deliver_http.c — API-destination deliveries over libcurl (multi interface, keep-alive).
 *
 * Request: the destination's HttpMethod to its InvocationEndpoint, each `*` in the URL replaced by
 * the target's HttpParameters.PathParameterValues in order, the target's QueryStringParameters and
 * HeaderParameters and the connection's (conn_auth_decorate) added, body = the payload for methods
 * that carry one, `Content-Type: application/json; charset=utf-8`, `User-Agent:
 * Amazon/EventBridge/ApiDestinations` (as AWS sends). Timeouts: --http-connect-timeout-ms and
 * --http-timeout-ms (AWS: 5 s). Redirects are not followed.
 *
 * Outcome table (AWS "API destination error codes", docs/delivery.md):
 *   2xx                                   delivered
 *   401, 407, 409, 429, 5xx               retried (401 also drops a cached OAuth token)
 *   other 1xx/3xx/4xx                     not retried: DLQ or dropped
 *   timeout, connect/DNS/TLS/send errors  retried
 * InvocationRateLimitPerSecond is a token bucket per destination, owned by the delivery thread.
 * OAuth tokens come from conn_token.c (fetched on its own thread, never this one) and are cached
 * here per connection until 5 s before expiry; while one is being fetched the target's jobs wait
 * (TOKEN_POLL_MS), spending no attempt.
 *
 * Per delivery only the body changes, so everything else — URL, headers (connection auth, target
 * HttpParameters), method — is prepared once per target and metadata index (and OAuth token) into a
 * refcounted http_prep shared by that target's jobs; a destination that cannot be used is remembered
 * the same way. Easy handles are reused from a small pool (curl_easy_reset); connections live in the
 * multi handle's cache either way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver_int.h"

typedef struct ratelim {
	struct ratelim *next;
	char *arn;
	double tokens;
	int64_t last_ms;
} ratelim;

typedef struct oauth_tok {
	struct oauth_tok *next;
	char *conn_arn;
	char *token;
	int64_t expires_ms;
	uint64_t gen;      /* changes whenever token changes (prepared requests embed it) */
	uint64_t bgen;     /* conn_token.c's generation of this token (for conn_tokens_drop) */
} oauth_tok;


#define EASY_POOL_MAX 256
#define TOKEN_POLL_MS 20 /* how often a target whose OAuth token is being fetched looks again */

void dest_cache_free(deliver *d);

void http_state_free(deliver *d)
{
	for (ratelim *r = d->limits, *n; r; r = n) {
		n = r->next;
		free(r->arn);
		free(r);
	}
	for (oauth_tok *t = d->tokens, *n; t; t = n) {
		n = t->next;
		free(t->conn_arn);
		free(t->token);
		free(t);
	}
	d->limits = NULL;
	d->tokens = NULL;
	dest_cache_free(d);
	for (size_t i = 0; i < d->n_easy; i++)
		curl_easy_cleanup(d->easy_pool[i]);
	free(d->easy_pool);
	d->easy_pool = NULL;
	d->n_easy = 0;
}

void http_prep_release(http_prep *p)
{
	if (!p || --p->refs)
		return;
	free(p->dest_arn);
	free(p->conn_arn);
	free(p->url);
	free(p->hc_head);
	curl_slist_free_all(p->hdrs);
	free(p);
}

/* Takes one token; returns 0 or the ms until one is available. */
static int64_t take_token(deliver *d, const char *arn, double rate, int64_t now_ms)
{
	ratelim *r;
	for (r = d->limits; r; r = r->next)
		if (strcmp(r->arn, arn) == 0)
			break;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r || !(r->arn = strdup(arn))) {
			free(r);
			return 0;
		}
		r->tokens = rate;
		r->last_ms = now_ms;
		r->next = d->limits;
		d->limits = r;
	}
	r->tokens += (double)(now_ms - r->last_ms) * rate / 1000.0;
	if (r->tokens > rate)
		r->tokens = rate;
	r->last_ms = now_ms;
	if (r->tokens >= 1.0) {
		r->tokens -= 1.0;
		return 0;
	}
	int64_t w = (int64_t)((1.0 - r->tokens) * 1000.0 / rate) + 1;
	return w > 0 ? w : 1;
}

static oauth_tok *token_slot(deliver *d, const char *conn_arn)
{
	for (oauth_tok *t = d->tokens; t; t = t->next)
		if (strcmp(t->conn_arn, conn_arn) == 0)
			return t;
	oauth_tok *t = calloc(1, sizeof *t);
	if (!t || !(t->conn_arn = strdup(conn_arn))) {
		free(t);
		return NULL;
	}
	t->next = d->tokens;
	d->tokens = t;
	return t;
}

/* Parsed destination and connection records, cached per destination ARN for one metadata index (a
 * metadata write changes the index and so invalidates every entry): saves two JSON parses per delivery. */
#define DEST_CACHE 64
typedef struct dest_cache {
	char *arn;
	uint64_t index;
	json_t *dest, *conn;
} dest_cache;

static void dest_lookup(deliver *d, meta_snap *s, const char *arn, json_t **dest, json_t **conn)
{
	uint64_t idx = meta_snap_index(s);
	if (!d->dcache)
		d->dcache = calloc(DEST_CACHE, sizeof(dest_cache));
	dest_cache *c = d->dcache, *slot = NULL;
	for (size_t i = 0; c && i < DEST_CACHE; i++) {
		if (c[i].arn && strcmp(c[i].arn, arn) == 0) {
			slot = &c[i];
			break;
		}
	}
	if (slot && slot->index == idx) {
		*dest = json_incref(slot->dest);
		*conn = json_incref(slot->conn);
		return;
	}
	*dest = store_get_by_arn(s, arn, NULL);
	const char *conn_arn = json_string_value(json_object_get(*dest, "ConnectionArn"));
	*conn = conn_arn ? store_get_by_arn(s, conn_arn, NULL) : NULL;
	if (!c)
		return;
	if (!slot) {
		uint8_t r;
		bb_random(&bb_rng_system, &r, 1);
		slot = &c[r % DEST_CACHE]; /* random replacement */
		free(slot->arn);
		slot->arn = strdup(arn);
	}
	json_decref(slot->dest);
	json_decref(slot->conn);
	slot->index = idx;
	slot->dest = json_incref(*dest);
	slot->conn = json_incref(*conn);
}

void dest_cache_free(deliver *d)
{
	dest_cache *c = d->dcache;
	for (size_t i = 0; c && i < DEST_CACHE; i++) {
		free(c[i].arn);
		json_decref(c[i].dest);
		json_decref(c[i].conn);
	}
	free(c);
	d->dcache = NULL;
}

static int fail(job *j, job_outcome o, const char *code, const char *msg)
{
	j->outcome = o;
	snprintf(j->err_code, sizeof j->err_code, "%s", code);
	snprintf(j->err_msg, sizeof j->err_msg, "%s", msg);
	return -1;
}

/* Builds the URL: path parameters into the `*`s, then query parameters. */
static char *build_url(CURL *easy, const char *endpoint, json_t *hp, const char *conn_query)
{
	json_t *path_vals = json_object_get(hp, "PathParameterValues");
	size_t cap = strlen(endpoint) + 64, len = 0, pi = 0;
	char *u = malloc(cap);
	if (!u)
		return NULL;
	for (const char *p = endpoint; *p; p++) {
		const char *ins = NULL;
		char one[2] = {*p, 0};
		if (*p == '*' && pi < json_array_size(path_vals))
			ins = json_string_value(json_array_get(path_vals, pi++));
		const char *add = ins ? ins : one;
		size_t al = strlen(add);
		if (len + al + 1 > cap) {
			cap = (len + al + 1) * 2;
			char *nu = realloc(u, cap);
			if (!nu) {
				free(u);
				return NULL;
			}
			u = nu;
		}
		memcpy(u + len, add, al);
		len += al;
	}
	u[len] = '\0';
	json_t *qs = json_object_get(hp, "QueryStringParameters");
	const char *k;
	json_t *v;
	char sep = strchr(u, '?') ? '&' : '?';
	size_t need = len + 1 + (conn_query ? strlen(conn_query) + 2 : 0);
	char *out = malloc(need + 1);
	if (!out) {
		free(u);
		return NULL;
	}
	memcpy(out, u, len + 1);
	free(u);
	if (conn_query && *conn_query) {
		size_t ol = strlen(out);
		out[ol] = sep;
		strcpy(out + ol + 1, conn_query);
		sep = '&';
	}
	json_object_foreach(qs, k, v)
	{
		char *ek = curl_easy_escape(easy, k, 0);
		char *ev = curl_easy_escape(easy, json_is_string(v) ? json_string_value(v) : "", 0);
		size_t ol = strlen(out), add = (ek ? strlen(ek) : 0) + (ev ? strlen(ev) : 0) + 3;
		char *no = realloc(out, ol + add);
		if (no) {
			out = no;
			snprintf(out + ol, add, "%c%s=%s", sep, ek ? ek : "", ev ? ev : "");
			sep = '&';
		}
		curl_free(ek);
		curl_free(ev);
	}
	return out;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

static http_prep *prep_fail(http_prep *p, job_outcome o, const char *code, const char *msg)
{
	p->fail = o;
	snprintf(p->fail_code, sizeof p->fail_code, "%s", code);
	snprintf(p->fail_msg, sizeof p->fail_msg, "%s", msg);
	return p;
}

/* Plain http:// to a literal address: the request head for deliver_hc.c (request line, Host,
 * Accept, then the same headers libcurl sends; Content-Length and the body follow per delivery). */
static void prep_fast(http_prep *p)
{
	char host[300];
	const char *path;
	if (!hc_parse_url(p->url, &p->hc_addr, &p->hc_alen, host, sizeof host, &path))
		return;
	static const char *const body_methods[] = {"POST", "PUT", "PATCH"};
	for (size_t i = 0; i < BB_ARRAY_LEN(body_methods); i++)
		p->hc_body |= strcmp(p->method, body_methods[i]) == 0;
	size_t cap = strlen(p->method) + strlen(path) + strlen(host) + 64;
	for (struct curl_slist *l = p->hdrs; l; l = l->next)
		cap += strlen(l->data) + 2;
	char *h = malloc(cap);
	if (!h)
		return;
	size_t len = (size_t)snprintf(h, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n", p->method,
				      *path ? path : "/", host);
	for (struct curl_slist *l = p->hdrs; l; l = l->next) {
		const char *colon = strchr(l->data, ':');
		if (!colon || colon[1] == '\0')
			continue; /* "Name:" removes a header in libcurl (Expect:); nothing to send */
		len += (size_t)snprintf(h + len, cap - len, "%s\r\n", l->data);
	}
	p->hc_head = h;
	p->hc_head_len = len;
}

/* Builds target t's request from the destination and connection records of snapshot s (everything
 * but the body). Returns NULL only when out of memory; a destination that cannot be used gives a prep
 * with fail set. An OAuth connection whose token is missing or about to expire asks conn_token.c for
 * one: while it is fetched the prep says wait_token, after a failed fetch it fails the attempt (both
 * *transient: not cached, the next job asks again). */
static http_prep *prep_build(deliver *d, const route_target *t, meta_snap *s, int64_t now_ms, bool *transient)
{
	*transient = false;
	http_prep *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->refs = 1;
	p->index = meta_snap_index(s);
	json_t *dest, *conn;
	dest_lookup(d, s, t->arn, &dest, &conn);
	const char *endpoint = json_string_value(json_object_get(dest, "InvocationEndpoint"));
	const char *method = json_string_value(json_object_get(dest, "HttpMethod"));
	const char *conn_arn = json_string_value(json_object_get(dest, "ConnectionArn"));
	json_t *rate = json_object_get(dest, "InvocationRateLimitPerSecond");
	char **hdrs = NULL, *query = NULL;
	size_t n_hdrs = 0;
	if (!dest) {
		prep_fail(p, OUT_FATAL, "NO_RESOURCE", "The API destination does not exist.");
		goto out;
	}
	if (!endpoint || !method || !conn || strlen(method) >= sizeof p->method) {
		prep_fail(p, OUT_FATAL, "NO_RESOURCE", "The API destination's connection does not exist.");
		goto out;
	}
	const char *cstate = json_string_value(json_object_get(conn, "ConnectionState"));
	if (cstate && strcmp(cstate, "DEAUTHORIZED") == 0) {
		prep_fail(p, OUT_FATAL, "NO_PERMISSIONS", "The connection is deauthorized.");
		goto out;
	}
	if (json_is_integer(rate) && json_integer_value(rate) > 0)
		p->rate = (double)json_integer_value(rate);
	snprintf(p->method, sizeof p->method, "%s", method);
	p->dest_arn = strdup(t->arn);
	p->conn_arn = strdup(conn_arn);
	if (!p->dest_arn || !p->conn_arn) {
		http_prep_release(p);
		p = NULL;
		goto out;
	}
	/* OAuth: the cached token, or conn_token.c's (fetched on its own thread: PENDING waits). */
	const char *token = NULL;
	const char *atype = json_string_value(json_object_get(conn, "AuthorizationType"));
	if (atype && strcmp(atype, "OAUTH_CLIENT_CREDENTIALS") == 0) {
		oauth_tok *ot = token_slot(d, conn_arn);
		if (ot && (!ot->token || ot->expires_ms <= now_ms + 5000)) {
			char err[160] = "";
			char *tok = NULL;
			int64_t exp = 0;
			uint64_t bgen = 0;
			free(ot->token);
			ot->token = NULL;
			ot->gen++;
			conn_tok_state st =
			    conn_tokens_get(d->n->tokens, conn_arn, conn, now_ms, &tok, &exp, &bgen, err, sizeof err);
			if (st == CONN_TOK_PENDING) {
				p->wait_token = true;
				*transient = true;
				goto out;
			}
			if (st == CONN_TOK_FAILED) {
				char msg[200];
				snprintf(msg, sizeof msg, "OAuth token request failed: %s", err);
				prep_fail(p, OUT_RETRY, "SDK_CLIENT_ERROR", msg);
				*transient = true;
				goto out;
			}
			ot->token = tok;
			ot->expires_ms = exp;
			ot->bgen = bgen;
			ot->gen++;
		}
		p->tok = ot;
		p->token_gen = ot ? ot->gen : 0;
		token = ot ? ot->token : NULL;
	}
	if (conn_auth_decorate(conn, token, &hdrs, &n_hdrs, &query) != BB_OK) {
		prep_fail(p, OUT_FATAL, "NO_PERMISSIONS", "The connection's authorization could not be applied.");
		goto out;
	}
	CURL *esc = curl_easy_init(); /* build_url escapes with it */
	json_t *hp = json_object_get(t->spec, "HttpParameters");
	p->url = esc ? build_url(esc, endpoint, hp, query) : NULL;
	if (esc)
		curl_easy_cleanup(esc);
	bool ok = p->url != NULL;
	for (size_t i = 0; i < n_hdrs; i++) {
		struct curl_slist *l = ok ? curl_slist_append(p->hdrs, hdrs[i]) : NULL;
		ok = l != NULL;
		if (l)
			p->hdrs = l;
	}
	const char *hk;
	json_t *hv;
	json_object_foreach(json_object_get(hp, "HeaderParameters"), hk, hv)
	{
		char line[4096];
		snprintf(line, sizeof line, "%s: %s", hk, json_is_string(hv) ? json_string_value(hv) : "");
		struct curl_slist *l = ok ? curl_slist_append(p->hdrs, line) : NULL;
		ok = l != NULL;
		if (l)
			p->hdrs = l;
	}
	static const char *const fixed[] = {"Content-Type: application/json; charset=utf-8",
					    "User-Agent: Amazon/EventBridge/ApiDestinations", "Expect:"};
	for (size_t i = 0; ok && i < BB_ARRAY_LEN(fixed); i++) {
		struct curl_slist *l = curl_slist_append(p->hdrs, fixed[i]);
		ok = l != NULL;
		if (l)
			p->hdrs = l;
	}
	if (!ok) {
		prep_fail(p, OUT_RETRY, "INTERNAL", "Out of memory.");
		*transient = true;
	} else {
		prep_fast(p);
	}
out:
	for (size_t i = 0; i < n_hdrs; i++)
		free(hdrs[i]);
	free(hdrs);
	free(query);
	json_decref(conn);
	json_decref(dest);
	return p;
}

/* The target's prepared request for snapshot s: the cached one while the metadata index and the
 * OAuth token are unchanged (and the token is not about to expire), else a new one. */
static http_prep *prep_get(deliver *d, tstate *ts, const route_target *t, meta_snap *s, int64_t now_ms)
{
	http_prep *p = ts->prep;
	if (p && p->index == meta_snap_index(s) &&
	    (!p->tok || (p->tok->gen == p->token_gen && p->tok->token && p->tok->expires_ms > now_ms + 5000)))
		return p;
	bool transient;
	http_prep *np = prep_build(d, t, s, now_ms, &transient);
	if (!np)
		return NULL;
	if (transient)
		return np; /* used by this job only (the caller releases it) */
	http_prep_release(ts->prep);
	ts->prep = np;
	return np;
}

static CURL *easy_get(deliver *d)
{
	if (d->n_easy)
		return d->easy_pool[--d->n_easy];
	return curl_easy_init();
}

void http_easy_put(deliver *d, CURL *e)
{
	if (!e)
		return;
	if (d->n_easy < EASY_POOL_MAX) {
		if (!d->easy_pool)
			d->easy_pool = calloc(EASY_POOL_MAX, sizeof *d->easy_pool);
		if (d->easy_pool) {
			curl_easy_reset(e);
			d->easy_pool[d->n_easy++] = e;
			return;
		}
	}
	curl_easy_cleanup(e);
}

int http_start_job(deliver *d, job *j, const route_target *t, meta_snap *s, int64_t now_ms, int64_t *wait_ms)
{
	node *n = d->n;
	*wait_ms = 0;
	http_prep *p = prep_get(d, j->ts, t, s, now_ms);
	if (!p)
		return fail(j, OUT_RETRY, "INTERNAL", "Out of memory.");
	bool shared = p == j->ts->prep;
	if (p->wait_token) {
		j->waits_token = true;
		*wait_ms = TOKEN_POLL_MS;
		if (!shared)
			http_prep_release(p);
		return -1;
	}
	if (p->fail != OUT_OK) {
		fail(j, p->fail, p->fail_code, p->fail_msg);
		if (!shared)
			http_prep_release(p);
		return -1;
	}
	if (p->rate > 0) {
		int64_t w = take_token(d, p->dest_arn, p->rate, now_ms);
		if (w > 0) {
			*wait_ms = w;
			if (!shared)
				http_prep_release(p);
			return -1;
		}
	}
	if (shared)
		p->refs++;
	j->prep = p; /* the job's reference */
	snprintf(j->conn_arn, sizeof j->conn_arn, "%s", p->conn_arn);
	if (p->hc_head) {
		if (hc_start(d, j, bb_mono_ns(n->clock)) != 0)
			return fail(j, OUT_RETRY, "SDK_CLIENT_ERROR", "Unable to invoke ApiDestination endpoint: no socket.");
		return 0;
	}
	j->easy = easy_get(d);
	if (!j->easy)
		return fail(j, OUT_RETRY, "INTERNAL", "Out of memory.");
	CURL *e = j->easy;
	curl_easy_setopt(e, CURLOPT_URL, p->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)j);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->hdrs);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)n->cfg.http_connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)n->cfg.http_timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	const char *method = p->method;
	bool body = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
	if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->payload);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->payload_len);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (curl_multi_add_handle(d->multi, e) != CURLM_OK)
		return fail(j, OUT_RETRY, "INTERNAL", "Could not start the HTTP request.");
	return 0;
}

void http_finish_job(deliver *d, job *j, CURLcode rc)
{
	long status = 0;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK)
		http_outcome(d, j, 0, rc == CURLE_OPERATION_TIMEDOUT ? HC_ERR_TIMEOUT : HC_ERR_CONNECT, curl_easy_strerror(rc));
	else
		http_outcome(d, j, (int)status, 0, NULL);
}

void http_outcome(deliver *d, job *j, int status_code, int err, const char *why)
{
	long status = status_code;
	if (!err && status >= 200 && status < 300) {
		j->outcome = OUT_OK;
		j->delivered_ms = bb_wall_ms(d->n->clock);
		return;
	}
	if (err) {
		fail(j, OUT_RETRY, err == HC_ERR_TIMEOUT ? "TIMEOUT" : "SDK_CLIENT_ERROR", "");
		snprintf(j->err_msg, sizeof j->err_msg, "Unable to invoke ApiDestination endpoint: %s.", why ? why : "error");
		return;
	}
	bool retry = status == 401 || status == 407 || status == 409 || status == 429 || status >= 500;
	if (status == 401 && j->conn_arn[0]) {
		oauth_tok *ot = token_slot(d, j->conn_arn);
		if (ot) {
			if (ot->token)
				conn_tokens_drop(d->n->tokens, j->conn_arn, ot->bgen);
			free(ot->token);
			ot->token = NULL;
			ot->gen++;
		}
	}
	fail(j, retry ? OUT_RETRY : OUT_FATAL, status == 429 ? "THROTTLING" : "SDK_CLIENT_ERROR", "");
	snprintf(j->err_msg, sizeof j->err_msg, "Unable to invoke ApiDestination endpoint: the endpoint answered HTTP %ld.",
		 status);
}

void http_cleanup_job(job *j)
{
	if (j->hc)
		hc_abandon(j->d, j);
	if (j->easy)
		http_easy_put(j->d, j->easy);
	j->easy = NULL;
	http_prep_release(j->prep);
	j->prep = NULL;
}
