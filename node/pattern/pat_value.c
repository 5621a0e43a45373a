/* node/pattern/pat_value.c — the meaning of one matcher on one event leaf value (event-ruler's
 * ByteMachine semantics, restated on decoded values instead of quoted byte strings):
 *  - string matchers (exact, prefix, suffix, wildcard, equals-ignore-case and their variants) see only
 *    strings; ER matches '"'+pattern against '"'+value+'"', so a prefix ending in '"' (or a suffix
 *    starting with one) can meet the value's closing (opening) quote — kept for exactness;
 *  - numbers match numeric matchers only when both are "comparable" (pat_num.c), by value; other
 *    numbers match only a pattern number with identical text;
 *  - anything-but matches every value that its list does not exclude, including other types;
 *  - cidr (and exact strings that are IP literals) match string values that parse as an IP of the
 *    same family inside the range; exists matches any leaf.
 */
#include <string.h>

#include "pat_int.h"

static bool num(pat_value *v)
{
	if (v->t != PV_NUM)
		return false;
	if (v->numstate == 0)
		v->numstate = (v->parts ? pat_num_comparable_parts(&v->nparts, v->s, v->n, &v->d)
					: pat_num_comparable(v->s, v->n, &v->d))
				      ? 1
				      : -1;
	return v->numstate > 0;
}

static int ip(pat_value *v)
{
	if (v->t != PV_STR)
		return 0;
	if (v->ipstate == 0) {
		int f = pat_ip_parse(v->s, v->n, v->ip);
		v->ipstate = f ? f : -1;
	}
	return v->ipstate > 0 ? v->ipstate : 0;
}

static bool in_range(const pat_matcher *m, double d)
{
	if (m->open_lo ? !(d > m->lo) : !(d >= m->lo))
		return false;
	if (m->open_hi ? !(d < m->hi) : !(d <= m->hi))
		return false;
	return true;
}

bool pat_value_match(const pat_matcher *m, pat_value *v)
{
	bool str = v->t == PV_STR;
	switch (m->kind) {
	case PM_EXACT_STR:
		return str && v->n == m->s.n && memcmp(v->s, m->s.p, v->n) == 0;
	case PM_EXACT_NUM:
		return num(v) && v->d == m->lo;
	case PM_EXACT_NUMTEXT:
		return v->t == PV_NUM && v->n == m->s.n && memcmp(v->s, m->s.p, v->n) == 0;
	case PM_NULL: return v->t == PV_NULL;
	case PM_TRUE: return v->t == PV_TRUE;
	case PM_FALSE: return v->t == PV_FALSE;
	case PM_PREFIX: return str && pat_prefix_match(m->s.p, m->s.n, v->s, v->n, false);
	case PM_PREFIX_IC: return str && pat_prefix_match(m->s.p, m->s.n, v->s, v->n, true);
	case PM_SUFFIX: return str && pat_suffix_match(m->s.p, m->s.n, v->s, v->n, false);
	case PM_SUFFIX_IC: return str && pat_suffix_match(m->s.p, m->s.n, v->s, v->n, true);
	case PM_EIC: return str && pat_eic_equal(m->s.p, m->s.n, v->s, v->n);
	case PM_WILDCARD: return str && pat_wildcard_match(m->s.p, m->s.n, v->s, v->n);
	case PM_RANGE: return num(v) && in_range(m, v->d);
	case PM_CIDR: {
		int f = ip(v);
		if (!f || f != m->fam)
			return false;
		return memcmp(v->ip, m->ip_lo, (size_t)f) >= 0 && memcmp(v->ip, m->ip_hi, (size_t)f) <= 0;
	}
	case PM_EXISTS: return true;
	case PM_ABSENT: return false;
	case PM_AB_STR:
		if (!str)
			return true;
		for (uint32_t i = 0; i < m->nvals; i++)
			if (m->vals[i].n == v->n && memcmp(m->vals[i].p, v->s, v->n) == 0)
				return false;
		return true;
	case PM_AB_NUM:
		if (!num(v))
			return true;
		for (uint32_t i = 0; i < m->nvals; i++)
			if (m->nums[i] == v->d)
				return false;
		return true;
	case PM_AB_PREFIX:
	case PM_AB_SUFFIX:
	case PM_AB_EIC:
	case PM_AB_WILDCARD:
		if (!str)
			return true;
		for (uint32_t i = 0; i < m->nvals; i++) {
			const pat_str *p = &m->vals[i];
			bool hit = m->kind == PM_AB_PREFIX   ? pat_prefix_match(p->p, p->n, v->s, v->n, false)
				   : m->kind == PM_AB_SUFFIX ? pat_suffix_match(p->p, p->n, v->s, v->n, false)
				   : m->kind == PM_AB_EIC    ? pat_eic_equal(p->p, p->n, v->s, v->n)
							     : pat_wildcard_match(p->p, p->n, v->s, v->n);
			if (hit)
				return false;
		}
		return true;
	default:
		return false;
	}
}
