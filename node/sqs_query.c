/* node/sqs_query.c — the SQS query protocol (form-encoded requests, XML responses), for clients whose
 * sqs model is protocol "query" (Debian's botocore 1.29 and aws-cli 2.9 are).
 *
 * A small model of each operation's input and output drives both directions, so the handlers see one
 * canonical shape — the AWS JSON 1.0 request — and produce the JSON 1.0 response:
 *   request   Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5   →  {"Attributes": {"VisibilityTimeout": "5"}}
 *             MessageAttribute.1.Value.StringValue=... (flattened maps), AttributeName.1=All (flattened lists),
 *             integers and booleans as text, blobs as base64 (as in JSON)
 *   response  <XResponse xmlns=...><XResult> members in model order; lists and maps flattened
 *             (<Message>..</Message><Message>..</Message>, <Attribute><Name/><Value/></Attribute>)
 *             </XResult><ResponseMetadata><RequestId/></ResponseMetadata></XResponse>
 *   error     <ErrorResponse><Error><Type>Sender</Type><Code/><Message/><Detail/></Error><RequestId/></ErrorResponse>
 * Every list and map in the SQS model is flattened, so an element is named by its member's query name.
 * Bounds: at most QUERY_MAX_PARAMS parameters per request; lookups are linear in that bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs_int.h"

#define QUERY_MAX_PARAMS 2048

typedef enum { SH_STR, SH_INT, SH_BOOL, SH_STRUCT, SH_LIST, SH_MAP } sh_kind;
typedef struct shape shape;
typedef struct member {
	const char *json, *query;
	const shape *sh;
} member;
struct shape {
	sh_kind kind;
	const member *m; /* SH_STRUCT members */
	size_t n;
	const shape *elem;         /* SH_LIST element, SH_MAP value */
	const char *key_q, *val_q; /* SH_MAP entry element names */
};

#define STRUCT(name, ...)                                                                                      \
	static const member name##_m[] = {__VA_ARGS__};                                                         \
	static const shape name = {SH_STRUCT, name##_m, BB_ARRAY_LEN(name##_m), NULL, NULL, NULL}

static const shape S_STR = {SH_STR, NULL, 0, NULL, NULL, NULL};
static const shape S_INT = {SH_INT, NULL, 0, NULL, NULL, NULL};
static const shape S_BOOL = {SH_BOOL, NULL, 0, NULL, NULL, NULL};
static const shape S_STRS = {SH_LIST, NULL, 0, &S_STR, NULL, NULL};
static const shape S_ATTRS = {SH_MAP, NULL, 0, &S_STR, "Name", "Value"};
static const shape S_TAGS = {SH_MAP, NULL, 0, &S_STR, "Key", "Value"};
STRUCT(S_MAV, {"StringValue", "StringValue", &S_STR}, {"BinaryValue", "BinaryValue", &S_STR},
       {"StringListValues", "StringListValue", &S_STRS}, {"BinaryListValues", "BinaryListValue", &S_STRS},
       {"DataType", "DataType", &S_STR});
static const shape S_MAVS = {SH_MAP, NULL, 0, &S_MAV, "Name", "Value"};

/* inputs */
STRUCT(I_CREATE, {"QueueName", "QueueName", &S_STR}, {"Attributes", "Attribute", &S_ATTRS}, {"tags", "Tag", &S_TAGS});
STRUCT(I_GETURL, {"QueueName", "QueueName", &S_STR}, {"QueueOwnerAWSAccountId", "QueueOwnerAWSAccountId", &S_STR});
STRUCT(I_LIST, {"QueueNamePrefix", "QueueNamePrefix", &S_STR}, {"NextToken", "NextToken", &S_STR},
       {"MaxResults", "MaxResults", &S_INT});
STRUCT(I_URL, {"QueueUrl", "QueueUrl", &S_STR});
STRUCT(I_GETATTR, {"QueueUrl", "QueueUrl", &S_STR}, {"AttributeNames", "AttributeName", &S_STRS});
STRUCT(I_SETATTR, {"QueueUrl", "QueueUrl", &S_STR}, {"Attributes", "Attribute", &S_ATTRS});
STRUCT(I_TAG, {"QueueUrl", "QueueUrl", &S_STR}, {"Tags", "Tag", &S_TAGS});
STRUCT(I_UNTAG, {"QueueUrl", "QueueUrl", &S_STR}, {"TagKeys", "TagKey", &S_STRS});
#define SEND_MEMBERS                                                                                            \
	{"MessageBody", "MessageBody", &S_STR}, {"DelaySeconds", "DelaySeconds", &S_INT},                       \
		{"MessageAttributes", "MessageAttribute", &S_MAVS},                                             \
		{"MessageSystemAttributes", "MessageSystemAttribute", &S_MAVS},                                 \
		{"MessageDeduplicationId", "MessageDeduplicationId", &S_STR},                                   \
		{"MessageGroupId", "MessageGroupId", &S_STR}
STRUCT(I_SEND, {"QueueUrl", "QueueUrl", &S_STR}, SEND_MEMBERS);
STRUCT(S_SEND_ENTRY, {"Id", "Id", &S_STR}, SEND_MEMBERS);
static const shape S_SEND_ENTRIES = {SH_LIST, NULL, 0, &S_SEND_ENTRY, NULL, NULL};
STRUCT(I_SENDB, {"QueueUrl", "QueueUrl", &S_STR}, {"Entries", "SendMessageBatchRequestEntry", &S_SEND_ENTRIES});
STRUCT(I_RECV, {"QueueUrl", "QueueUrl", &S_STR}, {"AttributeNames", "AttributeName", &S_STRS},
       {"MessageSystemAttributeNames", "MessageSystemAttributeName", &S_STRS},
       {"MessageAttributeNames", "MessageAttributeName", &S_STRS}, {"MaxNumberOfMessages", "MaxNumberOfMessages", &S_INT},
       {"VisibilityTimeout", "VisibilityTimeout", &S_INT}, {"WaitTimeSeconds", "WaitTimeSeconds", &S_INT},
       {"ReceiveRequestAttemptId", "ReceiveRequestAttemptId", &S_STR});
STRUCT(I_DEL, {"QueueUrl", "QueueUrl", &S_STR}, {"ReceiptHandle", "ReceiptHandle", &S_STR});
STRUCT(S_DEL_ENTRY, {"Id", "Id", &S_STR}, {"ReceiptHandle", "ReceiptHandle", &S_STR});
static const shape S_DEL_ENTRIES = {SH_LIST, NULL, 0, &S_DEL_ENTRY, NULL, NULL};
STRUCT(I_DELB, {"QueueUrl", "QueueUrl", &S_STR}, {"Entries", "DeleteMessageBatchRequestEntry", &S_DEL_ENTRIES});
STRUCT(I_VIS, {"QueueUrl", "QueueUrl", &S_STR}, {"ReceiptHandle", "ReceiptHandle", &S_STR},
       {"VisibilityTimeout", "VisibilityTimeout", &S_INT});
STRUCT(S_VIS_ENTRY, {"Id", "Id", &S_STR}, {"ReceiptHandle", "ReceiptHandle", &S_STR},
       {"VisibilityTimeout", "VisibilityTimeout", &S_INT});
static const shape S_VIS_ENTRIES = {SH_LIST, NULL, 0, &S_VIS_ENTRY, NULL, NULL};
STRUCT(I_VISB, {"QueueUrl", "QueueUrl", &S_STR},
       {"Entries", "ChangeMessageVisibilityBatchRequestEntry", &S_VIS_ENTRIES});

/* outputs */
STRUCT(O_URL, {"QueueUrl", "QueueUrl", &S_STR});
STRUCT(O_LIST, {"QueueUrls", "QueueUrl", &S_STRS}, {"NextToken", "NextToken", &S_STR});
STRUCT(O_ATTRS, {"Attributes", "Attribute", &S_ATTRS});
STRUCT(O_TAGS, {"Tags", "Tag", &S_TAGS});
STRUCT(O_SEND, {"MD5OfMessageBody", "MD5OfMessageBody", &S_STR},
       {"MD5OfMessageAttributes", "MD5OfMessageAttributes", &S_STR},
       {"MD5OfMessageSystemAttributes", "MD5OfMessageSystemAttributes", &S_STR}, {"MessageId", "MessageId", &S_STR},
       {"SequenceNumber", "SequenceNumber", &S_STR});
STRUCT(S_SEND_OK, {"Id", "Id", &S_STR}, {"MessageId", "MessageId", &S_STR},
       {"MD5OfMessageBody", "MD5OfMessageBody", &S_STR}, {"MD5OfMessageAttributes", "MD5OfMessageAttributes", &S_STR},
       {"MD5OfMessageSystemAttributes", "MD5OfMessageSystemAttributes", &S_STR},
       {"SequenceNumber", "SequenceNumber", &S_STR});
STRUCT(S_FAILED, {"Id", "Id", &S_STR}, {"SenderFault", "SenderFault", &S_BOOL}, {"Code", "Code", &S_STR},
       {"Message", "Message", &S_STR});
static const shape S_SEND_OKS = {SH_LIST, NULL, 0, &S_SEND_OK, NULL, NULL};
static const shape S_FAILEDS = {SH_LIST, NULL, 0, &S_FAILED, NULL, NULL};
STRUCT(O_SENDB, {"Successful", "SendMessageBatchResultEntry", &S_SEND_OKS}, {"Failed", "BatchResultErrorEntry", &S_FAILEDS});
STRUCT(S_MSG, {"MessageId", "MessageId", &S_STR}, {"ReceiptHandle", "ReceiptHandle", &S_STR},
       {"MD5OfBody", "MD5OfBody", &S_STR}, {"Body", "Body", &S_STR}, {"Attributes", "Attribute", &S_ATTRS},
       {"MD5OfMessageAttributes", "MD5OfMessageAttributes", &S_STR},
       {"MessageAttributes", "MessageAttribute", &S_MAVS});
static const shape S_MSGS = {SH_LIST, NULL, 0, &S_MSG, NULL, NULL};
STRUCT(O_RECV, {"Messages", "Message", &S_MSGS});
STRUCT(S_ID, {"Id", "Id", &S_STR});
static const shape S_IDS = {SH_LIST, NULL, 0, &S_ID, NULL, NULL};
STRUCT(O_DELB, {"Successful", "DeleteMessageBatchResultEntry", &S_IDS}, {"Failed", "BatchResultErrorEntry", &S_FAILEDS});
STRUCT(O_VISB, {"Successful", "ChangeMessageVisibilityBatchResultEntry", &S_IDS},
       {"Failed", "BatchResultErrorEntry", &S_FAILEDS});

static const struct {
	const char *op;
	const shape *in, *out;
} query_ops[] = {
	{"CreateQueue", &I_CREATE, &O_URL},
	{"GetQueueUrl", &I_GETURL, &O_URL},
	{"ListQueues", &I_LIST, &O_LIST},
	{"DeleteQueue", &I_URL, NULL},
	{"GetQueueAttributes", &I_GETATTR, &O_ATTRS},
	{"SetQueueAttributes", &I_SETATTR, NULL},
	{"PurgeQueue", &I_URL, NULL},
	{"TagQueue", &I_TAG, NULL},
	{"UntagQueue", &I_UNTAG, NULL},
	{"ListQueueTags", &I_URL, &O_TAGS},
	{"SendMessage", &I_SEND, &O_SEND},
	{"SendMessageBatch", &I_SENDB, &O_SENDB},
	{"ReceiveMessage", &I_RECV, &O_RECV},
	{"DeleteMessage", &I_DEL, NULL},
	{"DeleteMessageBatch", &I_DELB, &O_DELB},
	{"ChangeMessageVisibility", &I_VIS, NULL},
	{"ChangeMessageVisibilityBatch", &I_VISB, &O_VISB},
};

static int find_query_op(const char *op)
{
	for (size_t i = 0; i < BB_ARRAY_LEN(query_ops); i++)
		if (strcmp(query_ops[i].op, op) == 0)
			return (int)i;
	return -1;
}

/* ---- form decoding ------------------------------------------------------------------------------ */

typedef struct kv {
	char *k, *v;
	size_t klen, vlen;
} kv;

typedef struct form {
	kv p[QUERY_MAX_PARAMS];
	size_t n;
	bool overflow;
} form;


/* Decodes [s, s+len) (application/x-www-form-urlencoded: '+' is a space) into a malloc'd buffer. */
static char *url_decode(const char *s, size_t len, size_t *out_len)
{
	char *o = malloc(len + 1);
	if (!o)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '+')
			o[j++] = ' ';
		else if (s[i] == '%' && i + 2 < len && (hi = bb_hexval(s[i + 1])) >= 0 && (lo = bb_hexval(s[i + 2])) >= 0) {
			o[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			o[j++] = s[i];
	}
	o[j] = '\0';
	*out_len = j;
	return o;
}

static void form_parse(form *f, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && s[end] != '&')
			end++;
		if (end > i) {
			if (f->n >= QUERY_MAX_PARAMS) {
				f->overflow = true;
				return;
			}
			size_t eq = i;
			while (eq < end && s[eq] != '=')
				eq++;
			kv *p = &f->p[f->n];
			p->k = url_decode(s + i, eq - i, &p->klen);
			p->v = url_decode(s + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0, &p->vlen);
			if (!p->k || !p->v) {
				free(p->k);
				free(p->v);
				f->overflow = true;
				return;
			}
			f->n++;
		}
		i = end + 1;
	}
}

static void form_free(form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->p[i].k);
		free(f->p[i].v);
	}
}

static const kv *form_get(const form *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->p[i].k, key) == 0)
			return &f->p[i];
	return NULL;
}

static bool form_has_prefix(const form *f, const char *prefix)
{
	size_t pl = strlen(prefix);
	for (size_t i = 0; i < f->n; i++)
		if (strncmp(f->p[i].k, prefix, pl) == 0)
			return true;
	return false;
}

/* Converts the parameters under key (per sh) to JSON: a new reference, NULL when absent. -1 in *err
 * with the call's error set. */
static json_t *convert(api_call *c, const form *f, const shape *sh, const char *key, const char *member, int *err)
{
	char sub[512], sub2[600];
	switch (sh->kind) {
	case SH_STR:
	case SH_INT:
	case SH_BOOL: {
		const kv *p = form_get(f, key);
		if (!p)
			return NULL;
		if (sh->kind == SH_STR) {
			json_t *s = json_stringn(p->v, p->vlen);
			if (!s) {
				*err = strcmp(member, "MessageBody") == 0
					       ? sqs_error(c, "InvalidMessageContents",
							   "Invalid characters found. Valid unicode characters are #x9 | #xA | "
							   "#xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
					       : sqs_error(c, "InvalidParameterValueException",
							   "Value for parameter %s is invalid. Reason: not valid UTF-8.", member);
			}
			return s;
		}
		if (sh->kind == SH_BOOL) {
			if (strcmp(p->v, "true") && strcmp(p->v, "false")) {
				*err = sqs_error(c, "InvalidParameterValueException",
						 "Value %.64s for parameter %s is invalid. Reason: Must be a boolean.", p->v, member);
				return NULL;
			}
			return json_boolean(strcmp(p->v, "true") == 0);
		}
		char *end;
		long long v = strtoll(p->v, &end, 10);
		if (!p->vlen || *end || p->vlen > 20) {
			*err = sqs_error(c, "InvalidParameterValueException",
					 "Value %.64s for parameter %s is invalid. Reason: Must be an integer.", p->v, member);
			return NULL;
		}
		return json_integer(v);
	}
	case SH_STRUCT: {
		json_t *o = NULL;
		for (size_t i = 0; i < sh->n; i++) {
			snprintf(sub, sizeof sub, "%s%s%s", key, key[0] ? "." : "", sh->m[i].query);
			json_t *v = convert(c, f, sh->m[i].sh, sub, sh->m[i].json, err);
			if (*err) {
				json_decref(o);
				return NULL;
			}
			if (v) {
				if (!o)
					o = json_object();
				json_object_set_new(o, sh->m[i].json, v);
			}
		}
		return o;
	}
	case SH_LIST: {
		json_t *a = NULL;
		for (size_t i = 1; i <= f->n; i++) {
			snprintf(sub, sizeof sub, "%s.%zu", key, i);
			snprintf(sub2, sizeof sub2, "%s.", sub);
			json_t *v = NULL;
			if (sh->elem->kind == SH_STRUCT ? form_has_prefix(f, sub2) : form_get(f, sub) != NULL)
				v = convert(c, f, sh->elem, sub, member, err);
			if (*err) {
				json_decref(a);
				return NULL;
			}
			if (!v)
				break;
			if (!a)
				a = json_array();
			json_array_append_new(a, v);
		}
		return a;
	}
	case SH_MAP: {
		json_t *o = NULL;
		for (size_t i = 1; i <= f->n; i++) {
			snprintf(sub, sizeof sub, "%s.%zu.%s", key, i, sh->key_q);
			const kv *k = form_get(f, sub);
			if (!k)
				break;
			snprintf(sub, sizeof sub, "%s.%zu.%s", key, i, sh->val_q);
			json_t *v = convert(c, f, sh->elem, sub, member, err);
			if (*err) {
				json_decref(o);
				return NULL;
			}
			if (!o)
				o = json_object();
			if (memchr(k->v, 0, k->vlen) == NULL)
				json_object_set_new(o, k->v, v ? v : json_string(""));
			else
				json_decref(v);
		}
		return o;
	}
	}
	return NULL;
}

int sqs_query_decode(api_call *c, const api_request *rq, char *action, size_t cap, json_t **in)
{
	form *f = calloc(1, sizeof *f);
	if (!f)
		return sqs_error(c, "InternalException", "out of memory");
	if (rq->query)
		form_parse(f, rq->query, strlen(rq->query));
	form_parse(f, (const char *)rq->body, rq->body_len);
	int rc = -1;
	const kv *a = form_get(f, "Action");
	if (f->overflow) {
		sqs_error(c, "InvalidParameterValueException", "Too many parameters (at most %d).", QUERY_MAX_PARAMS);
	} else if (!a) {
		sqs_error(c, "MissingAction", "The request must contain the parameter Action.");
	} else {
		int op = find_query_op(a->v);
		if (op < 0) {
			sqs_error(c, "InvalidAction", "The action %.64s is not valid for this endpoint.", a->v);
		} else {
			snprintf(action, cap, "%s", query_ops[op].op);
			int err = 0;
			json_t *o = convert(c, f, query_ops[op].in, "", "", &err);
			if (!err) {
				*in = o ? o : json_object();
				rc = 0;
			}
		}
	}
	form_free(f);
	free(f);
	return rc;
}

/* ---- XML output ----------------------------------------------------------------------------------- */

typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_esc(sbuf *b, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\r': rep = "&#xD;"; break; /* XML parsers would turn a raw CR into LF */
		default: break;
		}
		if (rep) {
			sb_add(b, s + run, i - run);
			sb_str(b, rep);
			run = i + 1;
		}
	}
	sb_add(b, s + run, n - run);
}

static void open_tag(sbuf *b, const char *name)
{
	sb_str(b, "<");
	sb_str(b, name);
	sb_str(b, ">");
}

static void close_tag(sbuf *b, const char *name)
{
	sb_str(b, "</");
	sb_str(b, name);
	sb_str(b, ">");
}

static void write_members(sbuf *b, const shape *sh, json_t *obj);

static void write_value(sbuf *b, const char *name, const shape *sh, json_t *v)
{
	char num[32];
	switch (sh->kind) {
	case SH_STR:
	case SH_INT:
	case SH_BOOL:
		open_tag(b, name);
		if (json_is_string(v)) {
			sb_esc(b, json_string_value(v), json_string_length(v));
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
			sb_str(b, num);
		} else if (json_is_boolean(v)) {
			sb_str(b, json_is_true(v) ? "true" : "false");
		}
		close_tag(b, name);
		break;
	case SH_STRUCT:
		open_tag(b, name);
		write_members(b, sh, v);
		close_tag(b, name);
		break;
	case SH_LIST: {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) write_value(b, name, sh->elem, e);
		break;
	}
	case SH_MAP: {
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e)
		{
			open_tag(b, name);
			open_tag(b, sh->key_q);
			sb_esc(b, k, strlen(k));
			close_tag(b, sh->key_q);
			write_value(b, sh->val_q, sh->elem, e);
			close_tag(b, name);
		}
		break;
	}
	}
}

static void write_members(sbuf *b, const shape *sh, json_t *obj)
{
	for (size_t i = 0; i < sh->n; i++) {
		json_t *v = json_object_get(obj, sh->m[i].json);
		if (v && !json_is_null(v))
			write_value(b, sh->m[i].query, sh->m[i].sh, v);
	}
}

char *sqs_query_result(const char *op, json_t *out, const char *request_id)
{
	int i = find_query_op(op);
	sbuf b = {0};
	sb_str(&b, "<?xml version=\"1.0\"?><");
	sb_str(&b, op);
	sb_str(&b, "Response xmlns=\"" SQS_XMLNS "\">");
	if (i >= 0 && query_ops[i].out) {
		char tag[80];
		snprintf(tag, sizeof tag, "%sResult", op);
		open_tag(&b, tag);
		write_members(&b, query_ops[i].out, out);
		close_tag(&b, tag);
	}
	sb_str(&b, "<ResponseMetadata><RequestId>");
	sb_str(&b, request_id);
	sb_str(&b, "</RequestId></ResponseMetadata></");
	sb_str(&b, op);
	sb_str(&b, "Response>");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *sqs_query_error(const char *code, bool sender, const char *msg, const char *request_id)
{
	sbuf b = {0};
	sb_str(&b, "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"" SQS_XMLNS "\"><Error><Type>");
	sb_str(&b, sender ? "Sender" : "Receiver");
	sb_str(&b, "</Type><Code>");
	sb_esc(&b, code, strlen(code));
	sb_str(&b, "</Code><Message>");
	sb_esc(&b, msg, strlen(msg));
	sb_str(&b, "</Message><Detail/></Error><RequestId>");
	sb_str(&b, request_id);
	sb_str(&b, "</RequestId></ErrorResponse>");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
