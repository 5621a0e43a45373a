/* node/sqs_queue.c — queue definitions: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue,
 * GetQueueAttributes, SetQueueAttributes, PurgeQueue; queue URLs and ARNs.
 *
 * A queue is metadata in raft, like a bus: key q/<acct>/<name>, a compact JSON record
 *   {"Name", "Id": <32 hex: incarnation id>, "Created": <s>, "Modified": <s>, "PurgedAt"?: <ms>,
 *    "Attributes": {<settable attribute>: "<canonical string>"}, "Tags": {<k>: <v>}}
 * written with the api_write plan/compare-and-set pattern of op_bus.c. Messages are keyed by Id in
 * the node-local store (sqs_store.c), so DeleteQueue only removes the record and PurgeQueue only
 * draws a new Id: both take effect at once, and the sweeper removes the old data in bounded chunks.
 *
 * Choices (docs/api.md): standard queues only — a .fifo name or the FIFO attributes get the errors
 * AWS gives a standard queue; a queue may be recreated right after DeleteQueue (no
 * QueueDeletedRecently); queues of other accounts are not reachable (QueueDoesNotExist).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sqs_int.h"

void key_queue(char *k, const char *acct, const char *name) { snprintf(k, KEY_MAX, "q/%s/%s", acct, name); }
void key_queue_prefix(char *k, const char *acct) { snprintf(k, KEY_MAX, "q/%s/", acct); }

void sqs_queue_url(sqs_call *sc, const char *account, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "http://%s/%s/%s", sc->host, account, name);
}

void sqs_queue_arn(node *n, const char *account, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "arn:aws:sqs:%s:%s:%s", n->region, account, name);
}

static bool queue_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 80)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return false;
	return true;
}

static bool account_ok(const char *s, size_t n)
{
	if (n != 12)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* ---- attributes ---------------------------------------------------------------------------------- */

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
static int attrs_validate(sqs_call *sc, json_t *attrs, const char *self, json_t **out)
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

/* ---- lookup --------------------------------------------------------------------------------------- */

static int queue_load(sqs_call *sc, const char *account, const char *name, sqs_queue *q)
{
	api_call *c = &sc->c;
	char key[KEY_MAX];
	memset(q, 0, sizeof *q);
	if (!queue_name_ok(name) || strcmp(account, c->who.account) != 0)
		return sqs_error(c, "QueueDoesNotExist", "The specified queue does not exist.");
	key_queue(key, account, name);
	q->rec = store_get(api_snap(c), key, &q->version);
	if (!q->rec || !sqs_ref_from_record(q->rec, account, &q->ref)) {
		json_decref(q->rec);
		q->rec = NULL;
		return sqs_error(c, "QueueDoesNotExist", "The specified queue does not exist.");
	}
	sqs_queue_url(sc, account, name, q->url, sizeof q->url);
	sqs_queue_arn(c->n, account, name, q->arn, sizeof q->arn);
	return 0;
}

int sqs_queue_from_url(sqs_call *sc, sqs_queue *q)
{
	api_call *c = &sc->c;
	const char *url;
	memset(q, 0, sizeof *q);
	if (jv_str(c, c->in, "QueueUrl", &url))
		return -1;
	if (!url && sc->path && strcmp(sc->path, "/") != 0)
		url = sc->path; /* query requests may be sent to the queue's URL instead */
	if (!url)
		return sqs_missing(c, "QueueUrl");
	/* the last two path segments are <account>/<name> */
	size_t len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	const char *end = url + len, *slash2 = NULL, *slash1 = NULL;
	for (const char *p = url; p < end; p++)
		if (*p == '/') {
			slash1 = slash2;
			slash2 = p;
		}
	char account[16], name[96];
	if (!slash1 || !account_ok(slash1 + 1, (size_t)(slash2 - slash1 - 1)) || (size_t)(end - slash2 - 1) >= sizeof name)
		return sqs_error(c, "InvalidAddress", "The address %.300s is not valid for this endpoint.", url);
	memcpy(account, slash1 + 1, 12);
	account[12] = '\0';
	memcpy(name, slash2 + 1, (size_t)(end - slash2 - 1));
	name[end - slash2 - 1] = '\0';
	return queue_load(sc, account, name, q);
}

void sqs_queue_free(sqs_queue *q)
{
	json_decref(q->rec);
	q->rec = NULL;
}

bb_err sqs_resolve_arn(node *n, meta_snap *s, const char *arn, sqs_ref *out)
{
	/* arn:aws:sqs:<region>:<account>:<name> */
	const char *f[6];
	int i = 0;
	f[i++] = arn;
	for (const char *p = arn; *p && i < 6; p++)
		if (*p == ':')
			f[i++] = p + 1;
	if (i < 6 || strncmp(arn, "arn:aws", 7) != 0 || strncmp(f[2], "sqs:", 4) != 0)
		return BB_ENOTFOUND;
	size_t rl = (size_t)(f[4] - f[3] - 1);
	if (rl != strlen(n->region) || strncmp(f[3], n->region, rl) != 0 || !account_ok(f[4], (size_t)(f[5] - f[4] - 1)) ||
	    !queue_name_ok(f[5]))
		return BB_ENOTFOUND;
	char account[13], key[KEY_MAX];
	memcpy(account, f[4], 12);
	account[12] = '\0';
	key_queue(key, account, f[5]);
	json_t *rec = store_get(s, key, NULL);
	bool ok = rec && sqs_ref_from_record(rec, account, out);
	json_decref(rec);
	return ok ? BB_OK : BB_ENOTFOUND;
}

/* ---- CreateQueue -------------------------------------------------------------------------------------- */

typedef struct create_args {
	const char *name;
	json_t *attrs; /* canonical, owned */
	json_t *tags;  /* borrowed */
	sqs_call *sc;
} create_args;

static int plan_create(api_call *c, txn *t, void *arg)
{
	create_args *a = arg;
	char key[KEY_MAX], url[SQS_URL_MAX];
	key_queue(key, c->who.account, a->name);
	meta_snap *s = api_snap(c);
	json_t *cur = store_get(s, key, NULL);
	sqs_queue_url(a->sc, c->who.account, a->name, url, sizeof url);
	if (cur) {
		json_t *have = json_object_get(cur, "Attributes");
		const char *k;
		json_t *v;
		json_object_foreach(a->attrs, k, v)
		{
			const char *now = json_string_value(json_object_get(have, k));
			if (strcmp(now ? now : "", json_string_value(v)) != 0) {
				json_decref(cur);
				return sqs_error(c, "QueueNameExists",
						 "A queue already exists with the same name and a different value for "
						 "attribute %s", k);
			}
		}
		json_decref(cur);
		c->out = json_pack("{s:s}", "QueueUrl", url);
		return 0;
	}
	char prefix[KEY_MAX];
	key_queue_prefix(prefix, c->who.account);
	if (meta_snap_scan(s, prefix, strlen(prefix), NULL, 0, scan_count_all, NULL) >= c->n->cfg.sqs_max_queues)
		return sqs_error(c, "OverLimit", "Too many queues in account %s (at most %u).", c->who.account,
				 c->n->cfg.sqs_max_queues);
	uint8_t qid[16];
	char hex[33];
	bb_random(&bb_rng_system, qid, sizeof qid);
	sqs_hex(qid, 16, hex);
	json_int_t now = (json_int_t)(bb_wall_ms(c->n->clock) / 1000);
	json_t *attrs = json_object();
	for (size_t i = 0; i < BB_ARRAY_LEN(qattrs); i++)
		if (qattrs[i].def)
			json_object_set_new(attrs, qattrs[i].name, json_string(qattrs[i].def));
	const char *k;
	json_t *v;
	json_object_foreach(a->attrs, k, v)
	{
		if (json_string_length(v))
			json_object_set(attrs, k, v);
	}
	json_t *rec = json_pack("{s:s, s:s, s:I, s:I, s:o}", "Name", a->name, "Id", hex, "Created", now,
				"Modified", now, "Attributes", attrs);
	json_object_set_new(rec, "Tags", a->tags ? json_deep_copy(a->tags) : json_object());
	txn_put(t, key, rec, META_ABSENT);
	json_decref(rec);
	c->out = json_pack("{s:s}", "QueueUrl", url);
	return 0;
}

static int tags_check(api_call *c, json_t *tags)
{
	const char *k;
	json_t *v;
	if (json_object_size(tags) > 50)
		return sqs_error(c, "InvalidParameterValueException", "Too many tags (at most 50).");
	json_object_foreach(tags, k, v)
	{
		if (!json_is_string(v) || strlen(k) < 1 || strlen(k) > 128 || json_string_length(v) > 256)
			return sqs_error(c, "InvalidParameterValueException", "Tag %.128s is not valid.", k);
	}
	return 0;
}

int sqs_op_create_queue(sqs_call *sc)
{
	api_call *c = &sc->c;
	create_args a = {.sc = sc};
	json_t *attrs;
	if (jv_str(c, c->in, "QueueName", &a.name) || jv_obj(c, c->in, "Attributes", &attrs) ||
	    jv_obj(c, c->in, "tags", &a.tags))
		return -1;
	if (!a.name)
		return sqs_missing(c, "QueueName");
	if (!queue_name_ok(a.name))
		return sqs_error(c, "InvalidParameterValueException",
				 "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
	if (a.tags && tags_check(c, a.tags))
		return -1;
	if (attrs_validate(sc, attrs, a.name, &a.attrs)) {
		json_decref(a.attrs);
		return -1;
	}
	int rc = api_write(c, plan_create, &a);
	json_decref(a.attrs);
	return rc;
}

/* ---- GetQueueUrl / ListQueues / DeleteQueue ------------------------------------------------------------ */

int sqs_op_get_queue_url(sqs_call *sc)
{
	api_call *c = &sc->c;
	const char *name, *owner;
	if (jv_str(c, c->in, "QueueName", &name) || jv_str(c, c->in, "QueueOwnerAWSAccountId", &owner))
		return -1;
	if (!name)
		return sqs_missing(c, "QueueName");
	sqs_queue q;
	if (queue_load(sc, owner ? owner : c->who.account, name, &q))
		return -1;
	c->out = json_pack("{s:s}", "QueueUrl", q.url);
	sqs_queue_free(&q);
	return 0;
}

static json_t *list_view(api_call *c, json_t *rec, void *arg)
{
	char url[SQS_URL_MAX];
	const char *name = json_string_value(json_object_get(rec, "Name"));
	if (!name)
		return NULL;
	sqs_queue_url(arg, c->who.account, name, url, sizeof url);
	return json_string(url);
}

int sqs_op_list_queues(sqs_call *sc)
{
	api_call *c = &sc->c;
	const char *prefix, *token;
	bool has_max;
	long long max;
	char kp[KEY_MAX];
	if (jv_str(c, c->in, "QueueNamePrefix", &prefix) || jv_str(c, c->in, "NextToken", &token) ||
	    jv_int(c, c->in, "MaxResults", &has_max, &max))
		return -1;
	if (has_max && (max < 1 || max > 1000))
		return sqs_error(c, "InvalidParameterValueException",
				 "Value %lld for parameter MaxResults is invalid. Reason: MaxResults must be an integer "
				 "between 1 and 1000.", max);
	if (prefix && strlen(prefix) > 80)
		prefix = "\x01"; /* matches nothing */
	key_queue_prefix(kp, c->who.account);
	if (store_page(c, kp, prefix, token, has_max ? (size_t)max : 1000, "QueueUrls", list_view, sc))
		return -1;
	if (!has_max)
		json_object_del(c->out, "NextToken"); /* AWS pages only when MaxResults is given */
	if (json_array_size(json_object_get(c->out, "QueueUrls")) == 0)
		json_object_del(c->out, "QueueUrls");
	return 0;
}

typedef struct queue_args {
	sqs_call *sc;
	json_t *attrs; /* SetQueueAttributes: canonical; TagQueue: tags */
	json_t *keys;  /* UntagQueue */
	int kind;
} queue_args;

enum { QW_DELETE, QW_SET, QW_PURGE, QW_TAG, QW_UNTAG };

static int plan_queue_write(api_call *c, txn *t, void *arg)
{
	queue_args *a = arg;
	sqs_queue q;
	if (sqs_queue_from_url(a->sc, &q))
		return -1;
	char key[KEY_MAX];
	key_queue(key, q.ref.account, q.ref.name);
	json_int_t now_ms = (json_int_t)bb_wall_ms(c->n->clock);
	json_t *attrs = json_object_get(q.rec, "Attributes"), *tags = json_object_get(q.rec, "Tags");
	const char *k;
	json_t *v;
	size_t i;
	switch (a->kind) {
	case QW_DELETE:
		txn_del(t, key, (int64_t)q.version);
		break;
	case QW_SET:
		json_object_foreach(a->attrs, k, v)
		{
			if (json_string_length(v))
				json_object_set(attrs, k, v);
			else
				json_object_del(attrs, k);
		}
		json_object_set_new(q.rec, "Modified", json_integer(now_ms / 1000));
		txn_put(t, key, q.rec, (int64_t)q.version);
		break;
	case QW_PURGE: {
		json_t *last = json_object_get(q.rec, "PurgedAt");
		if (json_is_integer(last) && now_ms - json_integer_value(last) < 60000) {
			sqs_queue_free(&q);
			return sqs_error(c, "PurgeQueueInProgress",
					 "Only one PurgeQueue operation on %s is allowed every 60 seconds.", q.ref.name);
		}
		uint8_t qid[16];
		char hex[33];
		bb_random(&bb_rng_system, qid, sizeof qid);
		sqs_hex(qid, 16, hex);
		json_object_set_new(q.rec, "Id", json_string(hex));
		json_object_set_new(q.rec, "PurgedAt", json_integer(now_ms));
		txn_put(t, key, q.rec, (int64_t)q.version);
		break;
	}
	case QW_TAG:
		if (!json_is_object(tags))
			json_object_set_new(q.rec, "Tags", tags = json_object());
		json_object_update(tags, a->attrs);
		if (json_object_size(tags) > 50) {
			sqs_queue_free(&q);
			return sqs_error(c, "InvalidParameterValueException", "Too many tags (at most 50).");
		}
		txn_put(t, key, q.rec, (int64_t)q.version);
		break;
	case QW_UNTAG:
		json_array_foreach(a->keys, i, v) if (json_is_string(v)) json_object_del(tags, json_string_value(v));
		txn_put(t, key, q.rec, (int64_t)q.version);
		break;
	}
	sqs_queue_free(&q);
	return 0;
}

int sqs_op_delete_queue(sqs_call *sc)
{
	queue_args a = {.sc = sc, .kind = QW_DELETE};
	return api_write(&sc->c, plan_queue_write, &a);
}

int sqs_op_purge_queue(sqs_call *sc)
{
	queue_args a = {.sc = sc, .kind = QW_PURGE};
	return api_write(&sc->c, plan_queue_write, &a);
}

/* ---- Get/SetQueueAttributes ------------------------------------------------------------------------------ */

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
	    json_object_get(want, "ApproximateNumberOfMessagesDelayed"))
		sqs_store_counts(c->n->db, q.ref.qid, now, &vis, &inflight, &delayed);
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

int sqs_op_set_queue_attributes(sqs_call *sc)
{
	api_call *c = &sc->c;
	json_t *attrs;
	if (jv_obj(c, c->in, "Attributes", &attrs))
		return -1;
	if (!attrs)
		return sqs_missing(c, "Attributes");
	sqs_queue q;
	if (sqs_queue_from_url(sc, &q))
		return -1;
	queue_args a = {.sc = sc, .kind = QW_SET};
	int rc = attrs_validate(sc, attrs, q.ref.name, &a.attrs);
	sqs_queue_free(&q);
	if (rc == 0)
		rc = api_write(c, plan_queue_write, &a);
	json_decref(a.attrs);
	return rc;
}

/* ---- tags ---------------------------------------------------------------------------------------------- */

int sqs_op_tag_queue(sqs_call *sc)
{
	api_call *c = &sc->c;
	queue_args a = {.sc = sc, .kind = QW_TAG};
	if (jv_obj(c, c->in, "Tags", &a.attrs))
		return -1;
	if (!a.attrs)
		return sqs_missing(c, "Tags");
	if (tags_check(c, a.attrs))
		return -1;
	return api_write(c, plan_queue_write, &a);
}

int sqs_op_untag_queue(sqs_call *sc)
{
	api_call *c = &sc->c;
	queue_args a = {.sc = sc, .kind = QW_UNTAG};
	if (jv_arr(c, c->in, "TagKeys", &a.keys))
		return -1;
	if (!a.keys)
		return sqs_missing(c, "TagKeys");
	return api_write(c, plan_queue_write, &a);
}

int sqs_op_list_queue_tags(sqs_call *sc)
{
	sqs_queue q;
	if (sqs_queue_from_url(sc, &q))
		return -1;
	json_t *tags = json_object_get(q.rec, "Tags");
	sc->c.out = json_object();
	if (json_object_size(tags))
		json_object_set(sc->c.out, "Tags", tags);
	sqs_queue_free(&q);
	return 0;
}
