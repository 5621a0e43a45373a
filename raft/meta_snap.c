/* raft/meta_snap.c — immutable read snapshots and the publisher that swaps them.
 *
 * A meta_snap is {refcount, tree root, applied index}. The FSM (loop thread) builds a new tree per
 * apply and publishes a new meta_snap; readers on any thread take a reference under the publisher's
 * mutex (O(1): one pointer read and one atomic increment) and then read without any lock. Releasing
 * the last reference frees the snapshot and the tree nodes no newer version shares.
 *
 * Waiting for an index uses the publisher's condvar, broadcast on every publish. Waits are sliced
 * (<= 50 ms) and measured on the injected bb_clock, so tests with a fake clock time out as expected.
 */
#include "meta_int.h"

#include <stdlib.h>
#include <time.h>

#define WAIT_SLICE_NS (50 * 1000000ll)

/* ---- snapshots ----------------------------------------------------------------------------------- */

meta_snap *meta_snap_new(meta_tnode *root, uint64_t index)
{
	meta_snap *s = malloc(sizeof *s);
	if (!s)
		return NULL;
	atomic_init(&s->ref, 1);
	s->root = meta_tree_ref(root);
	s->index = index;
	return s;
}

void meta_snap_release(meta_snap *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->ref, 1, memory_order_acq_rel) != 1)
		return;
	meta_tree_unref(s->root);
	free(s);
}

uint64_t meta_snap_index(const meta_snap *s) { return s->index; }

size_t meta_snap_count(const meta_snap *s) { return meta_tree_size(s->root); }

bool meta_snap_get(const meta_snap *s, const void *key, size_t key_len, meta_val *out)
{
	const meta_item *it = meta_tree_get(s->root, key, key_len);
	if (!it)
		return false;
	if (out) {
		out->key = it->bytes;
		out->key_len = it->key_len;
		out->data = it->bytes + it->key_len;
		out->len = it->val_len;
		out->version = it->version;
	}
	return true;
}

size_t meta_snap_scan(const meta_snap *s, const void *prefix, size_t prefix_len, const void *after,
		      size_t after_len, meta_scan_fn fn, void *ctx)
{
	return meta_tree_scan(s->root, prefix, prefix_len, after, after_len, fn, ctx);
}

/* ---- condvar helpers ----------------------------------------------------------------------------- */

bb_err meta_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	if (pthread_condattr_init(&a) != 0)
		return BB_EINTERNAL;
	int rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
	return rc == 0 ? BB_OK : BB_EINTERNAL;
}

bb_err meta_cond_wait_flag(pthread_cond_t *cv, pthread_mutex_t *mu, const bb_clock *clock,
			   bool (*done)(void *ctx), void *ctx, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : bb_mono_ns(clock) + (int64_t)timeout_ms * 1000000;
	while (!done(ctx)) {
		int64_t now = bb_mono_ns(clock);
		if (now >= deadline)
			return BB_ETIMEDOUT;
		int64_t slice = deadline - now < WAIT_SLICE_NS ? deadline - now : WAIT_SLICE_NS;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t ns = ts.tv_nsec + slice;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(cv, mu, &ts);
	}
	return BB_OK;
}

/* ---- publisher ----------------------------------------------------------------------------------- */

bb_err meta_pub_init(meta_pub *p, const bb_clock *clock)
{
	p->clock = clock ? clock : &bb_clock_system;
	p->cur = meta_snap_new(NULL, 0);
	if (!p->cur)
		return BB_ENOMEM;
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		goto err_snap;
	if (meta_cond_init(&p->cv) != BB_OK)
		goto err_mutex;
	return BB_OK;

err_mutex:
	pthread_mutex_destroy(&p->mu);
err_snap:
	meta_snap_release(p->cur);
	p->cur = NULL;
	return BB_EINTERNAL;
}

void meta_pub_destroy(meta_pub *p)
{
	meta_snap_release(p->cur);
	p->cur = NULL;
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

void meta_pub_publish(meta_pub *p, meta_snap *s)
{
	pthread_mutex_lock(&p->mu);
	meta_snap *old = p->cur;
	p->cur = s;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	meta_snap_release(old); /* outside the lock: may free a large part of a tree */
}

meta_snap *meta_pub_acquire(meta_pub *p)
{
	pthread_mutex_lock(&p->mu);
	meta_snap *s = p->cur;
	atomic_fetch_add_explicit(&s->ref, 1, memory_order_relaxed);
	pthread_mutex_unlock(&p->mu);
	return s;
}

typedef struct index_wait {
	meta_pub *p;
	uint64_t index;
} index_wait;

static bool index_reached(void *ctx)
{
	index_wait *w = ctx;
	return w->p->cur->index >= w->index;
}

bb_err meta_pub_wait(meta_pub *p, uint64_t index, int timeout_ms)
{
	index_wait w = {p, index};
	pthread_mutex_lock(&p->mu);
	bb_err e = meta_cond_wait_flag(&p->cv, &p->mu, p->clock, index_reached, &w, timeout_ms);
	pthread_mutex_unlock(&p->mu);
	return e;
}
