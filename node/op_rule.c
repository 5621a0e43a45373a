/* node/op_rule.c — rules: PutRule (upsert), DescribeRule, ListRules, DeleteRule, EnableRule,
 * DisableRule. Shapes and messages: reference §2.1 and Appendix A3.
 *
 * PutRule on an existing name replaces the rule's definition (omitted members are not kept, as AWS
 * documents) but keeps its targets, tags and creator. DeleteRule of a missing rule succeeds (reference
 * §2.1 note). A rule's targets live inside its record, so PutTargets/RemoveTargets/DeleteRule are
 * single-key compare-and-set writes.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"

static const char *const rule_states[] = {"ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
					  NULL};
#define RULE_STATES_SHOWN "[ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]"

int pattern_check(api_call *c, const char *pattern)
{
	pat_rule *r = NULL;
	if (pattern_compile(c, pattern, &r))
		return -1;
	pat_rule_free(r);
	return 0;
}

/* Looks up the rule; -1 with ResourceNotFoundException (exact AWS text) when absent. */
static json_t *rule_get(api_call *c, const char *bus, const char *name, uint64_t *ver, bool must_exist)
{
	char key[KEY_MAX];
	key_rule(key, c->who.account, bus, name);
	json_t *rec = store_get(api_snap(c), key, ver);
	if (!rec && must_exist)
		api_error(c, 400, "ResourceNotFoundException", "Rule %s does not exist on EventBus %s.", name, bus);
	return rec;
}

static int bus_must_exist(api_call *c, const char *bus, uint64_t *ver)
{
	char key[KEY_MAX];
	key_bus(key, c->who.account, bus);
	json_t *rec = store_get(api_snap(c), key, ver);
	if (!rec)
		return api_error(c, 400, "ResourceNotFoundException", "Event bus %s does not exist.", bus);
	json_decref(rec);
	return 0;
}

/* The members a Rule shows in ListRules (and DescribeRule, which adds CreatedBy). */
static json_t *rule_view(api_call *c, const char *bus, json_t *rec, bool describe)
{
	char arn[1700];
	const char *name = json_string_value(json_object_get(rec, "Name"));
	arn_rule(c, bus, name, arn, sizeof arn);
	json_t *o = json_pack("{s:s, s:s}", "Name", name, "Arn", arn);
	static const char *opt[] = {"EventPattern", "ScheduleExpression", "State", "Description", "RoleArn", "ManagedBy"};
	for (size_t i = 0; i < BB_ARRAY_LEN(opt); i++) {
		json_t *v = json_object_get(rec, opt[i]);
		if (v)
			json_object_set(o, opt[i], v);
	}
	json_object_set_new(o, "EventBusName", json_string(bus));
	if (describe)
		json_object_set(o, "CreatedBy", json_object_get(rec, "CreatedBy"));
	return o;
}

/* Reads and checks the rule-name member (required) into v. */
static int rule_name_member(api_call *c, vcheck *v, const char *member, const char **name)
{
	if (jv_str(c, c->in, member, name))
		return -1;
	char path[32];
	snprintf(path, sizeof path, "%c%s", tolower((unsigned char)member[0]), member + 1);
	v_string(v, path, *name, true, 1, 64, RE_NAME, name_ok);
	return 0;
}

/* Reads and checks EventBusName (name or ARN) into v. */
static int bus_member(api_call *c, vcheck *v, const char **bus_in)
{
	if (jv_str(c, c->in, "EventBusName", bus_in))
		return -1;
	v_string(v, "eventBusName", *bus_in, false, 1, 1600, RE_BUS_OR_ARN, bus_name_or_arn_ok);
	return 0;
}

/* Common request members: Name (required) and EventBusName, in the model's order, then finishes v
 * (so callers check their other members into v first) and resolves the bus. */
static int rule_ident(api_call *c, vcheck *v, const char *name_member, const char **name, char *bus, size_t cap)
{
	const char *bus_in;
	if (rule_name_member(c, v, name_member, name) || bus_member(c, v, &bus_in) || v_finish(c, v))
		return -1;
	return bus_resolve(c, bus_in, bus, cap);
}

/* ---- PutRule ----------------------------------------------------------------------------- */

typedef struct put_rule_args {
	const char *name, *pattern, *schedule, *state, *desc, *role;
	json_t *tags;
	char bus[300];
} put_rule_args;

static int plan_put_rule(api_call *c, txn *t, void *arg)
{
	put_rule_args *a = arg;
	uint64_t bus_ver, rule_ver;
	char key[KEY_MAX], arn[1700];
	if (bus_must_exist(c, a->bus, &bus_ver))
		return -1;
	json_t *old = rule_get(c, a->bus, a->name, &rule_ver, false);
	if (!old) {
		char prefix[KEY_MAX];
		key_rule_prefix(prefix, c->who.account, a->bus);
		if (meta_snap_scan(api_snap(c), prefix, strlen(prefix), NULL, 0, scan_count_all, NULL) >=
		    c->n->cfg.max_rules_per_bus)
			return api_error(c, 400, "LimitExceededException",
					 "The requested resource exceeds the maximum number allowed.");
	}
	json_t *rec = json_pack("{s:s}", "Name", a->name);
	if (a->pattern)
		json_object_set_new(rec, "EventPattern", json_string(a->pattern));
	if (a->schedule)
		json_object_set_new(rec, "ScheduleExpression", json_string(a->schedule));
	json_object_set_new(rec, "State", json_string(a->state ? a->state : "ENABLED"));
	if (a->desc)
		json_object_set_new(rec, "Description", json_string(a->desc));
	if (a->role)
		json_object_set_new(rec, "RoleArn", json_string(a->role));
	if (old) {
		json_object_set(rec, "CreatedBy", json_object_get(old, "CreatedBy"));
		json_object_set(rec, "CreationTime", json_object_get(old, "CreationTime"));
		json_object_set(rec, "Targets", json_object_get(old, "Targets"));
		json_object_set(rec, "Tags", json_object_get(old, "Tags"));
	} else {
		json_object_set_new(rec, "CreatedBy", json_string(c->who.account));
		json_object_set_new(rec, "CreationTime", json_real(api_now_s(c)));
		json_object_set_new(rec, "Targets", json_array());
		json_object_set_new(rec, "Tags", a->tags ? json_deep_copy(a->tags) : json_array());
	}
	key_rule(key, c->who.account, a->bus, a->name);
	char bkey[KEY_MAX];
	key_bus(bkey, c->who.account, a->bus);
	txn_check(t, bkey, (int64_t)bus_ver);
	txn_put(t, key, rec, old ? (int64_t)rule_ver : META_ABSENT);
	json_decref(rec);
	json_decref(old);
	arn_rule(c, a->bus, a->name, arn, sizeof arn);
	c->out = json_pack("{s:s}", "RuleArn", arn);
	return 0;
}

int op_put_rule(api_call *c)
{
	put_rule_args a;
	memset(&a, 0, sizeof a);
	const char *bus_in;
	vcheck v;
	v_init(&v);
	/* members in the model's order: Name, ScheduleExpression, EventPattern, State, Description, RoleArn,
	 * Tags, EventBusName (AWS reports violations in that order) */
	if (rule_name_member(c, &v, "Name", &a.name) || jv_str(c, c->in, "EventPattern", &a.pattern) ||
	    jv_str(c, c->in, "ScheduleExpression", &a.schedule) || jv_str(c, c->in, "State", &a.state) ||
	    jv_str(c, c->in, "Description", &a.desc) || jv_str(c, c->in, "RoleArn", &a.role) ||
	    jv_arr(c, c->in, "Tags", &a.tags))
		return -1;
	v_string(&v, "scheduleExpression", a.schedule, false, 0, 256, NULL, NULL);
	v_string(&v, "eventPattern", a.pattern, false, 0, c->n->cfg.max_pattern_bytes, NULL, NULL);
	v_enum(&v, "state", a.state, rule_states, RULE_STATES_SHOWN);
	v_string(&v, "description", a.desc, false, 0, 512, NULL, NULL);
	v_string(&v, "roleArn", a.role, false, 1, 1600, NULL, NULL);
	if (a.tags && tags_validate(c, &v, a.tags, "tags"))
		return -1;
	if (bus_member(c, &v, &bus_in) || v_finish(c, &v) || bus_resolve(c, bus_in, a.bus, sizeof a.bus))
		return -1;
	if (!a.pattern && !a.schedule)
		return api_error(c, 400, "ValidationException",
				 "Parameter(s) EventPattern or ScheduleExpression must be specified.");
	if (a.schedule && strcmp(a.bus, "default") != 0)
		return api_error(c, 400, "ValidationException",
				 "ScheduleExpression is supported only on the default event bus.");
	if (a.schedule && !schedule_expression_ok(a.schedule))
		return api_error(c, 400, "ValidationException", "Parameter ScheduleExpression is not valid.");
	if (a.pattern && pattern_check(c, a.pattern))
		return -1;
	return api_write(c, plan_put_rule, &a);
}

/* ---- DescribeRule ------------------------------------------------------------------------- */

int op_describe_rule(api_call *c)
{
	const char *name;
	char bus[300];
	vcheck v;
	v_init(&v);
	if (rule_ident(c, &v, "Name", &name, bus, sizeof bus))
		return -1;
	json_t *rec = rule_get(c, bus, name, NULL, true);
	if (!rec)
		return -1;
	c->out = rule_view(c, bus, rec, true);
	json_decref(rec);
	return 0;
}

/* ---- ListRules ----------------------------------------------------------------------------- */

static json_t *list_rule_view(api_call *c, json_t *rec, void *arg)
{
	return rule_view(c, arg, rec, false);
}

int op_list_rules(api_call *c)
{
	const char *prefix, *token, *bus_in;
	bool has_limit;
	long long limit;
	char bus[300], kp[KEY_MAX];
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "NamePrefix", &prefix) || jv_str(c, c->in, "NextToken", &token) ||
	    jv_str(c, c->in, "EventBusName", &bus_in) || jv_int(c, c->in, "Limit", &has_limit, &limit))
		return -1;
	v_string(&v, "namePrefix", prefix, false, 1, 64, RE_NAME, name_ok);
	v_string(&v, "eventBusName", bus_in, false, 1, 1600, RE_BUS_OR_ARN, bus_name_or_arn_ok);
	v_string(&v, "nextToken", token, false, 1, 2048, NULL, NULL);
	v_int_range(&v, "limit", has_limit, limit, 1, 100);
	if (v_finish(c, &v) || bus_resolve(c, bus_in, bus, sizeof bus) || bus_must_exist(c, bus, NULL))
		return -1;
	key_rule_prefix(kp, c->who.account, bus);
	return store_page(c, kp, prefix, token, has_limit ? (size_t)limit : 100, "Rules", list_rule_view, bus);
}

/* ---- DeleteRule / EnableRule / DisableRule -------------------------------------------------- */

typedef struct rule_write_args {
	const char *name;
	char bus[300];
	bool force;
	const char *new_state; /* Enable/Disable; NULL for delete */
} rule_write_args;

static int plan_delete_rule(api_call *c, txn *t, void *arg)
{
	rule_write_args *a = arg;
	uint64_t ver;
	char key[KEY_MAX];
	json_t *rec = rule_get(c, a->bus, a->name, &ver, false);
	if (!rec)
		return 0; /* deleting a missing rule succeeds */
	size_t n_targets = json_array_size(json_object_get(rec, "Targets"));
	json_decref(rec);
	if (n_targets && !a->force)
		return api_error(c, 400, "ValidationException", "Rule can't be deleted since it has targets.");
	key_rule(key, c->who.account, a->bus, a->name);
	txn_del(t, key, (int64_t)ver);
	return 0;
}

int op_delete_rule(api_call *c)
{
	rule_write_args a;
	memset(&a, 0, sizeof a);
	bool has_force;
	vcheck v;
	v_init(&v);
	if (jv_bool(c, c->in, "Force", &has_force, &a.force) || rule_ident(c, &v, "Name", &a.name, a.bus, sizeof a.bus))
		return -1;
	return api_write(c, plan_delete_rule, &a);
}

static int plan_set_state(api_call *c, txn *t, void *arg)
{
	rule_write_args *a = arg;
	uint64_t ver;
	char key[KEY_MAX];
	json_t *rec = rule_get(c, a->bus, a->name, &ver, true);
	if (!rec)
		return -1;
	json_object_set_new(rec, "State", json_string(a->new_state));
	key_rule(key, c->who.account, a->bus, a->name);
	txn_put(t, key, rec, (int64_t)ver);
	json_decref(rec);
	return 0;
}

static int set_state(api_call *c, const char *state)
{
	rule_write_args a;
	memset(&a, 0, sizeof a);
	a.new_state = state;
	vcheck v;
	v_init(&v);
	if (rule_ident(c, &v, "Name", &a.name, a.bus, sizeof a.bus))
		return -1;
	return api_write(c, plan_set_state, &a);
}

int op_enable_rule(api_call *c) { return set_state(c, "ENABLED"); }
int op_disable_rule(api_call *c) { return set_state(c, "DISABLED"); }

/* Shared with op_target.c. */
json_t *rule_load(api_call *c, const char *bus, const char *name, uint64_t *ver)
{
	return rule_get(c, bus, name, ver, true);
}
int rule_request_name(api_call *c, vcheck *v, const char *member, const char **name)
{
	return rule_name_member(c, v, member, name);
}
int rule_request_bus(api_call *c, vcheck *v, const char **bus_in) { return bus_member(c, v, bus_in); }
int rule_bus_exists(api_call *c, const char *bus) { return bus_must_exist(c, bus, NULL); }
