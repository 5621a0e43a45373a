/* node/pattern/pat_compile_ops.c — the value side of the pattern compiler: numbers (comparable or
 * "Cannot compare number"), CIDR blocks, numeric expressions, anything-but in all its forms, the
 * equals-ignore-case affixes, and the operator object of a value array ({"prefix": ...}, {"exists":
 * ...}, ...), with event-ruler's JsonRuleCompiler texts for every mistake.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pat_compile_int.h"

/* ---- value helpers ------------------------------------------------------------------------------ */

static _Noreturn void cannot_compare(cc *c, const char *s, size_t n)
{
	pj_fail_iae(&c->j, "Cannot compare number : %.*s", (int)n, s);
}

static double num_value(cc *c, const char *s, size_t n)
{
	double d;
	if (!pat_num_comparable(s, n, &d))
		cannot_compare(c, s, n);
	return d;
}

bool pat_cc_is_ip_regex(const char *s, size_t n)
{
	/* [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ */
	size_t i = 0;
	int parts = 0;
	for (;;) {
		size_t st = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == st)
			break;
		parts++;
		if (parts == 4)
			return i == n;
		if (i >= n || s[i] != '.')
			break;
		i++;
	}
	/* [0-9a-fA-F:]*:[0-9a-fA-F:]* */
	bool colon = false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == ':')
			colon = true;
		else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return colon;
}

/* CIDR.cidr(text) */
static void make_cidr(cc *c, const char *s, size_t n, pat_matcher *m)
{
	/* Java String.split("/"): trailing empty strings removed */
	size_t parts[64][2];
	int np = 0;
	size_t st = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (np < 64) {
				parts[np][0] = st;
				parts[np][1] = i - st;
			}
			np++;
			st = i + 1;
		}
	}
	if (np > 64)
		np = 64;
	while (np > 1 && parts[np - 1][1] == 0)
		np--;
	if (n == 0)
		np = 1;
	if (np != 2)
		pj_fail_iae(&c->j, "Malformed CIDR, one '/' required");
	const char *ms = s + parts[1][0];
	size_t mn = parts[1][1];
	long bits = 0;
	size_t k = 0;
	bool neg = false;
	if (k < mn && (ms[k] == '-' || ms[k] == '+'))
		neg = ms[k++] == '-';
	if (k == mn)
		pj_fail_iae(&c->j, "Malformed CIDR, mask bits must be an integer");
	for (; k < mn; k++) {
		if (ms[k] < '0' || ms[k] > '9')
			pj_fail_iae(&c->j, "Malformed CIDR, mask bits must be an integer");
		bits = bits * 10 + (ms[k] - '0');
		if (bits > 2147483648L)
			pj_fail_iae(&c->j, "Malformed CIDR, mask bits must be an integer");
	}
	if (neg)
		bits = -bits;
	if (bits > 2147483647L)
		pj_fail_iae(&c->j, "Malformed CIDR, mask bits must be an integer");
	if (bits < 0)
		pj_fail_iae(&c->j, "Malformed CIDR, mask bits must not be negative");
	const char *ip = s + parts[0][0];
	size_t ipn = parts[0][1];
	uint8_t a[16] = {0};
	int fam = 0;
	if (pat_cc_is_ip_regex(ip, ipn)) {
		fam = pat_ip_parse(ip, ipn, a);
		if (!fam)
			pj_fail_iae(&c->j, "Invalid IP address: %.*s", (int)ipn, ip);
	} else {
		pj_fail_iae(&c->j, "Nonstandard IP address: %.*s", (int)ipn, ip);
	}
	if (fam == 4 && bits > 31)
		pj_fail_iae(&c->j, "IPv4 mask bits must be < 32");
	if (fam == 16 && bits > 127)
		pj_fail_iae(&c->j, "IPv6 mask bits must be < 128");
	memset(m, 0, sizeof(*m));
	m->kind = PM_CIDR;
	m->fam = (uint8_t)fam;
	int total = fam * 8;
	for (int i = 0; i < fam; i++) {
		int fixed = (int)bits - i * 8; /* fixed bits in this byte */
		uint8_t mask = fixed >= 8 ? 0xff : fixed <= 0 ? 0 : (uint8_t)(0xff << (8 - fixed));
		m->ip_lo[i] = a[i] & mask;
		m->ip_hi[i] = (uint8_t)(a[i] | (uint8_t)~mask);
	}
	(void)total;
}

static void expect_end_object(cc *c, const char *msg)
{
	if (pj_next(&c->j) != PJ_END_OBJECT)
		pj_fail(&c->j, "%s", msg);
}

#define ONE_KEY "Only one key allowed in match expression"
#define TOO_MANY "Too many elements in numeric expression"

void pat_cc_set_str(cc *c, pat_matcher *m, pat_mkind k)
{
	const char *s;
	size_t n;
	pj_text(&c->j, &s, &n);
	memset(m, 0, sizeof(*m));
	m->kind = k;
	m->s.p = pat_cc_dup_text(c, s, n);
	m->s.n = (uint32_t)n;
}

static void range(pat_matcher *m, double lo, bool olo, double hi, bool ohi)
{
	memset(m, 0, sizeof(*m));
	m->kind = PM_RANGE;
	m->lo = lo;
	m->hi = hi;
	m->open_lo = olo;
	m->open_hi = ohi;
}

/* processNumericMatchExpression inside its try: see numeric_expr. */
static void numeric_body(cc *c, pat_matcher *m)
{
	pj *j = &c->j;
	pj_tok t = pj_next(j);
	const char *s;
	size_t n;
	if (t != PJ_STRING) {
		pj_text(j, &s, &n);
		pj_fail(j, "Invalid member in numeric match: %.*s", (int)n, s);
	}
	pj_text(j, &s, &n);
	char op[4] = {0};
	bool known = n <= 2;
	if (known)
		memcpy(op, s, n);
	char opfull[PAT_REASON_MAX];
	snprintf(opfull, sizeof(opfull), "%.*s", (int)n, s);
	t = pj_next(j);
	if (known && !strcmp(op, "=")) {
		if (!pj_is_number(t))
			pj_fail(j, "Value of equals must be numeric");
		pj_text(j, &s, &n);
		/* a stack copy: pj_next()/pj_fail() below may longjmp out of here */
		char val[1100];
		snprintf(val, sizeof(val), "%.*s", (int)n, s);
		size_t vn = strlen(val);
		if (pj_next(j) != PJ_END_ARRAY)
			pj_fail(j, TOO_MANY);
		double d;
		if (n >= sizeof(val) || !pat_num_comparable(val, vn, &d))
			pj_fail_iae(j, "Cannot compare number : %s", val);
		memset(m, 0, sizeof(*m));
		m->kind = PM_EXACT_NUM;
		m->lo = d;
		return;
	}
	bool lower = known && (!strcmp(op, ">=") || !strcmp(op, ">"));
	bool upper = known && (!strcmp(op, "<=") || !strcmp(op, "<"));
	if (!lower && !upper)
		pj_fail(j, "Unrecognized numeric range operator: %s", opfull);
	if (!pj_is_number(t))
		pj_fail(j, "Value of %s must be numeric", op);
	pj_text(j, &s, &n);
	char vbuf[1100];
	snprintf(vbuf, sizeof(vbuf), "%.*s", (int)n, s);
	size_t vn = strlen(vbuf);
	if (upper) {
		if (pj_next(j) != PJ_END_ARRAY)
			pj_fail(j, TOO_MANY);
		double d = num_value(c, vbuf, vn);
		range(m, -DBL_MAX, false, d, op[1] != '=');
		return;
	}
	bool open_bottom = op[1] != '=';
	t = pj_next(j);
	if (t == PJ_END_ARRAY) {
		double d = num_value(c, vbuf, vn);
		range(m, d, open_bottom, DBL_MAX, false);
		return;
	}
	/* completeNumericRange */
	if (t != PJ_STRING) {
		pj_text(j, &s, &n);
		pj_fail(j, "Bad value in numeric range: %.*s", (int)n, s);
	}
	pj_text(j, &s, &n);
	bool open_top;
	if (n == 1 && s[0] == '<')
		open_top = true;
	else if (n == 2 && s[0] == '<' && s[1] == '=')
		open_top = false;
	else
		pj_fail(j, "Bad numeric range operator: %.*s", (int)n, s);
	char op2[3] = {'<', open_top ? 0 : '=', 0};
	if (!pj_is_number(pj_next(j)))
		pj_fail(j, "Value of %s must be numeric", op2);
	pj_text(j, &s, &n);
	char tbuf[1100];
	snprintf(tbuf, sizeof(tbuf), "%.*s", (int)n, s);
	if (pj_next(j) != PJ_END_ARRAY)
		pj_fail(j, "Too many terms in numeric range expression");
	double lo = num_value(c, vbuf, vn);
	double hi = num_value(c, tbuf, strlen(tbuf));
	if (!(lo < hi))
		pj_fail_iae(j, "Bottom must be less than top");
	range(m, lo, open_bottom, hi, open_top);
}

/* processNumericMatchExpression; the current token is START_ARRAY. Its IllegalArgumentExceptions
 * (numbers that cannot be compared, bottom not below top) are re-raised with a location. */
static void numeric_expr(cc *c, pat_matcher *m)
{
	c->j.catch_iae++;
	numeric_body(c, m);
	c->j.catch_iae--;
}

static void ab_push_str(cc *c, pat_matcher *m, const char *s, size_t n)
{
	for (uint32_t i = 0; i < m->nvals; i++) /* a Set in ER */
		if (m->vals[i].n == n && memcmp(m->vals[i].p, s, n) == 0)
			return;
	pat_str *v = realloc(m->vals, (m->nvals + 1) * sizeof(pat_str));
	if (!v)
		pj_oom(&c->j);
	m->vals = v;
	m->vals[m->nvals].p = pat_cc_dup_text(c, s, n);
	m->vals[m->nvals].n = (uint32_t)n;
	m->nvals++;
}

static void ab_push_num(cc *c, pat_matcher *m, double d)
{
	for (uint32_t i = 0; i < m->nvals; i++)
		if (m->nums[i] == d)
			return;
	double *v = realloc(m->nums, (m->nvals + 1) * sizeof(double));
	if (!v)
		pj_oom(&c->j);
	m->nums = v;
	m->nums[m->nvals++] = d;
}

/* anything-but; current token: FIELD_NAME "anything-but" */
static void anything_but(cc *c, pat_matcher *m)
{
	pj *j = &c->j;
	pat_mkind kind = PM_AB_STR;
	bool set = false;
	const char *s;
	size_t n;
	pj_tok t = pj_next(j);
	memset(m, 0, sizeof(*m));
	if (t == PJ_START_OBJECT) {
		if (pj_next(j) != PJ_FIELD_NAME)
			pj_fail(j, "Anything-But expression name not found");
		pj_text(j, &s, &n);
		char name[PAT_REASON_MAX];
		snprintf(name, sizeof(name), "%.*s", (int)n, s);
		if (!strcmp(name, "equals-ignore-case"))
			kind = PM_AB_EIC;
		else if (!strcmp(name, "prefix"))
			kind = PM_AB_PREFIX;
		else if (!strcmp(name, "suffix"))
			kind = PM_AB_SUFFIX;
		else if (!strcmp(name, "wildcard") && !c->legacy)
			kind = PM_AB_WILDCARD;
		else
			pj_fail(j, "Unsupported anything-but pattern: %s", name);
		set = true;
		if (c->legacy && kind != PM_AB_EIC) {
			/* RuleCompiler: a single non-empty string */
			if (pj_next(j) != PJ_STRING)
				pj_fail(j, "prefix/suffix match pattern must be a string");
			pj_text(j, &s, &n);
			if (n == 0)
				pj_fail(j, "Null prefix/suffix not allowed");
			expect_end_object(c, ONE_KEY);
			expect_end_object(c, ONE_KEY);
			m->kind = kind;
			ab_push_str(c, m, s, n);
			return;
		}
		t = pj_next(j);
	}
	if (t != PJ_START_ARRAY && t != PJ_STRING && !pj_is_number(t))
		pj_fail(j, "Value of anything-but must be an array or single string/number value.");
	m->kind = kind;
	const char *nsmsg = kind == PM_AB_EIC
				    ? (c->legacy ? "Inside anything-but/ignore-case list, number|start|null|boolean is not supported."
						 : "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.")
			    : kind == PM_AB_WILDCARD ? "wildcard match pattern must be a string"
						     : "prefix/suffix match pattern must be a string";
	if (t == PJ_START_ARRAY) {
		if (!set) {
			bool has_num = false, has_str = false;
			j->catch_io++; /* event-ruler re-raises every error of the list's loop */
			while ((t = pj_next(j)) != PJ_END_ARRAY) {
				if (t == PJ_STRING) {
					pj_text(j, &s, &n);
					if (has_num) {
						/* keep parsing; mixed types are reported at the end */
					} else {
						ab_push_str(c, m, s, n);
					}
					has_str = true;
				} else if (pj_is_number(t)) {
					pj_text(j, &s, &n);
					double d;
					if (!pat_num_comparable(s, n, &d))
						cannot_compare(c, s, n);
					if (!has_str)
						ab_push_num(c, m, d);
					has_num = true;
				} else {
					pj_fail(j, "Inside anything but list, start|null|boolean is not supported.");
				}
			}
			j->catch_io--;
			if (has_num == has_str)
				pj_fail(j, "Inside anything but list, either all values are number or string, mixed type is "
					   "not supported");
			if (has_num) {
				m->kind = PM_AB_NUM;
				for (uint32_t i = 0; i < m->nvals && m->vals; i++)
					free(m->vals[i].p);
				free(m->vals);
				m->vals = NULL;
			}
		} else {
			j->catch_io++;
			while ((t = pj_next(j)) != PJ_END_ARRAY) {
				if (t != PJ_STRING)
					pj_fail(j, "%s", nsmsg);
				pj_text(j, &s, &n);
				if ((kind == PM_AB_PREFIX || kind == PM_AB_SUFFIX) && n == 0)
					pj_fail(j, "Null prefix/suffix not allowed");
				ab_push_str(c, m, s, n);
			}
			j->catch_io--;
			if (kind == PM_AB_WILDCARD) {
				for (uint32_t i = 0; i < m->nvals; i++) {
					char r[PAT_REASON_MAX];
					if (!pat_wildcard_check(m->vals[i].p, m->vals[i].n, r, sizeof(r)))
						pj_fail(j, "%s", r);
				}
			}
		}
	} else {
		if (!set) {
			pj_text(j, &s, &n);
			if (t == PJ_STRING) {
				ab_push_str(c, m, s, n);
			} else {
				m->kind = PM_AB_NUM;
				ab_push_num(c, m, num_value(c, s, n));
			}
		} else {
			if (t != PJ_STRING)
				pj_fail(j, "%s", nsmsg);
			pj_text(j, &s, &n);
			if ((kind == PM_AB_PREFIX || kind == PM_AB_SUFFIX) && n == 0)
				pj_fail(j, "Null prefix/suffix not allowed");
			ab_push_str(c, m, s, n);
			if (kind == PM_AB_WILDCARD) {
				char r[PAT_REASON_MAX];
				if (!pat_wildcard_check(m->vals[0].p, m->vals[0].n, r, sizeof(r)))
					pj_fail(j, "%s", r);
			}
		}
	}
	expect_end_object(c, TOO_MANY);
	if (set)
		expect_end_object(c, TOO_MANY);
}

/* prefix/suffix { "equals-ignore-case": "x" } ; current token START_OBJECT */
static void affix_eic(cc *c, pat_matcher *m, bool prefix)
{
	pj *j = &c->j;
	const char *s;
	size_t n;
	if (pj_next(j) != PJ_FIELD_NAME)
		pj_fail(j, prefix ? "Prefix expression name not found" : "Suffix expression name not found");
	pj_text(j, &s, &n);
	if (!(n == 18 && !memcmp(s, "equals-ignore-case", 18)))
		pj_fail(j, "Unsupported %s pattern: %.*s", prefix ? "prefix" : "suffix", (int)n, s);
	if (pj_next(j) != PJ_STRING)
		pj_fail(j, "equals-ignore-case match pattern must be a string");
	pat_cc_set_str(c, m, prefix ? PM_PREFIX_IC : PM_SUFFIX_IC);
	expect_end_object(c, ONE_KEY);
	expect_end_object(c, ONE_KEY);
}

/* processMatchExpression; current token START_OBJECT inside a value array. Result in c->tmp. */
void pat_cc_match_expr(cc *c)
{
	pj *j = &c->j;
	pat_matcher *m = &c->tmp;
	const char *s;
	size_t n;
	if (pj_next(j) != PJ_FIELD_NAME)
		pj_fail(j, "Match expression name not found");
	pj_text(j, &s, &n);
	char name[PAT_REASON_MAX];
	snprintf(name, sizeof(name), "%.*s", (int)n, s);
	if (!strcmp(name, "exactly")) {
		if (pj_next(j) != PJ_STRING)
			pj_fail(j, "exact match pattern must be a string");
		pat_cc_set_str(c, m, PM_EXACT_STR);
		expect_end_object(c, ONE_KEY);
	} else if (!strcmp(name, "prefix") || !strcmp(name, "suffix")) {
		bool prefix = name[0] == 'p';
		pj_tok t = pj_next(j);
		if (t == PJ_START_OBJECT) {
			affix_eic(c, m, prefix);
			return;
		}
		if (t != PJ_STRING)
			pj_fail(j, prefix ? "prefix match pattern must be a string" : "suffix match pattern must be a string");
		pat_cc_set_str(c, m, prefix ? PM_PREFIX : PM_SUFFIX);
		expect_end_object(c, ONE_KEY);
	} else if (!strcmp(name, "numeric")) {
		if (pj_next(j) != PJ_START_ARRAY)
			pj_fail(j, "Value of numeric must be an array.");
		numeric_expr(c, m);
		expect_end_object(c, TOO_MANY);
	} else if (!strcmp(name, "anything-but")) {
		anything_but(c, m);
	} else if (!strcmp(name, "exists")) {
		pj_tok t = pj_next(j);
		memset(m, 0, sizeof(*m));
		if (t == PJ_TRUE)
			m->kind = PM_EXISTS;
		else if (t == PJ_FALSE)
			m->kind = PM_ABSENT;
		else
			pj_fail(j, "exists match pattern must be either true or false.");
		expect_end_object(c, ONE_KEY);
	} else if (!strcmp(name, "cidr")) {
		if (pj_next(j) != PJ_STRING)
			pj_fail(j, "prefix match pattern must be a string");
		pj_text(j, &s, &n);
		make_cidr(c, s, n, m);
		expect_end_object(c, ONE_KEY);
	} else if (!strcmp(name, "equals-ignore-case")) {
		if (pj_next(j) != PJ_STRING)
			pj_fail(j, "equals-ignore-case match pattern must be a string");
		pat_cc_set_str(c, m, PM_EIC);
		expect_end_object(c, ONE_KEY);
	} else if (!strcmp(name, "wildcard")) {
		if (pj_next(j) != PJ_STRING)
			pj_fail(j, "wildcard match pattern must be a string");
		pat_cc_set_str(c, m, PM_WILDCARD);
		char r[PAT_REASON_MAX];
		if (!pat_wildcard_check(m->s.p, m->s.n, r, sizeof(r)))
			pj_fail(j, "%s", r);
		expect_end_object(c, ONE_KEY);
	} else {
		pj_fail(j, "Unrecognized match type %s", name);
	}
}
