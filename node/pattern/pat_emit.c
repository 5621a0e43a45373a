/* node/pattern/pat_emit.c — what each leaf value of a used field does (the walk, pat_walk.c, hands
 * them over).
 *
 * A value is looked up in its field's indexes: exact strings and numbers in hash maps, prefixes and
 * suffixes (and their case-insensitive and wildcard-candidate forms) by length in affix maps or a few
 * word compares, equals-ignore-case by fold key, numeric ranges by a cheap approximation first (and
 * only while some range near it can still change the result), the rest (cidr, ...) by the generic
 * matchers; the anything-buts the probes did not exclude are hit last. Every matcher hit satisfies predicates (one
 * per branch condition), counted per branch with epoch stamps; a branch whose value conditions are
 * all satisfied becomes a candidate for pat_match.c; an exact string that alone makes a one-condition
 * branch matches its rule at once (PAT_DIRECT). Values inside arrays of objects also record their
 * element, for array consistency.
 * Threads: the matching thread's, on its scratch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pat_run.h"

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
	for (uint32_t i = 0; i < m->npred; i++) {
		if (pl[i] & PAT_XPRED)
			w->xmask |= 1ULL << (pl[i] & 63);
		else
			hit_pred(w, k, pl[i], elem);
	}
}

/* A rule matched by one value alone (PAT_DIRECT). In a core of many rules the few hits of an event
 * are deduplicated by looking through them (no access to the rule-sized stamp array, which is a cache
 * miss when the set is large; pat_match.c stamps them only if the core also has candidate branches to
 * check); a core of few rules (stamp_hits) stamps every hit: its stamps stay in cache, and an event
 * that hits many of its rules (a field's anything-buts) does not look through a list per hit. */
/* Whether rule is already a direct hit of this event: by stamp, or the first 16 are looked up in the
 * list and the rest by stamp (hit_rule stamps the list when it passes 16). */
static inline bool direct_seen(const pat_core *c, const pat_cs *cs, uint32_t rule, uint32_t ep)
{
	if (!c->stamp_hits && cs->nhits <= 16) {
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
	if (direct_seen(w->c[k], cs, rule, w->ep))
		return;
	if (w->c[k]->stamp_hits) {
		cs->rule_stamp[rule] = w->ep;
	} else if (cs->nhits >= 16) {
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

/* A table's probe by hashing once per distinct affix length (a table not listed small, or a value
 * whose words are not at hand). */
static void affix_map(pat_walk *w, int k, const pat_affix *a, const pat_value *v, const char *s, bool suffix,
		      bool wild, uint32_t elem)
{
	const pat_core *c = w->c[k];
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

/* Few short affixes (a->sm): compared as words — a prefix's with the value's first 16 bytes (loaded
 * by the walk), a suffix's with the 16 ending at the value's end (inside the event, which starts
 * earlier): t0/t1, when words (emit_string tells which it has); else affix_map. */
static inline __attribute__((always_inline)) void affix_probe(pat_walk *w, int k, const pat_affix *a,
							       const pat_value *v, const char *s, bool suffix, bool wild,
							       uint32_t elem, bool words, uint64_t t0, uint64_t t1)
{
	if (!a->sm || !words) {
		affix_map(w, k, a, v, s, suffix, wild, elem);
		return;
	}
	const pat_core *c = w->c[k];
	if (a->sm_word) { /* a prefix: each affix against the first word, no branch per affix */
		uint32_t got = 0;
		for (uint32_t i = 0; i < a->nsm; i++)
			got |= (uint32_t)((t0 & a->sm[i].m0) == a->sm[i].w0) << i;
		for (; got; got &= got - 1)
			for (uint32_t m = a->sm[__builtin_ctz(got)].val; m != PAT_NONE; m = c->alias_next[m])
				if (!wild || pat_wildcard_match(c->blob + c->ment_soff[m], c->ment_slen[m], v->s, v->n))
					hit_ment(w, k, m, elem);
		return;
	}
	for (uint32_t i = 0; i < a->nsm && a->sm[i].len <= v->n; i++) {
		const pat_affix_small *e = &a->sm[i];
		if ((t0 & e->m0) != e->w0 || (t1 & e->m1) != e->w1)
			continue;
		for (uint32_t m = e->val; m != PAT_NONE; m = c->alias_next[m])
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
	uint64_t w0 = v->w0, w1 = v->w1; /* the value's first 16 bytes, zero-padded */
	if ((f->exsm || f->exact.e) && !v->hw) /* long, near the event's end, or decoded */
		pat_words(v->s, v->n, &w0, &w1);
	if (f->exsm) {
		if (v->n <= 16) /* no key is longer */
			for (uint32_t i = 0; i < f->nexsm; i++)
				if (f->exsm[i].len == v->n && f->exsm[i].w0 == w0 && f->exsm[i].w1 == w1) {
					hit(w, k, f->exsm[i].val, elem);
					break;
				}
	} else if (f->exact.e) {
		uint64_t h = v->n <= 16 ? pat_hash16(w0, w1, v->n, PAT_SEED_EXACT) : pat_hash(v->s, v->n, PAT_SEED_EXACT);
		bool in_event = v->s >= w->start && v->s < w->end; /* not decoded into scratch */
		/* deferred unless the probe may exclude an anything-but (pat_emit needs that now) */
		if (f->exact.mask >= PAT_DEFER_SLOTS && in_event && sc->ndefer < PAT_DEFER_MAX && !f->nab) {
			const pat_smap_ent *slot = &f->exact.e[pat_home(h, f->exact.mask)];
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
	/* the 16 bytes ending at the value's end, for the suffix lists: inside the event, which starts
	 * earlier (a decoded value has no such words) */
	bool tail = (f->suffix.sm || f->wsuf.sm) && v->s >= w->start && v->s + v->n < w->end &&
		    v->s + v->n - w->start >= 16;
	uint64_t t0 = 0, t1 = 0;
	if (tail) {
		memcpy(&t0, v->s + v->n - 16, 8);
		memcpy(&t1, v->s + v->n - 8, 8);
	}
	if (f->prefix.nlens)
		affix_probe(w, k, &f->prefix, v, v->s, false, false, elem, v->hw, v->w0, v->w1);
	if (f->suffix.nlens)
		affix_probe(w, k, &f->suffix, v, v->s, true, false, elem, tail, t0, t1);
	if (f->wpre.nlens)
		affix_probe(w, k, &f->wpre, v, v->s, false, true, elem, v->hw, v->w0, v->w1);
	if (f->wsuf.nlens)
		affix_probe(w, k, &f->wsuf, v, v->s, true, true, elem, tail, t0, t1);
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
			affix_map(w, k, &f->prefix_ic, v, low, false, false, elem);
		if (f->suffix_ic.nlens)
			affix_map(w, k, &f->suffix_ic, v, low, true, false, elem);
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
			/* the fold key only narrows; event-ruler's per-character rule decides — except for an
			 * ASCII value (lowered: its words are the key) and an ASCII pattern, whose fold key is
			 * its lowercase: the same key is the same letters */
			if ((lowered && c->ment_ascii[m]) ||
			    pat_eic_equal(c->blob + c->ment_soff[m], c->ment_slen[m], v->s, v->n))
				hit_ment(w, k, m, elem);
		}
	}
}

/* v's double when it is cheap (pat_num_approx), or the exact one once computed. */
static bool num_approx(pat_value *v, double *d)
{
	if (v->numstate)
		return (*d = v->d, v->numstate > 0);
	return v->parts && pat_num_approx(&v->nparts, d);
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
		return !direct_seen(c, cs, val & ~PAT_DIRECT, w->ep);
	const pat_ment *m = &c->ments[val];
	const uint32_t *pl = c->pred_lists + m->pred_off;
	for (uint32_t i = 0; i < m->npred; i++)
		if ((pl[i] & PAT_XPRED) || !c->conds[pl[i]].solo || cs->pred_seen[pl[i]] != w->ep)
			return true;
	return false;
}

/* Whether some range of f near x could still change the result (hit_open). Each bound has its own
 * tolerance (the widened tlo/thi of pat_core.c): with one tolerance for both, a range with an
 * unbounded side (±DBL_MAX) would be near every value, and a "> v" range never hit in an event would
 * keep every number of the event on the exact path. A field with the interval tree is not looked
 * through: always true. When none near x is open, the event's hull of f's ranges (pat_in_open_ranges)
 * narrows to the open ones: in an array of numbers, a "< v" range once hit no longer keeps the
 * numbers below v on this path (nor, through the walk's pre-test, on any), and the texts of its
 * bounds let element templates skip such numbers unread (pat_walk.c: num_far). */
static bool ranges_open(const pat_walk *w, int k, uint32_t fid, const pat_field *f, double x)
{
	if (f->nranges > PAT_ITREE_MIN)
		return true;
	double lo = INFINITY, hi = -INFINITY;
	const pat_ntxt *lt = NULL, *ht = NULL;
	for (uint32_t i = 0; i < f->nranges; i++) {
		const pat_range *r = &f->ranges[i];
		if (!hit_open(w, k, r->ment))
			continue;
		if (x >= r->tlo && x <= r->thi)
			return true;
		if (r->tlo < lo) {
			lo = r->tlo;
			lt = &r->tlo_t;
		}
		if (r->thi > hi) {
			hi = r->thi;
			ht = &r->thi_t;
		}
	}
	pat_cs *cs = w->cs[k];
	cs->hull_at[fid] = w->ep;
	cs->hull[2 * fid] = lo;
	cs->hull[2 * fid + 1] = hi;
	cs->hull_t[2 * fid] = lt;
	cs->hull_t[2 * fid + 1] = ht;
	return false;
}

/* A number: the exact comparable value (pat_num.c, the costly part for 16-17 digits) is computed
 * only when a cheap approximation says an exact number or a range of the field could match — and,
 * for ranges, could still change the result: in an array of many numbers (coordinates) the ranges
 * of one-condition rules are soon all hit. */
void pat_emit_number(pat_walk *w, int k, const pat_field *f, pat_value *v, uint32_t elem)
{
	const pat_core *c = w->c[k];
	if (f->need_num) {
		uint32_t fid = (uint32_t)(f - c->fields);
		double a;
		bool want = true;
		if (num_approx(v, &a))
			want = (f->nnumv && a >= f->ntlo && a <= f->nthi && near_any(f->numv, f->nnumv, a)) ||
			       (f->nranges && pat_in_open_ranges(w, k, fid, f, a) && ranges_open(w, k, fid, f, a));
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

void pat_emit(pat_walk *w, int k, uint32_t fid, pat_value *v, uint32_t elem)
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
	w->xmask = 0;
	switch (v->t) {
	case PV_STR:
		emit_string(w, k, f, v, elem);
		break;
	case PV_NUM:
		pat_emit_number(w, k, f, v, elem);
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
	/* every anything-but the probes above did not exclude (they set w->xmask) */
	for (uint64_t m = f->ab_all & ~w->xmask; m; m &= m - 1)
		hit(w, k, f->ab_val[__builtin_ctzll(m)], elem);
}

void pat_walk_deferred(pat_walk *w)
{
	pat_scratch *sc = w->sc;
	for (uint32_t i = 0; i < sc->ndefer; i++) {
		const pat_defer *d = &sc->defer[i];
		const pat_core *c = w->c[d->k];
		pat_cs *cs = w->cs[d->k];
		uint32_t id;
		uint32_t m = pat_smap_get3(c, d->map, d->s, d->n, d->w0, d->w1, d->h, &id);
		/* a core of many rules' first direct hit, or none, is recorded without a branch on which
		 * (PAT_NONE has the PAT_DIRECT bit; hit_rule would only append it), with the rule's id
		 * from the entry (long keys have none there: 0, and collect reads rule_ids) */
		if ((m & PAT_DIRECT) && cs->nhits == 0 && cs->hits_cap && !c->stamp_hits && d->n <= 16) {
			uint32_t got = m != PAT_NONE;
			cs->hits[0] = (m & ~PAT_DIRECT) & (0u - got);
			cs->nhits = got;
			cs->hit0_id = id;
			cs->hit0_ep = w->ep; /* set on a miss too: collect's test of it then costs no branch
					      * mispredict (a miss leaves no hit to read it for) */
		} else if (m != PAT_NONE) {
			hit(w, d->k, m, d->elem);
			cs->hit0_ep = 0; /* hits[0] may now be this one (a long key after a miss) */
		}
	}
	sc->ndefer = 0;
}
