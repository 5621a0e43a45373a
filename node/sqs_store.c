/* node/sqs_store.c — queue messages in the node-local LMDB store (node/db). Layout (docs/queues.md):
 *
 *   DB_T_QMSG  qid(16) seq(8) part(1) →
 *                seq 0, part 0   queue state   ver(1) pad(7) next_seq(8) n_msgs(8) last_sent_ms(8)
 *                seq≥1, part 0   header        ver(1) kind(1) pad(2) rcount(4) sent_ms(8) vis_ms(8)
 *                                              first_recv_ms(8) last_recv_ms(8) message_id(36)
 *                seq≥1, part 1   body record   md5(16) len(4) body, sender_len(1) sender,
 *                                              n_attrs(2) {name_len(2) name type_len(2) type
 *                                              transport(1) value_len(4) value}*  (names sorted),
 *                                              [src_len(2) source queue ARN]  (dead-lettered only)
 *   DB_T_QVIS  qid(16) kind(1) vis_ms(8) seq(8) → empty
 *                kind 0: never received (visible from vis_ms = sent + delay)
 *                kind 1: received (invisible until vis_ms = receive time + visibility timeout)
 * All integers big-endian. qid is the queue's incarnation id (new on create and purge), so data of a
 * deleted or purged queue is unreachable at once and removed later by the sweeper.
 *
 * Why this shape: ReceiveMessage seeks (qid,0,0) and (qid,1,0) and walks only entries whose vis_ms
 * has passed — invisible messages are never scanned. Each message sits in the index exactly once.
 * The body is written once; a receive rewrites only the 76-byte header and one index key. seq order
 * is send order and sent_ms never decreases along it (sent = max(now, last_sent)), so retention
 * expiry walks from the oldest message and stops at the first young one. (A dead-lettered message
 * keeps its original SentTimestamp, as on AWS; the sweeper may then remove it a little late, but a
 * receive never returns an expired message.) n_msgs in the state record is exact.
 *
 * This file: the write side (put, receive, delete, visibility changes, dead-letter moves). Reads,
 * counts and sweeping: sqs_store_scan.c; the body record format: sqs_rec.c.
 *
 * Threads: functions taking an MDB_txn run on the db writer thread (inside a db_apply_fn); the
 * read-only ones open their own read transaction and may run on any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs_int.h"

#define STATE_LEN 32
#define HDR_LEN 76
#define RECV_CLEANUP_BUDGET 512   /* expired/dangling entries one receive may delete */

void sqs_key_msg(uint8_t k[SQS_KEY_MSG_LEN], const uint8_t qid[16], uint64_t seq, uint8_t part)
{
	memcpy(k, qid, 16);
	db_put_u64(k + 16, seq);
	k[24] = part;
}

void sqs_key_vis(uint8_t k[SQS_KEY_VIS_LEN], const uint8_t qid[16], uint8_t kind, int64_t t, uint64_t seq)
{
	memcpy(k, qid, 16);
	k[16] = kind;
	db_put_u64(k + 17, (uint64_t)(t < 0 ? 0 : t));
	db_put_u64(k + 25, seq);
}

bb_err sqs_state_load(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], sqs_qstate *st)
{
	uint8_t k[SQS_KEY_MSG_LEN];
	sqs_key_msg(k, qid, 0, 0);
	MDB_val key = {SQS_KEY_MSG_LEN, k}, val;
	memset(st, 0, sizeof *st);
	st->next_seq = 1;
	int rc = mdb_get(txn, dbi, &key, &val);
	if (rc == MDB_NOTFOUND)
		return BB_OK;
	if (rc)
		return db_err(rc);
	if (val.mv_size < STATE_LEN)
		return BB_ECORRUPT;
	const uint8_t *p = val.mv_data;
	st->next_seq = db_get_u64(p + 8);
	st->n_msgs = db_get_u64(p + 16);
	st->last_sent_ms = (int64_t)db_get_u64(p + 24);
	return BB_OK;
}

static bb_err state_store(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], const sqs_qstate *st)
{
	uint8_t k[SQS_KEY_MSG_LEN], v[STATE_LEN] = {1};
	sqs_key_msg(k, qid, 0, 0);
	db_put_u64(v + 8, st->next_seq);
	db_put_u64(v + 16, st->n_msgs);
	db_put_u64(v + 24, (uint64_t)st->last_sent_ms);
	MDB_val key = {SQS_KEY_MSG_LEN, k}, val = {STATE_LEN, v};
	return db_err(mdb_put(txn, dbi, &key, &val, 0));
}

bool sqs_hdr_parse(const MDB_val *v, sqs_hdr *h)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < HDR_LEN || p[0] != 1)
		return false;
	h->kind = p[1];
	h->rcount = sqs_get_u32(p + 4);
	h->sent_ms = (int64_t)db_get_u64(p + 8);
	h->vis_ms = (int64_t)db_get_u64(p + 16);
	h->first_ms = (int64_t)db_get_u64(p + 24);
	h->last_ms = (int64_t)db_get_u64(p + 32);
	memcpy(h->msg_id, p + 40, 36);
	h->msg_id[36] = '\0';
	return true;
}

static bb_err hdr_store(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], uint64_t seq, const sqs_hdr *h)
{
	uint8_t k[SQS_KEY_MSG_LEN], v[HDR_LEN] = {1};
	sqs_key_msg(k, qid, seq, 0);
	v[1] = h->kind;
	sqs_put_u32(v + 4, h->rcount);
	db_put_u64(v + 8, (uint64_t)h->sent_ms);
	db_put_u64(v + 16, (uint64_t)h->vis_ms);
	db_put_u64(v + 24, (uint64_t)h->first_ms);
	db_put_u64(v + 32, (uint64_t)h->last_ms);
	memcpy(v + 40, h->msg_id, 36);
	MDB_val key = {SQS_KEY_MSG_LEN, k}, val = {HDR_LEN, v};
	return db_err(mdb_put(txn, dbi, &key, &val, 0));
}

/* Loads the header of seq: BB_OK, BB_ENOTFOUND, or an LMDB error. */
static bb_err hdr_load(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], uint64_t seq, sqs_hdr *h)
{
	uint8_t k[SQS_KEY_MSG_LEN];
	sqs_key_msg(k, qid, seq, 0);
	MDB_val key = {SQS_KEY_MSG_LEN, k}, val;
	int rc = mdb_get(txn, dbi, &key, &val);
	if (rc)
		return db_err(rc);
	return sqs_hdr_parse(&val, h) ? BB_OK : BB_ECORRUPT;
}

bb_err sqs_del_key(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t len)
{
	MDB_val key = {len, (void *)k};
	int rc = mdb_del(txn, dbi, &key, NULL);
	return rc == MDB_NOTFOUND ? BB_OK : db_err(rc);
}

static bb_err vis_move(MDB_txn *txn, MDB_dbi vdbi, const uint8_t qid[16], uint64_t seq, const sqs_hdr *from,
		       uint8_t kind, int64_t t)
{
	uint8_t k[SQS_KEY_VIS_LEN];
	sqs_key_vis(k, qid, from->kind, from->vis_ms, seq);
	bb_err e = sqs_del_key(txn, vdbi, k, SQS_KEY_VIS_LEN);
	if (e)
		return e;
	sqs_key_vis(k, qid, kind, t, seq);
	MDB_val key = {SQS_KEY_VIS_LEN, k}, val = {0, NULL};
	return db_err(mdb_put(txn, vdbi, &key, &val, 0));
}

/* Deletes message seq (index entry, header, body); the caller adjusts n_msgs. */
bb_err sqs_msg_remove(MDB_txn *txn, MDB_dbi mdbi, MDB_dbi vdbi, const uint8_t qid[16], uint64_t seq, const sqs_hdr *h)
{
	uint8_t k[SQS_KEY_VIS_LEN];
	sqs_key_vis(k, qid, h->kind, h->vis_ms, seq);
	bb_err e = sqs_del_key(txn, vdbi, k, SQS_KEY_VIS_LEN);
	for (uint8_t part = 0; part < 2 && !e; part++) {
		sqs_key_msg(k, qid, seq, part);
		e = sqs_del_key(txn, mdbi, k, SQS_KEY_MSG_LEN);
	}
	return e;
}

/* ---- writes --------------------------------------------------------------------------------------- */

bb_err sqs_store_put(db *d, MDB_txn *txn, const uint8_t qid[16], sqs_msg_in *m, int64_t now_ms)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	sqs_qstate st;
	bb_err e = sqs_state_load(txn, mdbi, qid, &st);
	if (e)
		return e;
	uint64_t seq = st.next_seq++;
	int64_t sent = now_ms > st.last_sent_ms ? now_ms : st.last_sent_ms;
	st.last_sent_ms = sent;
	st.n_msgs++;
	if (m->keep_msg_id)
		snprintf(m->msg_id, sizeof m->msg_id, "%s", m->keep_msg_id);
	else
		bb_uuid4(&bb_rng_system, m->msg_id);
	sqs_md5(m->body, m->body_len, m->md5_body);
	const char *sender = m->sender ? m->sender : "";
	size_t sender_len = strlen(sender) > 255 ? 255 : strlen(sender);

	uint8_t k[SQS_KEY_VIS_LEN];
	sqs_key_msg(k, qid, seq, 1);
	MDB_val key = {SQS_KEY_MSG_LEN, k}, val = {sqs_rec_size(m, sender_len), NULL};
	int rc = mdb_put(txn, mdbi, &key, &val, MDB_RESERVE);
	if (rc)
		return db_err(rc);
	sqs_rec_write(val.mv_data, m, sender, sender_len);

	sqs_hdr h = {.kind = 0,
		  .sent_ms = m->keep_sent_ms ? m->keep_sent_ms : sent,
		  .vis_ms = sent + m->delay_s * 1000,
		  .rcount = m->keep_rcount,
		  .first_ms = m->keep_first_ms};
	memcpy(h.msg_id, m->msg_id, 37);
	if ((e = hdr_store(txn, mdbi, qid, seq, &h)) != BB_OK)
		return e;
	sqs_key_vis(k, qid, 0, h.vis_ms, seq);
	MDB_val vkey = {SQS_KEY_VIS_LEN, k}, empty = {0, NULL};
	if ((rc = mdb_put(txn, vdbi, &vkey, &empty, 0)) != 0)
		return db_err(rc);
	return state_store(txn, mdbi, qid, &st);
}

/* The first index entry of (qid, kind) at or after time `from` with seq > after_seq at that time:
 * fills *t and *seq; false if none. */
bool sqs_vis_first(MDB_cursor *cur, const uint8_t qid[16], uint8_t kind, const uint8_t *from_key, int64_t *t,
		      uint64_t *seq, uint8_t found_key[SQS_KEY_VIS_LEN])
{
	uint8_t k[SQS_KEY_VIS_LEN];
	if (from_key)
		memcpy(k, from_key, SQS_KEY_VIS_LEN);
	else
		sqs_key_vis(k, qid, kind, 0, 0);
	MDB_val key = {SQS_KEY_VIS_LEN, k}, val;
	if (mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE) != 0)
		return false;
	const uint8_t *p = key.mv_data;
	if (key.mv_size != SQS_KEY_VIS_LEN || memcmp(p, qid, 16) != 0 || p[16] != kind)
		return false;
	*t = (int64_t)db_get_u64(p + 17);
	*seq = db_get_u64(p + 25);
	if (found_key)
		memcpy(found_key, p, SQS_KEY_VIS_LEN);
	return true;
}

/* The smallest key greater than k (same length). */
void sqs_key_succ(uint8_t *k, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++k[i] != 0)
			return;
}

bb_err sqs_count_adjust(MDB_txn *txn, MDB_dbi mdbi, const uint8_t qid[16], uint64_t removed)
{
	sqs_qstate st;
	bb_err e = sqs_state_load(txn, mdbi, qid, &st);
	if (e || !removed)
		return e;
	st.n_msgs = st.n_msgs > removed ? st.n_msgs - removed : 0;
	return state_store(txn, mdbi, qid, &st);
}

/* Moves message seq (header h) of r->qid to the dead-letter queue r->dlq_qid. */
static bb_err redrive(db *d, MDB_txn *txn, sqs_recv *r, uint64_t seq, const sqs_hdr *h)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	uint8_t k[SQS_KEY_MSG_LEN];
	sqs_key_msg(k, r->qid, seq, 1);
	MDB_val key = {SQS_KEY_MSG_LEN, k}, val;
	int rc = mdb_get(txn, mdbi, &key, &val);
	if (rc == 0) {
		/* copy out of the map first: the put below may move pages */
		uint8_t *copy = malloc(val.mv_size ? val.mv_size : 1);
		if (!copy)
			return BB_ENOMEM;
		memcpy(copy, val.mv_data, val.mv_size);
		sqs_rec rec;
		bb_err e = BB_OK;
		if (sqs_rec_parse(copy, val.mv_size, &rec)) {
			sqs_mattr attrs[SQS_MAX_MSG_ATTRS];
			size_t n = 0;
			const uint8_t *p = rec.attrs;
			while (n < rec.n_attrs && n < SQS_MAX_MSG_ATTRS && sqs_rec_attr_next(&p, rec.attrs_end, &attrs[n]))
				n++;
			char sender[256];
			memcpy(sender, rec.sender, rec.sender_len);
			sender[rec.sender_len] = '\0';
			sqs_msg_in m = {.body = rec.body, .body_len = rec.body_len, .attrs = attrs, .n_attrs = n,
					.sender = sender, .keep_msg_id = h->msg_id, .keep_sent_ms = h->sent_ms,
					.keep_first_ms = h->first_ms, .keep_rcount = h->rcount, .source_arn = r->src_arn};
			e = sqs_store_put(d, txn, r->dlq_qid, &m, r->now_ms);
		}
		free(copy);
		if (e)
			return e;
	} else if (rc != MDB_NOTFOUND) {
		return db_err(rc);
	}
	r->moved++;
	return sqs_msg_remove(txn, mdbi, vdbi, r->qid, seq, h);
}

bb_err sqs_store_receive(db *d, MDB_txn *txn, sqs_recv *r)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, vdbi, &cur);
	if (rc)
		return db_err(rc);
	bb_err e = BB_OK;
	uint64_t removed = 0;
	size_t budget = RECV_CLEANUP_BUDGET;
	uint8_t from[2][SQS_KEY_VIS_LEN];
	bool started[2] = {false, false};
	while (!e && r->n_got < r->max && budget > 0) {
		int64_t t[2];
		uint64_t seq[2];
		bool have[2];
		uint8_t found[2][SQS_KEY_VIS_LEN];
		for (int kind = 0; kind < 2; kind++)
			have[kind] = sqs_vis_first(cur, r->qid, (uint8_t)kind, started[kind] ? from[kind] : NULL, &t[kind],
					       &seq[kind], found[kind]) &&
				     t[kind] <= r->now_ms;
		if (!have[0] && !have[1])
			break;
		int k = !have[0] ? 1 : !have[1] ? 0 : (t[1] < t[0] ? 1 : 0);
		memcpy(from[k], found[k], SQS_KEY_VIS_LEN);
		sqs_key_succ(from[k], SQS_KEY_VIS_LEN);
		started[k] = true;
		bool dup = false;
		for (int i = 0; i < r->n_got; i++)
			dup |= r->got[i].seq == seq[k];
		if (dup)
			continue; /* received with VisibilityTimeout 0 earlier in this call */
		sqs_hdr h;
		e = hdr_load(txn, mdbi, r->qid, seq[k], &h);
		if (e == BB_ENOTFOUND || e == BB_ECORRUPT) { /* dangling index entry */
			e = sqs_del_key(txn, vdbi, found[k], SQS_KEY_VIS_LEN);
			budget--;
			continue;
		}
		if (e)
			break;
		if (h.sent_ms + r->retention_ms <= r->now_ms) {
			e = sqs_msg_remove(txn, mdbi, vdbi, r->qid, seq[k], &h);
			removed++;
			budget--;
			continue;
		}
		if (r->max_rcount && h.rcount >= r->max_rcount) {
			e = redrive(d, txn, r, seq[k], &h);
			removed++;
			budget--;
			continue;
		}
		uint8_t kk[SQS_KEY_MSG_LEN];
		sqs_key_msg(kk, r->qid, seq[k], 1);
		MDB_val key = {SQS_KEY_MSG_LEN, kk}, val;
		if ((rc = mdb_get(txn, mdbi, &key, &val)) != 0) {
			e = rc == MDB_NOTFOUND ? sqs_msg_remove(txn, mdbi, vdbi, r->qid, seq[k], &h) : db_err(rc);
			removed += rc == MDB_NOTFOUND;
			budget--;
			continue;
		}
		sqs_got *g = &r->got[r->n_got];
		db_trim_if_over(d); /* keeps read messages out of RSS (db.h) */
		g->rec = malloc(val.mv_size ? val.mv_size : 1);
		if (!g->rec) {
			e = BB_ENOMEM;
			break;
		}
		memcpy(g->rec, val.mv_data, val.mv_size);
		g->rec_len = val.mv_size;
		r->n_got++;
		int64_t vis = r->now_ms + r->vis_ms;
		if ((e = vis_move(txn, vdbi, r->qid, seq[k], &h, 1, vis)) != BB_OK)
			break;
		h.kind = 1;
		h.vis_ms = vis;
		h.rcount++;
		if (!h.first_ms)
			h.first_ms = r->now_ms;
		h.last_ms = r->now_ms;
		e = hdr_store(txn, mdbi, r->qid, seq[k], &h);
		g->seq = seq[k];
		g->rcount = h.rcount;
		g->sent_ms = h.sent_ms;
		g->first_ms = h.first_ms;
		memcpy(g->msg_id, h.msg_id, 37);
	}
	mdb_cursor_close(cur);
	return e ? e : sqs_count_adjust(txn, mdbi, r->qid, removed);
}

void sqs_recv_free(sqs_recv *r)
{
	for (int i = 0; i < r->n_got; i++)
		free(r->got[i].rec);
	r->n_got = 0;
}

bb_err sqs_store_delete(db *d, MDB_txn *txn, const uint8_t qid[16], uint64_t seq, int *outcome)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	sqs_hdr h;
	bb_err e = hdr_load(txn, mdbi, qid, seq, &h);
	*outcome = SQS_GONE;
	if (e == BB_ENOTFOUND)
		return BB_OK;
	if (e)
		return e;
	if ((e = sqs_msg_remove(txn, mdbi, vdbi, qid, seq, &h)) != BB_OK)
		return e;
	*outcome = SQS_DONE;
	return sqs_count_adjust(txn, mdbi, qid, 1);
}

bb_err sqs_store_change_vis(db *d, MDB_txn *txn, const uint8_t qid[16], uint64_t seq, uint32_t rcount,
			    int64_t vis_ms, int64_t now_ms, int *outcome)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	sqs_hdr h;
	bb_err e = hdr_load(txn, mdbi, qid, seq, &h);
	*outcome = SQS_GONE;
	if (e == BB_ENOTFOUND)
		return BB_OK;
	if (e)
		return e;
	if (h.rcount != rcount) {
		*outcome = SQS_STALE;
		return BB_OK;
	}
	if (now_ms + vis_ms - h.last_ms > (int64_t)SQS_MAX_VISIBILITY_S * 1000) {
		*outcome = SQS_TOO_LONG;
		return BB_OK;
	}
	if ((e = vis_move(txn, vdbi, qid, seq, &h, 1, now_ms + vis_ms)) != BB_OK)
		return e;
	h.kind = 1;
	h.vis_ms = now_ms + vis_ms;
	*outcome = SQS_DONE;
	return hdr_store(txn, mdbi, qid, seq, &h);
}

