/* node/sqs_recv.c — ReceiveMessage (with long polling), DeleteMessage(Batch),
 * ChangeMessageVisibility(Batch), and receipt handles.
 *
 * Receive: a read-only peek first (is anything visible? when is the next message due?), and only then
 * a store write that takes up to MaxNumberOfMessages visible messages and hides them for the
 * visibility timeout (sqs_store_receive). The answer goes out when that write is applied, without
 * waiting for its fsync (db_run_early): if the hide is lost the messages reappear, which SQS allows.
 * With WaitTimeSeconds > 0 and nothing visible, the call registers as a waiter (sqs_wait.c) and
 * sleeps until a send to the queue commits (or a delivery's put is applied: then the receive goes
 * straight to its write, which sees the uncommitted message), the next delayed or invisible message
 * is due, or the wait ends — re-checking at least every second. The metadata snapshot is released
 * before sleeping. A RedrivePolicy moves a message that was already received
 * maxReceiveCount times to its dead-letter queue instead of returning it.
 *
 * Receipt handle (opaque to clients): base64url of
 *   ver(1)=1 qid(16) seq(8) receive_count(4) check(8)
 * check = BLAKE2b(queue ARN, 0, the first 29 bytes) truncated: a handle made up, damaged, or issued
 * by another queue is ReceiptHandleIsInvalid; one of an earlier incarnation of this queue (before a
 * purge or delete/recreate) names a message that is gone. receive_count tells the latest handle from
 * older ones: DeleteMessage accepts any valid handle of a message (as AWS does for standard queues),
 * ChangeMessageVisibility only the latest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sqs_int.h"

#define RH_LEN 37
#define RH_TEXT 64

static void rh_check(const char *arn, const uint8_t *raw, uint8_t out[8])
{
	uint8_t h[16];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const unsigned char *)arn, strlen(arn) + 1);
	crypto_generichash_update(&st, raw, 29);
	crypto_generichash_final(&st, h, sizeof h);
	memcpy(out, h, 8);
}

static void rh_make(const sqs_queue *q, uint64_t seq, uint32_t rcount, char out[RH_TEXT])
{
	uint8_t raw[RH_LEN];
	raw[0] = 1;
	memcpy(raw + 1, q->ref.qid, 16);
	db_put_u64(raw + 17, seq);
	raw[25] = (uint8_t)(rcount >> 24);
	raw[26] = (uint8_t)(rcount >> 16);
	raw[27] = (uint8_t)(rcount >> 8);
	raw[28] = (uint8_t)rcount;
	rh_check(q->arn, raw, raw + 29);
	sodium_bin2base64(out, RH_TEXT, raw, RH_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Decodes a handle of q: false if it is not one; *current false if it is of an earlier incarnation. */
static bool rh_parse(const sqs_queue *q, const char *text, uint64_t *seq, uint32_t *rcount, bool *current)
{
	uint8_t raw[RH_LEN + 1], check[8];
	size_t len = 0;
	if (strlen(text) >= RH_TEXT ||
	    sodium_base642bin(raw, sizeof raw, text, strlen(text), NULL, &len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != RH_LEN || raw[0] != 1)
		return false;
	rh_check(q->arn, raw, check);
	if (sodium_memcmp(check, raw + 29, 8) != 0)
		return false;
	*current = memcmp(raw + 1, q->ref.qid, 16) == 0;
	*seq = db_get_u64(raw + 17);
	*rcount = (uint32_t)raw[25] << 24 | (uint32_t)raw[26] << 16 | (uint32_t)raw[27] << 8 | raw[28];
	return true;
}

static int rh_invalid(api_call *c, const char *text)
{
	return sqs_error(c, "ReceiptHandleIsInvalid", "The input receipt handle \"%.200s\" is not a valid receipt handle.",
			 text);
}

/* ---- ReceiveMessage ----------------------------------------------------------------------------------- */

static bb_err recv_apply(db *d, MDB_txn *txn, void *arg) { return sqs_store_receive(d, txn, arg); }

/* A receive that moved messages to the dead-letter queue answers after its commit: whoever reads the
 * dead-letter queue next must find them there. */
static bool recv_early_ok(void *arg) { return ((sqs_recv *)arg)->moved == 0; }

static bool wants(json_t *names, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v)
	{
		const char *s = json_string_value(v);
		if (s && (strcmp(s, "All") == 0 || strcmp(s, name) == 0))
			return true;
	}
	return false;
}

static bool wants_attr(json_t *names, const sqs_mattr *a)
{
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v)
	{
		const char *s = json_string_value(v);
		if (!s)
			continue;
		size_t n = strlen(s);
		if (strcmp(s, "All") == 0 || strcmp(s, ".*") == 0)
			return true;
		if (n >= 2 && strcmp(s + n - 2, ".*") == 0 && a->name_len >= n - 2 && memcmp(a->name, s, n - 2) == 0)
			return true;
		if (n == a->name_len && memcmp(a->name, s, n) == 0)
			return true;
	}
	return false;
}

/* A message in JSON text, appended to o (written directly, strings escaped as json_dumps would; the
 * query protocol reads the same text back into a tree for its XML). */
static void message_json(jout *o, const sqs_queue *q, const sqs_got *g, json_t *sys_names, json_t *attr_names)
{
	sqs_rec rec;
	if (!sqs_rec_parse(g->rec, g->rec_len, &rec))
		return;
	char rh[RH_TEXT], md5[33], num[32];
	rh_make(q, g->seq, g->rcount, rh);
	sqs_hex(rec.md5_body, 16, md5);
	jo_lit(o, o->len && o->p[o->len - 1] == '}' ? ",{\"MessageId\":" : "{\"MessageId\":");
	jo_cstr(o, g->msg_id);
	jo_lit(o, ",\"ReceiptHandle\":");
	jo_cstr(o, rh);
	jo_lit(o, ",\"MD5OfBody\":");
	jo_cstr(o, md5);
	jo_lit(o, ",\"Body\":");
	jo_str(o, rec.body, rec.body_len);
	const char *sep = ",\"Attributes\":{";
#define SYS_ATTR(name, put)                                                                                     \
	do {                                                                                                    \
		jo_lit(o, sep);                                                                                 \
		jo_lit(o, "\"" name "\":");                                                                     \
		put;                                                                                            \
		sep = ",";                                                                                      \
	} while (0)
	if (wants(sys_names, "SenderId"))
		SYS_ATTR("SenderId", jo_str(o, rec.sender, rec.sender_len));
	if (wants(sys_names, "ApproximateFirstReceiveTimestamp")) {
		snprintf(num, sizeof num, "%lld", (long long)g->first_ms);
		SYS_ATTR("ApproximateFirstReceiveTimestamp", jo_cstr(o, num));
	}
	if (wants(sys_names, "ApproximateReceiveCount")) {
		snprintf(num, sizeof num, "%lld", (long long)g->rcount);
		SYS_ATTR("ApproximateReceiveCount", jo_cstr(o, num));
	}
	if (wants(sys_names, "SentTimestamp")) {
		snprintf(num, sizeof num, "%lld", (long long)g->sent_ms);
		SYS_ATTR("SentTimestamp", jo_cstr(o, num));
	}
	if (rec.source_arn && wants(sys_names, "DeadLetterQueueSourceArn"))
		SYS_ATTR("DeadLetterQueueSourceArn", jo_str(o, rec.source_arn, rec.source_arn_len));
#undef SYS_ATTR
	if (sep[0] == ',' && sep[1] == '\0')
		jo_lit(o, "}");

	sqs_mattr picked[SQS_MAX_MSG_ATTRS];
	size_t n = 0;
	const uint8_t *p = rec.attrs;
	sqs_mattr a;
	while (n < SQS_MAX_MSG_ATTRS && sqs_rec_attr_next(&p, rec.attrs_end, &a))
		if (wants_attr(attr_names, &a))
			picked[n++] = a;
	if (n) {
		uint8_t d[16];
		char hex[33];
		sqs_md5_attrs(picked, n, d);
		sqs_hex(d, 16, hex);
		jo_lit(o, ",\"MD5OfMessageAttributes\":");
		jo_cstr(o, hex);
		jo_lit(o, ",\"MessageAttributes\":{");
		for (size_t i = 0; i < n; i++) {
			if (i)
				jo_lit(o, ",");
			jo_str(o, picked[i].name, picked[i].name_len);
			if (picked[i].transport == 2) {
				size_t cap = sodium_base64_ENCODED_LEN(picked[i].val_len, sodium_base64_VARIANT_ORIGINAL);
				char *b64 = malloc(cap);
				if (b64) {
					sodium_bin2base64(b64, cap, picked[i].val, picked[i].val_len,
							  sodium_base64_VARIANT_ORIGINAL);
					jo_lit(o, ":{\"BinaryValue\":");
					jo_cstr(o, b64);
					free(b64);
				} else {
					o->oom = true;
				}
			} else {
				jo_lit(o, ":{\"StringValue\":");
				jo_str(o, (const char *)picked[i].val, picked[i].val_len);
			}
			jo_lit(o, ",\"DataType\":");
			jo_str(o, picked[i].type, picked[i].type_len);
			jo_lit(o, "}");
		}
		jo_lit(o, "}");
	}
	jo_lit(o, "}");
}

/* Range check with AWS's wording for ReceiveMessage parameters. */
static int recv_param(api_call *c, const char *name, bool has, long long v, long long lo, long long hi, const char *why)
{
	if (has && (v < lo || v > hi))
		return sqs_error(c, "InvalidParameterValueException", "Value %lld for parameter %s is invalid. Reason: %s",
				 v, name, why);
	return 0;
}

/* Fills r's redrive fields from the queue's RedrivePolicy (ignored if its target is gone). */
static void redrive_setup(api_call *c, const sqs_queue *q, sqs_recv *r)
{
	const char *rp = json_string_value(json_object_get(json_object_get(q->rec, "Attributes"), "RedrivePolicy"));
	if (!rp)
		return;
	json_error_t err;
	json_t *o = json_loads(rp, 0, &err);
	const char *arn = json_string_value(json_object_get(o, "deadLetterTargetArn"));
	json_int_t max = json_integer_value(json_object_get(o, "maxReceiveCount"));
	sqs_ref dlq;
	if (arn && max > 0 && sqs_resolve_arn(c->n, api_snap(c), arn, &dlq) == BB_OK &&
	    memcmp(dlq.qid, q->ref.qid, 16) != 0) {
		r->max_rcount = (uint32_t)max;
		memcpy(r->dlq_qid, dlq.qid, 16);
		r->src_arn = q->arn;
	}
	json_decref(o);
}

int sqs_op_receive_message(sqs_call *sc)
{
	api_call *c = &sc->c;
	json_t *names, *sys_names, *attr_names;
	bool has_max, has_vis, has_wait;
	long long max, vis, wait;
	if (jv_arr(c, c->in, "AttributeNames", &names) || jv_arr(c, c->in, "MessageSystemAttributeNames", &sys_names) ||
	    jv_arr(c, c->in, "MessageAttributeNames", &attr_names) ||
	    jv_int(c, c->in, "MaxNumberOfMessages", &has_max, &max) ||
	    jv_int(c, c->in, "VisibilityTimeout", &has_vis, &vis) || jv_int(c, c->in, "WaitTimeSeconds", &has_wait, &wait))
		return -1;
	if (recv_param(c, "MaxNumberOfMessages", has_max, max, 1, SQS_MAX_BATCH, "Must be between 1 and 10, if provided.") ||
	    recv_param(c, "VisibilityTimeout", has_vis, vis, 0, SQS_MAX_VISIBILITY_S,
		       "Must be >= 0 and <= 43200, if provided.") ||
	    recv_param(c, "WaitTimeSeconds", has_wait, wait, 0, SQS_MAX_WAIT_S, "Must be >= 0 and <= 20, if provided."))
		return -1;
	sqs_queue q;
	if (sqs_queue_from_url(sc, &q))
		return -1;
	sqs_recv *r = calloc(1, sizeof *r);
	if (!r) {
		sqs_queue_free(&q);
		return sqs_error(c, "InternalException", "out of memory");
	}
	memcpy(r->qid, q.ref.qid, 16);
	r->max = has_max ? (int)max : 1;
	r->vis_ms = (has_vis ? vis : q.ref.visibility_s) * 1000;
	r->retention_ms = q.ref.retention_s * 1000;
	redrive_setup(c, &q, r);
	if (c->snap) { /* do not pin metadata while waiting */
		meta_snap_release(c->snap);
		c->snap = NULL;
	}
	int64_t wait_s = has_wait ? wait : q.ref.wait_s;
	int64_t deadline = sqs_mono_ns() + wait_s * 1000000000;
	sqs_waiter *w = NULL;
	int rc = 0;
	if (wait_s > 0 && !(w = sqs_wait_begin(c->n, q.ref.qid))) {
		rc = sqs_error(c, "RequestThrottled", "Too many long-polling receives at once; retry later.");
		goto out;
	}
	bool woken = false; /* by a put: its message may not be committed yet, so the peek (a read
			     * transaction) cannot see it but the receive's write can */
	for (;;) {
		uint64_t seq = w ? sqs_wait_seq(w) : 0;
		bool ready = true;
		int64_t now = bb_wall_ms(c->n->clock), next = INT64_MAX;
		if (!woken && sqs_store_peek(c->n->db, q.ref.qid, now, &ready, &next) != BB_OK)
			ready = true; /* let the write report the error */
		woken = false;
		if (ready) {
			r->now_ms = now;
			/* Answered once the messages are hidden in the batch, not after its fsync: a lost
			 * hide (crash, failed commit) only makes them visible again — at-least-once, as SQS. */
			bb_err e = db_run_early(c->n->db, recv_apply, r, recv_early_ok);
			if (e == BB_EBUSY) {
				rc = sqs_error(c, "RequestThrottled", "Request is throttled.");
				break;
			} else if (e) {
				BB_LOGW("sqs", "msg=\"receive failed\" err=%s request_id=%s", bb_errname(e), c->request_id);
				rc = sqs_error(c, "InternalException", "An internal error occurred: %s.", bb_strerror(e));
				break;
			}
			if (r->n_got > 0)
				break;
			/* Nothing after all: the peek saw messages that another receive has hidden in the
			 * store's open batch (or the put that woke us was taken). Sleep until a put or until
			 * that batch has committed, instead of asking again at once. */
			ready = false;
			int64_t settle = now + c->n->cfg.store_commit_interval_us / 1000 + 1;
			if (next == INT64_MAX || next > settle)
				next = settle;
		}
		int64_t mono = sqs_mono_ns();
		if (!w || mono >= deadline)
			break;
		int64_t until = mono + 1000000000LL;
		if (next != INT64_MAX && mono + (next - now + 1) * 1000000 < until)
			until = mono + (next - now + 1) * 1000000;
		if (until > deadline)
			until = deadline;
		if (!ready) {
			if (!sqs_wait_until(w, seq, until))
				break; /* stopping */
			woken = sqs_wait_seq(w) != seq;
		}
	}
	if (rc == 0) {
		/* AttributeNames (older clients) and MessageSystemAttributeNames: the union */
		json_t *sys = json_array();
		if (names)
			json_array_extend(sys, names);
		if (sys_names)
			json_array_extend(sys, sys_names);
		jout o = {0};
		if (r->n_got > 0) {
			jo_lit(&o, "{\"Messages\":[");
			size_t start = o.len;
			for (int i = 0; i < r->n_got; i++)
				message_json(&o, &q, &r->got[i], sys, attr_names);
			if (o.len == start) { /* none could be read back: no Messages member */
				free(o.p);
				o = (jout){0};
				jo_lit(&o, "{}");
			} else {
				jo_lit(&o, "]}");
			}
		} else {
			jo_lit(&o, "{}");
		}
		json_decref(sys);
		char *text = jo_finish(&o);
		if (text && sc->proto != SQS_PROTO_JSON) { /* the query protocol renders a tree as XML */
			c->out = json_loads(text, 0, NULL);
			free(text);
			text = NULL;
			if (!c->out)
				rc = sqs_error(c, "InternalException", "out of memory");
		} else if (text) {
			c->out_raw = text;
		} else {
			rc = sqs_error(c, "InternalException", "out of memory");
		}
	}
out:
	if (w)
		sqs_wait_end(w);
	sqs_recv_free(r);
	free(r);
	sqs_queue_free(&q);
	return rc;
}

/* ---- DeleteMessage / ChangeMessageVisibility (single and batch) ---------------------------------------- */

typedef struct handle_op {
	const char *id;     /* batch entry id */
	const char *text;   /* receipt handle as given */
	uint64_t seq;
	uint32_t rcount;
	long long vis;      /* ChangeMessageVisibility */
	bool valid, current;
	int outcome;
	const char *err_code; /* set when the entry failed */
	char err_msg[400];
} handle_op;

typedef struct handle_job {
	const uint8_t *qid;
	handle_op *ops;
	size_t n;
	bool change;
	int64_t now_ms;
} handle_job;

static bb_err handle_apply(db *d, MDB_txn *txn, void *arg)
{
	handle_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		handle_op *o = &j->ops[i];
		if (o->err_code || !o->current)
			continue;
		bb_err e = j->change ? sqs_store_change_vis(d, txn, j->qid, o->seq, o->rcount, o->vis * 1000, j->now_ms,
							    &o->outcome)
				     : sqs_store_delete(d, txn, j->qid, o->seq, &o->outcome);
		if (e)
			return e;
	}
	return BB_OK;
}

static void op_fail(handle_op *o, const char *code, const char *msg)
{
	o->err_code = code;
	snprintf(o->err_msg, sizeof o->err_msg, "%s", msg);
}

/* Reads and checks entry e (ReceiptHandle, VisibilityTimeout when change) into o. */
static void handle_prepare(api_call *c, const sqs_queue *q, json_t *e, bool change, handle_op *o)
{
	bool has_vis = false;
	char msg[400];
	o->id = json_string_value(json_object_get(e, "Id"));
	o->text = json_string_value(json_object_get(e, "ReceiptHandle"));
	json_t *v = json_object_get(e, "VisibilityTimeout");
	if (json_is_integer(v)) {
		has_vis = true;
		o->vis = json_integer_value(v);
	}
	if (!o->text) {
		op_fail(o, "MissingRequiredParameterException", "The request must contain the parameter ReceiptHandle.");
	} else if (change && !has_vis) {
		op_fail(o, "MissingRequiredParameterException", "The request must contain the parameter VisibilityTimeout.");
	} else if (change && (o->vis < 0 || o->vis > SQS_MAX_VISIBILITY_S)) {
		snprintf(msg, sizeof msg,
			 "Value %lld for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if "
			 "provided.", o->vis);
		op_fail(o, "InvalidParameterValueException", msg);
	} else if (!rh_parse(q, o->text, &o->seq, &o->rcount, &o->current)) {
		snprintf(msg, sizeof msg, "The input receipt handle \"%.200s\" is not a valid receipt handle.", o->text);
		op_fail(o, "ReceiptHandleIsInvalid", msg);
	}
	(void)c;
}

/* After the write: turns ChangeMessageVisibility outcomes into entry errors. */
static void handle_outcome(handle_op *o, bool change)
{
	char msg[400];
	if (o->err_code || !change)
		return;
	if (!o->current || o->outcome == SQS_GONE) {
		snprintf(msg, sizeof msg,
			 "Value %.200s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not "
			 "available for visibility timeout change.", o->text);
		op_fail(o, "InvalidParameterValueException", msg);
	} else if (o->outcome == SQS_STALE) {
		snprintf(msg, sizeof msg, "Value %.200s for parameter ReceiptHandle is invalid. Reason: The receipt handle has "
			 "expired.", o->text);
		op_fail(o, "InvalidParameterValueException", msg);
	} else if (o->outcome == SQS_TOO_LONG) {
		snprintf(msg, sizeof msg,
			 "Value %lld for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the "
			 "message is beyond the limit [43200 seconds]", o->vis);
		op_fail(o, "InvalidParameterValueException", msg);
	}
}

static int handles_run(sqs_call *sc, bool change, bool batch)
{
	api_call *c = &sc->c;
	json_t *entries = NULL;
	if (batch) {
		if (jv_arr(c, c->in, "Entries", &entries))
			return -1;
		if (sqs_batch_check(c, entries, change ? "ChangeMessageVisibilityBatchRequestEntry"
							: "DeleteMessageBatchRequestEntry"))
			return -1;
	}
	sqs_queue q;
	if (sqs_queue_from_url(sc, &q))
		return -1;
	size_t n = batch ? json_array_size(entries) : 1;
	handle_op ops[SQS_MAX_BATCH];
	memset(ops, 0, sizeof ops);
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		handle_prepare(c, &q, batch ? json_array_get(entries, i) : c->in, change, &ops[i]);
		any |= !ops[i].err_code && ops[i].current;
	}
	int rc = 0;
	if (!batch && ops[0].err_code && strcmp(ops[0].err_code, "ReceiptHandleIsInvalid") == 0) {
		rc = rh_invalid(c, ops[0].text);
		goto out;
	}
	if (!batch && ops[0].err_code) {
		rc = sqs_error(c, ops[0].err_code, "%s", ops[0].err_msg);
		goto out;
	}
	if (any) {
		handle_job j = {q.ref.qid, ops, n, change, bb_wall_ms(c->n->clock)};
		bb_err e = db_run(c->n->db, handle_apply, &j);
		if (e == BB_EBUSY) {
			rc = sqs_error(c, "RequestThrottled", "Request is throttled.");
			goto out;
		} else if (e) {
			rc = sqs_error(c, "InternalException", "An internal error occurred: %s.", bb_strerror(e));
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		handle_outcome(&ops[i], change);
	if (!batch) {
		if (ops[0].err_code)
			rc = sqs_error(c, ops[0].err_code, "%s", ops[0].err_msg);
		goto out;
	}
	json_t *ok = json_array(), *failed = json_array();
	for (size_t i = 0; i < n; i++) {
		if (ops[i].err_code) {
			const sqs_errinfo *ei = sqs_errinfo_of(ops[i].err_code);
			json_array_append_new(failed, json_pack("{s:s, s:b, s:s, s:s}", "Id", ops[i].id, "SenderFault", 1,
								"Code", ei && ei->query_code ? ei->query_code : ops[i].err_code,
								"Message", ops[i].err_msg));
		} else {
			json_array_append_new(ok, json_pack("{s:s}", "Id", ops[i].id));
		}
	}
	c->out = json_pack("{s:o, s:o}", "Successful", ok, "Failed", failed);
out:
	sqs_queue_free(&q);
	return rc;
}

int sqs_op_delete_message(sqs_call *sc) { return handles_run(sc, false, false); }
int sqs_op_delete_message_batch(sqs_call *sc) { return handles_run(sc, false, true); }
int sqs_op_change_message_visibility(sqs_call *sc) { return handles_run(sc, true, false); }
int sqs_op_change_message_visibility_batch(sqs_call *sc) { return handles_run(sc, true, true); }
