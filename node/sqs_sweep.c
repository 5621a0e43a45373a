/* node/sqs_sweep.c — the queue sweeper (one thread) and the queue walks used by /metrics.
 *
 * Each pass lists the queue ids that have data in the store (up to PASS_QIDS, resuming where the
 * previous pass stopped), then takes a metadata snapshot — after the listing, so every id whose data
 * existed at listing time is either in the snapshot or was deleted — and for each id:
 *   - no queue record has it (queue deleted, or purged: PurgeQueue draws a new id): delete its
 *     entries, at most DROP_BUDGET per store transaction;
 *   - it is live and its oldest message outlived MessageRetentionPeriod: delete expired messages, at
 *     most EXPIRE_BUDGET per transaction.
 * A pass does at most PASS_WRITES store writes; the sweeper sleeps SWEEP_IDLE_MS between passes, or
 * SWEEP_BUSY_MS when work was left over. ReceiveMessage also never returns an expired message (it
 * deletes it on sight), so the sweeper only bounds disk use.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqs_int.h"

#define PASS_QIDS 1024
#define PASS_WRITES 32
#define DROP_BUDGET 4096
#define EXPIRE_BUDGET 2048
#define SWEEP_IDLE_MS 1000
#define SWEEP_BUSY_MS 20

struct sqs_sweeper {
	node *n;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled to stop */
	bool stop;
	uint8_t resume[16]; /* last queue id of the previous pass */
	bool resuming;
};

/* ---- queue walks ---------------------------------------------------------------------------------- */

typedef struct visit_ctx {
	sqs_queue_visit_fn fn;
	void *ctx;
} visit_ctx;

static bool visit_record(void *ctx, const meta_val *v)
{
	visit_ctx *vc = ctx;
	/* key: q/<12-digit account>/<name> */
	if (v->key_len < 16 || v->key[14] != '/')
		return true;
	char account[13];
	memcpy(account, v->key + 2, 12);
	account[12] = '\0';
	json_error_t err;
	json_t *rec = json_loadb((const char *)v->data, v->len, 0, &err);
	sqs_ref ref;
	bool more = true;
	if (rec && sqs_ref_from_record(rec, account, &ref))
		more = vc->fn(vc->ctx, &ref);
	json_decref(rec);
	return more;
}

void sqs_foreach_queue(meta_snap *s, sqs_queue_visit_fn fn, void *ctx)
{
	visit_ctx vc = {fn, ctx};
	meta_snap_scan(s, "q/", 2, NULL, 0, visit_record, &vc);
}

typedef struct depth_ctx {
	node *n;
	void (*fn)(void *, const char *, const char *, uint64_t, uint64_t, uint64_t);
	void *ctx;
	int64_t now;
} depth_ctx;

static bool depth_visit(void *ctx, const sqs_ref *ref)
{
	depth_ctx *dc = ctx;
	uint64_t vis, inflight, delayed;
	if (sqs_store_counts(dc->n->db, ref->qid, dc->now, &vis, &inflight, &delayed) == BB_OK)
		dc->fn(dc->ctx, ref->account, ref->name, vis, inflight, delayed);
	return true;
}

void sqs_foreach_depth(node *n,
		       void (*fn)(void *ctx, const char *account, const char *name, uint64_t visible,
				  uint64_t inflight, uint64_t delayed),
		       void *ctx)
{
	db_barrier(n->db); /* receives are answered before their commit: count after it */
	depth_ctx dc = {n, fn, ctx, bb_wall_ms(n->clock)};
	meta_snap *s = meta_snap_acquire(n->meta);
	sqs_foreach_queue(s, depth_visit, &dc);
	meta_snap_release(s);
}

/* ---- the sweeper ------------------------------------------------------------------------------------- */

typedef struct live_q {
	uint8_t qid[16];
	int64_t retention_ms;
} live_q;

typedef struct live_set {
	live_q *q;
	size_t n, cap;
	bool oom;
} live_set;

static bool live_add(void *ctx, const sqs_ref *ref)
{
	live_set *ls = ctx;
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 64;
		live_q *nq = realloc(ls->q, cap * sizeof *nq);
		if (!nq) {
			ls->oom = true;
			return false;
		}
		ls->q = nq;
		ls->cap = cap;
	}
	memcpy(ls->q[ls->n].qid, ref->qid, 16);
	ls->q[ls->n].retention_ms = ref->retention_s * 1000;
	ls->n++;
	return true;
}

static int live_cmp(const void *a, const void *b) { return memcmp(a, b, 16); }

typedef struct sweep_op {
	const uint8_t *qid;
	int64_t retention_ms, now_ms;
	bool drop, more;
} sweep_op;

static bb_err sweep_apply(db *d, MDB_txn *txn, void *arg)
{
	sweep_op *op = arg;
	if (op->drop)
		return sqs_store_drop(d, txn, op->qid, DROP_BUDGET, &op->more);
	return sqs_store_expire(d, txn, op->qid, op->retention_ms, op->now_ms, EXPIRE_BUDGET, &op->more);
}

/* One pass; returns true when work was left over. */
static bool sweep_pass(struct sqs_sweeper *sw)
{
	node *n = sw->n;
	uint8_t(*qids)[16] = malloc(PASS_QIDS * 16);
	size_t nq = 0;
	if (!qids)
		return false;
	if (sqs_store_qids(n->db, sw->resuming ? sw->resume : NULL, qids, PASS_QIDS, &nq) != BB_OK || nq == 0) {
		sw->resuming = false;
		free(qids);
		return false;
	}
	live_set ls = {0};
	meta_snap *s = meta_snap_acquire(n->meta);
	sqs_foreach_queue(s, live_add, &ls);
	meta_snap_release(s);
	if (ls.oom) {
		free(ls.q);
		free(qids);
		return false;
	}
	qsort(ls.q, ls.n, sizeof *ls.q, live_cmp);
	int writes = 0;
	size_t i = 0;
	bool stopped = false;
	for (; i < nq; i++) {
		if (writes >= PASS_WRITES) {
			stopped = true;
			break;
		}
		live_q *lq = bsearch(qids[i], ls.q, ls.n, sizeof *ls.q, live_cmp);
		int64_t now = bb_wall_ms(n->clock);
		sweep_op op = {.qid = qids[i], .drop = !lq, .now_ms = now};
		if (lq) {
			op.retention_ms = lq->retention_ms;
			if (!sqs_store_expire_due(n->db, qids[i], lq->retention_ms, now))
				continue;
		}
		do {
			bb_err e = db_run(n->db, sweep_apply, &op);
			writes++;
			if (e) {
				BB_LOGW("sqs", "msg=\"sweep write failed\" err=%s", bb_errname(e));
				op.more = false;
			}
		} while (op.more && writes < PASS_WRITES);
		if (op.more) {
			stopped = true; /* this id again next pass */
			break;
		}
	}
	/* ids [0, i) are done: the next pass starts after them, or from the start at the end */
	if (i > 0) {
		memcpy(sw->resume, qids[i - 1], 16);
		sw->resuming = true;
	}
	if (!stopped && nq < PASS_QIDS)
		sw->resuming = false;
	free(ls.q);
	free(qids);
	return stopped || nq == PASS_QIDS;
}

static void *sweep_main(void *arg)
{
	pthread_setname_np(pthread_self(), "bb-sqs-sweep");
	struct sqs_sweeper *sw = arg;
	pthread_mutex_lock(&sw->mu);
	while (!sw->stop) {
		pthread_mutex_unlock(&sw->mu);
		bool busy = sweep_pass(sw);
		pthread_mutex_lock(&sw->mu);
		int64_t deadline = sqs_mono_ns() + (int64_t)(busy ? SWEEP_BUSY_MS : SWEEP_IDLE_MS) * 1000000;
		struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
		while (!sw->stop && sqs_mono_ns() < deadline)
			pthread_cond_timedwait(&sw->cv, &sw->mu, &ts);
	}
	pthread_mutex_unlock(&sw->mu);
	return NULL;
}

bb_err sqs_sweep_start(node *n, sqs_sweeper **out)
{
	struct sqs_sweeper *sw = calloc(1, sizeof *sw);
	if (!sw)
		return BB_ENOMEM;
	sw->n = n;
	pthread_mutex_init(&sw->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sw->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&sw->thread, NULL, sweep_main, sw) != 0) {
		pthread_cond_destroy(&sw->cv);
		pthread_mutex_destroy(&sw->mu);
		free(sw);
		return BB_ENOMEM;
	}
	*out = sw;
	return BB_OK;
}

void sqs_sweep_stop(sqs_sweeper *sw)
{
	if (!sw)
		return;
	pthread_mutex_lock(&sw->mu);
	sw->stop = true;
	pthread_cond_signal(&sw->cv);
	pthread_mutex_unlock(&sw->mu);
	pthread_join(sw->thread, NULL);
	pthread_cond_destroy(&sw->cv);
	pthread_mutex_destroy(&sw->mu);
	free(sw);
}
