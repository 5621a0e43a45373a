/* tests/unit/test_meta_node.c — a real single-voter metadata node (raft/meta_node.c, meta_submit.c)
 * on loopback in a temp dir: bootstrap, 1000 transactions, stop, restart on the same dir with every
 * key and version intact (log replay), the same after many snapshots (small threshold), idempotent
 * retries across restarts, throttling (BB_EBUSY) and shutdown (BB_ESHUTDOWN) of queued work. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meta_int.h"

char *meta_test_tmpdir(void);
void meta_test_rmdir(char *path);
int meta_test_free_port(void);
void meta_test_rid(uint8_t id[16], uint64_t tag, uint64_t seq);

#define N_TXN 1000

typedef struct fx {
	char *dir;
	char addr[32];
	meta_config cfg;
	meta_node *n;
	uint64_t versions[N_TXN];
} fx;

static int setup(void **state)
{
	fx *x = calloc(1, sizeof *x);
	x->dir = meta_test_tmpdir();
	assert_non_null(x->dir);
	int port = meta_test_free_port();
	assert_true(port > 0);
	snprintf(x->addr, sizeof x->addr, "127.0.0.1:%d", port);
	x->cfg = (meta_config){.dir = x->dir, .id = 1, .address = x->addr, .bootstrap = true,
			       .election_timeout_ms = 300, .heartbeat_timeout_ms = 30, .segment_size = 64 * 1024};
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fx *x = *state;
	if (x->n)
		meta_stop(x->n);
	meta_test_rmdir(x->dir);
	free(x);
	return 0;
}

static void start(fx *x)
{
	assert_int_equal(meta_start(&x->cfg, &x->n), BB_OK);
	for (int i = 0; i < 1000 && !meta_ready(x->n); i++)
		usleep(10 * 1000);
	assert_true(meta_ready(x->n));
	meta_status st;
	meta_get_status(x->n, &st);
	assert_int_equal(st.raft_state, 3);
	assert_int_equal(st.leader_id, 1);
}

static void stop(fx *x)
{
	meta_stop(x->n);
	x->n = NULL;
}

/* ---- async submission --------------------------------------------------------------------------- */

typedef struct batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t done;
	fx *x;
} batch;

typedef struct slot {
	batch *b;
	size_t i;
} slot;

static void batch_done(void *ctx, const meta_result *res)
{
	slot *s = ctx;
	assert_int_equal(res->err, BB_OK);
	pthread_mutex_lock(&s->b->mu);
	s->b->x->versions[s->i] = res->index;
	s->b->done++;
	pthread_cond_broadcast(&s->b->cv);
	pthread_mutex_unlock(&s->b->mu);
}

static size_t key_of(char *buf, size_t i) { return (size_t)snprintf(buf, 24, "k/%05zu", i); }

/* Submits N_TXN puts (ids tag/i) without waiting for each, retrying on BB_EBUSY. */
static void submit_all(fx *x, uint64_t tag)
{
	batch b = {.x = x};
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	slot *slots = calloc(N_TXN, sizeof *slots);
	for (size_t i = 0; i < N_TXN; i++) {
		char key[24], val[32];
		size_t kl = key_of(key, i);
		int vl = snprintf(val, sizeof val, "value-%zu-%llu", i, (unsigned long long)tag);
		meta_op op = {META_OP_PUT, key, kl, val, (size_t)vl, META_ANY};
		uint8_t rid[16];
		meta_test_rid(rid, tag, i);
		slots[i] = (slot){&b, i};
		bb_err e;
		while ((e = meta_submit(x->n, rid, &op, 1, batch_done, &slots[i])) == BB_EBUSY)
			usleep(1000);
		assert_int_equal(e, BB_OK);
	}
	pthread_mutex_lock(&b.mu);
	while (b.done < N_TXN)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	free(slots);
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
}

static uint64_t max_version(const fx *x)
{
	uint64_t m = 0;
	for (size_t i = 0; i < N_TXN; i++)
		m = x->versions[i] > m ? x->versions[i] : m;
	return m;
}

static void check_all(fx *x, uint64_t tag)
{
	assert_int_equal(meta_wait_applied(x->n, max_version(x), 10000), BB_OK);
	meta_snap *s = meta_snap_acquire(x->n);
	assert_true(meta_snap_index(s) >= max_version(x));
	assert_int_equal(meta_snap_count(s), N_TXN);
	for (size_t i = 0; i < N_TXN; i++) {
		char key[24], val[32];
		size_t kl = key_of(key, i);
		int vl = snprintf(val, sizeof val, "value-%zu-%llu", i, (unsigned long long)tag);
		meta_val v;
		assert_true(meta_snap_get(s, key, kl, &v));
		assert_int_equal(v.version, x->versions[i]);
		assert_int_equal(v.len, (size_t)vl);
		assert_memory_equal(v.data, val, v.len);
	}
	meta_snap_release(s);
}

/* Re-sending an id already applied returns its first outcome. */
static void check_retry(fx *x, uint64_t tag, size_t i)
{
	char key[24];
	size_t kl = key_of(key, i);
	meta_op op = {META_OP_PUT, key, kl, "other", 5, META_ABSENT};
	uint8_t rid[16];
	meta_test_rid(rid, tag, i);
	meta_result r;
	assert_int_equal(meta_submit_wait(x->n, rid, &op, 1, 10000, &r), BB_OK);
	assert_int_equal(r.err, BB_OK);
	assert_int_equal(r.index, x->versions[i]);
}

static void test_bootstrap_restart(void **state)
{
	fx *x = *state;
	start(x);
	submit_all(x, 1);
	check_all(x, 1);
	/* a conflicting write through the blocking API */
	char key[24];
	size_t kl = key_of(key, 5);
	meta_op op = {META_OP_PUT, key, kl, "x", 1, META_ABSENT};
	uint8_t rid[16];
	meta_test_rid(rid, 99, 1);
	meta_result r;
	assert_int_equal(meta_submit_wait(x->n, rid, &op, 1, 10000, &r), BB_OK);
	assert_int_equal(r.err, BB_ECONFLICT);
	assert_int_equal(r.failed_op, 0);
	assert_int_equal(meta_wait_applied(x->n, r.index + 1000, 50), BB_ETIMEDOUT);
	meta_status st;
	meta_get_status(x->n, &st);
	assert_true(st.last_applied >= r.index);
	assert_true(st.last_index >= st.last_applied);
	assert_true(st.term >= 1);
	assert_int_equal(st.pending, 0);
	meta_snap *held = meta_snap_acquire(x->n);
	stop(x);
	/* a snapshot held across meta_stop stays readable until released */
	meta_val v;
	assert_true(meta_snap_get(held, key, kl, &v));
	assert_int_equal(v.version, x->versions[5]);
	meta_snap_release(held);

	start(x); /* bootstrap asked again: RAFT_CANTBOOTSTRAP is ignored */
	check_all(x, 1);
	check_retry(x, 1, 0);
	check_retry(x, 1, N_TXN - 1);
	stop(x);
}

static int count_snapshots(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strncmp(e->d_name, "snapshot-", 9) == 0;
	closedir(d);
	return n;
}

static void test_restart_after_snapshots(void **state)
{
	fx *x = *state;
	x->cfg.snapshot_threshold = 64;
	x->cfg.snapshot_trailing = 16;
	start(x);
	submit_all(x, 1);
	submit_all(x, 2); /* overwrite everything: versions move on */
	check_all(x, 2);
	stop(x);
	assert_true(count_snapshots(x->dir) > 0);
	start(x);
	check_all(x, 2);
	check_retry(x, 2, 3);    /* remembered through the snapshot + log replay */
	check_retry(x, 2, N_TXN - 2);
	stop(x);
}

/* ---- throttling and shutdown ---------------------------------------------------------------------- */

typedef struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered, open;
	int shut, other;
} gate;

/* Blocks the loop thread until the test opens the gate. */
static void gate_done(void *ctx, const meta_result *res)
{
	gate *g = ctx;
	assert_int_equal(res->err, BB_OK);
	pthread_mutex_lock(&g->mu);
	g->entered = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void count_done(void *ctx, const meta_result *res)
{
	gate *g = ctx;
	pthread_mutex_lock(&g->mu);
	if (res->err == BB_ESHUTDOWN)
		g->shut++;
	else
		g->other++;
	pthread_mutex_unlock(&g->mu);
}

static void *stop_thread(void *arg)
{
	meta_stop(arg);
	return NULL;
}

static void test_busy_and_shutdown(void **state)
{
	fx *x = *state;
	x->cfg.max_pending = 3;
	start(x);
	gate g = {0};
	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	meta_op op = {META_OP_PUT, "k", 1, "v", 1, META_ANY};
	uint8_t rid[16];
	meta_test_rid(rid, 7, 0);
	/* bad input is refused synchronously */
	meta_op bad = op;
	bad.key_len = 0;
	assert_int_equal(meta_submit(x->n, rid, &bad, 1, count_done, &g), BB_EINVAL);
	assert_int_equal(meta_submit(x->n, rid, &op, 0, count_done, &g), BB_EINVAL);

	assert_int_equal(meta_submit(x->n, rid, &op, 1, gate_done, &g), BB_OK);
	pthread_mutex_lock(&g.mu);
	while (!g.entered)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	/* the loop is held inside a done callback: 1 in flight + 2 queued = max_pending */
	for (uint64_t i = 1; i <= 2; i++) {
		meta_test_rid(rid, 7, i);
		assert_int_equal(meta_submit(x->n, rid, &op, 1, count_done, &g), BB_OK);
	}
	meta_test_rid(rid, 7, 3);
	assert_int_equal(meta_submit(x->n, rid, &op, 1, count_done, &g), BB_EBUSY);
	meta_status st;
	meta_get_status(x->n, &st);
	assert_int_equal(st.pending, 3);

	pthread_t t;
	meta_node *n = x->n;
	x->n = NULL;
	assert_int_equal(pthread_create(&t, NULL, stop_thread, n), 0);
	/* wait until meta_stop flagged the node (the node cannot be freed while the loop is held) */
	bb_err e = BB_OK;
	for (int i = 0; i < 5000 && e != BB_ESHUTDOWN; i++) {
		e = meta_submit(n, rid, &op, 1, count_done, &g);
		assert_true(e == BB_ESHUTDOWN || e == BB_EBUSY);
		if (e != BB_ESHUTDOWN)
			usleep(1000);
	}
	assert_int_equal(e, BB_ESHUTDOWN);
	assert_false(meta_ready(n));
	pthread_mutex_lock(&g.mu);
	g.open = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	pthread_join(t, NULL);
	assert_int_equal(g.shut, 2);
	assert_int_equal(g.other, 0);
	pthread_cond_destroy(&g.cv);
	pthread_mutex_destroy(&g.mu);
}

static void test_start_errors(void **state)
{
	fx *x = *state;
	meta_config c = x->cfg;
	c.id = 0;
	meta_node *n = NULL;
	assert_int_equal(meta_start(&c, &n), BB_EINVAL);
	c = x->cfg;
	c.dir = "/proc/definitely/not/here";
	assert_int_equal(meta_start(&c, &n), BB_EIO);
	c = x->cfg;
	c.address = "not-an-address";
	assert_int_not_equal(meta_start(&c, &n), BB_OK);
	assert_null(n);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* deps.md R2: every process running libraft */
	bb_log_set_level(BB_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bootstrap_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_after_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
