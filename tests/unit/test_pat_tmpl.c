/* tests/unit/test_pat_tmpl.c — the walk's element templates (pat_walk.c tmpl_build, pat_walk_impl.h
 * tmpl_elem): arrays of small records read by comparing member heads with the first element's must
 * answer exactly as the member loop does. Randomized against the reference matcher (pat_ref.h): events
 * hold arrays of records that mostly share one tight shape, with per-element departures — whitespace,
 * reordered, missing, extra, duplicate, escaped or dotted keys, keys holding ',' or '}' (which the
 * parallel reading of short elements, elem_par, must leave to the others), string/object/array/literal values,
 * number spellings (exponents, long digit runs, -0), scalars and nested arrays among the records — and
 * a scratch reused across events and sets (its kept templates: another set, or another array, must
 * never use them), with the set as one core and as base + delta.
 * Environment: BB_TMPL_ITERS (events, default 4000), BB_TMPL_SEED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/pattern/pat.h"
#include "pat_ref.h"

static uint64_t rs;

static unsigned rn(unsigned n)
{
	rs += 0x9E3779B97F4A7C15ULL;
	uint64_t z = rs;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return (unsigned)((z ^ (z >> 31)) % n);
}

static const char *const pats[] = {
	"{\"a\":{\"x\":[{\"numeric\":[\"<\",-122.416]}]}}",
	"{\"a\":{\"x\":[{\"numeric\":[\">\",-122.416,\"<\",-122.4]}]}}",
	"{\"a\":{\"x\":[-122.42916360922355]}}",
	"{\"a\":{\"x\":[3],\"y\":[4]}}",
	"{\"a\":{\"y\":[{\"numeric\":[\">=\",37.7]}],\"z\":[0]}}",
	"{\"a\":{\"z\":[{\"exists\":false}],\"x\":[3]}}",
	"{\"a\":{\"w\":[{\"exists\":true}]}}",
	"{\"a\":{\"y\":[null]}}",
	"{\"a\":{\"z\":[true]}}",
	"{\"a\":{\"y\":[{\"anything-but\":[4]}]}}",
	"{\"a\":{\"x\":[{\"prefix\":\"s\"}]}}",
	"{\"a\":{\"x\":{\"q\":[1]}}}",
	"{\"a\":{\"x.q\":[2]}}",
	"{\"b\":{\"x\":[3]},\"a\":{\"y\":[4]}}",
	"{\"t\":[\"P\"],\"a\":{\"x\":[{\"numeric\":[\"<\",0]}]}}",
	"{\"a\":{\"a\":{\"x\":[3]}}}",
	"{\"a\":{\"x,y\":[3],\"}\":[4]}}", /* keys holding a member's and an element's end */
	/* from EXACT_ONLY on, also alone in set 3: fields with exact fractional numbers only, whose numbers outside
	 * the hull the templates skip unread by their text (pat_field.npre) */
	"{\"a\":{\"x\":[-122.42916360922355,-122.4291636092235]}}",
	"{\"a\":{\"y\":[37.729900216217324]}}",
	"{\"t\":[\"P\"],\"a\":{\"y\":[37.8]}}",
};
enum { NP = sizeof pats / sizeof pats[0], EXACT_ONLY = 17 };
/* set 4: fields with ranges and exact numbers and nothing else (x, y, z), whose numbers outside
 * both hulls the templates skip unread by comparing their text with the bounds' (pat_field.far) */
#define FAR_SET ((1u << 0) | (1u << 1) | (1u << 2) | (1u << 4))
_Static_assert(NP <= 32, "the expected matches are a 32-bit mask");

typedef struct sb {
	char p[8192];
	size_t n;
} sb;

static void put(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(b->p + b->n, sizeof b->p - b->n, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < sizeof b->p - b->n);
	b->n += (size_t)k;
}

/* Spellings of numbers at, next to and far from set 3's and the range bounds of set 4 (fewer or more
 * digits, trailing zeros, exponents, the other sign, the neighbouring doubles); numbers that share
 * the bounds' integer parts. */
static const char *const near[] = {"-122.42916360922355", "-122.429163609223550", "-122.4291636092235",
				   "-1.2242916360922355e2", "-122.42916360922354", "-122.42916360922356",
				   "-122.4291636092236", "-122.42916360922355000000001", "122.42916360922355",
				   "-122.42916360922", "-122.4", "37.729900216217324", "37.72990021621732",
				   "37.7299002162173240000", "3.7729900216217324e1", "37.72990021621733",
				   "-37.729900216217324", "37.8", "37.80", "37.7999999999999999999", "37.72", "37",
				   "-122.416", "-122.4160", "-122.41600000000001", "-122.41599999999999",
				   "-122.415999999999999999", "-122.4000", "-122.39999999999999", "-122.40000000000001",
				   "37.7", "37.70", "37.69999999999999", "37.700000000000003", "37.7e0", "0", "-0.0",
				   "0.0000000000000001", "-122.41600000000001e0", "-122.4159", "-122.4161"};

static void number(sb *b)
{
	if (rn(3) == 0) {
		put(b, "%s", near[rn(sizeof near / sizeof near[0])]);
		return;
	}
	static const char *const odd[] = {"1e5",	"-0",	 "0.0",	   "3.0",   "4e0", "-1.22416e2",
					  "12345678901234567890123456789012345678901", "0.000000000000000000001",
					  "3",		"4",	 "37.8",   "-122.5"};
	static const char *const lead[] = {"-122.4", "-122.41", "-122.42", "-122.3", "-122.", "37.", "37.7", "37.6", "0."};
	switch (rn(8)) {
	case 0: put(b, "%s", odd[rn(sizeof odd / sizeof odd[0])]); break;
	case 1: put(b, "%u", rn(6)); break;
	case 2: /* the integer part of set 4's bounds, any fraction */
		put(b, "%s%0*u%s", lead[rn(sizeof lead / sizeof lead[0])], 1 + (int)rn(9), rn(1000000000),
		    rn(4) ? "" : rn(2) ? "0" : "1234567");
		break;
	default: put(b, "%s%u.%0*u", rn(2) ? "-" : "", 120 + rn(5), 1 + (int)rn(9), rn(1000000000)); break;
	}
}

static void value(sb *b, int depth)
{
	unsigned r = rn(20);
	if (r == 0) {
		put(b, "\"s%u\"", rn(3));
	} else if (r == 1) {
		put(b, "%s", rn(3) == 0 ? "null" : rn(2) ? "true" : "false");
	} else if (r <= 3 && depth < 2) { /* a container: {"q":n} or [n] */
		put(b, r == 2 ? "{\"q\":" : "[");
		number(b);
		put(b, r == 2 ? "}" : "]");
	} else {
		number(b);
	}
}

/* One record: mostly {"x":n,"y":n,"z":n} written tightly. */
static void record(sb *b, int depth, unsigned shape)
{
	static const char *const keys[] = {"x", "y", "z", "w", "x.q", "\\u0078", "xx", "a", "x,y", "}"};
	const char *ws = rn(12) == 0 ? " " : "";
	unsigned n = rn(10) == 0 ? rn(5) : 3;
	put(b, "{%s", ws);
	for (unsigned i = 0; i < n; i++) {
		unsigned k = shape == 0 ? i : (i + shape) % 3;
		if (rn(14) == 0)
			k = rn(sizeof keys / sizeof keys[0]);
		put(b, "%s\"%s\"%s:%s", i ? "," : "", keys[k], rn(25) == 0 ? " " : "", rn(25) == 0 ? " " : "");
		value(b, depth);
	}
	put(b, "%s}", rn(25) == 0 ? " " : "");
}

static void array(sb *b, int depth, unsigned shape)
{
	unsigned n = rn(8);
	put(b, "[");
	for (unsigned i = 0; i < n; i++) {
		if (i)
			put(b, rn(20) == 0 ? ", " : ",");
		unsigned r = rn(16);
		if (r == 0 && depth < 2)
			array(b, depth + 1, shape);
		else if (r == 1)
			number(b);
		else
			record(b, depth, shape);
	}
	put(b, "]");
}

static void event(sb *b)
{
	unsigned shape = rn(4) == 0 ? rn(3) : 0;
	b->n = 0;
	put(b, "{\"t\":\"%s\",\"a\":", rn(2) ? "P" : "M");
	if (rn(10) == 0)
		record(b, 0, shape);
	else
		array(b, 0, shape);
	if (rn(3) == 0) {
		put(b, ",\"b\":");
		array(b, 0, shape);
	}
	if (rn(4) == 0) {
		put(b, ",\"a\":{\"a\":");
		array(b, 1, shape);
		put(b, "}");
	}
	put(b, "}");
}

static void templates_agree(void **st)
{
	(void)st;
	const char *it_env = getenv("BB_TMPL_ITERS"), *seed_env = getenv("BB_TMPL_SEED");
	unsigned iters = it_env ? (unsigned)strtoul(it_env, NULL, 10) : 4000;
	rs = seed_env ? strtoull(seed_env, NULL, 0) : 0x7e3b1a7e5ULL;
	pat_ref *ref[NP];
	pat_rule *rule[NP];
	char reason[PAT_REASON_MAX];
	for (int i = 0; i < NP; i++) {
		ref[i] = pat_ref_compile(pats[i], strlen(pats[i]), NULL, 0);
		assert_non_null(ref[i]);
		assert_int_equal(pat_compile(pats[i], strlen(pats[i]), NULL, &rule[i], reason, sizeof reason), BB_OK);
	}
	/* set 0: every pattern in one core; set 1: half in the base and half in a delta; set 2: one of
	 * them alone (other nodes, same scratch) */
	pat_builder *b0 = pat_builder_new(), *b1 = pat_builder_new(), *b2 = pat_builder_new(), *b3 = pat_builder_new();
	pat_builder *b4 = pat_builder_new();
	for (int i = EXACT_ONLY; i < NP; i++)
		assert_int_equal(pat_builder_add(b3, (uint32_t)i, rule[i]), BB_OK);
	for (int i = 0; i < NP; i++)
		if (FAR_SET >> i & 1)
			assert_int_equal(pat_builder_add(b4, (uint32_t)i, rule[i]), BB_OK);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(pat_builder_add(b0, (uint32_t)i, rule[i]), BB_OK);
		if (i < NP / 2)
			assert_int_equal(pat_builder_add(b1, (uint32_t)i, rule[i]), BB_OK);
	}
	pat_set *s1base = pat_builder_publish(b1);
	for (int i = NP / 2; i < NP; i++)
		assert_int_equal(pat_builder_add(b1, (uint32_t)i, rule[i]), BB_OK);
	assert_int_equal(pat_builder_add(b2, 3, rule[3]), BB_OK);
	pat_set *sets[5] = {pat_builder_publish(b0), pat_builder_publish(b1), pat_builder_publish(b2),
			    pat_builder_publish(b3), pat_builder_publish(b4)};
	pat_set_release(s1base);
	pat_scratch *sc = pat_scratch_new();
	sb ev;
	for (unsigned it = 0; it < iters; it++) {
		event(&ev);
		uint32_t want = 0;
		for (int i = 0; i < NP; i++) {
			int r = pat_ref_match(ref[i], ev.p, ev.n);
			assert_true(r >= 0);
			want |= (uint32_t)(r == 1) << i;
		}
		for (int k = 0; k < 8; k++) { /* second rounds of sets 0, 3 and 4 meet the templates they kept */
			int si = k == 5 ? 0 : k == 6 ? 3 : k == 7 ? 4 : k;
			uint32_t ids[NP + 1], got = 0;
			size_t n = 0;
			assert_int_equal(pat_match(sets[si], sc, ev.p, ev.n, ids, NP + 1, &n), BB_OK);
			for (size_t j = 0; j < n; j++)
				got |= 1u << ids[j];
			uint32_t exp = si == 2	 ? want & (1u << 3)
				       : si == 3 ? want & (~0u << EXACT_ONLY)
				       : si == 4 ? want & FAR_SET
						 : want;
			if (got != exp)
				fail_msg("iteration %u set %d: engine %#x, reference %#x, event %.*s", it, si, got, exp,
					 (int)ev.n, ev.p);
		}
	}
	for (int i = 0; i < 5; i++)
		pat_set_release(sets[i]);
	pat_scratch_free(sc);
	pat_builder_free(b0);
	pat_builder_free(b1);
	pat_builder_free(b2);
	pat_builder_free(b3);
	pat_builder_free(b4);
	for (int i = 0; i < NP; i++) {
		pat_ref_free(ref[i]);
		pat_rule_free(rule[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(templates_agree)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
