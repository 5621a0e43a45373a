/* node/store.c — how EventBridge resources map onto the replicated key/value metadata (raft/meta.h).
 *
 * Key layout (bytewise ordered, so prefix scans list a bus's rules in name order):
 *   a/<acct>                 account record        {"Id","CreationTime"}
 *   k/<akid>                 access key            {"Account","Secret"}
 *   b/<acct>/<bus>           event bus             {"Name","Description"?,"CreationTime","LastModifiedTime",
 *                                                   "Tags":[...], "KmsKeyIdentifier"?, "DeadLetterConfig"?, ...}
 *   r/<acct>/<bus>|<rule>    rule                  {"Name","EventPattern"?,"ScheduleExpression"?,"State",
 *                                                   "Description"?,"RoleArn"?,"CreatedBy","Targets":[...],"Tags":[...]}
 *   c/<acct>/<name>          connection            (node/op_connection.c)
 *   d/<acct>/<name>          API destination       (node/op_apidest.c)
 *   q/<acct>/<name>          built-in queue        (node/sqs_queue.c; its messages live in node/db)
 * '|' is outside the bus-name alphabet, so "r/<acct>/<bus>|" never prefixes another bus's rules.
 * Values are compact JSON; a record's version (raft index of its last write) is the CAS token.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "node_int.h"

void key_account(char *k, const char *acct) { snprintf(k, KEY_MAX, "a/%s", acct); }
void key_access(char *k, const char *akid) { snprintf(k, KEY_MAX, "k/%s", akid); }
void key_bus(char *k, const char *acct, const char *bus) { snprintf(k, KEY_MAX, "b/%s/%s", acct, bus); }
void key_bus_prefix(char *k, const char *acct) { snprintf(k, KEY_MAX, "b/%s/", acct); }
void key_rule(char *k, const char *acct, const char *bus, const char *rule)
{
	snprintf(k, KEY_MAX, "r/%s/%s|%s", acct, bus, rule);
}
void key_rule_prefix(char *k, const char *acct, const char *bus) { snprintf(k, KEY_MAX, "r/%s/%s|", acct, bus); }
void key_connection(char *k, const char *acct, const char *name) { snprintf(k, KEY_MAX, "c/%s/%s", acct, name); }
void key_apidest(char *k, const char *acct, const char *name) { snprintf(k, KEY_MAX, "d/%s/%s", acct, name); }
void key_queue(char *k, const char *acct, const char *name) { snprintf(k, KEY_MAX, "q/%s/%s", acct, name); }
void key_queue_prefix(char *k, const char *acct) { snprintf(k, KEY_MAX, "q/%s/", acct); }

json_t *store_get(meta_snap *s, const char *key, uint64_t *version)
{
	meta_val v;
	if (version)
		*version = 0;
	if (!meta_snap_get(s, key, strlen(key), &v))
		return NULL;
	json_error_t err;
	json_t *j = json_loadb((const char *)v.data, v.len, 0, &err);
	if (!j || !json_is_object(j)) {
		BB_LOGE("store", "msg=\"corrupt record\" key=\"%s\"", key);
		json_decref(j);
		return NULL;
	}
	if (version)
		*version = v.version;
	return j;
}

bool bus_arn_split(const char *name_or_arn, char region[64], char account[16], const char **name)
{
	region[0] = account[0] = '\0';
	*name = name_or_arn ? name_or_arn : "default";
	if (strncmp(*name, "arn:", 4) != 0)
		return true;
	int end = 0;
	if (sscanf(*name, "arn:aws%*[a-z-]:events:%63[^:]:%15[^:]:event-bus/%n", region, account, &end) != 2 &&
	    sscanf(*name, "arn:aws:events:%63[^:]:%15[^:]:event-bus/%n", region, account, &end) != 2)
		return false;
	if (end == 0)
		return false;
	*name += end;
	return true;
}

int bus_resolve(api_call *c, const char *name_or_arn, char *bus, size_t cap)
{
	char region[64], acct[16];
	const char *name;
	if (!bus_arn_split(name_or_arn, region, acct, &name))
		return api_error(c, 400, "ValidationException", "Parameter EventBusName is not valid.");
	if (region[0] && strcmp(region, c->n->region) != 0)
		return api_error(c, 400, "ValidationException",
				 "Parameter EventBusName is not valid. Reason: Event bus region does not match.");
	if (acct[0] && strcmp(acct, c->who.account) != 0)
		return api_error(c, 400, "AccessDeniedException", "User is not authorized to access event bus %s.", name);
	if (strlen(name) >= cap)
		return api_error(c, 400, "ValidationException", "Parameter EventBusName is not valid.");
	strcpy(bus, name);
	return 0;
}

void arn_bus_of(const char *region, const char *account, const char *bus, char *out, size_t cap)
{
	snprintf(out, cap, "arn:aws:events:%s:%s:event-bus/%s", region, account, bus);
}

void arn_rule_of(const char *region, const char *account, const char *bus, const char *rule, char *out, size_t cap)
{
	if (strcmp(bus, "default") == 0)
		snprintf(out, cap, "arn:aws:events:%s:%s:rule/%s", region, account, rule);
	else
		snprintf(out, cap, "arn:aws:events:%s:%s:rule/%s/%s", region, account, bus, rule);
}

void arn_bus(api_call *c, const char *bus, char *out, size_t cap) { arn_bus_of(c->n->region, c->who.account, bus, out, cap); }

void arn_rule(api_call *c, const char *bus, const char *rule, char *out, size_t cap)
{
	arn_rule_of(c->n->region, c->who.account, bus, rule, out, cap);
}

/* Tokens: base64url("bb1:" + last). Opaque to clients, stable across inserts and deletes because
 * they name a position in key order rather than an offset. */
char *token_make(const char *last)
{
	size_t raw_len = strlen(last) + 4;
	char *raw = malloc(raw_len + 1);
	if (!raw)
		return NULL;
	snprintf(raw, raw_len + 1, "bb1:%s", last);
	size_t cap = sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *tok = malloc(cap);
	if (tok)
		sodium_bin2base64(tok, cap, (const unsigned char *)raw, raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	free(raw);
	return tok;
}

int token_parse(api_call *c, const char *tok, char *last, size_t cap)
{
	unsigned char raw[1100];
	size_t raw_len = 0;
	if (strlen(tok) > 2048 ||
	    sodium_base642bin(raw, sizeof raw - 1, tok, strlen(tok), NULL, &raw_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    raw_len < 4 || memcmp(raw, "bb1:", 4) != 0 || raw_len - 4 >= cap || memchr(raw, 0, raw_len))
		return api_error(c, 400, "ValidationException", "The NextToken provided is not valid.");
	memcpy(last, raw + 4, raw_len - 4);
	last[raw_len - 4] = '\0';
	return 0;
}

/* ---- paged listing ------------------------------------------------------------------------- */

typedef struct page_ctx {
	api_call *c;
	json_t *items;
	size_t limit, strip;
	page_view_fn view;
	void *arg;
	char last[KEY_MAX];
	bool more;
} page_ctx;

static bool page_cb(void *ctx, const meta_val *mv)
{
	page_ctx *p = ctx;
	json_error_t err;
	json_t *rec = json_loadb((const char *)mv->data, mv->len, 0, &err);
	if (!rec)
		return true;
	json_t *item = p->view(p->c, rec, p->arg);
	json_decref(rec);
	if (!item)
		return true; /* filtered out */
	if (json_array_size(p->items) == p->limit) {
		json_decref(item);
		p->more = true;
		return false;
	}
	json_array_append_new(p->items, item);
	size_t n = mv->key_len - p->strip;
	if (n >= sizeof p->last)
		n = sizeof p->last - 1;
	memcpy(p->last, mv->key + p->strip, n);
	p->last[n] = '\0';
	return true;
}

int store_page(api_call *c, const char *key_prefix, const char *name_prefix, const char *token, size_t limit,
	       const char *items_key, page_view_fn view, void *arg)
{
	char after[KEY_MAX] = "", akey[2 * KEY_MAX], scan[2 * KEY_MAX];
	if (token && token_parse(c, token, after, sizeof after))
		return -1;
	snprintf(scan, sizeof scan, "%s%s", key_prefix, name_prefix ? name_prefix : "");
	snprintf(akey, sizeof akey, "%s%s", key_prefix, after);
	page_ctx p = {.c = c, .items = json_array(), .limit = limit, .strip = strlen(key_prefix), .view = view,
		      .arg = arg};
	meta_snap_scan(api_snap(c), scan, strlen(scan), token ? akey : NULL, token ? strlen(akey) : 0, page_cb, &p);
	c->out = json_pack("{s:o}", items_key, p.items);
	if (p.more) {
		char *tok = token_make(p.last);
		json_object_set_new(c->out, "NextToken", json_string(tok));
		free(tok);
	}
	return 0;
}

json_t *tags_of(json_t *rec)
{
	json_t *t = json_object_get(rec, "Tags");
	return json_is_array(t) ? json_deep_copy(t) : json_array();
}

/* ---- transactions --------------------------------------------------------------------------- */

static char *txn_keep(txn *t, char *p)
{
	if (!p || t->n_owned >= BB_ARRAY_LEN(t->owned)) {
		free(p);
		t->overflow = true;
		return NULL;
	}
	t->owned[t->n_owned++] = p;
	return p;
}

static meta_op *txn_next(txn *t)
{
	if (t->n_ops >= TXN_MAX_OPS) {
		t->overflow = true;
		return NULL;
	}
	meta_op *op = &t->ops[t->n_ops++];
	memset(op, 0, sizeof *op);
	return op;
}

static void txn_key(txn *t, meta_op *op, const char *key)
{
	char *k = txn_keep(t, strdup(key));
	op->key = k;
	op->key_len = k ? strlen(k) : 0;
}

void txn_put(txn *t, const char *key, json_t *val, int64_t expect)
{
	meta_op *op = txn_next(t);
	if (!op)
		return;
	op->kind = META_OP_PUT;
	op->expect = expect;
	txn_key(t, op, key);
	char *v = txn_keep(t, json_dumps(val, JSON_COMPACT | JSON_PRESERVE_ORDER));
	op->val = v;
	op->val_len = v ? strlen(v) : 0;
}

void txn_del(txn *t, const char *key, int64_t expect)
{
	meta_op *op = txn_next(t);
	if (!op)
		return;
	op->kind = META_OP_DEL;
	op->expect = expect;
	txn_key(t, op, key);
}

void txn_check(txn *t, const char *key, int64_t expect)
{
	meta_op *op = txn_next(t);
	if (!op)
		return;
	op->kind = META_OP_CHECK;
	op->expect = expect;
	txn_key(t, op, key);
}

void txn_del_prefix(txn *t, const char *prefix)
{
	meta_op *op = txn_next(t);
	if (!op)
		return;
	op->kind = META_OP_DEL_PREFIX;
	op->expect = META_ANY;
	txn_key(t, op, prefix);
}

void txn_reset(txn *t)
{
	for (size_t i = 0; i < t->n_owned; i++)
		free(t->owned[i]);
	memset(t, 0, sizeof *t);
}

/* "arn:aws:events:<region>:<acct>:<kind>/<name>/<id>" of a connection or an API destination. */
json_t *store_get_by_arn(meta_snap *s, const char *arn, const char *account)
{
	static const struct {
		const char *kind, *arn_member;
		void (*key)(char *k, const char *acct, const char *name);
	} kinds[] = {{"connection", "ConnectionArn", key_connection}, {"api-destination", "ApiDestinationArn", key_apidest}};
	char acct[16], kind[20], name[80], key[KEY_MAX];
	int end = 0;
	if (sscanf(arn, "arn:aws:events:%*[a-z0-9-]:%15[0-9]:%19[a-z-]/%79[.A-Za-z0-9_-]/%*[A-Za-z0-9-]%n", acct, kind,
		   name, &end) != 3 || arn[end] != '\0' || strlen(acct) != 12 || (account && strcmp(acct, account) != 0))
		return NULL;
	for (size_t i = 0; i < BB_ARRAY_LEN(kinds); i++) {
		if (strcmp(kind, kinds[i].kind) != 0)
			continue;
		kinds[i].key(key, acct, name);
		json_t *rec = store_get(s, key, NULL);
		const char *stored = json_string_value(json_object_get(rec, kinds[i].arn_member));
		if (rec && (!stored || strcmp(stored, arn) != 0)) {
			json_decref(rec); /* another resource of the same name (deleted and created again) */
			rec = NULL;
		}
		return rec;
	}
	return NULL;
}
