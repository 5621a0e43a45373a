/* node/op_tag.c — TagResource, UntagResource, ListTagsForResource on event buses and rules.
 * Tags live inside the resource's record; every write is one compare-and-set on that record.
 * ARNs: arn:aws:events:<region>:<acct>:event-bus/<bus>, rule/<rule> (default bus) and
 * rule/<bus>/<rule> (bus names may contain '/', rule names may not, so the last '/' splits them).
 * Limit: 50 tags per resource (AWS's), else LimitExceededException.
 */
#include <stdio.h>
#include <string.h>

#include "node_int.h"

#define MAX_TAGS 50

typedef struct tag_target {
	char key[KEY_MAX];
	char bus[300];
	char rule[80];
	bool is_rule;
} tag_target;

/* Parses ResourceARN into the record key; -1 with ValidationException / ResourceNotFoundException. */
static int resolve_arn(api_call *c, const char *arn, tag_target *tt)
{
	char prefix[128];
	snprintf(prefix, sizeof prefix, "arn:aws:events:%s:%s:", c->n->region, c->who.account);
	memset(tt, 0, sizeof *tt);
	if (strncmp(arn, prefix, strlen(prefix)) != 0)
		return api_error(c, 400, "ValidationException", "Parameter ResourceARN is not valid.");
	const char *res = arn + strlen(prefix);
	if (strncmp(res, "event-bus/", 10) == 0 && bus_name_ok(res + 10) && strlen(res + 10) < sizeof tt->bus) {
		strcpy(tt->bus, res + 10);
		key_bus(tt->key, c->who.account, tt->bus);
		return 0;
	}
	if (strncmp(res, "rule/", 5) == 0) {
		const char *rest = res + 5;
		const char *slash = strrchr(rest, '/');
		const char *rule = slash ? slash + 1 : rest;
		size_t bl = slash ? (size_t)(slash - rest) : 7;
		if (!name_ok(rule) || strlen(rule) >= sizeof tt->rule || bl >= sizeof tt->bus)
			return api_error(c, 400, "ValidationException", "Parameter ResourceARN is not valid.");
		memcpy(tt->bus, slash ? rest : "default", bl);
		tt->bus[bl] = '\0';
		strcpy(tt->rule, rule);
		tt->is_rule = true;
		key_rule(tt->key, c->who.account, tt->bus, tt->rule);
		return 0;
	}
	return api_error(c, 400, "ValidationException", "Parameter ResourceARN is not valid.");
}

static json_t *load_target(api_call *c, tag_target *tt, uint64_t *ver)
{
	json_t *rec = store_get(api_snap(c), tt->key, ver);
	if (!rec) {
		if (tt->is_rule)
			api_error(c, 400, "ResourceNotFoundException", "Rule %s does not exist on EventBus %s.", tt->rule,
				  tt->bus);
		else
			api_error(c, 400, "ResourceNotFoundException", "Event bus %s does not exist.", tt->bus);
	}
	return rec;
}

static int read_arn(api_call *c, vcheck *v, const char **arn)
{
	if (jv_str(c, c->in, "ResourceARN", arn))
		return -1;
	v_string(v, "resourceARN", *arn, true, 1, 1600, NULL, NULL);
	return 0;
}

typedef struct tag_args {
	tag_target tt;
	json_t *tags;  /* TagResource */
	json_t *keys;  /* UntagResource */
} tag_args;

static int plan_tag(api_call *c, txn *t, void *arg)
{
	tag_args *a = arg;
	uint64_t ver;
	json_t *rec = load_target(c, &a->tt, &ver);
	if (!rec)
		return -1;
	json_t *cur = json_object_get(rec, "Tags");
	if (!json_is_array(cur)) {
		cur = json_array();
		json_object_set_new(rec, "Tags", cur);
	}
	size_t i, j;
	json_t *nt, *ot;
	json_array_foreach(a->tags, i, nt)
	{
		const char *k = json_string_value(json_object_get(nt, "Key"));
		bool replaced = false;
		json_array_foreach(cur, j, ot)
		{
			if (strcmp(json_string_value(json_object_get(ot, "Key")), k) == 0) {
				json_array_set_new(cur, j, json_pack("{s:s, s:O}", "Key", k, "Value",
								     json_object_get(nt, "Value")));
				replaced = true;
				break;
			}
		}
		if (!replaced)
			json_array_append_new(cur, json_pack("{s:s, s:O}", "Key", k, "Value", json_object_get(nt, "Value")));
	}
	if (json_array_size(cur) > MAX_TAGS) {
		json_decref(rec);
		return api_error(c, 400, "LimitExceededException",
				 "The requested resource exceeds the maximum number allowed.");
	}
	txn_put(t, a->tt.key, rec, (int64_t)ver);
	json_decref(rec);
	return 0;
}

int op_tag_resource(api_call *c)
{
	tag_args a;
	memset(&a, 0, sizeof a);
	const char *arn;
	vcheck v;
	v_init(&v);
	if (read_arn(c, &v, &arn) || jv_arr(c, c->in, "Tags", &a.tags))
		return -1;
	if (!a.tags)
		v_add(&v, NULL, "tags", "Member must not be null");
	else if (tags_validate(c, &v, a.tags, "tags"))
		return -1;
	if (v_finish(c, &v) || resolve_arn(c, arn, &a.tt))
		return -1;
	return api_write(c, plan_tag, &a);
}

static int plan_untag(api_call *c, txn *t, void *arg)
{
	tag_args *a = arg;
	uint64_t ver;
	json_t *rec = load_target(c, &a->tt, &ver);
	if (!rec)
		return -1;
	json_t *cur = json_object_get(rec, "Tags");
	size_t i, j;
	json_t *k;
	json_array_foreach(a->keys, i, k)
	{
		for (j = 0; j < json_array_size(cur);) {
			const char *key = json_string_value(json_object_get(json_array_get(cur, j), "Key"));
			if (strcmp(key, json_string_value(k)) == 0)
				json_array_remove(cur, j);
			else
				j++;
		}
	}
	txn_put(t, a->tt.key, rec, (int64_t)ver);
	json_decref(rec);
	return 0;
}

int op_untag_resource(api_call *c)
{
	tag_args a;
	memset(&a, 0, sizeof a);
	const char *arn;
	vcheck v;
	v_init(&v);
	if (read_arn(c, &v, &arn) || jv_arr(c, c->in, "TagKeys", &a.keys))
		return -1;
	if (!a.keys)
		v_add(&v, NULL, "tagKeys", "Member must not be null");
	size_t i;
	json_t *k;
	json_array_foreach(a.keys, i, k)
	{
		if (!json_is_string(k))
			return api_error(c, 400, "SerializationException", "TagKeys must be a list of strings.");
		char p[64];
		snprintf(p, sizeof p, "tagKeys.%zu.member", i + 1);
		v_string(&v, p, json_string_value(k), true, 1, 128, NULL, NULL);
	}
	if (v_finish(c, &v) || resolve_arn(c, arn, &a.tt))
		return -1;
	return api_write(c, plan_untag, &a);
}

int op_list_tags_for_resource(api_call *c)
{
	tag_target tt;
	const char *arn;
	vcheck v;
	v_init(&v);
	if (read_arn(c, &v, &arn) || v_finish(c, &v) || resolve_arn(c, arn, &tt))
		return -1;
	json_t *rec = load_target(c, &tt, NULL);
	if (!rec)
		return -1;
	c->out = json_pack("{s:o}", "Tags", tags_of(rec));
	json_decref(rec);
	return 0;
}
