/* node/pattern/pat_rule.c — ownership helpers for compiled rules: deep copy, free, equality and hash
 * of matchers (the set builder deduplicates identical matchers across rules with these).
 */
#include <stdlib.h>
#include <string.h>

#include "pat_int.h"

void pat_matcher_free(pat_matcher *m)
{
	free(m->s.p);
	if (m->vals)
		for (uint32_t i = 0; i < m->nvals; i++)
			free(m->vals[i].p);
	free(m->vals);
	free(m->nums);
	memset(m, 0, sizeof(*m));
}

static char *dupn(const char *p, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		if (n)
			memcpy(d, p, n);
		d[n] = 0;
	}
	return d;
}

bb_err pat_matcher_copy(pat_matcher *dst, const pat_matcher *src)
{
	*dst = *src;
	dst->s.p = NULL;
	dst->vals = NULL;
	dst->nums = NULL;
	if (src->s.p && !(dst->s.p = dupn(src->s.p, src->s.n)))
		goto fail;
	if (src->vals) {
		dst->vals = calloc(src->nvals ? src->nvals : 1, sizeof(pat_str));
		if (!dst->vals)
			goto fail;
		for (uint32_t i = 0; i < src->nvals; i++) {
			dst->vals[i].n = src->vals[i].n;
			if (!(dst->vals[i].p = dupn(src->vals[i].p, src->vals[i].n)))
				goto fail;
		}
	}
	if (src->nums) {
		dst->nums = malloc((src->nvals ? src->nvals : 1) * sizeof(double));
		if (!dst->nums)
			goto fail;
		memcpy(dst->nums, src->nums, src->nvals * sizeof(double));
	}
	return BB_OK;
fail:
	pat_matcher_free(dst);
	return BB_ENOMEM;
}

bool pat_matcher_equal(const pat_matcher *a, const pat_matcher *b)
{
	if (a->kind != b->kind || a->nvals != b->nvals)
		return false;
	switch (a->kind) {
	case PM_RANGE:
		return a->lo == b->lo && a->hi == b->hi && a->open_lo == b->open_lo && a->open_hi == b->open_hi;
	case PM_EXACT_NUM:
		return a->lo == b->lo;
	case PM_CIDR:
		return a->fam == b->fam && !memcmp(a->ip_lo, b->ip_lo, 16) && !memcmp(a->ip_hi, b->ip_hi, 16);
	case PM_AB_NUM:
		return !memcmp(a->nums, b->nums, a->nvals * sizeof(double));
	default:
		break;
	}
	if (a->s.n != b->s.n || (a->s.n && memcmp(a->s.p, b->s.p, a->s.n)))
		return false;
	for (uint32_t i = 0; i < a->nvals && a->vals; i++)
		if (a->vals[i].n != b->vals[i].n || memcmp(a->vals[i].p, b->vals[i].p, a->vals[i].n))
			return false;
	return true;
}

uint64_t pat_matcher_hash(const pat_matcher *m)
{
	uint64_t h = pat_hash(&m->kind, sizeof(m->kind), 1);
	switch (m->kind) {
	case PM_RANGE:
		h ^= pat_hash(&m->lo, 8, h) ^ pat_hash(&m->hi, 8, h + 1) ^ (uint64_t)m->open_lo * 3 ^ (uint64_t)m->open_hi * 5;
		return h;
	case PM_EXACT_NUM:
		return h ^ pat_hash(&m->lo, 8, h);
	case PM_CIDR:
		return h ^ pat_hash(m->ip_lo, 16, h) ^ pat_hash(m->ip_hi, 16, h + 1);
	case PM_AB_NUM:
		return h ^ pat_hash(m->nums, m->nvals * 8, h);
	default:
		break;
	}
	if (m->s.p)
		h ^= pat_hash(m->s.p, m->s.n, h);
	for (uint32_t i = 0; i < m->nvals && m->vals; i++)
		h = pat_hash(m->vals[i].p, m->vals[i].n, h + i);
	return h;
}

void pat_branch_free(pat_branch *b)
{
	for (uint32_t i = 0; i < b->nc; i++) {
		free(b->c[i].path.p);
		for (uint32_t k = 0; k < b->c[i].nm; k++)
			pat_matcher_free(&b->c[i].m[k]);
		free(b->c[i].m);
	}
	free(b->c);
	b->c = NULL;
	b->nc = 0;
}

void pat_rule_free(pat_rule *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->nb; i++)
		pat_branch_free(&r->b[i]);
	free(r->b);
	free(r);
}

pat_rule *pat_rule_clone(const pat_rule *r)
{
	pat_rule *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->b = calloc(r->nb ? r->nb : 1, sizeof(pat_branch));
	if (!o->b)
		goto fail;
	o->bytes = r->bytes;
	for (uint32_t i = 0; i < r->nb; i++) {
		const pat_branch *sb = &r->b[i];
		pat_branch *db = &o->b[i];
		o->nb = i + 1;
		db->c = calloc(sb->nc ? sb->nc : 1, sizeof(pat_cond));
		if (!db->c)
			goto fail;
		for (uint32_t k = 0; k < sb->nc; k++) {
			db->nc = k + 1;
			pat_cond *dc = &db->c[k];
			const pat_cond *sc = &sb->c[k];
			dc->path.n = sc->path.n;
			if (!(dc->path.p = dupn(sc->path.p, sc->path.n)))
				goto fail;
			dc->m = calloc(sc->nm ? sc->nm : 1, sizeof(pat_matcher));
			if (!dc->m)
				goto fail;
			for (uint32_t j = 0; j < sc->nm; j++) {
				if (pat_matcher_copy(&dc->m[j], &sc->m[j]))
					goto fail;
				dc->nm = j + 1;
			}
		}
	}
	return o;
fail:
	pat_rule_free(o);
	return NULL;
}
