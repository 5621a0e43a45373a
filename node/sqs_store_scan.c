/* node/sqs_store_scan.c — read-only views of the queue store (peek, approximate counts, the list of
 * queue ids with data) and the sweeper's deletions (retention expiry, dropping a dead queue id).
 * Layout and invariants: sqs_store.c.
 *
 * Counts: n_msgs of the queue state is exact; delayed (never received, visible later) and in-flight
 * (received, invisible until later) are counted by walking the index from `now` on, at most COUNT_CAP
 * entries each, so a count costs O(invisible messages), never O(queue depth); visible = n_msgs minus
 * both. Deletions take a budget and report whether work is left, so each store transaction is bounded.
 */
#include <string.h>

#include "sqs_int.h"

#define COUNT_CAP 100000 /* index entries a count walks at most */

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
			if (sqs_vis_first(cur, qid, kind, NULL, &t, &seq, NULL)) {
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
	uint8_t k[SQS_KEY_VIS_LEN];
	sqs_key_vis(k, qid, kind, now_ms + 1, 0);
	MDB_val key = {SQS_KEY_VIS_LEN, k}, val;
	uint64_t n = 0;
	int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (rc == 0 && n < COUNT_CAP) {
		const uint8_t *p = key.mv_data;
		if (key.mv_size != SQS_KEY_VIS_LEN || memcmp(p, qid, 16) != 0 || p[16] != kind)
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
	sqs_qstate st;
	if ((e = sqs_state_load(txn, db_dbi(d, DB_T_QMSG), qid, &st)) == BB_OK &&
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
static bool first_hdr(MDB_cursor *cur, const uint8_t qid[16], uint64_t *seq, sqs_hdr *h)
{
	uint8_t k[SQS_KEY_MSG_LEN];
	sqs_key_msg(k, qid, *seq, 0);
	MDB_val key = {SQS_KEY_MSG_LEN, k}, val;
	int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (rc == 0) {
		const uint8_t *p = key.mv_data;
		if (key.mv_size != SQS_KEY_MSG_LEN || memcmp(p, qid, 16) != 0)
			return false;
		if (p[24] == 0 && db_get_u64(p + 16) != 0 && sqs_hdr_parse(&val, h)) {
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
		sqs_hdr h;
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
	sqs_hdr h;
	while (first_hdr(cur, qid, &seq, &h) && h.sent_ms + retention_ms <= now_ms) {
		if (removed == budget) {
			*more = true;
			break;
		}
		if ((e = sqs_msg_remove(txn, mdbi, vdbi, qid, seq, &h)) != BB_OK)
			break;
		removed++;
		seq++;
	}
	mdb_cursor_close(cur);
	return e ? e : sqs_count_adjust(txn, mdbi, qid, removed);
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
	uint8_t from[SQS_KEY_MSG_LEN];
	bool done = false;
	*more = true;
	bb_err e = drop_range(txn, db_dbi(d, DB_T_QVIS), qid, 16, qid, 16, &budget, &done);
	if (e || !done)
		return e;
	sqs_key_msg(from, qid, 1, 0);
	if ((e = drop_range(txn, db_dbi(d, DB_T_QMSG), qid, 16, from, SQS_KEY_MSG_LEN, &budget, &done)) != BB_OK || !done)
		return e;
	sqs_key_msg(from, qid, 0, 0);
	if ((e = sqs_del_key(txn, db_dbi(d, DB_T_QMSG), from, SQS_KEY_MSG_LEN)) == BB_OK)
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
			sqs_key_succ(k, 16);
			wrapped = memcmp(k, (uint8_t[16]){0}, 16) == 0;
		}
		while (!wrapped && *n < cap) {
			MDB_val key = {16, k}, val;
			if (mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE) != 0 || key.mv_size < 16)
				break;
			memcpy(out[(*n)++], key.mv_data, 16);
			memcpy(k, key.mv_data, 16);
			sqs_key_succ(k, 16);
			wrapped = memcmp(k, (uint8_t[16]){0}, 16) == 0;
		}
		mdb_cursor_close(cur);
	}
	db_read_end(txn);
	return e;
}
