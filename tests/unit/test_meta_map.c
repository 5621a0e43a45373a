/* tests/unit/test_meta_map.c — the persistent treap (raft/meta_map.c) and snapshots (meta_snap.c),
 * checked against a flat model: insert/replace/delete/delete-prefix, in-order prefix scans with an
 * exclusive "after" key, old versions unchanged by later writes, and no leaks (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meta_int.h"

uint64_t meta_test_rand(uint64_t *state);

/* Key space: "g<G>/k<KKKK>" for G in 0..9, K in 0..199 — bytewise order is (G, K) order. */
#define NG 10
#define NK 200
typedef struct model {
	uint64_t ver[NG][NK]; /* 0 = absent */
} model;

static size_t key_of(char *buf, int g, int k)
{
	return (size_t)snprintf(buf, 16, "g%u/k%04u", (unsigned)g % 10, (unsigned)k % 10000);
}

static size_t model_count(const model *m)
{
	size_t n = 0;
	for (int g = 0; g < NG; g++)
		for (int k = 0; k < NK; k++)
			n += m->ver[g][k] != 0;
	return n;
}

typedef struct collect {
	char keys[NG * NK][16];
	uint64_t vers[NG * NK];
	size_t n;
	size_t limit;
} collect;

static bool collect_fn(void *ctx, const meta_val *v)
{
	collect *c = ctx;
	assert_true(v->key_len < 16);
	memcpy(c->keys[c->n], v->key, v->key_len);
	c->keys[c->n][v->key_len] = 0;
	/* value is the decimal version */
	char vb[32];
	assert_true(v->len < sizeof vb);
	memcpy(vb, v->data, v->len);
	vb[v->len] = 0;
	assert_int_equal(strtoull(vb, NULL, 10), v->version);
	c->vers[c->n] = v->version;
	c->n++;
	return c->limit == 0 || c->n < c->limit;
}

/* Full comparison of a tree with a model: count, get of every key, in-order scan. */
static void check_tree(meta_tnode *t, const model *m)
{
	assert_int_equal(meta_tree_size(t), model_count(m));
	char key[16];
	for (int g = 0; g < NG; g++)
		for (int k = 0; k < NK; k++) {
			size_t kl = key_of(key, g, k);
			const meta_item *it = meta_tree_get(t, key, kl);
			if (m->ver[g][k]) {
				assert_non_null(it);
				assert_int_equal(it->version, m->ver[g][k]);
			} else {
				assert_null(it);
			}
		}
	collect *c = calloc(1, sizeof *c);
	assert_int_equal(meta_tree_scan(t, NULL, 0, NULL, 0, collect_fn, c), model_count(m));
	size_t i = 0;
	for (int g = 0; g < NG; g++)
		for (int k = 0; k < NK; k++)
			if (m->ver[g][k]) {
				key_of(key, g, k);
				assert_string_equal(c->keys[i], key);
				assert_int_equal(c->vers[i], m->ver[g][k]);
				i++;
			}
	free(c);
}

static void put(meta_tnode **t, int g, int k, uint64_t version)
{
	char key[16], val[32];
	size_t kl = key_of(key, g, k);
	int vl = sprintf(val, "%llu", (unsigned long long)version);
	meta_item *it = meta_item_new(key, kl, val, (size_t)vl, version);
	assert_non_null(it);
	meta_tnode *n;
	assert_int_equal(meta_tree_set(*t, it, &n), BB_OK);
	meta_item_unref(it);
	meta_tree_unref(*t);
	*t = n;
}

static void test_random_ops_and_persistence(void **state)
{
	(void)state;
	uint64_t rng = 42;
	model *m = calloc(1, sizeof *m);
	meta_tnode *t = NULL;
	/* keep a few old versions with their models */
	enum { KEEP = 6 };
	meta_tnode *old[KEEP] = {0};
	model *old_m = calloc(KEEP, sizeof *old_m);
	int kept = 0;
	for (uint64_t step = 1; step <= 20000; step++) {
		int g = (int)(meta_test_rand(&rng) % NG), k = (int)(meta_test_rand(&rng) % NK);
		unsigned op = (unsigned)(meta_test_rand(&rng) % 100);
		char key[16];
		size_t kl = key_of(key, g, k);
		if (op < 60) {
			put(&t, g, k, step);
			m->ver[g][k] = step;
		} else if (op < 98) {
			meta_tnode *n;
			bool found;
			assert_int_equal(meta_tree_del(t, key, kl, &n, &found), BB_OK);
			assert_int_equal(found, m->ver[g][k] != 0);
			if (!found)
				assert_ptr_equal(n, t); /* nothing copied */
			meta_tree_unref(t);
			t = n;
			m->ver[g][k] = 0;
		} else {
			char prefix[8];
			size_t pl = (size_t)sprintf(prefix, "g%d/k0%d", g, k % 10); /* 10..20 keys */
			meta_tnode *n;
			size_t removed, expect = 0;
			for (int kk = 0; kk < NK; kk++) {
				char kb[16];
				key_of(kb, g, kk);
				if (strncmp(kb, prefix, pl) == 0 && m->ver[g][kk]) {
					expect++;
					m->ver[g][kk] = 0;
				}
			}
			assert_int_equal(meta_tree_del_prefix(t, prefix, pl, &n, &removed), BB_OK);
			assert_int_equal(removed, expect);
			meta_tree_unref(t);
			t = n;
		}
		if (step % 3000 == 0 && kept < KEEP) {
			old[kept] = meta_tree_ref(t);
			old_m[kept] = *m;
			kept++;
		}
		if (step % 2500 == 0)
			check_tree(t, m);
	}
	check_tree(t, m);
	for (int i = 0; i < kept; i++) {
		check_tree(old[i], &old_m[i]); /* untouched by every later write */
		meta_tree_unref(old[i]);
	}
	/* delete a whole group by prefix, then everything */
	meta_tnode *n;
	size_t removed;
	assert_int_equal(meta_tree_del_prefix(t, "g3/", 3, &n, &removed), BB_OK);
	meta_tree_unref(t);
	t = n;
	for (int k = 0; k < NK; k++)
		m->ver[3][k] = 0;
	check_tree(t, m);
	assert_int_equal(meta_tree_del_prefix(t, "g", 1, &n, &removed), BB_OK);
	assert_int_equal(removed, model_count(m));
	assert_null(n);
	meta_tree_unref(t);
	free(old_m);
	free(m);
}

static void test_scan_prefix_after(void **state)
{
	(void)state;
	meta_tnode *t = NULL;
	model m = {0};
	for (int g = 0; g < NG; g++)
		for (int k = 0; k < NK; k += 3) {
			put(&t, g, k, (uint64_t)(g * 1000 + k + 1));
			m.ver[g][k] = (uint64_t)(g * 1000 + k + 1);
		}
	collect *c = calloc(1, sizeof *c);
	/* the prefix "g4/" only, in order */
	size_t n = meta_tree_scan(t, "g4/", 3, NULL, 0, collect_fn, c);
	assert_int_equal(n, (NK + 2) / 3);
	for (size_t i = 0; i < n; i++) {
		char key[16];
		key_of(key, 4, (int)i * 3);
		assert_string_equal(c->keys[i], key);
	}
	/* pagination: pages of 7, each resuming strictly after the last key of the previous page */
	size_t total = 0;
	char after[16] = "";
	for (;;) {
		memset(c, 0, sizeof *c);
		c->limit = 7;
		size_t got = meta_tree_scan(t, "g4/", 3, total ? after : NULL, strlen(after), collect_fn, c);
		for (size_t i = 0; i < got; i++) {
			char key[16];
			key_of(key, 4, (int)(total + i) * 3);
			assert_string_equal(c->keys[i], key);
		}
		total += got;
		if (got < 7)
			break;
		strcpy(after, c->keys[got - 1]);
	}
	assert_int_equal(total, n);
	/* after an absent key between two present ones */
	memset(c, 0, sizeof *c);
	assert_int_equal(meta_tree_scan(t, "g4/", 3, "g4/k0004", 8, collect_fn, c), n - 2);
	assert_string_equal(c->keys[0], "g4/k0006");
	/* after below the prefix: start at the prefix; after beyond the prefix: nothing */
	memset(c, 0, sizeof *c);
	assert_int_equal(meta_tree_scan(t, "g4/", 3, "a", 1, collect_fn, c), n);
	memset(c, 0, sizeof *c);
	assert_int_equal(meta_tree_scan(t, "g4/", 3, "g5", 2, collect_fn, c), 0);
	/* absent prefix, and the stop-early contract */
	assert_int_equal(meta_tree_scan(t, "zz", 2, NULL, 0, collect_fn, c), 0);
	memset(c, 0, sizeof *c);
	c->limit = 1;
	assert_int_equal(meta_tree_scan(t, "g", 1, NULL, 0, collect_fn, c), 1);
	assert_string_equal(c->keys[0], "g0/k0000");
	free(c);

	/* the same through the public snapshot API */
	meta_snap *s = meta_snap_new(t, 77);
	meta_tree_unref(t); /* the snapshot holds the tree now */
	assert_int_equal(meta_snap_index(s), 77);
	assert_int_equal(meta_snap_count(s), model_count(&m));
	meta_val v;
	assert_true(meta_snap_get(s, "g2/k0003", 8, &v));
	assert_int_equal(v.version, 2004);
	assert_int_equal(v.key_len, 8);
	assert_memory_equal(v.key, "g2/k0003", 8);
	assert_false(meta_snap_get(s, "g2/k0004", 8, &v));
	assert_false(meta_snap_get(s, "", 0, &v));
	meta_snap_release(s);
}

static void test_binary_keys(void **state)
{
	(void)state;
	/* keys with 0x00 and 0xff bytes, and keys that are prefixes of each other */
	const char *keys[] = {"\xff", "\xff\xff", "\xff\x00", "a", "a\x00", "a\x00\x01", "ab", "\x00"};
	size_t lens[] = {1, 2, 2, 1, 2, 3, 2, 1};
	meta_tnode *t = NULL;
	for (size_t i = 0; i < BB_ARRAY_LEN(keys); i++) {
		meta_item *it = meta_item_new(keys[i], lens[i], "", 0, i + 1);
		meta_tnode *n;
		assert_int_equal(meta_tree_set(t, it, &n), BB_OK);
		meta_item_unref(it);
		meta_tree_unref(t);
		t = n;
	}
	assert_int_equal(meta_tree_size(t), BB_ARRAY_LEN(keys));
	size_t removed;
	meta_tnode *n;
	assert_int_equal(meta_tree_del_prefix(t, "\xff", 1, &n, &removed), BB_OK);
	assert_int_equal(removed, 3);
	meta_tree_unref(t);
	t = n;
	assert_int_equal(meta_tree_del_prefix(t, "a\x00", 2, &n, &removed), BB_OK);
	assert_int_equal(removed, 2);
	assert_non_null(meta_tree_get(n, "a", 1));
	assert_non_null(meta_tree_get(n, "ab", 2));
	assert_non_null(meta_tree_get(n, "\x00", 1));
	assert_int_equal(meta_tree_size(n), 3);
	meta_tree_unref(t);
	meta_tree_unref(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_ops_and_persistence),
		cmocka_unit_test(test_scan_prefix_after),
		cmocka_unit_test(test_binary_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
