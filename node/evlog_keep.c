/* node/evlog_keep.c — keeping the bus log's index whole and its size bounded: the catch-up that
 * indexes log records after log_lsn (at start, and from the housekeeping thread after a failed index
 * write), and retention (the time index before the cutoff, older-format records, whole log files
 * before the cutoff and already indexed). Formats and tables: evlog.c's header, docs/storage.md.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "evlog_int.h"

/* ---- catching up the index from the log --------------------------------------------------------- */

typedef struct catchup {
	node *n;
	ix_item items[REINDEX_CHUNK];
	uint8_t *bufs[REINDEX_CHUNK];
	size_t count;
	uint64_t start, end;
	bb_err err;
	size_t indexed;
} catchup;

static bb_err catchup_apply(db *d, MDB_txn *txn, void *arg)
{
	(void)d;
	catchup *c = arg;
	return evlog_index_txn(c->n, txn, c->items, c->count, c->start, c->end, NULL);
}

static void catchup_flush(catchup *c)
{
	if (c->count && c->err == BB_OK)
		c->err = db_run(c->n->db, catchup_apply, c);
	c->indexed += c->count;
	for (size_t i = 0; i < c->count; i++)
		free(c->bufs[i]);
	c->count = 0;
}

static bool catchup_visit(void *ctx, const seglog_entry *e, uint64_t lsn)
{
	catchup *c = ctx;
	payload_view v;
	if (!evlog_payload_parse(e->payload, e->len, &v)) {
		BB_LOGW("evlog", "msg=\"unreadable log record skipped\" seq=%llu", (unsigned long long)e->seq);
		return true;
	}
	uint8_t *copy = malloc(e->len);
	if (!copy) {
		c->err = BB_ENOMEM;
		return false;
	}
	memcpy(copy, e->payload, e->len);
	if (c->count == 0)
		c->start = lsn;
	c->bufs[c->count] = copy;
	c->items[c->count++] = (ix_item){.seq = e->seq, .lsn = lsn, .size = (uint32_t)(e->next_lsn - lsn), .ms = e->ms,
					 .targets = copy + (v.targets - e->payload), .n_targets = v.n_targets};
	c->end = e->next_lsn;
	if (c->count == REINDEX_CHUNK)
		catchup_flush(c);
	return c->err == BB_OK;
}

static uint64_t indexed_lsn(node *n)
{
	uint64_t lsn = 0;
	MDB_txn *txn;
	if (db_read_begin(n->db, &txn) == BB_OK) {
		MDB_val k = {7, "log_lsn"}, v;
		if (mdb_get(txn, db_dbi(n->db, DB_T_STATE), &k, &v) == 0 && v.mv_size == 8)
			lsn = db_get_u64(v.mv_data);
		db_read_end(txn);
	}
	return lsn;
}

/* Indexes the records after log_lsn (at start, or after a failed index write). */
bb_err evlog_catch_up(node *n)
{
	catchup *c = calloc(1, sizeof *c);
	if (!c)
		return BB_ENOMEM;
	c->n = n;
	uint64_t from = indexed_lsn(n);
	bb_err e = seglog_scan(n->evlog->log, from, catchup_visit, c);
	catchup_flush(c);
	if (e == BB_OK)
		e = c->err;
	if (c->indexed)
		BB_LOGI("evlog", "msg=\"indexed log records after a restart or a failed write\" records=%zu err=%s",
			c->indexed, bb_errname(e));
	free(c);
	return e;
}

/* ---- retention ------------------------------------------------------------------------------- */

typedef struct sweep_arg {
	int64_t cutoff_ms;
	size_t deleted;
	bool more;
	uint64_t keep_lsn;  /* out: the first LSN at or after the cutoff (UINT64_MAX: none known) */
} sweep_arg;

static bb_err sweep_apply(db *d, MDB_txn *txn, void *arg)
{
	sweep_arg *sa = arg;
	MDB_cursor *cur;
	/* older-format records */
	int rc = mdb_cursor_open(txn, db_dbi(d, DB_T_LOG), &cur);
	if (rc)
		return db_err(rc);
	MDB_val k, v;
	sa->more = false;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (v.mv_size < REC_HDR || (int64_t)db_get_u64((uint8_t *)v.mv_data + 8) >= sa->cutoff_ms)
			break;
		if (sa->deleted == SWEEP_CHUNK) {
			sa->more = true;
			break;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		sa->deleted++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
		if (rc == EINVAL || rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return db_err(rc);
	/* The time index: drop seconds before the cutoff; the first kept one says where the log files
	 * still needed begin. */
	if ((rc = mdb_cursor_open(txn, db_dbi(d, DB_T_TIDX), &cur)) != 0)
		return db_err(rc);
	sa->keep_lsn = UINT64_MAX;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size == 8) {
		if ((int64_t)db_get_u64(k.mv_data) * 1000 >= sa->cutoff_ms - 1000) {
			if (v.mv_size == 16)
				sa->keep_lsn = db_get_u64((uint8_t *)v.mv_data + 8);
			break;
		}
		if (mdb_cursor_del(cur, 0) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return BB_OK;
}

void *evlog_housekeeping(void *arg)
{
	evlog *ev = arg;
	pthread_setname_np(pthread_self(), "bb-housekeep");
	node *n = ev->n;
	for (;;) {
		pthread_mutex_lock(&ev->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		while (!ev->stopping && pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) == 0)
			;
		bool stop = ev->stopping;
		pthread_mutex_unlock(&ev->mu);
		if (stop)
			break;
		if (atomic_load(&ev->index_gap) && atomic_load(&ev->index_pending) == 0) {
			atomic_store(&ev->index_gap, false);
			if (evlog_catch_up(n) != BB_OK)
				atomic_store(&ev->index_gap, true);
		}
		sweep_arg sa = {.cutoff_ms = bb_wall_ms(n->clock) - (int64_t)n->cfg.log_retention_s * 1000, .more = true};
		size_t total = 0;
		while (sa.more && !ev->stopping) {
			sa.deleted = 0;
			if (db_run(n->db, sweep_apply, &sa) != BB_OK)
				break;
			total += sa.deleted;
		}
		if (total)
			BB_LOGI("evlog", "msg=\"retention removed events\" count=%zu", total);
		/* log files wholly before the cutoff, never beyond what is indexed */
		uint64_t keep = sa.keep_lsn, indexed = indexed_lsn(n);
		if (keep == UINT64_MAX) {
			seglog_stats st;
			seglog_get_stats(ev->log, &st);
			keep = st.end_lsn; /* no second at or after the cutoff: everything is older */
		}
		seglog_drop_before(ev->log, keep < indexed ? keep : indexed);
		db_trim_resident(n->db);
	}
	return NULL;
}
