/* node/sqs_wait.c — long-poll waiters, send notifications, and the lifecycle of the built-in queues.
 *
 * A ReceiveMessage with WaitTimeSeconds > 0 that finds nothing registers as a waiter of its queue id
 * and sleeps on the queue's condition variable until a send to that queue is committed
 * (sqs_notify), the next delayed/invisible message is due, or its wait ends. Waiter groups — one per
 * queue id with at least one waiter — live in a small hash table under one mutex; a group exists
 * only while someone waits, so memory is bounded by the number of waiters, itself bounded by
 * cfg.sqs_max_waiters (beyond it ReceiveMessage answers RequestThrottled).
 *
 * A lost wake-up is impossible: the receiver reads the group's counter before looking for messages
 * and sleeps only while the counter is unchanged; sqs_notify bumps it under the mutex after the send
 * is durable (a delivery's put also when it is applied, before the commit).
 *
 * Shutdown: sqs_quiesce wakes every waiter (they return empty at once) and refuses new ones, so the
 * HTTP server can drain; then it stops the sweeper. sqs_stop frees the state after HTTP has stopped.
 * Long-poll deadlines use CLOCK_MONOTONIC (condition variables need a real clock); message times use
 * the node's injectable clock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqs_int.h"

#define WAIT_BUCKETS 64

typedef struct wgroup {
	uint8_t qid[16];
	unsigned waiters;
	uint64_t seq;       /* bumped by every notification */
	pthread_cond_t cv;  /* CLOCK_MONOTONIC */
	struct wgroup *next;
} wgroup;

struct sqs_state {
	pthread_mutex_t mu;
	wgroup *buckets[WAIT_BUCKETS];
	unsigned waiters, max_waiters;
	bool stopping;
	sqs_sweeper *sweeper;
};

struct sqs_waiter {
	struct sqs_state *st;
	wgroup *g;
};

int64_t sqs_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static wgroup **bucket_of(struct sqs_state *st, const uint8_t qid[16]) { return &st->buckets[qid[0] % WAIT_BUCKETS]; }

static wgroup *group_find(struct sqs_state *st, const uint8_t qid[16])
{
	for (wgroup *g = *bucket_of(st, qid); g; g = g->next)
		if (memcmp(g->qid, qid, 16) == 0)
			return g;
	return NULL;
}

sqs_waiter *sqs_wait_begin(node *n, const uint8_t qid[16])
{
	struct sqs_state *st = n->sqs;
	sqs_waiter *w = malloc(sizeof *w);
	if (!w)
		return NULL;
	pthread_mutex_lock(&st->mu);
	if (st->stopping || st->waiters >= st->max_waiters)
		goto refuse;
	wgroup *g = group_find(st, qid);
	if (!g) {
		g = calloc(1, sizeof *g);
		if (!g)
			goto refuse;
		memcpy(g->qid, qid, 16);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&g->cv, &ca);
		pthread_condattr_destroy(&ca);
		wgroup **b = bucket_of(st, qid);
		g->next = *b;
		*b = g;
	}
	g->waiters++;
	st->waiters++;
	pthread_mutex_unlock(&st->mu);
	w->st = st;
	w->g = g;
	return w;
refuse:
	pthread_mutex_unlock(&st->mu);
	free(w);
	return NULL;
}

uint64_t sqs_wait_seq(sqs_waiter *w)
{
	pthread_mutex_lock(&w->st->mu);
	uint64_t s = w->g->seq;
	pthread_mutex_unlock(&w->st->mu);
	return s;
}

bool sqs_wait_until(sqs_waiter *w, uint64_t seq, int64_t deadline_ns)
{
	struct sqs_state *st = w->st;
	struct timespec ts = {(time_t)(deadline_ns / 1000000000), (long)(deadline_ns % 1000000000)};
	pthread_mutex_lock(&st->mu);
	while (!st->stopping && w->g->seq == seq && sqs_mono_ns() < deadline_ns)
		pthread_cond_timedwait(&w->g->cv, &st->mu, &ts);
	bool ok = !st->stopping;
	pthread_mutex_unlock(&st->mu);
	return ok;
}

void sqs_wait_end(sqs_waiter *w)
{
	struct sqs_state *st = w->st;
	pthread_mutex_lock(&st->mu);
	st->waiters--;
	if (--w->g->waiters == 0) {
		wgroup **pp = bucket_of(st, w->g->qid);
		while (*pp != w->g)
			pp = &(*pp)->next;
		*pp = w->g->next;
		pthread_cond_destroy(&w->g->cv);
		free(w->g);
	}
	pthread_mutex_unlock(&st->mu);
	free(w);
}

void sqs_notify(node *n, const sqs_ref *q)
{
	struct sqs_state *st = n->sqs;
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	wgroup *g = group_find(st, q->qid);
	if (g) {
		g->seq++;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&st->mu);
}

/* ---- lifecycle -------------------------------------------------------------------------------------- */

bb_err sqs_start(node *n)
{
	struct sqs_state *st = calloc(1, sizeof *st);
	if (!st)
		return BB_ENOMEM;
	pthread_mutex_init(&st->mu, NULL);
	st->max_waiters = n->cfg.sqs_max_waiters;
	n->sqs = st;
	bb_err e = sqs_sweep_start(n, &st->sweeper);
	if (e) {
		n->sqs = NULL;
		pthread_mutex_destroy(&st->mu);
		free(st);
	}
	return e;
}

void sqs_quiesce(node *n)
{
	struct sqs_state *st = n->sqs;
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->stopping = true;
	for (size_t i = 0; i < WAIT_BUCKETS; i++)
		for (wgroup *g = st->buckets[i]; g; g = g->next)
			pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&st->mu);
	sqs_sweep_stop(st->sweeper);
	st->sweeper = NULL;
}

void sqs_stop(node *n)
{
	struct sqs_state *st = n->sqs;
	if (!st)
		return;
	sqs_sweep_stop(st->sweeper); /* NULL after sqs_quiesce */
	pthread_mutex_destroy(&st->mu);
	free(st);
	n->sqs = NULL;
}
