/* node/pattern/pat_match.c — matching events against a published set (pat_match, pat_match_rule).
 *
 * One pass over the event bytes: a recursive walk that follows only object keys present in the set's
 * path trie (dotted event keys are split and walked segment by segment, so "a.b" ≡ a→b), skips every
 * other subtree with the SSE2 structural skip, skips the rest of an object once all of its used keys
 * have been seen, and stops reading the event once all used top-level keys have been seen. Values are
 * offsets into the input (strings with escapes are decoded into scratch); numbers are parsed only for
 * fields with numeric matchers.
 * Each leaf value is looked up in its field's indexes; every matcher hit satisfies predicates (one per
 * branch condition), counted per branch with epoch stamps (no clearing between events). A branch whose
 * conditions were all satisfied by values outside arrays of objects matches at once; otherwise (values
 * inside arrays of objects, exists:false, or a condition mixing exists:false with values) it is
 * checked exactly: event-ruler's array-consistent search over the conditions in path order, where the
 * chosen values must lie in the same element of every array they share, and exists:false holds when
 * no value of that path is consistent with the choices made for earlier paths. Values outside arrays
 * of objects are consistent with everything and are preferred; the search is bounded per event.
 * Threads: a pat_set is read-only here; each thread passes its own pat_scratch.
 */
#include <stdlib.h>
#include <string.h>

#include "pat_set.h"

#define STEP_BUDGET 2000000u

struct pat_scratch {
	uint32_t epoch;
	const pat_set *sized_for;
	uint32_t *pred_seen, *pred_free, *pred_head;
	size_t npred_cap;
	uint32_t *br_stamp;
	uint32_t *br_cnt;
	size_t nbr_cap;
	uint32_t *rule_stamp;
	size_t nrule_cap;
	uint32_t *field_seen, *field_free, *field_head;
	size_t nfield_cap;
	/* (pred, element) pairs for values inside arrays of objects */
	uint32_t *pair_node, *pair_next;
	size_t npairs, pair_cap;
	/* (field, element) values inside arrays of objects */
	uint32_t *fv_node, *fv_next;
	size_t nfv, fv_cap;
	/* element tree: node 0 = outside any array */
	uint32_t *en_parent, *en_array, *en_depth;
	size_t nen, en_cap;
	uint32_t narrays;
	uint32_t *cand;
	size_t ncand, cand_cap;
	pat_buf str, key, low;
	uint32_t steps;
	bool oom;
};

pat_scratch *pat_scratch_new(void)
{
	return calloc(1, sizeof(pat_scratch));
}

void pat_scratch_free(pat_scratch *sc)
{
	if (!sc)
		return;
	free(sc->pred_seen);
	free(sc->pred_free);
	free(sc->pred_head);
	free(sc->br_stamp);
	free(sc->br_cnt);
	free(sc->rule_stamp);
	free(sc->field_seen);
	free(sc->field_free);
	free(sc->field_head);
	free(sc->pair_node);
	free(sc->pair_next);
	free(sc->fv_node);
	free(sc->fv_next);
	free(sc->en_parent);
	free(sc->en_array);
	free(sc->en_depth);
	free(sc->cand);
	pat_buf_free(&sc->str);
	pat_buf_free(&sc->key);
	pat_buf_free(&sc->low);
	free(sc);
}

static bool grow_u32(uint32_t **a, size_t need, size_t *cap, size_t newcap)
{
	(void)cap;
	uint32_t *n = realloc(*a, newcap * sizeof(uint32_t));
	if (!n)
		return false;
	memset(n, 0, newcap * sizeof(uint32_t));
	*a = n;
	(void)need;
	return true;
}

/* Sizes the stamp arrays for s (allocates only when s is larger than anything seen before). */
static bool scratch_fit(pat_scratch *sc, const pat_set *s)
{
	bool reset = false;
	if (s->npreds > sc->npred_cap) {
		size_t c = s->npreds + 16;
		if (!grow_u32(&sc->pred_seen, s->npreds, &sc->npred_cap, c) ||
		    !grow_u32(&sc->pred_free, s->npreds, &sc->npred_cap, c) ||
		    !grow_u32(&sc->pred_head, s->npreds, &sc->npred_cap, c))
			return false;
		sc->npred_cap = c;
		reset = true;
	}
	if (s->nbr > sc->nbr_cap) {
		size_t c = s->nbr + 16;
		if (!grow_u32(&sc->br_stamp, s->nbr, &sc->nbr_cap, c) || !grow_u32(&sc->br_cnt, s->nbr, &sc->nbr_cap, c))
			return false;
		sc->nbr_cap = c;
		reset = true;
	}
	if (s->nrules > sc->nrule_cap) {
		size_t c = s->nrules + 16;
		if (!grow_u32(&sc->rule_stamp, s->nrules, &sc->nrule_cap, c))
			return false;
		sc->nrule_cap = c;
		reset = true;
	}
	if (s->nfields > sc->nfield_cap) {
		size_t c = s->nfields + 16;
		if (!grow_u32(&sc->field_seen, s->nfields, &sc->nfield_cap, c) ||
		    !grow_u32(&sc->field_free, s->nfields, &sc->nfield_cap, c) ||
		    !grow_u32(&sc->field_head, s->nfields, &sc->nfield_cap, c))
			return false;
		sc->nfield_cap = c;
		reset = true;
	}
	if (reset || sc->epoch == UINT32_MAX) {
		/* fresh arrays are zero; make sure no stale stamp equals the next epochs */
		memset(sc->pred_seen, 0, sc->npred_cap * 4);
		memset(sc->pred_free, 0, sc->npred_cap * 4);
		memset(sc->br_stamp, 0, sc->nbr_cap * 4);
		memset(sc->rule_stamp, 0, sc->nrule_cap * 4);
		memset(sc->field_seen, 0, sc->nfield_cap * 4);
		memset(sc->field_free, 0, sc->nfield_cap * 4);
		sc->epoch = 0;
	}
	if (!sc->en_parent) {
		sc->en_cap = 64;
		sc->en_parent = malloc(sc->en_cap * 4);
		sc->en_array = malloc(sc->en_cap * 4);
		sc->en_depth = malloc(sc->en_cap * 4);
		if (!sc->en_parent || !sc->en_array || !sc->en_depth)
			return false;
	}
	return true;
}

static bool push2(uint32_t **a, uint32_t **b, size_t *n, size_t *cap)
{
	if (*n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 256;
	uint32_t *na = realloc(*a, c * 4);
	if (!na)
		return false;
	*a = na;
	uint32_t *nb = realloc(*b, c * 4);
	if (!nb)
		return false;
	*b = nb;
	*cap = c;
	return true;
}

/* ---- per-value work ----------------------------------------------------------------------------- */

typedef struct W {
	const pat_set *s;
	pat_scratch *sc;
	const char *end;
	uint32_t ep;
	bool stop;  /* nothing more to read */
	bool bad;   /* malformed JSON seen */
	bool early_exit; /* stop after the last used key (ignores later duplicate/dotted keys): off */
} W;

static void hit_pred(W *w, uint32_t pred, uint32_t elem)
{
	pat_scratch *sc = w->sc;
	uint32_t ep = w->ep;
	if (sc->pred_seen[pred] != ep) {
		sc->pred_seen[pred] = ep;
		sc->pred_head[pred] = PAT_NONE;
		if (w->s->conds[pred].kind == PAT_C_POS) {
			uint32_t br = w->s->pred_branch[pred];
			if (sc->br_stamp[br] != ep) {
				sc->br_stamp[br] = ep;
				sc->br_cnt[br] = 0;
			}
			if (++sc->br_cnt[br] == w->s->br[br].npos) {
				if (sc->ncand == sc->cand_cap) {
					size_t c = sc->cand_cap ? sc->cand_cap * 2 : 64;
					uint32_t *n = realloc(sc->cand, c * 4);
					if (!n) {
						sc->oom = true;
						return;
					}
					sc->cand = n;
					sc->cand_cap = c;
				}
				sc->cand[sc->ncand++] = br;
			}
		}
	}
	if (elem == 0) {
		sc->pred_free[pred] = ep;
	} else {
		/* kept even when a free value exists: under exists:false a value inside an array element can
		 * succeed where the free one fails (it makes other paths' values inconsistent) */
		if (!push2(&sc->pair_node, &sc->pair_next, &sc->npairs, &sc->pair_cap)) {
			sc->oom = true;
			return;
		}
		sc->pair_node[sc->npairs] = elem;
		sc->pair_next[sc->npairs] = sc->pred_head[pred];
		sc->pred_head[pred] = (uint32_t)sc->npairs++;
	}
}

static inline void hit_ment(W *w, uint32_t ment, uint32_t elem)
{
	const pat_ment *m = &w->s->ments[ment];
	const uint32_t *pl = w->s->pred_lists + m->pred_off;
	for (uint32_t i = 0; i < m->npred; i++)
		hit_pred(w, pl[i], elem);
}

static void affix_probe(W *w, const pat_affix *a, const char *v, size_t n, bool suffix, uint32_t elem)
{
	for (uint32_t i = 0; i < a->nlens; i++) {
		uint32_t L = a->lens[i];
		if (L > n)
			break;
		const char *k = suffix ? v + n - L : v;
		uint32_t m = pat_smap_get(w->s, &a->map, k, L, pat_hash(k, L, 13));
		for (; m != PAT_NONE; m = w->s->alias_next[m])
			hit_ment(w, m, elem);
	}
}

static void emit(W *w, uint32_t fid, pat_value *v, uint32_t elem)
{
	const pat_set *s = w->s;
	pat_scratch *sc = w->sc;
	const pat_field *f = &s->fields[fid];
	uint32_t ep = w->ep;
	if (sc->field_seen[fid] != ep) {
		sc->field_seen[fid] = ep;
		sc->field_head[fid] = PAT_NONE;
	}
	if (elem == 0) {
		sc->field_free[fid] = ep;
	} else if (sc->field_free[fid] != ep) { /* a free value already makes exists:false fail */
		if (!push2(&sc->fv_node, &sc->fv_next, &sc->nfv, &sc->fv_cap)) {
			sc->oom = true;
			return;
		}
		sc->fv_node[sc->nfv] = elem;
		sc->fv_next[sc->nfv] = sc->field_head[fid];
		sc->field_head[fid] = (uint32_t)sc->nfv++;
	}
	if (f->ment_exists != PAT_NONE)
		hit_ment(w, f->ment_exists, elem);
	uint32_t m;
	switch (v->t) {
	case PV_STR:
		if (f->exact.e) {
			m = pat_smap_get(s, &f->exact, v->s, v->n, pat_hash(v->s, v->n, 11));
			if (m != PAT_NONE)
				hit_ment(w, m, elem);
		}
		if (f->prefix.nlens)
			affix_probe(w, &f->prefix, v->s, v->n, false, elem);
		if (f->suffix.nlens)
			affix_probe(w, &f->suffix, v->s, v->n, true, elem);
		if (f->prefix_ic.nlens || f->suffix_ic.nlens) {
			sc->low.len = 0;
			if (pat_buf_put(&sc->low, v->s, v->n)) {
				sc->oom = true;
				return;
			}
			for (size_t i = 0; i < v->n; i++) {
				char c = sc->low.p[i];
				if (c >= 'A' && c <= 'Z')
					sc->low.p[i] = (char)(c + 32);
			}
			if (f->prefix_ic.nlens)
				affix_probe(w, &f->prefix_ic, sc->low.p, v->n, false, elem);
			if (f->suffix_ic.nlens)
				affix_probe(w, &f->suffix_ic, sc->low.p, v->n, true, elem);
		}
		if (f->eic.e) {
			sc->key.len = 0;
			if (pat_fold_key(v->s, v->n, &sc->key)) {
				sc->oom = true;
				return;
			}
			const char *k = sc->key.p ? sc->key.p : "";
			m = pat_smap_get(s, &f->eic, k, sc->key.len, pat_hash(k, sc->key.len, 17));
			for (; m != PAT_NONE; m = f->eic_next[m]) {
				/* the fold key only narrows; ER's per-character rule decides */
				if (pat_eic_equal(s->blob + s->ment_soff[m], s->ment_slen[m], v->s, v->n))
					hit_ment(w, m, elem);
			}
		}
		break;
	case PV_NUM:
		if (f->need_num && f->num.e) {
			if (v->numstate == 0)
				v->numstate = pat_num_comparable(v->s, v->n, &v->d) ? 1 : -1;
			if (v->numstate > 0) {
				uint64_t key;
				double d = v->d;
				memcpy(&key, &d, 8);
				m = pat_nmap_get(&f->num, key);
				if (m != PAT_NONE)
					hit_ment(w, m, elem);
			}
		}
		if (f->numtext.e) {
			m = pat_smap_get(s, &f->numtext, v->s, v->n, pat_hash(v->s, v->n, 11));
			if (m != PAT_NONE)
				hit_ment(w, m, elem);
		}
		break;
	case PV_NULL:
		if (f->lit[0] >= 0)
			hit_ment(w, (uint32_t)f->lit[0], elem);
		break;
	case PV_TRUE:
		if (f->lit[1] >= 0)
			hit_ment(w, (uint32_t)f->lit[1], elem);
		break;
	case PV_FALSE:
		if (f->lit[2] >= 0)
			hit_ment(w, (uint32_t)f->lit[2], elem);
		break;
	}
	for (uint32_t i = 0; i < f->ngen; i++) {
		uint32_t g = f->gen[i];
		if (pat_value_match(&s->gm[g], v))
			hit_ment(w, s->gm_ment[g], elem);
	}
}

/* ---- the walk ----------------------------------------------------------------------------------- */

static inline const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static const char *scan_number(const char *p, const char *e)
{
	const char *s = p;
	if (p < e && *p == '-')
		p++;
	if (p >= e)
		return NULL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	if (p < e && *p == '.') {
		const char *d = ++p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (p == d)
			return NULL;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		const char *d = p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (p == d)
			return NULL;
	}
	(void)s;
	return p;
}

static uint32_t new_elem(W *w, uint32_t parent, uint32_t array)
{
	pat_scratch *sc = w->sc;
	if (sc->nen == sc->en_cap) {
		size_t c = sc->en_cap * 2;
		uint32_t *a = realloc(sc->en_parent, c * 4), *b = a ? realloc(sc->en_array, c * 4) : NULL,
			 *d = b ? realloc(sc->en_depth, c * 4) : NULL;
		if (a)
			sc->en_parent = a;
		if (b)
			sc->en_array = b;
		if (d)
			sc->en_depth = d;
		if (!a || !b || !d) {
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

static const char *walk_value(W *w, const char *p, uint32_t node, uint32_t elem, int depth);

/* Skips the remaining members of an object or elements of an array (p inside it). */
static const char *skip_rest(W *w, const char *p, char close)
{
	(void)close;
	long depth = 1;
	const char *e = w->end;
	while (p < e) {
		char c = *p;
		if (c == '"') {
			bool esc = false;
			const char *q = pat_scan_string(p, e, &esc);
			if (!q)
				return NULL;
			p = q + 1;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (--depth == 0)
				return p + 1;
		}
		p++;
		/* fast forward over plain bytes */
		while (p < e && *p != '"' && *p != '{' && *p != '}' && *p != '[' && *p != ']')
			p++;
	}
	return NULL;
}

static const char *walk_object(W *w, const char *p, uint32_t node, uint32_t elem, int depth, bool root)
{
	const pat_set *s = w->s;
	const char *e = w->end;
	uint64_t seen = 0;
	uint32_t nseen = 0, need = s->nodes[node].nchild;
	p = ws(p, e);
	if (p < e && *p == '}')
		return p + 1;
	for (;;) {
		if (p >= e || *p != '"') {
			w->bad = true;
			return NULL;
		}
		bool esc = false;
		const char *q = pat_scan_string(p, e, &esc);
		if (!q) {
			w->bad = true;
			return NULL;
		}
		const char *k = p + 1;
		size_t kn = (size_t)(q - k);
		if (esc) {
			if (!pat_decode_string(k, kn, &w->sc->key)) {
				w->bad = true;
				return NULL;
			}
			k = w->sc->key.p;
			kn = w->sc->key.len;
		}
		/* child lookup; dotted keys walk several segments */
		uint32_t child;
		const char *dot = kn ? memchr(k, '.', kn) : NULL;
		if (!dot) {
			child = pat_set_child(s, node, k, kn);
		} else {
			child = node;
			size_t i = 0;
			for (;;) {
				size_t st = i;
				while (i < kn && k[i] != '.')
					i++;
				child = pat_set_child(s, child, k + st, i - st);
				if (child == PAT_NONE || i >= kn)
					break;
				i++;
			}
		}
		p = ws(q + 1, e);
		if (p >= e || *p != ':') {
			w->bad = true;
			return NULL;
		}
		p = ws(p + 1, e);
		if (child == PAT_NONE) {
			p = pat_skip_value(p, e);
			if (!p) {
				w->bad = true;
				return NULL;
			}
		} else {
			if (!dot) {
				uint32_t slot = s->nodes[child].slot;
				if (slot < 64 && !(seen & (1ULL << slot))) {
					seen |= 1ULL << slot;
					nseen++;
				}
			}
			p = walk_value(w, p, child, elem, depth + 1);
			if (!p)
				return NULL;
		}
		p = ws(p, e);
		if (p < e && *p == ',') {
			p = ws(p + 1, e);
			if (w->early_exit && nseen == need && need <= 64) {
				if (root) {
					w->stop = true;
					return p;
				}
				p = skip_rest(w, p, '}');
				if (!p)
					w->bad = true;
				return p;
			}
			continue;
		}
		if (p < e && *p == '}')
			return p + 1;
		w->bad = true;
		return NULL;
	}
}

static const char *walk_array(W *w, const char *p, uint32_t node, uint32_t elem, int depth)
{
	const char *e = w->end;
	uint32_t aid = ++w->sc->narrays;
	p = ws(p, e);
	if (p < e && *p == ']')
		return p + 1;
	for (;;) {
		if (p >= e) {
			w->bad = true;
			return NULL;
		}
		if (*p == '{' || *p == '[') {
			uint32_t en = new_elem(w, elem, aid);
			if (w->sc->oom)
				return NULL;
			p = walk_value(w, p, node, en, depth + 1);
		} else {
			p = walk_value(w, p, node, elem, depth + 1);
		}
		if (!p)
			return NULL;
		p = ws(p, e);
		if (p < e && *p == ',') {
			p = ws(p + 1, e);
			continue;
		}
		if (p < e && *p == ']')
			return p + 1;
		w->bad = true;
		return NULL;
	}
}

static const char *walk_value(W *w, const char *p, uint32_t node, uint32_t elem, int depth)
{
	const pat_set *s = w->s;
	const char *e = w->end;
	if (depth > PAT_MAX_EVENT_DEPTH || p >= e) {
		w->bad = true;
		return NULL;
	}
	int32_t field = s->nodes[node].field;
	pat_value v;
	switch (*p) {
	case '{':
		if (s->nodes[node].nchild == 0) {
			const char *q = pat_skip_value(p, e);
			if (!q)
				w->bad = true;
			return q;
		}
		return walk_object(w, p + 1, node, elem, depth, false);
	case '[':
		if (s->nodes[node].nchild == 0 && field < 0) {
			const char *q = pat_skip_value(p, e);
			if (!q)
				w->bad = true;
			return q;
		}
		return walk_array(w, p + 1, node, elem, depth);
	case '"': {
		bool esc = false;
		const char *q = pat_scan_string(p, e, &esc);
		if (!q) {
			w->bad = true;
			return NULL;
		}
		if (field < 0)
			return q + 1;
		memset(&v, 0, sizeof(v));
		v.t = PV_STR;
		v.s = p + 1;
		v.n = (size_t)(q - p - 1);
		if (esc) {
			if (!pat_decode_string(v.s, v.n, &w->sc->str)) {
				w->bad = true;
				return NULL;
			}
			v.s = w->sc->str.p;
			v.n = w->sc->str.len;
		} else {
			for (size_t i = 0; i < v.n; i++)
				if ((unsigned char)v.s[i] < 0x20) {
					w->bad = true;
					return NULL;
				}
		}
		emit(w, (uint32_t)field, &v, elem);
		return q + 1;
	}
	case 't':
	case 'f':
	case 'n': {
		const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
		size_t ln = strlen(lit);
		if ((size_t)(e - p) < ln || memcmp(p, lit, ln)) {
			w->bad = true;
			return NULL;
		}
		if (field >= 0) {
			memset(&v, 0, sizeof(v));
			v.t = *p == 't' ? PV_TRUE : *p == 'f' ? PV_FALSE : PV_NULL;
			v.s = p;
			v.n = ln;
			emit(w, (uint32_t)field, &v, elem);
		}
		return p + ln;
	}
	default: {
		const char *q = scan_number(p, e);
		if (!q) {
			w->bad = true;
			return NULL;
		}
		if (field >= 0) {
			memset(&v, 0, sizeof(v));
			v.t = PV_NUM;
			v.s = p;
			v.n = (size_t)(q - p);
			emit(w, (uint32_t)field, &v, elem);
		}
		return q;
	}
	}
}

/* ---- combination -------------------------------------------------------------------------------- */

static bool consistent(const pat_scratch *sc, uint32_t a, uint32_t b)
{
	if (a == 0 || b == 0 || a == b)
		return true;
	while (sc->en_depth[a] > sc->en_depth[b])
		a = sc->en_parent[a];
	while (sc->en_depth[b] > sc->en_depth[a])
		b = sc->en_parent[b];
	if (a == b)
		return true;
	while (sc->en_parent[a] != sc->en_parent[b]) {
		a = sc->en_parent[a];
		b = sc->en_parent[b];
	}
	return sc->en_array[a] != sc->en_array[b];
}

static bool consistent_all(const pat_scratch *sc, uint32_t x, const uint32_t *M, uint32_t nm)
{
	for (uint32_t i = 0; i < nm; i++)
		if (!consistent(sc, x, M[i]))
			return false;
	return true;
}

/* exists:false on field f holds given the membership M */
static bool absent_ok(const W *w, uint32_t f, const uint32_t *M, uint32_t nm)
{
	const pat_scratch *sc = w->sc;
	if (sc->field_seen[f] != w->ep)
		return true;
	if (sc->field_free[f] == w->ep)
		return false;
	for (uint32_t i = sc->field_head[f]; i != PAT_NONE; i = sc->fv_next[i])
		if (consistent_all(sc, sc->fv_node[i], M, nm))
			return false;
	return true;
}

/* simple: the branch has only value conditions, so a free value dominates every other choice */
static bool search(W *w, const pat_bcond *c, uint32_t nc, uint32_t k, uint32_t *M, uint32_t nm, bool simple)
{
	pat_scratch *sc = w->sc;
	if (k == nc)
		return true;
	if (++sc->steps > STEP_BUDGET)
		return false;
	const pat_bcond *cd = &c[k];
	if (cd->kind != PAT_C_ABS && sc->pred_seen[cd->pred] == w->ep) {
		if (sc->pred_free[cd->pred] == w->ep) {
			if (search(w, c, nc, k + 1, M, nm, simple))
				return true;
			if (simple || sc->steps > STEP_BUDGET)
				return false;
		}
		for (uint32_t i = sc->pred_head[cd->pred]; i != PAT_NONE; i = sc->pair_next[i]) {
			uint32_t x = sc->pair_node[i];
			if (!consistent_all(sc, x, M, nm))
				continue;
			M[nm] = x;
			if (search(w, c, nc, k + 1, M, nm + 1, simple))
				return true;
			if (sc->steps > STEP_BUDGET)
				return false;
		}
	}
	if (cd->kind != PAT_C_POS && absent_ok(w, cd->field, M, nm))
		return search(w, c, nc, k + 1, M, nm, simple);
	return false;
}

static bool branch_matches(W *w, uint32_t bi)
{
	const pat_set *s = w->s;
	const pat_br *br = &s->br[bi];
	const pat_bcond *c = s->conds + br->cond_off;
	pat_scratch *sc = w->sc;
	if (br->simple) {
		bool all_free = true;
		for (uint32_t k = 0; k < br->nc; k++)
			if (sc->pred_free[c[k].pred] != w->ep) {
				all_free = false;
				break;
			}
		if (all_free || br->nc == 1)
			return true;
	}
	uint32_t stackM[64];
	uint32_t *M = br->nc <= 64 ? stackM : malloc(br->nc * sizeof(uint32_t));
	if (!M) {
		sc->oom = true;
		return false;
	}
	bool r = search(w, c, br->nc, 0, M, 0, br->simple);
	if (M != stackM)
		free(M);
	return r;
}

static bb_err run(const pat_set *s, pat_scratch *sc, const char *event, size_t len, uint32_t *ids, size_t cap,
		  size_t *n)
{
	*n = 0;
	if (!scratch_fit(sc, s))
		return BB_ENOMEM;
	W w = {.s = s, .sc = sc, .end = event + len};
	w.ep = ++sc->epoch;
	sc->ncand = 0;
	sc->npairs = 0;
	sc->nfv = 0;
	sc->nen = 1;
	sc->en_parent[0] = 0;
	sc->en_array[0] = 0;
	sc->en_depth[0] = 0;
	sc->narrays = 0;
	sc->steps = 0;
	sc->oom = false;
	const char *p = ws(event, w.end);
	if (p >= w.end || *p != '{')
		return BB_EINVAL;
	if (s->nodes[0].nchild) {
		const char *q = walk_object(&w, p + 1, 0, 0, 1, true);
		if (sc->oom)
			return BB_ENOMEM;
		if (!q && !w.stop)
			return BB_EINVAL;
		if (!w.stop && q) {
			q = ws(q, w.end);
			if (q != w.end)
				return BB_EINVAL;
		}
	}
	size_t total = 0;
	for (int pass = 0; pass < 2; pass++) {
		const uint32_t *list = pass ? s->always : sc->cand;
		size_t cnt = pass ? s->nalways : sc->ncand;
		for (size_t i = 0; i < cnt; i++) {
			uint32_t bi = list[i];
			uint32_t rule = s->br[bi].rule;
			if (sc->rule_stamp[rule] == w.ep)
				continue;
			if (!branch_matches(&w, bi))
				continue;
			sc->rule_stamp[rule] = w.ep;
			if (total < cap)
				ids[total] = s->rule_ids[rule];
			total++;
		}
	}
	if (sc->oom)
		return BB_ENOMEM;
	*n = total;
	return BB_OK;
}

bb_err pat_match(const pat_set *s, pat_scratch *sc, const char *event, size_t len, uint32_t *ids, size_t cap,
		 size_t *n)
{
	if (!n)
		return BB_EINVAL;
	*n = 0;
	if (!s || !sc || !event)
		return BB_EINVAL;
	bb_err e = run(s, sc, event, len, ids, cap, n);
	if (e)
		*n = 0;
	return e;
}

bb_err pat_match_rule(const pat_rule *r, const char *event, size_t len, bool *matched)
{
	if (!r || !event || !matched)
		return BB_EINVAL;
	*matched = false;
	if (!pat_json_valid(event, len))
		return BB_EINVAL;
	pat_builder *b = pat_builder_new();
	pat_scratch *sc = pat_scratch_new();
	pat_set *s = NULL;
	bb_err e = BB_ENOMEM;
	if (!b || !sc)
		goto out;
	if ((e = pat_builder_add(b, 0, r)))
		goto out;
	s = pat_builder_publish(b);
	if (!s) {
		e = BB_ENOMEM;
		goto out;
	}
	uint32_t id;
	size_t n = 0;
	e = pat_match(s, sc, event, len, &id, 1, &n);
	*matched = n > 0;
out:
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
	return e;
}
