/* node/op_bus.c — event buses: CreateEventBus, DescribeEventBus, ListEventBuses, UpdateEventBus,
 * DeleteEventBus. Shapes and messages: reference §2.1 and Appendix A3.
 *
 * DeleteEventBus of a missing bus succeeds, as recorded on AWS. Choices where AWS is unclear:
 * DeleteEventBus of a bus with rules deletes its rules too (LocalStack
 * behaviour; AWS's docs say the rules "need to be deleted"); partner buses (EventSourceName) are not
 * supported and answer ResourceNotFoundException for the event source.
 */
#include <stdio.h>
#include <string.h>

#include "node_int.h"

static const char *const log_levels[] = {"OFF", "ERROR", "INFO", "TRACE", NULL};
static const char *const log_details[] = {"NONE", "FULL", NULL};

/* Validates the optional members shared by Create/UpdateEventBus. */
static int bus_optional_members(api_call *c, vcheck *v, const char **desc, const char **kms, json_t **dlc,
				json_t **logc)
{
	if (jv_str(c, c->in, "Description", desc) || jv_str(c, c->in, "KmsKeyIdentifier", kms) ||
	    jv_obj(c, c->in, "DeadLetterConfig", dlc) || jv_obj(c, c->in, "LogConfig", logc))
		return -1;
	v_string(v, "description", *desc, false, 0, 512, NULL, NULL);
	v_string(v, "kmsKeyIdentifier", *kms, false, 0, 2048, "^[a-zA-Z0-9_\\-/:]*$", kms_key_ok);
	if (*dlc) {
		const char *arn;
		if (jv_str(c, *dlc, "Arn", &arn))
			return -1;
		v_string(v, "deadLetterConfig.arn", arn, false, 1, 1600, NULL, NULL);
	}
	if (*logc) {
		const char *lvl, *inc;
		if (jv_str(c, *logc, "Level", &lvl) || jv_str(c, *logc, "IncludeDetail", &inc))
			return -1;
		v_enum(v, "logConfig.level", lvl, log_levels, "[OFF, ERROR, INFO, TRACE]");
		v_enum(v, "logConfig.includeDetail", inc, log_details, "[NONE, FULL]");
	}
	return 0;
}

static void set_opt(json_t *rec, const char *key, const char *val)
{
	if (val)
		json_object_set_new(rec, key, json_string(val));
	else
		json_object_del(rec, key);
}

static void set_opt_obj(json_t *rec, const char *key, json_t *val)
{
	if (val)
		json_object_set(rec, key, val);
	else
		json_object_del(rec, key);
}

/* Copies the optional members a bus may carry from rec into out. */
static void bus_copy_optionals(json_t *out, json_t *rec)
{
	static const char *keys[] = {"Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"};
	for (size_t i = 0; i < BB_ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(rec, keys[i]);
		if (v)
			json_object_set(out, keys[i], v);
	}
}

/* Validates a Tags list member (1..128-char keys, 0..256-char values). */
int tags_validate(api_call *c, vcheck *v, json_t *tags, const char *path)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		if (!json_is_object(t))
			return api_error(c, 400, "SerializationException", "Tags must be a list of Tag structures.");
		const char *k, *val;
		if (jv_str(c, t, "Key", &k) || jv_str(c, t, "Value", &val))
			return -1;
		char p[64];
		snprintf(p, sizeof p, "%s.%zu.member.key", path, i + 1);
		v_string(v, p, k, true, 1, 128, NULL, NULL);
		snprintf(p, sizeof p, "%s.%zu.member.value", path, i + 1);
		v_string(v, p, val, true, 0, 256, NULL, NULL);
	}
	return 0;
}

bool scan_count_all(void *ctx, const meta_val *v)
{
	(void)ctx;
	(void)v;
	return true;
}

/* ---- CreateEventBus ----------------------------------------------------------------------- */

typedef struct create_bus_args {
	const char *name, *desc, *kms;
	json_t *dlc, *logc, *tags;
} create_bus_args;

static int plan_create_bus(api_call *c, txn *t, void *arg)
{
	create_bus_args *a = arg;
	char key[KEY_MAX], prefix[KEY_MAX], arn[1700];
	key_bus(key, c->who.account, a->name);
	meta_snap *s = api_snap(c);
	meta_val mv;
	if (meta_snap_get(s, key, strlen(key), &mv))
		return api_error(c, 400, "ResourceAlreadyExistsException", "Event bus %s already exists.", a->name);
	key_bus_prefix(prefix, c->who.account);
	size_t count = meta_snap_scan(s, prefix, strlen(prefix), NULL, 0, scan_count_all, NULL);
	if (count >= c->n->cfg.max_buses_per_account)
		return api_error(c, 400, "LimitExceededException",
				 "The requested resource exceeds the maximum number allowed.");
	double now = api_now_s(c);
	json_t *rec = json_pack("{s:s, s:f, s:f}", "Name", a->name, "CreationTime", now, "LastModifiedTime", now);
	set_opt(rec, "Description", a->desc);
	set_opt(rec, "KmsKeyIdentifier", a->kms);
	set_opt_obj(rec, "DeadLetterConfig", a->dlc);
	set_opt_obj(rec, "LogConfig", a->logc);
	json_object_set_new(rec, "Tags", a->tags ? json_deep_copy(a->tags) : json_array());
	txn_put(t, key, rec, META_ABSENT);
	json_decref(rec);

	arn_bus(c, a->name, arn, sizeof arn);
	c->out = json_pack("{s:s}", "EventBusArn", arn);
	set_opt(c->out, "Description", a->desc);
	set_opt(c->out, "KmsKeyIdentifier", a->kms);
	set_opt_obj(c->out, "DeadLetterConfig", a->dlc);
	set_opt_obj(c->out, "LogConfig", a->logc);
	return 0;
}

int op_create_event_bus(api_call *c)
{
	create_bus_args a = {0};
	const char *source;
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "Name", &a.name) || jv_str(c, c->in, "EventSourceName", &source) ||
	    jv_arr(c, c->in, "Tags", &a.tags))
		return -1;
	v_string(&v, "name", a.name, true, 1, 256, RE_BUS, bus_name_ok);
	v_string(&v, "eventSourceName", source, false, 1, 256, "aws\\.partner(/[\\.\\-_A-Za-z0-9]+){2,}",
		 event_source_name_ok);
	if (bus_optional_members(c, &v, &a.desc, &a.kms, &a.dlc, &a.logc))
		return -1;
	if (a.tags && tags_validate(c, &v, a.tags, "tags"))
		return -1;
	if (v_finish(c, &v))
		return -1;
	if (source)
		return api_error(c, 400, "ResourceNotFoundException", "Event source %s does not exist.", source);
	if (strncmp(a.name, "aws.", 4) == 0)
		return api_error(c, 400, "ValidationException",
				 "Event bus name must not start with 'aws.'.");
	return api_write(c, plan_create_bus, &a);
}

/* ---- DescribeEventBus ----------------------------------------------------------------------- */

static json_t *bus_view(api_call *c, json_t *rec, bool with_optionals)
{
	char arn[1700];
	const char *name = json_string_value(json_object_get(rec, "Name"));
	arn_bus(c, name, arn, sizeof arn);
	json_t *o = json_pack("{s:s, s:s}", "Name", name, "Arn", arn);
	if (with_optionals)
		bus_copy_optionals(o, rec);
	else if (json_object_get(rec, "Description"))
		json_object_set(o, "Description", json_object_get(rec, "Description"));
	json_t *pol = json_object_get(rec, "Policy");
	if (pol)
		json_object_set(o, "Policy", pol);
	json_object_set(o, "CreationTime", json_object_get(rec, "CreationTime"));
	json_object_set(o, "LastModifiedTime", json_object_get(rec, "LastModifiedTime"));
	return o;
}

int op_describe_event_bus(api_call *c)
{
	const char *name;
	char bus[300], key[KEY_MAX];
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "Name", &name))
		return -1;
	v_string(&v, "name", name, false, 1, 1600, RE_BUS_OR_ARN, bus_name_or_arn_ok);
	if (v_finish(c, &v) || bus_resolve(c, name, bus, sizeof bus))
		return -1;
	key_bus(key, c->who.account, bus);
	json_t *rec = store_get(api_snap(c), key, NULL);
	if (!rec)
		return api_error(c, 400, "ResourceNotFoundException", "Event bus %s does not exist.", bus);
	c->out = bus_view(c, rec, true);
	json_decref(rec);
	return 0;
}

/* ---- ListEventBuses ------------------------------------------------------------------------- */

static json_t *list_bus_view(api_call *c, json_t *rec, void *arg)
{
	(void)arg;
	return bus_view(c, rec, false);
}

int op_list_event_buses(api_call *c)
{
	const char *prefix, *token;
	bool has_limit;
	long long limit;
	char kp[KEY_MAX];
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "NamePrefix", &prefix) || jv_str(c, c->in, "NextToken", &token) ||
	    jv_int(c, c->in, "Limit", &has_limit, &limit))
		return -1;
	v_string(&v, "namePrefix", prefix, false, 1, 256, RE_BUS, bus_name_ok);
	v_string(&v, "nextToken", token, false, 1, 2048, NULL, NULL);
	v_int_range(&v, "limit", has_limit, limit, 1, 100);
	if (v_finish(c, &v))
		return -1;
	key_bus_prefix(kp, c->who.account);
	return store_page(c, kp, prefix, token, has_limit ? (size_t)limit : 100, "EventBuses", list_bus_view, NULL);
}

/* ---- UpdateEventBus ------------------------------------------------------------------------- */

typedef struct update_bus_args {
	char bus[300];
	const char *desc, *kms;
	json_t *dlc, *logc;
} update_bus_args;

static int plan_update_bus(api_call *c, txn *t, void *arg)
{
	update_bus_args *a = arg;
	char key[KEY_MAX], arn[1700];
	uint64_t ver;
	key_bus(key, c->who.account, a->bus);
	json_t *rec = store_get(api_snap(c), key, &ver);
	if (!rec)
		return api_error(c, 400, "ResourceNotFoundException", "Event bus %s does not exist.", a->bus);
	set_opt(rec, "Description", a->desc);
	set_opt(rec, "KmsKeyIdentifier", a->kms);
	set_opt_obj(rec, "DeadLetterConfig", a->dlc);
	set_opt_obj(rec, "LogConfig", a->logc);
	json_object_set_new(rec, "LastModifiedTime", json_real(api_now_s(c)));
	txn_put(t, key, rec, (int64_t)ver);
	arn_bus(c, a->bus, arn, sizeof arn);
	c->out = json_pack("{s:s, s:s}", "Arn", arn, "Name", a->bus);
	bus_copy_optionals(c->out, rec);
	json_decref(rec);
	return 0;
}

int op_update_event_bus(api_call *c)
{
	update_bus_args a;
	memset(&a, 0, sizeof a);
	const char *name;
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "Name", &name))
		return -1;
	v_string(&v, "name", name, false, 1, 256, RE_BUS, bus_name_ok);
	if (bus_optional_members(c, &v, &a.desc, &a.kms, &a.dlc, &a.logc) || v_finish(c, &v))
		return -1;
	snprintf(a.bus, sizeof a.bus, "%s", name ? name : "default");
	return api_write(c, plan_update_bus, &a);
}

/* ---- DeleteEventBus ------------------------------------------------------------------------- */

static int plan_delete_bus(api_call *c, txn *t, void *arg)
{
	const char *bus = arg;
	char key[KEY_MAX], rprefix[KEY_MAX];
	uint64_t ver;
	key_bus(key, c->who.account, bus);
	json_t *rec = store_get(api_snap(c), key, &ver);
	if (!rec)
		return 0; /* AWS answers 200 for a bus that does not exist (LocalStack's AWS-recorded case) */
	json_decref(rec);
	txn_del(t, key, (int64_t)ver);
	key_rule_prefix(rprefix, c->who.account, bus);
	txn_del_prefix(t, rprefix);
	return 0;
}

int op_delete_event_bus(api_call *c)
{
	const char *name;
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "Name", &name))
		return -1;
	v_string(&v, "name", name, true, 1, 256, RE_BUS, bus_name_ok);
	if (v_finish(c, &v))
		return -1;
	if (strcmp(name, "default") == 0)
		return api_error(c, 400, "ValidationException", "Cannot delete event bus default.");
	return api_write(c, plan_delete_bus, (void *)name);
}
