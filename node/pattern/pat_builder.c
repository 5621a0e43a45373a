/* node/pattern/pat_builder.c — the mutable rule set of one owner thread, and publishing it.
 *
 * The builder keeps a private copy of every rule by caller id (a dense array plus an id → slot hash:
 * add, replace and remove are O(1) and never touch other rules) and the base core of its last full
 * build. Each rule is either in that base (its index there) or new since (the delta). Publishing:
 *  - full: build a new base core from every rule (linear in the rule count, ~100 ns per simple rule);
 *  - incremental: keep the base, build a core of the delta rules only, and copy the bitset of base
 *    rules removed or replaced since the base was built. Removing a rule is a bit; adding one costs
 *    a rebuild of the delta.
 * A full build happens when there is no base yet, when the delta outgrows DELTA_MAX(base) rules, or
 * when a quarter of the base is dead. The published set holds references to its cores, so older sets
 * stay valid until their last release and matching threads never wait.
 */
#include <stdlib.h>
#include <string.h>

#include "pat_set.h"

/* Largest delta before the base is rebuilt: big enough that a stream of single-rule changes rebuilds
 * the base rarely, small enough that the delta stays cheap to rebuild and to walk alongside. */
#define DELTA_MAX(nbase) (256u + (nbase) / 32u)

typedef struct bent {
	uint32_t id;
	uint32_t base; /* index of this rule in b->base, or PAT_NONE: the rule is in the delta */
	pat_rule *r;
} bent;

struct pat_builder {
	bent *v;
	uint32_t n, cap;
	uint32_t *slots; /* id hash -> index + 1 */
	uint32_t smask;
	pat_core *base;  /* last full build (a reference), NULL before the first publish */
	uint64_t *dead;  /* bits over base rule indexes: removed or replaced since */
	uint32_t ndead, ndelta;
};

pat_builder *pat_builder_new(void)
{
	return calloc(1, sizeof(pat_builder));
}

void pat_builder_free(pat_builder *b)
{
	if (!b)
		return;
	for (uint32_t i = 0; i < b->n; i++)
		pat_rule_free(b->v[i].r);
	free(b->v);
	free(b->slots);
	free(b->dead);
	pat_core_release(b->base);
	free(b);
}

static uint32_t id_home(uint32_t id, uint32_t mask)
{
	return (uint32_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

/* Returns the slot position holding id, or the empty slot where it would go. */
static uint32_t find_slot(const pat_builder *b, uint32_t id)
{
	uint32_t i = id_home(id, b->smask);
	while (b->slots[i] && b->v[b->slots[i] - 1].id != id)
		i = (i + 1) & b->smask;
	return i;
}

static bool rehash_ids(pat_builder *b, uint32_t cap)
{
	uint32_t *ns = calloc(cap, sizeof(uint32_t));
	if (!ns)
		return false;
	free(b->slots);
	b->slots = ns;
	b->smask = cap - 1;
	for (uint32_t k = 0; k < b->n; k++) {
		uint32_t i = id_home(b->v[k].id, b->smask);
		while (b->slots[i])
			i = (i + 1) & b->smask;
		b->slots[i] = k + 1;
	}
	return true;
}

/* The entry's rule leaves wherever it was: a base rule becomes dead, a delta rule leaves the delta. */
static void retire(pat_builder *b, bent *e)
{
	if (e->base != PAT_NONE) {
		b->dead[e->base >> 6] |= 1ULL << (e->base & 63);
		b->ndead++;
		e->base = PAT_NONE;
	} else {
		b->ndelta--;
	}
}

bb_err pat_builder_add(pat_builder *b, uint32_t id, const pat_rule *r)
{
	if (!b || !r)
		return BB_EINVAL;
	pat_rule *copy = pat_rule_clone(r);
	if (!copy)
		return BB_ENOMEM;
	if (b->slots) {
		uint32_t i = find_slot(b, id);
		if (b->slots[i]) {
			bent *e = &b->v[b->slots[i] - 1];
			retire(b, e);
			pat_rule_free(e->r);
			e->r = copy;
			b->ndelta++;
			return BB_OK;
		}
	}
	if (b->n == b->cap) {
		uint32_t nc = b->cap ? b->cap * 2 : 16;
		bent *nv = realloc(b->v, nc * sizeof(bent));
		if (!nv) {
			pat_rule_free(copy);
			return BB_ENOMEM;
		}
		b->v = nv;
		b->cap = nc;
	}
	if (!b->slots || (b->n + 1) * 2 > b->smask + 1) {
		uint32_t cap = b->slots ? (b->smask + 1) * 2 : 32;
		if (!rehash_ids(b, cap)) {
			pat_rule_free(copy);
			return BB_ENOMEM;
		}
	}
	b->v[b->n] = (bent){.id = id, .base = PAT_NONE, .r = copy};
	b->n++;
	b->ndelta++;
	b->slots[find_slot(b, id)] = b->n;
	return BB_OK;
}

bb_err pat_builder_remove(pat_builder *b, uint32_t id)
{
	if (!b || !b->slots)
		return BB_ENOTFOUND;
	uint32_t i = find_slot(b, id);
	if (!b->slots[i])
		return BB_ENOTFOUND;
	uint32_t k = b->slots[i] - 1;
	retire(b, &b->v[k]);
	pat_rule_free(b->v[k].r);
	/* backward-shift deletion of slot i (linear probing) */
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & b->smask;
		if (!b->slots[j])
			break;
		uint32_t home = id_home(b->v[b->slots[j] - 1].id, b->smask);
		bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			b->slots[i] = b->slots[j];
			i = j;
		}
	}
	b->slots[i] = 0;
	/* move the last entry into the hole */
	uint32_t last = b->n - 1;
	if (k != last) {
		uint32_t p = find_slot(b, b->v[last].id);
		b->v[k] = b->v[last];
		b->slots[p] = k + 1;
	}
	b->n--;
	return BB_OK;
}

size_t pat_builder_count(const pat_builder *b)
{
	return b ? b->n : 0;
}

/* Builds a core from the entries that are in the delta (all of them when full). */
static pat_core *build(pat_builder *b, bool full)
{
	uint32_t n = full ? b->n : b->ndelta;
	uint32_t *ids = malloc((n ? n : 1) * sizeof(uint32_t));
	const pat_rule **rules = malloc((n ? n : 1) * sizeof(*rules));
	pat_core *c = NULL;
	if (ids && rules) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < b->n; i++)
			if (full || b->v[i].base == PAT_NONE) {
				ids[k] = b->v[i].id;
				rules[k++] = b->v[i].r;
			}
		c = pat_core_build(ids, rules, k);
	}
	free(ids);
	free(rules);
	return c;
}

static size_t dead_words(const pat_core *base)
{
	return (base->nrules + 63) / 64;
}

static pat_set *set_new(pat_core *base, pat_core *delta, const uint64_t *dead, size_t words, uint32_t nrules)
{
	pat_set *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (dead) {
		s->dead = malloc(words * sizeof(uint64_t));
		if (!s->dead) {
			free(s);
			return NULL;
		}
		memcpy(s->dead, dead, words * sizeof(uint64_t));
	}
	atomic_init(&s->refs, 1);
	pat_core_retain(base);
	s->base = base;
	s->delta = delta;
	s->nrules = nrules;
	s->memory = sizeof(*s) + base->memory + (delta ? delta->memory : 0) + (dead ? words * 8 : 0);
	return s;
}

static pat_set *publish_full(pat_builder *b)
{
	pat_core *c = build(b, true);
	if (!c)
		return NULL;
	uint64_t *dead = calloc(dead_words(c) ? dead_words(c) : 1, sizeof(uint64_t));
	if (!dead) {
		pat_core_release(c);
		return NULL;
	}
	pat_set *s = set_new(c, NULL, NULL, 0, b->n);
	if (!s) {
		free(dead);
		pat_core_release(c);
		return NULL;
	}
	for (uint32_t i = 0; i < b->n; i++)
		b->v[i].base = i; /* build() visited the entries in this order */
	pat_core_release(b->base);
	free(b->dead);
	b->base = c; /* the builder's reference; the set took its own */
	b->dead = dead;
	b->ndead = b->ndelta = 0;
	return s;
}

pat_set *pat_builder_publish(pat_builder *b)
{
	if (!b)
		return NULL;
	uint32_t nbase = b->base ? b->base->nrules : 0;
	if (!b->base || b->ndelta > DELTA_MAX(nbase) || (b->ndead && b->ndead * 4 >= nbase))
		return publish_full(b);
	pat_core *delta = NULL;
	if (b->ndelta && !(delta = build(b, false)))
		return NULL;
	pat_set *s = set_new(b->base, delta, b->ndead ? b->dead : NULL, dead_words(b->base), b->n);
	if (!s)
		pat_core_release(delta);
	return s;
}

void pat_set_retain(pat_set *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void pat_set_release(pat_set *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
		pat_core_release(s->base);
		pat_core_release(s->delta);
		free(s->dead);
		free(s);
	}
}

size_t pat_set_count(const pat_set *s)
{
	return s ? s->nrules : 0;
}

size_t pat_set_memory(const pat_set *s)
{
	return s ? s->memory : 0;
}
