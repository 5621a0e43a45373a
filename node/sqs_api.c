/* node/sqs_api.c — the front door of the built-in queues: which requests are SQS, authentication
 * (SigV4 service "sqs"), the operation table, and the two response shapes.
 *
 * Two wire protocols reach the same handlers (docs/api.md, "Built-in queues"):
 *   AWS JSON 1.0  POST / with X-Amz-Target: AmazonSQS.<Op>, application/x-amz-json-1.0 — current SDKs.
 *                 Errors: {"__type": "com.amazonaws.sqs#<Code>", "message"} plus the header
 *                 x-amzn-query-error: <LegacyCode>;Sender, which botocore turns into Error.Code (so
 *                 client.exceptions.QueueDoesNotExist matches AWS.SimpleQueueService.NonExistentQueue).
 *   query         POST (any path) application/x-www-form-urlencoded Action=<Op>&...; XML answers — what
 *                 Debian's botocore 1.29 and aws-cli 2.9 send, since their sqs model is protocol "query".
 * Handlers see the JSON 1.0 request shape either way (sqs_query.c converts) and build the JSON 1.0
 * response, which is serialized as JSON or XML here.
 *
 * Errors come from one table: the JSON code a handler names, the legacy query code, the HTTP status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sqs_int.h"

/* prefixed: the JSON __type carries the service namespace, as AWS sends for modeled SQS errors. */
static const struct sqs_err_row {
	sqs_errinfo info;
	bool prefixed;
} sqs_errors[] = {
	{{"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400}, true},
	{{"QueueNameExists", "QueueAlreadyExists", 400}, true},
	{{"QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400}, true},
	{{"InvalidParameterValueException", "InvalidParameterValue", 400}, true},
	{{"MissingRequiredParameterException", "MissingParameter", 400}, true},
	{{"InvalidAttributeName", "InvalidAttributeName", 400}, true},
	{{"InvalidAttributeValue", "InvalidAttributeValue", 400}, true},
	{{"InvalidMessageContents", "InvalidMessageContents", 400}, true},
	{{"EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400}, true},
	{{"TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400}, true},
	{{"BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400}, true},
	{{"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400}, true},
	{{"InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400}, true},
	{{"PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403}, true},
	{{"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400}, true},
	{{"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400}, true},
	{{"OverLimit", "OverLimit", 403}, true},
	{{"RequestThrottled", "RequestThrottled", 400}, true},
	{{"InvalidAddress", "InvalidAddress", 400}, true},
	{{"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400}, true},
	{{"InvalidAction", "InvalidAction", 400}, false},
	{{"MissingAction", "MissingAction", 400}, false},
	/* shared with the EventBridge front door (api.c): keep their JSON code, give query clients AWS's */
	{{"MissingAuthenticationTokenException", "MissingAuthenticationToken", 403}, false},
	{{"IncompleteSignatureException", "IncompleteSignature", 400}, false},
	{{"UnrecognizedClientException", "InvalidClientTokenId", 403}, false},
	{{"InvalidSignatureException", "SignatureDoesNotMatch", 403}, false},
	{{"ThrottlingException", "RequestThrottled", 400}, false},
	{{"ConcurrentModificationException", "RequestThrottled", 400}, false},
	{{"ValidationException", "InvalidParameterValue", 400}, false},
	{{"SerializationException", NULL, 400}, false},
	{{"InternalException", "InternalError", 500}, false},
};

static const struct sqs_err_row *err_row(const char *code)
{
	for (size_t i = 0; i < BB_ARRAY_LEN(sqs_errors); i++)
		if (strcmp(sqs_errors[i].info.code, code) == 0)
			return &sqs_errors[i];
	return NULL;
}

const sqs_errinfo *sqs_errinfo_of(const char *code)
{
	const struct sqs_err_row *r = err_row(code);
	return r ? &r->info : NULL;
}

int sqs_error(api_call *c, const char *code, const char *fmt, ...)
{
	if (c->err_type[0])
		return -1;
	const sqs_errinfo *ei = sqs_errinfo_of(code);
	c->status = ei ? ei->status : 400;
	snprintf(c->err_type, sizeof c->err_type, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
	va_end(ap);
	return -1;
}

int sqs_missing(api_call *c, const char *member)
{
	return sqs_error(c, "MissingRequiredParameterException", "The request must contain the parameter %s.", member);
}

/* ---- operations ------------------------------------------------------------------------------ */

static const struct {
	const char *name;
	sqs_op_fn fn;
} sqs_ops[] = {
	{"CreateQueue", sqs_op_create_queue},
	{"GetQueueUrl", sqs_op_get_queue_url},
	{"ListQueues", sqs_op_list_queues},
	{"DeleteQueue", sqs_op_delete_queue},
	{"GetQueueAttributes", sqs_op_get_queue_attributes},
	{"SetQueueAttributes", sqs_op_set_queue_attributes},
	{"PurgeQueue", sqs_op_purge_queue},
	{"TagQueue", sqs_op_tag_queue},
	{"UntagQueue", sqs_op_untag_queue},
	{"ListQueueTags", sqs_op_list_queue_tags},
	{"SendMessage", sqs_op_send_message},
	{"SendMessageBatch", sqs_op_send_message_batch},
	{"ReceiveMessage", sqs_op_receive_message},
	{"DeleteMessage", sqs_op_delete_message},
	{"DeleteMessageBatch", sqs_op_delete_message_batch},
	{"ChangeMessageVisibility", sqs_op_change_message_visibility},
	{"ChangeMessageVisibilityBatch", sqs_op_change_message_visibility_batch},
};

static int find_op(const char *name, sqs_op_fn *fn, const char **canon)
{
	for (size_t i = 0; i < BB_ARRAY_LEN(sqs_ops); i++) {
		if (strcmp(sqs_ops[i].name, name) == 0) {
			*fn = sqs_ops[i].fn;
			*canon = sqs_ops[i].name;
			return 0;
		}
	}
	return -1;
}

/* ---- routing ----------------------------------------------------------------------------------- */

static const char *header(const api_request *rq, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < rq->n_headers; i++)
		if (rq->headers[i].name_len == nl && strncasecmp(rq->headers[i].name, name, nl) == 0)
			return rq->headers[i].value;
	return NULL;
}

static bool query_has_action(const char *q)
{
	for (const char *p = q; p && *p;) {
		if (strncmp(p, "Action=", 7) == 0)
			return true;
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return false;
}

int sqs_route(const api_request *rq)
{
	if (rq->target)
		return strncmp(rq->target, "AmazonSQS.", 10) == 0 ? SQS_PROTO_JSON : SQS_PROTO_NONE;
	const char *ct = header(rq, "Content-Type");
	if (strcmp(rq->method, "POST") == 0 && ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
		return SQS_PROTO_QUERY;
	if (query_has_action(rq->query))
		return SQS_PROTO_QUERY;
	return SQS_PROTO_NONE;
}

/* ---- one call ---------------------------------------------------------------------------------- */

static int run(sqs_call *sc, const api_request *rq, const char **op_out)
{
	api_call *c = &sc->c;
	sqs_op_fn fn = NULL;
	const char *op = NULL;
	if (api_authenticate(c, rq, "sqs") != 0)
		return -1;
	if (sc->proto == SQS_PROTO_JSON) {
		if (find_op(rq->target + 10, &fn, &op) != 0)
			return api_error(c, 400, "UnknownOperationException", "%s", "");
		c->op = op;
		json_error_t jerr;
		c->in = rq->body_len ? json_loadb((const char *)rq->body, rq->body_len, JSON_ALLOW_NUL, &jerr)
				     : json_object();
		if (!c->in || !json_is_object(c->in))
			return sqs_error(c, "SerializationException", "%s",
					 c->in ? "Start of structure or map found where not expected." : jerr.text);
	} else {
		char action[64];
		if (sqs_query_decode(c, rq, action, sizeof action, &c->in) != 0)
			return -1;
		if (find_op(action, &fn, &op) != 0)
			return sqs_error(c, "InvalidAction", "The action %s is not valid for this endpoint.", action);
		c->op = op;
	}
	*op_out = op;
	return fn(sc);
}

static char *json_error_body(const char *code, const char *msg)
{
	const struct sqs_err_row *r = err_row(code);
	char type[160];
	snprintf(type, sizeof type, "%s%s", r && r->prefixed ? "com.amazonaws.sqs#" : "", code);
	return api_error_body(type, msg);
}

int sqs_handle(node *n, const api_request *rq, int proto, char **resp_body, const char **content_type,
	       char request_id[37], const char **err_type, const char **query_error)
{
	sqs_call sc;
	memset(&sc, 0, offsetof(sqs_call, c) + offsetof(api_call, err_msg));
	sc.c.err_msg[0] = '\0';
	api_call *c = &sc.c;
	c->n = n;
	c->op = "?";
	sc.proto = proto;
	sc.path = rq->path;
	const char *host = header(rq, "Host");
	snprintf(sc.host, sizeof sc.host, "%s", host && *host ? host : n->listen);
	bb_uuid4(&bb_rng_system, c->request_id);
	memcpy(request_id, c->request_id, 37);
	*content_type = proto == SQS_PROTO_JSON ? "application/x-amz-json-1.0" : "text/xml";
	*err_type = NULL;
	*query_error = NULL;

	const char *op = NULL;
	int rc = run(&sc, rq, &op);
	int status = 200;
	if (rc != 0 || c->err_type[0]) {
		const sqs_errinfo *ei = sqs_errinfo_of(c->err_type);
		status = ei && ei->status ? ei->status : (c->status ? c->status : 400);
		const char *qcode = ei ? ei->query_code : c->err_type;
		bool sender = status < 500;
		if (proto == SQS_PROTO_JSON) {
			*resp_body = json_error_body(c->err_type, c->err_msg);
			static __thread char type_buf[64], qerr_buf[128];
			snprintf(type_buf, sizeof type_buf, "%s", c->err_type);
			*err_type = type_buf;
			if (qcode) {
				snprintf(qerr_buf, sizeof qerr_buf, "%s;%s", qcode, sender ? "Sender" : "Receiver");
				*query_error = qerr_buf;
			}
		} else {
			const char *msg = c->err_msg;
			if (strcmp(c->err_type, "QueueDoesNotExist") == 0) /* AWS's query wording */
				msg = "The specified queue does not exist for this wsdl version.";
			*resp_body = sqs_query_error(qcode ? qcode : c->err_type, sender, msg, c->request_id);
		}
		if (status >= 500)
			BB_LOGW("sqs", "msg=\"request failed\" op=%s type=%s request_id=%s", c->op, c->err_type,
				c->request_id);
		else
			BB_LOGD("sqs", "msg=\"request rejected\" op=%s type=%s request_id=%s", c->op, c->err_type,
				c->request_id);
	} else if (proto == SQS_PROTO_JSON) {
		if (c->out_raw) {
			*resp_body = c->out_raw;
			c->out_raw = NULL;
		} else {
			*resp_body = c->out ? json_dumps(c->out, JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("{}");
		}
	} else {
		*resp_body = sqs_query_result(op, c->out, c->request_id);
	}
	if (!*resp_body) {
		*resp_body = strdup("{\"__type\":\"InternalException\",\"message\":\"out of memory\"}");
		status = 500;
	}
	if (c->snap)
		meta_snap_release(c->snap);
	json_decref(c->in);
	json_decref(c->out);
	free(c->out_raw);
	return status;
}

/* ---- shared batch checks ------------------------------------------------------------------------ */

static bool batch_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > 80)
		return false;
	for (const char *p = id; *p; p++) {
		char ch = *p;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return true;
}

int sqs_batch_check(api_call *c, json_t *entries, const char *entry_name)
{
	if (!entries || json_array_size(entries) == 0)
		return sqs_error(c, "EmptyBatchRequest", "There should be at least one %s in the request.", entry_name);
	size_t n = json_array_size(entries);
	if (n > SQS_MAX_BATCH)
		return sqs_error(c, "TooManyEntriesInBatchRequest",
				 "Maximum number of entries per request are %d. You have sent %zu.", SQS_MAX_BATCH, n);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(entries, i);
		const char *id;
		if (!json_is_object(e))
			return sqs_error(c, "SerializationException", "Entries must be a list of structures.");
		if (jv_str(c, e, "Id", &id))
			return -1;
		if (!id)
			return sqs_missing(c, "Id");
		if (!batch_id_ok(id))
			return sqs_error(c, "InvalidBatchEntryId",
					 "A batch entry id can only contain alphanumeric characters, hyphens and "
					 "underscores. It can be at most 80 letters long.");
		for (size_t j = 0; j < i; j++) {
			const char *other = json_string_value(json_object_get(json_array_get(entries, j), "Id"));
			if (other && strcmp(other, id) == 0)
				return sqs_error(c, "BatchEntryIdsNotDistinct", "Id %s repeated.", id);
		}
	}
	return 0;
}
