/* node/pattern/pat_walk.c — the one pass over an event's bytes, and what each used leaf value does.
 *
 * A cursor (pat_cursor_impl.h) classifies the event 64 bytes at a time, simdjson-style: quotes with
 * escapes removed, the in-string mask as the prefix XOR of the quotes (one carry-less multiply),
 * brackets outside strings, dots and backslashes. The walk (pat_walk_impl.h) follows only the object
 * keys that are in a core's path trie: a key's end is the next quote bit, a length mask rejects most
 * unused keys before their bytes are read, and an unused value is skipped — a string by its closing
 * quote bit, a container by counting brackets with popcount, 64 bytes per step. Dotted event keys are
 * walked segment by segment, so "a.b" ≡ a→b. Later duplicate or dotted keys are still seen
 * (event-ruler reads them), so the walk reads on until a test at a member boundary (try_stop,
 * pat_stop.c) shows that the rest holds no backslash and no label of the trie path it is on: then no
 * later key can add a value for a used path and the walk stops; a test that fails still lets the walk
 * jump to the later key of the same object where the scan found the first label (try_stop, jump).
 * Each leaf value of a used field is looked up in that field's indexes (emit): every matcher hit
 * satisfies predicates (one per branch condition), counted per branch with epoch stamps; a branch whose
 * value conditions are all satisfied becomes a candidate for pat_match.c; an exact string that alone
 * makes a one-condition branch matches its rule at once.
 * The cursor and the walk are compiled for AVX2+PCLMUL and for plain SSE2 (chosen once per process,
 * pat_simd_set; the classifiers are in pat_classify.h), and the walk for one core and for base + delta.
 */
#include <emmintrin.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pat_run.h"

bool pat_push1_grow(pat_scratch *sc, uint32_t **a, size_t *n, size_t *cap)
{
	if (*n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 64;
	uint32_t *na = realloc(*a, c * 4);
	if (!na) {
		sc->oom = true;
		return false;
	}
	*a = na;
	*cap = c;
	return true;
}

bool pat_push2_grow(pat_scratch *sc, uint32_t **a, uint32_t **b, size_t *n, size_t *cap)
{
	if (*n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 256;
	uint32_t *na = realloc(*a, c * 4);
	if (na)
		*a = na;
	uint32_t *nb = na ? realloc(*b, c * 4) : NULL;
	if (nb)
		*b = nb;
	if (!na || !nb) {
		sc->oom = true;
		return false;
	}
	*cap = c;
	return true;
}

/* ---- predicates ----------------------------------------------------------------------------------- */

static void hit_pred(pat_walk *w, int k, uint32_t pred, uint32_t elem)
{
	const pat_core *c = w->c[k];
	pat_cs *cs = w->cs[k];
	uint32_t ep = w->ep;
	if (cs->pred_seen[pred] != ep) {
		cs->pred_seen[pred] = ep;
		cs->pred_head[pred] = PAT_NONE;
		if (c->conds[pred].kind == PAT_C_POS) {
			uint32_t br = c->pred_branch[pred];
			if (cs->br_stamp[br] != ep) {
				cs->br_stamp[br] = ep;
				cs->br_cnt[br] = 0;
			}
			if (++cs->br_cnt[br] == c->br[br].npos) {
				if (!pat_push1(w->sc, &cs->cand, &cs->ncand, &cs->cand_cap))
					return;
				cs->cand[cs->ncand++] = br;
			}
		}
	}
	if (elem == 0) {
		cs->pred_free[pred] = ep;
	} else if (!c->conds[pred].solo) {
		/* kept even when a free value exists: under exists:false a value inside an array element can
		 * succeed where the free one fails (it makes other paths' values inconsistent) */
		if (!pat_push2(w->sc, &cs->pair_node, &cs->pair_next, &cs->npairs, &cs->pair_cap))
			return;
		cs->pair_node[cs->npairs] = elem;
		cs->pair_next[cs->npairs] = cs->pred_head[pred];
		cs->pred_head[pred] = (uint32_t)cs->npairs++;
	}
}

static void hit_ment(pat_walk *w, int k, uint32_t ment, uint32_t elem)
{
	const pat_core *c = w->c[k];
	const pat_ment *m = &c->ments[ment];
	const uint32_t *pl = c->pred_lists + m->pred_off;
	for (uint32_t i = 0; i < m->npred; i++)
		hit_pred(w, k, pl[i], elem);
}

/* A rule matched by one value alone (PAT_DIRECT). The few hits of an event are deduplicated by
 * looking through them (no access to the rule-sized stamp array, which is a cache miss when the set is
 * large); pat_match.c stamps them only if the core also has candidate branches to check. */
/* Whether rule is already a direct hit of this event: the first 16 are looked up in the list, the
 * rest by stamp (hit_rule stamps the list when it passes 16). */
static inline bool direct_seen(const pat_cs *cs, uint32_t rule, uint32_t ep)
{
	if (cs->nhits <= 16) {
		for (size_t i = 0; i < cs->nhits; i++)
			if (cs->hits[i] == rule)
				return true;
		return false;
	}
	return cs->rule_stamp[rule] == ep;
}

static void hit_rule(pat_walk *w, int k, uint32_t rule)
{
	pat_cs *cs = w->cs[k];
	if (direct_seen(cs, rule, w->ep))
		return;
	if (cs->nhits >= 16) {
		if (cs->nhits == 16) /* switching to stamps: stamp the ones listed so far */
			for (size_t i = 0; i < 16; i++)
				cs->rule_stamp[cs->hits[i]] = w->ep;
		cs->rule_stamp[rule] = w->ep;
	}
	if (pat_push1(w->sc, &cs->hits, &cs->nhits, &cs->hits_cap))
		cs->hits[cs->nhits++] = rule;
}

static inline void hit(pat_walk *w, int k, uint32_t val, uint32_t elem)
{
	if (val & PAT_DIRECT)
		hit_rule(w, k, val & ~PAT_DIRECT);
	else
		hit_ment(w, k, val, elem);
}

/* ---- values -------------------------------------------------------------------------------------- */

static void words_prefix(const pat_value *v, size_t L, uint64_t *w0, uint64_t *w1)
{
	if (v->hw && L <= 16) {
		*w0 = L >= 8 ? v->w0 : v->w0 & ((1ULL << (8 * L)) - 1);
		*w1 = L <= 8 ? 0 : L == 16 ? v->w1 : v->w1 & ((1ULL << (8 * (L - 8))) - 1);
		return;
	}
	pat_words(v->s, L, w0, w1);
}

static void affix_probe(pat_walk *w, int k, const pat_affix *a, const pat_value *v, const char *s, bool suffix,
			bool wild, uint32_t elem)
{
	const pat_core *c = w->c[k];
	if (a->sm && !suffix && s == v->s && v->hw) { /* few short prefixes: compare words */
		for (uint32_t i = 0; i < a->nsm && a->sm[i].len <= v->n; i++) {
			const pat_affix_small *e = &a->sm[i];
			if ((v->w0 & e->m0) != e->w0 || (v->w1 & e->m1) != e->w1)
				continue;
			for (uint32_t m = e->val; m != PAT_NONE; m = c->alias_next[m])
				if (!wild || pat_wildcard_match(c->blob + c->ment_soff[m], c->ment_slen[m], v->s, v->n))
					hit_ment(w, k, m, elem);
		}
		return;
	}
	for (uint32_t i = 0; i < a->nlens; i++) {
		uint32_t L = a->lens[i];
		if (L > v->n)
			break;
		const char *key = suffix ? s + v->n - L : s;
		uint64_t w0, w1;
		if (!suffix && s == v->s)
			words_prefix(v, L, &w0, &w1);
		else
			pat_words(key, L, &w0, &w1);
		uint64_t h = L <= 16 ? pat_hash16(w0, w1, L, PAT_SEED_AFFIX) : pat_hash(key, L, PAT_SEED_AFFIX);
		for (uint32_t m = pat_smap_get(c, &a->map, key, L, w0, w1, h); m != PAT_NONE; m = c->alias_next[m])
			if (!wild || pat_wildcard_match(c->blob + c->ment_soff[m], c->ment_slen[m], v->s, v->n))
				hit_ment(w, k, m, elem);
	}
}

/* The ASCII bytes of x (every byte < 0x80) with 'A'..'Z' lowercased: a byte plus 0x3F has its high
 * bit set from 'A' up, plus 0x25 from 'Z' + 1 up; no sum carries into the next byte. */
static inline uint64_t lower_ascii8(uint64_t x)
{
	uint64_t upper = (x + 0x3F3F3F3F3F3F3F3FULL) & ~(x + 0x2525252525252525ULL) & 0x8080808080808080ULL;
	return x | upper >> 2;
}

/* The lowercased first 16 bytes of v (zero-padded) when v is ASCII and at most 16 bytes long (its
 * words are loaded: v->hw) — then also its case-fold key (pat_fold_key), with no copy. */
static inline bool lower_words(const pat_value *v, uint64_t *w0, uint64_t *w1)
{
	if (!v->hw || ((v->w0 | v->w1) & 0x8080808080808080ULL))
		return false;
	*w0 = lower_ascii8(v->w0);
	*w1 = lower_ascii8(v->w1);
	return true;
}

static void emit_string(pat_walk *w, int k, const pat_field *f, pat_value *v, uint32_t elem)
{
	const pat_core *c = w->c[k];
	pat_scratch *sc = w->sc;
	if (f->exact.e) {
		uint64_t w0 = v->w0, w1 = v->w1;
		if (!v->hw)
			pat_words(v->s, v->n, &w0, &w1);
		uint64_t h = v->n <= 16 ? pat_hash16(w0, w1, v->n, PAT_SEED_EXACT) : pat_hash(v->s, v->n, PAT_SEED_EXACT);
		bool in_event = v->s >= w->start && v->s < w->end; /* not decoded into scratch */
		if (f->exact.mask >= PAT_DEFER_SLOTS && in_event && sc->ndefer < PAT_DEFER_MAX) {
			const pat_smap_ent *slot = &f->exact.e[(uint32_t)(h >> 32) & f->exact.mask];
			__builtin_prefetch(slot, 0, 3);
			__builtin_prefetch(slot + 2, 0, 3); /* the next line: probes run on */
			sc->defer[sc->ndefer++] = (pat_defer){.map = &f->exact, .s = v->s, .n = (uint32_t)v->n,
							     .elem = elem, .w0 = w0, .w1 = w1, .h = h, .k = k};
		} else {
			uint32_t m = pat_smap_get(c, &f->exact, v->s, v->n, w0, w1, h);
			if (m != PAT_NONE)
				hit(w, k, m, elem);
		}
	}
	if (f->prefix.nlens)
		affix_probe(w, k, &f->prefix, v, v->s, false, false, elem);
	if (f->suffix.nlens)
		affix_probe(w, k, &f->suffix, v, v->s, true, false, elem);
	if (f->wpre.nlens)
		affix_probe(w, k, &f->wpre, v, v->s, false, true, elem);
	if (f->wsuf.nlens)
		affix_probe(w, k, &f->wsuf, v, v->s, true, true, elem);
	uint64_t lw[2];
	bool lowered = (f->prefix_ic.nlens || f->suffix_ic.nlens || f->eic.e) && lower_words(v, &lw[0], &lw[1]);
	if (f->prefix_ic.nlens || f->suffix_ic.nlens) {
		const char *low = (const char *)lw; /* a short ASCII value: lowercased in its words */
		if (!lowered) {
			sc->low.len = 0;
			if (pat_buf_put_lower(&sc->low, v->s, v->n)) {
				sc->oom = true;
				return;
			}
			low = sc->low.p;
		}
		if (f->prefix_ic.nlens)
			affix_probe(w, k, &f->prefix_ic, v, low, false, false, elem);
		if (f->suffix_ic.nlens)
			affix_probe(w, k, &f->suffix_ic, v, low, true, false, elem);
	}
	if (f->eic.e) {
		const char *key = v->s; /* read by the map only past 16 bytes */
		size_t kn = v->n;
		uint64_t w0 = lw[0], w1 = lw[1], h;
		if (lowered) {
			h = pat_hash16(w0, w1, kn, PAT_SEED_EIC);
		} else {
			sc->key.len = 0;
			if (pat_fold_key(v->s, v->n, &sc->key)) {
				sc->oom = true;
				return;
			}
			key = sc->key.p ? sc->key.p : "";
			kn = sc->key.len;
			pat_words(key, kn, &w0, &w1);
			h = pat_hash(key, kn, PAT_SEED_EIC);
		}
		uint32_t m = pat_smap_get(c, &f->eic, key, kn, w0, w1, h);
		for (; m != PAT_NONE; m = f->eic_next[m]) {
			/* the fold key only narrows; event-ruler's per-character rule decides */
			if (pat_eic_equal(c->blob + c->ment_soff[m], c->ment_slen[m], v->s, v->n))
				hit_ment(w, k, m, elem);
		}
	}
}

/* v's double when it is cheap: exact for a plain number of at most 15 significant digits (then also
 * known to be comparable), within two ulps for 16 to 19 digits. false when only the exact path can
 * tell (exponents, more digits). */
static bool num_approx(pat_value *v, double *d)
{
	static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
				       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	if (v->numstate)
		return (*d = v->d, v->numstate > 0);
	if (!v->parts || !v->nparts.plain || v->nparts.f > 22)
		return false;
	double x = (double)v->nparts.M / p10[v->nparts.f];
	*d = v->nparts.neg ? -x : x;
	return true;
}

/* Whether x is within a few ulps of the value v (the tolerance of pat_core.c's widened bounds). */
static inline bool near_value(double x, double v)
{
	double m = fabs(v) * 0x1p-49 + 0x1p-1070;
	return x >= v - m && x <= v + m;
}

/* Whether x is within a few ulps of one of the n ascending values v (n >= 1, x inside their widened
 * hull: the caller tested it). */
static bool near_any(const double *v, uint32_t n, double x)
{
	if (n == 1)
		return true; /* the hull is the one value's tolerance */
	uint32_t lo = 0, hi = n; /* the first value >= x */
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < n && near_value(x, v[lo])) || (lo > 0 && near_value(x, v[lo - 1]));
}

static inline bool in_range(const pat_range *r, double d)
{
	return (r->open_lo ? d > r->lo : d >= r->lo) && (r->open_hi ? d < r->hi : d <= r->hi);
}

typedef struct range_hit {
	pat_walk *w;
	int k;
	const pat_field *f;
	uint32_t elem;
} range_hit;

static void on_range(void *ctx, uint32_t i)
{
	range_hit *h = ctx;
	hit(h->w, h->k, h->f->ranges[i].ment, h->elem);
}

/* Whether a hit of val (a ment, or a rule with PAT_DIRECT) could still change this event's result:
 * false once the rule is a direct hit, or once every predicate of the ment is hit and is its
 * branch's only condition (solo: then which values, and in which array elements, no longer matter). */
static bool hit_open(const pat_walk *w, int k, uint32_t val)
{
	const pat_core *c = w->c[k];
	const pat_cs *cs = w->cs[k];
	if (val & PAT_DIRECT)
		return !direct_seen(cs, val & ~PAT_DIRECT, w->ep);
	const pat_ment *m = &c->ments[val];
	const uint32_t *pl = c->pred_lists + m->pred_off;
	for (uint32_t i = 0; i < m->npred; i++)
		if (!c->conds[pl[i]].solo || cs->pred_seen[pl[i]] != w->ep)
			return true;
	return false;
}

/* Whether some range of f near x could still change the result (hit_open). Each bound has its own
 * tolerance (the widened tlo/thi of pat_core.c): with one tolerance for both, a range with an
 * unbounded side (±DBL_MAX) would be near every value, and a "> v" range never hit in an event would
 * keep every number of the event on the exact path. A field with the interval tree is not looked
 * through: always true. */
static bool ranges_open(const pat_walk *w, int k, const pat_field *f, double x)
{
	if (f->nranges > PAT_ITREE_MIN)
		return true;
	for (uint32_t i = 0; i < f->nranges; i++) {
		const pat_range *r = &f->ranges[i];
		if (x >= r->tlo && x <= r->thi && hit_open(w, k, r->ment))
			return true;
	}
	return false;
}

/* A number: the exact comparable value (pat_num.c, the costly part for 16-17 digits) is computed
 * only when a cheap approximation says an exact number or a range of the field could match — and,
 * for ranges, could still change the result: in an array of many numbers (coordinates) the ranges
 * of one-condition rules are soon all hit. */
static void emit_number(pat_walk *w, int k, const pat_field *f, pat_value *v, uint32_t elem)
{
	const pat_core *c = w->c[k];
	if (f->need_num) {
		double a;
		bool want = true;
		if (num_approx(v, &a))
			want = (f->nnumv && a >= f->ntlo && a <= f->nthi && near_any(f->numv, f->nnumv, a)) ||
			       (f->nranges && a >= f->rtlo && a <= f->rthi && ranges_open(w, k, f, a));
		if (want && v->numstate == 0)
			v->numstate = (v->parts ? pat_num_comparable_parts(&v->nparts, v->s, v->n, &v->d)
						: pat_num_comparable(v->s, v->n, &v->d))
					      ? 1
					      : -1;
		if (want && v->numstate > 0) {
			if (f->num.e) {
				uint64_t key;
				double d = v->d;
				memcpy(&key, &d, 8);
				uint32_t m = pat_nmap_get(&f->num, key);
				if (m != PAT_NONE)
					hit(w, k, m, elem);
			}
			if (f->nranges > PAT_ITREE_MIN) {
				range_hit h = {w, k, f, elem};
				pat_itree_visit(&f->rtree, f->ranges, v->d, on_range, &h);
			} else {
				for (uint32_t i = 0; i < f->nranges; i++)
					if (in_range(&f->ranges[i], v->d))
						hit(w, k, f->ranges[i].ment, elem);
			}
		}
	}
	if (f->numtext.e) {
		uint64_t w0, w1;
		pat_words(v->s, v->n, &w0, &w1);
		uint32_t m = pat_smap_get(c, &f->numtext, v->s, v->n, w0, w1, pat_hash(v->s, v->n, PAT_SEED_EXACT));
		if (m != PAT_NONE)
			hit_ment(w, k, m, elem);
	}
}

static void emit(pat_walk *w, int k, uint32_t fid, pat_value *v, uint32_t elem)
{
	const pat_core *c = w->c[k];
	pat_cs *cs = w->cs[k];
	const pat_field *f = &c->fields[fid];
	uint32_t ep = w->ep;
	if (f->need_absent) { /* where this field's values are, for exists:false */
		if (cs->field_seen[fid] != ep) {
			cs->field_seen[fid] = ep;
			cs->field_head[fid] = PAT_NONE;
		}
		if (elem == 0) {
			cs->field_free[fid] = ep;
		} else if (cs->field_free[fid] != ep) { /* a free value already makes exists:false fail */
			if (!pat_push2(w->sc, &cs->fv_node, &cs->fv_next, &cs->nfv, &cs->fv_cap))
				return;
			cs->fv_node[cs->nfv] = elem;
			cs->fv_next[cs->nfv] = cs->field_head[fid];
			cs->field_head[fid] = (uint32_t)cs->nfv++;
		}
	}
	if (f->ment_exists != PAT_NONE)
		hit_ment(w, k, f->ment_exists, elem);
	switch (v->t) {
	case PV_STR:
		emit_string(w, k, f, v, elem);
		break;
	case PV_NUM:
		emit_number(w, k, f, v, elem);
		break;
	case PV_NULL:
		if (f->lit[0] >= 0)
			hit_ment(w, k, (uint32_t)f->lit[0], elem);
		break;
	case PV_TRUE:
		if (f->lit[1] >= 0)
			hit_ment(w, k, (uint32_t)f->lit[1], elem);
		break;
	case PV_FALSE:
		if (f->lit[2] >= 0)
			hit_ment(w, k, (uint32_t)f->lit[2], elem);
		break;
	}
	for (uint32_t i = 0; i < f->ngen; i++) {
		uint32_t g = f->gen[i];
		if (pat_value_match(&c->gm[g], v))
			hit(w, k, c->gm_ment[g], elem);
	}
}

/* emit for a number, inline in the walk where the field asks nothing of it but its value (no
 * exists, exists:false or generic matcher): the common numeric field, as in coordinates. */
static inline __attribute__((always_inline)) void emit_num(pat_walk *w, int k, uint32_t fid, pat_value *v,
							   uint32_t elem)
{
	const pat_field *f = &w->c[k]->fields[fid];
	if (f->num_only)
		emit_number(w, k, f, v, elem);
	else
		emit(w, k, fid, v, elem);
}

/* ---- scanning ------------------------------------------------------------------------------------ */

enum { SC_WORDS = 1, SC_ESC = 2, SC_DOT = 4, SC_CTRL = 8 };

/* Skips whitespace: bounded by the event's final '}' (e is only a guard). */
static const char *ws_slow(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static inline const char *ws(const char *p, const char *e)
{
	return (unsigned char)*p <= ' ' ? ws_slow(p, e) : p;
}

/* Bytes that end a number or literal. */
static const bool delim[256] = {[','] = true, ['}'] = true, [']'] = true, [' '] = true,
				['\t'] = true, ['\n'] = true, ['\r'] = true, [':'] = true};

/* The end of a number or literal: bounded by the event's final '}'. */
static inline const char *scalar_end(const char *p)
{
	while (!delim[(unsigned char)*p])
		p++;
	return p;
}

static inline bool digit(char c)
{
	return (unsigned)(unsigned char)c - '0' <= 9;
}

static const uint64_t pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* The value of the n (1..8) ASCII digits in the low bytes of v, x = v - "00000000": shifted to the top
 * of the word, then combined pairwise in its lanes (2, 4, then 8 digits). */
static inline uint64_t digits_value(uint64_t x, unsigned n)
{
	x <<= 8 * (8 - n);
	x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFULL;
	x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFULL;
	return (x * 10000 + (x >> 32)) & 0xFFFFFFFFULL;
}

/* Appends the digits at p to *m, eight at a time while eight bytes are readable: a byte is a digit
 * when its high nibble is 3 and adding 6 keeps it so (carries and borrows of the bytes after the
 * digits only move to later bytes). Returns the end of the digits. */
static inline const char *more_digits(const char *p, const char *e, uint64_t *m)
{
	while (e - p >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		uint64_t bad = ((v & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL) |
			       (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL);
		unsigned n = bad ? (unsigned)__builtin_ctzll(bad) / 8 : 8;
		if (n) {
			*m = *m * pow10_u64[n] + digits_value(v - 0x3030303030303030ULL, n);
			p += n;
		}
		if (n < 8)
			return p;
	}
	while (digit(*p))
		*m = *m * 10 + (unsigned)(*p++ - '0');
	return p;
}

/* The end of the JSON number at p, or NULL when it is malformed, with its digits split into t (see
 * pat_numparts) on the way: the general path, digit loops bounded by the event's final '}'. */
static const char *scan_number_slow(const char *p, const char *e, pat_numparts *t)
{
	bool neg = *p == '-';
	p += neg;
	uint64_t m = 0;
	int digits, lead = 0, f = 0;
	const char *st = p;
	if (*p == '0') {
		p++;
		lead = 1;
	} else if (digit(*p)) {
		do
			m = m * 10 + (unsigned)(*p++ - '0');
		while (digit(*p));
	} else {
		return NULL;
	}
	digits = (int)(p - st);
	if (*p == '.') {
		const char *fs = ++p;
		if (!digit(*p))
			return NULL;
		if (m == 0) { /* 0.000ddd: the zeros after the point are not significant */
			while (*p == '0')
				p++;
			lead += (int)(p - fs);
		}
		p = more_digits(p, e, &m);
		f = (int)(p - fs);
		digits += f;
	}
	bool plain = true;
	if ((*p | 0x20) == 'e') {
		p++;
		p += *p == '+' || *p == '-';
		if (!digit(*p))
			return NULL;
		while (digit(*++p))
			;
		plain = false;
	}
	t->M = m;
	t->k = (int16_t)(digits - lead < 0x7fff ? digits - lead : 0x7fff);
	t->f = (int16_t)(f < 0x7fff ? f : 0x7fff);
	t->neg = neg;
	t->plain = plain && digits - lead <= 19;
	return p;
}

static const uint64_t pow10_big[17] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
					10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
					100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
					1000000000000000ULL, 10000000000000000ULL};

/* The digit bytes of p[0..32) as bits (SSE2: a byte minus '0' is a digit when min(it, 9) is itself). */
static inline uint32_t digit_bits32(const char *p)
{
	const __m128i z = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
	__m128i a = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)p), z);
	__m128i b = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), z);
	return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(a, nine), a)) |
	       (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(b, nine), b)) << 16;
}

/* The value of the n (0..8) digits at p (8 bytes readable). */
static inline uint64_t digits_at(const char *p, unsigned n)
{
	if (!n)
		return 0;
	uint64_t v;
	memcpy(&v, p, 8);
	return digits_value(v - 0x3030303030303030ULL, n);
}

/* scan_number_slow's answer, read from one 32-byte digit mask for the common shape — an integer part
 * of at most 8 digits without a leading zero (or a single 0), an optional fraction of at most 16
 * digits, at most 19 significant digits, no exponent, within 32 readable bytes: the lengths come from
 * the mask and the digits in at most three 8-byte lanes, with no loop per digit. Any other number
 * takes the general path, which gives the same answer (tests/unit/test_pat_scale: number_scanners). */
static inline __attribute__((always_inline)) const char *scan_number(const char *p, const char *e, pat_numparts *t)
{
	const char *s = p + (*p == '-');
	if (__builtin_expect(e - s < 32, 0))
		return scan_number_slow(p, e, t);
	uint32_t db = digit_bits32(s);
	if (__builtin_expect(db == ~0u, 0)) /* 32 digits: ctz(0) below is undefined */
		return scan_number_slow(p, e, t);
	unsigned i = (unsigned)__builtin_ctz(~db); /* integer digits */
	if (i == 0 || i > 8 || (s[0] == '0' && i > 1))
		return scan_number_slow(p, e, t);
	uint64_t m = digits_at(s, i);
	unsigned j = 0, lead = s[0] == '0';
	const char *q = s + i;
	if (*q == '.') {
		uint32_t rest = ~db >> (i + 1); /* non-digits after the point; bit 31 - i - 1 and up are 0 */
		j = rest ? (unsigned)__builtin_ctz(rest) : 32;
		if (j == 0 || j > 16 || i + 1 + j >= 32 || (lead && q[1] == '0'))
			return scan_number_slow(p, e, t);
		const char *fs = q + 1;
		if (j <= 8)
			m = m * pow10_big[j] + digits_at(fs, j);
		else
			m = (m * 100000000ULL + digits_at(fs, 8)) * pow10_big[j - 8] + digits_at(fs + 8, j - 8);
		q = fs + j;
	}
	if (__builtin_expect((*q | 0x20) == 'e', 0) || i + j - lead > 19)
		return scan_number_slow(p, e, t);
	t->M = m;
	t->k = (int16_t)(i + j - lead);
	t->f = (int16_t)j;
	t->neg = *p == '-';
	t->plain = true;
	return q;
}

static uint32_t new_elem(pat_walk *w, uint32_t parent, uint32_t array)
{
	pat_scratch *sc = w->sc;
	if (sc->nen == sc->en_cap) {
		size_t c = sc->en_cap * 2;
		uint32_t *a = realloc(sc->en_parent, c * 4);
		if (a)
			sc->en_parent = a;
		uint32_t *b = a ? realloc(sc->en_array, c * 4) : NULL;
		if (b)
			sc->en_array = b;
		uint32_t *d = b ? realloc(sc->en_depth, c * 4) : NULL;
		if (d)
			sc->en_depth = d;
		if (!d) {
			sc->oom = true;
			return 0;
		}
		sc->en_cap = c;
	}
	uint32_t id = (uint32_t)sc->nen++;
	sc->en_parent[id] = parent;
	sc->en_array[id] = array;
	sc->en_depth[id] = sc->en_depth[parent] + 1;
	return id;
}

static const char *bad(pat_walk *w)
{
	w->bad = true;
	return NULL;
}

/* The string value between the quotes at p and q as a pat_value (decoded when esc); false when
 * malformed. */
/* The members of a fresh value that say "not computed yet" (the rest is set by whoever fills it). */
static inline void value_init(pat_value *v)
{
	v->numstate = 0;
	v->ipstate = 0;
	v->hw = false;
	v->parts = false;
	v->d = 0;
}

static bool string_value(pat_walk *w, const char *p, const char *q, bool esc, pat_value *v)
{
	value_init(v);
	v->t = PV_STR;
	v->s = p + 1;
	v->n = (size_t)(q - p - 1);
	if (esc) {
		if (!pat_decode_string(v->s, v->n, &w->sc->str))
			return false;
		v->s = w->sc->str.p;
		v->n = w->sc->str.len;
		return true;
	}
	for (size_t i = 0; i < v->n; i++)
		if ((unsigned char)v->s[i] < 0x20)
			return false;
	if (v->n <= 16 && w->end - v->s >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)v->s);
		x = _mm_and_si128(x, _mm_cmpgt_epi8(_mm_set1_epi8((char)v->n),
						   _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)));
		v->w0 = (uint64_t)_mm_cvtsi128_si64(x);
		v->w1 = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(x, x));
		v->hw = true;
	}
	return true;
}

/* The first 16 bytes of key k[0..n) zero-padded (one load when 16 bytes are readable). */
static inline __attribute__((always_inline)) void key_words(const char *k, size_t n, const char *end, uint64_t *w0, uint64_t *w1)
{
	if (n <= 16 && end - k >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)k);
		x = _mm_and_si128(x, _mm_cmpgt_epi8(_mm_set1_epi8((char)n),
						   _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)));
		*w0 = (uint64_t)_mm_cvtsi128_si64(x);
		*w1 = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(x, x));
		return;
	}
	pat_words(k, n, w0, w1);
}

/* Child of node for a plain key k[0..n) of the event (between its quotes, so k[-1] and k[n] are
 * readable): the key mask first, the key's bytes only if it passes. */
static inline __attribute__((always_inline)) uint32_t key_child(const pat_core *c, uint32_t node, const char *k, size_t n, const char *end)
{
	if (node == PAT_NONE)
		return PAT_NONE;
	const pat_node *nd = &c->nodes[node];
	unsigned bit = pat_key_bit(n, (unsigned char)k[0], (unsigned char)k[(ptrdiff_t)n - 1]);
	uint64_t km = nd->keymask;
	if (!((km >> bit) & 1))
		return PAT_NONE;
	uint64_t w0, w1;
	key_words(k, n, end, &w0, &w1);
	if (nd->bit_order) { /* the one child with this bit */
		const pat_kid *kd = c->kid + nd->kid_off + __builtin_popcountll(km & ((1ULL << bit) - 1));
		return kd->len == n && kd->w0 == w0 && kd->w1 == w1 &&
				       (n <= 16 || memcmp(c->blob + kd->off + 16, k + 16, n - 16) == 0)
			       ? kd->node
			       : PAT_NONE;
	}
	if (nd->nchild > PAT_SMALL_KIDS)
		return pat_kmap_get(c, node, k, n, w0, w1);
	const pat_kid *kd = c->kid + nd->kid_off;
	for (uint32_t i = 0; i < nd->nchild; i++)
		if (kd[i].len == n && kd[i].w0 == w0 && kd[i].w1 == w1 &&
		    (n <= 16 || memcmp(c->blob + kd[i].off + 16, k + 16, n - 16) == 0))
			return kd[i].node;
	return PAT_NONE;
}

#include "pat_classify.h"

#ifndef PAT_PREFETCH
#define PAT_PREFETCH 512 /* bytes ahead of the block being classified */
#endif
#define CUR(x) x##_sse2
#define CUR_ATTR
#define CUR_CONSTS SSE2_CONSTS
#define CUR_CLASSIFY_K(p) classify_sse2_k(p, Q, B, O, C, D, S)
#define CUR_CLASSIFY4_K(p) classify4_sse2_k(p, Q, B, O, C, S)
#define CUR_DOT dot_sse2
#define CUR_CLASSIFY classify_sse2
#define CUR_PREFIX_XOR prefix_xor_sw
#include "pat_cursor_impl.h"
#undef CUR
#undef CUR_ATTR
#undef CUR_CONSTS
#undef CUR_CLASSIFY_K
#undef CUR_CLASSIFY4_K
#undef CUR_DOT
#undef CUR_CLASSIFY
#undef CUR_PREFIX_XOR
#define CUR(x) x##_avx2
#define CUR_ATTR AVX2_ATTR
#define CUR_CONSTS AVX2_CONSTS
#define CUR_CLASSIFY_K(p) classify_avx2_k(p, Q, B, O, C, D, S)
#define CUR_CLASSIFY4_K(p) classify4_avx2_k(p, Q, B, O, C, S)
#define CUR_DOT dot_avx2
#define CUR_CLASSIFY classify_avx2
#define CUR_PREFIX_XOR prefix_xor_clmul
#include "pat_cursor_impl.h"
#undef CUR
#undef CUR_ATTR
#undef CUR_CONSTS
#undef CUR_CLASSIFY_K
#undef CUR_CLASSIFY4_K
#undef CUR_DOT
#undef CUR_CLASSIFY
#undef CUR_PREFIX_XOR

void pat_walk_deferred(pat_walk *w)
{
	pat_scratch *sc = w->sc;
	for (uint32_t i = 0; i < sc->ndefer; i++) {
		const pat_defer *d = &sc->defer[i];
		uint32_t m = pat_smap_get(w->c[d->k], d->map, d->s, d->n, d->w0, d->w1, d->h);
		if (m != PAT_NONE)
			hit(w, d->k, m, d->elem);
	}
	sc->ndefer = 0;
}

/* ---- element templates (walk_array) ----------------------------------------------------------------- */

/* The scratch's template slot for the array at the cores' nodes nd: claimed (emptied) when it was
 * another's. */
static pat_tmpl *tmpl_for(const pat_walk *w, int wk, const uint32_t *nd)
{
	uint64_t u0 = w->c[0]->uid, u1 = wk == 2 ? w->c[1]->uid : 0;
	uint32_t n1 = wk == 2 ? nd[1] : PAT_NONE;
	pat_tmpl *t = &w->sc->tmpl[(nd[0] ^ n1) * 0x9E3779B1u >> 29 & (PAT_TMPL_SLOTS - 1)];
	if (t->uid[0] != u0 || t->uid[1] != u1 || t->nd[0] != nd[0] || t->nd[1] != n1) {
		t->uid[0] = u0;
		t->uid[1] = u1;
		t->nd[0] = nd[0];
		t->nd[1] = n1;
		t->n = 0;
	}
	return t;
}

/* Builds t from the element at p (its '{') that the walk has just read, well formed, up to end (past
 * its '}'), for the cores' nodes nd of the array. false (t->n is then 0) when it is not written so. */
static bool tmpl_build(const pat_walk *w, int wk, const char *p, const char *end, const uint32_t *nd, pat_tmpl *t)
{
	const char *pos = p;
	unsigned n = 0;
	t->n = 0;
	for (;;) {
		if (n == PAT_TMPL_MAX || end - pos < 4 || pos[1] != '"')
			return false;
		const char *k = pos + 2, *q = k;
		while (q < end && *q != '"') {
			unsigned char b = (unsigned char)*q++;
			if (b == '\\' || b == '.' || b < 0x20)
				return false;
		}
		if (q + 1 >= end || q - k > 12 || q[1] != ':')
			return false;
		size_t kn = (size_t)(q - k);
		unsigned hl = (unsigned)(q + 2 - pos); /* at most 1 + 1 + 12 + 1 + 1 */
		if (w->end - pos < 16)
			return false; /* tmpl_elem could not read it either */
		__m128i keep = _mm_cmpgt_epi8(_mm_set1_epi8((char)hl),
					      _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
		_mm_store_si128((__m128i *)t->head[n], _mm_and_si128(_mm_loadu_si128((const __m128i *)pos), keep));
		t->hlen[n] = hl;
		t->used[n] = false;
		for (int c = 0; c < 2; c++) {
			t->ch[n][c] = c < wk ? key_child(w->c[c], nd[c], k, kn, w->end) : PAT_NONE;
			t->used[n] |= t->ch[n][c] != PAT_NONE;
		}
		pos = q + 2;
		if (*pos == '"' || *pos == '{' || *pos == '[')
			return false;
		pos = scalar_end(pos);
		n++;
		if (*pos == '}') {
			if (pos + 1 != end)
				return false;
			t->n = n;
			return true;
		}
		if (*pos != ',')
			return false;
	}
}

/* The walk, once per instruction set and number of cores. */
#define WATTR
#define WC(x) x##_sse2
#define WK 1
#define WNAME(x) x##_1_sse2
#include "pat_walk_impl.h"
#undef WK
#undef WNAME
#define WK 2
#define WNAME(x) x##_2_sse2
#include "pat_walk_impl.h"
#undef WK
#undef WNAME
#undef WATTR
#undef WC
#define WATTR AVX2_ATTR
#define WC(x) x##_avx2
#define WK 1
#define WNAME(x) x##_1_avx2
#include "pat_walk_impl.h"
#undef WK
#undef WNAME
#define WK 2
#define WNAME(x) x##_2_avx2
#include "pat_walk_impl.h"
#undef WK
#undef WNAME
#undef WATTR
#undef WC

static int simd_level = -1; /* -1: not chosen yet; 0: SSE2; 1: AVX2 + PCLMUL + POPCNT + BMI1; 2: and
			     * AVX-512BW for the early-stop scan */

/* The AVX-512BW scan is the default on Intel only. AMD's Zen 4 runs a 512-bit operation as two 256-bit
 * halves, so the wider scan reads no faster there and its masked tail loads cost more: on an AMD EPYC
 * (family 25) it was slower than the AVX2 scan in each of 3 interleaved runs (EXACT 6.98M vs 6.71M,
 * PREFIX 5.28M vs 4.77M, WILDCARD 6.35M vs 4.81M events/s; busbar-bench match --simd 1 / --simd 2).
 * pat_simd_set(2) still selects it on any CPU that has it. */
static bool avx512_pays(void)
{
	return __builtin_cpu_is("intel");
}

static int best_level(void)
{
	__builtin_cpu_init();
	if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("popcnt") &&
	      __builtin_cpu_supports("bmi")))
		return 0;
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 2 : 1;
}

int pat_simd_set(int level)
{
	int best = best_level();
	int v = level > best ? best : level;
	if (v < 0)
		v = best == 2 && !avx512_pays() ? 1 : best;
	__atomic_store_n(&simd_level, v, __ATOMIC_RELAXED);
	return v;
}

const char *pat_walk_event(pat_walk *w, const char *p)
{
	static const pat_stop_fn scan[3] = {pat_stop_scan_sse2, pat_stop_scan_avx2, pat_stop_scan_avx512};
	int lv = __atomic_load_n(&simd_level, __ATOMIC_RELAXED);
	if (lv < 0)
		lv = pat_simd_set(-1);
	w->stop_scan = scan[lv];
	bool two = w->c[1] != NULL;
	if (lv)
		return two ? walk_event_2_avx2(w, p) : walk_event_1_avx2(w, p);
	return two ? walk_event_2_sse2(w, p) : walk_event_1_sse2(w, p);
}
