/* tests/unit/test_db_writer.c — the LMDB writer (node/db/db.h): group commit from many threads, a
 * failing apply discards only its own changes, a full map fails writes with BB_ENOSPC and changes
 * nothing, committed data survives close/reopen, and an early write is answered before its commit
 * (its db_write may be gone by then) while later writes see its changes, and the open batch applies
 * writes as they arrive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/db/db.h"

static char dir[256];

static void fresh_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/bb-dbtest-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_dir(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

typedef struct put_arg {
	uint64_t k;
	size_t vlen;
	bool fail;
} put_arg;

static bb_err put_apply(db *d, MDB_txn *txn, void *arg)
{
	put_arg *a = arg;
	uint8_t key[8];
	db_put_u64(key, a->k);
	char *v = calloc(1, a->vlen ? a->vlen : 1);
	MDB_val mk = {8, key}, mv = {a->vlen, v};
	int rc = mdb_put(txn, db_dbi(d, DB_T_STATE), &mk, &mv, 0);
	free(v);
	if (rc)
		return db_err(rc);
	return a->fail ? BB_EINVAL : BB_OK;
}

static bool has_key(db *d, uint64_t k)
{
	MDB_txn *txn;
	assert_int_equal(db_read_begin(d, &txn), BB_OK);
	uint8_t key[8];
	db_put_u64(key, k);
	MDB_val mk = {8, key}, mv;
	bool found = mdb_get(txn, db_dbi(d, DB_T_STATE), &mk, &mv) == 0;
	db_read_end(txn);
	return found;
}

typedef struct thr {
	db *d;
	uint64_t base;
} thr;

static void *writer_thread(void *arg)
{
	thr *t = arg;
	for (uint64_t i = 0; i < 200; i++) {
		put_arg a = {t->base + i, 32, false};
		assert_int_equal(db_run(t->d, put_apply, &a), BB_OK);
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	(void)state;
	fresh_dir();
	db *d;
	db_config cfg = {.dir = dir};
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	pthread_t th[4];
	thr args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (thr){d, (uint64_t)i * 1000};
		pthread_create(&th[i], NULL, writer_thread, &args[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	db_stats st;
	db_get_stats(d, &st);
	assert_int_equal(st.writes, 800);
	assert_true(st.commits <= 800);
	db_close(d);
	/* Reopen: everything is there. */
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	for (int i = 0; i < 4; i++)
		for (uint64_t k = 0; k < 200; k++)
			assert_true(has_key(d, (uint64_t)i * 1000 + k));
	db_close(d);
	rm_dir();
}

static void test_failed_apply_isolated(void **state)
{
	(void)state;
	fresh_dir();
	db *d;
	db_config cfg = {.dir = dir};
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	put_arg bad = {7, 8, true}, good = {8, 8, false};
	assert_int_equal(db_run(d, put_apply, &bad), BB_EINVAL);
	assert_int_equal(db_run(d, put_apply, &good), BB_OK);
	assert_false(has_key(d, 7));
	assert_true(has_key(d, 8));
	db_close(d);
	rm_dir();
}

static void test_map_full(void **state)
{
	(void)state;
	fresh_dir();
	db *d;
	db_config cfg = {.dir = dir, .map_bytes = 1 << 20};
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	put_arg a = {1, 100, false};
	assert_int_equal(db_run(d, put_apply, &a), BB_OK);
	put_arg big = {2, 4 << 20, false};
	assert_int_equal(db_run(d, put_apply, &big), BB_ENOSPC);
	assert_false(has_key(d, 2));
	put_arg after = {3, 100, false};
	assert_int_equal(db_run(d, put_apply, &after), BB_OK);
	assert_true(has_key(d, 1));
	assert_true(has_key(d, 3));
	db_close(d);
	rm_dir();
}

/* An early write's done runs before the batch commits: a reader there does not see the change yet. */
typedef struct early_arg {
	db *d;
	put_arg put;
	bool seen_in_done;
	bool done;
} early_arg;

static bb_err early_apply(db *d, MDB_txn *txn, void *arg) { return put_apply(d, txn, &((early_arg *)arg)->put); }

static void early_done(void *arg, bb_err err)
{
	early_arg *a = arg;
	assert_int_equal(err, BB_OK);
	a->seen_in_done = has_key(a->d, a->put.k);
	a->done = true;
}

static void test_early_done(void **state)
{
	(void)state;
	fresh_dir();
	db *d;
	db_config cfg = {.dir = dir};
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	early_arg *a = calloc(1, sizeof *a);
	db_write *w = calloc(1, sizeof *w);
	*a = (early_arg){.d = d, .put = {42, 8, false}};
	*w = (db_write){.apply = early_apply, .done = early_done, .arg = a, .early = true};
	assert_int_equal(db_submit(d, w), BB_OK);
	put_arg later = {43, 8, false};
	assert_int_equal(db_run(d, put_apply, &later), BB_OK); /* completes after the early one's batch */
	assert_true(a->done);
	assert_false(a->seen_in_done);
	assert_true(has_key(d, 42));
	assert_true(has_key(d, 43));
	/* db_run_early returns with the change applied; the write struct lived on its stack */
	put_arg e2 = {44, 8, false};
	assert_int_equal(db_run_early(d, put_apply, &e2, NULL), BB_OK);
	put_arg after = {45, 8, false};
	assert_int_equal(db_run(d, put_apply, &after), BB_OK);
	assert_true(has_key(d, 44));
	free(w);
	free(a);
	db_close(d);
	rm_dir();
}

/* The batch stays open for min_interval_us and applies writes as they arrive: an early write
 * submitted after a durable one was applied is answered while that one still waits for the commit (in
 * the same batch: before, it would have waited for the next one), and its apply
 * sees the durable one's uncommitted change (a queue receive sees a delivery's put). */
typedef struct window_arg {
	bool saw_50;
	bool durable_done_first; /* the durable write's done had run when the early apply ran */
	_Atomic bool *durable_done;
} window_arg;

static bb_err window_apply(db *d, MDB_txn *txn, void *arg)
{
	window_arg *a = arg;
	uint8_t key[8];
	db_put_u64(key, 50);
	MDB_val mk = {8, key}, mv;
	a->saw_50 = mdb_get(txn, db_dbi(d, DB_T_STATE), &mk, &mv) == 0;
	a->durable_done_first = atomic_load(a->durable_done);
	return BB_OK;
}

typedef struct durable_wait {
	put_arg put; /* first: put_apply reads it */
	_Atomic bool applied;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic bool done;
	bb_err err;
} durable_wait;

static bb_err durable_apply(db *d, MDB_txn *txn, void *arg)
{
	durable_wait *w = arg;
	bb_err e = put_apply(d, txn, &w->put);
	atomic_store(&w->applied, true);
	return e;
}

static void durable_done(void *arg, bb_err err)
{
	durable_wait *w = arg;
	pthread_mutex_lock(&w->mu);
	w->err = err;
	atomic_store(&w->done, true);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void test_window_applies_at_once(void **state)
{
	(void)state;
	fresh_dir();
	db *d;
	db_config cfg = {.dir = dir, .min_interval_us = 3000000}; /* long: a slow CI still fits */
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	put_arg first = {49, 8, false};
	assert_int_equal(db_run(d, put_apply, &first), BB_OK); /* this commit starts the interval */
	static durable_wait dw = {{50, 8, false}, false, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, BB_OK};
	db_write w = {.apply = durable_apply, .done = durable_done, .arg = &dw};
	assert_int_equal(db_submit(d, &w), BB_OK);
	while (!atomic_load(&dw.applied))
		usleep(100); /* applied at once, not after the interval: the batch is open */
	window_arg wa = {.durable_done = &dw.done};
	assert_int_equal(db_run_early(d, window_apply, &wa, NULL), BB_OK);
	assert_true(wa.saw_50);
	assert_false(wa.durable_done_first);
	assert_false(has_key(d, 50)); /* readers see only committed data */
	pthread_mutex_lock(&dw.mu);
	while (!atomic_load(&dw.done))
		pthread_cond_wait(&dw.cv, &dw.mu);
	pthread_mutex_unlock(&dw.mu);
	assert_int_equal(dw.err, BB_OK);
	assert_true(has_key(d, 50));
	db_close(d);
	rm_dir();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_failed_apply_isolated),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_early_done),
		cmocka_unit_test(test_window_applies_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
