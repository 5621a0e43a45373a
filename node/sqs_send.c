/* node/sqs_send.c — SendMessage, SendMessageBatch, and sqs_put_txn (the delivery engine's way in).
 *
 * A send is validated completely (body characters, size against MaximumMessageSize, DelaySeconds,
 * message attributes), then written by one store write that is acknowledged only after its batch is
 * fsync'd (db_run), and then long-polling receivers are woken (sqs_notify). A batch is one store
 * write for all its valid entries; invalid entries are reported in Failed with the legacy error code,
 * as AWS does. Size = body bytes + every attribute's name, type and value bytes.
 *
 * Accepted and ignored on a standard queue: MessageGroupId (format-checked, as AWS does for fair
 * queues) and MessageSystemAttributes (AWSTraceHeader). StringListValues/BinaryListValues ("reserved
 * for future use" by AWS) are ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sqs_int.h"

#define BATCH_MAX_BYTES 1048576

/* A validation failure: the JSON error code and its message. */
typedef struct verr {
	char code[64];
	char msg[600];
} verr;

static int vfail(verr *e, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vfail(verr *e, const char *code, const char *fmt, ...)
{
	snprintf(e->code, sizeof e->code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* One message ready to store. */
typedef struct prep {
	sqs_msg_in m;
	sqs_mattr attrs[SQS_MAX_MSG_ATTRS];
	uint8_t *bins[SQS_MAX_MSG_ATTRS]; /* decoded BinaryValues (owned) */
	size_t size;
	char md5_attrs[33]; /* "" without attributes */
	const char *id;     /* batch entry id */
	verr err;
	bool ok;
} prep;

static void prep_free(prep *p)
{
	for (size_t i = 0; i < SQS_MAX_MSG_ATTRS; i++) {
		free(p->bins[i]);
		p->bins[i] = NULL;
	}
}

/* SQS's allowed characters: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF (the
 * input is valid UTF-8 already: jansson and the query decoder guarantee it). */
static bool chars_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		/* runs of printable ASCII, eight bytes at a time: no byte >= 0x80 and none < 0x20 */
		while (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if ((w & 0x8080808080808080ull) ||
			    ((w - 0x2020202020202020ull) & ~w & 0x8080808080808080ull))
				break;
			p += 8;
		}
		if (p >= end)
			break;
		uint32_t cp;
		if (*p < 0x80) {
			cp = *p++;
		} else if ((*p & 0xe0) == 0xc0 && end - p >= 2) {
			cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
			p += 2;
		} else if ((*p & 0xf0) == 0xe0 && end - p >= 3) {
			cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			p += 3;
		} else if ((*p & 0xf8) == 0xf0 && end - p >= 4) {
			cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 | (uint32_t)(p[2] & 0x3f) << 6 |
			     (p[3] & 0x3f);
			p += 4;
		} else {
			return false;
		}
		if (!(cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
		      (cp >= 0x10000 && cp <= 0x10ffff)))
			return false;
	}
	return true;
}

static const char BAD_CHARS[] = "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
				"#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF";

static bool attr_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 256 || s[0] == '.' || s[n - 1] == '.' || strncasecmp(s, "aws.", 4) == 0 ||
	    strncasecmp(s, "amazon.", 7) == 0 || strstr(s, ".."))
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-' || *s == '.'))
			return false;
	return true;
}

static bool number_ok(const char *s)
{
	char *end;
	if (!*s || strlen(s) > 100)
		return false;
	strtod(s, &end);
	return *end == '\0';
}

static int attrs_prepare(json_t *attrs, prep *p, verr *e)
{
	const char *name;
	json_t *v;
	size_t n = 0;
	if (json_object_size(attrs) > SQS_MAX_MSG_ATTRS)
		return vfail(e, "InvalidParameterValueException",
			     "Number of message attributes [%zu] exceeds the allowed maximum [%d].", json_object_size(attrs),
			     SQS_MAX_MSG_ATTRS);
	json_object_foreach(attrs, name, v)
	{
		if (!attr_name_ok(name))
			return vfail(e, "InvalidParameterValueException",
				     "Message (user) attribute name '%.256s' is invalid: names can only contain letters, "
				     "digits, '_', '-' and '.', must not start with 'AWS.' or 'Amazon.', start or end with "
				     "'.', or contain '..', and must be shorter than 256 bytes.", name);
		const char *type = json_string_value(json_object_get(v, "DataType"));
		const char *sv = json_string_value(json_object_get(v, "StringValue"));
		const char *bv = json_string_value(json_object_get(v, "BinaryValue"));
		if (!json_is_object(v) || !type || !*type)
			return vfail(e, "InvalidParameterValueException",
				     "The message attribute '%s' must contain non-empty message attribute type.", name);
		if (strlen(type) > 256 || !chars_ok(type, strlen(type)))
			return vfail(e, "InvalidParameterValueException",
				     "Message (user) attribute '%s' has an invalid type.", name);
		sqs_mattr *a = &p->attrs[n];
		a->name = name;
		a->name_len = strlen(name);
		a->type = type;
		a->type_len = strlen(type);
		if (strncmp(type, "String", 6) == 0 || strncmp(type, "Number", 6) == 0) {
			const char *base = type[0] == 'S' ? "String" : "Number";
			if (!sv || !*sv)
				return vfail(e, "InvalidParameterValueException",
					     "Message (user) attribute '%s' must contain a non-empty value of type '%s'.", name,
					     base);
			if (!chars_ok(sv, strlen(sv)))
				return vfail(e, "InvalidParameterValueException", "%s", BAD_CHARS);
			if (base[0] == 'N' && !number_ok(sv))
				return vfail(e, "InvalidParameterValueException",
					     "Can't cast the value of message (user) attribute '%s' to a number.", name);
			a->transport = 1;
			a->val = (const uint8_t *)sv;
			a->val_len = strlen(sv);
		} else if (strncmp(type, "Binary", 6) == 0) {
			size_t bl = bv ? strlen(bv) : 0, out_len = 0;
			p->bins[n] = malloc(bl / 4 * 3 + 3);
			if (!bl || !p->bins[n] ||
			    sodium_base642bin(p->bins[n], bl / 4 * 3 + 3, bv, bl, "\r\n", &out_len, NULL,
					      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    out_len == 0)
				return vfail(e, "InvalidParameterValueException",
					     "Message (user) attribute '%s' must contain a non-empty value of type 'Binary'.",
					     name);
			a->transport = 2;
			a->val = p->bins[n];
			a->val_len = out_len;
		} else {
			return vfail(e, "InvalidParameterValueException",
				     "Type for parameter MessageAttributes.Attribute_name.DataType must be prefixed with "
				     "\"String\", \"Binary\", or \"Number\", but was: %.256s", type);
		}
		p->size += a->name_len + a->type_len + a->val_len;
		n++;
	}
	qsort(p->attrs, n, sizeof p->attrs[0], sqs_mattr_cmp);
	/* keep bins aligned with nothing: they are only freed, order does not matter */
	p->m.attrs = p->attrs;
	p->m.n_attrs = n;
	if (n) {
		uint8_t d[16];
		sqs_md5_attrs(p->attrs, n, d);
		sqs_hex(d, 16, p->md5_attrs);
	}
	return 0;
}

static bool fifo_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 128)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* Validates one message (the request or a batch entry) into p. */
static int prepare(sqs_call *sc, json_t *o, const sqs_queue *q, bool batch, prep *p)
{
	api_call *c = &sc->c;
	verr *e = &p->err;
	const char *body, *group, *dedup;
	json_t *attrs, *sysattrs;
	bool has_delay;
	long long delay;
	if (jv_str(c, o, "MessageBody", &body) || jv_int(c, o, "DelaySeconds", &has_delay, &delay) ||
	    jv_obj(c, o, "MessageAttributes", &attrs) || jv_obj(c, o, "MessageSystemAttributes", &sysattrs) ||
	    jv_str(c, o, "MessageGroupId", &group) || jv_str(c, o, "MessageDeduplicationId", &dedup))
		return vfail(e, c->err_type, "%s", c->err_msg);
	if (!body || !*body)
		return vfail(e, "MissingRequiredParameterException", "The request must contain the parameter MessageBody.");
	size_t blen = json_string_length(json_object_get(o, "MessageBody"));
	if (!chars_ok(body, blen))
		return vfail(e, "InvalidMessageContents", "%s", BAD_CHARS);
	if (has_delay && (delay < 0 || delay > 900))
		return vfail(e, "InvalidParameterValueException",
			     "Value %lld for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and "
			     "<= 900.", delay);
	if (dedup)
		return vfail(e, "InvalidParameterValueException",
			     "Value %.128s for parameter MessageDeduplicationId is invalid. Reason: The request includes a "
			     "parameter that is not valid for this queue type.", dedup);
	if (group && !fifo_id_ok(group))
		return vfail(e, "InvalidParameterValueException",
			     "Value %.200s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include "
			     "alphanumeric and punctuation characters. 1 to 128 in length.", group);
	p->size = blen;
	if (attrs && attrs_prepare(attrs, p, e))
		return -1;
	if ((long long)p->size > q->ref.max_bytes)
		return vfail(e, "InvalidParameterValueException",
			     "One or more parameters %s. Reason: Message must be shorter than %lld bytes.",
			     batch ? "cannot be validated" : "are invalid", (long long)q->ref.max_bytes);
	p->m.body = body;
	p->m.body_len = blen;
	p->m.delay_s = has_delay ? delay : q->ref.delay_s;
	p->m.sender = c->who.access_key[0] ? c->who.access_key : c->who.account;
	p->ok = true;
	return 0;
}

typedef struct send_job {
	const uint8_t *qid;
	prep *p;
	size_t n;
	int64_t now_ms;
} send_job;

static bb_err send_apply(db *d, MDB_txn *txn, void *arg)
{
	send_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		if (!j->p[i].ok)
			continue;
		bb_err e = sqs_store_put(d, txn, j->qid, &j->p[i].m, j->now_ms);
		if (e)
			return e;
	}
	return BB_OK;
}

/* Writes the valid messages of p[0..n) durably; -1 with the error set. */
static int store_messages(sqs_call *sc, const sqs_queue *q, prep *p, size_t n)
{
	api_call *c = &sc->c;
	send_job j = {q->ref.qid, p, n, bb_wall_ms(c->n->clock)};
	bb_err e = db_run(c->n->db, send_apply, &j);
	switch (e) {
	case BB_OK:
		sqs_notify(c->n, &q->ref);
		return 0;
	case BB_EBUSY:
		return sqs_error(c, "RequestThrottled", "Request is throttled.");
	default:
		BB_LOGW("sqs", "msg=\"send failed\" err=%s request_id=%s", bb_errname(e), c->request_id);
		return sqs_error(c, "InternalException", "An internal error occurred: %s.", bb_strerror(e));
	}
}

static void md5_body_hex(const prep *p, char out[33]) { sqs_hex(p->m.md5_body, 16, out); }

int sqs_op_send_message(sqs_call *sc)
{
	api_call *c = &sc->c;
	sqs_queue q;
	if (sqs_queue_from_url(sc, &q))
		return -1;
	prep *p = calloc(1, sizeof *p);
	int rc = -1;
	if (!p) {
		sqs_error(c, "InternalException", "out of memory");
	} else if (prepare(sc, c->in, &q, false, p) != 0) {
		if (!c->err_type[0])
			sqs_error(c, p->err.code, "%s", p->err.msg);
	} else if (store_messages(sc, &q, p, 1) == 0) {
		char md5[33];
		md5_body_hex(p, md5);
		c->out = json_pack("{s:s}", "MD5OfMessageBody", md5);
		if (p->md5_attrs[0])
			json_object_set_new(c->out, "MD5OfMessageAttributes", json_string(p->md5_attrs));
		json_object_set_new(c->out, "MessageId", json_string(p->m.msg_id));
		rc = 0;
	}
	if (p)
		prep_free(p);
	free(p);
	sqs_queue_free(&q);
	return rc;
}

static json_t *failed_entry(const char *id, const verr *e)
{
	const sqs_errinfo *ei = sqs_errinfo_of(e->code);
	return json_pack("{s:s, s:b, s:s, s:s}", "Id", id, "SenderFault", 1, "Code",
			 ei && ei->query_code ? ei->query_code : e->code, "Message", e->msg);
}

int sqs_op_send_message_batch(sqs_call *sc)
{
	api_call *c = &sc->c;
	json_t *entries;
	if (jv_arr(c, c->in, "Entries", &entries))
		return -1;
	if (sqs_batch_check(c, entries, "SendMessageBatchRequestEntry"))
		return -1;
	size_t n = json_array_size(entries), total = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(entries, i), *attrs = json_object_get(e, "MessageAttributes");
		total += json_string_length(json_object_get(e, "MessageBody"));
		const char *k;
		json_t *v;
		if (json_is_object(attrs))
			json_object_foreach(attrs, k, v)
			{
				total += strlen(k) + json_string_length(json_object_get(v, "DataType")) +
					 json_string_length(json_object_get(v, "StringValue")) +
					 json_string_length(json_object_get(v, "BinaryValue")) / 4 * 3;
			}
	}
	if (total > BATCH_MAX_BYTES)
		return sqs_error(c, "BatchRequestTooLong",
				 "Batch requests cannot be longer than %d bytes. You have sent %zu bytes.", BATCH_MAX_BYTES,
				 total);
	sqs_queue q;
	if (sqs_queue_from_url(sc, &q))
		return -1;
	prep *p = calloc(n, sizeof *p);
	int rc = -1;
	if (!p) {
		sqs_error(c, "InternalException", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(entries, i);
		p[i].id = json_string_value(json_object_get(e, "Id"));
		prepare(sc, e, &q, true, &p[i]);
		c->err_type[0] = '\0'; /* a wrong-type member fails its entry, not the batch */
	}
	if (store_messages(sc, &q, p, n) != 0)
		goto out;
	json_t *ok = json_array(), *failed = json_array();
	for (size_t i = 0; i < n; i++) {
		if (!p[i].ok) {
			json_array_append_new(failed, failed_entry(p[i].id, &p[i].err));
			continue;
		}
		char md5[33];
		md5_body_hex(&p[i], md5);
		json_t *o = json_pack("{s:s, s:s, s:s}", "Id", p[i].id, "MessageId", p[i].m.msg_id, "MD5OfMessageBody", md5);
		if (p[i].md5_attrs[0])
			json_object_set_new(o, "MD5OfMessageAttributes", json_string(p[i].md5_attrs));
		json_array_append_new(ok, o);
	}
	c->out = json_pack("{s:o, s:o}", "Successful", ok, "Failed", failed);
	rc = 0;
out:
	for (size_t i = 0; p && i < n; i++)
		prep_free(&p[i]);
	free(p);
	sqs_queue_free(&q);
	return rc;
}

/* ---- the delivery engine's way in -------------------------------------------------------------------- */

bb_err sqs_put_txn(node *n, MDB_txn *txn, const sqs_ref *q, const char *body, size_t len, const sqs_attr *attrs,
		   size_t n_attrs, int64_t now_ms, char msg_id[37])
{
	sqs_mattr a[SQS_MAX_MSG_ATTRS];
	if (n_attrs > SQS_MAX_MSG_ATTRS || len == 0 || !chars_ok(body, len))
		return BB_EINVAL;
	size_t size = len;
	for (size_t i = 0; i < n_attrs; i++) {
		size_t vl = strlen(attrs[i].value);
		if (!attr_name_ok(attrs[i].name) || vl == 0 || !chars_ok(attrs[i].value, vl))
			return BB_EINVAL;
		a[i] = (sqs_mattr){.name = attrs[i].name, .name_len = strlen(attrs[i].name), .type = "String",
				   .type_len = 6, .transport = 1, .val = (const uint8_t *)attrs[i].value,
				   .val_len = strlen(attrs[i].value)};
		size += a[i].name_len + 6 + a[i].val_len;
	}
	if ((long long)size > q->max_bytes)
		return BB_ETOOBIG;
	qsort(a, n_attrs, sizeof a[0], sqs_mattr_cmp);
	sqs_msg_in m = {.body = body, .body_len = len, .attrs = a, .n_attrs = n_attrs, .sender = q->account,
			.delay_s = q->delay_s};
	bb_err e = sqs_store_put(n->db, txn, q->qid, &m, now_ms);
	if (e == BB_OK)
		memcpy(msg_id, m.msg_id, 37);
	return e;
}
