/* node/op_target.c — targets: PutTargets, RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget.
 * Shapes and messages: reference §2.1, §5 (input exclusivity and placeholders), §6 (RetryPolicy,
 * DeadLetterConfig) and Appendix A4 (Target constraints).
 *
 * Targets live inside their rule's record, so a PutTargets is one compare-and-set write: all of its
 * accepted targets appear together or not at all. Choices where AWS is unclear (documented in
 * docs/api.md): a target whose DeadLetterConfig.Arn is not a standard SQS queue ARN in this region is
 * returned in FailedEntries (ErrorCode ValidationException) while the other targets are stored;
 * RemoveTargets ignores ids that are not on the rule.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "xform.h"

#define MAX_PATHS_MAP 100

static bool paths_key_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isascii((unsigned char)*s) || !(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* arn:<partition>:<service>:<region>:<account>:<resource>, service and resource non-empty. */
static bool arn_well_formed(const char *s, char *service, size_t scap)
{
	if (strncmp(s, "arn:", 4) != 0)
		return false;
	const char *parts[6];
	int n = 0;
	const char *p = s;
	parts[n++] = p;
	for (; *p && n < 6; p++)
		if (*p == ':')
			parts[n++] = p + 1;
	if (n < 6 || strncmp(parts[1], "aws", 3) != 0 || parts[3] - parts[2] < 2 || !*parts[5])
		return false;
	size_t sl = (size_t)(parts[3] - parts[2] - 1);
	if (sl >= scap)
		return false;
	memcpy(service, parts[2], sl);
	service[sl] = '\0';
	return true;
}

/* Constraint checks of one Target (Appendix A4) into v. */
static int target_constraints(api_call *c, vcheck *v, json_t *t, size_t i)
{
	char p[128];
	const char *id, *arn, *role, *input, *input_path;
	json_t *xf, *rp, *dlc, *sqs;
	if (!json_is_object(t))
		return api_error(c, 400, "SerializationException", "Targets must be a list of Target structures.");
	if (jv_str(c, t, "Id", &id) || jv_str(c, t, "Arn", &arn) || jv_str(c, t, "RoleArn", &role) ||
	    jv_str(c, t, "Input", &input) || jv_str(c, t, "InputPath", &input_path) ||
	    jv_obj(c, t, "InputTransformer", &xf) || jv_obj(c, t, "RetryPolicy", &rp) ||
	    jv_obj(c, t, "DeadLetterConfig", &dlc) || jv_obj(c, t, "SqsParameters", &sqs))
		return -1;
#define TP(member) (snprintf(p, sizeof p, "targets.%zu.member." member, i + 1), p)
	v_string(v, TP("id"), id, true, 1, 64, RE_NAME, name_ok);
	v_string(v, TP("arn"), arn, true, 1, 1600, NULL, NULL);
	v_string(v, TP("roleArn"), role, false, 1, 1600, NULL, NULL);
	v_string(v, TP("input"), input, false, 0, 8192, NULL, NULL);
	v_string(v, TP("inputPath"), input_path, false, 0, 256, NULL, NULL);
	if (xf) {
		const char *tmpl;
		json_t *map;
		if (jv_str(c, xf, "InputTemplate", &tmpl) || jv_obj(c, xf, "InputPathsMap", &map))
			return -1;
		v_string(v, TP("inputTransformer.inputTemplate"), tmpl, true, 1, 8192, NULL, NULL);
		if (map) {
			if (json_object_size(map) > MAX_PATHS_MAP)
				v_add(v, "{...}", TP("inputTransformer.inputPathsMap"),
				      "Member must have length less than or equal to %d", MAX_PATHS_MAP);
			const char *k;
			json_t *val;
			json_object_foreach(map, k, val)
			{
				if (!json_is_string(val))
					return api_error(c, 400, "SerializationException",
							 "InputPathsMap values must be strings.");
				v_string(v, TP("inputTransformer.inputPathsMap.key"), k, true, 1, 256, "[A-Za-z0-9\\_\\-]+",
					 paths_key_ok);
				v_string(v, TP("inputTransformer.inputPathsMap.value"), json_string_value(val), true, 0, 256,
					 NULL, NULL);
			}
		}
	}
	if (rp) {
		bool has;
		long long val;
		if (jv_int(c, rp, "MaximumRetryAttempts", &has, &val))
			return -1;
		v_int_range(v, TP("retryPolicy.maximumRetryAttempts"), has, val, 0, 185);
		if (jv_int(c, rp, "MaximumEventAgeInSeconds", &has, &val))
			return -1;
		v_int_range(v, TP("retryPolicy.maximumEventAgeInSeconds"), has, val, 60, 86400);
	}
	if (dlc) {
		const char *darn;
		if (jv_str(c, dlc, "Arn", &darn))
			return -1;
		v_string(v, TP("deadLetterConfig.arn"), darn, false, 1, 1600, NULL, NULL);
	}
	if (sqs) {
		const char *gid;
		if (jv_str(c, sqs, "MessageGroupId", &gid))
			return -1;
		v_string(v, TP("sqsParameters.messageGroupId"), gid, false, 0, 100, NULL, NULL);
	}
#undef TP
	return 0;
}

/* Input / InputPath / InputTransformer: exclusivity, Input JSON, paths, placeholders (node/xform,
 * reference §5). AWS rejects the whole request with a ValidationException (LS snapshots). */
static int target_input_valid(api_call *c, json_t *t, const char *id)
{
	json_t *xf = json_object_get(t, "InputTransformer");
	char msg[XFORM_MSG_MAX];
	xform *x = NULL;
	bb_err e = xform_compile(id, json_string_value(json_object_get(t, "Input")),
				 json_string_value(json_object_get(t, "InputPath")), json_is_object(xf) ? xf : NULL, &x,
				 msg, sizeof msg);
	xform_free(x);
	if (e == BB_EINVAL)
		return api_error(c, 400, "ValidationException", "%s", msg);
	if (e != BB_OK)
		return api_error(c, 500, "InternalException", "%s", bb_strerror(e));
	return 0;
}

/* Semantic checks after the constraints hold: ARN format, input exclusivity, placeholders. */
static int target_semantics(api_call *c, json_t *t)
{
	const char *id = json_string_value(json_object_get(t, "Id"));
	const char *arn = json_string_value(json_object_get(t, "Arn"));
	char service[64];
	if (!arn_well_formed(arn, service, sizeof service))
		return api_error(c, 400, "ValidationException",
				 "Parameter %s is not valid. Reason: Provided Arn is not in correct format.", arn);
	return target_input_valid(c, t, id);
}

/* A DLQ must be a standard SQS queue in this region; otherwise the entry fails (NULL = ok). */
static const char *dlq_problem(api_call *c, json_t *t)
{
	const char *darn = json_string_value(json_object_get(json_object_get(t, "DeadLetterConfig"), "Arn"));
	if (!darn)
		return NULL;
	char prefix[128];
	snprintf(prefix, sizeof prefix, "arn:aws:sqs:%s:", c->n->region);
	if (strncmp(darn, prefix, strlen(prefix)) != 0)
		return "DeadLetterConfig.Arn must be the ARN of an SQS queue in this Region.";
	size_t l = strlen(darn);
	if (l > 5 && strcmp(darn + l - 5, ".fifo") == 0)
		return "DeadLetterConfig.Arn must be a standard queue; FIFO queues are not supported.";
	return NULL;
}

/* Busbar delivers to API destinations, built-in queues and event buses of this region; any other
 * well-formed ARN fails its entry with a clear message (NULL = ok). */
static const char *target_kind_problem(api_call *c, json_t *t)
{
	if (target_kind(json_string_value(json_object_get(t, "Arn")), c->n->region))
		return NULL;
	return "Busbar cannot deliver to this target. Supported targets: API destinations "
	       "(arn:aws:events:<region>:<account>:api-destination/...), built-in queues "
	       "(arn:aws:sqs:<region>:<account>:<queue>) and event buses (arn:aws:events:<region>:<account>:event-bus/<name>) "
	       "of this region.";
}

/* ---- PutTargets --------------------------------------------------------------------------- */

typedef struct put_targets_args {
	const char *rule;
	char bus[300];
	json_t *targets; /* validated, borrowed from the request */
} put_targets_args;

static long find_target(json_t *list, const char *id)
{
	size_t i;
	json_t *t;
	json_array_foreach(list, i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "Id")), id) == 0)
			return (long)i;
	}
	return -1;
}

static int plan_put_targets(api_call *c, txn *t, void *arg)
{
	put_targets_args *a = arg;
	uint64_t ver;
	char key[KEY_MAX];
	json_t *rec = rule_load(c, a->bus, a->rule, &ver);
	if (!rec)
		return -1;
	json_t *list = json_object_get(rec, "Targets");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(rec, "Targets", list);
	}
	json_t *failed = json_array();
	size_t i;
	json_t *tg;
	json_array_foreach(a->targets, i, tg)
	{
		const char *id = json_string_value(json_object_get(tg, "Id"));
		const char *why = target_kind_problem(c, tg);
		if (!why)
			why = dlq_problem(c, tg);
		if (why) {
			json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "TargetId", id, "ErrorCode",
								"ValidationException", "ErrorMessage", why));
			continue;
		}
		long at = find_target(list, id);
		if (at >= 0)
			json_array_set(list, (size_t)at, tg); /* same Id again = replace */
		else
			json_array_append(list, tg);
	}
	if (json_array_size(list) > c->n->cfg.max_targets_per_rule) {
		json_decref(failed);
		json_decref(rec);
		return api_error(c, 400, "LimitExceededException",
				 "The requested resource exceeds the maximum number allowed.");
	}
	if (json_array_size(failed) < json_array_size(a->targets)) {
		key_rule(key, c->who.account, a->bus, a->rule);
		txn_put(t, key, rec, (int64_t)ver);
	}
	json_decref(rec);
	c->out = json_pack("{s:I, s:o}", "FailedEntryCount", (json_int_t)json_array_size(failed), "FailedEntries",
			   failed);
	return 0;
}

int op_put_targets(api_call *c)
{
	put_targets_args a;
	memset(&a, 0, sizeof a);
	const char *bus_in;
	vcheck v;
	v_init(&v);
	/* model order: Rule, EventBusName, Targets */
	if (rule_request_name(c, &v, "Rule", &a.rule) || rule_request_bus(c, &v, &bus_in) ||
	    jv_arr(c, c->in, "Targets", &a.targets))
		return -1;
	v_list_len(&v, "targets", a.targets, true, 1, 100);
	size_t i;
	json_t *t;
	json_array_foreach(a.targets, i, t)
	{
		if (target_constraints(c, &v, t, i))
			return -1;
	}
	if (v_finish(c, &v) || bus_resolve(c, bus_in, a.bus, sizeof a.bus))
		return -1;
	json_array_foreach(a.targets, i, t)
	{
		if (target_semantics(c, t))
			return -1;
	}
	return api_write(c, plan_put_targets, &a);
}

/* ---- RemoveTargets ------------------------------------------------------------------------ */

typedef struct remove_targets_args {
	const char *rule;
	char bus[300];
	json_t *ids;
} remove_targets_args;

static int plan_remove_targets(api_call *c, txn *t, void *arg)
{
	remove_targets_args *a = arg;
	uint64_t ver;
	char key[KEY_MAX];
	json_t *rec = rule_load(c, a->bus, a->rule, &ver);
	if (!rec)
		return -1;
	json_t *list = json_object_get(rec, "Targets");
	bool changed = false;
	size_t i;
	json_t *id;
	json_array_foreach(a->ids, i, id)
	{
		long at = json_is_array(list) ? find_target(list, json_string_value(id)) : -1;
		if (at >= 0) {
			json_array_remove(list, (size_t)at);
			changed = true;
		}
	}
	if (changed) {
		key_rule(key, c->who.account, a->bus, a->rule);
		txn_put(t, key, rec, (int64_t)ver);
	}
	json_decref(rec);
	c->out = json_pack("{s:i, s:[]}", "FailedEntryCount", 0, "FailedEntries");
	return 0;
}

int op_remove_targets(api_call *c)
{
	remove_targets_args a;
	memset(&a, 0, sizeof a);
	bool has_force, force;
	const char *bus_in;
	vcheck v;
	v_init(&v);
	/* model order: Rule, EventBusName, Ids, Force */
	if (rule_request_name(c, &v, "Rule", &a.rule) || rule_request_bus(c, &v, &bus_in) ||
	    jv_arr(c, c->in, "Ids", &a.ids) || jv_bool(c, c->in, "Force", &has_force, &force))
		return -1;
	v_list_len(&v, "ids", a.ids, true, 1, 100);
	size_t i;
	json_t *id;
	json_array_foreach(a.ids, i, id)
	{
		if (!json_is_string(id))
			return api_error(c, 400, "SerializationException", "Ids must be a list of strings.");
		char p[64];
		snprintf(p, sizeof p, "ids.%zu.member", i + 1);
		v_string(&v, p, json_string_value(id), true, 1, 64, RE_NAME, name_ok);
	}
	if (v_finish(c, &v) || bus_resolve(c, bus_in, a.bus, sizeof a.bus))
		return -1;
	return api_write(c, plan_remove_targets, &a);
}

/* ---- ListTargetsByRule ------------------------------------------------------------------- */

/* Reads NextToken and Limit (1..100, default 100). */
static int page_args(api_call *c, vcheck *v, const char **token, size_t *limit)
{
	bool has;
	long long lim;
	if (jv_str(c, c->in, "NextToken", token) || jv_int(c, c->in, "Limit", &has, &lim))
		return -1;
	v_string(v, "nextToken", *token, false, 1, 2048, NULL, NULL);
	v_int_range(v, "limit", has, lim, 1, 100);
	*limit = has && lim >= 1 && lim <= 100 ? (size_t)lim : 100;
	return 0;
}

int op_list_targets_by_rule(api_call *c)
{
	const char *rule, *token;
	char bus[300], after[KEY_MAX] = "";
	size_t limit;
	vcheck v;
	v_init(&v);
	const char *bus_in;
	/* model order: Rule, EventBusName, NextToken, Limit */
	if (rule_request_name(c, &v, "Rule", &rule) || rule_request_bus(c, &v, &bus_in) ||
	    page_args(c, &v, &token, &limit) || v_finish(c, &v) || bus_resolve(c, bus_in, bus, sizeof bus))
		return -1;
	if (token && token_parse(c, token, after, sizeof after))
		return -1;
	json_t *rec = rule_load(c, bus, rule, NULL);
	if (!rec)
		return -1;
	json_t *list = json_object_get(rec, "Targets");
	json_t *out = json_array();
	size_t i, start = 0;
	json_t *t;
	if (token) {
		/* resume after the named Id; if it was removed meanwhile, after the next greater position */
		long at = find_target(list, after);
		start = at >= 0 ? (size_t)at + 1 : json_array_size(list);
	}
	const char *last = NULL;
	bool more = false;
	json_array_foreach(list, i, t)
	{
		if (i < start)
			continue;
		if (json_array_size(out) == limit) {
			more = true;
			break;
		}
		json_array_append(out, t);
		last = json_string_value(json_object_get(t, "Id"));
	}
	c->out = json_pack("{s:o}", "Targets", out);
	if (more && last) {
		char *tok = token_make(last);
		json_object_set_new(c->out, "NextToken", json_string(tok));
		free(tok);
	}
	json_decref(rec);
	return 0;
}

/* ---- ListRuleNamesByTarget ------------------------------------------------------------------ */

/* A rule's name when one of its targets has the ARN arg, else NULL (skipped). */
static json_t *name_if_targets(api_call *c, json_t *rec, void *arg)
{
	(void)c;
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(rec, "Targets"), i, t)
	{
		const char *a = json_string_value(json_object_get(t, "Arn"));
		if (a && strcmp(a, arg) == 0)
			return json_incref(json_object_get(rec, "Name"));
	}
	return NULL;
}

int op_list_rule_names_by_target(api_call *c)
{
	const char *arn, *token, *bus_in;
	char bus[300], kp[KEY_MAX];
	size_t limit;
	vcheck v;
	v_init(&v);
	/* model order: TargetArn, EventBusName, NextToken, Limit */
	if (jv_str(c, c->in, "TargetArn", &arn))
		return -1;
	v_string(&v, "targetArn", arn, true, 1, 1600, NULL, NULL);
	if (rule_request_bus(c, &v, &bus_in) || page_args(c, &v, &token, &limit))
		return -1;
	if (v_finish(c, &v) || bus_resolve(c, bus_in, bus, sizeof bus) || rule_bus_exists(c, bus))
		return -1;
	key_rule_prefix(kp, c->who.account, bus);
	return store_page(c, kp, NULL, token, limit, "RuleNames", name_if_targets, (void *)arn);
}
