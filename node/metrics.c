/* node/metrics.c — counters, gauges and histograms for GET /metrics (Prometheus text format 0.0.4).
 *
 * Names follow EventBridge's CloudWatch metrics (MatchedEvents, TriggeredRules, Invocations,
 * FailedInvocations, ...) prefixed `busbar_` and in snake case, with labels account, bus, rule,
 * target. Series are created on first use and live until the node stops (their number is bounded by
 * the resource quotas: buses, rules per bus, targets per rule). Updates are relaxed atomics on
 * structs whose addresses never change; creation takes one mutex. The exposition walks the registry
 * under that mutex and reads the atomics.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

/* Histogram bucket upper bounds in milliseconds. */
static const double hist_le_ms[HIST_BUCKETS] = {0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

typedef enum { M_RULE, M_TARGET, M_BUS } mkind;

typedef struct mentry {
	struct mentry *next;  /* registry order (exposition) */
	struct mentry *hnext; /* hash chain (lookup) */
	uint64_t hash;
	mkind kind;
	char *account, *bus, *rule, *target;
	union {
		rule_metrics r;
		target_metrics t;
		bus_metrics b;
	} u;
} mentry;

struct metrics {
	pthread_mutex_t mu;
	mentry *head, *tail;
	mentry **tab;          /* hash of series by kind + labels; grows at load 1 */
	size_t tab_cap, n;
	_Atomic uint64_t put_entries_unknown_bus, deliveries_dropped_no_target;
	histogram log_sync, store_commit; /* node-wide: bus log fdatasync, store commit durations */
};

void metrics_observe_log_sync(metrics *m, double ms) { hist_observe(&m->log_sync, ms); }
void metrics_observe_store_commit(metrics *m, double ms) { hist_observe(&m->store_commit, ms); }


metrics *metrics_new(void)
{
	metrics *m = calloc(1, sizeof *m);
	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void metrics_free(metrics *m)
{
	if (!m)
		return;
	for (mentry *e = m->head, *next; e; e = next) {
		next = e->next;
		free(e->account);
		free(e->bus);
		free(e->rule);
		free(e->target);
		free(e);
	}
	pthread_mutex_destroy(&m->mu);
	free(m->tab);
	free(m);
}

static bool same(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static uint64_t label_hash(mkind kind, const char *const labels[4])
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
	for (int i = 0; i < 4; i++) {
		for (const char *p = labels[i] ? labels[i] : ""; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull; /* separator: ("ab","c") != ("a","bc") */
	}
	return h;
}

static void tab_insert(metrics *m, mentry *e)
{
	if (m->n + 1 > m->tab_cap) {
		size_t nc = m->tab_cap ? m->tab_cap * 2 : 256;
		mentry **nt = calloc(nc, sizeof *nt);
		if (!nt)
			return; /* keep the old table; chains just get longer */
		for (size_t i = 0; i < m->tab_cap; i++)
			for (mentry *x = m->tab[i], *next; x; x = next) {
				next = x->hnext;
				x->hnext = nt[x->hash & (nc - 1)];
				nt[x->hash & (nc - 1)] = x;
			}
		free(m->tab);
		m->tab = nt;
		m->tab_cap = nc;
	}
	e->hnext = m->tab[e->hash & (m->tab_cap - 1)];
	m->tab[e->hash & (m->tab_cap - 1)] = e;
	m->n++;
}

static mentry *lookup(metrics *m, mkind kind, const char *account, const char *bus, const char *rule,
		      const char *target)
{
	const char *const labels[4] = {account, bus, rule, target};
	uint64_t h = label_hash(kind, labels);
	pthread_mutex_lock(&m->mu);
	mentry *e = NULL;
	if (m->tab_cap)
		for (e = m->tab[h & (m->tab_cap - 1)]; e; e = e->hnext)
			if (e->hash == h && e->kind == kind && same(e->account, account) && same(e->bus, bus) &&
			    same(e->rule, rule) && same(e->target, target))
				break;
	if (!e) {
		e = calloc(1, sizeof *e);
		if (e) {
			e->hash = h;
			e->kind = kind;
			e->account = account ? strdup(account) : NULL;
			e->bus = bus ? strdup(bus) : NULL;
			e->rule = rule ? strdup(rule) : NULL;
			e->target = target ? strdup(target) : NULL;
			if (m->tail)
				m->tail->next = e;
			else
				m->head = e;
			m->tail = e;
			tab_insert(m, e);
		}
	}
	pthread_mutex_unlock(&m->mu);
	return e;
}

/* Out of memory at series creation: updates go to a shared sink that is never exported. */
static mentry sink;

rule_metrics *metrics_rule(metrics *m, const char *account, const char *bus, const char *rule)
{
	mentry *e = lookup(m, M_RULE, account, bus, rule, NULL);
	return e ? &e->u.r : &sink.u.r;
}

target_metrics *metrics_target(metrics *m, const char *account, const char *bus, const char *rule, const char *target)
{
	mentry *e = lookup(m, M_TARGET, account, bus, rule, target);
	return e ? &e->u.t : &sink.u.t;
}

bus_metrics *metrics_bus(metrics *m, const char *account, const char *bus)
{
	mentry *e = lookup(m, M_BUS, account, bus, NULL, NULL);
	return e ? &e->u.b : &sink.u.b;
}

void hist_observe(histogram *h, double ms)
{
	size_t i = 0;
	while (i < HIST_BUCKETS && ms > hist_le_ms[i])
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(ms * 1000.0), memory_order_relaxed);
}

/* ---- exposition ---------------------------------------------------------------------------- */

typedef struct outbuf {
	char *p;
	size_t len, cap;
	bool oom;
} outbuf;

static void out(outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(outbuf *o, const char *fmt, ...)
{
	if (o->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t ncap = o->cap * 2 + (size_t)n;
		char *np = realloc(o->p, ncap);
		if (!np) {
			o->oom = true;
			return;
		}
		o->p = np;
		o->cap = ncap;
	}
}

/* Label values: escape backslash, quote and newline. Names are restricted by the API anyway. */
static void labels(outbuf *o, const mentry *e, const char *extra)
{
	const char *vals[4] = {e->account, e->bus, e->rule, e->target};
	const char *names[4] = {"account", "bus", "rule", "target"};
	bool first = true;
	out(o, "{");
	for (int i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		out(o, "%s%s=\"", first ? "" : ",", names[i]);
		for (const char *s = vals[i]; *s; s++) {
			if (*s == '\\' || *s == '"')
				out(o, "\\%c", *s);
			else if (*s == '\n')
				out(o, "\\n");
			else
				out(o, "%c", *s);
		}
		out(o, "\"");
		first = false;
	}
	if (extra)
		out(o, "%s%s", first ? "" : ",", extra);
	out(o, "}");
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

typedef struct family {
	const char *name, *type, *help;
	mkind kind;
	size_t offset; /* of an _Atomic uint64_t in the union, or of a histogram */
} family;

#define RF(field) offsetof(rule_metrics, field)
#define TF(field) offsetof(target_metrics, field)
#define BF(field) offsetof(bus_metrics, field)
static const family families[] = {
	{"busbar_put_events_entries_total", "counter", "PutEvents entries accepted onto the bus", M_BUS, BF(put_entries)},
	{"busbar_put_events_failed_entries_total", "counter", "PutEvents entries rejected (FailedEntryCount)", M_BUS,
	 BF(put_failed)},
	{"busbar_matched_events_total", "counter", "MatchedEvents: events that matched the rule", M_RULE, RF(matched)},
	{"busbar_triggered_rules_total", "counter", "TriggeredRules: times the rule ran its targets", M_RULE,
	 RF(triggered)},
	{"busbar_invocations_total", "counter", "Invocations: deliveries that succeeded or failed permanently",
	 M_RULE, RF(invocations)},
	{"busbar_failed_invocations_total", "counter", "FailedInvocations: deliveries that failed permanently",
	 M_RULE, RF(failed)},
	{"busbar_dead_letter_invocations_total", "counter",
	 "DeadLetterInvocations: permanently failed deliveries routed to a dead-letter queue", M_RULE,
	 RF(dead_letter)},
	{"busbar_invocations_sent_to_dlq_total", "counter", "InvocationsSentToDlq", M_RULE, RF(sent_to_dlq)},
	{"busbar_invocations_failed_to_be_sent_to_dlq_total", "counter", "InvocationsFailedToBeSentToDlq", M_RULE,
	 RF(failed_to_dlq)},
	{"busbar_invocation_attempts_total", "counter", "InvocationAttempts: every attempt, retries included", M_RULE,
	 RF(attempts)},
	{"busbar_throttled_rules_total", "counter", "ThrottledRules: deliveries delayed by a rate limit", M_RULE,
	 RF(throttled)},
	{"busbar_retries_total", "counter", "delivery attempts that failed and were scheduled again", M_TARGET,
	 TF(retries)},
	{"busbar_target_inflight", "gauge", "deliveries in flight to the target", M_TARGET, TF(inflight)},
	{"busbar_target_backlog", "gauge", "deliveries waiting (due or scheduled for retry)", M_TARGET, TF(backlog)},
};

static void hist_family(outbuf *o, metrics *m, const char *name, const char *help, mkind kind, size_t off)
{
	out(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (mentry *e = m->head; e; e = e->next) {
		if (e->kind != kind)
			continue;
		histogram *h = (histogram *)((char *)&e->u + off);
		unsigned long long cum = 0;
		char le[48];
		for (size_t i = 0; i <= HIST_BUCKETS; i++) {
			cum += LOAD(h->buckets[i]);
			if (i < HIST_BUCKETS)
				snprintf(le, sizeof le, "le=\"%g\"", hist_le_ms[i] / 1000.0);
			else
				snprintf(le, sizeof le, "le=\"+Inf\"");
			out(o, "%s_bucket", name);
			labels(o, e, le);
			out(o, " %llu\n", cum);
		}
		out(o, "%s_sum", name);
		labels(o, e, NULL);
		out(o, " %.6f\n", (double)LOAD(h->sum_us) / 1e6);
		out(o, "%s_count", name);
		labels(o, e, NULL);
		out(o, " %llu\n", cum);
	}
}

static void hist_one(outbuf *o, const char *name, const char *help, histogram *h)
{
	out(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	unsigned long long cum = 0;
	for (size_t i = 0; i <= HIST_BUCKETS; i++) {
		cum += LOAD(h->buckets[i]);
		if (i < HIST_BUCKETS)
			out(o, "%s_bucket{le=\"%g\"} %llu\n", name, hist_le_ms[i] / 1000.0, cum);
		else
			out(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	}
	out(o, "%s_sum %.6f\n%s_count %llu\n", name, (double)LOAD(h->sum_us) / 1e6, name, cum);
}

/* Built-in queue depths: one gauge family with a state label (visible / in_flight / delayed). */
static void queue_depth(void *ctx, const char *account, const char *name, uint64_t visible, uint64_t inflight,
			uint64_t delayed)
{
	outbuf *o = ctx;
	const uint64_t v[3] = {visible, inflight, delayed};
	static const char *const state[3] = {"visible", "in_flight", "delayed"};
	for (int i = 0; i < 3; i++)
		out(o, "busbar_queue_messages{account=\"%s\",queue=\"%s\",state=\"%s\"} %llu\n", account, name, state[i],
		    (unsigned long long)v[i]);
}

char *metrics_render(node *n, size_t *len)
{
	metrics *m = n->metrics;
	outbuf o = {malloc(16384), 0, 16384, false};
	if (!o.p)
		return NULL;
	pthread_mutex_lock(&m->mu);
	for (size_t f = 0; f < BB_ARRAY_LEN(families); f++) {
		const family *fa = &families[f];
		out(&o, "# HELP %s %s\n# TYPE %s %s\n", fa->name, fa->help, fa->name, fa->type);
		for (mentry *e = m->head; e; e = e->next) {
			if (e->kind != fa->kind)
				continue;
			out(&o, "%s", fa->name);
			labels(&o, e, NULL);
			if (strcmp(fa->type, "gauge") == 0)
				out(&o, " %lld\n", (long long)atomic_load((_Atomic int64_t *)((char *)&e->u + fa->offset)));
			else
				out(&o, " %llu\n", LOAD(*(_Atomic uint64_t *)((char *)&e->u + fa->offset)));
		}
	}
	hist_family(&o, m, "busbar_put_events_latency_seconds", "PutEvents time from request to durable ack",
		    M_BUS, BF(ingest_latency));
	hist_family(&o, m, "busbar_delivery_latency_seconds", "time from ingest to successful delivery", M_TARGET,
		    TF(delivery_latency));
	pthread_mutex_unlock(&m->mu);

	db_stats ds;
	db_get_stats(n->db, &ds);
	const struct {
		const char *name, *type, *help;
		uint64_t v;
	} node_series[] = {
		{"busbar_put_events_unknown_bus_total", "counter",
		 "entries accepted for a bus that does not exist (dropped, as AWS does)", LOAD(m->put_entries_unknown_bus)},
		{"busbar_deliveries_dropped_total", "counter", "deliveries whose rule or target no longer exists",
		 LOAD(m->deliveries_dropped_no_target)},
		{"busbar_store_commits_total", "counter", "fsync'd store transactions (group commits)", ds.commits},
		{"busbar_store_writes_total", "counter", "store writes (requests batched into commits)", ds.writes},
		{"busbar_store_failed_writes_total", "counter", "store writes that failed (disk full, I/O)", ds.failed_writes},
		{"busbar_store_queued_writes", "gauge", "store writes waiting for the writer", ds.queued},
		{"busbar_store_used_bytes", "gauge", "bytes used in the store's data file", ds.used_bytes},
	};
	for (size_t i = 0; i < BB_ARRAY_LEN(node_series); i++)
		out(&o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", node_series[i].name, node_series[i].help,
		    node_series[i].name, node_series[i].type, node_series[i].name, (unsigned long long)node_series[i].v);
	evlog_stats ls;
	evlog_get_stats(n, &ls);
	out(&o, "# HELP busbar_log_bytes bytes in the bus log's files\n# TYPE busbar_log_bytes gauge\nbusbar_log_bytes %llu\n",
	    (unsigned long long)ls.bytes);
	out(&o, "# HELP busbar_log_files files of the bus log\n# TYPE busbar_log_files gauge\nbusbar_log_files %llu\n",
	    (unsigned long long)ls.files);
	out(&o, "# HELP busbar_log_appends_total appends to the bus log (one per PutEvents or forward)\n"
		"# TYPE busbar_log_appends_total counter\nbusbar_log_appends_total %llu\n",
	    (unsigned long long)ls.appends);
	out(&o, "# HELP busbar_log_commits_total group commits of the bus log (one fdatasync each)\n"
		"# TYPE busbar_log_commits_total counter\nbusbar_log_commits_total %llu\n",
	    (unsigned long long)ls.batches);
	out(&o, "# HELP busbar_log_sync_seconds_total time the bus log spent in fdatasync\n"
		"# TYPE busbar_log_sync_seconds_total counter\nbusbar_log_sync_seconds_total %.6f\n",
	    (double)ls.sync_ns / 1e9);
	out(&o, "# HELP busbar_store_apply_seconds_total store writer time spent applying writes\n"
		"# TYPE busbar_store_apply_seconds_total counter\nbusbar_store_apply_seconds_total %.6f\n",
	    (double)ds.apply_ns / 1e9);
	out(&o, "# HELP busbar_store_commit_seconds_total store writer time spent committing (page writes and fsync)\n"
		"# TYPE busbar_store_commit_seconds_total counter\nbusbar_store_commit_seconds_total %.6f\n",
	    (double)ds.commit_ns / 1e9);
	hist_one(&o, "busbar_log_sync_duration_seconds", "bus log group commits: time in fdatasync", &m->log_sync);
	hist_one(&o, "busbar_store_commit_duration_seconds", "store (LMDB) commits: page writes and fsyncs",
		 &m->store_commit);
	out(&o, "# HELP busbar_queue_messages messages in a built-in queue by state\n# TYPE busbar_queue_messages gauge\n");
	sqs_foreach_depth(n, queue_depth, &o);
	if (o.oom) {
		free(o.p);
		return NULL;
	}
	*len = o.len;
	return o.p;
}

void metrics_count_unknown_bus(metrics *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->put_entries_unknown_bus, n, memory_order_relaxed);
}

void metrics_count_dropped(metrics *m) { atomic_fetch_add_explicit(&m->deliveries_dropped_no_target, 1, memory_order_relaxed); }
