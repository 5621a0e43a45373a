/* raft/meta_fsm_snap.c — FSM snapshot and restore (struct raft_fsm version 1).
 *
 * Snapshot format: a frame (meta_codec.c; magic META_MAGIC_SNAP) around one msgpack array:
 *
 *   | field   | type                                          | meaning                              |
 *   |---------|-----------------------------------------------|--------------------------------------|
 *   | version | uint (=1)                                     | format version                       |
 *   | index   | uint                                          | index of the last applied command    |
 *   | items   | array of [key:bin, val:bin, version:uint]     | every key, strictly increasing order |
 *   | dedupe  | array of [id:bin(16), err:uint, index:uint, failed_op:uint] | request ids, oldest first |
 *
 * Ownership (deps.md R9): snapshot() returns a raft_malloc'd bufs[] array holding one raft_malloc'd
 * buffer; raft frees both. restore() takes ownership of buf->base only on success (raft_free) — on
 * failure raft frees it. restore() builds the new tree and table beside the current ones and swaps
 * them only when the whole snapshot validated, so a corrupt snapshot changes nothing.
 *
 * v1 snapshots serialize on the loop thread; the map is small metadata and the threshold high
 * (deps.md R4). Thread: the loop thread.
 */
#include "meta_int.h"

#include <msgpack.h>
#include <string.h>

static bool pack_item(void *ctx, const meta_val *v)
{
	msgpack_packer *pk = ctx;
	msgpack_pack_array(pk, 3);
	msgpack_pack_bin(pk, v->key_len);
	msgpack_pack_bin_body(pk, v->key, v->key_len);
	msgpack_pack_bin(pk, v->len);
	if (v->len)
		msgpack_pack_bin_body(pk, v->data, v->len);
	msgpack_pack_uint64(pk, v->version);
	return true;
}

int meta_fsm_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	meta_fsm *f = rf->data;
	meta_buf b = {0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, meta_buf_write);
	meta_frame_begin(&b);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, META_SNAP_VERSION);
	msgpack_pack_uint64(&pk, f->index);
	msgpack_pack_array(&pk, meta_tree_size(f->root));
	meta_tree_scan(f->root, NULL, 0, NULL, 0, pack_item, &pk);
	msgpack_pack_array(&pk, f->dd.n);
	for (size_t i = 0; i < f->dd.n; i++) {
		const meta_dd_ent *d = meta_dedupe_at(&f->dd, i);
		msgpack_pack_array(&pk, 4);
		msgpack_pack_bin(&pk, 16);
		msgpack_pack_bin_body(&pk, d->id, 16);
		msgpack_pack_uint32(&pk, d->err);
		msgpack_pack_uint64(&pk, d->index);
		msgpack_pack_uint32(&pk, d->failed_op);
	}
	bb_err e = meta_frame_end(&b, META_MAGIC_SNAP, UINT32_MAX);
	if (e != BB_OK) {
		meta_buf_reset(&b);
		return e == BB_ETOOBIG ? RAFT_TOOBIG : RAFT_NOMEM;
	}
	struct raft_buffer *out = raft_malloc(sizeof *out);
	if (!out) {
		meta_buf_reset(&b);
		return RAFT_NOMEM;
	}
	out->base = b.data;
	out->len = b.len;
	*bufs = out;
	*n_bufs = 1;
	return 0;
}

/* ---- restore ------------------------------------------------------------------------------------- */

static bool obj_u64(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*out = o->via.u64;
	return true;
}

/* Builds the tree from the items array into *root. BB_ECORRUPT / BB_ENOMEM. */
static bb_err restore_items(const msgpack_object *arr, uint64_t index, meta_tnode **root)
{
	const uint8_t *prev = NULL;
	size_t prev_len = 0;
	for (uint32_t i = 0; i < arr->via.array.size; i++) {
		const msgpack_object *o = &arr->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
			return BB_ECORRUPT;
		const msgpack_object *k = &o->via.array.ptr[0], *v = &o->via.array.ptr[1];
		uint64_t version;
		if (k->type != MSGPACK_OBJECT_BIN || k->via.bin.size == 0 || k->via.bin.size > META_MAX_KEY ||
		    v->type != MSGPACK_OBJECT_BIN || v->via.bin.size > META_MAX_VAL ||
		    !obj_u64(&o->via.array.ptr[2], &version) || version == 0 || version > index)
			return BB_ECORRUPT;
		const uint8_t *key = (const uint8_t *)k->via.bin.ptr;
		if (prev && meta_key_cmp(prev, prev_len, key, k->via.bin.size) >= 0)
			return BB_ECORRUPT;
		prev = key;
		prev_len = k->via.bin.size;
		meta_item *it = meta_item_new(key, k->via.bin.size, v->via.bin.ptr, v->via.bin.size, version);
		if (!it)
			return BB_ENOMEM;
		meta_tnode *next;
		bb_err e = meta_tree_set(*root, it, &next);
		meta_item_unref(it);
		if (e != BB_OK)
			return e;
		meta_tree_unref(*root);
		*root = next;
	}
	return BB_OK;
}

/* Fills dd (empty, initialized) from the dedupe array, keeping the newest dd->cap entries. */
static bb_err restore_dedupe(const msgpack_object *arr, uint64_t index, meta_dedupe *dd)
{
	uint32_t n = arr->via.array.size;
	uint32_t skip = n > dd->cap ? n - (uint32_t)dd->cap : 0;
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *o = &arr->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
			return BB_ECORRUPT;
		const msgpack_object *id = &o->via.array.ptr[0];
		uint64_t err, idx, failed_op;
		if (id->type != MSGPACK_OBJECT_BIN || id->via.bin.size != 16 || !obj_u64(&o->via.array.ptr[1], &err) ||
		    err >= BB_ERR_COUNT || !obj_u64(&o->via.array.ptr[2], &idx) || idx == 0 || idx > index ||
		    !obj_u64(&o->via.array.ptr[3], &failed_op) || failed_op >= META_MAX_OPS)
			return BB_ECORRUPT;
		if (i < skip)
			continue;
		const uint8_t *rid = (const uint8_t *)id->via.bin.ptr;
		if (meta_dedupe_find(dd, rid))
			return BB_ECORRUPT;
		meta_result res = {.err = (bb_err)err, .index = idx, .failed_op = (size_t)failed_op};
		meta_dedupe_add(dd, rid, &res);
	}
	return BB_OK;
}

int meta_fsm_restore(struct raft_fsm *rf, struct raft_buffer *buf)
{
	meta_fsm *f = rf->data;
	const uint8_t *payload;
	size_t plen;
	bb_err e = meta_frame_open(buf->base, buf->len, META_MAGIC_SNAP, &payload, &plen);
	if (e == BB_OK)
		e = meta_mp_check(payload, plen);
	if (e != BB_OK)
		goto out_log;

	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	if (msgpack_unpack_next(&up, (const char *)payload, plen, &off) != MSGPACK_UNPACK_SUCCESS || off != plen) {
		e = BB_ECORRUPT;
		goto out_unpacked;
	}
	const msgpack_object *root = &up.data;
	uint64_t version, index;
	if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 4 ||
	    !obj_u64(&root->via.array.ptr[0], &version) || version != META_SNAP_VERSION ||
	    !obj_u64(&root->via.array.ptr[1], &index) || root->via.array.ptr[2].type != MSGPACK_OBJECT_ARRAY ||
	    root->via.array.ptr[3].type != MSGPACK_OBJECT_ARRAY) {
		e = BB_ECORRUPT;
		goto out_unpacked;
	}

	meta_tnode *tree = NULL;
	e = restore_items(&root->via.array.ptr[2], index, &tree);
	if (e != BB_OK)
		goto out_tree;
	meta_dedupe dd;
	e = meta_dedupe_init(&dd, f->dd.cap);
	if (e != BB_OK)
		goto out_tree;
	e = restore_dedupe(&root->via.array.ptr[3], index, &dd);
	if (e != BB_OK)
		goto out_dd;
	meta_snap *s = meta_snap_new(tree, index);
	if (!s) {
		e = BB_ENOMEM;
		goto out_dd;
	}

	/* Commit: nothing below can fail. */
	meta_dedupe_free(&f->dd);
	f->dd = dd;
	meta_tree_unref(f->root);
	f->root = tree;
	f->index = index;
	meta_pub_publish(&f->pub, s);
	msgpack_unpacked_destroy(&up);
	raft_free(buf->base); /* ours on success (R9) */
	buf->base = NULL;
	BB_LOGI("meta", "msg=\"snapshot restored\" index=%llu keys=%zu", (unsigned long long)index,
		meta_tree_size(tree));
	return 0;

out_dd:
	meta_dedupe_free(&dd);
out_tree:
	meta_tree_unref(tree);
out_unpacked:
	msgpack_unpacked_destroy(&up);
out_log:
	BB_LOGE("meta", "msg=\"snapshot restore failed\" len=%zu err=%s", buf->len, bb_errname(e));
	return e == BB_ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
}
