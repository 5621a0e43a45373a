/* node/pattern/pat_compile.c — pattern validator and compiler (pat_compile).
 *
 * A line-by-line port of the *behaviour* of event-ruler's JsonRuleCompiler (what AWS runs), written
 * against the Jackson-compatible tokenizer of pat_json.c so that the first error found and its text are
 * the same. The result is a list of branches ($or expanded: each "$or" multiplies the branches built so
 * far by its objects), each a map flattened-path → matchers where a later duplicate key replaces the
 * earlier one (Jackson hands duplicates through; ER's HashMap.put keeps the last).
 *
 * Machine.addRule falls back to the legacy RuleCompiler (no "$or" primitive, older anything-but
 * grammar) when JsonRuleCompiler throws; we do the same when the first error is one of the "$or"
 * structure errors (then "$or" was meant as a plain field name) and report the legacy result. For all
 * other errors the JsonRuleCompiler text is reported, as AWS does.
 * Limits (pat_limits): nesting depth, $or combinations (branches) and wildcard complexity per field.
 * The value matchers and operator objects are in pat_compile_ops.c.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pat_compile_int.h"

#define MSG_OR_ARRAY "It must be an Array followed with $or."
#define MSG_OR_OBJ "Only JSON object is allowed in array of $or relationship."
#define MSG_OR_TWO "There must have at least 2 Objects in $or relationship."
#define MSG_OR_RESERVED " is Ruler reserved fieldName which cannot be used inside $or."
#define MSG_TOO_COMPLEX                                                                                              \
	"Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a "    \
	"wildcard character"

/* Zeroes every member but the tokenizer, which pj_init initialises (its context stack is 26 KB that a
 * pattern only uses up to its depth, so it is not cleared). */
static void cc_zero(cc *c)
{
	size_t j0 = offsetof(cc, j), j1 = j0 + sizeof(c->j);
	memset(c, 0, j0);
	memset((char *)c + j1, 0, sizeof(*c) - j1);
	memset(&c->j, 0, offsetof(pj, ctx));
}

/* ---- containers -------------------------------------------------------------------------------- */

static void cbr_free(cbr *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		free(b->e[i].path);
		for (uint32_t k = 0; k < b->e[i].nm; k++)
			pat_matcher_free(&b->e[i].m[k]);
		free(b->e[i].m);
	}
	free(b->e);
	memset(b, 0, sizeof(*b));
}

static void cbrs_free(cbrs *r)
{
	for (uint32_t i = 0; i < r->n; i++)
		cbr_free(&r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void mlist_clear(mlist *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		pat_matcher_free(&l->m[i]);
	l->n = 0;
}

static void cbrs_push(cc *c, cbrs *r, cbr *b)
{
	if (r->n == r->cap) {
		uint32_t nc = r->cap ? r->cap * 2 : 4;
		cbr *v = realloc(r->v, nc * sizeof(cbr));
		if (!v) {
			cbr_free(b);
			pj_oom(&c->j);
		}
		r->v = v;
		r->cap = nc;
	}
	r->v[r->n++] = *b;
}

static void copy_matchers(cc *c, pat_matcher **out, const pat_matcher *src, uint32_t n)
{
	pat_matcher *m = calloc(n ? n : 1, sizeof(pat_matcher));
	if (!m)
		pj_oom(&c->j);
	for (uint32_t i = 0; i < n; i++) {
		if (pat_matcher_copy(&m[i], &src[i])) {
			for (uint32_t k = 0; k < i; k++)
				pat_matcher_free(&m[k]);
			free(m);
			pj_oom(&c->j);
		}
	}
	*out = m;
}

static void cbr_copy(cc *c, cbr *dst, const cbr *src)
{
	memset(dst, 0, sizeof(*dst));
	if (!src->n)
		return;
	dst->e = calloc(src->n, sizeof(cent));
	if (!dst->e)
		pj_oom(&c->j);
	dst->cap = src->n;
	for (uint32_t i = 0; i < src->n; i++) {
		cent *d = &dst->e[i];
		d->path = malloc(src->e[i].plen + 1);
		if (!d->path) {
			cbr_free(dst);
			pj_oom(&c->j);
		}
		memcpy(d->path, src->e[i].path, src->e[i].plen + 1);
		d->plen = src->e[i].plen;
		dst->n = i + 1;
		copy_matchers(c, &d->m, src->e[i].m, src->e[i].nm);
		d->nm = src->e[i].nm;
	}
}

static void cbrs_copy(cc *c, cbrs *dst, const cbrs *src)
{
	memset(dst, 0, sizeof(*dst));
	for (uint32_t i = 0; i < src->n; i++) {
		cbr b;
		cbr_copy(c, &b, &src->v[i]);
		cbrs_push(c, dst, &b);
	}
}

/* rule.put(name, values) */
static void cbr_put(cc *c, cbr *b, const char *path, size_t plen, const mlist *vals)
{
	cent *e = NULL;
	for (uint32_t i = 0; i < b->n; i++)
		if (b->e[i].plen == plen && memcmp(b->e[i].path, path, plen) == 0)
			e = &b->e[i];
	pat_matcher *m;
	copy_matchers(c, &m, vals->m, vals->n);
	if (e) {
		for (uint32_t k = 0; k < e->nm; k++)
			pat_matcher_free(&e->m[k]);
		free(e->m);
		e->m = m;
		e->nm = vals->n;
		return;
	}
	if (b->n == b->cap) {
		uint32_t nc = b->cap ? b->cap * 2 : 4;
		cent *v = realloc(b->e, nc * sizeof(cent));
		if (!v)
			goto oom;
		b->e = v;
		b->cap = nc;
	}
	e = &b->e[b->n];
	e->path = malloc(plen + 1);
	if (!e->path)
		goto oom;
	memcpy(e->path, path, plen);
	e->path[plen] = 0;
	e->plen = plen;
	e->m = m;
	e->nm = vals->n;
	b->n++;
	return;
oom:
	for (uint32_t k = 0; k < vals->n; k++)
		pat_matcher_free(&m[k]);
	free(m);
	pj_oom(&c->j);
}

static void vals_push(cc *c, pat_matcher *m)
{
	if (c->vals.n == c->vals.cap) {
		uint32_t nc = c->vals.cap ? c->vals.cap * 2 : 4;
		pat_matcher *v = realloc(c->vals.m, nc * sizeof(pat_matcher));
		if (!v) {
			pat_matcher_free(m);
			pj_oom(&c->j);
		}
		c->vals.m = v;
		c->vals.cap = nc;
	}
	c->vals.m[c->vals.n++] = *m;
	memset(m, 0, sizeof(*m));
}

char *pat_cc_dup_text(cc *c, const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		pj_oom(&c->j);
	if (n)
		memcpy(d, s, n);
	d[n] = 0;
	return d;
}


/* writeRules: current token START_ARRAY, name = full path */
static void write_rules(cc *c, cbrs *rules, const char *name, size_t nlen)
{
	pj *j = &c->j;
	pj_tok t;
	mlist_clear(&c->vals);
	while ((t = pj_next(j)) != PJ_END_ARRAY) {
		const char *s;
		size_t n;
		pat_matcher *m = &c->tmp;
		memset(m, 0, sizeof(*m));
		switch (t) {
		case PJ_START_OBJECT:
			pat_cc_match_expr(c);
			break;
		case PJ_STRING: {
			pj_text(j, &s, &n);
			uint8_t a[16] = {0};
			int fam = pat_cc_is_ip_regex(s, n) ? pat_ip_parse(s, n, a) : 0;
			if (fam) {
				m->kind = PM_CIDR;
				m->fam = (uint8_t)fam;
				memcpy(m->ip_lo, a, 16);
				memcpy(m->ip_hi, a, 16);
			} else {
				pat_cc_set_str(c, m, PM_EXACT_STR);
			}
			break;
		}
		case PJ_INT:
		case PJ_FLOAT: {
			pj_text(j, &s, &n);
			double d;
			if (pat_num_comparable(s, n, &d)) {
				m->kind = PM_EXACT_NUM;
				m->lo = d;
			} else {
				pat_cc_set_str(c, m, PM_EXACT_NUMTEXT);
			}
			break;
		}
		case PJ_NULL: m->kind = PM_NULL; break;
		case PJ_TRUE: m->kind = PM_TRUE; break;
		case PJ_FALSE: m->kind = PM_FALSE; break;
		default: pj_fail(j, "Match value must be String, number, true, false, or null");
		}
		vals_push(c, m);
	}
	if (c->vals.n == 0)
		pj_fail(j, "Empty arrays are not allowed");
	if (rules->n == 0) {
		cbr b = {0};
		cbrs_push(c, rules, &b);
	}
	for (uint32_t i = 0; i < rules->n; i++)
		cbr_put(c, &rules->v[i], name, nlen, &c->vals);
	mlist_clear(&c->vals);
}

static const char *const reserved[] = {"exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
				       "wildcard", "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
				       "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
				       "date-on-or-before", "in-date-range", "ip-address-in-range",
				       "ip-address-not-in-range"};

static void parse_object(cc *c, cbrs *rules, bool in_or);

/* parseIntoOrRelationship; current token FIELD_NAME "$or" */
static void parse_or(cc *c, cbrs *rules)
{
	pj *j = &c->j;
	if (c->nstack >= 64)
		pj_fail(j, "Pattern nesting depth exceeds the maximum allowed (%u)", j->max_depth);
	cbrs *cur = &c->stack[c->nstack++];
	*cur = *rules; /* move: currentRules = copy(rules); rules.clear() */
	memset(rules, 0, sizeof(*rules));
	if (pj_next(j) != PJ_START_ARRAY)
		pj_fail(j, MSG_OR_ARRAY);
	int loop = 0;
	pj_tok t;
	while ((t = pj_next(j)) != PJ_END_ARRAY) {
		loop++;
		if (t != PJ_START_OBJECT)
			pj_fail(j, MSG_OR_OBJ);
		if (c->nstack >= 64)
			pj_fail(j, "Pattern nesting depth exceeds the maximum allowed (%u)", j->max_depth);
		cbrs *nr = &c->stack[c->nstack++];
		cbrs_copy(c, nr, cur);
		if (nr->n == 0) {
			cbr b = {0};
			cbrs_push(c, nr, &b);
		}
		parse_object(c, nr, true);
		for (uint32_t i = 0; i < nr->n; i++) {
			cbrs_push(c, rules, &nr->v[i]);
			memset(&nr->v[i], 0, sizeof(cbr));
		}
		nr->n = 0;
		cbrs_free(nr);
		c->nstack--;
		if (rules->n > c->max_or)
			pj_fail(j, "Event pattern is too complex: the combinations of $or exceed the limit of %u", c->max_or);
	}
	if (loop < 2)
		pj_fail(j, MSG_OR_TWO);
	cbrs_free(cur);
	c->nstack--;
}

static void parse_object(cc *c, cbrs *rules, bool in_or)
{
	pj *j = &c->j;
	bool fields = false;
	pj_tok t;
	while ((t = pj_next(j)) != PJ_END_OBJECT) {
		fields = true;
		const char *s;
		size_t n;
		pj_text(j, &s, &n);
		if (!c->legacy && n == 3 && !memcmp(s, "$or", 3)) {
			parse_or(c, rules);
			continue;
		}
		if (in_or && !c->legacy) {
			for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
				if (strlen(reserved[k]) == n && !memcmp(reserved[k], s, n))
					pj_fail(j, "%s" MSG_OR_RESERVED, reserved[k]);
		}
		size_t save = c->path.len;
		if (save && pat_buf_putc(&c->path, '.'))
			pj_oom(j);
		if (pat_buf_put(&c->path, s, n))
			pj_oom(j);
		switch (pj_next(j)) {
		case PJ_START_OBJECT:
			parse_object(c, rules, in_or);
			break;
		case PJ_START_ARRAY:
			write_rules(c, rules, c->path.p, c->path.len);
			break;
		default: /* the step is the path's last n bytes (pj_next leaves the path alone) */
			pj_fail(j, "\"%.*s\" must be an object or an array", (int)n, n ? c->path.p + c->path.len - n : "");
		}
		c->path.len = save;
		if (c->path.p)
			c->path.p[save] = 0;
	}
	if (!fields)
		pj_fail(j, "Empty objects are not allowed");
}

static int cent_cmp(const void *a, const void *b)
{
	const cent *x = a, *y = b;
	size_t n = x->plen < y->plen ? x->plen : y->plen;
	int r = memcmp(x->path, y->path, n);
	if (r)
		return r;
	return x->plen < y->plen ? -1 : x->plen > y->plen;
}

/* Runs one compiler mode. Returns BB_OK with c->rules filled, or an error with c->j.err. */
static bb_err run(cc *c, const char *json, size_t len, unsigned depth)
{
	jmp_buf jb;
	pj_init(&c->j, json, len, depth, &jb);
	if (setjmp(jb)) {
		/* free temporaries */
		mlist_clear(&c->vals);
		pat_matcher_free(&c->tmp);
		for (int i = 0; i < c->nstack; i++)
			cbrs_free(&c->stack[i]);
		c->nstack = 0;
		cbrs_free(&c->rules);
		return c->j.fail_code;
	}
	if (pj_next(&c->j) != PJ_START_OBJECT)
		pj_fail(&c->j, "Filter is not an object");
	parse_object(c, &c->rules, false);
	return BB_OK;
}

static void cc_free(cc *c)
{
	mlist_clear(&c->vals);
	free(c->vals.m);
	c->vals.m = NULL;
	c->vals.cap = 0;
	pat_buf_free(&c->path);
	cbrs_free(&c->rules);
	pj_free(&c->j);
}

/* Whether the message e[0..n) (without its locations) is an $or structure error. */
static bool or_structural(const char *e, size_t n)
{
	size_t rn = strlen(MSG_OR_RESERVED);
#define IS(m) (n == strlen(m) && !memcmp(e, m, n))
	return IS(MSG_OR_ARRAY) || IS(MSG_OR_OBJ) || IS(MSG_OR_TWO) || (n > rn && !memcmp(e + n - rn, MSG_OR_RESERVED, rn));
#undef IS
}

/* Builds the pat_rule from the compiled branches (conditions sorted by path). */
static bb_err to_rule(cc *c, pat_rule **out)
{
	pat_rule *r = calloc(1, sizeof(*r));
	if (!r)
		return BB_ENOMEM;
	r->nb = c->rules.n;
	r->b = calloc(r->nb ? r->nb : 1, sizeof(pat_branch));
	if (!r->b) {
		free(r);
		return BB_ENOMEM;
	}
	size_t bytes = sizeof(*r) + r->nb * sizeof(pat_branch);
	for (uint32_t i = 0; i < c->rules.n; i++) {
		cbr *b = &c->rules.v[i];
		qsort(b->e, b->n, sizeof(cent), cent_cmp);
		pat_branch *pb = &r->b[i];
		pb->c = calloc(b->n ? b->n : 1, sizeof(pat_cond));
		if (!pb->c) {
			pat_rule_free(r);
			return BB_ENOMEM;
		}
		pb->nc = b->n;
		for (uint32_t k = 0; k < b->n; k++) {
			pb->c[k].path.p = b->e[k].path;
			pb->c[k].path.n = (uint32_t)b->e[k].plen;
			pb->c[k].m = b->e[k].m;
			pb->c[k].nm = b->e[k].nm;
			bytes += sizeof(pat_cond) + b->e[k].plen + b->e[k].nm * sizeof(pat_matcher);
			b->e[k].path = NULL;
			b->e[k].m = NULL;
			b->e[k].nm = 0;
		}
	}
	r->bytes = bytes;
	*out = r;
	return BB_OK;
}

/* Wildcard complexity per path (all wildcard strings of that path across branches). */
static bool too_complex(const pat_rule *r, unsigned limit)
{
	for (uint32_t i = 0; i < r->nb; i++) {
		for (uint32_t k = 0; k < r->b[i].nc; k++) {
			const pat_cond *pc = &r->b[i].c[k];
			/* gather all wildcard strings of this path */
			pat_str *w = NULL;
			size_t nw = 0, cap = 0;
			bool any = false;
			for (uint32_t bi = 0; bi < r->nb; bi++) {
				for (uint32_t ck = 0; ck < r->b[bi].nc; ck++) {
					const pat_cond *q = &r->b[bi].c[ck];
					if (q->path.n != pc->path.n || memcmp(q->path.p, pc->path.p, q->path.n))
						continue;
					if (bi < i || (bi == i && ck < k))
						goto next_cond; /* already evaluated for this path */
					for (uint32_t mk = 0; mk < q->nm; mk++) {
						const pat_matcher *m = &q->m[mk];
						size_t add = m->kind == PM_WILDCARD ? 1 : m->kind == PM_AB_WILDCARD ? m->nvals : 0;
						for (size_t a = 0; a < add; a++) {
							const pat_str *sv = m->kind == PM_WILDCARD ? &m->s : &m->vals[a];
							bool dup = false;
							for (size_t d = 0; d < nw; d++)
								if (w[d].n == sv->n && !memcmp(w[d].p, sv->p, sv->n))
									dup = true;
							if (dup)
								continue;
							if (nw == cap) {
								cap = cap ? cap * 2 : 4;
								pat_str *nwp = realloc(w, cap * sizeof(pat_str));
								if (!nwp) {
									free(w);
									return true;
								}
								w = nwp;
							}
							w[nw++] = *sv;
							any = true;
						}
					}
				}
			}
			if (any && pat_wildcard_complexity(w, nw, limit) >= limit) {
				free(w);
				return true;
			}
		next_cond:
			free(w);
		}
	}
	return false;
}

bb_err pat_compile(const char *json, size_t len, const pat_limits *limits, pat_rule **out, char *reason, size_t cap)
{
	pat_limits lim = {0};
	if (limits)
		lim = *limits;
	unsigned max_or = lim.max_or_combinations ? lim.max_or_combinations : 1000;
	unsigned wlimit = lim.max_wildcard_complexity ? lim.max_wildcard_complexity : 10;
	unsigned depth = lim.max_depth ? lim.max_depth : 64;
	if (out)
		*out = NULL;
	if (reason && cap)
		reason[0] = 0;
	if (!json || !out)
		return BB_EINVAL;
	if (lim.max_pattern_bytes && len > lim.max_pattern_bytes) {
		if (reason && cap)
			snprintf(reason, cap, "Event pattern is longer than the maximum of %zu characters",
				 lim.max_pattern_bytes);
		return BB_EPATTERN;
	}
	cc *c = malloc(sizeof(*c)); /* pj_init (in run) sets up c->j */
	if (!c)
		return BB_ENOMEM;
	cc_zero(c);
	c->max_or = max_or;
	bb_err e = run(c, json, len, depth);
	if (e == BB_EPATTERN && or_structural(c->j.err, c->j.err_base)) {
		cc_free(c);
		cc_zero(c);
		c->max_or = max_or;
		c->legacy = true;
		e = run(c, json, len, depth);
	}
	if (e) {
		if (reason && cap)
			snprintf(reason, cap, "%s", c->j.err);
		cc_free(c);
		free(c);
		return e;
	}
	pat_rule *r = NULL;
	e = to_rule(c, &r);
	cc_free(c);
	free(c);
	if (e)
		return e;
	if (too_complex(r, wlimit)) {
		pat_rule_free(r);
		if (reason && cap)
			snprintf(reason, cap, "%s", MSG_TOO_COMPLEX);
		return BB_EPATTERN;
	}
	*out = r;
	return BB_OK;
}
