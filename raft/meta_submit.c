/* raft/meta_submit.c — getting transactions from any thread into raft, and outcomes back.
 *
 * meta_submit encodes on the caller's thread (so the loop thread only moves pointers), then appends a
 * meta_req to the node's queue under n->mu. `pending` counts queued + in-flight requests and is
 * bounded by max_pending (BB_EBUSY beyond it: the caller throttles). uv_async_send is issued while
 * holding n->mu so it cannot race with meta_stop closing the async handle.
 *
 * On the loop thread, meta_submit_drain hands each request to raft_apply (which takes the
 * raft_malloc'd buffer on success, R8); the apply callback reads the FSM's outcome through the
 * `result` pointer (valid only during the callback; raft passes it only on the leader, which is the
 * only node that has apply requests). A request fails with BB_ENOTLEADER when this node is not the
 * leader (the entry was not appended), and with BB_ESHUTDOWN when stopping — in that case, or with
 * BB_ENOTLEADER after leadership loss, an appended entry may still commit later; request ids make
 * retries safe.
 *
 * Limits: besides meta.h's per-op limits, one encoded transaction may not exceed META_MAX_TXN_BYTES
 * (64 MiB, meta_int.h): BB_ETOOBIG.
 *
 * meta_submit_wait wraps meta_submit with a heap waiter shared (refcount 2) by the waiting thread and
 * the done callback, so a timed-out waiter can leave while the callback fires later. A negative
 * timeout_ms waits without limit; on BB_ETIMEDOUT *out is {BB_ETIMEDOUT, 0, 0}.
 */
#include "meta_int.h"

#include <stdlib.h>
#include <string.h>

void meta_req_finish(meta_req *r, const meta_result *res)
{
	meta_node *n = r->node;
	r->done(r->ctx, res);
	raft_free(r->base);
	free(r);
	pthread_mutex_lock(&n->mu);
	n->pending--;
	pthread_mutex_unlock(&n->mu);
}

static void on_applied(struct raft_apply *a, int status, void *result)
{
	meta_req *r = a->data;
	meta_result res = {.err = BB_OK};
	if (status == 0 && result)
		res = *(const meta_result *)result;
	else if (status == 0)
		res.err = BB_EINTERNAL;
	else
		res.err = r->node->closing ? BB_ESHUTDOWN : meta_err_from_raft(status);
	meta_req_finish(r, &res);
}

void meta_submit_drain(meta_node *n, bool stopping)
{
	pthread_mutex_lock(&n->mu);
	meta_req *r = n->q_head;
	n->q_head = n->q_tail = NULL;
	pthread_mutex_unlock(&n->mu);

	while (r) {
		meta_req *next = r->next;
		meta_result res = {.err = BB_ESHUTDOWN};
		if (!stopping) {
			struct raft_buffer buf = {.base = r->base, .len = r->len};
			r->apply.data = r;
			int rv = raft_apply(&n->raft, &r->apply, &buf, 1, on_applied);
			if (rv == 0) {
				r->base = NULL; /* raft owns it now */
				r = next;
				continue;
			}
			res.err = meta_err_from_raft(rv);
		}
		meta_req_finish(r, &res);
		r = next;
	}
}

bb_err meta_submit(meta_node *n, const uint8_t req_id[16], const meta_op *ops, size_t n_ops, meta_done_fn done,
		   void *ctx)
{
	if (!n || !req_id || !done)
		return BB_EINVAL;
	meta_req *r = calloc(1, sizeof *r);
	if (!r)
		return BB_ENOMEM;
	bb_err e = meta_txn_encode(req_id, ops, n_ops, &r->base, &r->len);
	if (e != BB_OK) {
		free(r);
		return e;
	}
	r->node = n;
	r->done = done;
	r->ctx = ctx;

	pthread_mutex_lock(&n->mu);
	if (n->stopping)
		e = BB_ESHUTDOWN;
	else if (n->pending >= n->max_pending)
		e = BB_EBUSY;
	if (e == BB_OK) {
		n->pending++;
		if (n->q_tail)
			n->q_tail->next = r;
		else
			n->q_head = r;
		n->q_tail = r;
		uv_async_send(&n->wake);
	}
	pthread_mutex_unlock(&n->mu);
	if (e != BB_OK) {
		raft_free(r->base);
		free(r);
	}
	return e;
}

/* ---- blocking form ------------------------------------------------------------------------------- */

typedef struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	meta_result res;
} waiter;

static void waiter_unref_locked(waiter *w)
{
	bool last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (last) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
	}
}

static void waiter_done(void *ctx, const meta_result *res)
{
	waiter *w = ctx;
	pthread_mutex_lock(&w->mu);
	w->res = *res;
	w->done = true;
	pthread_cond_broadcast(&w->cv);
	waiter_unref_locked(w);
}

static bool waiter_is_done(void *ctx) { return ((waiter *)ctx)->done; }

bb_err meta_submit_wait(meta_node *n, const uint8_t req_id[16], const meta_op *ops, size_t n_ops,
			int timeout_ms, meta_result *out)
{
	if (!n || !out)
		return BB_EINVAL;
	if (pthread_equal(pthread_self(), n->thread))
		return BB_EINVAL; /* would deadlock: the outcome is delivered on this thread */
	waiter *w = calloc(1, sizeof *w);
	if (!w)
		return BB_ENOMEM;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return BB_EINTERNAL;
	}
	if (meta_cond_init(&w->cv) != BB_OK) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		return BB_EINTERNAL;
	}
	w->refs = 2;
	bb_err e = meta_submit(n, req_id, ops, n_ops, waiter_done, w);
	if (e != BB_OK) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return e;
	}
	pthread_mutex_lock(&w->mu);
	e = meta_cond_wait_flag(&w->cv, &w->mu, n->clock, waiter_is_done, w, timeout_ms);
	if (e == BB_OK) {
		*out = w->res;
	} else {
		memset(out, 0, sizeof *out);
		out->err = BB_ETIMEDOUT;
	}
	waiter_unref_locked(w);
	return e;
}
