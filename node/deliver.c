/* node/deliver.c — the delivery engine's thread: finds due tasks per target and starts attempts,
 * bounded per target (--deliver-target-inflight) and overall (--deliver-max-inflight), so a slow or
 * dead target holds at most its own slots and never the others'. See deliver_int.h for a job's life.
 *
 * Scheduling. Tasks sit in the store ordered by (target, due time, seq). Each target with work has a
 * tstate; the thread seeks to the target's first task and walks forward while tasks are due, skipping
 * those whose job is not retired yet (a hash set of seqs), dispatching until the target's attempt
 * slots are full, and remembers the first future due time to sleep until. An attempt frees its slot
 * when it ends; its outcome write is bounded separately (PENDING_*). New tasks arrive by
 * deliver_notify (after their commit). At start one pass over the task table finds every target with
 * persisted work, so it resumes: at-least-once across kill -9.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "deliver_int.h"

#define DIRTY_MAX 8192
/* Jobs whose attempt ended but whose outcome write has not completed yet: bounded per target (below
 * SEQSET_CAP) and overall, so a slow store throttles delivery instead of growing memory. */
#define PENDING_PER_TARGET 2048
#define PENDING_MAX 16384

static void seq_del(tstate *ts, uint64_t seq);

static uint64_t hash_key(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

tstate *deliver_ts_get(deliver *d, const char *key, size_t len, bool create)
{
	if (d->tab_cap) {
		size_t b = hash_key(key, len) & (d->tab_cap - 1);
		for (tstate *t = d->tab[b]; t; t = t->hnext)
			if (t->key_len == len && memcmp(t->key, key, len) == 0)
				return t;
	}
	if (!create)
		return NULL;
	if (d->n_ts + 1 > d->tab_cap / 2) {
		size_t nc = d->tab_cap ? d->tab_cap * 2 : 256;
		tstate **nt = calloc(nc, sizeof *nt);
		if (!nt)
			return NULL;
		for (size_t i = 0; i < d->tab_cap; i++)
			for (tstate *t = d->tab[i], *next; t; t = next) {
				next = t->hnext;
				size_t b = hash_key(t->key, t->key_len) & (nc - 1);
				t->hnext = nt[b];
				nt[b] = t;
			}
		free(d->tab);
		d->tab = nt;
		d->tab_cap = nc;
	}
	tstate *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->key = malloc(len + 1);
	if (!t->key) {
		free(t);
		return NULL;
	}
	memcpy(t->key, key, len);
	t->key[len] = '\0';
	t->key_len = len;
	size_t b = hash_key(key, len) & (d->tab_cap - 1);
	t->hnext = d->tab[b];
	d->tab[b] = t;
	d->n_ts++;
	return t;
}

/* ---- mailbox ----------------------------------------------------------------------------------- */

/* Marks key dirty (mailbox lock held). */
static void mark_dirty(deliver *d, const char *key)
{
	for (size_t i = d->n_dirty > 8 ? d->n_dirty - 8 : 0; i < d->n_dirty; i++)
		if (strcmp(d->dirty[i], key) == 0)
			return; /* marked recently: once is enough */
	if (d->n_dirty == DIRTY_MAX) {
		d->rescan = true;
		return;
	}
	if (d->n_dirty == d->cap_dirty) {
		size_t nc = d->cap_dirty ? d->cap_dirty * 2 : 64;
		char **nd = realloc(d->dirty, nc * sizeof *nd);
		if (nd) {
			d->dirty = nd;
			d->cap_dirty = nc;
		}
	}
	char *k = d->n_dirty < d->cap_dirty ? strdup(key) : NULL;
	if (k)
		d->dirty[d->n_dirty++] = k;
	else
		d->rescan = true;
}

void deliver_notify_many(node *n, const route_target *const *t, size_t count)
{
	deliver *d = n->deliver;
	for (size_t i = 0; i < count; i++)
		M_INC(t[i]->m->backlog);
	if (!d || !count)
		return;
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < count; i++)
		if (i == 0 || t[i] != t[i - 1])
			mark_dirty(d, t[i]->key);
	pthread_mutex_unlock(&d->mu);
	curl_multi_wakeup(d->multi); /* one wake-up for the whole commit */
}

void deliver_notify(node *n, const route_target *t) { deliver_notify_many(n, &t, 1); }

void job_post_done_many(deliver *d, job *const *jobs, size_t n)
{
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < n; i++) {
		jobs[i]->next = d->done_head;
		d->done_head = jobs[i];
	}
	pthread_mutex_unlock(&d->mu);
	curl_multi_wakeup(d->multi);
}

void job_post_done(deliver *d, job *j) { job_post_done_many(d, &j, 1); }

static void job_free(job *j)
{
	evlog_fresh_release(j->fresh_ix);
	http_cleanup_job(j);
	free(j->payload);
	free(j->fwd_targets);
	free((char *)j->fwd.envelope);
	if (j->fwd_rt)
		route_release(j->fwd_rt);
	free(j->queue_ref);
	free(j);
}

/* A job whose outcome write completed: release its slot. */
static void job_retire(deliver *d, job *j)
{
	tstate *ts = j->ts;
	ts->pending--;
	d->pending--;
	seq_del(ts, j->seq);
	if (ts->pending == 0) {
		free(ts->seqs.slot);
		ts->seqs.slot = NULL;
	}
	if (j->write_err != BB_OK) {
		/* The outcome was not recorded: the task is still in the store as it was and will be
		 * attempted again (a duplicate delivery, which at-least-once allows). */
		BB_LOGW("deliver", "msg=\"could not record delivery outcome\" target=%s err=%s", ts->key,
			bb_errname(j->write_err));
		ts->next_due_ms = bb_wall_ms(d->n->clock) + 1000;
	} else {
		if (!j->rescheduled && !j->cancelled)
			atomic_fetch_sub(&j->tm->backlog, 1);
		ts->next_due_ms = 0; /* a slot opened: look again (fill finds the next due time) */
	}
	job_free(j);
}

static void deliver_discover(deliver *d);

static void drain_mailbox(deliver *d)
{
	pthread_mutex_lock(&d->mu);
	job *done = d->done_head;
	d->done_head = NULL;
	char **dirty = d->dirty;
	size_t n_dirty = d->n_dirty;
	bool rescan = d->rescan;
	d->dirty = NULL;
	d->n_dirty = d->cap_dirty = 0;
	d->rescan = false;
	pthread_mutex_unlock(&d->mu);
	while (done) {
		job *next = done->next;
		job_retire(d, done);
		done = next;
	}
	deliver_fresh_drain(d);
	for (size_t i = 0; i < n_dirty; i++) {
		tstate *ts = deliver_ts_get(d, dirty[i], strlen(dirty[i]), true);
		if (ts)
			ts->next_due_ms = 0;
		free(dirty[i]);
	}
	free(dirty);
	if (rescan)
		deliver_discover(d); /* more notifications than the mailbox holds: look at every target */
}

/* Finds every target that has tasks in the store (skip scan over the task table). */
static void deliver_discover(deliver *d)
{
	MDB_txn *txn;
	if (db_read_begin(d->n->db, &txn) != BB_OK)
		return;
	MDB_cursor *cur;
	if (mdb_cursor_open(txn, db_dbi(d->n->db, DB_T_TASK), &cur) == 0) {
		MDB_val k, v;
		int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		while (rc == 0) {
			size_t pl;
			int64_t due;
			uint64_t seq;
			task_key_parse(k.mv_data, k.mv_size, &pl, &due, &seq);
			tstate *ts = deliver_ts_get(d, k.mv_data, pl, true);
			if (ts)
				ts->next_due_ms = 0;
			uint8_t next[TASK_KEY_MAX];
			memcpy(next, k.mv_data, pl);
			next[pl] = 1; /* just past every "<prefix>\0..." key */
			k.mv_data = next;
			k.mv_size = pl + 1;
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		}
		mdb_cursor_close(cur);
	}
	db_read_end(txn);
}

/* At start: one pass over the task table finds every target with work persisted before a restart
 * (so it resumes: at-least-once across kill -9) and counts its tasks for the backlog gauge. The routing
 * lookup runs once per target, not per task. */
static void resume_targets(deliver *d)
{
	MDB_txn *txn;
	if (db_read_begin(d->n->db, &txn) != BB_OK)
		return;
	route_table *rt = route_acquire(d->n);
	MDB_cursor *cur;
	if (mdb_cursor_open(txn, db_dbi(d->n->db, DB_T_TASK), &cur) == 0) {
		MDB_val k, v;
		char key[TASK_KEY_MAX] = "";
		size_t key_len = 0;
		target_metrics *tm = NULL;
		for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			size_t pl;
			int64_t due;
			uint64_t seq;
			task_key_parse(k.mv_data, k.mv_size, &pl, &due, &seq);
			if (pl != key_len || memcmp(key, k.mv_data, pl) != 0) {
				memcpy(key, k.mv_data, pl);
				key[pl] = '\0';
				key_len = pl;
				tstate *ts = deliver_ts_get(d, key, pl, true);
				if (ts)
					ts->next_due_ms = 0;
				const route_target *t = route_find_target(rt, key, NULL, NULL);
				tm = t ? t->m : NULL;
			}
			if (tm)
				M_INC(tm->backlog);
		}
		mdb_cursor_close(cur);
	}
	route_release(rt);
	db_read_end(txn);
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

int64_t backoff_ms(node *n, uint32_t attempt)
{
	uint64_t cap = n->cfg.retry_max_ms ? n->cfg.retry_max_ms : 1;
	uint64_t ceil = n->cfg.retry_base_ms;
	for (uint32_t i = 0; i < attempt && ceil < cap; i++)
		ceil *= 2;
	if (ceil > cap)
		ceil = cap;
	uint64_t r;
	bb_random(&bb_rng_system, &r, sizeof r);
	return (int64_t)(r % (ceil + 1)); /* full jitter */
}

/* A task is identified by (target, seq): its key changes when it is rescheduled, and the new key is
 * visible before the job that rescheduled it has been retired. */
static size_t seq_home(uint64_t seq) { return (size_t)((seq * 0x9E3779B97F4A7C15ull) >> 52) & (SEQSET_CAP - 1); }

static bool job_in_flight(tstate *ts, uint64_t seq)
{
	if (!ts->seqs.slot)
		return false;
	for (size_t i = seq_home(seq);; i = (i + 1) & (SEQSET_CAP - 1)) {
		if (ts->seqs.slot[i] == 0)
			return false;
		if (ts->seqs.slot[i] == seq)
			return true;
	}
}

/* Never full: a target has at most PENDING_PER_TARGET (< SEQSET_CAP) jobs. The table exists while the
 * target has jobs (fill allocates it, job_retire frees it), so idle targets cost no memory. */
static void seq_add(tstate *ts, uint64_t seq)
{
	size_t i = seq_home(seq);
	while (ts->seqs.slot[i] != 0)
		i = (i + 1) & (SEQSET_CAP - 1);
	ts->seqs.slot[i] = seq;
	ts->seqs.n++;
}

/* Running HTTP transfers, for deliver_stop (O(1) link and unlink). */
static void transfer_link(deliver *d, job *j)
{
	j->tprev = NULL;
	j->tnext = d->transfers;
	if (d->transfers)
		d->transfers->tprev = j;
	d->transfers = j;
}

static void transfer_unlink(deliver *d, job *j)
{
	if (j->tprev)
		j->tprev->tnext = j->tnext;
	else
		d->transfers = j->tnext;
	if (j->tnext)
		j->tnext->tprev = j->tprev;
	j->tnext = j->tprev = NULL;
}

static void seq_del(tstate *ts, uint64_t seq)
{
	if (!ts->seqs.slot)
		return;
	size_t i = seq_home(seq);
	while (ts->seqs.slot[i] != seq) {
		if (ts->seqs.slot[i] == 0)
			return;
		i = (i + 1) & (SEQSET_CAP - 1);
	}
	/* backward-shift deletion keeps every probe chain unbroken */
	size_t j = i;
	for (;;) {
		ts->seqs.slot[i] = 0;
		for (;;) {
			j = (j + 1) & (SEQSET_CAP - 1);
			if (ts->seqs.slot[j] == 0) {
				ts->seqs.n--;
				return;
			}
			size_t h = seq_home(ts->seqs.slot[j]);
			if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
				continue;
			break;
		}
		ts->seqs.slot[i] = ts->seqs.slot[j];
		i = j;
	}
}

/* The attempt is over (its outcome write is being submitted): free its slot toward the target. The
 * job stays pending, and its task skipped, until the write completes. */
static void attempt_done(deliver *d, job *j)
{
	j->ts->inflight--;
	d->inflight--;
	atomic_fetch_sub(&j->tm->inflight, 1);
	j->ts->next_due_ms = 0;
}

/* Starts one attempt of the task at key k (value v). Returns false when the target's rate limit
 * has no token now (the job was not started; *wait_ms says when to look again). */
static bool dispatch(deliver *d, tstate *ts, MDB_txn *txn, route_table *rt, meta_snap *s, const MDB_val *k,
		     const MDB_val *v, int64_t now_ms, int64_t *wait_ms, const fresh_item *fresh)
{
	node *n = d->n;
	job *j = calloc(1, sizeof *j);
	if (!j)
		return false;
	j->d = d;
	j->ts = ts;
	memcpy(j->tkey, k->mv_data, k->mv_size);
	j->tkey_len = k->mv_size;
	size_t pl;
	int64_t due;
	task_key_parse(k->mv_data, k->mv_size, &pl, &due, &j->seq);
	j->started_ns = bb_mono_ns(n->clock);
	task_decode(v->mv_data, v->mv_size, &j->task);
	const route_rule *rr = NULL;
	const route_target *t = route_find_target(rt, ts->key, &rr, NULL);
	static target_metrics orphan_tm;
	static rule_metrics orphan_rm;
	j->tm = t ? t->m : &orphan_tm;
	j->rm = rr ? rr->m : &orphan_rm;
	ev_record rec;
	bb_err re = evlog_read(n, txn, j->seq, &j->task, &rec);
	bool started = true;
	if (!t) {
		j->outcome = OUT_DROP;
		snprintf(j->err_code, sizeof j->err_code, "NO_RESOURCE");
		snprintf(j->err_msg, sizeof j->err_msg, "The rule or target no longer exists.");
	} else {
		snprintf(j->rule_arn, sizeof j->rule_arn, "%s", rr->arn);
		snprintf(j->target_arn, sizeof j->target_arn, "%s", t->arn);
		snprintf(j->dlq_arn, sizeof j->dlq_arn, "%s", t->dlq_arn ? t->dlq_arn : "");
		j->max_retries = t->max_retries;
		j->max_age_s = t->max_age_s;
		j->kind = t->kind;
		if (re != BB_OK || now_ms - j->task.ingest_ms > j->max_age_s * 1000) {
			j->outcome = OUT_FATAL;
			j->exhausted = "MaximumEventAgeInSeconds";
			snprintf(j->err_code, sizeof j->err_code, "EVENT_EXPIRED");
			snprintf(j->err_msg, sizeof j->err_msg, "The event is older than MaximumEventAgeInSeconds.");
			if (re == BB_OK) {
				j->payload = malloc(rec.len + 1);
				if (j->payload) {
					memcpy(j->payload, rec.envelope, rec.len);
					j->payload[rec.len] = '\0';
					j->payload_len = rec.len;
				}
			}
		} else if (deliver_payload(t, rr, &rec, &j->payload, &j->payload_len) != BB_OK) {
			/* AWS drops an event whose transformed input is not valid JSON, silently. */
			j->outcome = OUT_FATAL;
			snprintf(j->err_code, sizeof j->err_code, "INVALID_INPUT");
			snprintf(j->err_msg, sizeof j->err_msg, "The transformed input is not valid.");
		} else {
			M_INC(j->rm->attempts);
			int rc = 0;
			*wait_ms = 0;
			if (t->kind == TGT_APIDEST)
				rc = http_start_job(d, j, t, s, now_ms, wait_ms);
			else if (t->kind == TGT_QUEUE)
				rc = queue_prepare(d, j, t, s);
			else if (t->kind == TGT_BUS)
				rc = bus_prepare(d, j, t, &rec);
			else {
				j->outcome = OUT_FATAL;
				snprintf(j->err_code, sizeof j->err_code, "NO_RESOURCE");
				snprintf(j->err_msg, sizeof j->err_msg, "Busbar cannot deliver to this kind of target.");
				rc = -1;
			}
			if (*wait_ms > 0) {
				atomic_fetch_sub(&j->rm->attempts, 1);
				if (!j->waits_token)
					M_INC(j->rm->throttled);
				evlog_record_free(&rec);
				job_free(j);
				return false;
			}
			if (rc == 0 && t->kind == TGT_APIDEST)
				started = false; /* the transfer is running; its end writes the outcome */
		}
	}
	if (re == BB_OK)
		evlog_record_free(&rec);
	if (fresh) { /* the item's reference is the job's now */
		j->fresh_ix = fresh->ix;
		j->fresh_cell = fresh->cell;
	}
	seq_add(ts, j->seq);
	if (!started)
		transfer_link(d, j);
	ts->inflight++;
	d->inflight++;
	ts->pending++;
	d->pending++;
	M_INC(j->tm->inflight);
	if (started) {
		attempt_done(d, j);
		write_outcome(d, j);
	}
	return true;
}

/* Dispatches due tasks of one target until its slots are full. */
static void fill(deliver *d, tstate *ts, MDB_txn *txn, route_table *rt, meta_snap *s, int64_t now_ms)
{
	node *n = d->n;
	unsigned tcap = bb_max_u(n->cfg.deliver_target_inflight, 1), gcap = bb_max_u(n->cfg.deliver_max_inflight, 1);
	/* first attempts posted at log commit, before their tasks' store commit */
	const fresh_item *f;
	while ((f = deliver_fresh_head(ts))) {
		if (ts->inflight >= tcap || d->inflight >= gcap || ts->pending >= PENDING_PER_TARGET ||
		    d->pending >= PENDING_MAX) {
			ts->next_due_ms = 0;
			return; /* a slot first */
		}
		if (!ts->seqs.slot && !(ts->seqs.slot = calloc(SEQSET_CAP, sizeof(uint64_t))))
			return;
		uint8_t key[TASK_KEY_MAX], val[24];
		size_t kl = task_key(key, ts->key, f->ingest_ms, f->seq);
		ev_task t = {.attempts = 0, .ingest_ms = f->ingest_ms, .lsn = f->lsn, .rec_size = f->size};
		task_value(val, &t);
		MDB_val k = {kl, key}, v = {24, val};
		int64_t wait = 0;
		if (!kl || job_in_flight(ts, f->seq)) {
			evlog_fresh_release(f->ix);
			deliver_fresh_pop(d, ts);
			continue;
		}
		if (!dispatch(d, ts, txn, rt, s, &k, &v, now_ms, &wait, f)) {
			ts->next_due_ms = now_ms + (wait > 0 ? wait : 100);
			return; /* rate limit: the item stays at the head */
		}
		deliver_fresh_pop(d, ts);
	}
	MDB_cursor *cur;
	if (mdb_cursor_open(txn, db_dbi(n->db, DB_T_TASK), &cur) != 0)
		return;
	uint8_t start[TASK_KEY_MAX];
	memcpy(start, ts->key, ts->key_len);
	start[ts->key_len] = 0;
	MDB_val k = {ts->key_len + 1, start}, v;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	ts->next_due_ms = INT64_MAX;
	while (rc == 0) {
		if (k.mv_size != ts->key_len + 17 || memcmp(k.mv_data, ts->key, ts->key_len) != 0 ||
		    ((uint8_t *)k.mv_data)[ts->key_len] != 0)
			break;
		size_t pl;
		int64_t due;
		uint64_t seq;
		task_key_parse(k.mv_data, k.mv_size, &pl, &due, &seq);
		if (due > now_ms) {
			ts->next_due_ms = due;
			break;
		}
		if (!job_in_flight(ts, seq) && !deliver_fresh_owns(ts, seq, &v)) {
			if (ts->inflight >= tcap || d->inflight >= gcap || ts->pending >= PENDING_PER_TARGET ||
			    d->pending >= PENDING_MAX) {
				ts->next_due_ms = 0; /* more is due: look again when a slot opens */
				break;
			}
			if (!ts->seqs.slot && !(ts->seqs.slot = calloc(SEQSET_CAP, sizeof(uint64_t))))
				break;
			int64_t wait = 0;
			if (!dispatch(d, ts, txn, rt, s, &k, &v, now_ms, &wait, NULL)) {
				ts->next_due_ms = now_ms + (wait > 0 ? wait : 100);
				break;
			}
		}
		db_trim_if_over(n->db); /* a long walk over a backlog reads many pages (db.h) */
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
}

static void *deliver_main(void *arg)
{
	pthread_setname_np(pthread_self(), "bb-deliver");
	deliver *d = arg;
	node *n = d->n;
	resume_targets(d);
	while (!atomic_load(&d->stopping)) {
		drain_mailbox(d);
		db_trim_if_over(n->db); /* the engine reads tasks through the store's map (db.h) */
		int64_t now = bb_wall_ms(n->clock);
		int64_t next = now + 1000;
		route_table *rt = NULL;
		meta_snap *s = NULL;
		MDB_txn *txn = NULL;
		unsigned gcap = bb_max_u(n->cfg.deliver_max_inflight, 1);
		for (size_t i = 0; i < d->tab_cap; i++) {
			for (tstate *ts = d->tab[i]; ts; ts = ts->hnext) {
				if (ts->next_due_ms <= now && d->inflight < gcap &&
				    ts->inflight < bb_max_u(n->cfg.deliver_target_inflight, 1)) {
					if (!txn) {
						if (db_read_begin(n->db, &txn) != BB_OK)
							break;
						rt = route_acquire(n);
						s = meta_snap_acquire(n->meta);
						/* a task this transaction sees was committed after its post: take the
						 * posts now, so the scan knows which first attempts are fresh ones */
						deliver_fresh_drain(d);
					}
					fill(d, ts, txn, rt, s, now);
				}
				/* Future work sets the sleep; due work blocked by full slots waits for a completion,
				 * which wakes the poll through the mailbox. */
				if (ts->next_due_ms > now && ts->next_due_ms < next)
					next = ts->next_due_ms;
			}
		}
		if (txn) {
			db_read_end(txn);
			route_release(rt);
			meta_snap_release(s);
		}
		write_flush(d); /* queue and bus deliveries of this round: one store write */
		int64_t wait = next - bb_wall_ms(n->clock);
		if (wait < 0)
			wait = 0;
		if (wait > 1000)
			wait = 1000;
		int running = 0;
		int64_t hc_next = hc_next_deadline_ns(d), mono = bb_mono_ns(n->clock);
		if (hc_next != INT64_MAX && (hc_next - mono) / 1000000 + 1 < wait)
			wait = hc_next > mono ? (hc_next - mono) / 1000000 + 1 : 0;
		struct curl_waitfd *extra;
		size_t n_extra = hc_waitfds(d, &extra);
		curl_multi_poll(d->multi, extra, (unsigned)n_extra, (int)wait, NULL);
		hc_service(d, extra, n_extra, bb_mono_ns(n->clock));
		curl_multi_perform(d->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(d->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			job *j = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			CURLcode rc = msg->data.result;
			curl_multi_remove_handle(d->multi, msg->easy_handle);
			if (j) {
				transfer_unlink(d, j);
				http_finish_job(d, j, rc);
				http_easy_put(d, j->easy); /* back to the pool now, not when the outcome is written */
				j->easy = NULL;
				attempt_done(d, j);
				write_outcome(d, j);
			}
		}
		write_flush(d); /* the outcomes of the transfers that ended */
	}
	write_flush(d);
	return NULL;
}

void hc_job_ended(deliver *d, job *j)
{
	transfer_unlink(d, j);
	attempt_done(d, j);
	write_outcome(d, j);
}

bb_err deliver_start(node *n)
{
	deliver *d = calloc(1, sizeof *d);
	if (!d)
		return BB_ENOMEM;
	d->n = n;
	pthread_mutex_init(&d->mu, NULL);
	d->multi = curl_multi_init();
	d->scratch = pat_scratch_new();
	if (!d->multi || !d->scratch)
		goto fail;
	curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)bb_max_u(n->cfg.deliver_target_inflight, 1));
	n->deliver = d;
	if (pthread_create(&d->thread, NULL, deliver_main, d) != 0) {
		n->deliver = NULL;
		goto fail;
	}
	return BB_OK;
fail:
	if (d->multi)
		curl_multi_cleanup(d->multi);
	if (d->scratch)
		pat_scratch_free(d->scratch);
	pthread_mutex_destroy(&d->mu);
	free(d);
	return BB_ENOMEM;
}

/* Stops the thread. Jobs in flight are abandoned without recording an outcome: their tasks stay in
 * the store and are attempted again after the restart (at-least-once). Call after the HTTP server
 * stopped and before the store closes; the store's writer completes queued outcome writes first. */
void deliver_stop(node *n)
{
	deliver *d = n->deliver;
	if (!d)
		return;
	atomic_store(&d->stopping, true);
	curl_multi_wakeup(d->multi);
	pthread_join(d->thread, NULL);
	n->deliver = NULL;
	/* Jobs whose outcome write is still queued in the store are completed by db_close
	 * (BB_ESHUTDOWN) and posted to this mailbox; the node frees the engine after the store. */
	d->n = n;
	/* Running transfers are abandoned (their tasks stay in the store); jobs with a pending store
	 * write are freed by deliver_free, from the mailbox. */
	while (d->transfers) {
		job *j = d->transfers;
		transfer_unlink(d, j);
		curl_multi_remove_handle(d->multi, j->easy);
		job_free(j);
	}
	n->deliver_dead = d;
}

void deliver_free(node *n)
{
	deliver *d = n->deliver_dead;
	if (!d)
		return;
	/* After db_close every outcome write has completed: their jobs are in the mailbox. */
	for (job *j = d->done_head, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	for (size_t i = 0; i < d->n_dirty; i++)
		free(d->dirty[i]);
	free(d->dirty);
	for (size_t i = 0; i < d->tab_cap; i++)
		for (tstate *t = d->tab[i], *next; t; t = next) {
			next = t->hnext;
			free(t->key);
			free(t->seqs.slot);
			deliver_fresh_ring_free(t);
			http_prep_release(t->prep);
			free(t->qref);
			free(t);
		}
	free(d->tab);
	deliver_fresh_free(d);
	hc_free(d);
	http_state_free(d);
	pat_scratch_free(d->scratch);
	curl_multi_cleanup(d->multi);
	pthread_mutex_destroy(&d->mu);
	free(d);
	n->deliver_dead = NULL;
}
