/* raft/meta_node.c — one metadata node: raft lifecycle, the loop thread, status and readiness.
 *
 * meta_start runs the whole raft set-up synchronously on the caller's thread (dir, libuv loop,
 * TCP transport bound to cfg->address, raft_uv I/O, raft_init, settings, optional bootstrap,
 * raft_start) and only then spawns the loop thread, which from that moment owns the loop, raft and
 * the FSM (deps.md R7); pthread_create orders the two. Doing it on the caller's thread lets start-up
 * errors come back as return values.
 *
 * Nothing here assumes one node beyond bootstrap: followers, leader changes and membership changes
 * (raft_add/assign, added later on this same loop) flow through the same status refresh, barrier and
 * submit paths.
 *
 * Status: a uv_check handle runs after every loop iteration (raft's tick timer guarantees one per
 * heartbeat at least) and copies raft's state into n->status under n->mu, so other threads read it
 * without touching raft. When this node becomes leader of a new term it appends a barrier; meta_ready
 * reports a leader ready only once that barrier applied, i.e. once every entry of earlier terms is
 * applied locally (deps.md R3 advice).
 *
 * Shutdown (meta_stop): set `stopping`, wake the loop; the loop fails queued work with BB_ESHUTDOWN,
 * calls raft_close (in-flight applies complete with BB_ESHUTDOWN), then closes the raft I/O, the
 * transport and its own handles; uv_run returns, the thread exits, meta_stop joins and frees.
 */
#include "meta_int.h"

#include <pthread.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_ELECTION_MS 1000u
#define DEFAULT_HEARTBEAT_MS 100u
#define DEFAULT_SNAP_THRESHOLD 8192u
#define DEFAULT_SNAP_TRAILING 1024u
#define DEFAULT_SEGMENT_SIZE (8u << 20)
#define DEFAULT_MAX_PENDING 1024u
#define DEFAULT_DEDUPE 65536u

bb_err meta_err_from_raft(int rv)
{
	switch (rv) {
	case 0:
		return BB_OK;
	case RAFT_NOMEM:
		return BB_ENOMEM;
	case RAFT_NOTLEADER:
	case RAFT_LEADERSHIPLOST:
		return BB_ENOTLEADER;
	case RAFT_SHUTDOWN:
		return BB_ESHUTDOWN;
	case RAFT_CORRUPT:
	case RAFT_MALFORMED:
		return BB_ECORRUPT;
	case RAFT_NOSPACE:
		return BB_ENOSPC;
	case RAFT_TOOBIG:
		return BB_ETOOBIG;
	case RAFT_BUSY:
		return BB_EBUSY;
	case RAFT_INVALID:
	case RAFT_BADID:
	case RAFT_BADROLE:
	case RAFT_NAMETOOLONG:
		return BB_EINVAL;
	default:
		return BB_EIO;
	}
}

/* mkdir -p. Returns 0 or -1 (errno set). */
static int mkdirs(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	int rc = 0;
	for (char *s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

/* ---- loop thread --------------------------------------------------------------------------------- */

static void on_barrier(struct raft_barrier *req, int status)
{
	meta_node *n = req->data;
	n->barrier_busy = false;
	if (status != 0) {
		n->barrier_term = 0; /* retried on a later iteration if still leader */
		return;
	}
	pthread_mutex_lock(&n->mu);
	n->ready_term = n->barrier_term;
	pthread_mutex_unlock(&n->mu);
}

static void refresh_status(meta_node *n)
{
	struct raft *r = &n->raft;
	raft_id leader = 0;
	const char *leader_addr = NULL;
	int state = raft_state(r);
	raft_leader(r, &leader, &leader_addr);
	/* raft 0.15 has no accessors for the term and commit index (R10): these two field reads are the
	 * only places raft/ reads struct raft directly. */
	uint64_t term = r->current_term;
	uint64_t commit = r->commit_index;

	pthread_mutex_lock(&n->mu);
	n->status.raft_state = state;
	n->status.leader_id = leader;
	n->status.last_applied = raft_last_applied(r);
	n->status.last_index = raft_last_index(r);
	n->status.term = term;
	n->commit_index = commit;
	bool need_barrier = state == RAFT_LEADER && n->ready_term != term;
	pthread_mutex_unlock(&n->mu);

	if (need_barrier && !n->barrier_busy && n->barrier_term != term && !n->closing) {
		n->barrier.data = n;
		n->barrier_term = term;
		n->barrier_busy = true;
		int rv = raft_barrier(r, &n->barrier, on_barrier);
		if (rv != 0) {
			n->barrier_busy = false;
			n->barrier_term = 0;
		}
	}
}

static void on_check(uv_check_t *h) { refresh_status(h->data); }

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void close_handles(meta_node *n)
{
	raft_uv_close(&n->io);
	raft_uv_tcp_close(&n->transport);
	uv_close((uv_handle_t *)&n->wake, on_handle_closed);
	uv_close((uv_handle_t *)&n->check, on_handle_closed);
}

static void on_raft_closed(struct raft *r) { close_handles(r->data); }

static void on_wake(uv_async_t *h)
{
	meta_node *n = h->data;
	pthread_mutex_lock(&n->mu);
	bool stopping = n->stopping;
	pthread_mutex_unlock(&n->mu);
	meta_submit_drain(n, stopping || n->closing);
	if (stopping && !n->closing) {
		n->closing = true;
		raft_close(&n->raft, on_raft_closed);
	}
}

static void *loop_main(void *arg)
{
	pthread_setname_np(pthread_self(), "bb-raft");
	meta_node *n = arg;
	uv_run(&n->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* Runs the loop on the calling thread until every handle closed, then closes it. */
static void drain_loop(meta_node *n)
{
	uv_run(&n->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&n->loop) != 0)
		BB_LOGE("meta", "msg=\"libuv loop still has handles at close\"");
}

/* ---- public -------------------------------------------------------------------------------------- */

static bb_err bootstrap(meta_node *n)
{
	struct raft_configuration conf;
	raft_configuration_init(&conf);
	int rv = raft_configuration_add(&conf, n->id, n->address, RAFT_VOTER);
	if (rv == 0)
		rv = raft_bootstrap(&n->raft, &conf);
	raft_configuration_close(&conf);
	if (rv == RAFT_CANTBOOTSTRAP)
		return BB_OK; /* not pristine: a restart */
	if (rv != 0) {
		BB_LOGE("meta", "msg=\"raft bootstrap failed\" err=\"%s\"", raft_errmsg(&n->raft));
		return meta_err_from_raft(rv) == BB_ENOMEM ? BB_ENOMEM : BB_EIO;
	}
	BB_LOGI("meta", "msg=\"bootstrapped one-voter cluster\" id=%llu address=%s", (unsigned long long)n->id,
		n->address);
	return BB_OK;
}

static void apply_settings(meta_node *n, const meta_config *cfg)
{
	struct raft *r = &n->raft;
	raft_set_election_timeout(r, cfg->election_timeout_ms ? cfg->election_timeout_ms : DEFAULT_ELECTION_MS);
	raft_set_heartbeat_timeout(r, cfg->heartbeat_timeout_ms ? cfg->heartbeat_timeout_ms : DEFAULT_HEARTBEAT_MS);
	raft_set_snapshot_threshold(r, cfg->snapshot_threshold ? cfg->snapshot_threshold : DEFAULT_SNAP_THRESHOLD);
	raft_set_snapshot_trailing(r, cfg->snapshot_trailing ? cfg->snapshot_trailing : DEFAULT_SNAP_TRAILING);
	raft_set_pre_vote(r, true);
}

bb_err meta_start(const meta_config *cfg, meta_node **out)
{
	if (!cfg || !out || !cfg->dir || !cfg->address || cfg->id == 0)
		return BB_EINVAL;
	bb_err e = BB_ENOMEM;
	int rv;
	meta_node *n = calloc(1, sizeof *n);
	if (!n)
		return BB_ENOMEM;
	n->dir = strdup(cfg->dir);
	n->address = strdup(cfg->address);
	if (!n->dir || !n->address)
		goto err_node;
	n->id = cfg->id;
	n->max_pending = cfg->max_pending ? cfg->max_pending : DEFAULT_MAX_PENDING;
	n->clock = cfg->clock ? cfg->clock : &bb_clock_system;
	if (mkdirs(n->dir) != 0) {
		BB_LOGE("meta", "msg=\"cannot create raft dir\" dir=%s errno=%d", n->dir, errno);
		e = BB_EIO;
		goto err_node;
	}
	e = meta_fsm_init(&n->fsm, cfg->dedupe_capacity ? cfg->dedupe_capacity : DEFAULT_DEDUPE, n->clock);
	if (e != BB_OK)
		goto err_node;
	e = BB_EINTERNAL;
	if (pthread_mutex_init(&n->mu, NULL) != 0)
		goto err_fsm;
	if (uv_loop_init(&n->loop) != 0)
		goto err_mutex;
	uv_async_init(&n->loop, &n->wake, on_wake);
	n->wake.data = n;
	uv_check_init(&n->loop, &n->check);
	n->check.data = n;
	uv_check_start(&n->check, on_check);

	e = BB_EIO;
	rv = raft_uv_tcp_init(&n->transport, &n->loop);
	if (rv != 0)
		goto err_loop;
	rv = raft_uv_tcp_set_bind_address(&n->transport, n->address);
	if (rv == 0)
		rv = raft_uv_init(&n->io, &n->loop, n->dir, &n->transport);
	if (rv != 0) {
		BB_LOGE("meta", "msg=\"raft io init failed\" dir=%s address=%s rv=%d", n->dir, n->address, rv);
		raft_uv_tcp_close(&n->transport);
		goto err_loop;
	}
	raft_uv_set_segment_size(&n->io, cfg->segment_size ? cfg->segment_size : DEFAULT_SEGMENT_SIZE);
	rv = raft_init(&n->raft, &n->io, &n->fsm.rfsm, n->id, n->address);
	if (rv != 0) {
		BB_LOGE("meta", "msg=\"raft_init failed\" err=\"%s\"", raft_errmsg(&n->raft));
		goto err_io;
	}
	n->raft.data = n;
	n->fsm.raft = &n->raft;
	apply_settings(n, cfg);
	if (cfg->bootstrap) {
		e = bootstrap(n);
		if (e != BB_OK)
			goto err_raft;
	}
	rv = raft_start(&n->raft);
	if (rv != 0) {
		BB_LOGE("meta", "msg=\"raft_start failed\" err=\"%s\"", raft_errmsg(&n->raft));
		e = rv == RAFT_CORRUPT || rv == RAFT_MALFORMED ? BB_ECORRUPT : rv == RAFT_NOMEM ? BB_ENOMEM : BB_EIO;
		goto err_raft;
	}
	refresh_status(n);
	if (pthread_create(&n->thread, NULL, loop_main, n) != 0) {
		e = BB_EINTERNAL;
		goto err_raft;
	}
	BB_LOGI("meta", "msg=\"metadata node started\" id=%llu address=%s applied=%llu",
		(unsigned long long)n->id, n->address, (unsigned long long)n->fsm.index);
	*out = n;
	return BB_OK;

err_raft:
	n->closing = true;
	raft_close(&n->raft, on_raft_closed); /* closes io, transport and our handles */
	drain_loop(n);
	goto err_mutex;
err_io:
	raft_uv_close(&n->io);
	raft_uv_tcp_close(&n->transport);
err_loop:
	uv_close((uv_handle_t *)&n->wake, on_handle_closed);
	uv_close((uv_handle_t *)&n->check, on_handle_closed);
	drain_loop(n);
err_mutex:
	pthread_mutex_destroy(&n->mu);
err_fsm:
	meta_fsm_close(&n->fsm);
err_node:
	free(n->dir);
	free(n->address);
	free(n);
	return e;
}

void meta_stop(meta_node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	uv_async_send(&n->wake);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->thread, NULL);
	if (uv_loop_close(&n->loop) != 0)
		BB_LOGE("meta", "msg=\"libuv loop still has handles at close\"");
	BB_LOGI("meta", "msg=\"metadata node stopped\" id=%llu applied=%llu", (unsigned long long)n->id,
		(unsigned long long)n->fsm.index);
	pthread_mutex_destroy(&n->mu);
	meta_fsm_close(&n->fsm);
	free(n->dir);
	free(n->address);
	free(n);
}

bool meta_ready(meta_node *n)
{
	pthread_mutex_lock(&n->mu);
	const meta_status *s = &n->status;
	bool caught_up = s->last_applied >= n->commit_index;
	bool ready;
	if (n->stopping)
		ready = false;
	else if (s->raft_state == RAFT_LEADER)
		ready = n->ready_term == s->term && caught_up;
	else
		ready = s->leader_id != 0 && caught_up;
	pthread_mutex_unlock(&n->mu);
	return ready;
}

void meta_get_status(meta_node *n, meta_status *out)
{
	pthread_mutex_lock(&n->mu);
	*out = n->status;
	out->pending = n->pending;
	pthread_mutex_unlock(&n->mu);
}

meta_snap *meta_snap_acquire(meta_node *n) { return meta_pub_acquire(&n->fsm.pub); }

bb_err meta_wait_applied(meta_node *n, uint64_t index, int timeout_ms)
{
	return meta_pub_wait(&n->fsm.pub, index, timeout_ms);
}
