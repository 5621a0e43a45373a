/* node/conn_token.c — OAuth client-credentials tokens for API destinations, fetched off the delivery
 * thread.
 *
 * A token request can take seconds (5 s connect / 10 s total, conn_oauth_fetch); the delivery thread
 * must never wait for one, or one slow authorization server would stall every target. So tokens live
 * here: one entry per connection ARN, filled by this file's own fetch thread. The delivery thread asks
 * conn_tokens_get() and gets a token (READY), "ask again shortly" (PENDING: a fetch is queued or
 * running; the delivery waits without spending an attempt) or the last fetch's failure (FAILED: the
 * attempt fails and retries under the target's policy, as AWS counts an authorization failure).
 *
 * Lifetimes: a token is used until 5 s before its expires_in (default 3600 s); a 401 from the
 * endpoint drops it (conn_tokens_drop) so the next delivery fetches a new one. A changed connection
 * (UpdateConnection: a new fingerprint of its AuthParameters) starts over. After a failed fetch no new
 * one starts for 1 s, doubling per consecutive failure up to 60 s.
 *
 * Connection state: CreateConnection/UpdateConnection of an OAuth connection answer AUTHORIZING (as
 * AWS) and kick a fetch (conn_tokens_authorize); the first token obtained for it writes AUTHORIZED and
 * LastAuthorizedTime to the metadata (compare-and-set on the record's version, only if it is still
 * AUTHORIZING with the same parameters). A failing authorization server leaves it AUTHORIZING and is
 * logged (no secrets). At start, every connection still AUTHORIZING is kicked.
 *
 * Bounds: at most MAX_ENTRIES connections (idle entries are evicted first), so the fetch queue is
 * bounded too (an entry is queued at most once). Thread: any thread may call the functions below; the
 * entries are guarded by one mutex held only for bookkeeping, never across a fetch or a metadata write.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

#define MAX_ENTRIES 1024
#define IDLE_EVICT_MS (10 * 60 * 1000)
#define EXPIRY_MARGIN_MS 5000
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000

typedef struct tok_entry {
	struct tok_entry *next;  /* all entries */
	struct tok_entry *qnext; /* fetch queue */
	char *conn_arn;
	uint64_t fp;             /* fingerprint of the AuthParameters the token was fetched with */
	char *token;             /* NULL until fetched */
	int64_t expires_ms;
	uint64_t gen;            /* changes whenever token changes */
	bool queued;             /* in the fetch queue or being fetched */
	json_t *conn;            /* record to fetch with (owned; NULL: read it from the snapshot) */
	int fails;               /* consecutive failed fetches */
	int64_t retry_ms;        /* after a failure: no new fetch before this */
	int64_t used_ms;         /* last conn_tokens_get */
	char err[160];           /* last failure, no secrets */
} tok_entry;

struct conn_tokens {
	node *n;
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* queued work, or stopping */
	tok_entry *entries;
	size_t n_entries;
	tok_entry *q_head, *q_tail;
	bool stopping;
	_Atomic bool cancel;     /* set by stop: aborts a running fetch */
	pthread_t thread;
};

/* FNV-1a over the canonical text of the connection's AuthParameters (0 if it has none). */
static uint64_t params_fp(const json_t *conn)
{
	char *text = json_dumps(json_object_get(conn, "AuthParameters"), JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return 0;
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	free(text);
	return h ? h : 1;
}

static void entry_free(tok_entry *e)
{
	free(e->conn_arn);
	free(e->token);
	json_decref(e->conn);
	free(e);
}

static void entry_reset(tok_entry *e, uint64_t fp)
{
	free(e->token);
	e->token = NULL;
	e->gen++;
	e->fp = fp;
	e->fails = 0;
	e->retry_ms = 0;
	e->err[0] = '\0';
}

/* Drops idle entries (not queued, unused for IDLE_EVICT_MS). Caller holds mu. */
static void evict_idle(conn_tokens *t, int64_t now_ms)
{
	for (tok_entry **pp = &t->entries; *pp;) {
		tok_entry *e = *pp;
		if (!e->queued && now_ms - e->used_ms > IDLE_EVICT_MS) {
			*pp = e->next;
			entry_free(e);
			t->n_entries--;
		} else {
			pp = &e->next;
		}
	}
}

/* The entry for conn_arn, created if absent; NULL when full or out of memory. Caller holds mu. */
static tok_entry *entry_get(conn_tokens *t, const char *conn_arn, int64_t now_ms)
{
	for (tok_entry *e = t->entries; e; e = e->next)
		if (strcmp(e->conn_arn, conn_arn) == 0)
			return e;
	if (t->n_entries >= MAX_ENTRIES)
		evict_idle(t, now_ms);
	if (t->n_entries >= MAX_ENTRIES)
		return NULL;
	tok_entry *e = calloc(1, sizeof *e);
	if (!e || !(e->conn_arn = strdup(conn_arn))) {
		free(e);
		return NULL;
	}
	e->used_ms = now_ms;
	e->next = t->entries;
	t->entries = e;
	t->n_entries++;
	return e;
}

/* Queues a fetch for e with a copy of conn (NULL: the fetch thread reads the record). Caller holds mu. */
static void enqueue(conn_tokens *t, tok_entry *e, const json_t *conn)
{
	if (e->queued)
		return;
	json_decref(e->conn);
	e->conn = conn ? json_deep_copy(conn) : NULL;
	e->queued = true;
	e->qnext = NULL;
	if (t->q_tail)
		t->q_tail->qnext = e;
	else
		t->q_head = e;
	t->q_tail = e;
	pthread_cond_signal(&t->cv);
}

conn_tok_state conn_tokens_get(conn_tokens *t, const char *conn_arn, const json_t *conn, int64_t now_ms, char **token,
			       int64_t *expires_ms, uint64_t *gen, char *err, size_t cap)
{
	uint64_t fp = params_fp(conn);
	conn_tok_state st;
	*token = NULL;
	pthread_mutex_lock(&t->mu);
	tok_entry *e = entry_get(t, conn_arn, now_ms);
	if (!e) {
		snprintf(err, cap, "too many OAuth connections in use at once (at most %d)", MAX_ENTRIES);
		st = CONN_TOK_FAILED;
		goto out;
	}
	e->used_ms = now_ms;
	if (e->fp != fp)
		entry_reset(e, fp);
	if (e->token && e->expires_ms > now_ms + EXPIRY_MARGIN_MS) {
		*token = strdup(e->token);
		*expires_ms = e->expires_ms;
		*gen = e->gen;
		st = *token ? CONN_TOK_READY : CONN_TOK_FAILED;
		if (!*token)
			snprintf(err, cap, "out of memory");
	} else if (e->queued) {
		st = CONN_TOK_PENDING;
	} else if (e->fails && now_ms < e->retry_ms) {
		snprintf(err, cap, "%s", e->err);
		st = CONN_TOK_FAILED;
	} else {
		enqueue(t, e, conn);
		st = CONN_TOK_PENDING;
	}
out:
	pthread_mutex_unlock(&t->mu);
	return st;
}

void conn_tokens_drop(conn_tokens *t, const char *conn_arn, uint64_t gen)
{
	pthread_mutex_lock(&t->mu);
	for (tok_entry *e = t->entries; e; e = e->next) {
		if (strcmp(e->conn_arn, conn_arn) == 0 && e->gen == gen && e->token) {
			free(e->token);
			e->token = NULL;
			e->gen++;
		}
	}
	pthread_mutex_unlock(&t->mu);
}

void conn_tokens_authorize(conn_tokens *t, const char *conn_arn)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	tok_entry *e = entry_get(t, conn_arn, bb_wall_ms(t->n->clock));
	if (e) {
		e->fails = 0; /* a new authorization starts without the old backoff */
		enqueue(t, e, NULL);
	}
	pthread_mutex_unlock(&t->mu);
}

/* ---- the fetch thread ------------------------------------------------------------------------- */

/* Writes AUTHORIZED for the connection if its record is still AUTHORIZING with parameters fp. */
static void mark_authorized(conn_tokens *t, const char *conn_arn, uint64_t fp)
{
	node *n = t->n;
	char acct[16], name[80], key[KEY_MAX];
	if (sscanf(conn_arn, "arn:aws:events:%*[a-z0-9-]:%15[0-9]:connection/%79[.A-Za-z0-9_-]/", acct, name) != 2)
		return;
	key_connection(key, acct, name);
	meta_snap *s = meta_snap_acquire(n->meta);
	uint64_t ver = 0;
	json_t *rec = store_get(s, key, &ver);
	meta_snap_release(s);
	const char *state = json_string_value(json_object_get(rec, "ConnectionState"));
	const char *arn = json_string_value(json_object_get(rec, "ConnectionArn"));
	if (!rec || !state || strcmp(state, "AUTHORIZING") != 0 || !arn || strcmp(arn, conn_arn) != 0 ||
	    params_fp(rec) != fp) {
		json_decref(rec);
		return;
	}
	json_object_set_new(rec, "ConnectionState", json_string("AUTHORIZED"));
	json_object_set_new(rec, "LastAuthorizedTime", json_real((double)bb_wall_ms(n->clock) / 1000.0));
	bb_err e = node_meta_put(n, key, rec, (int64_t)ver);
	json_decref(rec);
	if (e == BB_OK)
		BB_LOGI("conn", "msg=\"connection authorized\" connection=%s", conn_arn);
	else if (e != BB_ECONFLICT) /* a conflict: the record changed meanwhile; its own kick follows */
		BB_LOGW("conn", "msg=\"cannot record the authorization\" connection=%s err=%s", conn_arn, bb_errname(e));
}

static void *fetch_main(void *arg)
{
	conn_tokens *t = arg;
	pthread_setname_np(pthread_self(), "bb-oauth");
	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->q_head && !t->stopping)
			pthread_cond_wait(&t->cv, &t->mu);
		if (t->stopping)
			break;
		tok_entry *e = t->q_head;
		t->q_head = e->qnext;
		if (!t->q_head)
			t->q_tail = NULL;
		char *arn = strdup(e->conn_arn);
		json_t *conn = e->conn;
		e->conn = NULL;
		pthread_mutex_unlock(&t->mu);

		if (!conn && arn) { /* a kick: the current record */
			meta_snap *s = meta_snap_acquire(t->n->meta);
			conn = store_get_by_arn(s, arn, NULL);
			meta_snap_release(s);
		}
		const char *type = json_string_value(json_object_get(conn, "AuthorizationType"));
		bool oauth = type && strcmp(type, "OAUTH_CLIENT_CREDENTIALS") == 0;
		uint64_t fp = params_fp(conn);
		char *tok = NULL, err[160] = "";
		int64_t now_ms = bb_wall_ms(t->n->clock), exp = 0;
		bb_err fe = oauth && arn ? conn_oauth_fetch(conn, now_ms, &t->cancel, &tok, &exp, err, sizeof err) : BB_ENOTFOUND;
		json_decref(conn);
		if (fe == BB_OK)
			mark_authorized(t, arn, fp);
		else if (oauth && arn)
			BB_LOGW("conn", "msg=\"oauth token fetch failed\" connection=%s reason=\"%s\"", arn, err);

		pthread_mutex_lock(&t->mu);
		e->queued = false; /* e stays: queued entries are never evicted */
		if (fe == BB_OK && e->fp && e->fp != fp) {
			free(tok); /* fetched with parameters the connection no longer has */
		} else if (fe == BB_OK) {
			e->fp = fp;
			free(e->token);
			e->token = tok;
			e->expires_ms = exp;
			e->gen++;
			e->fails = 0;
		} else if (fe != BB_ENOTFOUND) {
			e->fails++;
			int64_t wait = RETRY_MIN_MS << (e->fails < 7 ? e->fails - 1 : 6);
			e->retry_ms = bb_wall_ms(t->n->clock) + (wait < RETRY_MAX_MS ? wait : RETRY_MAX_MS);
			snprintf(e->err, sizeof e->err, "%s", err);
		}
		free(arn);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* Kicks every connection still AUTHORIZING (start). */
static bool kick_authorizing(void *ctx, const meta_val *v)
{
	conn_tokens *t = ctx;
	json_t *rec = json_loadb((const char *)v->data, v->len, 0, NULL);
	const char *state = json_string_value(json_object_get(rec, "ConnectionState"));
	const char *arn = json_string_value(json_object_get(rec, "ConnectionArn"));
	if (state && arn && strcmp(state, "AUTHORIZING") == 0)
		conn_tokens_authorize(t, arn);
	json_decref(rec);
	return true;
}

bb_err conn_tokens_start(node *n)
{
	conn_tokens *t = calloc(1, sizeof *t);
	if (!t)
		return BB_ENOMEM;
	t->n = n;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->thread, NULL, fetch_main, t) != 0) {
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return BB_ENOMEM;
	}
	n->tokens = t;
	meta_snap *s = meta_snap_acquire(n->meta);
	meta_snap_scan(s, "c/", 2, NULL, 0, kick_authorizing, t);
	meta_snap_release(s);
	return BB_OK;
}

void conn_tokens_stop(node *n)
{
	conn_tokens *t = n->tokens;
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stopping = true;
	atomic_store(&t->cancel, true);
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL); /* a running fetch is aborted by cancel */
	for (tok_entry *e = t->entries, *nx; e; e = nx) {
		nx = e->next;
		entry_free(e);
	}
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
	n->tokens = NULL;
}
