/* node/op_putevents.c — PutEvents: validate like AWS (reference §4), build each envelope, match it
 * against its bus's routing table, append events and their delivery tasks to the bus log, and answer
 * only after the batch holding them was fsync'd.
 *
 * Order of checks (AWS, LocalStack's recordings): request constraints (1..10 entries, member
 * patterns) and the 256 KiB size formula fail the whole request with ValidationException; then each
 * entry on its own: Source, DetailType, Detail required (InvalidArgument), Detail a JSON object
 * (MalformedDetail), `aws.` sources reserved (NotAuthorizedForSourceException). An entry for a bus
 * that does not exist gets an EventId and is dropped, as AWS does (counted in /metrics). A store that
 * is full or failing answers InternalException (HTTP 500, retried by the SDKs) and stores nothing of
 * the request; a full store queue answers ThrottlingException.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node_int.h"

#define MAX_ENTRIES 10
#define MAX_REQUEST_BYTES 262144

/* ---- per-thread matching scratch, pooled (HTTP threads come and go) ------------------------- */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pat_scratch *pool[64];
static size_t pool_n;

static pat_scratch *scratch_get(void)
{
	pat_scratch *s = NULL;
	pthread_mutex_lock(&pool_mu);
	if (pool_n)
		s = pool[--pool_n];
	pthread_mutex_unlock(&pool_mu);
	return s ? s : pat_scratch_new();
}

static void scratch_put(pat_scratch *s)
{
	pthread_mutex_lock(&pool_mu);
	if (pool_n < BB_ARRAY_LEN(pool)) {
		pool[pool_n++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&pool_mu);
	if (s)
		pat_scratch_free(s);
}

/* ---- a growable byte buffer for envelopes ------------------------------------------------------ */
typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
} sbuf;

static void sb_need(sbuf *b, size_t n)
{
	if (b->oom || b->len + n <= b->cap)
		return;
	size_t nc = (b->cap ? b->cap * 2 : 1024) + n;
	char *np = realloc(b->p, nc);
	if (!np) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = nc;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
	sb_need(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Appends s as a JSON string literal. */
static void sb_jstr(sbuf *b, const char *s)
{
	sb_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			sb_put(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			sb_put(b, esc, 6);
		} else {
			sb_put(b, (const char *)&c, 1);
		}
	}
	sb_put(b, "\"", 1);
}

/* ---- validation ------------------------------------------------------------------------------ */

typedef struct pe_entry {
	pe_fields in;         /* the request's members (pe_parse.c or read_general) */
	const char *err_code, *err_msg;
	const char *bus;      /* the bus name (into bus_in, or "default") */
	char event_id[37];
	char *envelope;
	size_t env_len;
	const route_bus *rb;
	const route_target **targets;
	size_t n_targets;
	uint32_t *rule_ids; /* matched rule ids (for metrics) */
	size_t n_rules;
} pe_entry;

/* AWS prints the entries as Java objects when there are too many of them. */
static void java_list(json_t *entries, vcheck *v)
{
	sbuf b = {0};
	sb_str(&b, "[");
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e)
	{
		const char *f[6] = {0};
		static const char *const names[6] = {"Source", "DetailType", "Detail", "EventBusName", "TraceHeader", NULL};
		for (int k = 0; names[k]; k++)
			f[k] = json_string_value(json_object_get(e, names[k]));
		char head[64];
		json_t *t = json_object_get(e, "Time");
		if (json_is_number(t)) {
			time_t ts = (time_t)json_number_value(t);
			struct tm tm;
			gmtime_r(&ts, &tm);
			strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%SZ", &tm);
		} else {
			snprintf(head, sizeof head, "null");
		}
		sb_str(&b, i ? ", " : "");
		sb_str(&b, "PutEventsRequestEntry(time=");
		sb_str(&b, head);
		sb_str(&b, ", source=");
		sb_str(&b, f[0] ? f[0] : "null");
		sb_str(&b, ", resources=");
		json_t *res = json_object_get(e, "Resources");
		if (json_is_array(res)) {
			sb_str(&b, "[");
			size_t j;
			json_t *r;
			json_array_foreach(res, j, r)
			{
				sb_str(&b, j ? ", " : "");
				sb_str(&b, json_is_string(r) ? json_string_value(r) : "null");
			}
			sb_str(&b, "]");
		} else {
			sb_str(&b, "null");
		}
		sb_str(&b, ", detailType=");
		sb_str(&b, f[1] ? f[1] : "null");
		sb_str(&b, ", detail=");
		sb_str(&b, f[2] ? f[2] : "null");
		sb_str(&b, ", eventBusName=");
		sb_str(&b, f[3] ? f[3] : "null");
		sb_str(&b, ", traceHeader=");
		sb_str(&b, f[4] ? f[4] : "null");
		sb_str(&b, ", kmsKeyIdentifier=null, internalMetadata=null)");
	}
	sb_str(&b, "]");
	sb_put(&b, "", 1);
	v_add(v, b.oom ? "[...]" : b.p, "entries", "Member must have length less than or equal to %d", MAX_ENTRIES);
	free(b.p);
}

/* The general reader: c->body through jansson, with AWS's SerializationException for wrong member
 * types and the request-level ValidationExceptions. Fills out (resource pointers in out->arena, strings
 * borrowed from c->in). 0, or -1 with the error set. */
static int read_general(api_call *c, pe_parsed *out)
{
	memset(out, 0, sizeof *out);
	if (api_parse_body(c) != 0)
		return -1;
	json_t *entries;
	const char *endpoint;
	if (jv_arr(c, c->in, "Entries", &entries) || jv_str(c, c->in, "EndpointId", &endpoint))
		return -1;
	vcheck v;
	v_init(&v);
	size_t n = json_array_size(entries);
	if (!entries)
		v_add(&v, NULL, "entries", "Member must not be null");
	else if (n == 0)
		v_add(&v, "[]", "entries", "Member must have length greater than or equal to 1");
	else if (n > MAX_ENTRIES)
		java_list(entries, &v);
	if (endpoint)
		return api_error(c, 400, "ValidationException", "EndpointId is not supported by this server.");
	if (v_finish(c, &v))
		return -1;
	size_t n_res = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(entries, i);
		if (!json_is_object(e))
			return api_error(c, 400, "SerializationException", "Start of structure or map found where not expected.");
		pe_fields *f = &out->f[i];
		json_t *t = json_object_get(e, "Time"), *res;
		if (jv_str(c, e, "Source", &f->source) || jv_str(c, e, "DetailType", &f->detail_type) ||
		    jv_str(c, e, "Detail", &f->detail) || jv_str(c, e, "EventBusName", &f->bus_in) ||
		    jv_str(c, e, "TraceHeader", &f->trace) || jv_arr(c, e, "Resources", &res))
			return -1;
		f->detail_len = f->detail ? strlen(f->detail) : 0;
		if (t && !json_is_null(t)) {
			if (!json_is_number(t))
				return api_error(c, 400, "SerializationException",
						 "class java.lang.String can not be converted to milliseconds since epoch");
			f->has_time = true;
			f->time_s = json_number_value(t);
		}
		size_t j;
		json_t *r;
		json_array_foreach(res, j, r)
		{
			if (!json_is_string(r))
				return api_error(c, 400, "SerializationException", "Unexpected token received from parser");
		}
		n_res += json_array_size(res);
	}
	out->arena = malloc((n_res ? n_res : 1) * sizeof(const char *));
	if (!out->arena)
		return api_error(c, 500, "InternalException", "Out of memory.");
	const char **slots = (const char **)(void *)out->arena;
	for (size_t i = 0; i < n; i++) {
		json_t *res = json_object_get(json_array_get(entries, i), "Resources");
		pe_fields *f = &out->f[i];
		f->resources = slots;
		f->n_resources = json_is_array(res) ? json_array_size(res) : 0;
		for (size_t j = 0; j < f->n_resources; j++)
			*slots++ = json_string_value(json_array_get(res, j));
	}
	out->n = n;
	return 0;
}

/* Member constraints and the size formula, the same for both readers (messages in entry order). */
static int check_request(api_call *c, pe_entry *pe, size_t n)
{
	vcheck v;
	v_init(&v);
	size_t total = 0;
	char path[128];
	for (size_t i = 0; i < n; i++) {
		pe_entry *p = &pe[i];
		if (p->in.bus_in) {
			size_t bl = strlen(p->in.bus_in);
			if (bl < 1 || bl > 1600 || !bus_name_or_arn_ok(p->in.bus_in)) {
				snprintf(path, sizeof path, "entries.%zu.member.eventBusName", i + 1);
				v_string(&v, path, p->in.bus_in, false, 1, 1600, RE_BUS_OR_ARN, bus_name_or_arn_ok);
			}
		}
		if (p->in.trace) {
			size_t tl = strlen(p->in.trace);
			if (tl < 1 || tl > 500) {
				snprintf(path, sizeof path, "entries.%zu.member.traceHeader", i + 1);
				v_string(&v, path, p->in.trace, false, 1, 500, NULL, NULL);
			}
		}
		for (size_t j = 0; j < p->in.n_resources; j++) {
			size_t rl = strlen(p->in.resources[j]);
			if (rl > 2048) {
				snprintf(path, sizeof path, "entries.%zu.member.resources.%zu.member", i + 1, j + 1);
				v_string(&v, path, p->in.resources[j], false, 0, 2048, NULL, NULL);
			}
			total += rl;
		}
		total += (p->in.has_time ? 14 : 0) + (p->in.source ? strlen(p->in.source) : 0) +
			 (p->in.detail_type ? strlen(p->in.detail_type) : 0) + (p->in.detail ? p->in.detail_len : 0);
	}
	if (v_finish(c, &v))
		return -1;
	if (total > MAX_REQUEST_BYTES)
		return api_error(c, 400, "ValidationException", "Total size of the entries in the request is over the limit.");
	return 0;
}

/* Per-entry checks; sets err_code/err_msg on failure. */
static void check_entry(pe_entry *p)
{
	if (!p->in.source || !*p->in.source) {
		p->err_code = "InvalidArgument";
		p->err_msg = "Parameter Source is not valid. Reason: Source is a required argument.";
	} else if (!p->in.detail_type || !*p->in.detail_type) {
		p->err_code = "InvalidArgument";
		p->err_msg = "Parameter DetailType is not valid. Reason: DetailType is a required argument.";
	} else if (!p->in.detail || !*p->in.detail) {
		p->err_code = "InvalidArgument";
		p->err_msg = "Parameter Detail is not valid. Reason: Detail is a required argument.";
	} else if (strncmp(p->in.source, "aws.", 4) == 0) {
		p->err_code = "NotAuthorizedForSourceException";
		p->err_msg = "Not authorized for the source.";
	}
}

/* YYYY-MM-DDThh:mm:ssZ for years 0000..9999 without strftime (it is per event); false for others. */
static bool format_time(time_t ts, char out[32])
{
	int64_t t = (int64_t)ts, days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), sec = t - days * 86400;
	int64_t y;
	int m, d;
	bb_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return false;
	int hh = (int)(sec / 3600), mm = (int)(sec / 60 % 60), ss = (int)(sec % 60);
	const int v[6] = {(int)y, m, d, hh, mm, ss};
	static const char sep[6] = {'-', '-', 'T', ':', ':', 'Z'};
	char *o = out;
	for (int i = 0; i < 6; i++) {
		int x = v[i];
		if (i == 0) {
			*o++ = (char)('0' + x / 1000);
			*o++ = (char)('0' + x / 100 % 10);
		}
		*o++ = (char)('0' + x / 10 % 10);
		*o++ = (char)('0' + x % 10);
		*o++ = sep[i];
	}
	*o = '\0';
	return true;
}

/* Builds the delivered envelope (reference §4, key order as AWS emits). */
static int build_envelope(api_call *c, pe_entry *p, int64_t now_ms)
{
	size_t dlen = p->in.detail_len;
	char tbuf[32];
	time_t ts = p->in.has_time && isfinite(p->in.time_s) ? (time_t)floor(p->in.time_s) : (time_t)(now_ms / 1000);
	if (!format_time(ts, tbuf)) {
		struct tm tm;
		if (!gmtime_r(&ts, &tm) || strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
			ts = (time_t)(now_ms / 1000);
			gmtime_r(&ts, &tm);
			strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
	}
	sbuf b = {0};
	size_t rlen = 0;
	for (size_t j = 0; j < p->in.n_resources; j++)
		rlen += strlen(p->in.resources[j]) + 8;
	sb_need(&b, dlen + rlen + 2 * (strlen(p->in.source) + strlen(p->in.detail_type)) + 512);
	if (b.oom)
		return -1;
	bb_uuid4(&bb_rng_system, p->event_id);
	sb_str(&b, "{\"version\":\"0\",\"id\":\"");
	sb_str(&b, p->event_id);
	sb_str(&b, "\",\"detail-type\":");
	sb_jstr(&b, p->in.detail_type);
	sb_str(&b, ",\"source\":");
	sb_jstr(&b, p->in.source);
	sb_str(&b, ",\"account\":\"");
	sb_str(&b, c->who.account);
	sb_str(&b, "\",\"time\":\"");
	sb_str(&b, tbuf);
	sb_str(&b, "\",\"region\":");
	sb_jstr(&b, c->n->region);
	sb_str(&b, ",\"resources\":[");
	for (size_t j = 0; j < p->in.n_resources; j++) {
		if (j)
			sb_str(&b, ",");
		sb_jstr(&b, p->in.resources[j]);
	}
	sb_str(&b, "],\"detail\":");
	/* the detail, validated and minified straight into the envelope */
	sb_need(&b, dlen + 1);
	size_t mlen;
	if (b.oom) {
		free(b.p);
		return -1;
	}
	if (!json_minify(p->in.detail, dlen, b.p + b.len, &mlen, true)) {
		free(b.p);
		p->err_code = "MalformedDetail";
		p->err_msg = "Detail is malformed.";
		return 0;
	}
	b.len += mlen;
	sb_str(&b, "}");
	if (b.oom) {
		free(b.p);
		return -1;
	}
	p->envelope = b.p;
	p->env_len = b.len;
	return 0;
}

/* Matches p against its bus; collects targets (one task each). */
static int route_entry(pe_entry *p, pat_scratch *sc)
{
	const route_bus *rb = p->rb;
	if (!rb || !rb->set || rb->n_rules == 0)
		return 0;
	size_t cap = rb->n_rules, nm = 0;
	p->rule_ids = malloc(cap * sizeof *p->rule_ids);
	if (!p->rule_ids)
		return -1;
	if (pat_match(rb->set, sc, p->envelope, p->env_len, p->rule_ids, cap, &nm) != BB_OK)
		nm = 0;
	if (nm > cap)
		nm = cap;
	size_t nt = 0;
	for (size_t i = 0; i < nm; i++)
		if (p->rule_ids[i] < rb->id_cap && rb->by_id[p->rule_ids[i]])
			nt += rb->by_id[p->rule_ids[i]]->n_targets;
	p->n_rules = nm;
	if (!nt)
		return 0;
	p->targets = malloc(nt * sizeof *p->targets);
	if (!p->targets)
		return -1;
	for (size_t i = 0; i < nm; i++) {
		const route_rule *rr = p->rule_ids[i] < rb->id_cap ? rb->by_id[p->rule_ids[i]] : NULL;
		for (size_t k = 0; rr && k < rr->n_targets; k++)
			p->targets[p->n_targets++] = &rr->targets[k];
	}
	return 0;
}

static void entries_free(pe_entry *pe, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(pe[i].envelope);
		free(pe[i].targets);
		free(pe[i].rule_ids);
	}
}

/* One PutEvents call between its phases (on the heap for the asynchronous form). */
struct pe_call {
	api_call *c;
	int64_t t0;
	pe_parsed in;
	pe_entry pe[MAX_ENTRIES];
	size_t n, n_ev, unknown_bus;
	route_table *rt;      /* keeps the entries' targets alive until the append completed */
	ev_entry ev[MAX_ENTRIES];
	ev_append app;        /* the store write */
	void (*done)(void *arg, int rc);
	void *done_arg;
};

/* Phase 1: read, validate, build the envelopes, match. 0 (p->n_ev events to append) or -1. */
static int pe_begin(pe_call *p)
{
	api_call *c = p->c;
	p->t0 = bb_mono_ns(c->n->clock);
	/* the ordinary request in one pass (pe_parse.c); anything else through jansson */
	if (pe_parse_fast(c->body, c->body_len, &p->in) != PE_PARSED && read_general(c, &p->in) != 0)
		return -1;
	size_t n = p->n = p->in.n;
	pe_entry *pe = p->pe;
	for (size_t i = 0; i < n; i++) {
		pe[i].in = p->in.f[i];
	}
	if (check_request(c, pe, n))
		return -1;

	int rc = 0;
	int64_t now_ms = bb_wall_ms(c->n->clock);
	p->rt = route_acquire(c->n);
	pat_scratch *sc = scratch_get();
	for (size_t i = 0; i < n; i++) {
		pe_entry *e = &pe[i];
		/* The bus: name or ARN; a missing bus drops the event after answering with its id, as AWS
		 * does for unknown buses; another account's bus is refused until resource policies arrive. */
		char region[64], acct[16];
		const char *bus;
		bus_arn_split(e->in.bus_in, region, acct, &bus); /* the member's pattern was checked above */
		e->bus = bus;
		bool foreign = (acct[0] && strcmp(acct, c->who.account) != 0) ||
			       (region[0] && strcmp(region, c->n->region) != 0);
		e->rb = foreign ? NULL : route_find_bus(p->rt, c->who.account, e->bus);
		check_entry(e);
		if (!e->err_code && foreign) {
			e->err_code = "AccessDeniedException";
			e->err_msg = "Not authorized to put events onto an event bus of another account or region.";
		}
		if (e->err_code)
			continue;
		if (build_envelope(c, e, now_ms)) {
			rc = api_error(c, 500, "InternalException", "Out of memory.");
			break;
		}
		if (e->err_code)
			continue;
		if (!e->rb) {
			p->unknown_bus++;
			continue;
		}
		if (route_entry(e, sc)) {
			rc = api_error(c, 500, "InternalException", "Out of memory.");
			break;
		}
		p->ev[p->n_ev++] = (ev_entry){.bus_key = e->rb->key,
					      .envelope = e->envelope,
					      .len = e->env_len,
					      .targets = e->targets,
					      .n_targets = e->n_targets};
	}
	scratch_put(sc);
	return rc;
}

/* Phase 2, once the events are durable (or the append failed with e): the answer. 0 or -1. */
static int pe_end(pe_call *p, bb_err e)
{
	api_call *c = p->c;
	if (e == BB_EBUSY)
		return api_error(c, 400, "ThrottlingException", "Rate exceeded");
	if (e != BB_OK) {
		BB_LOGW("putevents", "msg=\"append failed\" err=%s request_id=%s", bb_errname(e), c->request_id);
		return api_error(c, 500, "InternalException",
				 e == BB_ENOSPC ? "The event store is full; retry later." : "The event store failed; retry later.");
	}
	double ms = (double)(bb_mono_ns(c->n->clock) - p->t0) / 1e6;
	/* The answer, written directly (AWS's member order; what json_dumps of the same object gave). */
	size_t n = p->n, failed = 0;
	sbuf b = {0};
	sb_need(&b, 64 + n * 64);
	sb_str(&b, "{\"FailedEntryCount\":");
	size_t count_at = b.len;
	sb_str(&b, "00,\"Entries\":[");
	for (size_t i = 0; i < n; i++) {
		pe_entry *pe = &p->pe[i];
		sb_str(&b, i ? ",{" : "{");
		if (pe->err_code) {
			failed++;
			if (pe->rb)
				M_INC(pe->rb->m->put_failed);
			sb_str(&b, "\"ErrorCode\":");
			sb_jstr(&b, pe->err_code);
			sb_str(&b, ",\"ErrorMessage\":");
			sb_jstr(&b, pe->err_msg);
			sb_str(&b, "}");
			continue;
		}
		sb_str(&b, "\"EventId\":\"");
		sb_str(&b, pe->event_id);
		sb_str(&b, "\"}");
		if (!pe->rb)
			continue;
		M_INC(pe->rb->m->put_entries);
		hist_observe(&pe->rb->m->ingest_latency, ms);
		for (size_t k = 0; k < pe->n_rules; k++) {
			const route_rule *rr = pe->rule_ids[k] < pe->rb->id_cap ? pe->rb->by_id[pe->rule_ids[k]] : NULL;
			if (rr) {
				M_INC(rr->m->matched);
				M_INC(rr->m->triggered);
			}
		}
	}
	sb_str(&b, "]}");
	sb_put(&b, "", 1);
	if (p->unknown_bus)
		metrics_count_unknown_bus(c->n->metrics, p->unknown_bus);
	if (b.oom) {
		free(b.p);
		return api_error(c, 500, "InternalException", "Out of memory.");
	}
	/* failed <= 10: one or two digits in the two places reserved for them */
	if (failed < 10) {
		b.p[count_at] = (char)('0' + failed);
		memmove(b.p + count_at + 1, b.p + count_at + 2, b.len - count_at - 2);
	} else {
		b.p[count_at] = '1';
		b.p[count_at + 1] = '0';
	}
	c->out_raw = b.p;
	return 0;
}

static void pe_cleanup(pe_call *p)
{
	if (p->rt)
		route_release(p->rt);
	entries_free(p->pe, p->n);
	pe_parsed_free(&p->in);
}

int op_put_events(api_call *c)
{
	pe_call p;
	memset(&p, 0, sizeof p);
	p.c = c;
	int rc = pe_begin(&p);
	if (rc == 0)
		rc = pe_end(&p, p.n_ev ? evlog_append(c->n, p.rt, p.ev, p.n_ev) : BB_OK);
	pe_cleanup(&p);
	return rc;
}

static void pe_appended(void *arg, bb_err e)
{
	pe_call *p = arg;
	int rc = pe_end(p, e);
	pe_cleanup(p);
	void (*done)(void *, int) = p->done;
	void *done_arg = p->done_arg;
	free(p);
	done(done_arg, rc);
}

int op_put_events_async(api_call *c, void (*done)(void *arg, int rc), void *arg)
{
	pe_call *p = calloc(1, sizeof *p);
	if (!p)
		return api_error(c, 500, "InternalException", "Out of memory.");
	p->c = c;
	p->done = done;
	p->done_arg = arg;
	int rc = pe_begin(p);
	if (rc == 0 && p->n_ev) {
		p->app = (ev_append){.e = p->ev, .n_entries = p->n_ev, .rt = p->rt, .done = pe_appended, .arg = p};
		bb_err e = evlog_append_submit(c->n, &p->app);
		if (e == BB_OK)
			return 1; /* pe_appended answers, from the store writer */
		rc = pe_end(p, e);
	} else if (rc == 0) {
		rc = pe_end(p, BB_OK);
	}
	pe_cleanup(p);
	free(p);
	return rc;
}
