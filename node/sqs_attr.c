/* node/sqs_attr.c — queue attributes: the table of settable attributes (range, default, kind), their
 * validation into canonical strings for the queue record, the numbers a sqs_ref carries, and
 * GetQueueAttributes.
 *
 * AWS's rules kept here: numbers are decimal integers in range (InvalidAttributeValue "Invalid value
 * for the parameter X." otherwise); unknown names, read-only names and the FIFO attributes are
 * InvalidAttributeName ("Unknown Attribute X.", or "You can specify the X only when FifoQueue is set
 * to true."); an empty value removes an optional attribute (Policy, RedrivePolicy, ...). Policy and
 * RedriveAllowPolicy are stored and returned but not enforced; RedrivePolicy is (sqs_recv.c).
 * GetQueueAttributes returns only what was asked for ("All" = everything present), in AWS's
 * alphabetical order; the Approximate* counts come from the store (sqs_store_counts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sqs_int.h"

enum { A_NUM, A_BOOL, A_JSON, A_STR, A_REDRIVE };
static const struct qattr {
	const char *name;
	int kind;
	long long min, max;
	const char *def; /* stored at creation; NULL = absent until set */
} qattrs[] = {
	{"DelaySeconds", A_NUM, 0, 900, "0"},
	{"MaximumMessageSize", A_NUM, 1024, 1048576, "1048576"},
	{"MessageRetentionPeriod", A_NUM, 60, 1209600, "345600"},
	{"ReceiveMessageWaitTimeSeconds", A_NUM, 0, 20, "0"},
	{"VisibilityTimeout", A_NUM, 0, SQS_MAX_VISIBILITY_S, "30"},
	{"SqsManagedSseEnabled", A_BOOL, 0, 0, "true"},
	{"Policy", A_JSON, 0, 0, NULL},
	{"RedrivePolicy", A_REDRIVE, 0, 0, NULL},
	{"RedriveAllowPolicy", A_JSON, 0, 0, NULL},
	{"KmsMasterKeyId", A_STR, 0, 0, NULL},
	{"KmsDataKeyReusePeriodSeconds", A_NUM, 60, 86400, NULL},
};
/* Computed attributes: readable, never settable. */
static const char *const computed_attrs[] = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
					     "ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp",
					     "LastModifiedTimestamp", "QueueArn"};
/* FIFO-only attributes: known names, never present on a standard queue. */
static const char *const fifo_attrs[] = {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
					 "FifoThroughputLimit"};

static const struct qattr *qattr_find(const char *name)
{
	for (size_t i = 0; i < BB_ARRAY_LEN(qattrs); i++)
		if (strcmp(qattrs[i].name, name) == 0)
			return &qattrs[i];
	return NULL;
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static bool parse_ll(const char *s, long long *out)
{
	char *end;
	if (!*s || strlen(s) > 19)
		return false;
	for (const char *p = s; *p; p++)
		if ((*p < '0' || *p > '9') && !(p == s && *p == '-'))
			return false;
	*out = strtoll(s, &end, 10);
	return *end == '\0';
}

/* Resolves a dead-letter ARN of the caller's account in this region into its record id. */
static int redrive_check(sqs_call *sc, const char *value, const char *self, json_t **canon)
{
	api_call *c = &sc->c;
	json_error_t jerr;
	json_t *o = json_loads(value, 0, &jerr);
	const char *arn = json_string_value(json_object_get(o, "deadLetterTargetArn"));
	json_t *mrc = json_object_get(o, "maxReceiveCount");
	long long count = -1;
	if (json_is_integer(mrc))
		count = json_integer_value(mrc);
	else if (json_is_string(mrc) && !parse_ll(json_string_value(mrc), &count))
		count = -1;
	int rc = 0;
	sqs_ref ref;
	if (!json_is_object(o) || !arn || !mrc)
		rc = sqs_error(c, "InvalidParameterValueException",
			       "Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a dict or "
			       "valid json.", value);
	else if (strncmp(arn, "arn:", 4) != 0)
		rc = sqs_error(c, "InvalidParameterValueException",
			       "Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for "
			       "deadLetterTargetArn.", value);
	else if (count < 1 || count > 1000)
		rc = sqs_error(c, "InvalidParameterValueException",
			       "Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: "
			       "%lld, valid values are from 1 to 1000 both inclusive.", value, count);
	else if (sqs_resolve_arn(c->n, api_snap(c), arn, &ref) != BB_OK || strcmp(ref.account, c->who.account) != 0)
		rc = sqs_error(c, "InvalidParameterValueException",
			       "Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter target does not exist.",
			       value);
	else if (self && strcmp(ref.name, self) == 0)
		rc = sqs_error(c, "InvalidParameterValueException",
			       "Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter target can not be the "
			       "queue itself.", value);
	if (rc == 0)
		*canon = json_pack("{s:s, s:I}", "deadLetterTargetArn", arn, "maxReceiveCount", (json_int_t)count);
	json_decref(o);
	return rc;
}

/* Validates an Attributes member into a map of canonical strings (new reference in *out; "" means
 * remove for optional attributes). self: the queue's name (for RedrivePolicy). */
int sqs_attrs_validate(sqs_call *sc, json_t *attrs, const char *self, json_t **out)
{
	api_call *c = &sc->c;
	const char *k;
	json_t *v;
	*out = json_object();
	json_object_foreach(attrs, k, v)
	{
		const struct qattr *a = qattr_find(k);
		const char *s = json_string_value(v);
		if (!a) {
			if (strcmp(k, "DeduplicationScope") == 0 || strcmp(k, "FifoThroughputLimit") == 0)
				return sqs_error(c, "InvalidAttributeName",
						 "You can specify the %s only when FifoQueue is set to true.", k);
			return sqs_error(c, "InvalidAttributeName", "Unknown Attribute %s.", k);
		}
		if (!s)
			return sqs_error(c, "InvalidAttributeValue", "Invalid value for the parameter %s.", k);
		char buf[32];
		long long n;
		json_t *canon = NULL;
		if (!a->def && s[0] == '\0') {
			json_object_set_new(*out, k, json_string("")); /* unset */
			continue;
		}
		switch (a->kind) {
		case A_NUM:
			if (!parse_ll(s, &n) || n < a->min || n > a->max)
				return sqs_error(c, "InvalidAttributeValue", "Invalid value for the parameter %s.", k);
			snprintf(buf, sizeof buf, "%lld", n);
			json_object_set_new(*out, k, json_string(buf));
			break;
		case A_BOOL:
			if (strcasecmp(s, "true") && strcasecmp(s, "false"))
				return sqs_error(c, "InvalidAttributeValue", "Invalid value for the parameter %s.", k);
			json_object_set_new(*out, k, json_string(strcasecmp(s, "true") == 0 ? "true" : "false"));
			break;
		case A_JSON: {
			json_error_t jerr;
			json_t *j = json_loads(s, 0, &jerr);
			bool ok = json_is_object(j);
			json_decref(j);
			if (!ok)
				return sqs_error(c, "InvalidAttributeValue", "Invalid value for the parameter %s.", k);
			json_object_set_new(*out, k, json_string(s));
			break;
		}
		case A_REDRIVE:
			if (redrive_check(sc, s, self, &canon))
				return -1;
			{
				char *txt = json_dumps(canon, JSON_COMPACT | JSON_PRESERVE_ORDER);
				json_object_set_new(*out, k, json_string(txt ? txt : ""));
				free(txt);
				json_decref(canon);
			}
			break;
		default:
			if (strlen(s) > 2048)
				return sqs_error(c, "InvalidAttributeValue", "Invalid value for the parameter %s.", k);
			json_object_set_new(*out, k, json_string(s));
			break;
		}
	}
	return 0;
}

static long long attr_num(json_t *attrs, const char *name)
{
	long long v = 0;
	const char *s = json_string_value(json_object_get(attrs, name));
	if (!s || !parse_ll(s, &v))
		parse_ll(qattr_find(name)->def, &v);
	return v;
}

bool sqs_ref_from_record(json_t *rec, const char *account, sqs_ref *ref)
{
	const char *name = json_string_value(json_object_get(rec, "Name"));
	const char *id = json_string_value(json_object_get(rec, "Id"));
	json_t *attrs = json_object_get(rec, "Attributes");
	memset(ref, 0, sizeof *ref);
	if (!name || strlen(name) > 80 || !id || strlen(id) != 32 ||
	    sodium_hex2bin(ref->qid, 16, id, 32, NULL, NULL, NULL) != 0) {
		BB_LOGE("sqs", "msg=\"corrupt queue record\" account=%s", account);
		return false;
	}
	snprintf(ref->account, sizeof ref->account, "%s", account);
	snprintf(ref->name, sizeof ref->name, "%s", name);
	ref->delay_s = attr_num(attrs, "DelaySeconds");
	ref->max_bytes = attr_num(attrs, "MaximumMessageSize");
	ref->retention_s = attr_num(attrs, "MessageRetentionPeriod");
	ref->visibility_s = attr_num(attrs, "VisibilityTimeout");
	ref->wait_s = attr_num(attrs, "ReceiveMessageWaitTimeSeconds");
	return true;
}

json_t *sqs_attrs_defaults(void)
{
	json_t *o = json_object();
	for (size_t i = 0; i < BB_ARRAY_LEN(qattrs); i++)
		if (qattrs[i].def)
			json_object_set_new(o, qattrs[i].name, json_string(qattrs[i].def));
	return o;
}

static void add_num(json_t *o, const char *k, long long v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", v);
	json_object_set_new(o, k, json_string(buf));
}

int sqs_op_get_queue_attributes(sqs_call *sc)
{
	api_call *c = &sc->c;
	json_t *names, *n;
	size_t i;
	if (jv_arr(c, c->in, "AttributeNames", &names))
		return -1;
	bool all = false;
	json_array_foreach(names, i, n)
	{
		const char *s = json_string_value(n);
		if (!s)
			return sqs_error(c, "InvalidAttributeName", "Unknown Attribute .");
		if (strcmp(s, "All") == 0)
			all = true;
		else if (!qattr_find(s) && !in_list(computed_attrs, BB_ARRAY_LEN(computed_attrs), s) &&
			 !in_list(fifo_attrs, BB_ARRAY_LEN(fifo_attrs), s))
			return sqs_error(c, "InvalidAttributeName", "Unknown Attribute %s.", s);
	}
	sqs_queue q;
	if (sqs_queue_from_url(sc, &q))
		return -1;
	json_t *want = json_object(), *out = json_object();
	json_array_foreach(names, i, n) json_object_set_new(want, json_string_value(n), json_true());
	uint64_t vis = 0, inflight = 0, delayed = 0;
	int64_t now = bb_wall_ms(c->n->clock);
	if (all || json_object_get(want, "ApproximateNumberOfMessages") ||
	    json_object_get(want, "ApproximateNumberOfMessagesNotVisible") ||
	    json_object_get(want, "ApproximateNumberOfMessagesDelayed")) {
		db_barrier(c->n->db); /* receives are answered before their commit: count after it */
		sqs_store_counts(c->n->db, q.ref.qid, now, &vis, &inflight, &delayed);
	}
	json_t *attrs = json_object_get(q.rec, "Attributes");
	/* alphabetical, as AWS lists them */
	static const char *const order[] = {
		"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
		"ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp", "DelaySeconds",
		"KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "LastModifiedTimestamp", "MaximumMessageSize",
		"MessageRetentionPeriod", "Policy", "QueueArn", "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy",
		"RedrivePolicy", "SqsManagedSseEnabled", "VisibilityTimeout"};
	for (size_t j = 0; j < BB_ARRAY_LEN(order); j++) {
		const char *k = order[j];
		if (!all && !json_object_get(want, k))
			continue;
		if (strcmp(k, "ApproximateNumberOfMessages") == 0)
			add_num(out, k, (long long)vis);
		else if (strcmp(k, "ApproximateNumberOfMessagesDelayed") == 0)
			add_num(out, k, (long long)delayed);
		else if (strcmp(k, "ApproximateNumberOfMessagesNotVisible") == 0)
			add_num(out, k, (long long)inflight);
		else if (strcmp(k, "CreatedTimestamp") == 0)
			add_num(out, k, (long long)json_integer_value(json_object_get(q.rec, "Created")));
		else if (strcmp(k, "LastModifiedTimestamp") == 0)
			add_num(out, k, (long long)json_integer_value(json_object_get(q.rec, "Modified")));
		else if (strcmp(k, "QueueArn") == 0)
			json_object_set_new(out, k, json_string(q.arn));
		else if (json_object_get(attrs, k))
			json_object_set(out, k, json_object_get(attrs, k));
	}
	json_decref(want);
	c->out = json_object();
	if (json_object_size(out))
		json_object_set_new(c->out, "Attributes", out);
	else
		json_decref(out);
	sqs_queue_free(&q);
	return 0;
}
