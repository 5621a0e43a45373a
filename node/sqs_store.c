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
 * expiry walks from the oldest message and stops at the first young one. Counts of delayed and
 * in-flight messages are index range scans capped at COUNT_CAP; n_msgs in the state record is exact.
 *
 * Threads: functions taking an MDB_txn run on the db writer thread (inside a db_apply_fn); the
 * read-only ones open their own read transaction and may run on any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs_int.h"

#define KEY_MSG_LEN 25
#define KEY_VIS_LEN 33
#define STATE_LEN 32
#define HDR_LEN 76
#define COUNT_CAP 100000          /* index entries a count scans at most */
#define RECV_CLEANUP_BUDGET 512   /* expired/dangling entries one receive may delete */

typedef struct qstate {
	uint64_t next_seq, n_msgs;
	int64_t last_sent_ms;
} qstate;

typedef struct qhdr {
	uint8_t kind;
	uint32_t rcount;
	int64_t sent_ms, vis_ms, first_ms, last_ms;
	char msg_id[37];
} qhdr;

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static uint32_t get_u32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put_u16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static size_t get_u16(const uint8_t *p) { return (size_t)p[0] << 8 | p[1]; }

static void key_msg(uint8_t k[KEY_MSG_LEN], const uint8_t qid[16], uint64_t seq, uint8_t part)
{
	memcpy(k, qid, 16);
	db_put_u64(k + 16, seq);
	k[24] = part;
}

static void key_vis(uint8_t k[KEY_VIS_LEN], const uint8_t qid[16], uint8_t kind, int64_t t, uint64_t seq)
{
	memcpy(k, qid, 16);
	k[16] = kind;
	db_put_u64(k + 17, (uint64_t)(t < 0 ? 0 : t));
	db_put_u64(k + 25, seq);
}

static bb_err state_load(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], qstate *st)
{
	uint8_t k[KEY_MSG_LEN];
	key_msg(k, qid, 0, 0);
	MDB_val key = {KEY_MSG_LEN, k}, val;
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

static bb_err state_store(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], const qstate *st)
{
	uint8_t k[KEY_MSG_LEN], v[STATE_LEN] = {1};
	key_msg(k, qid, 0, 0);
	db_put_u64(v + 8, st->next_seq);
	db_put_u64(v + 16, st->n_msgs);
	db_put_u64(v + 24, (uint64_t)st->last_sent_ms);
	MDB_val key = {KEY_MSG_LEN, k}, val = {STATE_LEN, v};
	return db_err(mdb_put(txn, dbi, &key, &val, 0));
}

static bool hdr_parse(const MDB_val *v, qhdr *h)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < HDR_LEN || p[0] != 1)
		return false;
	h->kind = p[1];
	h->rcount = get_u32(p + 4);
	h->sent_ms = (int64_t)db_get_u64(p + 8);
	h->vis_ms = (int64_t)db_get_u64(p + 16);
	h->first_ms = (int64_t)db_get_u64(p + 24);
	h->last_ms = (int64_t)db_get_u64(p + 32);
	memcpy(h->msg_id, p + 40, 36);
	h->msg_id[36] = '\0';
	return true;
}

static bb_err hdr_store(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], uint64_t seq, const qhdr *h)
{
	uint8_t k[KEY_MSG_LEN], v[HDR_LEN] = {1};
	key_msg(k, qid, seq, 0);
	v[1] = h->kind;
	put_u32(v + 4, h->rcount);
	db_put_u64(v + 8, (uint64_t)h->sent_ms);
	db_put_u64(v + 16, (uint64_t)h->vis_ms);
	db_put_u64(v + 24, (uint64_t)h->first_ms);
	db_put_u64(v + 32, (uint64_t)h->last_ms);
	memcpy(v + 40, h->msg_id, 36);
	MDB_val key = {KEY_MSG_LEN, k}, val = {HDR_LEN, v};
	return db_err(mdb_put(txn, dbi, &key, &val, 0));
}

/* Loads the header of seq: BB_OK, BB_ENOTFOUND, or an LMDB error. */
static bb_err hdr_load(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], uint64_t seq, qhdr *h)
{
	uint8_t k[KEY_MSG_LEN];
	key_msg(k, qid, seq, 0);
	MDB_val key = {KEY_MSG_LEN, k}, val;
	int rc = mdb_get(txn, dbi, &key, &val);
	if (rc)
		return db_err(rc);
	return hdr_parse(&val, h) ? BB_OK : BB_ECORRUPT;
}

static bb_err del_key(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t len)
{
	MDB_val key = {len, (void *)k};
	int rc = mdb_del(txn, dbi, &key, NULL);
	return rc == MDB_NOTFOUND ? BB_OK : db_err(rc);
}

static bb_err vis_move(MDB_txn *txn, MDB_dbi vdbi, const uint8_t qid[16], uint64_t seq, const qhdr *from,
		       uint8_t kind, int64_t t)
{
	uint8_t k[KEY_VIS_LEN];
	key_vis(k, qid, from->kind, from->vis_ms, seq);
	bb_err e = del_key(txn, vdbi, k, KEY_VIS_LEN);
	if (e)
		return e;
	key_vis(k, qid, kind, t, seq);
	MDB_val key = {KEY_VIS_LEN, k}, val = {0, NULL};
	return db_err(mdb_put(txn, vdbi, &key, &val, 0));
}

/* Deletes message seq (index entry, header, body); the caller adjusts n_msgs. */
static bb_err msg_remove(MDB_txn *txn, MDB_dbi mdbi, MDB_dbi vdbi, const uint8_t qid[16], uint64_t seq, const qhdr *h)
{
	uint8_t k[KEY_VIS_LEN];
	key_vis(k, qid, h->kind, h->vis_ms, seq);
	bb_err e = del_key(txn, vdbi, k, KEY_VIS_LEN);
	for (uint8_t part = 0; part < 2 && !e; part++) {
		key_msg(k, qid, seq, part);
		e = del_key(txn, mdbi, k, KEY_MSG_LEN);
	}
	return e;
}

/* ---- body records ------------------------------------------------------------------------------- */

static size_t src_len(const sqs_msg_in *m)
{
	size_t n = m->source_arn ? strlen(m->source_arn) : 0;
	return n > 1024 ? 1024 : n;
}

static size_t rec_size(const sqs_msg_in *m, size_t sender_len)
{
	size_t n = 16 + 4 + m->body_len + 1 + sender_len + 2 + (src_len(m) ? 2 + src_len(m) : 0);
	for (size_t i = 0; i < m->n_attrs; i++)
		n += 2 + m->attrs[i].name_len + 2 + m->attrs[i].type_len + 1 + 4 + m->attrs[i].val_len;
	return n;
}

static void rec_write(uint8_t *p, const sqs_msg_in *m, const char *sender, size_t sender_len)
{
	memcpy(p, m->md5_body, 16);
	put_u32(p + 16, (uint32_t)m->body_len);
	p += 20;
	memcpy(p, m->body, m->body_len);
	p += m->body_len;
	*p++ = (uint8_t)sender_len;
	memcpy(p, sender, sender_len);
	p += sender_len;
	put_u16(p, m->n_attrs);
	p += 2;
	for (size_t i = 0; i < m->n_attrs; i++) {
		const sqs_mattr *a = &m->attrs[i];
		put_u16(p, a->name_len);
		memcpy(p + 2, a->name, a->name_len);
		p += 2 + a->name_len;
		put_u16(p, a->type_len);
		memcpy(p + 2, a->type, a->type_len);
		p += 2 + a->type_len;
		*p++ = a->transport;
		put_u32(p, (uint32_t)a->val_len);
		memcpy(p + 4, a->val, a->val_len);
		p += 4 + a->val_len;
	}
	if (src_len(m)) {
		put_u16(p, src_len(m));
		memcpy(p + 2, m->source_arn, src_len(m));
	}
}

bool sqs_rec_parse(const uint8_t *p, size_t len, sqs_rec *out)
{
	const uint8_t *end = p + len;
	if (len < 20)
		return false;
	out->md5_body = p;
	out->body_len = get_u32(p + 16);
	p += 20;
	if ((size_t)(end - p) < out->body_len + 1)
		return false;
	out->body = (const char *)p;
	p += out->body_len;
	out->sender_len = *p++;
	if ((size_t)(end - p) < out->sender_len + 2)
		return false;
	out->sender = (const char *)p;
	p += out->sender_len;
	out->n_attrs = get_u16(p);
	out->attrs = p + 2;
	const uint8_t *q = out->attrs;
	sqs_mattr a;
	for (size_t i = 0; i < out->n_attrs; i++)
		if (!sqs_rec_attr_next(&q, end, &a))
			return false;
	out->attrs_end = q;
	out->source_arn = NULL;
	out->source_arn_len = 0;
	if (end - q >= 2 && (size_t)(end - q) >= 2 + get_u16(q)) {
		out->source_arn = (const char *)q + 2;
		out->source_arn_len = get_u16(q);
	}
	return true;
}

bool sqs_rec_attr_next(const uint8_t **pp, const uint8_t *end, sqs_mattr *a)
{
	const uint8_t *p = *pp;
	if (end - p < 2)
		return false;
	a->name_len = get_u16(p);
	if ((size_t)(end - p) < 2 + a->name_len + 2)
		return false;
	a->name = (const char *)p + 2;
	p += 2 + a->name_len;
	a->type_len = get_u16(p);
	if ((size_t)(end - p) < 2 + a->type_len + 5)
		return false;
	a->type = (const char *)p + 2;
	p += 2 + a->type_len;
	a->transport = *p++;
	a->val_len = get_u32(p);
	if ((size_t)(end - p) < 4 + a->val_len)
		return false;
	a->val = p + 4;
	*pp = p + 4 + a->val_len;
	return true;
}

/* ---- writes --------------------------------------------------------------------------------------- */

bb_err sqs_store_put(db *d, MDB_txn *txn, const uint8_t qid[16], sqs_msg_in *m, int64_t now_ms)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	qstate st;
	bb_err e = state_load(txn, mdbi, qid, &st);
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

	uint8_t k[KEY_VIS_LEN];
	key_msg(k, qid, seq, 1);
	MDB_val key = {KEY_MSG_LEN, k}, val = {rec_size(m, sender_len), NULL};
	int rc = mdb_put(txn, mdbi, &key, &val, MDB_RESERVE);
	if (rc)
		return db_err(rc);
	rec_write(val.mv_data, m, sender, sender_len);

	qhdr h = {.kind = 0,
		  .sent_ms = m->keep_sent_ms ? m->keep_sent_ms : sent,
		  .vis_ms = sent + m->delay_s * 1000,
		  .rcount = m->keep_rcount,
		  .first_ms = m->keep_first_ms};
	memcpy(h.msg_id, m->msg_id, 37);
	if ((e = hdr_store(txn, mdbi, qid, seq, &h)) != BB_OK)
		return e;
	key_vis(k, qid, 0, h.vis_ms, seq);
	MDB_val vkey = {KEY_VIS_LEN, k}, empty = {0, NULL};
	if ((rc = mdb_put(txn, vdbi, &vkey, &empty, 0)) != 0)
		return db_err(rc);
	return state_store(txn, mdbi, qid, &st);
}

/* The first index entry of (qid, kind) at or after time `from` with seq > after_seq at that time:
 * fills *t and *seq; false if none. */
static bool vis_first(MDB_cursor *cur, const uint8_t qid[16], uint8_t kind, const uint8_t *from_key, int64_t *t,
		      uint64_t *seq, uint8_t found_key[KEY_VIS_LEN])
{
	uint8_t k[KEY_VIS_LEN];
	if (from_key)
		memcpy(k, from_key, KEY_VIS_LEN);
	else
		key_vis(k, qid, kind, 0, 0);
	MDB_val key = {KEY_VIS_LEN, k}, val;
	if (mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE) != 0)
		return false;
	const uint8_t *p = key.mv_data;
	if (key.mv_size != KEY_VIS_LEN || memcmp(p, qid, 16) != 0 || p[16] != kind)
		return false;
	*t = (int64_t)db_get_u64(p + 17);
	*seq = db_get_u64(p + 25);
	if (found_key)
		memcpy(found_key, p, KEY_VIS_LEN);
	return true;
}

/* The smallest key greater than k (same length). */
static void key_succ(uint8_t *k, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++k[i] != 0)
			return;
}

static bb_err count_adjust(MDB_txn *txn, MDB_dbi mdbi, const uint8_t qid[16], uint64_t removed)
{
	qstate st;
	bb_err e = state_load(txn, mdbi, qid, &st);
	if (e || !removed)
		return e;
	st.n_msgs = st.n_msgs > removed ? st.n_msgs - removed : 0;
	return state_store(txn, mdbi, qid, &st);
}

/* Moves message seq (header h) of r->qid to the dead-letter queue r->dlq_qid. */
static bb_err redrive(db *d, MDB_txn *txn, sqs_recv *r, uint64_t seq, const qhdr *h)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	uint8_t k[KEY_MSG_LEN];
	key_msg(k, r->qid, seq, 1);
	MDB_val key = {KEY_MSG_LEN, k}, val;
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
	return msg_remove(txn, mdbi, vdbi, r->qid, seq, h);
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
	uint8_t from[2][KEY_VIS_LEN];
	bool started[2] = {false, false};
	while (!e && r->n_got < r->max && budget > 0) {
		int64_t t[2];
		uint64_t seq[2];
		bool have[2];
		uint8_t found[2][KEY_VIS_LEN];
		for (int kind = 0; kind < 2; kind++)
			have[kind] = vis_first(cur, r->qid, (uint8_t)kind, started[kind] ? from[kind] : NULL, &t[kind],
					       &seq[kind], found[kind]) &&
				     t[kind] <= r->now_ms;
		if (!have[0] && !have[1])
			break;
		int k = !have[0] ? 1 : !have[1] ? 0 : (t[1] < t[0] ? 1 : 0);
		memcpy(from[k], found[k], KEY_VIS_LEN);
		key_succ(from[k], KEY_VIS_LEN);
		started[k] = true;
		bool dup = false;
		for (int i = 0; i < r->n_got; i++)
			dup |= r->got[i].seq == seq[k];
		if (dup)
			continue; /* received with VisibilityTimeout 0 earlier in this call */
		qhdr h;
		e = hdr_load(txn, mdbi, r->qid, seq[k], &h);
		if (e == BB_ENOTFOUND || e == BB_ECORRUPT) { /* dangling index entry */
			e = del_key(txn, vdbi, found[k], KEY_VIS_LEN);
			budget--;
			continue;
		}
		if (e)
			break;
		if (h.sent_ms + r->retention_ms <= r->now_ms) {
			e = msg_remove(txn, mdbi, vdbi, r->qid, seq[k], &h);
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
		uint8_t kk[KEY_MSG_LEN];
		key_msg(kk, r->qid, seq[k], 1);
		MDB_val key = {KEY_MSG_LEN, kk}, val;
		if ((rc = mdb_get(txn, mdbi, &key, &val)) != 0) {
			e = rc == MDB_NOTFOUND ? msg_remove(txn, mdbi, vdbi, r->qid, seq[k], &h) : db_err(rc);
			removed += rc == MDB_NOTFOUND;
			budget--;
			continue;
		}
		sqs_got *g = &r->got[r->n_got];
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
	return e ? e : count_adjust(txn, mdbi, r->qid, removed);
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
	qhdr h;
	bb_err e = hdr_load(txn, mdbi, qid, seq, &h);
	*outcome = SQS_GONE;
	if (e == BB_ENOTFOUND)
		return BB_OK;
	if (e)
		return e;
	if ((e = msg_remove(txn, mdbi, vdbi, qid, seq, &h)) != BB_OK)
		return e;
	*outcome = SQS_DONE;
	return count_adjust(txn, mdbi, qid, 1);
}

bb_err sqs_store_change_vis(db *d, MDB_txn *txn, const uint8_t qid[16], uint64_t seq, uint32_t rcount,
			    int64_t vis_ms, int64_t now_ms, int *outcome)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	qhdr h;
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

/* ---- reads ------------------------------------------------------------------------------------------ */

bb_err sqs_store_peek(db *d, const uint8_t qid[16], int64_t now_ms, bool *ready, int64_t *next_ms)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	*ready = false;
	*next_ms = INT64_MAX;
	bb_err e = db_read_begin(d, &txn);
	if (e)
		return e;
	if ((e = db_err(mdb_cursor_open(txn, db_dbi(d, DB_T_QVIS), &cur))) == BB_OK) {
		for (uint8_t kind = 0; kind < 2; kind++) {
			int64_t t;
			uint64_t seq;
			if (vis_first(cur, qid, kind, NULL, &t, &seq, NULL)) {
				if (t <= now_ms)
					*ready = true;
				else if (t < *next_ms)
					*next_ms = t;
			}
		}
		mdb_cursor_close(cur);
	}
	db_read_end(txn);
	return e;
}

/* Counts (qid, kind) index entries with vis_ms > now_ms, at most COUNT_CAP. */
static uint64_t count_future(MDB_cursor *cur, const uint8_t qid[16], uint8_t kind, int64_t now_ms)
{
	uint8_t k[KEY_VIS_LEN];
	key_vis(k, qid, kind, now_ms + 1, 0);
	MDB_val key = {KEY_VIS_LEN, k}, val;
	uint64_t n = 0;
	int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (rc == 0 && n < COUNT_CAP) {
		const uint8_t *p = key.mv_data;
		if (key.mv_size != KEY_VIS_LEN || memcmp(p, qid, 16) != 0 || p[16] != kind)
			break;
		n++;
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	return n;
}

bb_err sqs_store_counts(db *d, const uint8_t qid[16], int64_t now_ms, uint64_t *visible, uint64_t *inflight,
			uint64_t *delayed)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	*visible = *inflight = *delayed = 0;
	bb_err e = db_read_begin(d, &txn);
	if (e)
		return e;
	qstate st;
	if ((e = state_load(txn, db_dbi(d, DB_T_QMSG), qid, &st)) == BB_OK &&
	    (e = db_err(mdb_cursor_open(txn, db_dbi(d, DB_T_QVIS), &cur))) == BB_OK) {
		*delayed = count_future(cur, qid, 0, now_ms);
		*inflight = count_future(cur, qid, 1, now_ms);
		uint64_t hidden = *delayed + *inflight;
		*visible = st.n_msgs > hidden ? st.n_msgs - hidden : 0;
		mdb_cursor_close(cur);
	}
	db_read_end(txn);
	return e;
}

/* ---- sweeping ------------------------------------------------------------------------------------------ */

/* The first message header of qid at or after seq: fills *seq and h; false if none. */
static bool first_hdr(MDB_cursor *cur, const uint8_t qid[16], uint64_t *seq, qhdr *h)
{
	uint8_t k[KEY_MSG_LEN];
	key_msg(k, qid, *seq, 0);
	MDB_val key = {KEY_MSG_LEN, k}, val;
	int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (rc == 0) {
		const uint8_t *p = key.mv_data;
		if (key.mv_size != KEY_MSG_LEN || memcmp(p, qid, 16) != 0)
			return false;
		if (p[24] == 0 && db_get_u64(p + 16) != 0 && hdr_parse(&val, h)) {
			*seq = db_get_u64(p + 16);
			return true;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	return false;
}

bool sqs_store_expire_due(db *d, const uint8_t qid[16], int64_t retention_ms, int64_t now_ms)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	bool due = false;
	if (db_read_begin(d, &txn) != BB_OK)
		return false;
	if (mdb_cursor_open(txn, db_dbi(d, DB_T_QMSG), &cur) == 0) {
		uint64_t seq = 1;
		qhdr h;
		due = first_hdr(cur, qid, &seq, &h) && h.sent_ms + retention_ms <= now_ms;
		mdb_cursor_close(cur);
	}
	db_read_end(txn);
	return due;
}

bb_err sqs_store_expire(db *d, MDB_txn *txn, const uint8_t qid[16], int64_t retention_ms, int64_t now_ms,
			size_t budget, bool *more)
{
	MDB_dbi mdbi = db_dbi(d, DB_T_QMSG), vdbi = db_dbi(d, DB_T_QVIS);
	MDB_cursor *cur;
	*more = false;
	int rc = mdb_cursor_open(txn, mdbi, &cur);
	if (rc)
		return db_err(rc);
	uint64_t seq = 1, removed = 0;
	bb_err e = BB_OK;
	qhdr h;
	while (first_hdr(cur, qid, &seq, &h) && h.sent_ms + retention_ms <= now_ms) {
		if (removed == budget) {
			*more = true;
			break;
		}
		if ((e = msg_remove(txn, mdbi, vdbi, qid, seq, &h)) != BB_OK)
			break;
		removed++;
		seq++;
	}
	mdb_cursor_close(cur);
	return e ? e : count_adjust(txn, mdbi, qid, removed);
}

/* Deletes up to *budget keys of dbi that start with prefix[plen], from the key `from` on. */
static bb_err drop_range(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen, const uint8_t *from,
			 size_t flen, size_t *budget, bool *done)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return db_err(rc);
	*done = false;
	bb_err e = BB_OK;
	while (*budget > 0) {
		MDB_val key = {flen, (void *)from}, val;
		rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && (key.mv_size < plen || memcmp(key.mv_data, prefix, plen) != 0))) {
			*done = true;
			break;
		}
		if (rc || (rc = mdb_cursor_del(cur, 0)) != 0) {
			e = db_err(rc);
			break;
		}
		(*budget)--;
	}
	mdb_cursor_close(cur);
	return e;
}

bb_err sqs_store_drop(db *d, MDB_txn *txn, const uint8_t qid[16], size_t budget, bool *more)
{
	/* Index first, then messages, then the state record (seq 0) last, so the queue id stays listed
	 * by sqs_store_qids until nothing of it is left. */
	uint8_t from[KEY_MSG_LEN];
	bool done = false;
	*more = true;
	bb_err e = drop_range(txn, db_dbi(d, DB_T_QVIS), qid, 16, qid, 16, &budget, &done);
	if (e || !done)
		return e;
	key_msg(from, qid, 1, 0);
	if ((e = drop_range(txn, db_dbi(d, DB_T_QMSG), qid, 16, from, KEY_MSG_LEN, &budget, &done)) != BB_OK || !done)
		return e;
	key_msg(from, qid, 0, 0);
	if ((e = del_key(txn, db_dbi(d, DB_T_QMSG), from, KEY_MSG_LEN)) == BB_OK)
		*more = false;
	return e;
}

bb_err sqs_store_qids(db *d, const uint8_t *after, uint8_t (*out)[16], size_t cap, size_t *n)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	*n = 0;
	bb_err e = db_read_begin(d, &txn);
	if (e)
		return e;
	if ((e = db_err(mdb_cursor_open(txn, db_dbi(d, DB_T_QMSG), &cur))) == BB_OK) {
		uint8_t k[16] = {0};
		bool wrapped = false;
		if (after) {
			memcpy(k, after, 16);
			key_succ(k, 16);
			wrapped = memcmp(k, (uint8_t[16]){0}, 16) == 0;
		}
		while (!wrapped && *n < cap) {
			MDB_val key = {16, k}, val;
			if (mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE) != 0 || key.mv_size < 16)
				break;
			memcpy(out[(*n)++], key.mv_data, 16);
			memcpy(k, key.mv_data, 16);
			key_succ(k, 16);
			wrapped = memcmp(k, (uint8_t[16]){0}, 16) == 0;
		}
		mdb_cursor_close(cur);
	}
	db_read_end(txn);
	return e;
}
