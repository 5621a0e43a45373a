/* tests/unit/test_pat_conformance.c — runs the whole event-ruler conformance corpus
 * (tests/conformance/event-ruler-patterns.jsonl, copied from ../shared/conformance/) through
 * pat_compile + pat_match_rule and through a builder/set/pat_match of one rule, and fails on any
 * mismatch: match/no-match, and for error cases the exact reason text — with the locations Java
 * appends, compared on the pattern text that event-ruler's test used (quoted in error_raw).
 *
 * "pattern"/"event" given as JSON strings are the exact text to use; given as objects, the raw text
 * span of the line is used (so number text such as 27.8078079216940 is preserved).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "node/pattern/pat.h"

/* Skips one JSON value in s starting at i (no validation beyond structure). Returns the end index. */
static size_t skip_json(const char *s, size_t n, size_t i)
{
	int depth = 0;
	bool in_str = false;
	for (; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"') {
				in_str = false;
				if (depth == 0)
					return i + 1;
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			depth--;
			if (depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',' || c == ' ')) {
			return i;
		}
	}
	return i;
}

/* Finds the raw text span of top-level member `key` of the JSON object line. */
static bool raw_member(const char *s, size_t n, const char *key, size_t *a, size_t *b)
{
	size_t i = 0;
	while (i < n && s[i] != '{')
		i++;
	i++;
	size_t kl = strlen(key);
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == ','))
			i++;
		if (i >= n || s[i] != '"')
			return false;
		size_t ks = i + 1;
		size_t ke = skip_json(s, n, i) - 1;
		i = ke + 1;
		while (i < n && (s[i] == ' ' || s[i] == ':'))
			i++;
		size_t vs = i, ve = skip_json(s, n, i);
		if (ke - ks == kl && memcmp(s + ks, key, kl) == 0) {
			*a = vs;
			*b = ve;
			return true;
		}
		i = ve;
	}
	return false;
}

#define LOC "\n at [Source: (String)\""

/* The whole text event-ruler returned (raw: message and locations, each quoting the pattern as its
 * test wrote it, which the corpus's object form does not keep): compiling that quoted text must give
 * raw exactly. A raw without a location must equal the reason got (none may be added); one quoting a
 * truncated text cannot be recompiled and is left to the message comparison. */
static bool raw_alike(const char *raw, const char *got)
{
	const char *q = NULL;
	for (const char *x = strstr(raw, LOC); x; x = strstr(x + 1, LOC))
		q = x + strlen(LOC);
	if (!q) { /* no location (an IllegalArgumentException's message): none may be added */
		if (strcmp(got, raw) == 0)
			return true;
		printf("  want raw: %s\n  got: %s\n", raw, got);
		return false;
	}
	const char *end = strstr(q, "\"; line: ");
	if (!end || strstr(q, "[truncated "))
		return true;
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	bb_err e = pat_compile(q, (size_t)(end - q), NULL, &r, reason, sizeof(reason));
	pat_rule_free(r);
	if (e == BB_EPATTERN && strcmp(reason, raw) == 0)
		return true;
	printf("  source %.*s\n  want raw: %s\n  got (%d): %s\n", (int)(end - q), q, raw, e, e ? reason : "(compiled)");
	return false;
}

static char *text_of(const char *line, size_t n, json_t *obj, const char *key, size_t *len)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_string(v)) {
		*len = json_string_length(v);
		char *t = malloc(*len + 1);
		memcpy(t, json_string_value(v), *len);
		t[*len] = 0;
		return t;
	}
	size_t a, b;
	if (!raw_member(line, n, key, &a, &b))
		return NULL;
	*len = b - a;
	char *t = malloc(*len + 1);
	memcpy(t, line + a, *len);
	t[*len] = 0;
	return t;
}

static void corpus(void **state)
{
	(void)state;
	const char *path = BB_SOURCE_DIR "/tests/conformance/event-ruler-patterns.jsonl";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int total = 0, fails = 0;
	pat_scratch *sc = pat_scratch_new();
	assert_non_null(sc);
	while ((got = getline(&line, &cap, f)) > 0) {
		size_t n = (size_t)got;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (!n)
			continue;
		json_error_t je;
		json_t *o = json_loadb(line, n, JSON_DECODE_ANY, &je);
		assert_non_null(o);
		total++;
		const char *name = json_string_value(json_object_get(o, "name"));
		json_t *expect = json_object_get(o, "expect");
		size_t plen = 0, elen = 0;
		char *pat = text_of(line, n, o, "pattern", &plen);
		assert_non_null(pat);
		pat_rule *r = NULL;
		char reason[PAT_REASON_MAX];
		bb_err e = pat_compile(pat, plen, NULL, &r, reason, sizeof(reason));
		if (json_is_string(expect)) {
			const char *want = json_string_value(json_object_get(o, "error"));
			size_t wn = strlen(want);
			/* the message, then (as Java prints it) its locations */
			if (e != BB_EPATTERN || strncmp(reason, want, wn) != 0 ||
			    (reason[wn] && strncmp(reason + wn, LOC, strlen(LOC)) != 0)) {
				fails++;
				printf("FAIL %s: pattern %s\n  want error: %s\n  got (%d): %s\n", name, pat, want, e,
				       e ? reason : "(compiled)");
			}
			pat_rule_free(r);
			const char *raw = json_string_value(json_object_get(o, "error_raw"));
			if (raw && !raw_alike(raw, reason)) {
				fails++;
				printf("FAIL %s: error_raw differs\n", name);
			}
		} else if (e != BB_OK) {
			fails++;
			printf("FAIL %s: pattern %s did not compile: %s\n", name, pat, reason);
		} else {
			bool want = json_is_true(expect);
			char *ev = text_of(line, n, o, "event", &elen);
			assert_non_null(ev);
			bool m = false;
			bb_err me = pat_match_rule(r, ev, elen, &m);
			/* and through a set */
			pat_builder *b = pat_builder_new();
			assert_int_equal(pat_builder_add(b, 7, r), BB_OK);
			pat_set *s = pat_builder_publish(b);
			assert_non_null(s);
			uint32_t ids[4];
			size_t nm = 0;
			bb_err se = pat_match(s, sc, ev, elen, ids, 4, &nm);
			if (me != BB_OK || m != want || se != BB_OK || (nm > 0) != want || (nm && ids[0] != 7)) {
				fails++;
				printf("FAIL %s: pattern %s\n  event %s\n  want %d, pat_match_rule %d (err %d), pat_match %zu (err %d)\n",
				       name, pat, ev, want, m, me, nm, se);
			}
			pat_set_release(s);
			pat_builder_free(b);
			free(ev);
			pat_rule_free(r);
		}
		free(pat);
		json_decref(o);
	}
	free(line);
	fclose(f);
	pat_scratch_free(sc);
	printf("conformance: %d cases, %d failures\n", total, fails);
	assert_int_equal(total, 704);
	assert_int_equal(fails, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
