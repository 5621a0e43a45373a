/* raft/meta_map.c — the persistent ordered map behind every metadata snapshot.
 *
 * A treap (binary search tree on keys, max-heap on priorities) whose nodes are immutable once built.
 * An update copies only the nodes on the path it touches (expected O(log n) new nodes) and shares
 * every other subtree with the previous version, so the FSM can publish a new snapshot after each
 * apply while readers keep walking older versions undisturbed.
 *
 * - Ordering: keys are byte strings in bytewise order (shorter first on a common prefix).
 * - Priorities: a keyed 64-bit hash of the key, seeded once per process from getrandom(2). Equal keys
 *   get equal priorities, so a key's node position is canonical; the seed keeps chosen keys from
 *   degenerating the tree. Ties are broken by key, so "rank" is a total order. The shape never leaves
 *   the process (snapshots serialize items in key order), so the seed does not affect determinism.
 * - Sharing: nodes and items carry atomic refcounts. Only the loop thread creates nodes; any thread
 *   may drop the last reference (meta_snap_release), which frees the nodes unique to that version.
 * - Failure: every update takes its input tree borrowed and builds a new one; on BB_ENOMEM the partial
 *   result is released and the input is untouched, which keeps FSM applies all-or-nothing.
 * Recursion depth is the tree height (expected ~2 log2 n).
 */
#include "meta_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- keys and priorities ----------------------------------------------------------------------- */

static uint64_t g_seed;
static pthread_once_t g_seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
	}
	g_seed = s;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t key_hash(const uint8_t *k, size_t n)
{
	pthread_once(&g_seed_once, seed_init);
	uint64_t h = mix64(g_seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ull));
	uint64_t w;
	while (n >= 8) {
		memcpy(&w, k, 8);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
		k += 8;
		n -= 8;
	}
	w = 0;
	if (n)
		memcpy(&w, k, n);
	return mix64(h ^ w ^ ((uint64_t)n << 56));
}

int meta_key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	size_t m = al < bl ? al : bl;
	int c = m ? memcmp(a, b, m) : 0;
	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

static int item_cmp_key(const meta_item *it, const void *key, size_t key_len)
{
	return meta_key_cmp(it->bytes, it->key_len, key, key_len);
}

static bool has_prefix(const meta_item *it, const void *prefix, size_t plen)
{
	return it->key_len >= plen && (plen == 0 || memcmp(it->bytes, prefix, plen) == 0);
}

/* True if a sits above b in the heap order. */
static bool rank_gt(const meta_item *a, const meta_item *b)
{
	if (a->prio != b->prio)
		return a->prio > b->prio;
	return meta_key_cmp(a->bytes, a->key_len, b->bytes, b->key_len) < 0;
}

/* ---- items and nodes --------------------------------------------------------------------------- */

meta_item *meta_item_new(const void *key, size_t key_len, const void *val, size_t val_len, uint64_t version)
{
	meta_item *it = malloc(sizeof *it + key_len + val_len);
	if (!it)
		return NULL;
	atomic_init(&it->ref, 1);
	it->prio = key_hash(key, key_len);
	it->version = version;
	it->key_len = key_len;
	it->val_len = val_len;
	if (key_len)
		memcpy(it->bytes, key, key_len);
	if (val_len)
		memcpy(it->bytes + key_len, val, val_len);
	return it;
}

void meta_item_unref(meta_item *it)
{
	if (it && atomic_fetch_sub_explicit(&it->ref, 1, memory_order_acq_rel) == 1)
		free(it);
}

meta_tnode *meta_tree_ref(meta_tnode *t)
{
	if (t)
		atomic_fetch_add_explicit(&t->ref, 1, memory_order_relaxed);
	return t;
}

void meta_tree_unref(meta_tnode *t)
{
	while (t) {
		if (atomic_fetch_sub_explicit(&t->ref, 1, memory_order_acq_rel) != 1)
			return;
		meta_tnode *right = t->right;
		meta_item_unref(t->item);
		meta_tree_unref(t->left);
		free(t);
		t = right; /* iterate on the right spine, recurse on the left */
	}
}

/* A new node referencing it, l and r (each gains a reference). NULL on allocation failure. */
static meta_tnode *node_make(meta_item *it, meta_tnode *l, meta_tnode *r)
{
	meta_tnode *n = malloc(sizeof *n);
	if (!n)
		return NULL;
	atomic_init(&n->ref, 1);
	atomic_fetch_add_explicit(&it->ref, 1, memory_order_relaxed);
	n->item = it;
	n->left = meta_tree_ref(l);
	n->right = meta_tree_ref(r);
	n->size = 1 + meta_tree_size(l) + meta_tree_size(r);
	return n;
}

/* ---- split / merge ------------------------------------------------------------------------------ */

/* Monotone predicate: true for a (possibly empty) prefix of the in-order sequence. */
typedef bool (*goes_left_fn)(const meta_item *it, const void *ctx);

typedef struct keyref {
	const void *key;
	size_t len;
} keyref;

static bool left_if_less(const meta_item *it, const void *ctx)
{
	const keyref *k = ctx;
	return item_cmp_key(it, k->key, k->len) < 0;
}

/* Used on a tree whose keys are all >= prefix: prefixed keys come first. */
static bool left_if_prefixed(const meta_item *it, const void *ctx)
{
	const keyref *k = ctx;
	return has_prefix(it, k->key, k->len);
}

/* Splits t (borrowed) into *l (items where pred holds) and *r (the rest), both new references. */
static bb_err split(meta_tnode *t, goes_left_fn pred, const void *ctx, meta_tnode **l, meta_tnode **r)
{
	if (!t) {
		*l = *r = NULL;
		return BB_OK;
	}
	meta_tnode *a, *b, *n;
	bb_err e;
	if (pred(t->item, ctx)) {
		e = split(t->right, pred, ctx, &a, &b);
		if (e != BB_OK)
			return e;
		n = node_make(t->item, t->left, a);
		meta_tree_unref(a);
		if (!n) {
			meta_tree_unref(b);
			return BB_ENOMEM;
		}
		*l = n;
		*r = b;
	} else {
		e = split(t->left, pred, ctx, &a, &b);
		if (e != BB_OK)
			return e;
		n = node_make(t->item, b, t->right);
		meta_tree_unref(b);
		if (!n) {
			meta_tree_unref(a);
			return BB_ENOMEM;
		}
		*l = a;
		*r = n;
	}
	return BB_OK;
}

/* Joins a and b (borrowed; every key of a < every key of b) into *out (new reference). */
static bb_err merge(meta_tnode *a, meta_tnode *b, meta_tnode **out)
{
	if (!a || !b) {
		*out = meta_tree_ref(a ? a : b);
		return BB_OK;
	}
	meta_tnode *m, *n;
	bb_err e;
	if (rank_gt(a->item, b->item)) {
		e = merge(a->right, b, &m);
		if (e != BB_OK)
			return e;
		n = node_make(a->item, a->left, m);
	} else {
		e = merge(a, b->left, &m);
		if (e != BB_OK)
			return e;
		n = node_make(b->item, m, b->right);
	}
	meta_tree_unref(m);
	if (!n)
		return BB_ENOMEM;
	*out = n;
	return BB_OK;
}

/* ---- queries ------------------------------------------------------------------------------------- */

const meta_item *meta_tree_get(const meta_tnode *t, const void *key, size_t key_len)
{
	while (t) {
		int c = item_cmp_key(t->item, key, key_len);
		if (c == 0)
			return t->item;
		t = c > 0 ? t->left : t->right;
	}
	return NULL;
}

/* The smallest item with key >= key, or NULL. */
static const meta_item *first_ge(const meta_tnode *t, const void *key, size_t key_len)
{
	const meta_item *best = NULL;
	while (t) {
		if (item_cmp_key(t->item, key, key_len) >= 0) {
			best = t->item;
			t = t->left;
		} else {
			t = t->right;
		}
	}
	return best;
}

/* ---- updates ------------------------------------------------------------------------------------- */

bb_err meta_tree_set(meta_tnode *t, meta_item *item, meta_tnode **out)
{
	meta_tnode *n, *m;
	bb_err e;
	if (!t || rank_gt(item, t->item)) {
		/* item belongs at this position; its key cannot be in t (an equal key has an equal rank). */
		meta_tnode *l, *r;
		keyref k = {item->bytes, item->key_len};
		e = split(t, left_if_less, &k, &l, &r);
		if (e != BB_OK)
			return e;
		n = node_make(item, l, r);
		meta_tree_unref(l);
		meta_tree_unref(r);
	} else {
		int c = meta_key_cmp(item->bytes, item->key_len, t->item->bytes, t->item->key_len);
		if (c == 0) {
			n = node_make(item, t->left, t->right);
		} else {
			e = meta_tree_set(c < 0 ? t->left : t->right, item, &m);
			if (e != BB_OK)
				return e;
			n = c < 0 ? node_make(t->item, m, t->right) : node_make(t->item, t->left, m);
			meta_tree_unref(m);
		}
	}
	if (!n)
		return BB_ENOMEM;
	*out = n;
	return BB_OK;
}

bb_err meta_tree_del(meta_tnode *t, const void *key, size_t key_len, meta_tnode **out, bool *found)
{
	if (!t) {
		*found = false;
		*out = NULL;
		return BB_OK;
	}
	int c = meta_key_cmp(key, key_len, t->item->bytes, t->item->key_len);
	if (c == 0) {
		bb_err e = merge(t->left, t->right, out);
		if (e == BB_OK)
			*found = true;
		return e;
	}
	meta_tnode *m;
	bb_err e = meta_tree_del(c < 0 ? t->left : t->right, key, key_len, &m, found);
	if (e != BB_OK)
		return e;
	if (!*found) {
		meta_tree_unref(m);
		*out = meta_tree_ref(t);
		return BB_OK;
	}
	meta_tnode *n = c < 0 ? node_make(t->item, m, t->right) : node_make(t->item, t->left, m);
	meta_tree_unref(m);
	if (!n)
		return BB_ENOMEM;
	*out = n;
	return BB_OK;
}

bb_err meta_tree_del_prefix(meta_tnode *t, const void *prefix, size_t prefix_len, meta_tnode **out,
			    size_t *removed)
{
	const meta_item *first = first_ge(t, prefix, prefix_len);
	if (!first || !has_prefix(first, prefix, prefix_len)) {
		*removed = 0;
		*out = meta_tree_ref(t);
		return BB_OK;
	}
	keyref k = {prefix, prefix_len};
	meta_tnode *lo, *rest, *mid, *hi;
	bb_err e = split(t, left_if_less, &k, &lo, &rest);
	if (e != BB_OK)
		return e;
	e = split(rest, left_if_prefixed, &k, &mid, &hi);
	meta_tree_unref(rest);
	if (e != BB_OK) {
		meta_tree_unref(lo);
		return e;
	}
	size_t n_mid = meta_tree_size(mid);
	e = merge(lo, hi, out);
	meta_tree_unref(lo);
	meta_tree_unref(mid);
	meta_tree_unref(hi);
	if (e == BB_OK)
		*removed = n_mid;
	return e;
}

/* ---- scan ---------------------------------------------------------------------------------------- */

typedef struct scan_state {
	const void *prefix;
	size_t prefix_len;
	const void *lo; /* lower bound */
	size_t lo_len;
	bool lo_excl;
	meta_scan_fn fn;
	void *ctx;
	size_t visited;
	bool stop;
} scan_state;

static bool above_lo(const meta_item *it, const scan_state *s)
{
	int c = item_cmp_key(it, s->lo, s->lo_len);
	return c > 0 || (c == 0 && !s->lo_excl);
}

static void scan_rec(const meta_tnode *t, scan_state *s)
{
	while (t && !s->stop) {
		if (!above_lo(t->item, s)) {
			t = t->right;
			continue;
		}
		scan_rec(t->left, s);
		if (s->stop)
			return;
		const meta_item *it = t->item;
		/* Every key >= lo (>= prefix) that lacks the prefix sorts after all prefixed keys. */
		if (!has_prefix(it, s->prefix, s->prefix_len)) {
			s->stop = true;
			return;
		}
		meta_val v = {it->bytes, it->key_len, it->bytes + it->key_len, it->val_len, it->version};
		s->visited++;
		if (!s->fn(s->ctx, &v)) {
			s->stop = true;
			return;
		}
		t = t->right;
	}
}

size_t meta_tree_scan(const meta_tnode *t, const void *prefix, size_t prefix_len, const void *after,
		      size_t after_len, meta_scan_fn fn, void *ctx)
{
	scan_state s = {.prefix = prefix, .prefix_len = prefix_len, .fn = fn, .ctx = ctx};
	if (after && meta_key_cmp(after, after_len, prefix, prefix_len) >= 0) {
		s.lo = after;
		s.lo_len = after_len;
		s.lo_excl = true;
	} else {
		s.lo = prefix;
		s.lo_len = prefix_len;
		s.lo_excl = false;
	}
	scan_rec(t, &s);
	return s.visited;
}
