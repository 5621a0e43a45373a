/* node/route.c — the router thread: turns metadata (buses, rules, targets) into immutable routing
 * tables for PutEvents and the delivery engine (types in node_int.h).
 *
 * The router waits for the metadata index to move, then scans the bus and rule records of the new
 * snapshot. Per bus it keeps a pattern builder and each rule's last seen version, so only rules whose
 * record changed are parsed and compiled again (pat_builder_add replaces by id); a bus whose rules
 * did not change keeps its published route_bus. A new table (an array of refcounted buses) is then
 * published atomically and waiters in route_wait are woken. Readers never block the router beyond
 * the pointer swap, and the router never blocks ingest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "xform/xform.h"

/* Router-private state per bus. */
typedef struct rstate_rule {
	char *name;
	uint64_t version;
	route_rule *rr;   /* reference held */
	bool seen;
} rstate_rule;

typedef struct rstate_bus {
	char *key, *account, *name;
	uint64_t version;
	pat_builder *b;
	rstate_rule *rules;  /* sorted by name */
	size_t n_rules, cap_rules;
	uint32_t next_id;
	bool seen, dirty;
	route_bus *pub;      /* last published (reference held) */
} rstate_bus;

struct route {
	node *n;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	route_table *cur;
	bool stopping;
	/* router thread only */
	rstate_bus **buses;  /* sorted by key */
	size_t n_buses, cap_buses;
};

/* ---- refcounted objects ------------------------------------------------------------------------ */

static void rule_release(route_rule *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	for (size_t i = 0; i < r->n_targets; i++) {
		route_target *t = &r->targets[i];
		free(t->id);
		free(t->arn);
		free(t->key);
		json_decref(t->spec);
		xform_free(t->xf);
	}
	free(r->targets);
	free(r->name);
	free(r->arn);
	free(r);
}

static void bus_release(route_bus *b)
{
	if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	for (size_t i = 0; i < b->n_rules; i++)
		rule_release(b->rules[i]);
	free(b->rules);
	free(b->by_id);
	if (b->set)
		pat_set_release(b->set);
	free(b->account);
	free(b->name);
	free(b->key);
	free(b->arn);
	free(b);
}

void route_release(route_table *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (size_t i = 0; i < t->n_buses; i++)
		bus_release(t->buses[i]);
	free(t->buses);
	free(t);
}

route_table *route_acquire(node *n)
{
	route *r = n->route;
	pthread_mutex_lock(&r->mu);
	route_table *t = r->cur;
	atomic_fetch_add(&t->refs, 1);
	pthread_mutex_unlock(&r->mu);
	return t;
}

route_table *route_hold(route_table *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

static int bus_cmp_key(const void *k, const void *e) { return strcmp(k, (*(route_bus *const *)e)->key); }

const route_bus *route_find_bus(const route_table *t, const char *account, const char *bus)
{
	char key[KEY_MAX];
	snprintf(key, sizeof key, "%s/%s", account, bus);
	route_bus **b = bsearch(key, t->buses, t->n_buses, sizeof *t->buses, bus_cmp_key);
	return b ? *b : NULL;
}

static int rule_cmp_name(const void *k, const void *e) { return strcmp(k, (*(route_rule *const *)e)->name); }

const route_target *route_find_target(const route_table *t, const char *key, const route_rule **rule,
				      const route_bus **bus)
{
	/* "<acct>/<bus>|<rule>|<id>": bus names never contain '|', rule names and ids neither. */
	char buf[KEY_MAX];
	snprintf(buf, sizeof buf, "%s", key);
	char *p1 = strchr(buf, '|');
	char *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
	if (!p2)
		return NULL;
	*p1 = *p2 = '\0';
	route_bus **b = bsearch(buf, t->buses, t->n_buses, sizeof *t->buses, bus_cmp_key);
	if (!b)
		return NULL;
	route_rule **r = bsearch(p1 + 1, (*b)->rules, (*b)->n_rules, sizeof *(*b)->rules, rule_cmp_name);
	if (!r)
		return NULL;
	for (size_t i = 0; i < (*r)->n_targets; i++) {
		if (strcmp((*r)->targets[i].id, p2 + 1) == 0) {
			if (rule)
				*rule = *r;
			if (bus)
				*bus = *b;
			return &(*r)->targets[i];
		}
	}
	return NULL;
}

/* ---- compiling one rule ---------------------------------------------------------------------- */

tgt_kind target_kind(const char *arn, const char *region)
{
	size_t rl = strlen(region);
	if (strncmp(arn, "arn:aws:sqs:", 12) == 0 && strncmp(arn + 12, region, rl) == 0 && arn[12 + rl] == ':')
		return TGT_QUEUE;
	if (strncmp(arn, "arn:aws:events:", 15) == 0 && strncmp(arn + 15, region, rl) == 0 && arn[15 + rl] == ':') {
		if (strstr(arn, ":api-destination/"))
			return TGT_APIDEST;
		if (strstr(arn, ":event-bus/"))
			return TGT_BUS;
	}
	return 0;
}

static long long int_member(json_t *o, const char *k, long long dflt)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static bb_err build_targets(route *r, rstate_bus *sb, route_rule *rr, json_t *list)
{
	size_t n = json_array_size(list);
	rr->targets = calloc(n ? n : 1, sizeof *rr->targets);
	if (!rr->targets)
		return BB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *spec = json_array_get(list, i);
		const char *id = json_string_value(json_object_get(spec, "Id"));
		const char *arn = json_string_value(json_object_get(spec, "Arn"));
		if (!id || !arn)
			continue;
		route_target *t = &rr->targets[rr->n_targets];
		char key[KEY_MAX];
		snprintf(key, sizeof key, "%s|%s|%s", sb->key, rr->name, id);
		t->id = strdup(id);
		t->arn = strdup(arn);
		t->key = strdup(key);
		t->spec = json_incref(spec);
		t->kind = target_kind(arn, r->n->region);
		json_t *rp = json_object_get(spec, "RetryPolicy");
		t->max_retries = int_member(rp, "MaximumRetryAttempts", 185);
		t->max_age_s = int_member(rp, "MaximumEventAgeInSeconds", 86400);
		t->dlq_arn = json_string_value(json_object_get(json_object_get(spec, "DeadLetterConfig"), "Arn"));
		t->m = metrics_target(r->n->metrics, sb->account, sb->name, rr->name, id);
		char msg[XFORM_MSG_MAX];
		if (xform_compile(id, json_string_value(json_object_get(spec, "Input")),
				  json_string_value(json_object_get(spec, "InputPath")),
				  json_object_get(spec, "InputTransformer"), &t->xf, msg, sizeof msg) != BB_OK)
			BB_LOGW("route", "msg=\"stored target input no longer compiles\" target=%s", key);
		rr->n_targets++;
		if (!t->id || !t->arn || !t->key)
			return BB_ENOMEM;
	}
	return BB_OK;
}

/* Builds the route_rule of a rule record (active or not). */
static route_rule *rule_build(route *r, rstate_bus *sb, const char *name, json_t *rec, uint64_t version,
			      pat_rule **compiled)
{
	route_rule *rr = calloc(1, sizeof *rr);
	if (!rr)
		return NULL;
	atomic_init(&rr->refs, 1);
	rr->name = strdup(name);
	rr->version = version;
	char arn[2048];
	arn_rule_of(r->n->region, sb->account, sb->name, name, arn, sizeof arn);
	rr->arn = strdup(arn);
	rr->m = metrics_rule(r->n->metrics, sb->account, sb->name, name);
	if (!rr->name || !rr->arn || build_targets(r, sb, rr, json_object_get(rec, "Targets")) != BB_OK)
		goto fail;
	const char *state = json_string_value(json_object_get(rec, "State"));
	const char *pattern = json_string_value(json_object_get(rec, "EventPattern"));
	*compiled = NULL;
	if (pattern && state && strcmp(state, "DISABLED") != 0) {
		char reason[PAT_REASON_MAX];
		if (pat_compile(pattern, strlen(pattern), NULL, compiled, reason, sizeof reason) == BB_OK)
			rr->active = true;
		else
			BB_LOGW("route", "msg=\"stored pattern no longer compiles\" rule=%s reason=\"%s\"", rr->arn, reason);
	}
	return rr;
fail:
	rule_release(rr);
	return NULL;
}

/* ---- router state ------------------------------------------------------------------------------ */


/* The router keeps its buses and each bus's rules in arrays sorted by a string key. sorted_find
 * returns the key's index, or where it would be inserted (*found false); sorted_open grows the array
 * (doubling) and opens a zeroed slot at pos. */
static size_t sorted_find(const void *base, size_t n, size_t size, const char *(*key_of)(const void *), const char *key,
			  bool *found)
{
	size_t lo = 0, hi = n;
	*found = false;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(key, key_of((const char *)base + mid * size));
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void *sorted_open(void **base, size_t *n, size_t *cap, size_t size, size_t pos)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		void *nb = realloc(*base, nc * size);
		if (!nb)
			return NULL;
		*base = nb;
		*cap = nc;
	}
	char *at = (char *)*base + pos * size;
	memmove(at + size, at, (*n - pos) * size);
	memset(at, 0, size);
	(*n)++;
	return at;
}

static const char *sbus_key(const void *e) { return (*(rstate_bus *const *)e)->key; }
static const char *srule_key(const void *e) { return ((const rstate_rule *)e)->name; }

static rstate_bus *sbus_get(route *r, const char *account, const char *name, bool create)
{
	char key[KEY_MAX];
	snprintf(key, sizeof key, "%s/%s", account, name);
	bool found;
	size_t pos = sorted_find(r->buses, r->n_buses, sizeof *r->buses, sbus_key, key, &found);
	if (found || !create)
		return found ? r->buses[pos] : NULL;
	rstate_bus *sb = calloc(1, sizeof *sb);
	if (!sb)
		return NULL;
	sb->key = strdup(key);
	sb->account = strdup(account);
	sb->name = strdup(name);
	sb->b = pat_builder_new();
	sb->next_id = 1;
	sb->dirty = true;
	rstate_bus **slot = NULL;
	if (sb->key && sb->account && sb->name && sb->b)
		slot = sorted_open((void **)&r->buses, &r->n_buses, &r->cap_buses, sizeof *r->buses, pos);
	if (!slot) {
		free(sb->key);
		free(sb->account);
		free(sb->name);
		if (sb->b)
			pat_builder_free(sb->b);
		free(sb);
		return NULL;
	}
	*slot = sb;
	return sb;
}

static void sbus_free(rstate_bus *sb)
{
	for (size_t i = 0; i < sb->n_rules; i++) {
		free(sb->rules[i].name);
		rule_release(sb->rules[i].rr);
	}
	free(sb->rules);
	pat_builder_free(sb->b);
	bus_release(sb->pub);
	free(sb->key);
	free(sb->account);
	free(sb->name);
	free(sb);
}

static rstate_rule *srule_get(rstate_bus *sb, const char *name, bool create)
{
	bool found;
	size_t pos = sorted_find(sb->rules, sb->n_rules, sizeof *sb->rules, srule_key, name, &found);
	if (found || !create)
		return found ? &sb->rules[pos] : NULL;
	char *dup = strdup(name);
	rstate_rule *slot = dup ? sorted_open((void **)&sb->rules, &sb->n_rules, &sb->cap_rules, sizeof *sb->rules, pos) : NULL;
	if (!slot) {
		free(dup);
		return NULL;
	}
	slot->name = dup;
	return slot;
}

/* Scan callbacks. */
static bool scan_bus(void *ctx, const meta_val *v)
{
	route *r = ctx;
	/* "b/<acct>/<bus>" */
	char key[KEY_MAX];
	if (v->key_len >= sizeof key || v->key_len < 16)
		return true;
	memcpy(key, v->key, v->key_len);
	key[v->key_len] = '\0';
	char *acct = key + 2, *slash = strchr(acct, '/');
	if (!slash)
		return true;
	*slash = '\0';
	rstate_bus *sb = sbus_get(r, acct, slash + 1, true);
	if (!sb)
		return true;
	sb->seen = true;
	if (sb->version != v->version)
		sb->dirty = true;
	sb->version = v->version;
	return true;
}

static bool scan_rule(void *ctx, const meta_val *v)
{
	route *r = ctx;
	/* "r/<acct>/<bus>|<rule>" */
	char key[KEY_MAX];
	if (v->key_len >= sizeof key)
		return true;
	memcpy(key, v->key, v->key_len);
	key[v->key_len] = '\0';
	char *acct = key + 2, *slash = strchr(acct, '/'), *bar = strrchr(key, '|');
	if (!slash || !bar || bar < slash)
		return true;
	*slash = '\0';
	*bar = '\0';
	rstate_bus *sb = sbus_get(r, acct, slash + 1, false);
	if (!sb)
		return true; /* rule of a bus being deleted */
	rstate_rule *sr = srule_get(sb, bar + 1, true);
	if (!sr)
		return true;
	sr->seen = true;
	if (sr->rr && sr->version == v->version)
		return true;
	json_t *rec = json_loadb((const char *)v->data, v->len, 0, NULL);
	if (!rec)
		return true;
	pat_rule *compiled = NULL;
	route_rule *rr = rule_build(r, sb, bar + 1, rec, v->version, &compiled);
	json_decref(rec);
	if (!rr)
		return true;
	uint32_t id = sr->rr ? sr->rr->id : sb->next_id++;
	rr->id = id;
	if (rr->active) {
		if (pat_builder_add(sb->b, id, compiled) != BB_OK)
			rr->active = false;
	} else if (sr->rr && sr->rr->active) {
		pat_builder_remove(sb->b, id);
	}
	pat_rule_free(compiled);
	rule_release(sr->rr);
	sr->rr = rr;
	sr->version = v->version;
	sb->dirty = true;
	return true;
}

/* Publishes a new route_bus for sb from its rule states. */
static route_bus *bus_publish(route *r, rstate_bus *sb)
{
	route_bus *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->account = strdup(sb->account);
	b->name = strdup(sb->name);
	b->key = strdup(sb->key);
	char arn[2048];
	arn_bus_of(r->n->region, sb->account, sb->name, arn, sizeof arn);
	b->arn = strdup(arn);
	b->m = metrics_bus(r->n->metrics, sb->account, sb->name);
	b->rules = calloc(sb->n_rules ? sb->n_rules : 1, sizeof *b->rules);
	b->id_cap = sb->next_id;
	b->by_id = calloc(b->id_cap, sizeof *b->by_id);
	b->set = pat_builder_publish(sb->b);
	if (!b->account || !b->name || !b->key || !b->arn || !b->rules || !b->by_id || !b->set) {
		bus_release(b);
		return NULL;
	}
	for (size_t i = 0; i < sb->n_rules; i++) {
		route_rule *rr = sb->rules[i].rr;
		if (!rr)
			continue;
		atomic_fetch_add(&rr->refs, 1);
		b->rules[b->n_rules++] = rr;
		if (rr->active && rr->id < b->id_cap)
			b->by_id[rr->id] = rr;
	}
	return b;
}

static void rebuild(route *r, meta_snap *s)
{
	for (size_t i = 0; i < r->n_buses; i++) {
		r->buses[i]->seen = false;
		for (size_t j = 0; j < r->buses[i]->n_rules; j++)
			r->buses[i]->rules[j].seen = false;
	}
	meta_snap_scan(s, "b/", 2, NULL, 0, scan_bus, r);
	meta_snap_scan(s, "r/", 2, NULL, 0, scan_rule, r);

	/* Drop vanished buses and rules. */
	size_t w = 0;
	for (size_t i = 0; i < r->n_buses; i++) {
		rstate_bus *sb = r->buses[i];
		if (!sb->seen) {
			sbus_free(sb);
			continue;
		}
		size_t rw = 0;
		for (size_t j = 0; j < sb->n_rules; j++) {
			rstate_rule *sr = &sb->rules[j];
			if (sr->seen && sr->rr) {
				sb->rules[rw++] = *sr;
				continue;
			}
			if (sr->rr && sr->rr->active)
				pat_builder_remove(sb->b, sr->rr->id);
			rule_release(sr->rr);
			free(sr->name);
			sb->dirty = true;
		}
		sb->n_rules = rw;
		r->buses[w++] = sb;
	}
	r->n_buses = w;

	route_table *t = calloc(1, sizeof *t);
	if (!t)
		return;
	atomic_init(&t->refs, 1);
	t->index = meta_snap_index(s);
	t->buses = calloc(r->n_buses ? r->n_buses : 1, sizeof *t->buses);
	if (!t->buses) {
		free(t);
		return;
	}
	for (size_t i = 0; i < r->n_buses; i++) {
		rstate_bus *sb = r->buses[i];
		if (sb->dirty || !sb->pub) {
			route_bus *nb = bus_publish(r, sb);
			if (nb) {
				bus_release(sb->pub);
				sb->pub = nb;
				sb->dirty = false;
			}
		}
		if (sb->pub) {
			atomic_fetch_add(&sb->pub->refs, 1);
			t->buses[t->n_buses++] = sb->pub;
		}
	}
	pthread_mutex_lock(&r->mu);
	route_table *old = r->cur;
	r->cur = t;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	route_release(old);
}

static void *router_main(void *arg)
{
	pthread_setname_np(pthread_self(), "bb-router");
	route *r = arg;
	uint64_t built = r->cur->index;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		bool stop = r->stopping;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		if (meta_wait_applied(r->n->meta, built + 1, 200) != BB_OK)
			continue;
		meta_snap *s = meta_snap_acquire(r->n->meta);
		built = meta_snap_index(s);
		rebuild(r, s);
		meta_snap_release(s);
	}
	return NULL;
}

bb_err route_start(node *n)
{
	route *r = calloc(1, sizeof *r);
	if (!r)
		return BB_ENOMEM;
	r->n = n;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	n->route = r;
	meta_snap *s = meta_snap_acquire(n->meta);
	route_table empty = {0};
	r->cur = &empty;
	atomic_init(&empty.refs, 2); /* never freed: replaced below */
	rebuild(r, s);
	meta_snap_release(s);
	if (r->cur == &empty || pthread_create(&r->thread, NULL, router_main, r) != 0) {
		if (r->cur != &empty)
			route_release(r->cur);
		free(r);
		n->route = NULL;
		return BB_ENOMEM;
	}
	return BB_OK;
}

void route_stop(node *n)
{
	route *r = n->route;
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	for (size_t i = 0; i < r->n_buses; i++)
		sbus_free(r->buses[i]);
	free(r->buses);
	route_release(r->cur);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
	n->route = NULL;
}

bb_err route_wait(node *n, uint64_t index, int timeout_ms)
{
	route *r = n->route;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	bb_err e = BB_OK;
	pthread_mutex_lock(&r->mu);
	while (r->cur->index < index && e == BB_OK)
		if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
			e = r->cur->index >= index ? BB_OK : BB_ETIMEDOUT;
	pthread_mutex_unlock(&r->mu);
	return e;
}
