/* node/pattern/pat_match.c — matching events against a published set (pat_match, pat_match_rule):
 * scratch sizing, the walk (pat_walk.c), and the combination of satisfied predicates into rules.
 *
 * After the walk, each core has rules matched directly (hits) and candidate branches whose value
 * conditions were all satisfied. A candidate whose conditions were all satisfied by values outside
 * arrays of objects matches at once; otherwise (values inside arrays of objects, exists:false, or a
 * condition mixing exists:false with values) it is checked exactly: event-ruler's array-consistent
 * search over the conditions in path order, where the chosen values must lie in the same element of
 * every array they share, and exists:false holds when no value of that path is consistent with the
 * choices made for earlier paths. Values outside arrays of objects are consistent with everything and
 * are preferred; the search is bounded per event. Base rules removed since the base was built (the
 * set's dead bits) are dropped from the result.
 * Threads: a pat_set is read-only here; each thread passes its own pat_scratch.
 */
#include <stdlib.h>
#include <string.h>

#include "pat_run.h"

#define STEP_BUDGET 2000000u

pat_scratch *pat_scratch_new(void)
{
	return calloc(1, sizeof(pat_scratch));
}

static void cs_free(pat_cs *c)
{
	uint32_t *arrs[] = {c->pred_seen, c->pred_free, c->pred_head, c->br_stamp, c->br_cnt, c->rule_stamp,
			    c->field_seen, c->field_free, c->field_head, c->hull_at, c->pair_node, c->pair_next, c->fv_node,
			    c->fv_next, c->cand, c->hits};
	for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
		free(arrs[i]);
	free(c->hull);
	free(c->hull_t);
}

void pat_scratch_free(pat_scratch *sc)
{
	if (!sc)
		return;
	cs_free(&sc->cs[0]);
	cs_free(&sc->cs[1]);
	free(sc->en_parent);
	free(sc->en_array);
	free(sc->en_depth);
	pat_buf_free(&sc->str);
	pat_buf_free(&sc->key);
	pat_buf_free(&sc->low);
	pat_scratch_free(sc->twin);
	free(sc);
}

/* Grows (and zeroes) the k arrays to at least need entries. */
static bool grow(uint32_t **arrs[], int k, size_t need, size_t *cap)
{
	if (need <= *cap)
		return true;
	size_t c = need + need / 2 + 16;
	for (int i = 0; i < k; i++) {
		uint32_t *n = realloc(*arrs[i], c * sizeof(uint32_t));
		if (!n)
			return false;
		memset(n, 0, c * sizeof(uint32_t));
		*arrs[i] = n;
	}
	*cap = c;
	return true;
}

static void cs_zero(pat_cs *cs)
{
	cs->hit0_ep = 0;
	if (cs->pred_seen) {
		memset(cs->pred_seen, 0, cs->npred_cap * 4);
		memset(cs->pred_free, 0, cs->npred_cap * 4);
	}
	if (cs->br_stamp)
		memset(cs->br_stamp, 0, cs->nbr_cap * 4);
	if (cs->rule_stamp)
		memset(cs->rule_stamp, 0, cs->nrule_cap * 4);
	if (cs->field_seen) {
		memset(cs->field_seen, 0, cs->nfield_cap * 4);
		memset(cs->field_free, 0, cs->nfield_cap * 4);
		memset(cs->hull_at, 0, cs->nfield_cap * 4);
	}
}

/* Sizes one core's stamp arrays for c. Growing zeroes them, which keeps every old stamp below any
 * future epoch. */
static bool cs_fit(pat_cs *cs, const pat_core *c)
{
	if (__builtin_expect(c->npreds <= cs->npred_cap && c->nbr <= cs->nbr_cap && c->nrules <= cs->nrule_cap &&
				     c->nfields <= cs->nfield_cap && cs->nhull_cap >= cs->nfield_cap,
			     1)) { /* the usual event: sized already */
		cs->ncand = cs->npairs = cs->nfv = cs->nhits = 0;
		return true;
	}
	uint32_t **p3[] = {&cs->pred_seen, &cs->pred_free, &cs->pred_head};
	uint32_t **b2[] = {&cs->br_stamp, &cs->br_cnt};
	uint32_t **r1[] = {&cs->rule_stamp};
	uint32_t **f4[] = {&cs->field_seen, &cs->field_free, &cs->field_head, &cs->hull_at};
	if (!grow(p3, 3, c->npreds, &cs->npred_cap) || !grow(b2, 2, c->nbr, &cs->nbr_cap) ||
	    !grow(r1, 1, c->nrules, &cs->nrule_cap) || !grow(f4, 4, c->nfields, &cs->nfield_cap))
		return false;
	if (cs->nhull_cap < cs->nfield_cap) { /* read only where hull_at says this epoch */
		double *h = realloc(cs->hull, cs->nfield_cap * 2 * sizeof(double));
		if (!h)
			return false;
		cs->hull = h;
		const pat_ntxt **ht = realloc(cs->hull_t, cs->nfield_cap * 2 * sizeof(*ht));
		if (!ht)
			return false;
		cs->hull_t = ht;
		cs->nhull_cap = cs->nfield_cap;
	}
	cs->ncand = cs->npairs = cs->nfv = cs->nhits = 0;
	return true;
}

static bool scratch_fit(pat_scratch *sc, const pat_set *s)
{
	if (sc->epoch == UINT32_MAX) { /* the epoch restarts: no old stamp may equal a new one */
		sc->epoch = 0;
		cs_zero(&sc->cs[0]);
		cs_zero(&sc->cs[1]);
		memset(sc->stop_at, 0, sizeof sc->stop_at);
		sc->stop_off_until = 0;
	}
	if (!cs_fit(&sc->cs[0], s->base) || (s->delta && !cs_fit(&sc->cs[1], s->delta)))
		return false;
	if (!sc->en_parent) {
		sc->en_cap = 64;
		sc->en_parent = malloc(sc->en_cap * 4);
		sc->en_array = malloc(sc->en_cap * 4);
		sc->en_depth = malloc(sc->en_cap * 4);
		if (!sc->en_parent || !sc->en_array || !sc->en_depth)
			return false;
	}
	sc->nen = 1;
	sc->en_parent[0] = sc->en_array[0] = sc->en_depth[0] = 0;
	sc->narrays = 0;
	sc->steps = 0;
	sc->oom = false;
	return true;
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
static bool absent_ok(const pat_walk *w, const pat_cs *cs, uint32_t f, const uint32_t *M, uint32_t nm)
{
	if (cs->field_seen[f] != w->ep)
		return true;
	if (cs->field_free[f] == w->ep)
		return false;
	for (uint32_t i = cs->field_head[f]; i != PAT_NONE; i = cs->fv_next[i])
		if (consistent_all(w->sc, cs->fv_node[i], M, nm))
			return false;
	return true;
}

/* simple: the branch has only value conditions, so a free value dominates every other choice */
static bool search(pat_walk *w, const pat_cs *cs, const pat_bcond *c, uint32_t nc, uint32_t k, uint32_t *M, uint32_t nm,
		   bool simple)
{
	pat_scratch *sc = w->sc;
	if (k == nc)
		return true;
	if (++sc->steps > STEP_BUDGET)
		return false;
	const pat_bcond *cd = &c[k];
	if (cd->kind != PAT_C_ABS && cs->pred_seen[cd->pred] == w->ep) {
		if (cs->pred_free[cd->pred] == w->ep) {
			if (search(w, cs, c, nc, k + 1, M, nm, simple))
				return true;
			if (simple || sc->steps > STEP_BUDGET)
				return false;
		}
		for (uint32_t i = cs->pred_head[cd->pred]; i != PAT_NONE; i = cs->pair_next[i]) {
			uint32_t x = cs->pair_node[i];
			if (!consistent_all(sc, x, M, nm))
				continue;
			M[nm] = x;
			if (search(w, cs, c, nc, k + 1, M, nm + 1, simple))
				return true;
			if (sc->steps > STEP_BUDGET)
				return false;
		}
	}
	if (cd->kind != PAT_C_POS && absent_ok(w, cs, cd->field, M, nm))
		return search(w, cs, c, nc, k + 1, M, nm, simple);
	return false;
}

static bool branch_matches(pat_walk *w, int k, uint32_t bi)
{
	const pat_core *core = w->c[k];
	const pat_cs *cs = w->cs[k];
	const pat_br *br = &core->br[bi];
	const pat_bcond *c = core->conds + br->cond_off;
	if (br->simple) {
		bool all_free = true;
		for (uint32_t i = 0; i < br->nc; i++)
			if (cs->pred_free[c[i].pred] != w->ep) {
				all_free = false;
				break;
			}
		if (all_free || br->nc == 1)
			return true;
	}
	uint32_t stackM[64];
	uint32_t *M = br->nc <= 64 ? stackM : malloc(br->nc * sizeof(uint32_t));
	if (!M) {
		w->sc->oom = true;
		return false;
	}
	bool r = search(w, cs, c, br->nc, 0, M, 0, br->simple);
	if (M != stackM)
		free(M);
	return r;
}

static inline bool dead(const pat_set *s, int k, uint32_t rule)
{
	return k == 0 && s->dead && (s->dead[rule >> 6] >> (rule & 63) & 1);
}

/* Appends core k's direct hits to ids (count in *total). */
static void collect_hits(pat_walk *w, const pat_set *s, int k, uint32_t *ids, size_t cap, size_t *total)
{
	const pat_core *core = w->c[k];
	const pat_cs *cs = w->cs[k];
	if (!s->dead && *total + cs->nhits <= cap) { /* no rule removed, room for all: straight copy */
		for (size_t i = 0; i < cs->nhits; i++)
			ids[*total + i] = core->rule_ids[cs->hits[i]];
		*total += cs->nhits;
		return;
	}
	for (size_t i = 0; i < cs->nhits; i++) {
		uint32_t rule = cs->hits[i];
		if (dead(s, k, rule))
			continue;
		if (*total < cap)
			ids[*total] = core->rule_ids[rule];
		(*total)++;
	}
}

/* Appends the rules core k matched to ids (count in *total). */
static void collect(pat_walk *w, const pat_set *s, int k, uint32_t *ids, size_t cap, size_t *total)
{
	const pat_core *core = w->c[k];
	pat_cs *cs = w->cs[k];
	if (!core->stamp_hits && (cs->ncand || core->nalways)) /* candidates must not repeat a direct hit */
		for (size_t i = 0; i < cs->nhits; i++)
			cs->rule_stamp[cs->hits[i]] = w->ep;
	if (cs->nhits <= 1 && cs->hits_cap && !s->dead && *total < cap && ids && core->nrules) {
		/* one direct hit or none (a large set's usual event, often a coin toss which): stored
		 * and counted without a branch on which; hits[0] is a rule of another set or event when
		 * there is none, so it is masked to rule 0; its id was read with the probe when
		 * pat_walk_deferred recorded it (hit0_ep) */
		uint32_t rule = cs->hits[0] & (0u - (uint32_t)cs->nhits);
		ids[*total] = cs->hit0_ep == w->ep ? cs->hit0_id : core->rule_ids[rule];
		*total += cs->nhits;
	} else {
		collect_hits(w, s, k, ids, cap, total);
	}
	if (!cs->ncand && !core->nalways)
		return;
	for (int pass = 0; pass < 2; pass++) {
		const uint32_t *list = pass ? core->always : cs->cand;
		size_t cnt = pass ? core->nalways : cs->ncand;
		for (size_t i = 0; i < cnt; i++) {
			uint32_t bi = list[i];
			uint32_t rule = core->br[bi].rule;
			if (cs->rule_stamp[rule] == w->ep || dead(s, k, rule))
				continue;
			if (!branch_matches(w, k, bi))
				continue;
			cs->rule_stamp[rule] = w->ep;
			if (*total < cap)
				ids[*total] = core->rule_ids[rule];
			(*total)++;
		}
	}
}

/* The set-wide early-stop pause (pat_scratch.stop_misses): whether this event's walk may test, and
 * the count of events in a row that did not stop. A scratch serves many buses' sets (PutEvents pools
 * them): another set starts the count afresh. */
static void stop_begin(pat_scratch *sc, const pat_set *s, pat_walk *w)
{
	if (sc->stop_core != s->base) {
		sc->stop_core = s->base;
		sc->stop_misses = 0;
		sc->stop_off_until = 0;
	}
	w->stop_live = w->ep >= sc->stop_off_until;
}

static void stop_end(pat_scratch *sc, const pat_walk *w)
{
	if (w->stopped) {
		sc->stop_misses = 0;
	} else if (w->stop_live && ++sc->stop_misses >= PAT_STOP_MISSES) {
		sc->stop_off_until = w->ep + PAT_STOP_PAUSE;
		sc->stop_misses = 0;
	}
}

/* The first half of a match: the walk of event over s into lane sc (its scratch) and w. BB_OK leaves
 * the deferred probes and the combination to finish(); other results end the event here. */
static bb_err walk(const pat_set *s, pat_scratch *sc, const char *event, size_t len, pat_walk *w)
{
	if (!scratch_fit(sc, s))
		return BB_ENOMEM;
	/* the walk relies on the event being one object: '{' first and '}' last, whitespace aside */
	const char *p = event, *e = event + len;
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
		e--;
	if (e - p < 2 || *p != '{' || e[-1] != '}')
		return BB_EINVAL;
	/* field by field: the cursor (most of the struct) is set up by the walk itself */
	w->c[0] = s->base;
	w->c[1] = s->delta;
	w->cs[0] = &sc->cs[0];
	w->cs[1] = &sc->cs[1];
	w->sc = sc;
	w->start = event;
	w->end = e;
	w->bad = w->stopped = w->stop_live = false;
	w->stop_next = NULL;
	w->stop_scan = NULL;
	w->xmask = 0;
	w->ep = ++sc->epoch;
	sc->ndefer = 0;
	if (s->base->nodes[0].nchild || (s->delta && s->delta->nodes[0].nchild)) {
		stop_begin(sc, s, w);
		const char *q = pat_walk_event(w, p);
		stop_end(sc, w);
		if (w->stopped) /* nothing after the stop could change the result */
			q = e;
		if (sc->oom)
			return BB_ENOMEM;
		if (q != e)
			return BB_EINVAL;
	}
	return BB_OK;
}

/* The second half: the deferred probes (their slots were prefetched during the walk), then the rules
 * of each core. */
static bb_err finish(const pat_set *s, pat_walk *w, uint32_t *ids, size_t cap, size_t *n)
{
	pat_walk_deferred(w);
	size_t total = 0;
	for (int k = 0; k < (s->delta ? 2 : 1); k++)
		collect(w, s, k, ids, cap, &total);
	if (w->sc->oom)
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
	pat_walk w;
	bb_err e = walk(s, sc, event, len, &w);
	if (e == BB_OK)
		e = finish(s, &w, ids, cap, n);
	if (e)
		*n = 0;
	return e;
}

void pat_match_batch(const pat_set *s, pat_scratch *sc, pat_batch_item *items, size_t count)
{
	if (!items)
		return;
	for (size_t i = 0; i < count; i++) {
		items[i].n = 0;
		items[i].err = BB_EINVAL;
	}
	if (!s || !sc)
		return;
	if (!sc->twin && count > 1 && !(sc->twin = pat_scratch_new())) {
		for (size_t i = 0; i < count; i++)
			items[i].err = pat_match(s, sc, items[i].event, items[i].len, items[i].ids, items[i].cap, &items[i].n);
		return;
	}
	/* two lanes: event i walks in lane i % 2 while lane (i - 1) % 2 still holds event i - 1's walk,
	 * whose deferred probes (prefetched) and combination run only after event i's walk */
	pat_scratch *lane[2] = {sc, sc->twin};
	pat_walk w[2];
	bool pending[2] = {false, false};
	for (size_t i = 0; i <= count; i++) {
		int l = (int)(i & 1);
		if (i < count) {
			pat_batch_item *it = &items[i];
			it->err = it->event ? walk(s, lane[l], it->event, it->len, &w[l]) : BB_EINVAL;
			pending[l] = it->err == BB_OK;
		}
		if (i > 0 && pending[l ^ 1]) {
			pat_batch_item *prev = &items[i - 1];
			prev->err = finish(s, &w[l ^ 1], prev->ids, prev->cap, &prev->n);
			if (prev->err)
				prev->n = 0;
			pending[l ^ 1] = false;
		}
	}
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
