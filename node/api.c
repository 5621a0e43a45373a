/* node/api.c — the AWS JSON 1.1 front door: authentication, operation dispatch, error shaping, and
 * the write driver that turns a handler's plan into a raft transaction.
 *
 * Errors follow reference §1.2: HTTP 400 (500 for InternalException) with
 * {"__type": "<Code>", "message": "<text>"} and an x-amzn-RequestId header. The table below is the
 * only place operation names appear.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"

static const struct {
	const char *name;
	api_op_fn fn;
	bool raw_body; /* the operation reads c->body itself (PutEvents: pe_parse.c) */
} api_ops[] = {
	{"CreateEventBus", op_create_event_bus, false},
	{"DescribeEventBus", op_describe_event_bus, false},
	{"ListEventBuses", op_list_event_buses, false},
	{"UpdateEventBus", op_update_event_bus, false},
	{"DeleteEventBus", op_delete_event_bus, false},
	{"PutRule", op_put_rule, false},
	{"DescribeRule", op_describe_rule, false},
	{"ListRules", op_list_rules, false},
	{"DeleteRule", op_delete_rule, false},
	{"EnableRule", op_enable_rule, false},
	{"DisableRule", op_disable_rule, false},
	{"PutTargets", op_put_targets, false},
	{"RemoveTargets", op_remove_targets, false},
	{"ListTargetsByRule", op_list_targets_by_rule, false},
	{"ListRuleNamesByTarget", op_list_rule_names_by_target, false},
	{"TagResource", op_tag_resource, false},
	{"UntagResource", op_untag_resource, false},
	{"ListTagsForResource", op_list_tags_for_resource, false},
	{"TestEventPattern", op_test_event_pattern, false},
	{"PutEvents", op_put_events, true},
	{"CreateConnection", op_create_connection, false},
	{"DescribeConnection", op_describe_connection, false},
	{"UpdateConnection", op_update_connection, false},
	{"DeleteConnection", op_delete_connection, false},
	{"ListConnections", op_list_connections, false},
	{"DeauthorizeConnection", op_deauthorize_connection, false},
	{"CreateApiDestination", op_create_api_destination, false},
	{"DescribeApiDestination", op_describe_api_destination, false},
	{"UpdateApiDestination", op_update_api_destination, false},
	{"DeleteApiDestination", op_delete_api_destination, false},
	{"ListApiDestinations", op_list_api_destinations, false},
};

int api_error(api_call *c, int status, const char *type, const char *fmt, ...)
{
	if (c->err_type[0])
		return -1; /* keep the first error */
	c->status = status;
	snprintf(c->err_type, sizeof c->err_type, "%s", type);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
	va_end(ap);
	return -1;
}

meta_snap *api_snap(api_call *c)
{
	if (!c->snap)
		c->snap = meta_snap_acquire(c->n->meta);
	return c->snap;
}

double api_now_s(api_call *c) { return (double)bb_wall_ms(c->n->clock) / 1000.0; }

int api_write(api_call *c, api_plan_fn plan, void *arg)
{
	node *n = c->n;
	for (int attempt = 0; attempt < 16; attempt++) {
		if (c->snap) {
			meta_snap_release(c->snap);
			c->snap = NULL;
		}
		json_decref(c->out);
		c->out = NULL;
		txn t;
		memset(&t, 0, sizeof t);
		if (plan(c, &t, arg) != 0) {
			txn_reset(&t);
			return -1;
		}
		if (t.overflow) {
			txn_reset(&t);
			return api_error(c, 500, "InternalException", "Request too large to apply.");
		}
		if (t.n_ops == 0) {
			txn_reset(&t);
			return 0;
		}
		uint8_t rid[16];
		bb_random(&bb_rng_system, rid, sizeof rid);
		meta_result res;
		memset(&res, 0, sizeof res);
		bb_err e = meta_submit_wait(n->meta, rid, t.ops, t.n_ops, (int)n->cfg.write_timeout_ms, &res);
		txn_reset(&t);
		if (e == BB_OK)
			e = res.err;
		switch (e) {
		case BB_OK:
			if (meta_wait_applied(n->meta, res.index, (int)n->cfg.write_timeout_ms) != BB_OK ||
			    route_wait(n, res.index, (int)n->cfg.write_timeout_ms) != BB_OK)
				return api_error(c, 500, "InternalException", "Timed out waiting for the write to apply.");
			return 0;
		case BB_ECONFLICT:
			continue; /* someone wrote meanwhile: plan again from a fresh snapshot */
		case BB_EBUSY:
			return api_error(c, 400, "ThrottlingException", "Rate exceeded");
		default:
			BB_LOGW("api", "msg=\"metadata write failed\" op=%s err=%s request_id=%s", c->op, bb_errname(e),
				c->request_id);
			return api_error(c, 500, "InternalException", "An internal error occurred: %s.", bb_strerror(e));
		}
	}
	return api_error(c, 400, "ConcurrentModificationException",
			 "Another request changed this resource concurrently. Retry the request.");
}

/* ---- authentication ---------------------------------------------------------------------- */

/* The last key this thread looked up, valid for one metadata index (a key record is parsed once per
 * change instead of once per request; the secret is in this process's metadata anyway). */
static _Thread_local struct {
	bool valid;
	node *n;
	uint64_t index;
	char akid[129];
	char secret[256];
	char account[13];
} key_cache;

static bb_err key_lookup(void *ctx, const char *akid, char *secret, size_t cap, char account[13])
{
	node *n = ctx;
	char key[KEY_MAX];
	if (strlen(akid) > 128)
		return BB_ENOTFOUND;
	meta_snap *s = meta_snap_acquire(n->meta);
	uint64_t index = meta_snap_index(s);
	if (key_cache.valid && key_cache.n == n && key_cache.index == index && strcmp(key_cache.akid, akid) == 0 &&
	    strlen(key_cache.secret) < cap) {
		meta_snap_release(s);
		strcpy(secret, key_cache.secret);
		memcpy(account, key_cache.account, 13);
		return BB_OK;
	}
	key_access(key, akid);
	json_t *rec = store_get(s, key, NULL);
	meta_snap_release(s);
	if (!rec)
		return BB_ENOTFOUND;
	const char *sec = json_string_value(json_object_get(rec, "Secret"));
	const char *acct = json_string_value(json_object_get(rec, "Account"));
	bb_err e = BB_OK;
	if (!sec || !acct || strlen(sec) >= cap || strlen(acct) != 12)
		e = BB_ECORRUPT;
	else {
		strcpy(secret, sec);
		memcpy(account, acct, 13);
		if (strlen(sec) < sizeof key_cache.secret) {
			key_cache.valid = true;
			key_cache.n = n;
			key_cache.index = index;
			snprintf(key_cache.akid, sizeof key_cache.akid, "%s", akid);
			strcpy(key_cache.secret, sec);
			memcpy(key_cache.account, acct, 13);
		}
	}
	json_decref(rec);
	return e;
}

int api_authenticate(api_call *c, const api_request *rq, const char *service)
{
	node *n = c->n;
	pol_request pr = {rq->method, rq->path, rq->query, rq->headers, rq->n_headers, rq->body, rq->body_len};
	pol_verify_opts o = {bb_wall_ms(n->clock), n->cfg.max_skew_s, key_lookup, n};
	char why[512] = "";
	bb_err e = pol_sigv4_verify(&pr, &o, &c->who, why, sizeof why);
	switch (e) {
	case BB_OK:
		break;
	case BB_EAUTHMISSING:
		if (n->cfg.allow_anonymous) {
			memset(&c->who, 0, sizeof c->who);
			snprintf(c->who.account, sizeof c->who.account, "%s", n->account);
			snprintf(c->who.region, sizeof c->who.region, "%s", n->region);
			snprintf(c->who.service, sizeof c->who.service, "%s", service);
			return 0;
		}
		return api_error(c, 400, "MissingAuthenticationTokenException", "%s",
				 why[0] ? why : "Missing Authentication Token");
	case BB_EAUTHINCOMPLETE:
		return api_error(c, 400, "IncompleteSignatureException", "%s", why);
	case BB_EAUTHUNKNOWN:
		return api_error(c, 400, "UnrecognizedClientException", "%s",
				 why[0] ? why : "The security token included in the request is invalid.");
	case BB_EAUTHSIG:
	case BB_EAUTHEXPIRED:
		return api_error(c, 400, "InvalidSignatureException", "%s", why);
	default:
		return api_error(c, 500, "InternalException", "Authentication failed: %s.", bb_strerror(e));
	}
	if (strcmp(c->who.region, n->region) != 0)
		return api_error(c, 400, "InvalidSignatureException",
				 "Credential should be scoped to a valid region, not '%s'. ", c->who.region);
	if (strcmp(c->who.service, service) != 0)
		return api_error(c, 400, "InvalidSignatureException",
				 "Credential should be scoped to correct service: '%s'. ", service);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

char *api_error_body(const char *type, const char *msg)
{
	json_t *o = json_pack("{s:s, s:s}", "__type", type, "message", msg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s ? s : strdup("{\"__type\":\"InternalException\",\"message\":\"out of memory\"}");
}

static int run_events_op(api_call *c, const api_request *rq, const char *op_name)
{
	api_op_fn fn = NULL;
	bool raw = false;
	for (size_t i = 0; i < BB_ARRAY_LEN(api_ops); i++) {
		if (strcmp(api_ops[i].name, op_name) == 0) {
			fn = api_ops[i].fn;
			raw = api_ops[i].raw_body;
			c->op = api_ops[i].name;
			break;
		}
	}
	if (api_authenticate(c, rq, "events") != 0)
		return -1;
	if (!fn)
		return api_error(c, 400, "UnknownOperationException", "%s", "");
	c->body = (const char *)rq->body;
	c->body_len = rq->body_len;
	if (!raw && api_parse_body(c) != 0)
		return -1;
	return fn(c);
}

int api_parse_body(api_call *c)
{
	if (c->body_len == 0) {
		c->in = json_object();
		return c->in ? 0 : api_error(c, 500, "InternalException", "Out of memory.");
	}
	json_error_t jerr;
	c->in = json_loadb(c->body, c->body_len, JSON_ALLOW_NUL, &jerr);
	if (!c->in || !json_is_object(c->in))
		return api_error(c, 400, "SerializationException", "%s",
				 c->in ? "Start of structure or map found where not expected." : jerr.text);
	return 0;
}

static void call_init(api_call *c, node *n)
{
	memset(c, 0, offsetof(api_call, err_msg)); /* the 32 KiB message buffer needs only its first byte */
	c->err_msg[0] = '\0';
	c->n = n;
	c->op = "?";
	bb_uuid4(&bb_rng_system, c->request_id);
}

/* The HTTP answer of a finished call (rc from the handler); releases what the call holds. */
static int call_finish(api_call *c, int rc, char **resp_body, char err_type[64])
{
	int status = 200;
	err_type[0] = '\0';
	if (rc != 0 || c->err_type[0]) {
		status = c->status ? c->status : 400;
		*resp_body = api_error_body(c->err_type, c->err_msg);
		snprintf(err_type, 64, "%s", c->err_type);
		if (status >= 500)
			BB_LOGW("api", "msg=\"request failed\" op=%s type=%s request_id=%s", c->op, c->err_type,
				c->request_id);
		else
			BB_LOGD("api", "msg=\"request rejected\" op=%s type=%s request_id=%s", c->op, c->err_type,
				c->request_id);
	} else {
		if (c->out_raw) {
			*resp_body = c->out_raw;
			c->out_raw = NULL;
		} else {
			*resp_body = c->out ? json_dumps(c->out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(13))
					    : strdup("{}");
		}
		if (!*resp_body) {
			*resp_body = strdup("{\"__type\":\"InternalException\",\"message\":\"out of memory\"}");
			status = 500;
		}
	}
	if (c->snap)
		meta_snap_release(c->snap);
	c->snap = NULL;
	json_decref(c->in);
	json_decref(c->out);
	free(c->out_raw);
	c->in = c->out = NULL;
	c->out_raw = NULL;
	return status;
}

int api_handle(node *n, const api_request *rq, char **resp_body, const char **content_type, char request_id[37],
	       const char **err_type, const char **query_error)
{
	*query_error = NULL;
	int sqs_proto = sqs_route(rq); /* built-in queues: AmazonSQS.* or the SQS query protocol */
	if (sqs_proto)
		return sqs_handle(n, rq, sqs_proto, resp_body, content_type, request_id, err_type, query_error);

	api_call c;
	call_init(&c, n);
	memcpy(request_id, c.request_id, 37);
	*content_type = "application/x-amz-json-1.1";
	*err_type = NULL;

	int rc;
	if (strcmp(rq->method, "POST") != 0 || strcmp(rq->path, "/") != 0) {
		rc = api_error(&c, 404, "UnknownOperationException", "No operation at %s %s", rq->method, rq->path);
	} else if (!rq->target) {
		rc = api_error(&c, 400, "UnknownOperationException", "Missing X-Amz-Target header.");
	} else if (strncmp(rq->target, "AWSEvents.", 10) == 0) {
		rc = run_events_op(&c, rq, rq->target + 10);
	} else {
		rc = api_error(&c, 400, "UnknownOperationException", "%s", "");
	}
	static __thread char type_buf[64];
	int status = call_finish(&c, rc, resp_body, type_buf);
	if (type_buf[0])
		*err_type = type_buf;
	return status;
}

/* ---- PutEvents without blocking the HTTP thread ------------------------------------------------ */

typedef struct async_call {
	api_resp resp;
	void (*done)(void *arg, api_resp *resp);
	void *arg;
	api_call c; /* last (its message buffer is large) */
} async_call;

static void async_finish(async_call *a, int rc)
{
	a->resp.status = call_finish(&a->c, rc, &a->resp.body, a->resp.err_type);
}

static void async_done(void *arg, int rc)
{
	async_call *a = arg;
	async_finish(a, rc);
	void (*done)(void *, api_resp *) = a->done;
	void *darg = a->arg;
	api_resp resp = a->resp;
	free(a);
	done(darg, &resp);
}

bool api_is_async(const api_request *rq)
{
	return rq->target && strcmp(rq->target, "AWSEvents.PutEvents") == 0 && strcmp(rq->method, "POST") == 0 &&
	       strcmp(rq->path, "/") == 0;
}

bool api_handle_async(node *n, const api_request *rq, api_resp *resp, void (*done)(void *arg, api_resp *resp),
		      void *arg)
{
	async_call *a = malloc(sizeof *a);
	if (!a) {
		resp->status = 500;
		resp->body = api_error_body("InternalException", "Out of memory.");
		resp->ctype = "application/x-amz-json-1.1";
		bb_uuid4(&bb_rng_system, resp->request_id);
		snprintf(resp->err_type, sizeof resp->err_type, "InternalException");
		resp->query_error[0] = '\0';
		return false;
	}
	call_init(&a->c, n);
	memset(&a->resp, 0, sizeof a->resp);
	a->resp.ctype = "application/x-amz-json-1.1";
	memcpy(a->resp.request_id, a->c.request_id, 37);
	a->done = done;
	a->arg = arg;
	api_call *c = &a->c;
	c->op = "PutEvents";
	int rc = api_authenticate(c, rq, "events");
	if (rc == 0) {
		c->body = (const char *)rq->body;
		c->body_len = rq->body_len;
		rc = op_put_events_async(c, async_done, a);
		if (rc == 1)
			return true; /* async_done answers */
	}
	async_finish(a, rc);
	*resp = a->resp;
	free(a);
	return false;
}
