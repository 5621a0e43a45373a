/* node/http.c — the public HTTP server (libmicrohttpd): bounded connections, bodies and time, and the
 * health endpoints. Everything AWS-shaped happens in api.c.
 *
 * Threading: MHD runs one thread per connection (bounded by max_connections), so a control-plane
 * write may block its thread while raft commits. Overload — more than max_inflight requests being
 * in progress at once (counted from their headers, so slow uploads count) — is answered with ThrottlingException instead of queueing without bound.
 * Bodies larger than max_body_bytes get 413 and the connection is closed.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

#define HTTP_MAX_HEADERS 64

/* Per-request state (MHD's con_cls). */
typedef struct http_req {
	char *body;
	size_t len, cap;
	bool too_big;
	bool counted;   /* holds one of the node's max_inflight slots until completion */
	bool throttled; /* arrived while every slot was taken */
} http_req;

typedef struct hdr_collect {
	pol_header h[HTTP_MAX_HEADERS];
	size_t n;
	bool overflow;
} hdr_collect;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	hdr_collect *hc = cls;
	if (hc->n >= HTTP_MAX_HEADERS) {
		hc->overflow = true;
		return MHD_NO;
	}
	hc->h[hc->n++] = (pol_header){key, strlen(key), value ? value : "", value ? strlen(value) : 0};
	return MHD_YES;
}

typedef struct query_collect {
	char buf[4096];
	size_t len;
	bool overflow;
} query_collect;

static void qappend_enc(query_collect *q, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool unreserved = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
				  ch == '-' || ch == '_' || ch == '.' || ch == '~';
		if (q->len + 4 >= sizeof q->buf) {
			q->overflow = true;
			return;
		}
		if (unreserved) {
			q->buf[q->len++] = (char)ch;
		} else {
			q->buf[q->len++] = '%';
			q->buf[q->len++] = hex[ch >> 4];
			q->buf[q->len++] = hex[ch & 15];
		}
	}
}

/* MHD hands us decoded query arguments; re-encode them (RFC 3986) so SigV4 can canonicalize. */
static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	query_collect *q = cls;
	if (q->len && q->len + 1 < sizeof q->buf)
		q->buf[q->len++] = '&';
	qappend_enc(q, key);
	if (q->len + 1 < sizeof q->buf)
		q->buf[q->len++] = '=';
	qappend_enc(q, value);
	q->buf[q->len < sizeof q->buf ? q->len : sizeof q->buf - 1] = '\0';
	return MHD_YES;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, char *body, const char *ctype,
				 const char *request_id, const char *err_type, const char *query_error)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	if (request_id)
		MHD_add_response_header(r, "x-amzn-RequestId", request_id);
	if (err_type)
		MHD_add_response_header(r, "x-amzn-ErrorType", err_type);
	if (query_error)
		MHD_add_response_header(r, "x-amzn-query-error", query_error);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *type, const char *msg)
{
	char rid[37];
	bb_uuid4(&bb_rng_system, rid);
	char *body = api_error_body(type, msg);
	if (!body)
		return MHD_NO;
	return send_text(conn, status, body, "application/x-amz-json-1.1", rid, type, NULL);
}

static enum MHD_Result send_health(node *n, struct MHD_Connection *conn, bool ready_check)
{
	meta_status st;
	meta_get_status(n->meta, &st);
	bool ready = meta_ready(n->meta);
	json_t *o = json_pack("{s:s, s:b, s:i, s:I, s:I, s:I}", "status", ready_check && !ready ? "unavailable" : "ok",
			      "ready", ready, "raft_state", st.raft_state, "leader_id", (json_int_t)st.leader_id,
			      "last_applied", (json_int_t)st.last_applied, "last_index", (json_int_t)st.last_index);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return MHD_NO;
	return send_text(conn, ready_check && !ready ? 503 : 200, body, "application/json", NULL, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)version;
	node *n = cls;
	http_req *req = *con_cls;
	if (!req) {
		req = calloc(1, sizeof *req);
		if (!req)
			return MHD_NO;
		*con_cls = req;
		/* A request holds an in-flight slot from its headers until it completes, so slow uploads count
		 * against the bound too. */
		unsigned cur = atomic_fetch_add(&n->inflight, 1);
		if (cur >= n->cfg.max_inflight) {
			atomic_fetch_sub(&n->inflight, 1);
			req->throttled = true;
		} else {
			req->counted = true;
		}
		return MHD_YES; /* headers only; the body (if any) comes in the next calls */
	}
	if (*upload_size) {
		if (!req->too_big) {
			if (req->len + *upload_size > n->cfg.max_body_bytes) {
				req->too_big = true;
			} else {
				if (req->len + *upload_size + 1 > req->cap) {
					size_t cap = req->cap ? req->cap : 4096;
					while (cap < req->len + *upload_size + 1)
						cap *= 2;
					char *nb = realloc(req->body, cap);
					if (!nb)
						return MHD_NO;
					req->body = nb;
					req->cap = cap;
				}
				memcpy(req->body + req->len, upload_data, *upload_size);
				req->len += *upload_size;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}

	if (strcmp(method, "GET") == 0 && strcmp(url, "/health") == 0)
		return send_health(n, conn, false);
	if (strcmp(method, "GET") == 0 && strcmp(url, "/ready") == 0)
		return send_health(n, conn, true);
	if (strcmp(method, "GET") == 0 && strcmp(url, "/metrics") == 0) {
		size_t len;
		char *body = metrics_render(n, &len);
		if (!body)
			return send_error(conn, 500, "InternalException", "Out of memory.");
		return send_text(conn, 200, body, "text/plain; version=0.0.4; charset=utf-8", NULL, NULL, NULL);
	}
	if (req->too_big)
		return send_error(conn, 413, "RequestEntityTooLargeException", "Request body is too large.");

	if (req->throttled)
		return send_error(conn, 400, "ThrottlingException", "Rate exceeded");
	hdr_collect hc;
	hc.n = 0;
	hc.overflow = false;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &hc);
	query_collect q;
	q.len = 0;
	q.overflow = false;
	q.buf[0] = '\0';
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &q);
	enum MHD_Result ret;
	if (hc.overflow || q.overflow) {
		ret = send_error(conn, 400, "ValidationException", "Too many headers or query parameters.");
	} else {
		api_request rq = {method,
				  url,
				  q.buf,
				  MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target"),
				  hc.h,
				  hc.n,
				  (const uint8_t *)(req->body ? req->body : ""),
				  req->len};
		char *body = NULL;
		const char *ctype, *err_type, *query_error;
		char rid[37];
		int status = api_handle(n, &rq, &body, &ctype, rid, &err_type, &query_error);
		ret = send_text(conn, (unsigned)status, body, ctype, rid, err_type, query_error);
	}
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	node *n = cls;
	(void)conn;
	(void)toe;
	http_req *req = *con_cls;
	if (req) {
		if (req->counted)
			atomic_fetch_sub(&n->inflight, 1);
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof buf, fmt, ap);
	size_t l = strlen(buf);
	while (l && (buf[l - 1] == '\n' || buf[l - 1] == '"'))
		buf[--l] = '\0';
	BB_LOGD("http", "msg=\"%s\"", buf);
}

bb_err http_start(node *n, const struct sockaddr *addr)
{
	n->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, on_request, n, MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)n->cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)n->cfg.conn_timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, n, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, n, MHD_OPTION_END);
	if (!n->mhd)
		return BB_EIO;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(n->mhd, MHD_DAEMON_INFO_BIND_PORT);
	n->port = info ? info->port : 0;
	return BB_OK;
}

void http_stop(node *n)
{
	if (n->mhd) {
		MHD_stop_daemon(n->mhd);
		n->mhd = NULL;
	}
}
