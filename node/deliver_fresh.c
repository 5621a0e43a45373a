/* node/deliver_fresh.c — first attempts straight from the bus log's commit, without waiting for the
 * store commit of their tasks.
 *
 * A task reaches the store in the index write that follows its event's log commit; waiting for that
 * commit (2-8 ms with queue churn in the store) was most of the publish-to-delivery time. So the log's
 * writer also posts each new (target, seq, LSN) here, before it submits the index write, and the
 * delivery thread attempts it at once from that "fresh" list. Its outcome write goes to the store
 * after the index write (one writer, first in first out; evlog_fresh_wait covers the instant between
 * the post and the index write's submission), so it finds the task there to delete or reschedule. A crash before the index commit loses nothing: the tasks are made again from the log at
 * start (a delivery made meanwhile is then made again: a duplicate, which at-least-once allows).
 *
 * Never twice at once, never missed: a first attempt (attempts 0) the store scan meets is skipped if
 * its seq lies in the target's fresh range [fresh_lo, fresh_hi] — those belong to the fresh list. The
 * range is set when posts are moved onto the target (drain), and the scan drains right after it opens
 * its read transaction: a task visible to the scan was committed after its post, so that post is
 * drained by then. Bounded: at most FRESH_MAX items wait in posts and lists together; beyond it the
 * posters stop (suspended) and tasks go through the store scan only, until every list is empty and a
 * new epoch starts — a range never spans a gap of unposted tasks.
 *
 * Most first attempts end before the store writer gets to their index write (its batches take a few
 * ms under load). An item carries a cell of that write: an attempt that ended for good with nothing
 * to write (delivered, or its target gone) claims it first (evlog_fresh_cancel), and then the task is
 * never put and never deleted — two B-tree changes and a store write fewer per delivery. If the index
 * write got there first, the outcome is written as usual. A delivery to a built-in queue never
 * cancels: its message write could otherwise commit after an index write that no longer holds the
 * task, and a crash between the two would lose the event.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "deliver_int.h"

#define FRESH_MAX 65536

/* One post: the new tasks of one target from one log commit. */
typedef struct fresh_post {
	struct fresh_post *next;
	uint64_t epoch;
	size_t n;
	char *key;
	fresh_item items[];
} fresh_post;

bool deliver_fresh_post(node *n, const route_target *const *targets, const fresh_item *items, size_t count)
{
	deliver *d = n->deliver;
	if (!d || !count)
		return false;
	/* the posts first (all or none: each item's reference then belongs to the engine) */
	fresh_post *first = NULL, *last = NULL;
	for (size_t i = 0; i < count;) {
		const route_target *t = targets[i];
		size_t run = 1;
		while (i + run < count && targets[i + run] == t)
			run++;
		size_t kl = strlen(t->key);
		fresh_post *p = malloc(sizeof *p + run * sizeof(fresh_item) + kl + 1);
		if (!p) {
			while (first) {
				fresh_post *next = first->next;
				free(first);
				first = next;
			}
			return false;
		}
		p->n = run;
		memcpy(p->items, items + i, run * sizeof(fresh_item));
		p->key = (char *)(p->items + run);
		memcpy(p->key, t->key, kl + 1);
		p->next = NULL;
		if (last)
			last->next = p;
		else
			first = p;
		last = p;
		i += run;
	}
	pthread_mutex_lock(&d->mu);
	if (d->fresh_suspended || d->fresh_total + count > FRESH_MAX) {
		d->fresh_suspended = true; /* the store scan takes these; posting resumes in a new epoch */
		pthread_mutex_unlock(&d->mu);
		while (first) {
			fresh_post *next = first->next;
			free(first);
			first = next;
		}
		return false;
	}
	for (fresh_post *p = first; p; p = p->next)
		p->epoch = d->fresh_epoch;
	if (d->fresh_tail)
		d->fresh_tail->next = first;
	else
		d->fresh_head = first;
	d->fresh_tail = last;
	d->fresh_total += count;
	pthread_mutex_unlock(&d->mu);
	curl_multi_wakeup(d->multi);
	return true;
}

static bool ring_push(tstate *ts, const fresh_item *it)
{
	if (ts->fresh_n == ts->fresh_cap) {
		size_t nc = ts->fresh_cap ? ts->fresh_cap * 2 : 64;
		fresh_item *nr = malloc(nc * sizeof *nr);
		if (!nr)
			return false;
		for (size_t i = 0; i < ts->fresh_n; i++)
			nr[i] = ts->fresh[(ts->fresh_head + i) % ts->fresh_cap];
		free(ts->fresh);
		ts->fresh = nr;
		ts->fresh_cap = nc;
		ts->fresh_head = 0;
	}
	ts->fresh[(ts->fresh_head + ts->fresh_n) % ts->fresh_cap] = *it;
	ts->fresh_n++;
	return true;
}

void deliver_fresh_drain(deliver *d)
{
	pthread_mutex_lock(&d->mu);
	fresh_post *p = d->fresh_head;
	d->fresh_head = d->fresh_tail = NULL;
	pthread_mutex_unlock(&d->mu);
	size_t dropped = 0;
	while (p) {
		fresh_post *next = p->next;
		uint64_t ep = p->epoch + 1; /* tstate epochs are +1: 0 means none yet */
		tstate *ts = deliver_ts_get(d, p->key, strlen(p->key), true);
		for (size_t i = 0; i < p->n; i++) {
			const fresh_item *it = &p->items[i];
			if (ts && ts->fresh_closed == ep) {
				dropped++; /* this target's range ended in this epoch: the store scan takes it */
				evlog_fresh_release(it->ix);
				continue;
			}
			if (!ts || !ring_push(ts, it)) {
				dropped++;
				evlog_fresh_release(it->ix);
				if (ts)
					ts->fresh_closed = ep;
				continue;
			}
			if (ts->fresh_epoch != ep) {
				ts->fresh_epoch = ep;
				ts->fresh_lo = it->seq;
			}
			ts->fresh_hi = it->seq;
			ts->next_due_ms = 0;
		}
		free(p);
		p = next;
	}
	if (dropped) {
		pthread_mutex_lock(&d->mu);
		d->fresh_total -= dropped;
		d->fresh_suspended = true; /* posting starts over in a new epoch once every list is empty */
		if (d->fresh_total == 0 && !d->fresh_head) {
			d->fresh_suspended = false;
			d->fresh_epoch++;
		}
		pthread_mutex_unlock(&d->mu);
	}
}

const fresh_item *deliver_fresh_head(const tstate *ts)
{
	return ts->fresh_n ? &ts->fresh[ts->fresh_head] : NULL;
}

void deliver_fresh_pop(deliver *d, tstate *ts)
{
	if (!ts->fresh_n)
		return;
	ts->fresh_head = (ts->fresh_head + 1) % ts->fresh_cap;
	ts->fresh_n--;
	if (!ts->fresh_n) {
		free(ts->fresh);
		ts->fresh = NULL;
		ts->fresh_cap = ts->fresh_head = 0;
	}
	pthread_mutex_lock(&d->mu);
	d->fresh_total--;
	if (d->fresh_total == 0 && d->fresh_suspended && !d->fresh_head) {
		d->fresh_suspended = false; /* every list is empty: posting starts over, in a new epoch */
		d->fresh_epoch++;
	}
	pthread_mutex_unlock(&d->mu);
}

bool deliver_fresh_owns(const tstate *ts, uint64_t seq, const MDB_val *v)
{
	if (!ts->fresh_epoch || seq < ts->fresh_lo || seq > ts->fresh_hi)
		return false;
	ev_task t;
	task_decode(v->mv_data, v->mv_size, &t);
	return t.attempts == 0;
}

void deliver_fresh_free(deliver *d)
{
	for (fresh_post *p = d->fresh_head, *next; p; p = next) {
		next = p->next;
		for (size_t i = 0; i < p->n; i++)
			evlog_fresh_release(p->items[i].ix);
		free(p);
	}
	d->fresh_head = d->fresh_tail = NULL;
}

void deliver_fresh_ring_free(tstate *ts)
{
	for (size_t i = 0; i < ts->fresh_n; i++)
		evlog_fresh_release(ts->fresh[(ts->fresh_head + i) % ts->fresh_cap].ix);
	free(ts->fresh);
	ts->fresh = NULL;
	ts->fresh_n = ts->fresh_cap = ts->fresh_head = 0;
}
