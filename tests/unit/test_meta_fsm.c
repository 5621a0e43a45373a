/* tests/unit/test_meta_fsm.c — the metadata FSM (raft/meta_fsm.c, meta_fsm_snap.c, meta_dedupe.c)
 * driven directly, without raft: preconditions, all-or-nothing, versions = entry index, idempotent
 * replay, FIFO dedupe eviction, published snapshots, snapshot -> restore equality, corrupt input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meta_int.h"

void meta_test_rid(uint8_t id[16], uint64_t tag, uint64_t seq);
uint64_t meta_test_rand(uint64_t *state);

typedef struct fx {
	meta_fsm f;
	uint64_t index;
} fx;

static int setup(void **state)
{
	fx *x = calloc(1, sizeof *x);
	assert_int_equal(meta_fsm_init(&x->f, 64, NULL), BB_OK);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fx *x = *state;
	meta_fsm_close(&x->f);
	free(x);
	return 0;
}

/* Encodes and applies ops at the next index; returns the outcome. */
static meta_result apply_ops(fx *x, uint64_t rid_seq, const meta_op *ops, size_t n)
{
	uint8_t rid[16];
	meta_test_rid(rid, 0xf5f5, rid_seq);
	void *base;
	size_t len;
	assert_int_equal(meta_txn_encode(rid, ops, n, &base, &len), BB_OK);
	assert_int_equal(meta_fsm_apply_at(&x->f, base, len, ++x->index), 0);
	raft_free(base);
	return x->f.last;
}

static meta_result put1(fx *x, uint64_t seq, const char *key, const char *val, int64_t expect)
{
	meta_op op = {META_OP_PUT, key, strlen(key), val, strlen(val), expect};
	return apply_ops(x, seq, &op, 1);
}

static uint64_t version_of(fx *x, const char *key)
{
	const meta_item *it = meta_tree_get(x->f.root, key, strlen(key));
	return it ? it->version : 0;
}

static void test_put_versions_and_preconditions(void **state)
{
	fx *x = *state;
	meta_result r = put1(x, 1, "a", "1", META_ABSENT);
	assert_int_equal(r.err, BB_OK);
	assert_int_equal(r.index, 1);
	assert_int_equal(version_of(x, "a"), 1);
	/* ABSENT on an existing key */
	r = put1(x, 2, "a", "2", META_ABSENT);
	assert_int_equal(r.err, BB_ECONFLICT);
	assert_int_equal(r.index, 2);
	assert_int_equal(r.failed_op, 0);
	/* exact version: wrong, then right */
	r = put1(x, 3, "a", "3", 2);
	assert_int_equal(r.err, BB_ECONFLICT);
	r = put1(x, 4, "a", "4", 1);
	assert_int_equal(r.err, BB_OK);
	assert_int_equal(version_of(x, "a"), 4);
	/* DEL: absent with ANY is fine, absent with a version conflicts, exact version deletes */
	meta_op del = {META_OP_DEL, "zz", 2, NULL, 0, META_ANY};
	assert_int_equal(apply_ops(x, 5, &del, 1).err, BB_OK);
	del.expect = 3;
	assert_int_equal(apply_ops(x, 6, &del, 1).err, BB_ECONFLICT);
	meta_op del_a = {META_OP_DEL, "a", 1, NULL, 0, 4};
	assert_int_equal(apply_ops(x, 7, &del_a, 1).err, BB_OK);
	assert_int_equal(version_of(x, "a"), 0);
	/* CHECK */
	put1(x, 8, "c", "x", META_ANY);
	uint64_t vc = version_of(x, "c");
	meta_op chk[] = {{META_OP_CHECK, "c", 1, NULL, 0, (int64_t)vc}, {META_OP_CHECK, "nope", 4, NULL, 0, META_ABSENT}};
	assert_int_equal(apply_ops(x, 9, chk, 2).err, BB_OK);
	chk[1].expect = 5;
	r = apply_ops(x, 10, chk, 2);
	assert_int_equal(r.err, BB_ECONFLICT);
	assert_int_equal(r.failed_op, 1);
	assert_int_equal(x->f.index, x->index); /* conflicts still advance the applied index */
}

static void test_all_or_nothing(void **state)
{
	fx *x = *state;
	put1(x, 1, "k1", "v1", META_ANY);
	put1(x, 2, "k2", "v2", META_ANY);
	uint64_t v1 = version_of(x, "k1"), v2 = version_of(x, "k2");
	meta_op ops[] = {
		{META_OP_PUT, "k1", 2, "new", 3, META_ANY},
		{META_OP_DEL, "k2", 2, NULL, 0, (int64_t)v2},
		{META_OP_PUT, "k3", 2, "v3", 2, META_ABSENT},
		{META_OP_PUT, "k2", 2, "x", 1, 999}, /* fails */
	};
	meta_result r = apply_ops(x, 3, ops, 4);
	assert_int_equal(r.err, BB_ECONFLICT);
	assert_int_equal(r.failed_op, 3);
	assert_int_equal(version_of(x, "k1"), v1);
	assert_int_equal(version_of(x, "k2"), v2);
	assert_int_equal(version_of(x, "k3"), 0);
	/* preconditions see the state before the transaction: ops 0-2 now succeed together */
	r = apply_ops(x, 4, ops, 3);
	assert_int_equal(r.err, BB_OK);
	assert_int_equal(version_of(x, "k1"), r.index);
	assert_int_equal(version_of(x, "k2"), 0);
	assert_int_equal(version_of(x, "k3"), r.index);
	/* delete by prefix inside a transaction together with a put under it */
	put1(x, 5, "p/1", "a", META_ANY);
	put1(x, 6, "p/2", "b", META_ANY);
	put1(x, 7, "q/1", "c", META_ANY);
	meta_op dp[] = {{META_OP_DEL_PREFIX, "p/", 2, NULL, 0, 12345}, {META_OP_PUT, "p/9", 3, "z", 1, META_ABSENT}};
	r = apply_ops(x, 8, dp, 2);
	assert_int_equal(r.err, BB_OK);
	assert_int_equal(version_of(x, "p/1"), 0);
	assert_int_equal(version_of(x, "p/2"), 0);
	assert_int_equal(version_of(x, "p/9"), r.index);
	assert_int_equal(version_of(x, "q/1"), 7);
}

static void test_idempotent_replay(void **state)
{
	fx *x = *state;
	meta_result first = put1(x, 100, "k", "v1", META_ABSENT);
	assert_int_equal(first.err, BB_OK);
	meta_op del = {META_OP_DEL, "k", 1, NULL, 0, META_ANY};
	apply_ops(x, 101, &del, 1);
	/* the retried id answers the first outcome and does not re-create the key */
	meta_result again = put1(x, 100, "k", "v1", META_ABSENT);
	assert_int_equal(again.err, BB_OK);
	assert_int_equal(again.index, first.index);
	assert_int_equal(version_of(x, "k"), 0);
	/* conflicts are remembered too */
	put1(x, 102, "k", "v", META_ANY);
	meta_result c1 = put1(x, 103, "k", "v", META_ABSENT);
	assert_int_equal(c1.err, BB_ECONFLICT);
	apply_ops(x, 104, &del, 1);
	meta_result c2 = put1(x, 103, "k", "v", META_ABSENT);
	assert_int_equal(c2.err, BB_ECONFLICT);
	assert_int_equal(c2.index, c1.index);
}

static void test_dedupe_fifo_eviction(void **state)
{
	(void)state;
	fx x = {0};
	assert_int_equal(meta_fsm_init(&x.f, 4, NULL), BB_OK);
	meta_result r1 = put1(&x, 1, "a", "1", META_ANY);
	for (uint64_t s = 2; s <= 5; s++)
		put1(&x, s, "b", "1", META_ANY); /* ids 2..5 push id 1 out */
	assert_int_equal(x.f.dd.n, 4);
	meta_result again = put1(&x, 1, "a", "1", META_ANY);
	assert_int_not_equal(again.index, r1.index); /* forgotten: applied anew */
	assert_int_equal(version_of(&x, "a"), again.index);
	meta_result r5 = put1(&x, 5, "b", "1", META_ANY); /* id 5 still known */
	assert_int_equal(r5.index, 5);
	meta_fsm_close(&x.f);
}

static void test_published_snapshots(void **state)
{
	fx *x = *state;
	meta_snap *s0 = meta_pub_acquire(&x->f.pub);
	assert_int_equal(meta_snap_index(s0), 0);
	assert_int_equal(meta_snap_count(s0), 0);
	put1(x, 1, "k", "one", META_ANY);
	meta_snap *s1 = meta_pub_acquire(&x->f.pub);
	put1(x, 2, "k", "two", META_ANY);
	put1(x, 3, "j", "three", META_ANY);
	meta_snap *s3 = meta_pub_acquire(&x->f.pub);
	meta_val v;
	assert_true(meta_snap_get(s1, "k", 1, &v));
	assert_int_equal(v.len, 3);
	assert_memory_equal(v.data, "one", 3);
	assert_int_equal(v.version, 1);
	assert_int_equal(meta_snap_index(s1), 1);
	assert_true(meta_snap_get(s3, "k", 1, &v));
	assert_memory_equal(v.data, "two", 3);
	assert_int_equal(meta_snap_count(s3), 2);
	assert_int_equal(meta_pub_wait(&x->f.pub, 3, 0), BB_OK);
	assert_int_equal(meta_pub_wait(&x->f.pub, 4, 20), BB_ETIMEDOUT);
	meta_snap_release(s0);
	meta_snap_release(s3);
	/* s1 outlives the FSM */
	meta_fsm_close(&x->f);
	assert_true(meta_snap_get(s1, "k", 1, &v));
	assert_memory_equal(v.data, "one", 3);
	meta_snap_release(s1);
	assert_int_equal(meta_fsm_init(&x->f, 64, NULL), BB_OK);
}

static void test_corrupt_entry(void **state)
{
	fx *x = *state;
	put1(x, 1, "k", "v", META_ANY);
	uint8_t junk[16] = {1, 2, 3};
	assert_int_equal(meta_fsm_apply_at(&x->f, junk, sizeof junk, ++x->index), 0);
	assert_int_equal(x->f.last.err, BB_ECORRUPT);
	assert_int_equal(x->f.index, 2);
	assert_int_equal(meta_tree_size(x->f.root), 1);
}

typedef struct dump {
	char buf[1 << 16];
	size_t len;
} dump;

static bool dump_fn(void *ctx, const meta_val *v)
{
	dump *d = ctx;
	int n = snprintf(d->buf + d->len, sizeof d->buf - d->len, "%.*s=%.*s@%llu;", (int)v->key_len,
			 (const char *)v->key, (int)v->len, (const char *)v->data, (unsigned long long)v->version);
	d->len += (size_t)n;
	assert_true(d->len < sizeof d->buf);
	return true;
}

static void test_snapshot_restore(void **state)
{
	fx *x = *state;
	uint64_t rng = 7;
	for (uint64_t s = 1; s <= 300; s++) {
		char key[16], val[16];
		snprintf(key, sizeof key, "k/%03u", (unsigned)(meta_test_rand(&rng) % 100));
		snprintf(val, sizeof val, "v%llu", (unsigned long long)s);
		if (s % 7 == 0) {
			meta_op d = {META_OP_DEL, key, strlen(key), NULL, 0, META_ANY};
			apply_ops(x, s, &d, 1);
		} else {
			put1(x, s, key, val, META_ANY);
		}
	}
	put1(x, 1000, "bin\x00key", "", META_ANY); /* empty value */
	struct raft_buffer *bufs;
	unsigned n_bufs;
	assert_int_equal(x->f.rfsm.snapshot(&x->f.rfsm, &bufs, &n_bufs), 0);
	assert_int_equal(n_bufs, 1);

	fx y = {0};
	assert_int_equal(meta_fsm_init(&y.f, 64, NULL), BB_OK);
	put1(&y, 1, "stale", "x", META_ANY); /* replaced by the restore */
	/* corrupt copies are refused and change nothing (raft frees the buffer then) */
	for (size_t cut = 8; cut < bufs[0].len; cut += 8) {
		struct raft_buffer bad = {raft_malloc(cut), cut};
		memcpy(bad.base, bufs[0].base, cut);
		assert_int_equal(y.f.rfsm.restore(&y.f.rfsm, &bad), RAFT_CORRUPT);
		raft_free(bad.base);
	}
	struct raft_buffer bad = {raft_malloc(bufs[0].len), bufs[0].len};
	memcpy(bad.base, bufs[0].base, bufs[0].len);
	((uint8_t *)bad.base)[bufs[0].len / 2] ^= 0x5a;
	int rv = y.f.rfsm.restore(&y.f.rfsm, &bad);
	if (rv != 0)
		raft_free(bad.base);
	else
		put1(&y, 1, "stale", "x", META_ANY); /* a flipped byte inside a value can be valid */
	assert_int_equal(version_of(&y, "stale"), rv == 0 ? y.index : 1);

	/* the real one: restore takes ownership of the base on success */
	assert_int_equal(y.f.rfsm.restore(&y.f.rfsm, &bufs[0]), 0);
	raft_free(bufs);
	assert_int_equal(y.f.index, x->f.index);
	dump *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	meta_tree_scan(x->f.root, NULL, 0, NULL, 0, dump_fn, a);
	meta_tree_scan(y.f.root, NULL, 0, NULL, 0, dump_fn, b);
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->buf, b->buf, a->len);
	assert_int_equal(version_of(&y, "stale"), 0);
	meta_snap *s = meta_pub_acquire(&y.f.pub);
	assert_int_equal(meta_snap_index(s), x->f.index);
	meta_snap_release(s);
	/* the dedupe table came along: same ids, same order, and a replay answers as before */
	assert_int_equal(y.f.dd.n, x->f.dd.n);
	for (size_t i = 0; i < x->f.dd.n; i++)
		assert_memory_equal(meta_dedupe_at(&x->f.dd, i), meta_dedupe_at(&y.f.dd, i), 28);
	y.index = x->index;
	meta_result r = put1(&y, 1000, "bin\x00key", "", META_ANY);
	assert_int_equal(r.index, x->index);
	/* restoring into a smaller table keeps the newest entries */
	fx z = {0};
	assert_int_equal(meta_fsm_init(&z.f, 8, NULL), BB_OK);
	assert_int_equal(x->f.rfsm.snapshot(&x->f.rfsm, &bufs, &n_bufs), 0);
	assert_int_equal(z.f.rfsm.restore(&z.f.rfsm, &bufs[0]), 0);
	raft_free(bufs);
	assert_int_equal(z.f.dd.n, 8);
	assert_memory_equal(meta_dedupe_at(&z.f.dd, 7)->id, meta_dedupe_at(&x->f.dd, x->f.dd.n - 1)->id, 16);
	free(a);
	free(b);
	meta_fsm_close(&z.f);
	meta_fsm_close(&y.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_versions_and_preconditions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_replay, setup, teardown),
		cmocka_unit_test(test_dedupe_fifo_eviction),
		cmocka_unit_test_setup_teardown(test_published_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
