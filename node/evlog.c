/* node/evlog.c — the bus log (events, in node/seglog) and its index in the node-local store (LMDB):
 * delivery tasks and the time index.
 *
 * An accepted event is one record in the segment log, written with the request's other events in one
 * group commit (one contiguous write, one fdatasync); the record carries the delivery targets it
 * matched. PutEvents answers once that is durable. Then, off the answer's path, one store write
 * indexes the records: a task per (event, target), the time index, and `log_lsn`, how far the log is
 * indexed; its commit wakes the delivery engine. A crash between the two loses nothing acknowledged:
 * at start the records after log_lsn are indexed again from the log (evlog_start), and indexing is
 * idempotent (a task's key is made of the record's own data). The same catch-up runs from the
 * housekeeping thread if an index write ever failed.
 *
 * Record payload (node/seglog adds seq and time; integers big endian):
 *
 *   u8 format (2) | u8 hops | u16 bus key length B | u16 targets T | u16 0 | u32 envelope length E |
 *   B bytes "<acct>/<bus>" | T × (u16 length L, L bytes task key prefix "<acct>/<bus>|<rule>|<id>") |
 *   E bytes envelope JSON
 *
 * Store tables (docs/storage.md):
 *   task  key  "<acct>/<bus>|<rule>|<target id>" 0x00 | due ms (u64 BE) | seq (u64 BE)
 *         val  u32 attempts | u32 record size | i64 ingest ms | u64 record LSN   (24 bytes; a 16-byte
 *              value, without size and LSN, is a task of the older format: its event is in `log`)
 *   tidx  key  ingest second (u64 BE)       val  first seq (u64 BE) | its record's LSN (u64 BE)
 *   state key  "log_lsn"                    val  u64 BE: every record before it is indexed
 *   log   (older format, read only now) key seq, val u8 1 | u8 hops | u16 B | u32 E | i64 ms | bus | env
 *
 * Retention (evlog_keep.c, with the catch-up): a housekeeping thread drops log files whose events are
 * all older than --log-retention-s (and already indexed), the time index before the cutoff, and
 * old-format records, in bounded chunks.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "evlog_int.h"

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(((unsigned)p[0] << 8) | p[1]); }
static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static uint32_t get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

size_t task_key(uint8_t *out, const char *target_key, int64_t due_ms, uint64_t seq)
{
	size_t tl = strlen(target_key);
	if (tl + 17 > TASK_KEY_MAX)
		return 0;
	memcpy(out, target_key, tl);
	out[tl] = 0;
	db_put_u64(out + tl + 1, (uint64_t)due_ms);
	db_put_u64(out + tl + 9, seq);
	return tl + 17;
}

void task_key_parse(const uint8_t *k, size_t len, size_t *prefix_len, int64_t *due_ms, uint64_t *seq)
{
	*prefix_len = len >= 17 ? len - 17 : 0;
	*due_ms = len >= 17 ? (int64_t)db_get_u64(k + len - 16) : 0;
	*seq = len >= 17 ? db_get_u64(k + len - 8) : 0;
}

size_t task_value(uint8_t v[24], const ev_task *t)
{
	put_u32(v, t->attempts);
	put_u32(v + 4, t->rec_size);
	db_put_u64(v + 8, (uint64_t)t->ingest_ms);
	db_put_u64(v + 16, t->lsn);
	return t->rec_size ? 24 : 16;
}

bb_err task_put(node *n, MDB_txn *txn, const uint8_t *key, size_t klen, const ev_task *t)
{
	uint8_t v[24];
	MDB_val mk = {klen, (void *)key}, mv = {task_value(v, t), v};
	return db_err(mdb_put(txn, db_dbi(n->db, DB_T_TASK), &mk, &mv, 0));
}

void task_decode(const void *val, size_t len, ev_task *t)
{
	const uint8_t *p = val;
	memset(t, 0, sizeof *t);
	if (len < 16)
		return;
	t->attempts = get_u32(p);
	t->ingest_ms = (int64_t)db_get_u64(p + 8);
	if (len >= 24) {
		t->rec_size = get_u32(p + 4);
		t->lsn = db_get_u64(p + 16);
	}
}

/* ---- records ---------------------------------------------------------------------------------- */

static size_t payload_size(const ev_entry *e)
{
	size_t sz = PAY_HDR + strlen(e->bus_key) + e->len;
	for (size_t j = 0; j < e->n_targets; j++)
		sz += 2 + strlen(e->targets[j]->key);
	return sz;
}

static uint8_t *payload_put(uint8_t *p, const ev_entry *e)
{
	size_t bl = strlen(e->bus_key);
	p[0] = 2;
	p[1] = e->hops;
	put_u16(p + 2, (uint16_t)bl);
	put_u16(p + 4, (uint16_t)e->n_targets);
	put_u16(p + 6, 0);
	put_u32(p + 8, (uint32_t)e->len);
	p += PAY_HDR;
	memcpy(p, e->bus_key, bl);
	p += bl;
	for (size_t j = 0; j < e->n_targets; j++) {
		size_t tl = strlen(e->targets[j]->key);
		put_u16(p, (uint16_t)tl);
		memcpy(p + 2, e->targets[j]->key, tl);
		p += 2 + tl;
	}
	memcpy(p, e->envelope, e->len);
	return p + e->len;
}

bool evlog_payload_parse(const uint8_t *p, size_t len, payload_view *v)
{
	if (len < PAY_HDR || p[0] != 2)
		return false;
	v->hops = p[1];
	v->bus_key_len = get_u16(p + 2);
	v->n_targets = get_u16(p + 4);
	v->len = get_u32(p + 8);
	const uint8_t *q = p + PAY_HDR, *end = p + len;
	if ((size_t)(end - q) < v->bus_key_len)
		return false;
	v->bus_key = (const char *)q;
	q += v->bus_key_len;
	v->targets = q;
	for (size_t j = 0; j < v->n_targets; j++) {
		if (end - q < 2 || (size_t)(end - q - 2) < get_u16(q))
			return false;
		q += 2 + get_u16(q);
	}
	if ((size_t)(end - q) != v->len)
		return false;
	v->envelope = (const char *)q;
	return true;
}

/* ---- indexing (store writer) -------------------------------------------------------------------- */

/* Puts the tasks and the time index of items (start..end: the LSN range they cover), and moves
 * log_lsn to end if it was at start (a range after a gap leaves it: the catch-up redoes the gap). */
bb_err evlog_index_txn(node *n, MDB_txn *txn, const ix_item *it, size_t count, uint64_t start, uint64_t end,
			_Atomic uint8_t *cells)
{
	size_t flat = 0;
	for (size_t i = 0; i < count; i++) {
		ev_task t = {.attempts = 0, .ingest_ms = it[i].ms, .lsn = it[i].lsn, .rec_size = it[i].size};
		const uint8_t *q = it[i].targets;
		for (size_t j = 0; j < it[i].n_targets; j++) {
			size_t tl = get_u16(q);
			char key[TASK_KEY_MAX];
			uint8_t tk[TASK_KEY_MAX];
			uint8_t pending = 0;
			bool live = !cells || atomic_compare_exchange_strong(&cells[flat], &pending, 1);
			flat++;
			if (live && tl + 18 <= TASK_KEY_MAX) { /* a fresh first attempt that is done already: no task */
				memcpy(key, q + 2, tl);
				key[tl] = '\0';
				size_t tkl = task_key(tk, key, it[i].ms, it[i].seq);
				bb_err e = tkl ? task_put(n, txn, tk, tkl, &t) : BB_OK;
				if (e != BB_OK)
					return e;
			}
			q += 2 + tl;
		}
		uint64_t sec = (uint64_t)(it[i].ms / 1000);
		if (i == 0 || sec != (uint64_t)(it[i - 1].ms / 1000)) {
			uint8_t k[8], v[16];
			db_put_u64(k, sec);
			db_put_u64(v, it[i].seq);
			db_put_u64(v + 8, it[i].lsn);
			MDB_val mk = {8, k}, mv = {16, v};
			int rc = mdb_put(txn, db_dbi(n->db, DB_T_TIDX), &mk, &mv, MDB_NOOVERWRITE);
			if (rc && rc != MDB_KEYEXIST)
				return db_err(rc); /* NOOVERWRITE: the first record of a second stays */
		}
	}
	MDB_val sk = {7, "log_lsn"}, sv;
	int rc = mdb_get(txn, db_dbi(n->db, DB_T_STATE), &sk, &sv);
	uint64_t cur = rc == 0 && sv.mv_size == 8 ? db_get_u64(sv.mv_data) : 0;
	if (rc && rc != MDB_NOTFOUND)
		return db_err(rc);
	if (cur == start && end > cur) {
		uint8_t v[8];
		db_put_u64(v, end);
		MDB_val mv = {8, v};
		return db_err(mdb_put(txn, db_dbi(n->db, DB_T_STATE), &sk, &mv, 0));
	}
	return BB_OK;
}

/* The index write of one append (after its log commit). */
typedef struct ix_job {
	node *n;
	route_table *rt;                    /* keeps targets alive for the notification */
	const route_target **targets;       /* every target of every record, in order */
	size_t n_all;
	ix_item *items;
	size_t count;
	uint64_t start, end;
	uint8_t *payload;                   /* the encoded records (items point into it) */
	_Atomic uint8_t *cells;             /* per target of every record: 0 pending, 1 its task was
					     * put, 2 its fresh first attempt ended before that (no task) */
	_Atomic int refs;                   /* the index write, and each posted fresh attempt */
	atomic_bool submitted;              /* the index write is in the store queue (or never will be) */
	bb_err (*extra_apply)(db *d, MDB_txn *txn, void *arg);
	void (*extra_done)(void *arg, bb_err err);
	void *extra_arg;
	db_write w;
} ix_job;

static bb_err ix_apply(db *d, MDB_txn *txn, void *arg)
{
	ix_job *j = arg;
	bb_err e = evlog_index_txn(j->n, txn, j->items, j->count, j->start, j->end, j->cells);
	if (e == BB_OK && j->extra_apply)
		e = j->extra_apply(d, txn, j->extra_arg);
	return e;
}

static void ix_free(ix_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return; /* fresh attempts still hold cells */
	if (j->rt)
		route_release(j->rt);
	free(j->targets);
	free(j->items);
	free(j->payload);
	free((void *)j->cells);
	free(j);
}

void evlog_fresh_release(void *ix)
{
	if (ix)
		ix_free(ix);
}

void evlog_fresh_wait(void *ix)
{
	/* logged() posts the fresh attempts just before it submits the index write, with nothing in
	 * between that blocks: this wait is a few instructions long at most */
	ix_job *j = ix;
	while (j && !atomic_load_explicit(&j->submitted, memory_order_acquire))
		sched_yield();
}

bool evlog_fresh_cancel(_Atomic uint8_t *cell)
{
	uint8_t pending = 0;
	return atomic_compare_exchange_strong(cell, &pending, 2);
}

static void ix_done(void *arg, bb_err err)
{
	ix_job *j = arg;
	node *n = j->n;
	if (err == BB_OK) {
		/* the tasks that were put (not those whose fresh attempt had ended) */
		size_t k = 0;
		for (size_t x = 0; x < j->n_all; x++)
			if (atomic_load(&j->cells[x]) == 1)
				j->targets[k++] = j->targets[x];
		deliver_notify_many(n, j->targets, k);
	}
	else if (err != BB_ESHUTDOWN)
		atomic_store(&n->evlog->index_gap, true); /* the housekeeping thread catches up */
	if (j->extra_done)
		j->extra_done(j->extra_arg, err);
	atomic_fetch_sub(&n->evlog->index_pending, 1);
	ix_free(j);
}

/* ---- append ---------------------------------------------------------------------------------- */

/* The delivery engine may start these first attempts now (deliver_fresh.c): before the index write
 * is submitted, grouped by target, in seq order. */
static void post_fresh(node *n, const ev_append *a, ix_job *j)
{
	if (!j->n_all)
		return;
	const route_target **t = malloc(j->n_all * sizeof *t);
	fresh_item *it = malloc(j->n_all * sizeof *it);
	if (t && it) {
		size_t k = 0;
		for (size_t x = 0; x < j->n_all; x++) {
			const route_target *target = j->targets[x];
			bool seen = false;
			for (size_t y = 0; y < x && !seen; y++)
				seen = j->targets[y] == target;
			if (seen)
				continue; /* this target's items were collected already */
			size_t flat = 0;
			for (size_t i = 0; i < a->n_entries; i++)
				for (size_t q = 0; q < a->e[i].n_targets; q++, flat++)
					if (j->targets[flat] == target) {
						t[k] = target;
						it[k++] = (fresh_item){.seq = a->recs[i].seq, .lsn = a->recs[i].lsn,
								       .ingest_ms = a->now_ms, .size = a->recs[i].size,
								       .ix = j, .cell = &j->cells[flat]};
					}
		}
		atomic_fetch_add(&j->refs, (int)k);
		if (!deliver_fresh_post(n, t, it, k))
			atomic_fetch_sub(&j->refs, (int)k); /* not posted: the store scan takes them */
	}
	free(t);
	free(it);
}

/* The log commit of an append is done (log writer thread): index it, then answer. */
static void logged(void *arg, bb_err err)
{
	ev_append *a = arg;
	node *n = a->n;
	ix_job *j = a->ix;
	a->ix = NULL;
	if (err == BB_OK) {
		for (size_t i = 0; i < a->n_entries; i++) {
			a->e[i].seq = a->recs[i].seq;
			j->items[i].seq = a->recs[i].seq;
			j->items[i].lsn = a->recs[i].lsn;
			j->items[i].size = a->recs[i].size;
			j->items[i].ms = a->now_ms;
		}
		evlog *ev = n->evlog;
		j->start = a->recs[0].lsn;
		j->end = a->recs[a->n_entries - 1].lsn + a->recs[a->n_entries - 1].size;
		uint64_t sec = (uint64_t)(a->now_ms / 1000);
		if (j->n_all == 0 && !j->extra_apply && sec == ev->ix_sec && ev->ix_skipped < 4096) {
			/* no tasks, and this second is in the time index already: nothing to write now */
			if (ev->ix_start == UINT64_MAX)
				ev->ix_start = j->start;
			ev->ix_skipped++;
			ix_free(j);
			goto answer;
		}
		post_fresh(n, a, j);
		if (ev->ix_start != UINT64_MAX)
			j->start = ev->ix_start; /* this write covers the skipped ones before it */
		ev->ix_start = UINT64_MAX;
		ev->ix_sec = sec;
		ev->ix_skipped = 0;
		atomic_fetch_add(&n->evlog->index_pending, 1);
		j->w = (db_write){.apply = ix_apply, .done = ix_done, .arg = j, .must = true};
		atomic_fetch_add(&j->refs, 1); /* held across the flag store below */
		bb_err e = db_submit(n->db, &j->w);
		atomic_store_explicit(&j->submitted, true, memory_order_release);
		ix_free(j);
		if (e != BB_OK) {
			/* the store is closing: the next start indexes these records from the log */
			if (j->extra_done)
				j->extra_done(j->extra_arg, e);
			atomic_fetch_sub(&n->evlog->index_pending, 1);
			ix_free(j);
		}
	} else {
		if (j->extra_done)
			j->extra_done(j->extra_arg, err);
		ix_free(j);
	}
answer:
	free(a->recs);
	a->recs = NULL;
	if (a->done)
		a->done(a->arg, err);
}

bb_err evlog_append_submit(node *n, ev_append *a)
{
	a->n = n;
	a->now_ms = bb_wall_ms(n->clock);
	if (db_busy(n->db))
		return BB_EBUSY; /* the index writes would pile up: throttle the producers */
	size_t total = 0, n_all = 0;
	for (size_t i = 0; i < a->n_entries; i++) {
		total += payload_size(&a->e[i]);
		n_all += a->e[i].n_targets;
	}
	ix_job *j = calloc(1, sizeof *j);
	if (j)
		atomic_init(&j->refs, 1);
	a->recs = calloc(a->n_entries ? a->n_entries : 1, sizeof *a->recs);
	if (!j || !a->recs || !(j->payload = malloc(total ? total : 1)) ||
	    !(j->items = calloc(a->n_entries ? a->n_entries : 1, sizeof *j->items)) ||
	    !(j->targets = malloc((n_all ? n_all : 1) * sizeof *j->targets)) ||
	    !(j->cells = calloc(n_all ? n_all : 1, sizeof *j->cells))) {
		if (j)
			ix_free(j);
		free(a->recs);
		a->recs = NULL;
		return BB_ENOMEM;
	}
	j->n = n;
	j->rt = a->rt ? route_hold(a->rt) : NULL;
	j->count = a->n_entries;
	j->n_all = n_all;
	j->extra_apply = a->extra_apply;
	j->extra_done = a->extra_done;
	j->extra_arg = a->extra_arg;
	uint8_t *p = j->payload;
	size_t k = 0;
	for (size_t i = 0; i < a->n_entries; i++) {
		uint8_t *start = p;
		p = payload_put(p, &a->e[i]);
		a->recs[i] = (seglog_rec){.data = start, .len = (size_t)(p - start)};
		j->items[i].targets = start + PAY_HDR + strlen(a->e[i].bus_key);
		j->items[i].n_targets = a->e[i].n_targets;
		for (size_t t = 0; t < a->e[i].n_targets; t++)
			j->targets[k++] = a->e[i].targets[t];
	}
	a->ix = j;
	a->app = (seglog_append){.recs = a->recs, .n = a->n_entries, .ms = a->now_ms, .done = logged, .arg = a};
	bb_err e = seglog_submit(n->evlog->log, &a->app);
	if (e != BB_OK) {
		a->ix = NULL;
		ix_free(j);
		free(a->recs);
		a->recs = NULL;
	}
	return e;
}

typedef struct append_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	bb_err err;
} append_wait;

static void append_wake(void *arg, bb_err err)
{
	append_wait *w = arg;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	w->err = err;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

bb_err evlog_append(node *n, route_table *rt, ev_entry *e, size_t n_entries)
{
	append_wait w = {.done = false};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	ev_append a = {.e = e, .n_entries = n_entries, .rt = rt, .done = append_wake, .arg = &w};
	bb_err err = evlog_append_submit(n, &a);
	if (err == BB_OK) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		err = w.err;
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return err;
}

/* ---- reads ------------------------------------------------------------------------------------ */

bb_err evlog_read(node *n, MDB_txn *txn, uint64_t seq, const ev_task *t, ev_record *out)
{
	memset(out, 0, sizeof *out);
	if (t && t->rec_size) {
		seglog_entry e;
		bb_err err = seglog_read(n->evlog->log, t->lsn, t->rec_size, &e);
		if (err != BB_OK)
			return err;
		payload_view v;
		if (e.seq != seq || !evlog_payload_parse(e.payload, e.len, &v)) {
			free(e.buf);
			return BB_ECORRUPT;
		}
		out->hops = v.hops;
		out->ingest_ms = e.ms;
		out->bus_key = v.bus_key;
		out->bus_key_len = v.bus_key_len;
		out->envelope = v.envelope;
		out->len = v.len;
		out->owned = e.buf;
		return BB_OK;
	}
	/* an older-format task: its event is in the store's log table */
	uint8_t k[8];
	db_put_u64(k, seq);
	MDB_val mk = {8, k}, mv;
	int rc = mdb_get(txn, db_dbi(n->db, DB_T_LOG), &mk, &mv);
	if (rc)
		return db_err(rc);
	db_trim_if_over(n->db); /* keeps read log pages out of RSS (db.h) */
	const uint8_t *p = mv.mv_data;
	if (mv.mv_size < REC_HDR || p[0] != 1)
		return BB_ECORRUPT;
	size_t bl = ((size_t)p[2] << 8) | p[3];
	size_t el = get_u32(p + 4);
	if (REC_HDR + bl + el != mv.mv_size)
		return BB_ECORRUPT;
	out->hops = p[1];
	out->ingest_ms = (int64_t)db_get_u64(p + 8);
	out->bus_key = (const char *)p + REC_HDR;
	out->bus_key_len = bl;
	out->envelope = (const char *)p + REC_HDR + bl;
	out->len = el;
	return BB_OK;
}

void evlog_record_free(ev_record *r)
{
	free(r->owned);
	r->owned = NULL;
}

/* ---- start / stop ---------------------------------------------------------------------------- */

static void log_synced(void *ctx, int64_t ns)
{
	node *n = ctx;
	if (n->metrics)
		metrics_observe_log_sync(n->metrics, (double)ns / 1e6);
}

bb_err evlog_start(node *n)
{
	evlog *ev = calloc(1, sizeof *ev);
	if (!ev)
		return BB_ENOMEM;
	ev->n = n;
	ev->ix_start = UINT64_MAX;
	ev->ix_sec = UINT64_MAX;
	/* older data: the log table and its sequence counter say where seqs continue */
	uint64_t next_seq = 1;
	MDB_txn *txn;
	bb_err e = db_read_begin(n->db, &txn);
	if (e != BB_OK) {
		free(ev);
		return e;
	}
	MDB_val k = {8, "next_seq"}, v;
	if (mdb_get(txn, db_dbi(n->db, DB_T_STATE), &k, &v) == 0 && v.mv_size == 8)
		next_seq = db_get_u64(v.mv_data);
	MDB_cursor *cur;
	if (mdb_cursor_open(txn, db_dbi(n->db, DB_T_LOG), &cur) == 0) {
		if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8 && db_get_u64(k.mv_data) >= next_seq)
			next_seq = db_get_u64(k.mv_data) + 1;
		mdb_cursor_close(cur);
	}
	db_read_end(txn);
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/store/log", n->data_dir);
	seglog_config lc = {.dir = dir,
			    .max_queued = n->cfg.store_max_queued,
			    .max_bytes = n->cfg.store_max_bytes,
			    .min_next_seq = next_seq,
			    .no_sync = n->cfg.store_no_sync,
			    .hold_us = 300,
			    .min_interval_us = n->cfg.log_commit_interval_us,
			    .on_sync = log_synced,
			    .on_sync_ctx = n};
	if ((e = seglog_open(&lc, &ev->log)) != BB_OK) {
		BB_LOGE("evlog", "msg=\"cannot open the bus log\" dir=\"%s\" err=%s", dir, bb_errname(e));
		free(ev);
		return e;
	}
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	n->evlog = ev;
	/* records acknowledged before a crash but not yet indexed: index them now */
	if ((e = evlog_catch_up(n)) != BB_OK) {
		BB_LOGE("evlog", "msg=\"cannot index the bus log\" err=%s", bb_errname(e));
		goto fail;
	}
	if (pthread_create(&ev->thread, NULL, evlog_housekeeping, ev) != 0) {
		e = BB_ENOMEM;
		goto fail;
	}
	return BB_OK;
fail:
	n->evlog = NULL;
	seglog_close(ev->log);
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
	return e;
}

void evlog_stop(node *n)
{
	evlog *ev = n->evlog;
	if (!ev)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->stopping = true;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	pthread_join(ev->thread, NULL);
	/* appends still queued fail; the ones written are indexed by the store (still open) or, if it
	 * closes first, again from the log at the next start */
	seglog_close(ev->log);
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
	n->evlog = NULL;
}

void evlog_expect(node *n, int delta)
{
	if (n->evlog)
		seglog_expect(n->evlog->log, delta);
}

void evlog_get_stats(node *n, evlog_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!n->evlog)
		return;
	seglog_stats st;
	seglog_get_stats(n->evlog->log, &st);
	out->bytes = st.bytes;
	out->files = st.files;
	out->appends = st.appends;
	out->batches = st.batches;
	out->sync_ns = st.sync_ns;
}
