/* node/op_connection.c — connections: CreateConnection, DescribeConnection, UpdateConnection,
 * DeleteConnection, ListConnections, DeauthorizeConnection (reference Appendix A3; shapes, states and
 * messages as recorded on AWS in LocalStack's test_api_destinations_and_connection snapshots).
 *
 * Record `c/<acct>/<name>`: Name, ConnectionArn, AuthorizationType, AuthParameters (as given, secrets
 * included), Description?, ConnectionState, CreationTime, LastModifiedTime, LastAuthorizedTime,
 * SecretArn. Secrets (ApiKeyValue, Password, ClientSecret) never leave the node through the API:
 * Describe returns AuthParameters with them removed, and nothing here logs them. They are stored in
 * the replicated metadata in clear (the cluster issue adds encryption at rest; docs/api.md).
 *
 * States: API_KEY and BASIC connections are AUTHORIZED at once; OAUTH_CLIENT_CREDENTIALS ones are
 * AUTHORIZING (as AWS answers) until the first token is obtained (conn_token.c, kicked from here). DeauthorizeConnection sets
 * DEAUTHORIZED (deliveries through it fail without retry); UpdateConnection with new authorization
 * parameters authorizes it again. DeleteConnection answers the record with state DELETING, as AWS.
 */
#include <stdio.h>
#include <string.h>

#include "node_int.h"

static const char *const auth_types[] = {"BASIC", "OAUTH_CLIENT_CREDENTIALS", "API_KEY", NULL};
#define AUTH_TYPES_SHOWN "[BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]"
static const char *const oauth_methods[] = {"GET", "POST", "PUT", NULL};

static int name_member(api_call *c, vcheck *v, const char **name)
{
	if (jv_str(c, c->in, "Name", name))
		return -1;
	v_string(v, "name", *name, true, 1, 64, RE_NAME, name_ok);
	return 0;
}

/* Validates AuthParameters for the type (members required by AWS for each). */
static int auth_params_check(api_call *c, vcheck *v, const char *type, json_t *ap, bool create)
{
	json_t *basic = json_object_get(ap, "BasicAuthParameters"), *oauth = json_object_get(ap, "OAuthParameters"),
	       *key = json_object_get(ap, "ApiKeyAuthParameters");
	if (basic && !json_is_object(basic))
		return api_error(c, 400, "SerializationException", "BasicAuthParameters must be a structure.");
	if (oauth && !json_is_object(oauth))
		return api_error(c, 400, "SerializationException", "OAuthParameters must be a structure.");
	if (key && !json_is_object(key))
		return api_error(c, 400, "SerializationException", "ApiKeyAuthParameters must be a structure.");
	const char *a, *b;
	if (basic) {
		if (jv_str(c, basic, "Username", &a) || jv_str(c, basic, "Password", &b))
			return -1;
		v_string(v, "authParameters.basicAuthParameters.username", a, create, 1, 512, NULL, NULL);
		v_secret(v, "authParameters.basicAuthParameters.password", b, create, 1, 512);
	}
	if (key) {
		if (jv_str(c, key, "ApiKeyName", &a) || jv_str(c, key, "ApiKeyValue", &b))
			return -1;
		v_string(v, "authParameters.apiKeyAuthParameters.apiKeyName", a, create, 1, 512, NULL, NULL);
		v_secret(v, "authParameters.apiKeyAuthParameters.apiKeyValue", b, create, 1, 512);
	}
	if (oauth) {
		json_t *cp = json_object_get(oauth, "ClientParameters");
		const char *ep, *m, *id = NULL, *sec = NULL;
		if (jv_str(c, oauth, "AuthorizationEndpoint", &ep) || jv_str(c, oauth, "HttpMethod", &m) ||
		    (cp && (jv_str(c, cp, "ClientID", &id) || jv_str(c, cp, "ClientSecret", &sec))))
			return -1;
		v_string(v, "authParameters.oAuthParameters.authorizationEndpoint", ep, create, 1, 2048, NULL, NULL);
		v_enum(v, "authParameters.oAuthParameters.httpMethod", m, oauth_methods, "[GET, POST, PUT]");
		if (create && !cp)
			v_add(v, NULL, "authParameters.oAuthParameters.clientParameters", "Member must not be null");
		v_string(v, "authParameters.oAuthParameters.clientParameters.clientID", id, create, 1, 512, NULL, NULL);
		v_secret(v, "authParameters.oAuthParameters.clientParameters.clientSecret", sec, create, 1, 512);
	}
	if (v_finish(c, v))
		return -1;
	if (!create || !type)
		return 0;
	bool ok = (strcmp(type, "BASIC") == 0 && basic) || (strcmp(type, "API_KEY") == 0 && key) ||
		  (strcmp(type, "OAUTH_CLIENT_CREDENTIALS") == 0 && oauth);
	if (!ok)
		return api_error(c, 400, "ValidationException",
				 "The request failed because the authorization parameters are missing for %s.", type);
	int n = !!basic + !!oauth + !!key;
	if (n > 1)
		return api_error(c, 400, "ValidationException",
				 "The request failed because it contains parameters of more than one authorization type.");
	return 0;
}

/* The record's public view: secrets removed. */
static json_t *public_auth(json_t *ap)
{
	json_t *o = json_deep_copy(ap ? ap : json_object());
	json_object_del(json_object_get(o, "BasicAuthParameters"), "Password");
	json_object_del(json_object_get(o, "ApiKeyAuthParameters"), "ApiKeyValue");
	json_object_del(json_object_get(json_object_get(o, "OAuthParameters"), "ClientParameters"), "ClientSecret");
	/* Values of parameters marked IsValueSecret are secrets too. */
	static const char *lists[] = {"HeaderParameters", "QueryStringParameters", "BodyParameters"};
	json_t *hp[2] = {json_object_get(o, "InvocationHttpParameters"),
			 json_object_get(json_object_get(o, "OAuthParameters"), "OAuthHttpParameters")};
	for (int h = 0; h < 2; h++)
		for (size_t l = 0; l < 3; l++) {
			size_t i;
			json_t *p;
			json_array_foreach(json_object_get(hp[h], lists[l]), i, p)
			{
				if (json_is_true(json_object_get(p, "IsValueSecret")))
					json_object_del(p, "Value");
			}
		}
	return o;
}

/* What Update/Deauthorize/DeleteConnection answer. */
static json_t *write_view(json_t *rec)
{
	json_t *o = json_object();
	static const char *keys[] = {"ConnectionArn", "ConnectionState", "CreationTime", "LastModifiedTime",
				     "LastAuthorizedTime"};
	for (size_t i = 0; i < BB_ARRAY_LEN(keys); i++)
		json_object_set(o, keys[i], json_object_get(rec, keys[i]));
	return o;
}

static const char *initial_state(const char *type)
{
	return strcmp(type, "OAUTH_CLIENT_CREDENTIALS") == 0 ? "AUTHORIZING" : "AUTHORIZED";
}

/* After a successful Create/Update whose answer says AUTHORIZING: ask for the first token now
 * (conn_token.c writes AUTHORIZED once it has one). */
static void kick_if_authorizing(api_call *c, int rc)
{
	const char *state = json_string_value(json_object_get(c->out, "ConnectionState"));
	const char *arn = json_string_value(json_object_get(c->out, "ConnectionArn"));
	if (rc == 0 && state && arn && strcmp(state, "AUTHORIZING") == 0)
		conn_tokens_authorize(c->n->tokens, arn);
}

/* ---- Create ----------------------------------------------------------------------------------- */

typedef struct conn_args {
	const char *name, *type, *desc;
	json_t *auth;
} conn_args;

static int plan_create(api_call *c, txn *t, void *arg)
{
	conn_args *a = arg;
	char key[KEY_MAX];
	key_connection(key, c->who.account, a->name);
	meta_val mv;
	if (meta_snap_get(api_snap(c), key, strlen(key), &mv))
		return api_error(c, 400, "ResourceAlreadyExistsException", "Connection %s already exists.", a->name);
	char uuid[37], arn[1700], secret[1800];
	bb_uuid4(&bb_rng_system, uuid);
	snprintf(arn, sizeof arn, "arn:aws:events:%s:%s:connection/%s/%s", c->n->region, c->who.account, a->name, uuid);
	snprintf(secret, sizeof secret, "arn:aws:secretsmanager:%s:%s:secret:events!connection/%s/%s", c->n->region,
		 c->who.account, a->name, uuid);
	double now = api_now_s(c);
	const char *state = initial_state(a->type);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:f, s:f, s:f}", "Name", a->name, "ConnectionArn", arn,
				"AuthorizationType", a->type, "AuthParameters", a->auth, "ConnectionState", state,
				"SecretArn", secret, "CreationTime", now, "LastModifiedTime", now, "LastAuthorizedTime", now);
	if (a->desc)
		json_object_set_new(rec, "Description", json_string(a->desc));
	txn_put(t, key, rec, META_ABSENT);
	json_decref(rec);
	c->out = json_pack("{s:s, s:s, s:f, s:f}", "ConnectionArn", arn, "ConnectionState", state, "CreationTime", now,
			   "LastModifiedTime", now);
	return 0;
}

int op_create_connection(api_call *c)
{
	conn_args a = {0};
	vcheck v;
	v_init(&v);
	if (name_member(c, &v, &a.name) || jv_str(c, c->in, "Description", &a.desc) ||
	    jv_str(c, c->in, "AuthorizationType", &a.type) || jv_obj(c, c->in, "AuthParameters", &a.auth))
		return -1;
	v_string(&v, "description", a.desc, false, 0, 512, NULL, NULL);
	if (!a.type)
		v_add(&v, NULL, "authorizationType", "Member must not be null");
	else
		v_enum(&v, "authorizationType", a.type, auth_types, AUTH_TYPES_SHOWN);
	if (!a.auth)
		v_add(&v, NULL, "authParameters", "Member must not be null");
	if (auth_params_check(c, &v, a.type, a.auth, true))
		return -1;
	int rc = api_write(c, plan_create, &a);
	kick_if_authorizing(c, rc);
	return rc;
}

/* ---- Describe / List -------------------------------------------------------------------------- */

static json_t *load(api_call *c, const char *name, uint64_t *ver, const char *what)
{
	char key[KEY_MAX];
	key_connection(key, c->who.account, name);
	json_t *rec = store_get(api_snap(c), key, ver);
	if (!rec)
		api_error(c, 400, "ResourceNotFoundException", "Failed to %s the connection(s). Connection '%s' does not exist.",
			  what, name);
	return rec;
}

int op_describe_connection(api_call *c)
{
	const char *name;
	vcheck v;
	v_init(&v);
	if (name_member(c, &v, &name) || v_finish(c, &v))
		return -1;
	json_t *rec = load(c, name, NULL, "describe");
	if (!rec)
		return -1;
	c->out = json_deep_copy(rec);
	json_object_set_new(c->out, "AuthParameters", public_auth(json_object_get(rec, "AuthParameters")));
	json_decref(rec);
	return 0;
}

static json_t *list_view(api_call *c, json_t *rec, void *arg)
{
	(void)c;
	const char *state = arg;
	if (state && strcmp(state, json_string_value(json_object_get(rec, "ConnectionState"))) != 0)
		return NULL;
	json_t *o = json_object();
	static const char *keys[] = {"AuthorizationType", "ConnectionArn", "ConnectionState", "CreationTime",
				     "LastAuthorizedTime", "LastModifiedTime", "Name", "StateReason"};
	for (size_t i = 0; i < BB_ARRAY_LEN(keys); i++)
		if (json_object_get(rec, keys[i]))
			json_object_set(o, keys[i], json_object_get(rec, keys[i]));
	return o;
}

int op_list_connections(api_call *c)
{
	const char *prefix, *state, *token;
	bool has_limit;
	long long limit = 0;
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "NamePrefix", &prefix) || jv_str(c, c->in, "ConnectionState", &state) ||
	    jv_str(c, c->in, "NextToken", &token) || jv_int(c, c->in, "Limit", &has_limit, &limit))
		return -1;
	v_string(&v, "namePrefix", prefix, false, 1, 64, RE_NAME, name_ok);
	v_string(&v, "nextToken", token, false, 1, 2048, NULL, NULL);
	v_int_range(&v, "limit", has_limit, limit, 1, 100);
	if (v_finish(c, &v))
		return -1;
	char kp[KEY_MAX];
	snprintf(kp, sizeof kp, "c/%s/", c->who.account);
	return store_page(c, kp, prefix, token, has_limit ? (size_t)limit : 100, "Connections", list_view, (void *)state);
}

/* ---- Update / Deauthorize / Delete ----------------------------------------------------------- */

static void merge_obj(json_t *into, json_t *from)
{
	const char *k;
	json_t *v;
	json_object_foreach(from, k, v)
	{
		json_t *cur = json_object_get(into, k);
		if (json_is_object(v) && json_is_object(cur))
			merge_obj(cur, v);
		else
			json_object_set(into, k, v);
	}
}

static int plan_update(api_call *c, txn *t, void *arg)
{
	conn_args *a = arg;
	uint64_t ver;
	json_t *rec = load(c, a->name, &ver, "describe");
	if (!rec)
		return -1;
	double now = api_now_s(c);
	if (a->type)
		json_object_set_new(rec, "AuthorizationType", json_string(a->type));
	if (a->desc)
		json_object_set_new(rec, "Description", json_string(a->desc));
	if (a->auth) {
		json_t *ap = json_object_get(rec, "AuthParameters");
		if (a->type) {
			json_object_set(rec, "AuthParameters", a->auth); /* a new type replaces the parameters */
		} else {
			merge_obj(ap, a->auth);
		}
		const char *type = json_string_value(json_object_get(rec, "AuthorizationType"));
		json_object_set_new(rec, "ConnectionState", json_string(initial_state(type)));
		json_object_set_new(rec, "LastAuthorizedTime", json_real(now));
	}
	json_object_set_new(rec, "LastModifiedTime", json_real(now));
	char key[KEY_MAX];
	key_connection(key, c->who.account, a->name);
	txn_put(t, key, rec, (int64_t)ver);
	c->out = write_view(rec);
	json_decref(rec);
	return 0;
}

int op_update_connection(api_call *c)
{
	conn_args a = {0};
	vcheck v;
	v_init(&v);
	if (name_member(c, &v, &a.name) || jv_str(c, c->in, "Description", &a.desc) ||
	    jv_str(c, c->in, "AuthorizationType", &a.type) || jv_obj(c, c->in, "AuthParameters", &a.auth))
		return -1;
	v_string(&v, "description", a.desc, false, 0, 512, NULL, NULL);
	v_enum(&v, "authorizationType", a.type, auth_types, AUTH_TYPES_SHOWN);
	if (auth_params_check(c, &v, a.type, a.auth, a.type != NULL))
		return -1;
	int rc = api_write(c, plan_update, &a);
	kick_if_authorizing(c, rc);
	return rc;
}

static int plan_state(api_call *c, txn *t, void *arg)
{
	conn_args *a = arg; /* type carries the operation: "deauthorize" or "delete" */
	uint64_t ver;
	bool del = strcmp(a->type, "delete") == 0;
	json_t *rec = load(c, a->name, &ver, del ? "delete" : "deauthorize");
	if (!rec)
		return -1;
	char key[KEY_MAX];
	key_connection(key, c->who.account, a->name);
	double now = api_now_s(c);
	json_object_set_new(rec, "ConnectionState", json_string(del ? "DELETING" : "DEAUTHORIZED"));
	json_object_set_new(rec, "LastModifiedTime", json_real(now));
	if (del)
		txn_del(t, key, (int64_t)ver);
	else
		txn_put(t, key, rec, (int64_t)ver);
	c->out = write_view(rec);
	json_decref(rec);
	return 0;
}

static int state_op(api_call *c, const char *what)
{
	conn_args a = {.type = what};
	vcheck v;
	v_init(&v);
	if (name_member(c, &v, &a.name) || v_finish(c, &v))
		return -1;
	return api_write(c, plan_state, &a);
}

int op_deauthorize_connection(api_call *c) { return state_op(c, "deauthorize"); }
int op_delete_connection(api_call *c) { return state_op(c, "delete"); }
