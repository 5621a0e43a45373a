/* node/pattern/pat_itree.c — a static centered interval tree over one field's numeric ranges, so a
 * value costs O(log n + matches) instead of a pass over every range of the field.
 *
 * Each node has a center; the ranges containing it stay at the node in two orders (by lower bound
 * ascending, by upper bound descending), the ranges wholly below it go left, wholly above go right.
 * A value below the center scans the node's ranges by lower bound until one starts above the value,
 * then descends left; above the center, by upper bound, then right. Bounds are compared inclusively
 * while scanning and checked exactly (open or closed) before a range is reported. Built once per core
 * (the publishing thread), read by any thread.
 */
#include <stdlib.h>
#include <string.h>

#include "pat_set.h"

typedef struct itb {
	pat_itree *t;
	const pat_range *r;
	double *ends;
	struct keyed *keys;
	bool oom;
} itb;

typedef struct keyed {
	double key;
	uint32_t id;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
	double x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;
	return x < y ? -1 : x > y;
}

/* Sorts ids by key(id) ascending (desc: descending), through the scratch array k. */
static void sort_ids(uint32_t *ids, uint32_t n, const pat_range *r, bool by_hi, keyed *k)
{
	for (uint32_t i = 0; i < n; i++)
		k[i] = (keyed){.key = by_hi ? -r[ids[i]].hi : r[ids[i]].lo, .id = ids[i]};
	qsort(k, n, sizeof(keyed), cmp_keyed);
	for (uint32_t i = 0; i < n; i++)
		ids[i] = k[i].id;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int32_t build(itb *b, uint32_t *ids, uint32_t n)
{
	if (n == 0 || b->oom)
		return -1;
	pat_itree *t = b->t;
	for (uint32_t i = 0; i < n; i++) {
		b->ends[2 * i] = b->r[ids[i]].lo;
		b->ends[2 * i + 1] = b->r[ids[i]].hi;
	}
	qsort(b->ends, 2 * (size_t)n, sizeof(double), cmp_double);
	double center = b->ends[n];
	/* partition ids in place: [0, nl) below, [nl, nl + nc) containing, the rest above */
	uint32_t nl = 0, nc = 0;
	for (uint32_t i = 0; i < n; i++)
		if (b->r[ids[i]].hi < center) {
			uint32_t x = ids[i];
			ids[i] = ids[nl];
			ids[nl++] = x;
		}
	for (uint32_t i = nl; i < n; i++)
		if (b->r[ids[i]].lo <= center) {
			uint32_t x = ids[i];
			ids[i] = ids[nl + nc];
			ids[nl + nc++] = x;
		}
	int32_t me = (int32_t)t->nnodes++;
	t->nodes[me].center = center;
	t->nodes[me].off = t->nids;
	t->nodes[me].n = nc;
	memcpy(t->by_lo + t->nids, ids + nl, nc * sizeof(uint32_t));
	memcpy(t->by_hi + t->nids, ids + nl, nc * sizeof(uint32_t));
	sort_ids(t->by_lo + t->nids, nc, b->r, false, b->keys);
	sort_ids(t->by_hi + t->nids, nc, b->r, true, b->keys);
	t->nids += nc;
	int32_t left = build(b, ids, nl);
	int32_t right = build(b, ids + nl + nc, n - nl - nc);
	t->nodes[me].left = left;
	t->nodes[me].right = right;
	return me;
}

bool pat_itree_build(pat_itree *t, const pat_range *r, uint32_t n)
{
	memset(t, 0, sizeof(*t));
	t->nodes = calloc(n ? n : 1, sizeof(pat_inode)); /* every node holds at least one range */
	t->by_lo = malloc((n ? n : 1) * sizeof(uint32_t));
	t->by_hi = malloc((n ? n : 1) * sizeof(uint32_t));
	uint32_t *ids = malloc((n ? n : 1) * sizeof(uint32_t));
	double *ends = malloc((n ? 2 * (size_t)n : 1) * sizeof(double));
	keyed *keys = malloc((n ? n : 1) * sizeof(keyed));
	bool ok = t->nodes && t->by_lo && t->by_hi && ids && ends && keys;
	if (ok) {
		for (uint32_t i = 0; i < n; i++)
			ids[i] = i;
		itb b = {.t = t, .r = r, .ends = ends, .keys = keys};
		t->root = build(&b, ids, n);
	}
	free(ids);
	free(ends);
	free(keys);
	if (!ok)
		pat_itree_free(t);
	return ok;
}

void pat_itree_free(pat_itree *t)
{
	free(t->nodes);
	free(t->by_lo);
	free(t->by_hi);
	memset(t, 0, sizeof(*t));
}

size_t pat_itree_bytes(const pat_itree *t)
{
	return t->nnodes * sizeof(pat_inode) + 2 * (size_t)t->nids * sizeof(uint32_t);
}

static inline bool contains(const pat_range *r, double d)
{
	return (r->open_lo ? d > r->lo : d >= r->lo) && (r->open_hi ? d < r->hi : d <= r->hi);
}

void pat_itree_visit(const pat_itree *t, const pat_range *r, double x, void (*fn)(void *, uint32_t), void *ctx)
{
	for (int32_t ni = t->root; ni >= 0;) {
		const pat_inode *nd = &t->nodes[ni];
		if (x < nd->center) {
			for (uint32_t i = 0; i < nd->n; i++) {
				uint32_t id = t->by_lo[nd->off + i];
				if (r[id].lo > x)
					break;
				if (contains(&r[id], x))
					fn(ctx, id);
			}
			ni = nd->left;
		} else if (x > nd->center) {
			for (uint32_t i = 0; i < nd->n; i++) {
				uint32_t id = t->by_hi[nd->off + i];
				if (r[id].hi < x)
					break;
				if (contains(&r[id], x))
					fn(ctx, id);
			}
			ni = nd->right;
		} else {
			for (uint32_t i = 0; i < nd->n; i++) {
				uint32_t id = t->by_lo[nd->off + i];
				if (contains(&r[id], x))
					fn(ctx, id);
			}
			break;
		}
	}
}
