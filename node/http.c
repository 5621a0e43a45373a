/* node/http.c — the public HTTP server (libmicrohttpd): bounded connections, bodies and time, and the
 * health endpoints. Everything AWS-shaped happens in api.c.
 *
 * Threading: a small pool of HTTP threads (--http-threads, each an epoll loop over its connections)
 * reads requests; no request ever blocks one of them. A complete request is, by kind:
 *   - GET /health, /ready and requests refused outright (too big, throttled): answered at once on the
 *     HTTP thread;
 *   - PutEvents: read, validated, matched and handed to the store writer on the HTTP thread
 *     (api_handle_async); its connection is suspended until the group commit holding its events is
 *     fsync'd, then the writer's completion resumes it with the answer;
 *   - anything else (control-plane writes wait for raft, SQS long polls wait for messages, /metrics
 *     waits for queued store writes): its connection is suspended and the request runs on a worker
 *     (http_work.c), which resumes it.
 * So a thread per connection is never needed, and hundreds of PutEvents wait for one fsync without a
 * thread each. Overload — more than max_inflight requests in progress at once (counted from their
 * headers, so slow uploads count) — is answered with ThrottlingException instead of queueing without
 * bound. Bodies larger than max_body_bytes get 413.
 *
 * A request's state lives in http_req (MHD's con_cls). Its phase says who owns it: READING (the HTTP
 * thread), PENDING (whoever will resume it), READY (the HTTP thread again, to send the answer).
 * Shutdown refuses new requests, waits until no request is pending (every suspended connection
 * resumed, as MHD requires before MHD_stop_daemon), then stops the daemon and the workers.
 */
#include <microhttpd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node_int.h"

#define HTTP_MAX_HEADERS 64

typedef struct hdr_collect {
	pol_header h[HTTP_MAX_HEADERS];
	size_t n;
	bool overflow;
} hdr_collect;

typedef struct query_collect {
	char buf[4096];
	size_t len;
	bool overflow;
} query_collect;

enum { PH_READING = 0, PH_PENDING, PH_READY, PH_ORPHANED };

/* Per-request state (MHD's con_cls). */
typedef struct http_req {
	node *n;
	struct MHD_Connection *conn;
	char *body;
	size_t len, cap;
	bool too_big;
	bool counted;   /* holds one of the node's max_inflight slots until completion */
	bool throttled; /* arrived while every slot was taken */
	bool metrics;   /* GET /metrics (it waits for the store: on a worker) */
	bool expected;  /* announced to the log's group commit (evlog_expect) */
	_Atomic int phase;
	api_resp resp;  /* PH_READY: the answer */
	/* the request as api.c sees it (pointers into MHD's connection memory and body, valid until
	 * the request completes) */
	api_request rq;
	hdr_collect hc;
	query_collect q;
} http_req;

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
	if (err_type && *err_type)
		MHD_add_response_header(r, "x-amzn-ErrorType", err_type);
	if (query_error && *query_error)
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

static void unexpect(http_req *req)
{
	if (req->expected) {
		req->expected = false;
		evlog_expect(req->n, -1);
	}
}

static void req_free(http_req *req)
{
	unexpect(req);
	if (req->counted)
		atomic_fetch_sub(&req->n->inflight, 1);
	free(req->resp.body);
	free(req->body);
	free(req);
}

/* The answer is in req->resp: hand the request back to its HTTP thread (any thread). */
static void req_ready(http_req *req)
{
	node *n = req->n;
	if (atomic_exchange(&req->phase, PH_READY) == PH_ORPHANED) {
		req_free(req); /* the connection went away meanwhile */
	} else {
		MHD_resume_connection(req->conn);
	}
	atomic_fetch_sub(&n->http_pending, 1);
}

static void async_answered(void *arg, api_resp *resp)
{
	http_req *req = arg;
	req->resp = *resp;
	req_ready(req);
}

/* On a worker: the blocking path. */
static void run_blocking(void *arg)
{
	http_req *req = arg;
	char *body = NULL;
	const char *ctype, *err_type = NULL, *query_error = NULL;
	api_resp *r = &req->resp;
	if (req->metrics) {
		size_t len;
		body = metrics_render(req->n, &len);
		r->status = body ? 200 : 500;
		ctype = "text/plain; version=0.0.4; charset=utf-8";
		if (!body)
			body = strdup("out of memory\n");
		r->body = body;
		r->ctype = ctype;
		req_ready(req);
		return;
	}
	r->status = api_handle(req->n, &req->rq, &body, &ctype, r->request_id, &err_type, &query_error);
	r->body = body;
	r->ctype = ctype;
	snprintf(r->err_type, sizeof r->err_type, "%s", err_type ? err_type : "");
	snprintf(r->query_error, sizeof r->query_error, "%s", query_error ? query_error : "");
	req_ready(req);
}

/* A complete API request: answer it elsewhere and suspend the connection meanwhile. */
static enum MHD_Result dispatch(http_req *req)
{
	node *n = req->n;
	struct MHD_Connection *conn = req->conn;
	req->hc.n = 0;
	req->hc.overflow = false;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &req->hc);
	req->q.len = 0;
	req->q.overflow = false;
	req->q.buf[0] = '\0';
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &req->q);
	if ((req->hc.overflow || req->q.overflow) && !req->metrics)
		return send_error(conn, 400, "ValidationException", "Too many headers or query parameters.");
	req->rq.query = req->q.buf;
	req->rq.target = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target");
	req->rq.headers = req->hc.h;
	req->rq.n_headers = req->hc.n;
	req->rq.body = (const uint8_t *)(req->body ? req->body : "");
	req->rq.body_len = req->len;

	atomic_store(&req->phase, PH_PENDING);
	atomic_fetch_add(&n->http_pending, 1);
	MHD_suspend_connection(conn); /* before anything can resume it */
	if (!req->metrics && api_is_async(&req->rq)) {
		bool later = api_handle_async(n, &req->rq, &req->resp, async_answered, req);
		/* submitted (or answered): no longer to wait for. req may be answered already, but only its
		 * HTTP thread — this one — frees it. */
		unexpect(req);
		if (!later)
			req_ready(req); /* answered at once (an error, or nothing to store) */
		return MHD_YES;
	}
	if (http_work_submit(n->work, run_blocking, req) != BB_OK) {
		req->resp = (api_resp){.status = 500, .ctype = "application/x-amz-json-1.1"};
		req->resp.body = api_error_body("InternalException", "No worker thread could be started.");
		bb_uuid4(&bb_rng_system, req->resp.request_id);
		snprintf(req->resp.err_type, sizeof req->resp.err_type, "InternalException");
		req_ready(req);
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)version;
	node *n = cls;
	http_req *req = *con_cls;
	if (!req) {
		req = malloc(sizeof *req);
		if (!req)
			return MHD_NO;
		memset(req, 0, offsetof(http_req, rq)); /* rq, hc and q are filled by dispatch */
		req->n = n;
		req->conn = conn;
		*con_cls = req;
		/* A request holds an in-flight slot from its headers until it completes, so slow uploads count
		 * against the bound too. */
		unsigned cur = atomic_fetch_add(&n->inflight, 1);
		if (cur >= n->cfg.max_inflight) {
			atomic_fetch_sub(&n->inflight, 1);
			req->throttled = true;
		} else {
			req->counted = true;
			const char *target = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target");
			if (target && strcmp(target, "AWSEvents.PutEvents") == 0 && !atomic_load(&n->http_draining)) {
				req->expected = true; /* a log append is coming: the group commit may wait for it */
				evlog_expect(n, 1);
			}
		}
		return MHD_YES; /* headers only; the body (if any) comes in the next calls */
	}
	if (atomic_load(&req->phase) == PH_READY) {
		api_resp *r = &req->resp;
		char *body = r->body;
		r->body = NULL;
		return send_text(conn, (unsigned)r->status, body, r->ctype, r->request_id, r->err_type, r->query_error);
	}
	if (*upload_size) {
		if (!req->too_big) {
			if (req->len + *upload_size > n->cfg.max_body_bytes) {
				req->too_big = true;
			} else {
				if (req->len + *upload_size + 1 > req->cap) {
					size_t cap = req->cap ? req->cap : 4096;
					const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
					size_t want = cl ? (size_t)strtoull(cl, NULL, 10) + 1 : 0;
					if (!req->cap && want > cap && want <= n->cfg.max_body_bytes + 1)
						cap = want; /* the whole body at once: no regrowth */
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
	req->metrics = strcmp(method, "GET") == 0 && strcmp(url, "/metrics") == 0;
	if (req->too_big && !req->metrics)
		return send_error(conn, 413, "RequestEntityTooLargeException", "Request body is too large.");
	if (req->throttled && !req->metrics)
		return send_error(conn, 400, "ThrottlingException", "Rate exceeded");
	if (atomic_load(&n->http_draining))
		return send_error(conn, 503, "ServiceUnavailableException", "The node is shutting down; retry.");
	req->rq.method = method;
	req->rq.path = url;
	return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	http_req *req = *con_cls;
	*con_cls = NULL;
	if (!req)
		return;
	if (atomic_exchange(&req->phase, PH_ORPHANED) == PH_PENDING)
		return; /* still running elsewhere: req_ready frees it */
	req_free(req);
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
	if (http_work_start(n->cfg.max_inflight + 8, &n->work) != BB_OK)
		return BB_ENOMEM;
	unsigned threads = n->cfg.http_threads ? n->cfg.http_threads : 1;
	n->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
		NULL, on_request, n, MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)n->cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)n->cfg.conn_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, n,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024), MHD_OPTION_EXTERNAL_LOGGER, mhd_log, n,
		MHD_OPTION_END);
	if (!n->mhd) {
		http_work_stop(n->work);
		n->work = NULL;
		return BB_EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(n->mhd, MHD_DAEMON_INFO_BIND_PORT);
	n->port = info ? info->port : 0;
	return BB_OK;
}

void http_stop(node *n)
{
	if (n->mhd) {
		/* New requests are refused; the pending ones finish (raft writes within write_timeout_ms,
		 * long polls were woken by sqs_quiesce, store writes complete), and each is resumed. */
		atomic_store(&n->http_draining, true);
		int64_t waited_ms = 0;
		while (atomic_load(&n->http_pending) > 0) {
			struct timespec ts = {0, 5 * 1000000};
			nanosleep(&ts, NULL);
			if ((waited_ms += 5) % 10000 == 0)
				BB_LOGW("http", "msg=\"waiting for requests in progress\" pending=%u",
					atomic_load(&n->http_pending));
		}
		/* the answers of the last ones are being sent: give MHD a moment before closing */
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
		MHD_stop_daemon(n->mhd);
		n->mhd = NULL;
	}
	http_work_stop(n->work);
	n->work = NULL;
}
