/* raft/meta_fsm.c — the metadata state machine: applying a committed transaction.
 *
 * apply(entry at raft index i):
 *   1. decode (meta_codec.c); an undecodable entry changes nothing and yields BB_ECORRUPT (it cannot
 *      come from meta_submit, which encodes; it is logged, and never remembered by id);
 *   2. if the request id is in the dedupe table, answer the remembered outcome — nothing re-applied;
 *   3. check every op's precondition against the state *before* the transaction; the first failure
 *      gives BB_ECONFLICT with failed_op = its position, and nothing is written;
 *   4. otherwise apply the ops in order on a new tree version (path copying); written keys get
 *      version i;
 *   5. remember {id -> outcome} (FIFO-bounded), swap the tree, publish a snapshot at index i.
 * Steps 1-4 build new structures beside the current ones, so an allocation failure returns
 * RAFT_NOMEM with the state untouched (raft stops applying and retries at the next commit); step 5
 * cannot fail. Deterministic: the outcome depends only on the previous state and the entry.
 *
 * raft 0.15's fsm->apply is not told the entry's index. It applies entries in order and sets
 * last_applied only after apply returns (replication.c, replicationApply), so the index being applied
 * is raft_last_applied() + 1; barriers and configuration entries advance last_applied too, which
 * keeps this exact.
 *
 * Thread: the loop thread (raft calls these); tests call them directly on one thread.
 */
#include "meta_int.h"

#include <string.h>

static bool precondition_holds(const meta_tnode *root, const meta_op *op)
{
	if (op->kind == META_OP_DEL_PREFIX || op->expect == META_ANY)
		return true;
	const meta_item *it = meta_tree_get(root, op->key, op->key_len);
	if (op->expect == META_ABSENT)
		return it == NULL;
	return it && it->version == (uint64_t)op->expect;
}

/* Applies op to *root (replaced on success). BB_ENOMEM leaves *root as it was. */
static bb_err apply_op(meta_tnode **root, const meta_op *op, uint64_t index)
{
	meta_tnode *next = NULL;
	bb_err e = BB_OK;
	switch (op->kind) {
	case META_OP_PUT: {
		meta_item *it = meta_item_new(op->key, op->key_len, op->val, op->val_len, index);
		if (!it)
			return BB_ENOMEM;
		e = meta_tree_set(*root, it, &next);
		meta_item_unref(it);
		break;
	}
	case META_OP_DEL: {
		bool found;
		e = meta_tree_del(*root, op->key, op->key_len, &next, &found);
		break;
	}
	case META_OP_DEL_PREFIX: {
		size_t removed;
		e = meta_tree_del_prefix(*root, op->key, op->key_len, &next, &removed);
		break;
	}
	case META_OP_CHECK:
		return BB_OK;
	}
	if (e != BB_OK)
		return e;
	meta_tree_unref(*root);
	*root = next;
	return BB_OK;
}

int meta_fsm_apply_at(meta_fsm *f, const void *buf, size_t len, uint64_t index)
{
	meta_result res = {.err = BB_OK, .index = index, .failed_op = 0};
	bool remember = false;
	meta_txn t;
	meta_tnode *root = meta_tree_ref(f->root);

	bb_err e = meta_txn_decode(buf, len, &t);
	if (e == BB_ENOMEM)
		goto err_nomem;
	if (e != BB_OK) {
		BB_LOGW("meta", "msg=\"undecodable raft entry ignored\" index=%llu len=%zu err=%s",
			(unsigned long long)index, len, bb_errname(e));
		res.err = BB_ECORRUPT;
		goto publish;
	}

	const meta_dd_ent *dup = meta_dedupe_find(&f->dd, t.req_id);
	if (dup) {
		res.err = (bb_err)dup->err;
		res.index = dup->index;
		res.failed_op = dup->failed_op;
		goto publish;
	}

	remember = true;
	for (size_t i = 0; i < t.n_ops; i++) {
		if (!precondition_holds(f->root, &t.ops[i])) {
			res.err = BB_ECONFLICT;
			res.failed_op = i;
			goto publish;
		}
	}
	for (size_t i = 0; i < t.n_ops; i++) {
		if (apply_op(&root, &t.ops[i], index) != BB_OK)
			goto err_txn;
	}

publish:;
	meta_snap *s = meta_snap_new(root, index);
	if (!s)
		goto err_txn;
	if (remember)
		meta_dedupe_add(&f->dd, t.req_id, &res);
	meta_txn_free(&t);
	meta_tree_unref(f->root);
	f->root = root;
	f->index = index;
	f->last = res;
	meta_pub_publish(&f->pub, s);
	return 0;

err_txn:
	meta_txn_free(&t);
err_nomem:
	meta_tree_unref(root);
	return RAFT_NOMEM;
}

static int fsm_apply(struct raft_fsm *rf, const struct raft_buffer *buf, void **result)
{
	meta_fsm *f = rf->data;
	uint64_t index = f->raft ? (uint64_t)raft_last_applied(f->raft) + 1 : f->index + 1;
	int rv = meta_fsm_apply_at(f, buf->base, buf->len, index);
	if (rv == 0 && result)
		*result = &f->last; /* read synchronously by the apply callback (leader only) */
	return rv;
}

bb_err meta_fsm_init(meta_fsm *f, size_t dedupe_capacity, const bb_clock *clock)
{
	memset(f, 0, sizeof *f);
	bb_err e = meta_dedupe_init(&f->dd, dedupe_capacity);
	if (e != BB_OK)
		return e;
	e = meta_pub_init(&f->pub, clock);
	if (e != BB_OK) {
		meta_dedupe_free(&f->dd);
		return e;
	}
	f->rfsm.version = 1;
	f->rfsm.data = f;
	f->rfsm.apply = fsm_apply;
	f->rfsm.snapshot = meta_fsm_snapshot;
	f->rfsm.restore = meta_fsm_restore;
	return BB_OK;
}

void meta_fsm_close(meta_fsm *f)
{
	meta_tree_unref(f->root);
	f->root = NULL;
	meta_dedupe_free(&f->dd);
	meta_pub_destroy(&f->pub);
}
