/* tests/unit/test_pat_ref.c — checks the reference matcher (pat_ref.h) itself, so that the differential
 * test (test_pat_diff.c) compares the engine against something known to be right.
 *
 * 1. The whole conformance corpus (tests/conformance/event-ruler-patterns.jsonl, recorded from
 *    aws/event-ruler's own tests): every match/no-match case must give the recorded answer, every error
 *    case must be rejected (reason texts are the engine's business, not the reference's).
 * 2. The edge rows of ../shared/reference/eventbridge-api.md §3.3 and a few array-consistency cases,
 *    written out here.
 *
 * Pattern and event texts are taken from the corpus line byte for byte (an object-valued member is
 * used as its raw JSON text, a string-valued one as the decoded string), so duplicate keys and number
 * text survive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "pat_ref.h"

/* ---- raw member extraction ---------------------------------------------------------------------- */

/* Skips one JSON value starting at *p (no validation beyond nesting and strings). */
static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;
	bool in_str = false;
	for (; p < end; p++) {
		char c = *p;
		if (in_str) {
			if (c == '\\')
				p++;
			else if (c == '"') {
				in_str = false;
				if (depth == 0)
					return p + 1;
			}
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (--depth == 0)
				return p + 1;
			if (depth < 0)
				return p;
		} else if (depth == 0 && (c == ',' || c == ' ' || c == '\n'))
			return p;
	}
	return p;
}

/* Finds top-level member `key` of the object line[len]; returns its raw value span. */
static bool raw_member(const char *line, size_t len, const char *key, const char **vs, size_t *vn)
{
	const char *p = line, *end = line + len;
	while (p < end && *p != '{')
		p++;
	p++;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p >= end || *p != '"')
			return false;
		const char *ks = p + 1;
		const char *ke = skip_value(p, end) - 1;
		p = ke + 1;
		while (p < end && (*p == ' ' || *p == ':'))
			p++;
		const char *v = p;
		p = skip_value(p, end);
		if ((size_t)(ke - ks) == strlen(key) && memcmp(ks, key, (size_t)(ke - ks)) == 0) {
			*vs = v;
			*vn = (size_t)(p - v);
			return true;
		}
	}
	return false;
}

/* The text to use for member key: a JSON string is decoded, anything else is used raw. Returns a
 * malloc'd string (caller frees) or NULL if absent / null. */
static char *member_text(const char *line, size_t len, const json_t *obj, const char *key, size_t *outn)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v)) {
		*outn = json_string_length(v);
		char *s = malloc(*outn + 1);
		memcpy(s, json_string_value(v), *outn + 1);
		return s;
	}
	const char *vs;
	size_t vn;
	if (!raw_member(line, len, key, &vs, &vn))
		return NULL;
	char *s = malloc(vn + 1);
	memcpy(s, vs, vn);
	s[vn] = 0;
	*outn = vn;
	return s;
}

/* ---- corpus ------------------------------------------------------------------------------------- */

static void test_corpus(void **state)
{
	(void)state;
	const char *path = BB_SOURCE_DIR "/tests/conformance/event-ruler-patterns.jsonl";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int cases = 0, failures = 0, matches = 0, nomatches = 0, errors = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		json_error_t jerr;
		json_t *c = json_loadb(line, (size_t)n, JSON_DECODE_ANY, &jerr);
		if (!c) {
			/* jansson rejects e.g. integers beyond int64 in raw members; the raw text is what we use,
			 * so parse only the envelope fields we need from a copy with those members blanked. */
			fail_msg("corpus line %d not loadable by jansson: %s", cases + 1, jerr.text);
		}
		cases++;
		const char *name = json_string_value(json_object_get(c, "name"));
		const json_t *expect = json_object_get(c, "expect");
		size_t pn = 0, en = 0;
		char *pat = member_text(line, (size_t)n, c, "pattern", &pn);
		char *evt = member_text(line, (size_t)n, c, "event", &en);
		assert_non_null(pat);
		char reason[256] = "";
		pat_ref *r = pat_ref_compile(pat, pn, reason, sizeof(reason));
		if (json_is_string(expect)) {
			errors++;
			if (r) {
				failures++;
				printf("FAIL %s: invalid pattern accepted: %s\n", name, pat);
			}
		} else {
			bool want = json_is_true(expect);
			want ? matches++ : nomatches++;
			if (!r) {
				failures++;
				printf("FAIL %s: valid pattern rejected (%s): %s\n", name, reason, pat);
			} else {
				int got = pat_ref_match(r, evt, en);
				if (got != (want ? 1 : 0)) {
					failures++;
					printf("FAIL %s: expected %s, got %d\n  pattern: %s\n  event: %.600s\n", name,
					       want ? "match" : "no match", got, pat, evt);
				}
			}
		}
		pat_ref_free(r);
		free(pat);
		free(evt);
		json_decref(c);
	}
	free(line);
	fclose(f);
	printf("corpus: %d cases (%d match, %d no match, %d error), %d failures\n", cases, matches, nomatches,
	       errors, failures);
	assert_int_equal(cases, 704);
	assert_int_equal(failures, 0);
}

/* ---- hand-written edge cases (§3.2/§3.3 tables, array consistency) ------------------------------- */

typedef struct edge {
	const char *pattern;
	const char *event;
	int want; /* 1 match, 0 no match, -1 pattern invalid */
} edge;

static const edge edges[] = {
	/* anything-but / exists (§3.3) */
	{"{\"a\":[{\"anything-but\":\"x\"}]}", "{\"b\":1}", 0},
	{"{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":null}", 1},
	{"{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":[\"x\",\"y\"]}", 1},
	{"{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":[\"x\"]}", 0},
	{"{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":[]}", 0},
	{"{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":5}", 1},
	{"{\"a\":[{\"anything-but\":5}]}", "{\"a\":\"5\"}", 1},
	{"{\"a\":[{\"anything-but\":5}]}", "{\"a\":5.0}", 0},
	{"{\"a\":[{\"anything-but\":{\"prefix\":\"x\"}}]}", "{\"a\":5}", 1},
	{"{\"a\":[{\"anything-but\":null}]}", "{}", -1},
	{"{\"a\":[{\"anything-but\":[\"stopped\",null]}]}", "{}", -1},
	{"{\"a\":[{\"anything-but\":{\"prefix\":\"\"}}]}", "{}", -1},
	{"{\"a\":[{\"anything-but\":{\"prefix\":{\"equals-ignore-case\":\"x\"}}}]}", "{}", -1},
	{"{\"a\":[{\"anything-but\":{\"equals-ignore-case\":123}}]}", "{}", -1},
	{"{\"a\":[{\"anything-but\":{\"wildcard\":\"\"}}]}", "{\"a\":\"\"}", 0},
	{"{\"a\":[{\"anything-but\":{\"wildcard\":\"\"}}]}", "{\"a\":\"q\"}", 1},
	{"{\"a\":[{\"anything-but\":{\"prefix\":[\"ab\",\"cd\"]}}]}", "{\"a\":\"cde\"}", 0},
	{"{\"a\":[{\"exists\":true}]}", "{\"a\":null}", 1},
	{"{\"a\":[{\"exists\":true}]}", "{\"a\":[]}", 0},
	{"{\"a\":[{\"exists\":false}]}", "{\"a\":[]}", 1},
	{"{\"a\":[{\"exists\":true}]}", "{\"a\":{\"S\":\"x\"}}", 0},
	{"{\"a\":[{\"exists\":true}]}", "{\"a\":[{\"b\":1}]}", 0},
	{"{\"a\":[{\"exists\":false}]}", "{\"a\":{\"S\":\"x\"}}", 1},
	{"{\"S\":[{\"anything-but\":[\"roses\"]},{\"exists\":false}]}", "{\"T\":1}", 1},
	/* values (§3.2) */
	{"{\"a\":[300]}", "{\"a\":300.0}", 1},
	{"{\"a\":[300]}", "{\"a\":3.0e2}", 1},
	{"{\"a\":[5]}", "{\"a\":\"5\"}", 0},
	{"{\"a\":[27.807807921694092]}", "{\"a\":27.80780792169409}", 0},
	{"{\"a\":[null]}", "{\"b\":1}", 0},
	{"{\"a\":[null]}", "{\"a\":\"\"}", 0},
	{"{\"a\":[true]}", "{\"a\":\"true\"}", 0},
	{"{\"a\":[{\"prefix\":\"\"}]}", "{\"a\":\"\"}", 1},
	{"{\"a\":[{\"prefix\":\"\"}]}", "{\"a\":1}", 0},
	{"{\"a\":[{\"equals-ignore-case\":\"stra\\u00dfe\"}]}", "{\"a\":\"STRASSE\"}", 1},
	{"{\"a\":[{\"equals-ignore-case\":\"\\u00e9t\\u00e9\"}]}", "{\"a\":\"\\u00c9T\\u00c9\"}", 1},
	{"{\"a\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"a\":\"a*b\"}", 1},
	{"{\"a\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"a\":\"axb\"}", 0},
	{"{\"a\":[{\"wildcard\":\"a**b\"}]}", "{}", -1},
	{"{\"a\":[{\"wildcard\":\"a\\\\xb\"}]}", "{}", -1},
	{"{\"a\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"a\":5}", 1},
	{"{\"a\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"a\":\"5\"}", 0},
	{"{\"a\":[{\"numeric\":[\">\",0,\">\",0]}]}", "{}", -1},
	{"{\"a\":[{\"numeric\":10}]}", "{}", -1},
	{"{\"a\":[{\"cidr\":\"10.0.0.0/24\"}]}", "{\"a\":\"10.0.0.255\"}", 1},
	{"{\"a\":[{\"cidr\":\"10.0.0.0/24\"}]}", "{\"a\":\"10.0.1.0\"}", 0},
	{"{\"a\":[{\"cidr\":\"2001:db8:1234:1a00::/64\"}]}", "{\"a\":\"2001:0db8:1234:1a00:0000:0000:0000:0001\"}", 1},
	{"{\"a\":[{\"cidr\":\"10.0.0.0\"}]}", "{}", -1},
	{"{\"a\":[{\"cidr\":[\"10.0.0.0/8\"]}]}", "{}", -1},
	/* structure (§3.1) */
	{"[1]", "{}", -1},
	{"{\"a\":1}", "{}", -1},
	{"{\"a\":[]}", "{}", -1},
	{"{\"a\":{}}", "{}", -1},
	{"{\"a\":[{\"EXISTS\":true}]}", "{}", -1},
	{"{\"detail\":{\"state.status\":[\"on\"]}}", "{\"detail\":{\"state\":{\"status\":\"on\"}}}", 1},
	{"{\"detail\":{\"state\":{\"status\":[\"on\"]}}}", "{\"detail\":{\"state.status\":\"on\"}}", 1},
	{"{\"l\":[{\"prefix\":\"us-\"}],\"l\":[{\"anything-but\":\"us-east\"}]}", "{\"l\":\"eu-west\"}", 1},
	{"{\"a\":{\"b\":[1]},\"a\":{\"c\":[2]}}", "{\"a\":{\"c\":2}}", 0}, /* per-path last-wins merges */
	{"{\"a\":{\"b\":[1]},\"a\":{\"c\":[2]}}", "{\"a\":{\"b\":1,\"c\":2}}", 1},
	{"{\"a\":{\"b\":[\"x\"]}}", "{\"a\":\"x\"}", 0},
	{"{\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", "{\"b\":2}", 1},
	{"{\"$or\":[{\"a\":[1]}]}", "{}", -1},
	{"{\"$or\":[{\"numeric\":[\">\",0]},{\"prefix\":\"a\"}]}", "{\"$or\":\"abc\"}", 1}, /* legacy: field $or */
	{"{\"x\":[1],\"$or\":[{\"a\":[1]},{\"b\":[2],\"$or\":[{\"c\":[3]},{\"d\":[4]}]}]}", "{\"x\":1,\"b\":2,\"d\":4}", 1},
	{"{\"x\":[1],\"$or\":[{\"a\":[1]},{\"b\":[2],\"$or\":[{\"c\":[3]},{\"d\":[4]}]}]}", "{\"x\":1,\"b\":2}", 0},
	/* arrays and array consistency */
	{"{\"a\":[1]}", "{\"a\":[[0,[1]]]}", 1},
	{"{\"o\":{\"x\":[1],\"y\":[2]}}", "{\"o\":[{\"x\":1,\"y\":3},{\"x\":4,\"y\":2}]}", 0},
	{"{\"o\":{\"x\":[1],\"y\":[2]}}", "{\"o\":[{\"x\":1,\"y\":3},{\"x\":1,\"y\":2}]}", 1},
	{"{\"o\":{\"x\":[1]},\"p\":[2]}", "{\"o\":[{\"x\":1}],\"p\":[3,2]}", 1},
	{"{\"o\":{\"x\":[1],\"i\":{\"y\":[2]}}}", "{\"o\":[{\"x\":1,\"i\":[{\"y\":3}]},{\"x\":5,\"i\":[{\"y\":2}]}]}", 0},
	{"{\"o\":{\"x\":[1],\"i\":{\"y\":[2]}}}", "{\"o\":[{\"x\":1,\"i\":[{\"y\":3},{\"y\":2}]}]}", 1},
	{"{\"d\":{\"a\":[{\"exists\":true}],\"b\":[{\"exists\":false}]}}", "{\"d\":[{\"a\":1},{\"b\":2}]}", 1},
	{"{\"d\":{\"a\":[{\"exists\":true}],\"b\":[{\"exists\":false}]}}", "{\"d\":[{\"a\":1,\"b\":2}]}", 0},
	/* exists:false sees only the membership of keys sorted before it (event-ruler ACFinder) */
	{"{\"o\":{\"a\":[{\"exists\":false}],\"b\":[\"1\"]}}", "{\"o\":[{\"a\":1},{\"b\":\"1\"}]}", 0},
	{"{\"o\":{\"b\":[{\"exists\":false}],\"a\":[\"1\"]}}", "{\"o\":[{\"b\":1},{\"a\":\"1\"}]}", 1},
	/* an element of a nested array carries the outer array's index; a prefix sorts first */
	{"{\"x\":[1],\"x.y\":[{\"exists\":false}]}", "{\"x\":[[1],1,{\"y\":2}]}", 1},
	{"{\"x.y\":{\"x\":[{\"exists\":false}],\"x\":{\"x\":[\"e\"]}}}", "{\"x\":{\"y\":[{\"x\":5},{\"x\":{\"x\":\"e\"}}]}}", 0},
	/* quoted-form prefix, case mappings, IPv4-mapped IPv6, text-only numbers, trailing pattern bytes */
	{"{\"a\":[{\"prefix\":\"x\\\"\"}]}", "{\"a\":\"x\"}", 1},
	{"{\"a\":[{\"equals-ignore-case\":\"\u00df\"}]}", "{\"a\":\"ss\"}", 0},
	{"{\"a\":[{\"equals-ignore-case\":\"k\"}]}", "{\"a\":\"\u212a\"}", 0},
	{"{\"a\":[\"10.0.0.1\"]}", "{\"a\":\"::ffff:a00:1\"}", 1},
	{"{\"a\":[0.10000000000000001]}", "{\"a\":0.1}", 0},
	{"{\"a\":[0.10000000000000001]}", "{\"a\":0.10000000000000001}", 1},
	{"{\"a\":[1]} x", "{\"a\":1}", 1},
	{"{\"a\":[{\"numeric\":[\">=\",5,\"<=\",5]}]}", "{}", -1},
	{"{\"a\":[{\"cidr\":\"10.0.0.1/32\"}]}", "{}", -1},
};

static void test_edges(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		const edge *e = &edges[i];
		char reason[256] = "";
		pat_ref *r = pat_ref_compile(e->pattern, strlen(e->pattern), reason, sizeof(reason));
		int got = r ? pat_ref_match(r, e->event, strlen(e->event)) : -1;
		if (got != e->want) {
			failures++;
			printf("FAIL edge %zu: %s vs %s: want %d got %d (%s)\n", i, e->pattern, e->event, e->want, got,
			       reason);
		}
		pat_ref_free(r);
	}
	assert_int_equal(failures, 0);
}

static void test_numbers(void **state)
{
	(void)state;
	static const struct {
		const char *num;
		bool comparable;
	} cases[] = {
		{"300", true}, {"300.0", true}, {"3.0e2", true}, {"-0", true}, {"0.1", true},
		{"0.10000000000000001", false}, {"1e-325", false}, {"1E309", false}, {"2.0e422", false},
		{"27.80780792169409", true}, {"27.807807921694092", true}, {"27.8078079216940", true}, {"123456789012345678", false},
		{"5e9", true}, {"-5.0e9", true}, {"1.7976931348623157e308", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (pat_ref_number_comparable(cases[i].num, strlen(cases[i].num)) != cases[i].comparable)
			fail_msg("%s: expected comparable=%d", cases[i].num, cases[i].comparable);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
