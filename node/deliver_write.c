/* node/deliver_write.c — recording a delivery's outcome in the store, and the deliveries that are
 * store writes themselves (built-in queue targets, event-bus targets, dead-letter queues).
 *
 * Every outcome is one store write that removes the task and, in the same transaction, does what the
 * outcome requires: put the message into the target queue, append the event to the target bus (with
 * its delivery tasks), re-insert the task with its next due time, or put the message into the DLQ.
 * So a queue or bus delivery happens exactly once per successful write, and a crash before the
 * commit leaves the task to be attempted again.
 *
 * Retries: attempt n (1-based) failing with a retryable error is scheduled after
 * random(0, min(--retry-max-ms, --retry-base-ms * 2^(n-1))) ms (full jitter). Retries end when
 * MaximumRetryAttempts retries were made or the next attempt would come after the event's age passed
 * MaximumEventAgeInSeconds, whichever is first; the DLQ message then carries that condition in
 * EXHAUSTED_RETRY_CONDITION. Non-retryable failures go to the DLQ at once, without that attribute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver_int.h"
#include "xform/xform.h"

typedef enum action { ACT_DELETE, ACT_RESCHEDULE, ACT_QUEUE, ACT_FORWARD, ACT_DLQ } action;

bb_err deliver_payload(const route_target *t, const route_rule *rr, const ev_record *rec, char **out, size_t *len)
{
	if (!t->xf) {
		char *p = malloc(rec->len + 1);
		if (!p)
			return BB_ENOMEM;
		memcpy(p, rec->envelope, rec->len);
		p[rec->len] = '\0';
		*out = p;
		*len = rec->len;
		return BB_OK;
	}
	xform_ctx ctx = {rr->arn, rr->name, rec->ingest_ms};
	return xform_apply(t->xf, rec->envelope, rec->len, &ctx, out, len);
}

int queue_prepare(deliver *d, job *j, const route_target *t, meta_snap *s)
{
	/* The queue is resolved once per target and metadata index (a JSON parse of its record). */
	tstate *ts = j->ts;
	uint64_t idx = meta_snap_index(s);
	if (!ts->qref || ts->qref_index != idx) {
		if (!ts->qref)
			ts->qref = calloc(1, sizeof *ts->qref);
		if (ts->qref) {
			ts->qref_missing = sqs_resolve_arn(d->n, s, t->arn, ts->qref) != BB_OK;
			ts->qref_index = idx;
		}
	}
	sqs_ref *q = ts->qref ? malloc(sizeof *q) : NULL;
	if (!q) {
		j->outcome = OUT_RETRY;
		snprintf(j->err_code, sizeof j->err_code, "INTERNAL");
		return -1;
	}
	if (ts->qref_missing) {
		free(q);
		j->outcome = OUT_FATAL;
		snprintf(j->err_code, sizeof j->err_code, "NO_RESOURCE");
		snprintf(j->err_msg, sizeof j->err_msg, "The queue does not exist.");
		return -1;
	}
	*q = *ts->qref;
	j->queue_ref = q;
	j->outcome = OUT_OK;
	return 0;
}

int bus_prepare(deliver *d, job *j, const route_target *t, const ev_record *rec)
{
	/* "arn:aws:events:<region>:<acct>:event-bus/<name>" in this region and account (the tenancy
	 * issue adds the others). An event that already came from another bus is not forwarded again
	 * (reference §7); such tasks are never created, this is the second line of that guard. */
	char region[64], acct[16];
	const char *name;
	if (!bus_arn_split(t->arn, region, acct, &name) || strcmp(region, d->n->region) != 0 || rec->hops > 0) {
		j->outcome = OUT_FATAL;
		snprintf(j->err_code, sizeof j->err_code, rec->hops ? "NO_PERMISSIONS" : "NO_RESOURCE");
		snprintf(j->err_msg, sizeof j->err_msg, "%s",
			 rec->hops ? "Events received from another event bus are not forwarded again."
				   : "Only event buses of this region can be targets.");
		return -1;
	}
	route_table *rt = route_acquire(d->n);
	const route_bus *rb = route_find_bus(rt, acct, name);
	if (!rb) {
		route_release(rt);
		j->outcome = OUT_FATAL;
		snprintf(j->err_code, sizeof j->err_code, "NO_RESOURCE");
		snprintf(j->err_msg, sizeof j->err_msg, "The target event bus does not exist.");
		return -1;
	}
	/* The event keeps its envelope (id included) and is matched on the target bus; event-bus
	 * targets there are skipped (one hop). The payload is what the target's input settings made. */
	j->fwd_rt = rt;
	j->fwd.bus_key = rb->key;
	j->fwd.envelope = j->payload;
	j->fwd.len = j->payload_len;
	j->payload = NULL; /* owned by fwd now (freed as fwd.envelope) */
	j->fwd.hops = 1;
	uint32_t ids[512];
	size_t nm = 0;
	if (rb->set && pat_match(rb->set, d->scratch, j->fwd.envelope, j->fwd.len, ids, BB_ARRAY_LEN(ids), &nm) != BB_OK)
		nm = 0;
	if (nm > BB_ARRAY_LEN(ids))
		nm = BB_ARRAY_LEN(ids);
	size_t nt = 0;
	for (size_t i = 0; i < nm; i++)
		if (ids[i] < rb->id_cap && rb->by_id[ids[i]])
			nt += rb->by_id[ids[i]]->n_targets;
	j->fwd_targets = nt ? malloc(nt * sizeof *j->fwd_targets) : NULL;
	for (size_t i = 0; i < nm; i++) {
		const route_rule *rr = ids[i] < rb->id_cap ? rb->by_id[ids[i]] : NULL;
		for (size_t k = 0; j->fwd_targets && rr && k < rr->n_targets; k++)
			if (rr->targets[k].kind != TGT_BUS)
				j->fwd_targets[j->fwd.n_targets++] = &rr->targets[k];
		if (rr) {
			M_INC(rr->m->matched);
			M_INC(rr->m->triggered);
		}
	}
	j->fwd.targets = j->fwd_targets;
	j->outcome = OUT_OK;
	return 0;
}

/* ---- the outcome write -------------------------------------------------------------------------- */

static action decide(deliver *d, job *j, int64_t now_ms)
{
	node *n = d->n;
	if (j->outcome == OUT_OK)
		return j->kind == TGT_QUEUE ? ACT_QUEUE : j->kind == TGT_BUS ? ACT_FORWARD : ACT_DELETE;
	if (j->outcome == OUT_DROP)
		return ACT_DELETE;
	if (j->outcome == OUT_RETRY) {
		uint32_t done_attempts = j->task.attempts + 1; /* including this one */
		if ((long long)j->task.attempts >= j->max_retries) {
			j->exhausted = "MaximumRetryAttempts";
		} else {
			j->next_due_ms = now_ms + backoff_ms(n, done_attempts - 1);
			if (j->next_due_ms - j->task.ingest_ms > j->max_age_s * 1000)
				j->exhausted = "MaximumEventAgeInSeconds";
			else
				return ACT_RESCHEDULE;
		}
	}
	/* permanently failed */
	if (j->dlq_arn[0])
		return ACT_DLQ;
	return ACT_DELETE;
}

static bb_err outcome_apply(db *dbh, MDB_txn *txn, void *arg)
{
	job *j = arg;
	node *n = j->d->n;
	MDB_val k = {j->tkey_len, j->tkey};
	int rc = mdb_del(txn, db_dbi(dbh, DB_T_TASK), &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return db_err(rc);
	action act = (action)j->act;
	switch (act) {
	case ACT_DELETE:
		return BB_OK;
	case ACT_RESCHEDULE: {
		uint8_t nk[TASK_KEY_MAX];
		size_t nkl = task_key(nk, j->ts->key, j->next_due_ms, j->seq);
		ev_task t = j->task; /* where the event is stays */
		t.attempts++;
		return nkl ? task_put(n, txn, nk, nkl, &t) : BB_EINVAL;
	}
	case ACT_QUEUE: {
		char id[37];
		return sqs_put_txn(n, txn, j->queue_ref, j->payload, j->payload_len, NULL, 0, bb_wall_ms(n->clock), id);
	}
	case ACT_FORWARD:
		return BB_OK; /* the forwarded event is in the log already; this write indexes it (write_outcome) */
	case ACT_DLQ: {
		char attempts[16];
		snprintf(attempts, sizeof attempts, "%u", j->task.attempts); /* retries made */
		sqs_attr attrs[6] = {{"RULE_ARN", j->rule_arn},
				     {"TARGET_ARN", j->target_arn},
				     {"ERROR_CODE", j->err_code},
				     {"ERROR_MESSAGE", j->err_msg},
				     {"RETRY_ATTEMPTS", attempts},
				     {"EXHAUSTED_RETRY_CONDITION", j->exhausted}};
		size_t na = j->exhausted ? 6 : 5;
		char id[37];
		const char *body = j->payload ? j->payload : "";
		size_t blen = j->payload ? j->payload_len : 0;
		return sqs_put_txn(n, txn, j->queue_ref, body, blen, attrs, na, bb_wall_ms(n->clock), id);
	}
	}
	return BB_EINVAL;
}

/* Metrics and wake-ups of one recorded outcome (writer thread); the caller posts j back. */
static void outcome_record(job *j, bb_err err, const uint8_t **notified_qid)
{
	deliver *d = j->d;
	node *n = d->n;
	action act = (action)j->act;
	j->write_err = err;
	/* Delivery latency: from ingest to the moment the target had the event — the HTTP answer, or the
	 * commit that made the queue message or forwarded event visible. */
	double age_ms = (double)((j->delivered_ms ? j->delivered_ms : bb_wall_ms(n->clock)) - j->task.ingest_ms);
	if (err == BB_OK) {
		switch (act) {
		case ACT_DELETE:
			if (j->outcome == OUT_OK) {
				M_INC(j->rm->invocations);
				hist_observe(&j->tm->delivery_latency, age_ms);
			} else {
				M_INC(j->rm->invocations);
				M_INC(j->rm->failed);
				M_INC(j->rm->dead_letter);
				if (j->outcome == OUT_DROP)
					metrics_count_dropped(n->metrics);
			}
			break;
		case ACT_RESCHEDULE:
			M_INC(j->tm->retries);
			break;
		case ACT_QUEUE: {
			M_INC(j->rm->invocations);
			hist_observe(&j->tm->delivery_latency, age_ms);
			const sqs_ref *q = j->queue_ref;
			if (!*notified_qid || memcmp(*notified_qid, q->qid, 16) != 0)
				sqs_notify(n, q); /* once per queue and group */
			*notified_qid = q->qid;
			break;
		}
		case ACT_FORWARD: /* the index write that carried this outcome told the engine of the new tasks */
			M_INC(j->rm->invocations);
			hist_observe(&j->tm->delivery_latency, age_ms);
			break;
		case ACT_DLQ:
			M_INC(j->rm->invocations);
			M_INC(j->rm->failed);
			M_INC(j->rm->dead_letter);
			M_INC(j->rm->sent_to_dlq);
			sqs_notify(n, j->queue_ref);
			BB_LOGW("deliver",
				"msg=\"sent to dead-letter queue\" rule=%s target=%s dlq=%s error_code=%s attempts=%u exhausted=%s",
				j->rule_arn, j->target_arn, j->dlq_arn, j->err_code, j->task.attempts + 1,
				j->exhausted ? j->exhausted : "-");
			break;
		}
	} else if (act == ACT_DLQ && err == BB_ENOSPC) {
		M_INC(j->rm->failed_to_dlq);
	}
}

static void outcome_done(void *arg, bb_err err)
{
	job *j = arg;
	const uint8_t *qid = NULL;
	outcome_record(j, err, &qid);
	job_post_done(j->d, j);
}

/* A put into a queue (target or DLQ) is announced when it is applied, not only after the commit: a
 * woken receive's own store write comes after it and sees the message before the fsync
 * (at-least-once holds: if the commit fails, the task stays and the message is put again). */
static void notify_applied(node *n, job *const *jobs, size_t count)
{
	const uint8_t *last = NULL;
	for (size_t i = 0; i < count; i++) {
		action act = (action)jobs[i]->act;
		if (act != ACT_QUEUE && act != ACT_DLQ)
			continue;
		const sqs_ref *q = jobs[i]->queue_ref;
		if (!last || memcmp(last, q->qid, 16) != 0)
			sqs_notify(n, q);
		last = q->qid;
	}
}

/* ---- outcome groups --------------------------------------------------------------------------
 * The outcomes that end in one loop of the delivery thread are written as one store write: one
 * nested transaction instead of one per job, one wake-up of the delivery thread instead of one per
 * job. If one of them fails on its own (a message the queue refuses, say), the group's changes are
 * discarded and each job is written alone, so one job's failure never costs another's outcome. Forwards
 * to another bus always go alone (their apply assigns sequence numbers). */
typedef struct outgroup {
	deliver *d;
	db_write w;
	size_t n;
	bool job_failed;   /* an apply failed for a reason of its own */
	job *jobs[];
} outgroup;

static bb_err group_apply(db *dbh, MDB_txn *txn, void *arg)
{
	outgroup *g = arg;
	for (size_t i = 0; i < g->n; i++) {
		bb_err e = outcome_apply(dbh, txn, g->jobs[i]);
		if (e != BB_OK) {
			g->job_failed = e != BB_ENOSPC && e != BB_EIO;
			return e;
		}
	}
	notify_applied(g->d->n, g->jobs, g->n);
	return BB_OK;
}

static bb_err one_apply(db *dbh, MDB_txn *txn, void *arg)
{
	job *j = arg;
	bb_err e = outcome_apply(dbh, txn, j);
	if (e == BB_OK)
		notify_applied(j->d->n, &j, 1);
	return e;
}

static void submit_one(deliver *d, job *j)
{
	j->w = (db_write){.apply = one_apply, .done = outcome_done, .arg = j};
	bb_err e = db_submit(d->n->db, &j->w);
	if (e != BB_OK) {
		j->write_err = e;
		job_post_done(d, j);
	}
}

static void group_done(void *arg, bb_err err)
{
	outgroup *g = arg;
	deliver *d = g->d;
	if (err != BB_OK && g->job_failed) {
		for (size_t i = 0; i < g->n; i++)
			submit_one(d, g->jobs[i]); /* from the writer's completion: db_submit does not block */
		free(g);
		return;
	}
	const uint8_t *qid = NULL;
	for (size_t i = 0; i < g->n; i++)
		outcome_record(g->jobs[i], err, &qid);
	job_post_done_many(d, g->jobs, g->n);
	free(g);
}

void write_flush(deliver *d)
{
	size_t n = d->n_outq;
	if (!n)
		return;
	d->n_outq = 0;
	if (n == 1) {
		submit_one(d, d->outq[0]);
		return;
	}
	outgroup *g = malloc(sizeof *g + n * sizeof(job *));
	if (!g) {
		for (size_t i = 0; i < n; i++)
			submit_one(d, d->outq[i]);
		return;
	}
	g->d = d;
	g->n = n;
	g->job_failed = false;
	memcpy(g->jobs, d->outq, n * sizeof(job *));
	g->w = (db_write){.apply = group_apply, .done = group_done, .arg = g};
	bb_err e = db_submit(d->n->db, &g->w);
	if (e != BB_OK) {
		for (size_t i = 0; i < n; i++)
			g->jobs[i]->write_err = e;
		job_post_done_many(d, g->jobs, n);
		free(g);
	}
}

void write_outcome(deliver *d, job *j)
{
	node *n = d->n;
	int64_t now = bb_wall_ms(n->clock);
	action act = decide(d, j, now);
	if (j->outcome != OUT_OK && j->outcome != OUT_DROP)
		BB_LOGW("deliver", "msg=\"delivery failed\" rule=%s target=%s error_code=%s error=\"%s\" attempt=%u next=%s",
			j->rule_arn, j->target_arn, j->err_code, j->err_msg, j->task.attempts + 1,
			act == ACT_RESCHEDULE ? "retry" : act == ACT_DLQ ? "dlq" : "drop");
	if (act == ACT_DLQ) {
		free(j->queue_ref);
		j->queue_ref = calloc(1, sizeof(sqs_ref));
		meta_snap *s = meta_snap_acquire(n->meta);
		bool ok = j->queue_ref && sqs_resolve_arn(n, s, j->dlq_arn, j->queue_ref) == BB_OK;
		meta_snap_release(s);
		if (!ok) {
			M_INC(j->rm->failed_to_dlq);
			BB_LOGW("deliver", "msg=\"dead-letter queue unavailable; event dropped\" rule=%s target=%s dlq=%s",
				j->rule_arn, j->target_arn, j->dlq_arn);
			act = ACT_DELETE;
		}
	}
	j->act = act;
	j->rescheduled = act == ACT_RESCHEDULE;
	/* a fresh first attempt that was delivered or dropped before its task was put: the task never
	 * will be, and there is nothing to write. Only then: a queue message must be written in the same
	 * store commit as the task or after it (a crash between the two must not lose the event). */
	if (j->fresh_cell && act == ACT_DELETE && evlog_fresh_cancel(j->fresh_cell)) {
		j->cancelled = true;
		const uint8_t *qid = NULL;
		outcome_record(j, BB_OK, &qid);
		job_post_done(d, j);
		return;
	}
	/* every other outcome of a fresh attempt updates or deletes its task: that write must follow the
	 * index write that puts the task */
	if (j->fresh_ix)
		evlog_fresh_wait(j->fresh_ix);
	if (act == ACT_FORWARD) {
		/* the event goes to the target bus's log first; the store write that indexes it also deletes
		 * this task (a crash between the two forwards it again: a duplicate, never a loss) */
		j->fwd_app = (ev_append){.e = &j->fwd, .n_entries = 1, .rt = j->fwd_rt, .extra_apply = outcome_apply,
					 .extra_done = outcome_done, .extra_arg = j};
		bb_err e = evlog_append_submit(n, &j->fwd_app);
		if (e != BB_OK) {
			j->write_err = e;
			job_post_done(d, j);
		}
		return;
	}
	if (d->n_outq == OUTQ_MAX)
		write_flush(d);
	d->outq[d->n_outq++] = j;
}
