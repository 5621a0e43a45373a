/* node/op_apidest.c — API destinations: CreateApiDestination, DescribeApiDestination,
 * UpdateApiDestination, DeleteApiDestination, ListApiDestinations (reference Appendix A3; messages as
 * recorded on AWS in LocalStack's test_api_destinations_and_connection snapshots).
 *
 * Record `d/<acct>/<name>`: Name, ApiDestinationArn, ConnectionArn, InvocationEndpoint, HttpMethod,
 * InvocationRateLimitPerSecond (default 300, as AWS), Description?, ApiDestinationState, CreationTime,
 * LastModifiedTime. The state is ACTIVE when its connection is AUTHORIZED and INACTIVE otherwise, as AWS
 * answers; Describe and List read it from the connection's current state (the delivery engine still attempts deliveries through an OAuth connection that has not
 * fetched its first token yet). InvocationEndpoint must be https:// on AWS; Busbar also accepts
 * http:// (local webhooks) unless the operator sets --apidest-https-only.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"

static const char *const methods[] = {"POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE", NULL};
#define METHODS_SHOWN "[POST, GET, HEAD, OPTIONS, PUT, PATCH, DELETE]"
#define RE_CONN_ARN "^arn:aws([a-z]|\\-)*:events:([a-z]|\\d|\\-)*:([0-9]{12})?:connection\\/[\\.\\-_A-Za-z0-9]+\\/[\\-A-Za-z0-9]+$"
#define RE_ENDPOINT "^((%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@\\x26=+$,A-Za-z0-9])+)([).!';/?:,])?$"

/* connection/<name>/<id> with a 12-digit (or empty) account. */
static bool conn_arn_ok(const char *s)
{
	char acct[32], name[80], id[80];
	int n = 0;
	if (sscanf(s, "arn:aws:events:%*[a-z0-9-]:%31[0-9]:connection/%79[.A-Za-z0-9_-]/%79[A-Za-z0-9-]%n", acct, name,
		   id, &n) != 3 || s[n] != '\0')
		return false;
	return strlen(acct) == 12;
}

static bool endpoint_ok(const char *s)
{
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '%') {
			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				return false;
			p += 2;
			continue;
		}
		if (!(isalnum(ch) || strchr("-()_.!~*';/?:@&=+$,", ch)))
			return false;
	}
	return *s != '\0';
}

typedef struct dest_args {
	const char *name, *desc, *conn_arn, *endpoint, *method;
	bool has_rate;
	long long rate;
} dest_args;

static int read_members(api_call *c, dest_args *a, bool create)
{
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "Name", &a->name) || jv_str(c, c->in, "Description", &a->desc) ||
	    jv_str(c, c->in, "ConnectionArn", &a->conn_arn) || jv_str(c, c->in, "InvocationEndpoint", &a->endpoint) ||
	    jv_str(c, c->in, "HttpMethod", &a->method) ||
	    jv_int(c, c->in, "InvocationRateLimitPerSecond", &a->has_rate, &a->rate))
		return -1;
	v_string(&v, "name", a->name, true, 1, 64, RE_NAME, name_ok);
	v_string(&v, "description", a->desc, false, 0, 512, NULL, NULL);
	v_string(&v, "connectionArn", a->conn_arn, create, 1, 1600, RE_CONN_ARN, conn_arn_ok);
	v_string(&v, "invocationEndpoint", a->endpoint, create, 1, 2048, RE_ENDPOINT, endpoint_ok);
	if (create && !a->method)
		v_add(&v, NULL, "httpMethod", "Member must not be null");
	else
		v_enum(&v, "httpMethod", a->method, methods, METHODS_SHOWN);
	if (a->has_rate && a->rate < 1)
		v_add(&v, NULL, "invocationRateLimitPerSecond", "Member must have value greater than or equal to 1");
	if (v_finish(c, &v))
		return -1;
	if (a->endpoint) {
		bool https = strncmp(a->endpoint, "https://", 8) == 0;
		bool http = strncmp(a->endpoint, "http://", 7) == 0;
		if (!https && !(http && !c->n->cfg.apidest_https_only))
			return api_error(c, 400, "ValidationException", "Invalid HTTPS endpoint provided: %s.",
					 a->endpoint);
	}
	return 0;
}

/* Loads the connection an ARN names (same account). */
static json_t *connection_of(api_call *c, const char *arn)
{
	json_t *rec = strstr(arn, ":connection/") ? store_get_by_arn(api_snap(c), arn, c->who.account) : NULL;
	if (!rec)
		api_error(c, 400, "ResourceNotFoundException", "Connection '%s' does not exist.", arn);
	return rec;
}

static const char *state_for(json_t *conn)
{
	const char *s = json_string_value(json_object_get(conn, "ConnectionState"));
	return s && strcmp(s, "AUTHORIZED") == 0 ? "ACTIVE" : "INACTIVE";
}

/* Sets rec's ApiDestinationState from its connection's state now (a connection turns AUTHORIZED
 * after CreateApiDestination when its first OAuth token arrives, conn_token.c). */
static void live_state(api_call *c, json_t *rec)
{
	const char *arn = json_string_value(json_object_get(rec, "ConnectionArn"));
	json_t *conn = arn ? store_get_by_arn(api_snap(c), arn, c->who.account) : NULL;
	json_object_set_new(rec, "ApiDestinationState", json_string(state_for(conn)));
	json_decref(conn);
}

static json_t *short_view(json_t *rec)
{
	return json_pack("{s:O, s:O, s:O, s:O}", "ApiDestinationArn", json_object_get(rec, "ApiDestinationArn"),
			 "ApiDestinationState", json_object_get(rec, "ApiDestinationState"), "CreationTime",
			 json_object_get(rec, "CreationTime"), "LastModifiedTime", json_object_get(rec, "LastModifiedTime"));
}

static int plan_create(api_call *c, txn *t, void *arg)
{
	dest_args *a = arg;
	char key[KEY_MAX];
	key_apidest(key, c->who.account, a->name);
	meta_val mv;
	if (meta_snap_get(api_snap(c), key, strlen(key), &mv))
		return api_error(c, 400, "ResourceAlreadyExistsException", "An api-destination '%s' already exists.", a->name);
	json_t *conn = connection_of(c, a->conn_arn);
	if (!conn)
		return -1;
	char uuid[37], arn[1700];
	bb_uuid4(&bb_rng_system, uuid);
	snprintf(arn, sizeof arn, "arn:aws:events:%s:%s:api-destination/%s/%s", c->n->region, c->who.account, a->name,
		 uuid);
	double now = api_now_s(c);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:f, s:f}", "Name", a->name, "ApiDestinationArn", arn,
				"ConnectionArn", a->conn_arn, "InvocationEndpoint", a->endpoint, "HttpMethod", a->method,
				"InvocationRateLimitPerSecond", (json_int_t)(a->has_rate ? a->rate : 300),
				"ApiDestinationState", state_for(conn), "CreationTime", now, "LastModifiedTime", now);
	json_decref(conn);
	if (a->desc)
		json_object_set_new(rec, "Description", json_string(a->desc));
	txn_put(t, key, rec, META_ABSENT);
	c->out = short_view(rec);
	json_decref(rec);
	return 0;
}

int op_create_api_destination(api_call *c)
{
	dest_args a = {0};
	if (read_members(c, &a, true))
		return -1;
	return api_write(c, plan_create, &a);
}

static json_t *load(api_call *c, const char *name, uint64_t *ver)
{
	char key[KEY_MAX];
	key_apidest(key, c->who.account, name);
	json_t *rec = store_get(api_snap(c), key, ver);
	if (!rec)
		api_error(c, 400, "ResourceNotFoundException",
			  "Failed to describe the api-destination(s). An api-destination '%s' does not exist.", name);
	return rec;
}

static int name_only(api_call *c, const char **name)
{
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "Name", name))
		return -1;
	v_string(&v, "name", *name, true, 1, 64, RE_NAME, name_ok);
	return v_finish(c, &v);
}

int op_describe_api_destination(api_call *c)
{
	const char *name;
	if (name_only(c, &name))
		return -1;
	c->out = load(c, name, NULL);
	if (c->out)
		live_state(c, c->out);
	return c->out ? 0 : -1;
}

static int plan_update(api_call *c, txn *t, void *arg)
{
	dest_args *a = arg;
	uint64_t ver;
	json_t *rec = load(c, a->name, &ver);
	if (!rec)
		return -1;
	if (a->conn_arn) {
		json_t *conn = connection_of(c, a->conn_arn);
		if (!conn) {
			json_decref(rec);
			return -1;
		}
		json_object_set_new(rec, "ConnectionArn", json_string(a->conn_arn));
		json_object_set_new(rec, "ApiDestinationState", json_string(state_for(conn)));
		json_decref(conn);
	}
	if (a->endpoint)
		json_object_set_new(rec, "InvocationEndpoint", json_string(a->endpoint));
	if (a->method)
		json_object_set_new(rec, "HttpMethod", json_string(a->method));
	if (a->has_rate)
		json_object_set_new(rec, "InvocationRateLimitPerSecond", json_integer(a->rate));
	if (a->desc)
		json_object_set_new(rec, "Description", json_string(a->desc));
	json_object_set_new(rec, "LastModifiedTime", json_real(api_now_s(c)));
	char key[KEY_MAX];
	key_apidest(key, c->who.account, a->name);
	txn_put(t, key, rec, (int64_t)ver);
	c->out = short_view(rec);
	json_decref(rec);
	return 0;
}

int op_update_api_destination(api_call *c)
{
	dest_args a = {0};
	if (read_members(c, &a, false))
		return -1;
	return api_write(c, plan_update, &a);
}

static int plan_delete(api_call *c, txn *t, void *arg)
{
	const char *name = arg;
	uint64_t ver;
	json_t *rec = load(c, name, &ver);
	if (!rec)
		return -1;
	char key[KEY_MAX];
	key_apidest(key, c->who.account, name);
	txn_del(t, key, (int64_t)ver);
	json_decref(rec);
	return 0;
}

int op_delete_api_destination(api_call *c)
{
	const char *name;
	if (name_only(c, &name))
		return -1;
	return api_write(c, plan_delete, (void *)name);
}

static json_t *list_view(api_call *c, json_t *rec, void *arg)
{
	const char *conn = arg;
	if (conn && strcmp(conn, json_string_value(json_object_get(rec, "ConnectionArn"))) != 0)
		return NULL;
	json_t *o = json_deep_copy(rec);
	json_object_del(o, "Description");
	live_state(c, o);
	return o;
}

int op_list_api_destinations(api_call *c)
{
	const char *prefix, *conn, *token;
	bool has_limit;
	long long limit = 0;
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "NamePrefix", &prefix) || jv_str(c, c->in, "ConnectionArn", &conn) ||
	    jv_str(c, c->in, "NextToken", &token) || jv_int(c, c->in, "Limit", &has_limit, &limit))
		return -1;
	v_string(&v, "namePrefix", prefix, false, 1, 64, RE_NAME, name_ok);
	v_string(&v, "connectionArn", conn, false, 1, 1600, RE_CONN_ARN, conn_arn_ok);
	v_string(&v, "nextToken", token, false, 1, 2048, NULL, NULL);
	v_int_range(&v, "limit", has_limit, limit, 1, 100);
	if (v_finish(c, &v))
		return -1;
	char kp[KEY_MAX];
	snprintf(kp, sizeof kp, "d/%s/", c->who.account);
	return store_page(c, kp, prefix, token, has_limit ? (size_t)limit : 100, "ApiDestinations", list_view,
			  (void *)conn);
}
