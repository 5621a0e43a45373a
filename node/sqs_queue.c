/* node/sqs_queue.c — queue definitions: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue,
 * SetQueueAttributes, PurgeQueue, TagQueue/UntagQueue/ListQueueTags; queue URLs and ARNs
 * (attribute rules and GetQueueAttributes: sqs_attr.c).
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

#include "sqs_int.h"


void sqs_queue_url(sqs_call *sc, const char *account, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "http://%s/%s/%s", sc->host, account, name);
}

void sqs_queue_arn(node *n, const char *account, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "arn:aws:sqs:%s:%s:%s", n->region, account, name);
}

bool sqs_queue_name_ok(const char *s)
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

/* ---- lookup --------------------------------------------------------------------------------------- */

static int queue_load(sqs_call *sc, const char *account, const char *name, sqs_queue *q)
{
	api_call *c = &sc->c;
	char key[KEY_MAX];
	memset(q, 0, sizeof *q);
	if (!sqs_queue_name_ok(name) || strcmp(account, c->who.account) != 0)
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
	    !sqs_queue_name_ok(f[5]))
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
	json_t *attrs = sqs_attrs_defaults();
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
	if (!sqs_queue_name_ok(a.name))
		return sqs_error(c, "InvalidParameterValueException",
				 "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
	if (a.tags && tags_check(c, a.tags))
		return -1;
	if (sqs_attrs_validate(sc, attrs, a.name, &a.attrs)) {
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

/* ---- SetQueueAttributes ------------------------------------------------------------------------------------ */

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
	int rc = sqs_attrs_validate(sc, attrs, q.ref.name, &a.attrs);
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
