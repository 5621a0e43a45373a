/* node/pattern/pat_set.c — the rule builder and the compilation of all its rules into one immutable,
 * shareable pat_set (layout in pat_set.h).
 *
 * Builder: a dense array of (id, private copy of the compiled rule) with an id → slot hash; add,
 * replace and remove are O(1) and never touch other rules. Publish builds a fresh set from the
 * current rules in one linear pass (hash inserts only; ~100 ns per simple rule) and hands it out with
 * one reference; older sets stay valid until their last release, so matching threads never wait.
 * Set: a trie of path segments (child lookup by (parent, segment) hash) whose leaves are fields; per
 * field, unique matchers ("ments", deduplicated across rules) indexed by kind — exact strings and
 * non-comparable number texts in hash maps, comparable numbers by their double bits, prefixes and
 * suffixes in one map per field probed once per distinct affix length, ASCII case-insensitive affixes
 * lowercased the same way, equals-ignore-case by fold key with exact confirmation, everything else
 * (wildcards, ranges, cidr, anything-but, non-ASCII case-folded affixes) in a short generic list.
 * Each ment lists the predicates (one per branch condition) it satisfies.
 */
#include <stdlib.h>
#include <string.h>

#include "pat_set.h"

/* ---- hash maps ---------------------------------------------------------------------------------- */

static inline uint32_t h32(uint64_t h)
{
	return (uint32_t)h | 1u;
}

uint32_t pat_smap_get(const pat_set *s, const pat_smap *m, const char *k, size_t n, uint64_t hh)
{
	if (!m->mask && !m->e)
		return PAT_NONE;
	uint32_t h = h32(hh);
	uint32_t i = (uint32_t)(hh >> 32) & m->mask;
	for (;;) {
		const pat_smap_ent *e = &m->e[i];
		if (!e->hash)
			return PAT_NONE;
		if (e->hash == h && e->len == n && memcmp(s->blob + e->off, k, n) == 0)
			return e->val;
		i = (i + 1) & m->mask;
	}
}

uint32_t pat_nmap_get(const pat_nmap *m, uint64_t key)
{
	if (!m->e)
		return PAT_NONE;
	uint32_t i = (uint32_t)(pat_hash(&key, 8, 3) >> 32) & m->mask;
	for (;;) {
		const pat_nmap_ent *e = &m->e[i];
		if (!e->used)
			return PAT_NONE;
		if (e->key == key)
			return e->val;
		i = (i + 1) & m->mask;
	}
}

uint32_t pat_set_child(const pat_set *s, uint32_t parent, const char *seg, size_t n)
{
	uint64_t h = pat_hash(seg, n, parent * 0x9E3779B97F4A7C15ULL + 17);
	if (!s->kids.e)
		return PAT_NONE;
	uint32_t hv = h32(h);
	uint32_t i = (uint32_t)(h >> 32) & s->kids.mask;
	for (;;) {
		const pat_smap_ent *e = &s->kids.e[i];
		if (!e->hash)
			return PAT_NONE;
		if (e->hash == hv && e->len == n + 4) {
			uint32_t p;
			memcpy(&p, s->blob + e->off, 4);
			if (p == parent && memcmp(s->blob + e->off + 4, seg, n) == 0)
				return e->val;
		}
		i = (i + 1) & s->kids.mask;
	}
}

/* build-time context */
typedef struct bctx {
	pat_set *s;
	pat_buf blob;
	bool oom;
} bctx;

/* Simple growable map used at build time: entries store off/len in the blob; rehash recomputes the
 * hash from the key bytes (seed passed by the caller through the seed field). */
typedef struct bmap {
	pat_smap *m;
	uint64_t seed;
	bool kids;
} bmap;

static uint64_t key_hash(bctx *b, const pat_smap_ent *e, uint64_t seed, bool kids)
{
	if (kids) {
		uint32_t p;
		memcpy(&p, b->blob.p + e->off, 4);
		return pat_hash(b->blob.p + e->off + 4, e->len - 4, p * 0x9E3779B97F4A7C15ULL + 17);
	}
	return pat_hash(b->blob.p + e->off, e->len, seed);
}

static bool bmap_rehash(bctx *b, bmap *bm)
{
	pat_smap *m = bm->m;
	uint32_t cap = m->e ? (m->mask + 1) * 2 : 16;
	pat_smap_ent *ne = calloc(cap, sizeof(pat_smap_ent));
	if (!ne)
		return false;
	if (m->e) {
		for (uint32_t i = 0; i <= m->mask; i++) {
			pat_smap_ent *e = &m->e[i];
			if (!e->hash)
				continue;
			uint64_t hh = key_hash(b, e, bm->seed, bm->kids);
			uint32_t j = (uint32_t)(hh >> 32) & (cap - 1);
			while (ne[j].hash)
				j = (j + 1) & (cap - 1);
			ne[j] = *e;
		}
	}
	free(m->e);
	m->e = ne;
	m->mask = cap - 1;
	return true;
}

/* Inserts key (already in the blob at off) unless present. Returns the value stored. */
static uint32_t bmap_put(bctx *b, bmap *bm, uint32_t off, uint32_t len, uint64_t hh, uint32_t val)
{
	pat_smap *m = bm->m;
	if (!m->e || (m->n + 1) * 4 > (m->mask + 1) * 3) {
		if (!bmap_rehash(b, bm)) {
			b->oom = true;
			return PAT_NONE;
		}
	}
	uint32_t h = h32(hh);
	uint32_t i = (uint32_t)(hh >> 32) & m->mask;
	for (;;) {
		pat_smap_ent *e = &m->e[i];
		if (!e->hash)
			break;
		if (e->hash == h && e->len == len && memcmp(b->blob.p + e->off, b->blob.p + off, len) == 0)
			return e->val;
		i = (i + 1) & m->mask;
	}
	m->e[i].hash = h;
	m->e[i].off = off;
	m->e[i].len = len;
	m->e[i].val = val;
	m->n++;
	return val;
}

static uint32_t blob_add(bctx *b, const void *p, size_t n)
{
	uint32_t off = (uint32_t)b->blob.len;
	if (pat_buf_put(&b->blob, p, n))
		b->oom = true;
	return off;
}

static void nmap_put(bctx *b, pat_nmap *m, uint64_t key, uint32_t val)
{
	if (!m->e || (m->n + 1) * 4 > (m->mask + 1) * 3) {
		uint32_t cap = m->e ? (m->mask + 1) * 2 : 16;
		pat_nmap_ent *ne = calloc(cap, sizeof(pat_nmap_ent));
		if (!ne) {
			b->oom = true;
			return;
		}
		for (uint32_t i = 0; m->e && i <= m->mask; i++) {
			if (!m->e[i].used)
				continue;
			uint32_t j = (uint32_t)(pat_hash(&m->e[i].key, 8, 3) >> 32) & (cap - 1);
			while (ne[j].used)
				j = (j + 1) & (cap - 1);
			ne[j] = m->e[i];
		}
		free(m->e);
		m->e = ne;
		m->mask = cap - 1;
	}
	uint32_t i = (uint32_t)(pat_hash(&key, 8, 3) >> 32) & m->mask;
	while (m->e[i].used) {
		if (m->e[i].key == key)
			return;
		i = (i + 1) & m->mask;
	}
	m->e[i].key = key;
	m->e[i].val = val;
	m->e[i].used = 1;
	m->n++;
}

/* ---- builder ------------------------------------------------------------------------------------ */

typedef struct bent {
	uint32_t id;
	pat_rule *r;
} bent;

struct pat_builder {
	bent *v;
	uint32_t n, cap;
	uint32_t *slots; /* id hash -> index + 1 */
	uint32_t smask;
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
			pat_rule_free(e->r);
			e->r = copy;
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
	b->v[b->n].id = id;
	b->v[b->n].r = copy;
	b->n++;
	uint32_t i = find_slot(b, id);
	b->slots[i] = b->n;
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

/* ---- set construction --------------------------------------------------------------------------- */

typedef struct mtmp {
	const pat_matcher *m;
	uint32_t field;
	uint32_t *preds;
	uint32_t npred, cap;
	uint64_t hash;
	uint32_t next; /* dedupe chain */
} mtmp;

typedef struct gtmp {
	mtmp *v;
	uint32_t n, cap;
	uint32_t *tab; /* hash -> mtmp index + 1 */
	uint32_t tmask;
} gtmp;

static uint32_t ment_get(bctx *b, gtmp *g, uint32_t field, const pat_matcher *m)
{
	uint64_t h = pat_matcher_hash(m) ^ (field * 0x9E3779B97F4A7C15ULL);
	if (!g->tab || (g->n + 1) * 2 > g->tmask + 1) {
		uint32_t cap = g->tab ? (g->tmask + 1) * 2 : 64;
		uint32_t *nt = calloc(cap, sizeof(uint32_t));
		if (!nt) {
			b->oom = true;
			return PAT_NONE;
		}
		free(g->tab);
		g->tab = nt;
		g->tmask = cap - 1;
		for (uint32_t k = 0; k < g->n; k++) {
			uint32_t i = (uint32_t)(g->v[k].hash >> 32) & g->tmask;
			while (g->tab[i])
				i = (i + 1) & g->tmask;
			g->tab[i] = k + 1;
		}
	}
	uint32_t i = (uint32_t)(h >> 32) & g->tmask;
	while (g->tab[i]) {
		mtmp *t = &g->v[g->tab[i] - 1];
		if (t->hash == h && t->field == field && pat_matcher_equal(t->m, m))
			return g->tab[i] - 1;
		i = (i + 1) & g->tmask;
	}
	if (g->n == g->cap) {
		uint32_t nc = g->cap ? g->cap * 2 : 64;
		mtmp *nv = realloc(g->v, nc * sizeof(mtmp));
		if (!nv) {
			b->oom = true;
			return PAT_NONE;
		}
		g->v = nv;
		g->cap = nc;
	}
	mtmp *t = &g->v[g->n];
	memset(t, 0, sizeof(*t));
	t->m = m;
	t->field = field;
	t->hash = h;
	g->tab[i] = g->n + 1;
	return g->n++;
}

static void ment_add_pred(bctx *b, mtmp *t, uint32_t pred)
{
	if (t->npred && t->preds[t->npred - 1] == pred)
		return;
	if (t->npred == t->cap) {
		uint32_t nc = t->cap ? t->cap * 2 : 1;
		uint32_t *np = realloc(t->preds, nc * sizeof(uint32_t));
		if (!np) {
			b->oom = true;
			return;
		}
		t->preds = np;
		t->cap = nc;
	}
	t->preds[t->npred++] = pred;
}

/* growable arrays */
#define GROW(arr, n, cap, b)                                                                                         \
	do {                                                                                                         \
		if ((n) == (cap)) {                                                                                  \
			size_t nc_ = (cap) ? (cap) * 2 : 16;                                                         \
			void *np_ = realloc((arr), nc_ * sizeof(*(arr)));                                            \
			if (!np_) {                                                                                  \
				(b)->oom = true;                                                                     \
				break;                                                                               \
			}                                                                                            \
			(arr) = np_;                                                                                 \
			(cap) = nc_;                                                                                 \
		}                                                                                                    \
	} while (0)

static uint32_t node_for_path(bctx *b, bmap *kids, const char *p, size_t n, size_t *nodecap)
{
	pat_set *s = b->s;
	uint32_t cur = 0;
	size_t i = 0;
	for (;;) {
		size_t st = i;
		while (i < n && p[i] != '.')
			i++;
		/* segment p[st..i) */
		uint64_t h = pat_hash(p + st, i - st, cur * 0x9E3779B97F4A7C15ULL + 17);
		uint32_t off = blob_add(b, &cur, 4);
		blob_add(b, p + st, i - st);
		if (b->oom)
			return PAT_NONE;
		GROW(s->nodes, s->nnodes, *nodecap, b);
		if (b->oom)
			return PAT_NONE;
		uint32_t got = bmap_put(b, kids, off, (uint32_t)(i - st + 4), h, s->nnodes);
		if (got == PAT_NONE)
			return PAT_NONE;
		if (got == s->nnodes) {
			s->nodes[got].field = -1;
			s->nodes[got].nchild = 0;
			s->nodes[got].slot = s->nodes[cur].nchild++;
			s->nnodes++;
		} else {
			b->blob.len = off; /* key already present: drop the copy */
		}
		cur = got;
		if (i >= n)
			break;
		i++; /* skip '.' */
	}
	return cur;
}

static void affix_add(bctx *b, pat_affix *a, const char *k, size_t n, uint32_t ment, uint64_t seed)
{
	uint32_t off = blob_add(b, k, n);
	bmap bm = {&a->map, seed, false};
	uint32_t got = bmap_put(b, &bm, off, (uint32_t)n, pat_hash(k, n, seed), ment);
	if (got != ment && got != PAT_NONE) {
		b->s->alias_next[ment] = b->s->alias_next[got];
		b->s->alias_next[got] = ment;
	}
	for (uint32_t i = 0; i < a->nlens; i++)
		if (a->lens[i] == n)
			return;
	uint32_t *nl = realloc(a->lens, (a->nlens + 1) * sizeof(uint32_t));
	if (!nl) {
		b->oom = true;
		return;
	}
	a->lens = nl;
	uint32_t i = a->nlens++;
	while (i > 0 && a->lens[i - 1] > n) {
		a->lens[i] = a->lens[i - 1];
		i--;
	}
	a->lens[i] = (uint32_t)n;
}

static bool ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static void smap_free(pat_smap *m)
{
	free(m->e);
}

static void set_free(pat_set *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nfields; i++) {
		pat_field *f = &s->fields[i];
		smap_free(&f->exact);
		smap_free(&f->numtext);
		free(f->num.e);
		pat_affix *as[4] = {&f->prefix, &f->suffix, &f->prefix_ic, &f->suffix_ic};
		for (int k = 0; k < 4; k++) {
			smap_free(&as[k]->map);
			free(as[k]->lens);
		}
		smap_free(&f->eic);
		free(f->eic_next);
		free(f->gen);
	}
	for (uint32_t i = 0; i < s->ngm; i++)
		pat_matcher_free(&s->gm[i]);
	free(s->gm);
	free(s->gm_ment);
	free(s->fields);
	free(s->nodes);
	smap_free(&s->kids);
	free(s->ments);
	free(s->pred_lists);
	free(s->ment_soff);
	free(s->ment_slen);
	free(s->alias_next);
	free(s->pred_branch);
	free(s->br);
	free(s->conds);
	free(s->always);
	free(s->rule_ids);
	free(s->blob);
	free(s);
}

/* Computes how many bytes the hash maps and arrays of s hold. */
static size_t set_bytes(const pat_set *s)
{
	size_t t = sizeof(*s) + s->blob_len + s->nnodes * sizeof(pat_node) + (s->kids.e ? (s->kids.mask + 1) : 0) * sizeof(pat_smap_ent);
	t += s->nfields * sizeof(pat_field) + s->nments * sizeof(pat_ment) + s->ngm * (sizeof(pat_matcher) + 4);
	t += s->nments * 4 + s->npreds * 4 + s->nbr * sizeof(pat_br) + s->nalways * 4 + s->nrules * 4;
	for (uint32_t i = 0; i < s->nfields; i++) {
		const pat_field *f = &s->fields[i];
		const pat_smap *ms[7] = {&f->exact, &f->numtext, &f->prefix.map, &f->suffix.map, &f->prefix_ic.map,
					 &f->suffix_ic.map, &f->eic};
		for (int k = 0; k < 7; k++)
			if (ms[k]->e)
				t += (ms[k]->mask + 1) * sizeof(pat_smap_ent);
		if (f->num.e)
			t += (f->num.mask + 1) * sizeof(pat_nmap_ent);
		t += f->ngen * 4;
	}
	return t;
}

pat_set *pat_builder_publish(pat_builder *bld)
{
	if (!bld)
		return NULL;
	pat_set *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	bctx b = {.s = s};
	bmap kids = {&s->kids, 0, true};
	size_t nodecap = 0, fcap = 0, brcap = 0, pcap = 0, acap = 0;
	gtmp g = {0};
	/* root node */
	GROW(s->nodes, s->nnodes, nodecap, &b);
	if (b.oom)
		goto fail;
	memset(&s->nodes[0], 0, sizeof(pat_node));
	s->nodes[0].field = -1;
	s->nnodes = 1;
	s->rule_ids = malloc((bld->n ? bld->n : 1) * sizeof(uint32_t));
	if (!s->rule_ids)
		goto fail;
	s->nrules = bld->n;
	for (uint32_t ri = 0; ri < bld->n; ri++) {
		const pat_rule *r = bld->v[ri].r;
		s->rule_ids[ri] = bld->v[ri].id;
		for (uint32_t bi = 0; bi < r->nb; bi++) {
			const pat_branch *pb = &r->b[bi];
			GROW(s->br, s->nbr, brcap, &b);
			if (b.oom)
				goto fail;
			uint32_t brid = s->nbr++;
			pat_br *br = &s->br[brid];
			memset(br, 0, sizeof(*br));
			br->rule = ri;
			br->simple = 1;
			/* conds are appended contiguously */
			for (uint32_t ci = 0; ci < pb->nc; ci++) {
				const pat_cond *pc = &pb->c[ci];
				uint32_t node = node_for_path(&b, &kids, pc->path.p, pc->path.n, &nodecap);
				if (b.oom || node == PAT_NONE)
					goto fail;
				if (s->nodes[node].field < 0) {
					GROW(s->fields, s->nfields, fcap, &b);
					if (b.oom)
						goto fail;
					memset(&s->fields[s->nfields], 0, sizeof(pat_field));
					s->fields[s->nfields].lit[0] = s->fields[s->nfields].lit[1] =
						s->fields[s->nfields].lit[2] = -1;
					s->fields[s->nfields].ment_exists = PAT_NONE;
					s->nodes[node].field = (int32_t)s->nfields++;
				}
				uint32_t field = (uint32_t)s->nodes[node].field;
				bool abs = false, pos = false;
				for (uint32_t k = 0; k < pc->nm; k++) {
					if (pc->m[k].kind == PM_ABSENT)
						abs = true;
					else
						pos = true;
				}
				GROW(s->pred_branch, s->npreds, pcap, &b);
				if (b.oom)
					goto fail;
				uint32_t pred = s->npreds++;
				s->pred_branch[pred] = brid;
				if (!abs && pos)
					br->npos++;
				else
					br->simple = 0;
				for (uint32_t k = 0; k < pc->nm; k++) {
					if (pc->m[k].kind == PM_ABSENT)
						continue;
					uint32_t t = ment_get(&b, &g, field, &pc->m[k]);
					if (t == PAT_NONE)
						goto fail;
					ment_add_pred(&b, &g.v[t], pred);
				}
				(void)field;
			}
		}
	}
	/* second pass: condition records (kept separate so the first pass stays simple) */
	{
		size_t total = 0;
		for (uint32_t ri = 0; ri < bld->n; ri++)
			for (uint32_t bi = 0; bi < bld->v[ri].r->nb; bi++)
				total += bld->v[ri].r->b[bi].nc;
		s->conds = realloc(s->conds, (total ? total : 1) * sizeof(pat_bcond));
		if (!s->conds)
			goto fail;
		uint32_t brid = 0, pred = 0, off = 0;
		s->blob = b.blob.p; /* pat_set_child reads keys from the blob */
		for (uint32_t ri = 0; ri < bld->n; ri++) {
			const pat_rule *r = bld->v[ri].r;
			for (uint32_t bi = 0; bi < r->nb; bi++, brid++) {
				const pat_branch *pb = &r->b[bi];
				s->br[brid].cond_off = off;
				s->br[brid].nc = (uint16_t)pb->nc;
				for (uint32_t ci = 0; ci < pb->nc; ci++, pred++, off++) {
					const pat_cond *pc = &pb->c[ci];
					bool abs = false, pos = false;
					for (uint32_t k = 0; k < pc->nm; k++) {
						if (pc->m[k].kind == PM_ABSENT)
							abs = true;
						else
							pos = true;
					}
					uint32_t node = 0;
					size_t i = 0, n = pc->path.n;
					const char *p = pc->path.p;
					for (;;) {
						size_t st = i;
						while (i < n && p[i] != '.')
							i++;
						node = pat_set_child(s, node, p + st, i - st);
						if (i >= n)
							break;
						i++;
					}
					s->conds[off].pred = pred;
					s->conds[off].field = (uint32_t)s->nodes[node].field;
					s->conds[off].kind = abs && pos ? PAT_C_MIX : abs ? PAT_C_ABS : PAT_C_POS;
				}
				if (s->br[brid].npos == 0) {
					GROW(s->always, s->nalways, acap, &b);
					if (b.oom)
						goto fail;
					s->always[s->nalways++] = brid;
				}
			}
		}
	}
	/* ments → per-field indexes */
	s->nments = g.n;
	s->ments = calloc(g.n ? g.n : 1, sizeof(pat_ment));
	size_t npl = 0;
	for (uint32_t i = 0; i < g.n; i++)
		npl += g.v[i].npred;
	s->pred_lists = malloc((npl ? npl : 1) * sizeof(uint32_t));
	s->alias_next = malloc((g.n ? g.n : 1) * sizeof(uint32_t));
	if (!s->ments || !s->pred_lists || !s->alias_next)
		goto fail;
	for (uint32_t i = 0; i < g.n; i++)
		s->alias_next[i] = PAT_NONE;
	npl = 0;
	size_t gcap = 0;
	for (uint32_t i = 0; i < g.n; i++) {
		mtmp *t = &g.v[i];
		s->ments[i].pred_off = (uint32_t)npl;
		s->ments[i].npred = t->npred;
		memcpy(s->pred_lists + npl, t->preds, t->npred * sizeof(uint32_t));
		npl += t->npred;
		pat_field *f = &s->fields[t->field];
		const pat_matcher *m = t->m;
		bool generic = false;
		switch (m->kind) {
		case PM_EXACT_STR: {
			uint32_t off = blob_add(&b, m->s.p, m->s.n);
			bmap bm = {&f->exact, 11, false};
			bmap_put(&b, &bm, off, m->s.n, pat_hash(m->s.p, m->s.n, 11), i);
			break;
		}
		case PM_EXACT_NUMTEXT: {
			uint32_t off = blob_add(&b, m->s.p, m->s.n);
			bmap bm = {&f->numtext, 11, false};
			bmap_put(&b, &bm, off, m->s.n, pat_hash(m->s.p, m->s.n, 11), i);
			break;
		}
		case PM_EXACT_NUM: {
			uint64_t key;
			memcpy(&key, &m->lo, 8);
			nmap_put(&b, &f->num, key, i);
			f->need_num = true;
			break;
		}
		case PM_NULL: f->lit[0] = (int32_t)i; break;
		case PM_TRUE: f->lit[1] = (int32_t)i; break;
		case PM_FALSE: f->lit[2] = (int32_t)i; break;
		case PM_EXISTS: f->ment_exists = i; break;
		case PM_PREFIX:
			if (m->s.n && m->s.p[m->s.n - 1] == '"')
				generic = true;
			else
				affix_add(&b, &f->prefix, m->s.p, m->s.n, i, 13);
			break;
		case PM_SUFFIX:
			if (m->s.n && m->s.p[0] == '"')
				generic = true;
			else
				affix_add(&b, &f->suffix, m->s.p, m->s.n, i, 13);
			break;
		case PM_PREFIX_IC:
		case PM_SUFFIX_IC: {
			bool pre = m->kind == PM_PREFIX_IC;
			if (!ascii(m->s.p, m->s.n) || (m->s.n && m->s.p[pre ? m->s.n - 1 : 0] == '"')) {
				generic = true;
				break;
			}
			char tmp[256];
			char *k = m->s.n <= sizeof(tmp) ? tmp : malloc(m->s.n);
			if (!k)
				goto fail;
			for (uint32_t q = 0; q < m->s.n; q++) {
				char ch = m->s.p[q];
				k[q] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
			}
			affix_add(&b, pre ? &f->prefix_ic : &f->suffix_ic, k, m->s.n, i, 13);
			if (k != tmp)
				free(k);
			break;
		}
		case PM_EIC: {
			pat_buf key = {0};
			if (pat_fold_key(m->s.p, m->s.n, &key)) {
				pat_buf_free(&key);
				goto fail;
			}
			uint32_t off = blob_add(&b, key.p ? key.p : "", key.len);
			bmap bm = {&f->eic, 17, false};
			uint32_t got = bmap_put(&b, &bm, off, (uint32_t)key.len, pat_hash(key.p ? key.p : "", key.len, 17), i);
			pat_buf_free(&key);
			if (!s->ment_soff) {
				s->ment_soff = calloc(s->nments, sizeof(uint32_t));
				s->ment_slen = calloc(s->nments, sizeof(uint32_t));
				if (!s->ment_soff || !s->ment_slen)
					goto fail;
			}
			s->ment_soff[i] = blob_add(&b, m->s.p, m->s.n);
			s->ment_slen[i] = m->s.n;
			if (!f->eic_next) {
				/* chain storage sized to all ments lazily */
				f->eic_next = malloc(s->nments * sizeof(uint32_t));
				if (!f->eic_next)
					goto fail;
			}
			f->eic_next[i] = PAT_NONE;
			if (got != i && got != PAT_NONE) {
				/* insert after head */
				f->eic_next[i] = f->eic_next[got];
				f->eic_next[got] = i;
			}
			break;
		}
		default:
			generic = true;
			break;
		}
		if (m->kind == PM_RANGE || m->kind == PM_AB_NUM)
			f->need_num = true;
		if (m->kind == PM_CIDR)
			f->need_ip = true;
		if (generic) {
			GROW(s->gm, s->ngm, gcap, &b);
			if (b.oom)
				goto fail;
			s->gm_ment = realloc(s->gm_ment, gcap * sizeof(uint32_t));
			if (!s->gm_ment)
				goto fail;
			if (pat_matcher_copy(&s->gm[s->ngm], m))
				goto fail;
			s->gm_ment[s->ngm] = i;
			uint32_t *ng = realloc(f->gen, (f->ngen + 1) * sizeof(uint32_t));
			if (!ng) {
				s->ngm++;
				goto fail;
			}
			f->gen = ng;
			f->gen[f->ngen++] = s->ngm++;
		}
		if (b.oom)
			goto fail;
	}
	for (uint32_t i = 0; i < g.n; i++)
		free(g.v[i].preds);
	free(g.v);
	free(g.tab);
	s->blob = b.blob.p;
	s->blob_len = b.blob.len;
	s->memory = set_bytes(s);
	return s;
fail:
	for (uint32_t i = 0; i < g.n; i++)
		free(g.v[i].preds);
	free(g.v);
	free(g.tab);
	s->blob = b.blob.p;
	set_free(s);
	return NULL;
}

void pat_set_retain(pat_set *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void pat_set_release(pat_set *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		set_free(s);
}

size_t pat_set_count(const pat_set *s)
{
	return s ? s->nrules : 0;
}

size_t pat_set_memory(const pat_set *s)
{
	return s ? s->memory : 0;
}
