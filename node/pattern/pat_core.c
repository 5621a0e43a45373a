/* node/pattern/pat_core.c — compiling a list of rules into one immutable pat_core (layout in pat_set.h).
 *
 * One linear pass over the rules creates the path trie (segments of the flattened condition paths),
 * one field per trie leaf, one predicate per branch condition and the branches; a second pass turns
 * the unique matchers of each field ("ments", deduplicated across rules) into that field's indexes:
 * exact strings and non-comparable number texts in hash maps, comparable numbers by their double
 * bits, prefixes and suffixes in one map per field probed once per distinct affix length (ASCII
 * case-insensitive affixes lowercased the same way; few short ones, and few short exact strings, also
 * as word lists), wildcards by their literal end, equals-ignore-case by fold key with exact
 * confirmation, ranges in a list or interval tree, everything else (cidr, non-ASCII case-folded
 * affixes, quote-touching affixes) in a short generic list. An anything-but is indexed by what it
 * excludes (exclusions: its listed values are the field's ordinary ments, marked with its bit). Each
 * ment lists the predicates it satisfies; a ment that is the whole of a one-condition branch maps
 * straight to its rule (PAT_DIRECT), so the common "field equals value" rule costs one probe and no
 * counting. Finally every trie node gets a compact child array and key masks for the walk.
 * Cost: about 100 ns per simple rule; memory is reported by core->memory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pat_set.h"

typedef struct bctx {
	pat_core *s;
	pat_buf blob;
	bool oom;
	pat_matcher **synth; /* the matchers exclusions() made (each a calloc'd array), freed after the build */
	uint32_t nsynth, synth_cap;
} bctx;

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

static uint32_t blob_add(bctx *b, const void *p, size_t n)
{
	uint32_t off = (uint32_t)b->blob.len;
	if (pat_buf_put(&b->blob, p, n))
		b->oom = true;
	return off;
}

/* ---- unique matchers ----------------------------------------------------------------------------- */

typedef struct mtmp {
	const pat_matcher *m;
	uint32_t field;
	uint32_t *preds;
	uint32_t npred, cap;
	uint64_t hash;
	uint32_t abbit; /* an anything-but ment indexed by exclusion: its bit + 1, else 0 */
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
	GROW(g->v, g->n, g->cap, b);
	if (b->oom)
		return PAT_NONE;
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
	GROW(t->preds, t->npred, t->cap, b);
	if (!b->oom)
		t->preds[t->npred++] = pred;
}

/* The matcher kind an anything-but kind excludes by, or PM_ABSENT for other kinds. */
static pat_mkind excluded_kind(pat_mkind k)
{
	switch (k) {
	case PM_AB_STR: return PM_EXACT_STR;
	case PM_AB_NUM: return PM_EXACT_NUM;
	case PM_AB_PREFIX: return PM_PREFIX;
	case PM_AB_SUFFIX: return PM_SUFFIX;
	case PM_AB_EIC: return PM_EIC;
	case PM_AB_WILDCARD: return PM_WILDCARD;
	default: return PM_ABSENT;
	}
}

/* Anything-but ment t (new) of field: "v is not a string (number for AB_NUM), or no value of the list
 * matches it" — so each listed value becomes the field's ordinary matcher of the excluded kind
 * (found or made; pat_value.c gives both the same meaning), whose predicates also hold PAT_XPRED |
 * bit. The walk then learns what a leaf value excludes from the probes it makes anyway, instead of
 * testing every anything-but of the field one by one. A field's matchers past PAT_AB_MAX stay
 * generic. */
static bool exclusions(bctx *b, gtmp *g, uint32_t field, uint32_t t)
{
	pat_field *f = &b->s->fields[field];
	const pat_matcher *m = g->v[t].m;
	pat_mkind xk = excluded_kind(m->kind);
	if (xk == PM_ABSENT || f->nab == PAT_AB_MAX)
		return true;
	uint32_t bit = f->nab++;
	g->v[t].abbit = bit + 1;
	GROW(b->synth, b->nsynth, b->synth_cap, b);
	pat_matcher *x = b->oom ? NULL : calloc(m->nvals, sizeof(pat_matcher));
	if (!x)
		return false;
	b->synth[b->nsynth++] = x;
	for (uint32_t j = 0; j < m->nvals; j++) {
		x[j].kind = xk;
		if (xk == PM_EXACT_NUM)
			x[j].lo = m->nums[j];
		else
			x[j].s = m->vals[j]; /* borrowed from the rule, which outlives the build */
		uint32_t u = ment_get(b, g, field, &x[j]);
		if (u == PAT_NONE)
			return false;
		ment_add_pred(b, &g->v[u], PAT_XPRED | bit);
		if (b->oom)
			return false;
	}
	return true;
}

static void gtmp_free(gtmp *g)
{
	for (uint32_t i = 0; i < g->n; i++)
		free(g->v[i].preds);
	free(g->v);
	free(g->tab);
}

/* ---- trie ---------------------------------------------------------------------------------------- */

static uint32_t node_for_path(bctx *b, const char *p, size_t n, size_t *nodecap)
{
	pat_core *s = b->s;
	uint32_t cur = 0;
	size_t i = 0;
	for (;;) {
		size_t st = i;
		while (i < n && p[i] != '.')
			i++;
		uint32_t off = blob_add(b, p + st, i - st);
		GROW(s->nodes, s->nnodes, *nodecap, b);
		if (b->oom)
			return PAT_NONE;
		uint32_t got = pat_kmap_put(&s->kids, b->blob.p, cur, off, (uint32_t)(i - st), s->nnodes, &b->oom);
		if (got == PAT_NONE)
			return PAT_NONE;
		if (got == s->nnodes) {
			memset(&s->nodes[got], 0, sizeof(pat_node));
			s->nodes[got].field = -1;
			s->nodes[got].slot = s->nodes[cur].nchild++;
			s->nnodes++;
		} else {
			b->blob.len = off; /* segment already known: drop the copy */
		}
		cur = got;
		if (i >= n)
			break;
		i++; /* skip '.' */
	}
	return cur;
}

/* The keymask bit of a child segment (pat_key_bit). */
static unsigned kid_bit(const pat_core *s, const pat_kid *k)
{
	const unsigned char *b = (const unsigned char *)s->blob + k->off;
	return pat_key_bit(k->len, k->len ? b[0] : '"', k->len ? b[k->len - 1] : '"');
}

/* Child arrays (in slot order, or key-bit order where that is unambiguous) and the length and key
 * masks, from the kids map. */
static bool build_kids(pat_core *s)
{
	s->kid = calloc(s->nnodes ? s->nnodes : 1, sizeof(pat_kid));
	if (!s->kid)
		return false;
	uint32_t off = 0;
	for (uint32_t i = 0; i < s->nnodes; i++) {
		s->nodes[i].kid_off = off;
		off += s->nodes[i].nchild;
	}
	for (uint32_t i = 0; s->kids.e && i <= s->kids.mask; i++) {
		const pat_kid *k = &s->kids.e[i];
		if (!k->node)
			continue;
		pat_node *par = &s->nodes[k->parent];
		s->kid[par->kid_off + s->nodes[k->node].slot] = *k;
		par->lenmask |= 1ULL << (k->len < 63 ? k->len : 63);
		par->keymask |= 1ULL << kid_bit(s, k);
	}
	/* a small node whose children have distinct key bits keeps them in bit order: the child of bit
	 * b is then the one at popcount(keymask below b) (the walk's key_child) */
	for (uint32_t i = 0; i < s->nnodes; i++) {
		pat_node *nd = &s->nodes[i];
		if (nd->nchild > PAT_SMALL_KIDS || (uint32_t)__builtin_popcountll(nd->keymask) != nd->nchild)
			continue;
		pat_kid *kd = s->kid + nd->kid_off;
		for (uint32_t a = 1; a < nd->nchild; a++) /* insertion sort by key bit */
			for (uint32_t j = a; j > 0 && kid_bit(s, &kd[j]) < kid_bit(s, &kd[j - 1]); j--) {
				pat_kid t = kd[j];
				kd[j] = kd[j - 1];
				kd[j - 1] = t;
			}
		nd->bit_order = true;
	}
	return true;
}

/* Whether segment k is already in list l[0..n). */
static bool stop_has(const pat_core *s, const pat_lab *l, uint32_t n, const pat_kid *k)
{
	for (uint32_t i = 0; i < n; i++)
		if (l[i].n == k->len && memcmp(l[i].s, s->blob + k->off, k->len) == 0)
			return true;
	return false;
}

/* Early-stop label lists: node i's is its parent's plus its own children's segments (a parent is
 * always created before its children, so one pass in node order sees each parent's list first). A
 * node without children shares its parent's list. */
static bool build_stops(pat_core *s)
{
	uint32_t *parent = malloc((s->nnodes ? s->nnodes : 1) * sizeof(uint32_t));
	size_t cap = 16;
	s->stop = malloc(cap * sizeof(pat_lab));
	if (!parent || !s->stop) {
		free(parent);
		return false;
	}
	for (uint32_t i = 0; i < s->nnodes; i++)
		for (uint32_t j = 0; j < s->nodes[i].nchild; j++)
			parent[s->kid[s->nodes[i].kid_off + j].node] = i;
	for (uint32_t i = 0; i < s->nnodes; i++) {
		pat_node *nd = &s->nodes[i];
		const pat_node *par = i ? &s->nodes[parent[i]] : NULL;
		if (par && (par->stop_n == PAT_NONE || nd->nchild == 0)) {
			nd->stop_off = par->stop_off;
			nd->stop_n = par->stop_n;
			continue;
		}
		if (s->nstop + PAT_STOP_MAX > cap) {
			cap *= 2;
			pat_lab *n = realloc(s->stop, cap * sizeof(pat_lab));
			if (!n) {
				free(parent);
				return false;
			}
			s->stop = n;
		}
		pat_lab *l = s->stop + s->nstop;
		uint32_t n = 0;
		if (par) {
			memcpy(l, s->stop + par->stop_off, par->stop_n * sizeof(pat_lab));
			n = par->stop_n;
		}
		for (uint32_t j = 0; j < nd->nchild && n != PAT_NONE; j++) {
			const pat_kid *k = &s->kid[nd->kid_off + j];
			if (k->len == 0 || (n == PAT_STOP_MAX && !stop_has(s, l, n, k)))
				n = PAT_NONE;
			else if (!stop_has(s, l, n, k))
				l[n++] = (pat_lab){.s = s->blob + k->off, .n = k->len};
		}
		nd->stop_off = s->nstop;
		nd->stop_n = n;
		if (n != PAT_NONE)
			s->nstop += n;
	}
	free(parent);
	return true;
}

/* ---- per-field indexes --------------------------------------------------------------------------- */

static void affix_add(bctx *b, pat_affix *a, const char *k, size_t n, uint32_t ment)
{
	uint32_t off = blob_add(b, k, n);
	if (b->oom)
		return;
	uint32_t got = pat_smap_put(&a->map, b->blob.p, off, (uint32_t)n, PAT_SEED_AFFIX, ment, 0, &b->oom);
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

/* Lists a's affixes in a->sm when there are few and short ones (pat_affix); right-aligned for a
 * suffix table. */
static bool affix_small(pat_affix *a, bool suffix)
{
	if (!a->map.e || a->map.n > PAT_AFFIX_SMALL || a->lens[a->nlens - 1] > 16)
		return true;
	a->sm = malloc(a->map.n * sizeof(pat_affix_small));
	if (!a->sm)
		return false;
	a->sm_word = !suffix && a->lens[a->nlens - 1] <= 8;
	for (uint32_t i = 0; i <= a->map.mask; i++) {
		const pat_smap_ent *e = &a->map.e[i];
		if (!e->hash)
			continue;
		uint32_t j = a->nsm++;
		while (j > 0 && a->sm[j - 1].len > e->len) {
			a->sm[j] = a->sm[j - 1];
			j--;
		}
		uint32_t L = e->len; /* <= 16 */
		for (uint32_t b = 0; b < L && b < 8; b++)
			if (!(e->w0 >> (8 * b) & 0xFF))
				a->sm_word = false;
		uint64_t m0 = L >= 8 ? ~0ULL : (1ULL << (8 * L)) - 1;
		uint64_t m1 = L <= 8 ? 0 : L == 16 ? ~0ULL : (1ULL << (8 * (L - 8))) - 1;
		pat_affix_small x = {.w0 = e->w0, .w1 = e->w1, .m0 = m0, .m1 = m1, .len = L, .val = e->val};
		if (suffix && L) { /* the 16 bytes (and the masks) moved up by 16 - L bytes: right-aligned (an
				    * empty suffix's are all zero either way) */
			unsigned sh = 8 * (16 - L);
			unsigned __int128 k = ((unsigned __int128)x.w1 << 64 | x.w0) << sh;
			unsigned __int128 m = ((unsigned __int128)x.m1 << 64 | x.m0) << sh;
			x = (pat_affix_small){.w0 = (uint64_t)k, .w1 = (uint64_t)(k >> 64), .m0 = (uint64_t)m,
					      .m1 = (uint64_t)(m >> 64), .len = L, .val = e->val};
		}
		a->sm[j] = x;
	}
	return true;
}

/* Lists f's exact strings in f->exsm when there are few and short ones (pat_field). */
static bool exact_small(pat_field *f)
{
	const pat_smap *m = &f->exact;
	if (!m->e || m->n > PAT_AFFIX_SMALL)
		return true;
	for (uint32_t i = 0; i <= m->mask; i++)
		if (m->e[i].hash && m->e[i].len > 16)
			return true;
	f->exsm = malloc(m->n * sizeof(pat_affix_small));
	if (!f->exsm)
		return false;
	for (uint32_t i = 0; i <= m->mask; i++)
		if (m->e[i].hash)
			f->exsm[f->nexsm++] = (pat_affix_small){.w0 = m->e[i].w0, .w1 = m->e[i].w1, .len = m->e[i].len,
								.val = m->e[i].val};
	return true;
}

static bool ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static void add_generic(bctx *b, pat_field *f, const pat_matcher *m, uint32_t ment, size_t *gcap)
{
	pat_core *s = b->s;
	GROW(s->gm, s->ngm, *gcap, b);
	if (b->oom)
		return;
	uint32_t *gmm = realloc(s->gm_ment, *gcap * sizeof(uint32_t));
	uint32_t *ng = gmm ? realloc(f->gen, (f->ngen + 1) * sizeof(uint32_t)) : NULL;
	if (gmm)
		s->gm_ment = gmm;
	if (ng)
		f->gen = ng;
	if (!ng || pat_matcher_copy(&s->gm[s->ngm], m)) {
		b->oom = true;
		return;
	}
	s->gm_ment[s->ngm] = ment;
	f->gen[f->ngen++] = s->ngm++;
}

/* Keeps ment i's pattern text in the blob (for confirming equals-ignore-case and wildcard candidates). */
static bool ment_text(bctx *b, uint32_t i, const pat_matcher *m)
{
	pat_core *s = b->s;
	if (!s->ment_soff) {
		s->ment_soff = calloc(s->nments, sizeof(uint32_t));
		s->ment_slen = calloc(s->nments, sizeof(uint32_t));
		s->ment_ascii = calloc(s->nments, 1);
		if (!s->ment_soff || !s->ment_slen || !s->ment_ascii)
			return false;
	}
	s->ment_soff[i] = blob_add(b, m->s.p, m->s.n);
	s->ment_slen[i] = m->s.n;
	s->ment_ascii[i] = ascii(m->s.p, m->s.n);
	return !b->oom;
}

/* The rule an exact-string ment matches by itself, or PAT_NONE. */
static uint32_t direct_rule(const pat_core *s, const mtmp *t)
{
	if (t->npred != 1 || (t->preds[0] & PAT_XPRED))
		return PAT_NONE;
	uint32_t pred = t->preds[0];
	const pat_br *br = &s->br[s->pred_branch[pred]];
	if (br->nc != 1 || s->conds[br->cond_off].kind != PAT_C_POS)
		return PAT_NONE;
	return br->rule;
}

/* What an index stores for ment i: its rule marked PAT_DIRECT when the ment alone matches it. */
static uint32_t direct_val(const pat_core *s, const mtmp *t, uint32_t i)
{
	uint32_t dr = direct_rule(s, t);
	return dr != PAT_NONE && dr < PAT_DIRECT ? (PAT_DIRECT | dr) : i;
}

static bool index_ment(bctx *b, uint32_t i, const mtmp *t, size_t *gcap)
{
	pat_core *s = b->s;
	pat_field *f = &s->fields[t->field];
	const pat_matcher *m = t->m;
	bool generic = false;
	if (t->abbit) { /* by exclusion: its values are the field's other ments */
		f->ab_val[t->abbit - 1] = direct_val(s, t, i);
		return true;
	}
	switch (m->kind) {
	case PM_EXACT_STR: {
		uint32_t off = blob_add(b, m->s.p, m->s.n);
		uint32_t val = direct_val(s, t, i);
		if (!b->oom)
			pat_smap_put(&f->exact, b->blob.p, off, m->s.n, PAT_SEED_EXACT, val,
				     val & PAT_DIRECT ? s->rule_ids[val & ~PAT_DIRECT] : 0, &b->oom);
		break;
	}
	case PM_EXACT_NUMTEXT: {
		uint32_t off = blob_add(b, m->s.p, m->s.n);
		if (!b->oom)
			pat_smap_put(&f->numtext, b->blob.p, off, m->s.n, PAT_SEED_EXACT, i, 0, &b->oom);
		break;
	}
	case PM_EXACT_NUM: {
		uint64_t key;
		memcpy(&key, &m->lo, 8);
		pat_nmap_put(&f->num, key, direct_val(s, t, i), &b->oom);
		double *nv = realloc(f->numv, (f->nnumv + 1) * sizeof(double));
		if (!nv)
			return false;
		f->numv = nv;
		uint32_t j = f->nnumv++;
		while (j > 0 && nv[j - 1] > m->lo) {
			nv[j] = nv[j - 1];
			j--;
		}
		nv[j] = m->lo;
		break;
	}
	case PM_RANGE: {
		pat_range *nr = realloc(f->ranges, (f->nranges + 1) * sizeof(pat_range));
		if (!nr)
			return false;
		f->ranges = nr;
		nr[f->nranges++] = (pat_range){.lo = m->lo, .hi = m->hi, .open_lo = m->open_lo, .open_hi = m->open_hi,
					       .ment = direct_val(s, t, i)};
		if (f->nranges == 1 || m->lo < f->rmin)
			f->rmin = m->lo;
		if (f->nranges == 1 || m->hi > f->rmax)
			f->rmax = m->hi;
		break;
	}
	case PM_NULL: f->lit[0] = (int32_t)i; break;
	case PM_TRUE: f->lit[1] = (int32_t)i; break;
	case PM_FALSE: f->lit[2] = (int32_t)i; break;
	case PM_EXISTS: f->ment_exists = i; break;
	case PM_PREFIX:
		if (m->s.n && m->s.p[m->s.n - 1] == '"')
			generic = true; /* can meet the value's closing quote (pat_value.c) */
		else
			affix_add(b, &f->prefix, m->s.p, m->s.n, i);
		break;
	case PM_SUFFIX:
		if (m->s.n && m->s.p[0] == '"')
			generic = true;
		else
			affix_add(b, &f->suffix, m->s.p, m->s.n, i);
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
			return false;
		for (uint32_t q = 0; q < m->s.n; q++) {
			char ch = m->s.p[q];
			k[q] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
		}
		affix_add(b, pre ? &f->prefix_ic : &f->suffix_ic, k, m->s.n, i);
		if (k != tmp)
			free(k);
		break;
	}
	case PM_WILDCARD: {
		/* the literal text before the first '*' (or after the last one) narrows the candidates */
		char lit[256];
		size_t pre = 0, suf = 0, n = m->s.n;
		const char *w = m->s.p;
		bool star = false;
		for (size_t q = 0; q < n && !star && pre < sizeof lit; q++) {
			if (w[q] == '*')
				star = true;
			else
				lit[pre++] = w[q] == '\\' && q + 1 < n ? w[++q] : w[q];
		}
		if (!star && pre == sizeof lit)
			pre = 0; /* a very long literal: leave it to the generic list */
		if (!pre) {
			size_t q = n;
			while (q > 0 && w[q - 1] != '*' && suf < sizeof lit)
				q--, suf++;
			bool escaped = q > 0 && q < n && w[q - 1] == '*' && q >= 2 && w[q - 2] == '\\';
			if (escaped || suf == sizeof lit || suf == 0 || memchr(w + q, '\\', suf))
				suf = 0; /* an escaped star or backslash at the end: keep it simple, generic */
			else
				memcpy(lit, w + q, suf);
		}
		if (!pre && !suf) {
			generic = true;
			break;
		}
		if (!ment_text(b, i, m))
			return false;
		affix_add(b, pre ? &f->wpre : &f->wsuf, lit, pre ? pre : suf, i);
		break;
	}
	case PM_EIC: {
		pat_buf key = {0};
		if (pat_fold_key(m->s.p, m->s.n, &key)) {
			pat_buf_free(&key);
			return false;
		}
		uint32_t off = blob_add(b, key.p ? key.p : "", key.len);
		pat_buf_free(&key);
		if (!f->eic_next)
			f->eic_next = malloc(s->nments * sizeof(uint32_t));
		if (b->oom || !f->eic_next)
			return false;
		uint32_t got = pat_smap_put(&f->eic, b->blob.p, off, (uint32_t)(b->blob.len - off), PAT_SEED_EIC, i, 0, &b->oom);
		if (!ment_text(b, i, m))
			return false;
		f->eic_next[i] = PAT_NONE;
		if (got != i && got != PAT_NONE) { /* same fold key: chain after the head */
			f->eic_next[i] = f->eic_next[got];
			f->eic_next[got] = i;
		}
		break;
	}
	default:
		generic = true;
		break;
	}
	if (m->kind == PM_RANGE || m->kind == PM_EXACT_NUM)
		f->need_num = true; /* AB_NUM is generic: it asks for the value itself */
	if (m->kind == PM_CIDR)
		f->need_ip = true;
	if (generic) /* a generic matcher alone in its branch matches its rule directly, as exact values do */
		add_generic(b, f, m, direct_val(s, t, i), gcap);
	return !b->oom;
}

/* ---- the core ------------------------------------------------------------------------------------ */

void pat_core_retain(pat_core *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void core_free(pat_core *s)
{
	for (uint32_t i = 0; i < s->nfields; i++) {
		pat_field *f = &s->fields[i];
		free(f->exact.e);
		free(f->exsm);
		free(f->numtext.e);
		free(f->num.e);
		pat_affix *as[6] = {&f->prefix, &f->suffix, &f->prefix_ic, &f->suffix_ic, &f->wpre, &f->wsuf};
		for (int k = 0; k < 6; k++) {
			free(as[k]->map.e);
			free(as[k]->lens);
			free(as[k]->sm);
		}
		free(f->eic.e);
		free(f->eic_next);
		free(f->gen);
		free(f->ranges);
		free(f->numv);
		free(f->ab_val);
		pat_itree_free(&f->rtree);
	}
	for (uint32_t i = 0; i < s->ngm; i++)
		pat_matcher_free(&s->gm[i]);
	free(s->gm);
	free(s->gm_ment);
	free(s->fields);
	free(s->nodes);
	free(s->kids.e);
	free(s->kid);
	free(s->stop);
	free(s->ments);
	free(s->pred_lists);
	free(s->ment_soff);
	free(s->ment_slen);
	free(s->ment_ascii);
	free(s->alias_next);
	free(s->pred_branch);
	free(s->br);
	free(s->conds);
	free(s->always);
	free(s->rule_ids);
	free(s->blob);
	free(s);
}

void pat_core_release(pat_core *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		core_free(c);
}

/* Bytes the maps and arrays of s hold. */
static size_t core_bytes(const pat_core *s)
{
	size_t t = sizeof(*s) + s->blob_len + s->nnodes * (sizeof(pat_node) + sizeof(pat_kid));
	t += (s->kids.e ? (s->kids.mask + 1) : 0) * sizeof(pat_kid) + s->nstop * sizeof(pat_lab);
	t += s->nfields * sizeof(pat_field) + s->nments * sizeof(pat_ment) + s->ngm * (sizeof(pat_matcher) + 4);
	t += s->nments * 4 + s->npreds * 4 + s->nbr * sizeof(pat_br) + s->nalways * 4 + s->nrules * 4;
	t += s->npreds * sizeof(pat_bcond) + (s->ment_soff ? s->nments * (4 + 4 + 1) : 0);
	for (uint32_t i = 0; i < s->nfields; i++) {
		const pat_field *f = &s->fields[i];
		const pat_smap *ms[9] = {&f->exact,	   &f->numtext, &f->prefix.map, &f->suffix.map, &f->prefix_ic.map,
					 &f->suffix_ic.map, &f->eic,	 &f->wpre.map,	 &f->wsuf.map};
		for (int k = 0; k < 9; k++)
			if (ms[k]->e)
				t += (ms[k]->mask + 1) * sizeof(pat_smap_ent);
		if (f->num.e)
			t += (f->num.mask + 1) * sizeof(pat_nmap_ent);
		t += f->ngen * 4 + f->nranges * sizeof(pat_range) + f->nnumv * sizeof(double) + pat_itree_bytes(&f->rtree);
		t += (f->prefix.nsm + f->wpre.nsm + f->suffix.nsm + f->wsuf.nsm + f->nexsm) * sizeof(pat_affix_small) + f->nab * sizeof(uint32_t);
	}
	return t;
}

/* Pass 1: trie, fields, predicates, branches and condition records; ment → predicates in g. */
static bool add_rules(bctx *b, gtmp *g, const uint32_t *ids, const pat_rule *const *rules, uint32_t n)
{
	pat_core *s = b->s;
	size_t nodecap = 0, fcap = 0, brcap = 0, pcap = 0, ccap = 0, acap = 0;
	GROW(s->nodes, s->nnodes, nodecap, b);
	if (b->oom)
		return false;
	memset(&s->nodes[0], 0, sizeof(pat_node));
	s->nodes[0].field = -1;
	s->nnodes = 1;
	s->rule_ids = malloc((n ? n : 1) * sizeof(uint32_t));
	if (!s->rule_ids)
		return false;
	s->nrules = n;
	for (uint32_t ri = 0; ri < n; ri++) {
		const pat_rule *r = rules[ri];
		s->rule_ids[ri] = ids[ri];
		for (uint32_t bi = 0; bi < r->nb; bi++) {
			const pat_branch *pb = &r->b[bi];
			GROW(s->br, s->nbr, brcap, b);
			if (b->oom)
				return false;
			uint32_t brid = s->nbr++;
			pat_br *br = &s->br[brid];
			memset(br, 0, sizeof(*br));
			br->rule = ri;
			br->simple = 1;
			br->cond_off = s->npreds;
			br->nc = (uint16_t)pb->nc;
			for (uint32_t ci = 0; ci < pb->nc; ci++) {
				const pat_cond *pc = &pb->c[ci];
				uint32_t node = node_for_path(b, pc->path.p, pc->path.n, &nodecap);
				if (b->oom || node == PAT_NONE)
					return false;
				if (s->nodes[node].field < 0) {
					GROW(s->fields, s->nfields, fcap, b);
					if (b->oom)
						return false;
					pat_field *f = &s->fields[s->nfields];
					memset(f, 0, sizeof(*f));
					f->lit[0] = f->lit[1] = f->lit[2] = -1;
					f->ment_exists = PAT_NONE;
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
				GROW(s->pred_branch, s->npreds, pcap, b);
				GROW(s->conds, s->npreds, ccap, b);
				if (b->oom)
					return false;
				uint32_t pred = s->npreds++;
				s->pred_branch[pred] = brid;
				s->conds[pred] = (pat_bcond){.pred = pred, .field = field,
							     .kind = abs && pos ? PAT_C_MIX : abs ? PAT_C_ABS : PAT_C_POS,
							     .solo = pb->nc == 1 && !abs};
				if (!abs && pos)
					br->npos++;
				else
					br->simple = 0;
				if (abs)
					s->fields[field].need_absent = true;
				for (uint32_t k = 0; k < pc->nm; k++) {
					if (pc->m[k].kind == PM_ABSENT)
						continue;
					uint32_t t = ment_get(b, g, field, &pc->m[k]);
					if (t == PAT_NONE)
						return false;
					bool fresh = g->v[t].npred == 0;
					ment_add_pred(b, &g->v[t], pred);
					if (b->oom || (fresh && !exclusions(b, g, field, t)))
						return false;
				}
			}
			if (br->npos == 0) {
				GROW(s->always, s->nalways, acap, b);
				if (b->oom)
					return false;
				s->always[s->nalways++] = brid;
			}
		}
	}
	return true;
}
/* The widened bounds the walk tests a cheap approximation of an event number against (pat_walk.c:
 * emit_number): the approximation is within two ulps of the value, so each bound moves out by
 * |bound| * 2^-49 (plus the smallest subnormal step, for bounds at 0). An unbounded side (±DBL_MAX)
 * becomes ±inf. Only ever wider: a value they reject is outside by the exact comparison too. */
static double widen_lo(double x)
{
	return x - fabs(x) * 0x1p-49 - 0x1p-1070;
}

static double widen_hi(double x)
{
	return x + fabs(x) * 0x1p-49 + 0x1p-1070;
}

/* f->npre (pat_set.h): the texts of the hull's bounds moved out by 8 more ulps (printed to 17
 * significant digits, each within an ulp of its double, so they still enclose the hull) and their
 * common prefix. Both must be plain decimals with a point in the prefix: then they have the same
 * sign and integer digits, every decimal between them (texts of one integer length order as their
 * digits do) starts with that prefix, and so does every JSON text of such a value (no leading zeros,
 * trailing zeros only add digits). */
/* x moved 8 ulps further out (toward -inf when lo) printed to 17 significant digits into a: false
 * when that text has an exponent or is not finite. */
static bool widened_text(double x, bool lo, char a[48])
{
	for (int i = 0; i < 8; i++)
		x = nextafter(x, lo ? -INFINITY : INFINITY);
	snprintf(a, 48, "%.17g", x);
	return !strpbrk(a, "eEin");
}

static void number_prefix(pat_field *f)
{
	char a[48], b[48];
	if (!widened_text(f->ntlo, true, a) || !widened_text(f->nthi, false, b))
		return;
	size_t n = 0;
	while (a[n] && a[n] == b[n] && n < sizeof f->npre)
		n++;
	if (n < 3 || !memchr(a, '.', n))
		return;
	memset(f->npre, 0, sizeof f->npre);
	memcpy(f->npre, a, n);
	f->npre_len = (uint8_t)n;
}

/* t (pat_set.h) for the bound b of a hull, lo its lower one: widened_text (within an ulp of a
 * double 8 ulps beyond b, so still beyond it), with ".0" added when it has no point. Every plain
 * decimal below (above) the text is below (above) b. */
static void bound_text(double b, bool lo, pat_ntxt *t)
{
	memset(t, 0, sizeof *t);
	char a[48];
	if (!widened_text(b, lo, a))
		return;
	size_t n = strlen(a);
	const char *dot = strchr(a, '.');
	if (!dot) {
		memcpy(a + n, ".0", 3);
		dot = a + n;
		n += 2;
	}
	size_t di = (size_t)(dot - a);
	if (di >= 14) /* the first difference must come after it, within 16 bytes */
		return;
	memcpy(t->s, a, n < 16 ? n : 16);
	t->dot = (uint8_t)di;
	t->ok = true;
}

static void tolerant_bounds(pat_field *f)
{
	for (uint32_t i = 0; i < f->nranges; i++) {
		f->ranges[i].tlo = widen_lo(f->ranges[i].lo);
		f->ranges[i].thi = widen_hi(f->ranges[i].hi);
	}
	if (f->nranges) {
		double m = fabs(f->rmin) > fabs(f->rmax) ? fabs(f->rmin) : fabs(f->rmax);
		f->rtlo = f->rmin - (m * 0x1p-49 + 0x1p-1070);
		f->rthi = f->rmax + (m * 0x1p-49 + 0x1p-1070);
	}
	if (f->nnumv) {
		f->ntlo = widen_lo(f->numv[0]);
		f->nthi = widen_hi(f->numv[f->nnumv - 1]);
	}
	f->num_only = !f->need_absent && f->ment_exists == PAT_NONE && f->ngen == 0 && f->nab == 0;
	if (f->num_only && f->nnumv && !f->nranges && !f->numtext.e)
		number_prefix(f);
	f->far = f->num_only && f->need_num && !f->numtext.e && !f->npre_len && (f->nnumv || f->nranges);
	if (f->far) {
		for (uint32_t i = 0; i < f->nranges; i++) {
			bound_text(f->ranges[i].tlo, true, &f->ranges[i].tlo_t);
			bound_text(f->ranges[i].thi, false, &f->ranges[i].thi_t);
		}
		bound_text(f->ntlo, true, &f->ntlo_t);
		bound_text(f->nthi, false, &f->nthi_t);
		bound_text(f->rtlo, true, &f->rtlo_t);
		bound_text(f->rthi, false, &f->rthi_t);
	}
}


/* Pass 2: ments and their predicate lists, then the per-field indexes. */
static bool add_ments(bctx *b, gtmp *g)
{
	pat_core *s = b->s;
	s->nments = g->n;
	s->ments = calloc(g->n ? g->n : 1, sizeof(pat_ment));
	size_t npl = 0;
	for (uint32_t i = 0; i < g->n; i++)
		npl += g->v[i].npred;
	s->pred_lists = malloc((npl ? npl : 1) * sizeof(uint32_t));
	s->alias_next = malloc((g->n ? g->n : 1) * sizeof(uint32_t));
	if (!s->ments || !s->pred_lists || !s->alias_next)
		return false;
	npl = 0;
	for (uint32_t i = 0; i < g->n; i++) {
		s->alias_next[i] = PAT_NONE;
		s->ments[i].pred_off = (uint32_t)npl;
		s->ments[i].npred = g->v[i].npred;
		memcpy(s->pred_lists + npl, g->v[i].preds, g->v[i].npred * sizeof(uint32_t));
		npl += g->v[i].npred;
	}
	for (uint32_t i = 0; i < s->nfields; i++) {
		pat_field *f = &s->fields[i];
		if (!f->nab)
			continue;
		f->ab_all = f->nab == PAT_AB_MAX ? ~0ULL : (1ULL << f->nab) - 1;
		f->ab_val = malloc(f->nab * sizeof(uint32_t));
		if (!f->ab_val)
			return false;
	}
	size_t gcap = 0;
	for (uint32_t i = 0; i < g->n; i++)
		if (!index_ment(b, i, &g->v[i], &gcap))
			return false;
	for (uint32_t i = 0; i < s->nfields; i++) {
		pat_field *f = &s->fields[i];
		tolerant_bounds(f);
		if (f->nranges > PAT_ITREE_MIN && !pat_itree_build(&f->rtree, f->ranges, f->nranges))
			return false;
		if (!affix_small(&f->prefix, false) || !affix_small(&f->wpre, false) || !affix_small(&f->suffix, true) ||
		    !affix_small(&f->wsuf, true) || !exact_small(f))
			return false;
	}
	return true;
}

pat_core *pat_core_build(const uint32_t *ids, const pat_rule *const *rules, uint32_t n)
{
	pat_core *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	static atomic_uint_fast64_t uids;
	atomic_init(&s->refs, 1);
	s->uid = atomic_fetch_add(&uids, 1) + 1;
	bctx b = {.s = s};
	gtmp g = {0};
	bool ok = add_rules(&b, &g, ids, rules, n) && !b.oom && add_ments(&b, &g) && !b.oom;
	gtmp_free(&g);
	for (uint32_t i = 0; i < b.nsynth; i++)
		free(b.synth[i]);
	free(b.synth);
	s->blob = b.blob.p;
	s->blob_len = b.blob.len;
	if (!ok || !build_kids(s) || !build_stops(s)) {
		core_free(s);
		return NULL;
	}
	s->memory = core_bytes(s);
	s->stamp_hits = s->nrules <= PAT_STAMP_HITS_MAX;
	return s;
}
