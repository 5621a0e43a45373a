/* node/evlog.c — the bus log and the delivery task table on the node-local store (node/db).
 *
 * Every accepted event gets a node-wide sequence number and one record in table `log`; in the same
 * transaction every (event, rule, target) it matched gets one record in table `task`. So once the
 * PutEvents answer is sent (after the fsync of its batch), both the event and the duty to deliver it
 * survive kill -9. The delivery engine removes or reschedules tasks; retention removes old events.
 *
 * On-disk formats (docs/storage.md has the same tables):
 *
 *   log   key  seq (u64 big endian)
 *         val  u8 format (1) | u8 hops | u16 bus key length B | u32 envelope length E |
 *              i64 ingest ms | B bytes "<acct>/<bus>" | E bytes envelope JSON      (integers big endian)
 *   tidx  key  ingest second (u64 BE)       val  first seq of that second (u64 BE)
 *   task  key  "<acct>/<bus>|<rule>|<target id>" 0x00 | due ms (u64 BE) | seq (u64 BE)
 *         val  u32 attempts | u32 reserved | i64 ingest ms
 *   state key  "next_seq"                   val  u64 BE
 *
 * Sequence numbers are assigned on the writer thread only (inside applies), so they need no lock.
 * Retention: a housekeeping thread deletes events older than --log-retention-s in bounded chunks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

#define REC_HDR 16
#define SWEEP_CHUNK 2000

struct evlog {
	node *n;
	uint64_t next_seq;      /* writer thread only */
	uint64_t last_tidx_sec; /* writer thread only */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
};

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

bb_err task_put(node *n, MDB_txn *txn, const uint8_t *key, size_t klen, const ev_task *t)
{
	uint8_t v[16];
	put_u32(v, t->attempts);
	put_u32(v + 4, 0);
	db_put_u64(v + 8, (uint64_t)t->ingest_ms);
	MDB_val mk = {klen, (void *)key}, mv = {sizeof v, v};
	return db_err(mdb_put(txn, db_dbi(n->db, DB_T_TASK), &mk, &mv, 0));
}

void task_decode(const void *val, size_t len, ev_task *t)
{
	const uint8_t *p = val;
	t->attempts = len >= 16 ? get_u32(p) : 0;
	t->ingest_ms = len >= 16 ? (int64_t)db_get_u64(p + 8) : 0;
}

bb_err evlog_append_txn(node *n, MDB_txn *txn, ev_entry *e, size_t n_entries, int64_t now_ms)
{
	evlog *ev = n->evlog;
	MDB_dbi log = db_dbi(n->db, DB_T_LOG);
	uint64_t first = ev->next_seq;
	bb_err err = BB_OK;
	for (size_t i = 0; i < n_entries && err == BB_OK; i++) {
		size_t bl = strlen(e[i].bus_key);
		uint64_t seq = ev->next_seq++;
		e[i].seq = seq;
		uint8_t k[8];
		db_put_u64(k, seq);
		MDB_val mk = {8, k}, mv = {REC_HDR + bl + e[i].len, NULL};
		int rc = mdb_put(txn, log, &mk, &mv, MDB_RESERVE | MDB_APPEND);
		if (rc) {
			err = db_err(rc);
			break;
		}
		uint8_t *p = mv.mv_data;
		p[0] = 1;
		p[1] = e[i].hops;
		p[2] = (uint8_t)(bl >> 8);
		p[3] = (uint8_t)bl;
		put_u32(p + 4, (uint32_t)e[i].len);
		db_put_u64(p + 8, (uint64_t)now_ms);
		memcpy(p + REC_HDR, e[i].bus_key, bl);
		memcpy(p + REC_HDR + bl, e[i].envelope, e[i].len);

		ev_task t = {0, now_ms};
		for (size_t j = 0; j < e[i].n_targets && err == BB_OK; j++) {
			uint8_t tk[TASK_KEY_MAX];
			size_t tkl = task_key(tk, e[i].targets[j]->key, now_ms, seq);
			if (tkl)
				err = task_put(n, txn, tk, tkl, &t);
		}
	}
	if (err == BB_OK && (uint64_t)(now_ms / 1000) != ev->last_tidx_sec) {
		uint8_t k[8], v[8];
		db_put_u64(k, (uint64_t)(now_ms / 1000));
		db_put_u64(v, first);
		MDB_val mk = {8, k}, mv = {8, v};
		int rc = mdb_put(txn, db_dbi(n->db, DB_T_TIDX), &mk, &mv, MDB_NOOVERWRITE);
		if (rc && rc != MDB_KEYEXIST)
			err = db_err(rc);
	}
	if (err == BB_OK) {
		uint8_t v[8];
		db_put_u64(v, ev->next_seq);
		MDB_val mk = {8, "next_seq"}, mv = {8, v};
		err = db_err(mdb_put(txn, db_dbi(n->db, DB_T_STATE), &mk, &mv, 0));
	}
	if (err != BB_OK)
		ev->next_seq = first; /* the nested transaction is aborted: nothing was written */
	else
		ev->last_tidx_sec = (uint64_t)(now_ms / 1000);
	return err;
}

bb_err evlog_read(node *n, MDB_txn *txn, uint64_t seq, ev_record *out)
{
	uint8_t k[8];
	db_put_u64(k, seq);
	MDB_val mk = {8, k}, mv;
	int rc = mdb_get(txn, db_dbi(n->db, DB_T_LOG), &mk, &mv);
	if (rc)
		return db_err(rc);
	db_note_read(n->db, mv.mv_size); /* keeps read log pages out of RSS (db.h) */
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

/* ---- append ---------------------------------------------------------------------------------- */

static bb_err append_apply(db *d, MDB_txn *txn, void *arg)
{
	(void)d;
	ev_append *a = arg;
	return evlog_append_txn(a->n, txn, a->e, a->n_entries, a->now_ms);
}

/* After the commit: tell the delivery engine about the new tasks (once: the engine dedups targets). */
static void notify_tasks(node *n, const ev_entry *e, size_t n_entries)
{
	const route_target *t[64];
	size_t k = 0;
	for (size_t i = 0; i < n_entries; i++)
		for (size_t j = 0; j < e[i].n_targets; j++) {
			if (k == BB_ARRAY_LEN(t)) {
				deliver_notify_many(n, t, k);
				k = 0;
			}
			t[k++] = e[i].targets[j];
		}
	deliver_notify_many(n, t, k);
}

static void append_done(void *arg, bb_err err)
{
	ev_append *a = arg;
	if (err == BB_OK)
		notify_tasks(a->n, a->e, a->n_entries);
	a->done(a->arg, err);
}

bb_err evlog_append_submit(node *n, ev_append *a)
{
	a->n = n;
	a->now_ms = bb_wall_ms(n->clock);
	a->w = (db_write){.apply = append_apply, .done = append_done, .arg = a};
	return db_submit(n->db, &a->w);
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

bb_err evlog_append(node *n, ev_entry *e, size_t n_entries)
{
	append_wait w = {.done = false};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	ev_append a = {.e = e, .n_entries = n_entries, .done = append_wake, .arg = &w};
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

/* ---- retention ------------------------------------------------------------------------------- */

typedef struct sweep_arg {
	int64_t cutoff_ms;
	size_t deleted;
	bool more;
} sweep_arg;

static bb_err sweep_apply(db *d, MDB_txn *txn, void *arg)
{
	sweep_arg *sa = arg;
	MDB_cursor *cur;
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
	/* The time index: drop seconds before the cutoff. */
	if ((rc = mdb_cursor_open(txn, db_dbi(d, DB_T_TIDX), &cur)) != 0)
		return db_err(rc);
	while (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8 &&
	       (int64_t)db_get_u64(k.mv_data) * 1000 < sa->cutoff_ms - 1000)
		if (mdb_cursor_del(cur, 0) != 0)
			break;
	mdb_cursor_close(cur);
	return BB_OK;
}

static void *housekeeping_main(void *arg)
{
	pthread_setname_np(pthread_self(), "bb-housekeep");
	evlog *ev = arg;
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
		db_trim_resident(n->db);
	}
	return NULL;
}

bb_err evlog_start(node *n)
{
	evlog *ev = calloc(1, sizeof *ev);
	if (!ev)
		return BB_ENOMEM;
	ev->n = n;
	ev->next_seq = 1;
	MDB_txn *txn;
	bb_err e = db_read_begin(n->db, &txn);
	if (e != BB_OK) {
		free(ev);
		return e;
	}
	MDB_val k = {8, "next_seq"}, v;
	if (mdb_get(txn, db_dbi(n->db, DB_T_STATE), &k, &v) == 0 && v.mv_size == 8)
		ev->next_seq = db_get_u64(v.mv_data);
	MDB_cursor *cur;
	if (mdb_cursor_open(txn, db_dbi(n->db, DB_T_LOG), &cur) == 0) {
		if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8 && db_get_u64(k.mv_data) >= ev->next_seq)
			ev->next_seq = db_get_u64(k.mv_data) + 1;
		mdb_cursor_close(cur);
	}
	db_read_end(txn);
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	n->evlog = ev;
	if (pthread_create(&ev->thread, NULL, housekeeping_main, ev) != 0) {
		n->evlog = NULL;
		free(ev);
		return BB_ENOMEM;
	}
	return BB_OK;
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
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
	n->evlog = NULL;
}
