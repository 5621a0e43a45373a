/* bench/bench_load.c — the PutEvents publisher shared by ingest, e2e and backlog.
 *
 * Design: one thread per client, each with one keep-alive connection and one request in flight
 * (blocking sockets: with tens of clients this costs less than an event loop and keeps the code
 * obvious). All clients connect first, then start together at t0.
 *
 * Closed loop (rate 0): a client sends its next request as soon as the previous answer arrived;
 * latency = answer time - send time. Open loop (rate R events/s): requests are slots on a fixed
 * schedule, client i's k-th slot at t0 + (k + i/N) * N*batch/R; a client that is behind sends at once,
 * and latency = answer time - slot time, so a server stall shows up in every request it delayed
 * instead of being hidden by the client waiting (no coordinated omission). Requests sent more than
 * 1 ms after their slot are counted as `late`; a client still behind BENCH_LOAD_GRACE_S after the end
 * drops its remaining slots (`unsent`).
 *
 * Bodies: without stamping each client builds one body and signs it once per wall-clock second (the
 * signature only changes with X-Amz-Date). With stamping every Detail carries bench_seq (unique over
 * the run: slot number * batch + entry) and bench_t_ns (the slot time, CLOCK_MONOTONIC), and each
 * request is built and signed anew.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bench_net.h"
#include "common/bb.h"

typedef struct load load;

typedef struct client {
	load *L;
	int idx;
	pthread_t th;
	bench_conn conn;
	char *body;
	size_t body_len, body_cap;
	char head[BENCH_HEAD_MAX];
	int head_len;
	int64_t head_sec; /* wall second the cached head was signed for (unstamped bodies) */
	bool connected;
	/* results, read by the main thread after join */
	bench_hist lat;
	bench_errs errs;
	uint64_t requests, sent, acked, late, unsent, max_seq;
	int64_t last_ns;
} client;

struct load {
	const bench_load_cfg *cfg;
	pthread_barrier_t barrier;
	int64_t t0_ns, end_ns;
	double interval_ns; /* open loop: one client's time between slots */
	_Atomic uint64_t acked;
	_Atomic int finished;
	_Atomic bool stop;
	size_t pad_len;
};

static int64_t mono_ns(void) { return bb_mono_ns(&bb_clock_system); }
static int64_t wall_ms(void) { return bb_wall_ms(&bb_clock_system); }

static void sleep_until(int64_t t_ns)
{
	struct timespec ts = {(time_t)(t_ns / 1000000000), (long)(t_ns % 1000000000)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
	}
}

static bool reserve(client *c, size_t n)
{
	if (n <= c->body_cap)
		return true;
	char *nb = realloc(c->body, n);
	if (!nb)
		return false;
	c->body = nb;
	c->body_cap = n;
	return true;
}

/* Builds {"Entries":[...]} with batch entries; seq0 = first bench_seq, t_ns = the stamp time. */
static bool build_body(client *c, bool stamp, uint64_t seq0, int64_t t_ns)
{
	const bench_load_cfg *cfg = c->L->cfg;
	size_t pad = c->L->pad_len;
	size_t need = 32 + (size_t)cfg->batch * (pad + 512 + (cfg->bus ? strlen(cfg->bus) : 0) + strlen(cfg->source));
	if (!reserve(c, need))
		return false;
	char *p = c->body;
	p += sprintf(p, "{\"Entries\":[");
	for (int j = 0; j < cfg->batch; j++) {
		p += sprintf(p, "%s{\"Source\":\"%s\",\"DetailType\":\"busbar-bench\",\"Detail\":\"{", j ? "," : "",
			     cfg->source);
		if (stamp)
			p += sprintf(p, "\\\"bench_seq\\\":%llu,\\\"bench_t_ns\\\":%lld,", (unsigned long long)(seq0 + (uint64_t)j),
				     (long long)t_ns);
		p += sprintf(p, "\\\"pad\\\":\\\"");
		memset(p, 'x', pad);
		p += pad;
		p += sprintf(p, "\\\"}\"");
		if (cfg->bus)
			p += sprintf(p, ",\"EventBusName\":\"%s\"", cfg->bus);
		*p++ = '}';
	}
	p += sprintf(p, "]}");
	c->body_len = (size_t)(p - c->body);
	return true;
}

/* Counts entry errors of a 200 PutEvents answer: every "ErrorCode":"X" adds X to the tally. */
static uint64_t count_entry_errors(bench_errs *errs, const char *b, size_t len)
{
	uint64_t n = 0;
	const char *end = b + len, *p = b;
	while ((p = memmem(p, (size_t)(end - p), "\"ErrorCode\"", 11)) != NULL) {
		p += 11;
		while (p < end && (*p == ' ' || *p == ':'))
			p++;
		if (p < end && *p == '"') {
			const char *s = ++p;
			while (p < end && *p != '"')
				p++;
			bench_errs_add(errs, s, (size_t)(p - s), 1);
		} else {
			bench_errs_add(errs, "ErrorCode", 9, 1); /* null or odd value: still a failed entry */
		}
		n++;
	}
	return n;
}

/* Names a non-200 answer: x-amzn-ErrorType, else the body's __type (after any '#'), else http_<status>. */
static void count_request_error(bench_errs *errs, const bench_resp *r)
{
	if (r->err_type[0]) {
		bench_errs_add(errs, r->err_type, strlen(r->err_type), 1);
		return;
	}
	const char *t = r->body ? memmem(r->body, r->body_len, "\"__type\"", 8) : NULL;
	if (t) {
		const char *end = r->body + r->body_len;
		t += 8;
		while (t < end && (*t == ' ' || *t == ':'))
			t++;
		if (t < end && *t == '"') {
			const char *s = ++t;
			while (t < end && *t != '"')
				t++;
			const char *hash = memchr(s, '#', (size_t)(t - s));
			if (hash)
				s = hash + 1;
			bench_errs_add(errs, s, (size_t)(t - s), 1);
			return;
		}
	}
	char name[32];
	int n = snprintf(name, sizeof name, "http_%d", r->status);
	bench_errs_add(errs, name, (size_t)n, 1);
}

static void *client_main(void *arg)
{
	client *c = arg;
	load *L = c->L;
	const bench_load_cfg *cfg = L->cfg;
	bool open = cfg->rate > 0;
	const char *svc_target = "AWSEvents.PutEvents", *ctype = "application/x-amz-json-1.1";

	c->connected = bench_conn_connect(&c->conn) == BENCH_NET_OK;
	if (!cfg->stamp && !build_body(c, false, 0, 0))
		c->connected = false;
	pthread_barrier_wait(&L->barrier); /* connected */
	pthread_barrier_wait(&L->barrier); /* t0 is set */
	if (!cfg->stamp && !c->body)
		goto done;

	int64_t grace_end = L->end_ns + (int64_t)BENCH_LOAD_GRACE_S * 1000000000;
	for (uint64_t k = 0;; k++) {
		if (atomic_load_explicit(&L->stop, memory_order_relaxed))
			break;
		int64_t start, now = mono_ns();
		if (open) {
			int64_t slot = L->t0_ns + (int64_t)(((double)k + (double)c->idx / cfg->clients) * L->interval_ns);
			if (slot >= L->end_ns)
				break;
			if (now > grace_end) {
				/* hopelessly behind: count what is left of the schedule and stop */
				double left = ((double)(L->end_ns - L->t0_ns) / L->interval_ns) - (double)k;
				c->unsent += left > 0 ? (uint64_t)left + 1 : 0;
				break;
			}
			if (now < slot) {
				sleep_until(slot);
			} else if (now - slot > 1000000) {
				c->late++;
			}
			start = slot;
		} else {
			if (now >= L->end_ns)
				break;
			start = now;
		}
		uint64_t seq0 = (k * (uint64_t)cfg->clients + (uint64_t)c->idx) * (uint64_t)cfg->batch;
		int64_t wms = wall_ms();
		if (cfg->stamp) {
			if (!build_body(c, true, seq0, start))
				break;
			c->head_len = bench_aws_head(cfg->ep, cfg->cr, "events", svc_target, ctype, c->body, c->body_len, wms,
						     c->head, sizeof c->head);
			if (seq0 + (uint64_t)cfg->batch > c->max_seq)
				c->max_seq = seq0 + (uint64_t)cfg->batch;
		} else if (wms / 1000 != c->head_sec || c->head_len <= 0) {
			c->head_len = bench_aws_head(cfg->ep, cfg->cr, "events", svc_target, ctype, c->body, c->body_len, wms,
						     c->head, sizeof c->head);
			c->head_sec = wms / 1000;
		}
		if (c->head_len <= 0) {
			fprintf(stderr, "busbar-bench: signing failed\n");
			break;
		}

		bench_resp r;
		c->sent += (uint64_t)cfg->batch;
		bench_net_err e = bench_conn_exchange(&c->conn, c->head, (size_t)c->head_len, c->body, c->body_len, &r);
		int64_t done_ns = mono_ns();
		c->requests++;
		c->last_ns = done_ns;
		if (e) {
			const char *name = bench_net_errname(e);
			bench_errs_add(&c->errs, name, strlen(name), 1);
			if (!open) { /* do not spin on a dead server */
				struct timespec ts = {0, 10 * 1000000};
				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (r.status != 200) {
			count_request_error(&c->errs, &r);
			continue;
		}
		bench_hist_add(&c->lat, done_ns - start);
		uint64_t failed = count_entry_errors(&c->errs, r.body, r.body_len);
		uint64_t ok = failed >= (uint64_t)cfg->batch ? 0 : (uint64_t)cfg->batch - failed;
		c->acked += ok;
		uint64_t total = atomic_fetch_add_explicit(&L->acked, ok, memory_order_relaxed) + ok;
		if (cfg->max_acked && total >= cfg->max_acked)
			atomic_store(&L->stop, true);
	}
done:
	atomic_fetch_add(&L->finished, 1);
	return NULL;
}

uint64_t bench_load_max_seq(const bench_load_cfg *cfg)
{
	if (cfg->rate <= 0)
		return 0;
	double interval_s = (double)cfg->clients * cfg->batch / cfg->rate;
	uint64_t slots = (uint64_t)(cfg->seconds / interval_s) + 2;
	return (slots * (uint64_t)cfg->clients + (uint64_t)cfg->clients) * (uint64_t)cfg->batch;
}

int bench_load_run(const bench_load_cfg *cfg, bench_load_result *out)
{
	int rc = -1;
	load L;
	memset(&L, 0, sizeof L);
	memset(out, 0, sizeof *out);
	bench_hist_init(&out->lat);
	L.cfg = cfg;
	size_t overhead = cfg->stamp ? 52 : 9; /* {"bench_seq":..,"bench_t_ns":..,"pad":""} */
	L.pad_len = cfg->event_bytes > (int)overhead ? (size_t)cfg->event_bytes - overhead : 1;
	if (cfg->rate > 0)
		L.interval_ns = 1e9 * cfg->clients * cfg->batch / cfg->rate;

	client *cl = calloc((size_t)cfg->clients, sizeof *cl);
	if (!cl)
		return -1;
	if (pthread_barrier_init(&L.barrier, NULL, (unsigned)cfg->clients + 1) != 0)
		goto out_free;
	for (int i = 0; i < cfg->clients; i++) {
		cl[i].L = &L;
		cl[i].idx = i;
		cl[i].head_sec = -1;
		bench_hist_init(&cl[i].lat);
		bench_conn_init(&cl[i].conn, cfg->ep, cfg->timeout_ms);
		if (pthread_create(&cl[i].th, NULL, client_main, &cl[i]) != 0) {
			/* the started clients wait on the barrier for everyone: nothing to unwind, give up */
			fprintf(stderr, "busbar-bench: cannot start client thread %d\n", i);
			exit(2);
		}
	}
	pthread_barrier_wait(&L.barrier); /* every client tried to connect */
	int connected = 0;
	for (int i = 0; i < cfg->clients; i++)
		connected += cl[i].connected;
	if (connected == 0) {
		fprintf(stderr, "busbar-bench: no client could connect to %s\n", cfg->ep->url);
		atomic_store(&L.stop, true);
	}
	double cpu0 = bench_self_cpu_s();
	L.t0_ns = mono_ns() + 1000000;
	L.end_ns = L.t0_ns + (int64_t)(cfg->seconds * 1e9);
	pthread_barrier_wait(&L.barrier); /* go */

	int64_t next_progress = L.t0_ns + (int64_t)(cfg->progress_s * 1e9);
	while (atomic_load(&L.finished) < cfg->clients) {
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
		if (bench_interrupted)
			atomic_store(&L.stop, true);
		if (cfg->progress_s > 0 && mono_ns() >= next_progress) {
			fprintf(stderr, "busbar-bench: t=%.0fs acked=%llu\n", (double)(mono_ns() - L.t0_ns) / 1e9,
				(unsigned long long)atomic_load(&L.acked));
			next_progress += (int64_t)(cfg->progress_s * 1e9);
		}
	}
	int64_t last = L.t0_ns;
	for (int i = 0; i < cfg->clients; i++) {
		pthread_join(cl[i].th, NULL);
		client *c = &cl[i];
		bench_hist_merge(&out->lat, &c->lat);
		bench_errs_merge(&out->errs, &c->errs);
		out->requests += c->requests;
		out->events_sent += c->sent;
		out->acked += c->acked;
		out->late += c->late;
		out->unsent += c->unsent;
		if (c->max_seq > out->max_seq)
			out->max_seq = c->max_seq;
		if (c->last_ns > last)
			last = c->last_ns;
		bench_conn_free(&c->conn);
		free(c->body);
	}
	out->cpu_s = bench_self_cpu_s() - cpu0;
	out->t0_ns = L.t0_ns;
	out->elapsed_s = (double)(last - L.t0_ns) / 1e9;
	if (out->elapsed_s <= 0)
		out->elapsed_s = cfg->seconds;
	rc = connected ? 0 : -1;
	pthread_barrier_destroy(&L.barrier);
out_free:
	free(cl);
	return rc;
}
