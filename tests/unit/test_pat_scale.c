/* tests/unit/test_pat_scale.c — the structures that keep matching cost independent of the rule count,
 * checked against the one-rule answer (pat_match_rule: a set of one rule, where they hold one entry)
 * or, where a one-rule set takes the same path, against the reference matcher (pat_ref.h):
 *  - many numeric ranges on one field (the interval tree) with bounds that the values hit exactly;
 *  - many wildcards and prefixes on one field (the affix indexes);
 *  - many exact values on one field (probes deferred to the end of the walk, direct hits), every one
 *    finding its own rule's id;
 *  - many anything-buts of every kind on one field (excluded through the field's other indexes; past
 *    the first 64, generic), sharing values with positive matchers — against the reference matcher;
 *  - incremental publishing: a random stream of add / replace / remove with a publish after each
 *    step (delta cores and dead base rules) must always match exactly like a fresh full build;
 *  - the portable SSE2 walk must answer exactly like the AVX2 one on the same events.
 * Deterministic: a fixed-seed generator.
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
#include "node/pattern/pat_run.h"
#include "pat_ref.h"

static uint64_t seed = 0x1234abcd5678ef01ULL;

static uint32_t rnd(uint32_t n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed % n);
}

static pat_rule *compile(const char *p)
{
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	if (pat_compile(p, strlen(p), NULL, &r, reason, sizeof(reason)) != BB_OK)
		fail_msg("pattern %s rejected: %s", p, reason);
	return r;
}

/* pat_match on s must return exactly the rules whose pat_match_rule says true — or, for the rules
 * with a reference (refs non-NULL), whose pat_ref_match does. */
static void check_event_by(pat_set *s, pat_scratch *sc, pat_rule **rules, pat_ref **refs, uint32_t n, const char *ev)
{
	uint32_t *ids = calloc(n + 1, sizeof(uint32_t));
	bool *got = calloc(n + 1, sizeof(bool));
	size_t k = 0;
	assert_int_equal(pat_match(s, sc, ev, strlen(ev), ids, n + 1, &k), BB_OK);
	for (size_t i = 0; i < k; i++) {
		assert_true(ids[i] >= 1 && ids[i] <= n);
		assert_false(got[ids[i]]);
		got[ids[i]] = true;
	}
	for (uint32_t i = 1; i <= n; i++) {
		if (!rules[i])
			continue;
		bool m = false;
		if (refs) {
			int r = pat_ref_match(refs[i], ev, strlen(ev));
			assert_true(r >= 0);
			m = r == 1;
		} else {
			assert_int_equal(pat_match_rule(rules[i], ev, strlen(ev), &m), BB_OK);
		}
		if (m != got[i])
			fail_msg("rule %u: %s=%d pat_match=%d event=%s", i, refs ? "reference" : "pat_match_rule", m, got[i], ev);
	}
	free(ids);
	free(got);
}

static void check_event(pat_set *s, pat_scratch *sc, pat_rule **rules, uint32_t n, const char *ev)
{
	check_event_by(s, sc, rules, NULL, n, ev);
}

/* Frees rules[1..n], the set, the scratch and the builder of a test. */
static void free_all(pat_rule **rules, uint32_t n, pat_set *s, pat_scratch *sc, pat_builder *b)
{
	for (uint32_t i = 1; i <= n; i++)
		pat_rule_free(rules[i]);
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
}

static void many_ranges(void **st)
{
	(void)st;
	enum { N = 300, EVENTS = 600 };
	static const char *const lo_ops[] = {">", ">="}, *const hi_ops[] = {"<", "<="};
	pat_rule *rules[N + 1] = {0};
	double bounds[2 * N];
	pat_builder *b = pat_builder_new();
	char p[256];
	for (uint32_t i = 1; i <= N; i++) {
		double a = (double)rnd(2000) / 4 - 250, c = a + (double)rnd(400) / 4;
		bounds[2 * (i - 1)] = a;
		bounds[2 * (i - 1) + 1] = c;
		switch (rnd(4)) {
		case 0: snprintf(p, sizeof p, "{\"n\":[{\"numeric\":[\"%s\",%g]}]}", lo_ops[rnd(2)], a); break;
		case 1: snprintf(p, sizeof p, "{\"n\":[{\"numeric\":[\"%s\",%g]}]}", hi_ops[rnd(2)], c); break;
		case 2: snprintf(p, sizeof p, "{\"n\":[{\"numeric\":[\"=\",%g]}]}", a); break;
		default:
			snprintf(p, sizeof p, "{\"n\":[{\"numeric\":[\"%s\",%g,\"%s\",%g]}]}", lo_ops[rnd(2)], a,
				 hi_ops[rnd(2)], c);
		}
		rules[i] = compile(p);
		assert_int_equal(pat_builder_add(b, i, rules[i]), BB_OK);
	}
	pat_set *s = pat_builder_publish(b);
	pat_scratch *sc = pat_scratch_new();
	char ev[256];
	for (int e = 0; e < EVENTS; e++) {
		double v = rnd(3) ? bounds[rnd(2 * N)] : (double)rnd(4000) / 8 - 260;
		if (rnd(2))
			snprintf(ev, sizeof ev, "{\"n\":%.17g}", v);
		else
			snprintf(ev, sizeof ev, "{\"n\":[%g,\"x\",%g]}", v, v + 0.25);
		check_event(s, sc, rules, N, ev);
	}
	free_all(rules, N, s, sc, b);
}

/* A few ranges (no tree) on fields of an array of objects with many numbers, as in coordinates: once a
 * one-condition rule's range is hit the walk skips the exact value of later numbers it alone would
 * need (hit_open in pat_walk.c); rules whose ranges share a field with a second condition (array
 * consistency), with a string field, or that arrive in a delta core must still see every number. */
static void ranges_in_arrays(void **st)
{
	(void)st;
	enum { N = 7, EVENTS = 400 };
	static const char *const pats[N + 1] = {
		NULL,
		"{\"c\":{\"x\":[{\"numeric\":[\"<\",0]}]}}",
		"{\"c\":{\"x\":[{\"numeric\":[\">\",0]}]}}",
		"{\"c\":{\"x\":[{\"numeric\":[\">\",0]}],\"y\":[{\"numeric\":[\">\",5]}]}}",
		"{\"c\":{\"x\":[{\"numeric\":[\">\",10,\"<\",20]}]}}",
		"{\"c\":{\"x\":[{\"numeric\":[\">\",0]}]},\"k\":[\"v\"]}",
		"{\"c\":{\"x\":[{\"numeric\":[\"=\",3]}]}}",            /* added after the first publish */
		"{\"c\":{\"x\":[{\"numeric\":[\">=\",3,\"<=\",3.5]}],\"y\":[9]}}", /* likewise */
	};
	pat_rule *rules[N + 1] = {0};
	pat_builder *b = pat_builder_new();
	for (uint32_t i = 1; i <= N; i++) {
		rules[i] = compile(pats[i]);
		assert_int_equal(pat_builder_add(b, i, rules[i]), BB_OK);
		if (i == 5) /* rules 6 and 7 land in a delta core */
			pat_set_release(pat_builder_publish(b));
	}
	pat_set *s = pat_builder_publish(b);
	pat_scratch *sc = pat_scratch_new();
	char ev[1024];
	for (int e = 0; e < EVENTS; e++) {
		int n = 1 + (int)rnd(12), len = snprintf(ev, sizeof ev, "{\"c\":[");
		for (int i = 0; i < n; i++)
			len += snprintf(ev + len, sizeof ev - (size_t)len, "%s{\"x\":%d.%u,\"y\":%d,\"z\":0}", i ? "," : "",
					(int)rnd(40) - 10, rnd(2) * 5, (int)rnd(12));
		snprintf(ev + len, sizeof ev - (size_t)len, "]%s}", rnd(2) ? ",\"k\":\"v\"" : "");
		check_event(s, sc, rules, N, ev);
	}
	free_all(rules, N, s, sc, b);
}

static void many_affixes(void **st)
{
	(void)st;
	enum { N = 300, EVENTS = 600 };
	static const char *const alpha[] = {"a", "b", "ab", "ba", "*", "\\\\*", "c"};
	pat_rule *rules[N + 1] = {0};
	pat_builder *b = pat_builder_new();
	char p[256], w[64];
	for (uint32_t i = 1; i <= N; i++) {
		w[0] = 0;
		int parts = 1 + (int)rnd(4);
		for (int k = 0; k < parts; k++) {
			const char *a = alpha[rnd(7)];
			size_t l = strlen(w);
			if (a[0] == '*' && l && w[l - 1] == '*')
				a = "a";
			strcat(w, a);
		}
		switch (rnd(4)) {
		case 0: snprintf(p, sizeof p, "{\"s\":[{\"prefix\":\"%.*s\"}]}", (int)strcspn(w, "*\\"), w); break;
		case 1: snprintf(p, sizeof p, "{\"s\":[{\"suffix\":\"%.*s\"}]}", (int)strcspn(w, "*\\"), w); break;
		default: snprintf(p, sizeof p, "{\"s\":[{\"wildcard\":\"%s\"}]}", w);
		}
		pat_rule *r = NULL;
		char reason[PAT_REASON_MAX];
		if (pat_compile(p, strlen(p), NULL, &r, reason, sizeof(reason)) != BB_OK)
			continue; /* e.g. too complex */
		rules[i] = r;
		assert_int_equal(pat_builder_add(b, i, r), BB_OK);
	}
	pat_set *s = pat_builder_publish(b);
	pat_scratch *sc = pat_scratch_new();
	char ev[256], v[64];
	static const char *const vs[] = {"a", "b", "ab", "ba", "*", "c", "\\\\", "x"};
	for (int e = 0; e < EVENTS; e++) {
		v[0] = 0;
		int parts = (int)rnd(6);
		for (int k = 0; k < parts; k++)
			strcat(v, vs[rnd(8)]);
		snprintf(ev, sizeof ev, "{\"s\":\"%s\"}", v);
		check_event(s, sc, rules, N, ev);
	}
	free_all(rules, N, s, sc, b);
}

/* 240 anything-buts of every kind on two fields, more than PAT_AB_MAX on one: the first 64 of a
 * field are excluded through its exact, affix, equals-ignore-case, wildcard and number indexes, the
 * rest are generic. Checked against the reference matcher: a one-rule set excludes the same way. Lists share values with each other and with positive rules; some rules add a
 * second condition (counted, not direct). Values: strings of the lists' alphabet in any case, numbers,
 * literals, arrays of two, and absent fields. */
static void many_anything_but(void **st)
{
	(void)st;
	enum { N = 240, EVENTS = 800 };
	static const char *const words[] = {"a", "b", "ab", "AB", "ba", "abc", "cab", "x", "\u00c9t\u00e9", "\u00e9T\u00c9"};
	static const char *const nums[] = {"1", "2.5", "-3", "0", "1e2", "100"};
	pat_rule *rules[N + 1] = {0};
	pat_ref *refs[N + 1] = {0};
	pat_builder *b = pat_builder_new();
	char p[512], list[256];
	for (uint32_t i = 1; i <= N; i++) {
		unsigned kind = rnd(8), nv = 1 + rnd(3);
		list[0] = 0;
		for (unsigned k = 0; k < nv; k++) {
			char one[32];
			if (kind == 1)
				snprintf(one, sizeof one, "%s%s", k ? "," : "", nums[rnd(6)]);
			else if (kind == 5)
				snprintf(one, sizeof one, "%s\"%s*%s\"", k ? "," : "", words[rnd(8)], rnd(2) ? "b" : "");
			else
				snprintf(one, sizeof one, "%s\"%s\"", k ? "," : "", words[rnd(10)]);
			strcat(list, one);
		}
		static const char *const op[] = {"", "", "{\"prefix\":", "{\"suffix\":", "{\"equals-ignore-case\":",
						 "{\"wildcard\":"};
		const char *field = rnd(3) ? "s" : "t";
		if (kind >= 6) { /* a positive matcher on the same values */
			snprintf(p, sizeof p, "{\"%s\":[%s]}", field, list);
		} else {
			snprintf(p, sizeof p, "{\"%s\":[{\"anything-but\":%s[%s]%s}]%s}", field, op[kind], list,
				 kind >= 2 ? "}" : "", rnd(4) ? "" : ",\"u\":[\"y\"]");
		}
		rules[i] = compile(p);
		refs[i] = pat_ref_compile(p, strlen(p), NULL, 0);
		assert_non_null(refs[i]);
		assert_int_equal(pat_builder_add(b, i, rules[i]), BB_OK);
	}
	pat_set *s = pat_builder_publish(b);
	pat_scratch *sc = pat_scratch_new();
	char ev[256], val[2][64];
	for (int e = 0; e < EVENTS; e++) {
		for (int k = 0; k < 2; k++) {
			unsigned r = rnd(10);
			if (r < 6)
				snprintf(val[k], sizeof val[k], "\"%s%s\"", words[rnd(10)], rnd(4) ? "" : words[rnd(8)]);
			else if (r < 8)
				snprintf(val[k], sizeof val[k], "%s", nums[rnd(6)]);
			else
				snprintf(val[k], sizeof val[k], "%s", r == 8 ? "null" : "true");
		}
		switch (rnd(4)) {
		case 0: snprintf(ev, sizeof ev, "{\"s\":%s,\"t\":%s,\"u\":\"y\"}", val[0], val[1]); break;
		case 1: snprintf(ev, sizeof ev, "{\"s\":[%s,%s],\"u\":\"y\"}", val[0], val[1]); break;
		case 2: snprintf(ev, sizeof ev, "{\"t\":[%s],\"s\":%s}", val[0], val[1]); break;
		default: snprintf(ev, sizeof ev, "{\"u\":\"y\",\"t\":%s}", val[0]);
		}
		check_event_by(s, sc, rules, refs, N, ev);
	}
	for (uint32_t i = 1; i <= N; i++)
		pat_ref_free(refs[i]);
	free_all(rules, N, s, sc, b);
}

/* 20,000 exact values on one field: the map is large enough that its probes are deferred to the end
 * of the walk; direct hits, values in arrays, duplicates, escaped values (decoded, probed at once) and
 * rules that share a value with an $or rule must all come out exactly once. */
static void many_exact(void **st)
{
	(void)st;
	enum { N = 20000 };
	pat_builder *b = pat_builder_new();
	char p[128];
	for (uint32_t i = 1; i <= N; i++) {
		snprintf(p, sizeof p, "{\"f\":[\"v%u\"]}", i);
		pat_rule *r = compile(p);
		assert_int_equal(pat_builder_add(b, i, r), BB_OK);
		pat_rule_free(r);
	}
	pat_rule *o = compile("{\"$or\":[{\"f\":[\"v5\"]},{\"g\":[1]}]}");
	assert_int_equal(pat_builder_add(b, N + 1, o), BB_OK);
	pat_rule_free(o);
	pat_set *s = pat_builder_publish(b);
	pat_scratch *sc = pat_scratch_new();
	static const struct {
		const char *ev;
		uint32_t want[4]; /* 0-terminated, any order */
	} cases[] = {
		{"{\"f\":\"v5\"}", {5, N + 1}},
		{"{\"f\":\"v5\",\"g\":1}", {5, N + 1}},
		{"{\"g\":1}", {N + 1}},
		{"{\"f\":[\"v7\",\"v7\",\"v19999\"]}", {7, 19999}},
		{"{\"f\":\"v\\u0031\"}", {1}},
		{"{\"f\":\"v20001\"}", {0}},
		{"{\"x\":{\"f\":\"v3\"},\"f\":[[\"v4\"],{\"f\":\"v6\"}],\"f\":\"v8\"}", {4, 8}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint32_t ids[8];
		size_t n = 0, want = 0;
		assert_int_equal(pat_match(s, sc, cases[c].ev, strlen(cases[c].ev), ids, 8, &n), BB_OK);
		while (want < 4 && cases[c].want[want])
			want++;
		if (n != want)
			fail_msg("%s: %zu matches, want %zu", cases[c].ev, n, want);
		for (size_t i = 0; i < want; i++) {
			bool found = false;
			for (size_t j = 0; j < n; j++)
				found |= ids[j] == cases[c].want[i];
			if (!found)
				fail_msg("%s: rule %u missing", cases[c].ev, cases[c].want[i]);
		}
	}
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
}

/* Every value of a large exact map finds its own rule's id: ids scattered (not the rule's index: the
 * id comes from the map entry on the deferred path, pat_smap_ent), values short and over 16 bytes
 * (no id in the entry: read from rule_ids), probes of every length the map makes; then one at a
 * time through pat_match_batch, and after a removal (the set's dead bits take the branchy path) and
 * an addition (a delta core). */
static void many_exact_ids(void **st)
{
	(void)st;
	enum { N = 30000 };
	pat_builder *b = pat_builder_new();
	pat_scratch *sc = pat_scratch_new();
	char p[160], ev[160];
	for (uint32_t i = 0; i < N; i++) {
		if (i % 3 == 0)
			snprintf(p, sizeof p, "{\"f\":[\"a value longer than sixteen %u\"]}", i);
		else
			snprintf(p, sizeof p, "{\"f\":[\"v%u\"]}", i);
		pat_rule *r = compile(p);
		assert_int_equal(pat_builder_add(b, 1000000 - 7 * i, r), BB_OK);
		pat_rule_free(r);
	}
	pat_set *s = pat_builder_publish(b);
	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < N; i++) {
			if (i % 3 == 0)
				snprintf(ev, sizeof ev, "{\"f\":\"a value longer than sixteen %u\"}", i);
			else
				snprintf(ev, sizeof ev, "{\"f\":\"v%u\"}", i);
			uint32_t ids[4] = {0};
			size_t n = 0;
			pat_batch_item it[2] = {{.event = ev, .len = strlen(ev), .ids = ids, .cap = 2},
						{.event = "{\"f\":\"w\"}", .len = 9, .ids = ids + 2, .cap = 2}};
			if (i & 1) {
				pat_match_batch(s, sc, it, 2);
				assert_int_equal(it[0].err, BB_OK);
				assert_int_equal(it[1].err, BB_OK);
				assert_int_equal(it[1].n, 0);
				n = it[0].n;
			} else {
				assert_int_equal(pat_match(s, sc, ev, strlen(ev), ids, 2, &n), BB_OK);
			}
			size_t want = round == 1 && i == 5 ? 0 : round == 1 && i == 7 ? 2 : 1; /* removed; + delta */
			bool found = false;
			for (size_t j = 0; j < n && j < 2; j++)
				found |= ids[j] == 1000000 - 7 * i;
			if (n != want || (want && !found))
				fail_msg("round %d %s: n=%zu id=%u, want %zu with id %u", round, ev, n, ids[0], want,
					 1000000 - 7 * i);
		}
		if (round == 0) {
			/* a short value that misses, then a long one that hits (its id is not in the entry):
			 * the first must leave nothing the second's id could be taken from */
			static const char ev2[] = "{\"f\":[\"nope\",\"a value longer than sixteen 3\"]}";
			uint32_t ids[4] = {0};
			size_t n = 0;
			assert_int_equal(pat_match(s, sc, ev2, strlen(ev2), ids, 4, &n), BB_OK);
			assert_int_equal(n, 1);
			assert_int_equal(ids[0], 1000000 - 7 * 3);
			pat_batch_item it[2] = {{.event = ev2, .len = strlen(ev2), .ids = ids, .cap = 4},
						{.event = ev2, .len = strlen(ev2), .ids = ids + 2, .cap = 2}};
			pat_match_batch(s, sc, it, 2);
			assert_int_equal(it[0].n, 1);
			assert_int_equal(it[1].n, 1);
			assert_int_equal(ids[0], 1000000 - 7 * 3);
			assert_int_equal(ids[2], 1000000 - 7 * 3);
		}
		if (round == 0) { /* rule 5 removed (dead in the base); a delta rule on the same field */
			assert_int_equal(pat_builder_remove(b, 1000000 - 7 * 5), BB_OK);
			pat_rule *r = compile("{\"f\":[\"v7\"]}");
			assert_int_equal(pat_builder_add(b, 3, r), BB_OK);
			pat_rule_free(r);
			pat_set_release(s);
			s = pat_builder_publish(b);
			uint32_t ids[4];
			size_t n = 0;
			assert_int_equal(pat_match(s, sc, "{\"f\":\"v7\"}", 10, ids, 4, &n), BB_OK);
			assert_int_equal(n, 2);
			assert_true((ids[0] == 3 && ids[1] == 1000000 - 49) || (ids[1] == 3 && ids[0] == 1000000 - 49));
		}
	}
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
}

/* pat_match_batch answers exactly like pat_match event by event: on a set whose exact maps are large
 * enough for deferred probes (direct hits, and a two-condition rule whose exact value is a ment), with
 * a delta core, through batches of every size from 1 to 9 — with malformed events, a NULL event and a
 * cap smaller than the matches among them — one scratch reused (its second lane too). */
static void batch_like_single(void **st)
{
	(void)st;
	enum { N = 9000, EVENTS = 1500, CAP = 2 };
	pat_builder *b = pat_builder_new();
	char p[160];
	for (uint32_t i = 1; i <= N; i++) {
		if (i % 1000 == 7)
			snprintf(p, sizeof p, "{\"f\":[\"v%u\"],\"g\":[{\"numeric\":[\">\",%u]}]}", i, i % 10);
		else if (i % 1000 == 8)
			snprintf(p, sizeof p, "{\"$or\":[{\"f\":[\"v%u\"]},{\"g\":[%u]}]}", i - 1, i % 10);
		else
			snprintf(p, sizeof p, "{\"f\":[\"v%u\"]}", i);
		pat_rule *r = compile(p);
		assert_int_equal(pat_builder_add(b, i, r), BB_OK);
		pat_rule_free(r);
		if (i == N - 100) /* the last rules land in a delta core */
			pat_set_release(pat_builder_publish(b));
	}
	pat_set *s = pat_builder_publish(b);
	pat_scratch *sc = pat_scratch_new(), *one = pat_scratch_new();
	static char evs[EVENTS][96];
	for (int e = 0; e < EVENTS; e++) {
		uint32_t v = 1 + rnd(N + 50), g = rnd(12);
		switch (rnd(6)) {
		case 0: snprintf(evs[e], sizeof evs[e], "{\"f\":\"v%u\",\"g\":%u}", v, g); break;
		case 1: snprintf(evs[e], sizeof evs[e], "{\"f\":[\"v%u\",\"v%u\"],\"g\":%u}", v, v - 1, g); break;
		case 2: snprintf(evs[e], sizeof evs[e], "{\"f\":\"v%u\",\"g\":", v); break; /* malformed */
		case 3: snprintf(evs[e], sizeof evs[e], "{\"g\":%u,\"f\":\"v%u\"}", g, v); break;
		default: snprintf(evs[e], sizeof evs[e], "{\"f\":\"v%u\"}", v);
		}
	}
	pat_batch_item items[9];
	uint32_t ids[9][CAP];
	for (int e = 0; e < EVENTS;) {
		size_t m = 1 + rnd(9);
		if (m > (size_t)(EVENTS - e))
			m = (size_t)(EVENTS - e);
		for (size_t j = 0; j < m; j++) {
			bool null = rnd(50) == 0;
			items[j] = (pat_batch_item){.event = null ? NULL : evs[e + (int)j], .len = strlen(evs[e + (int)j]),
						    .ids = ids[j], .cap = CAP, .n = 77, .err = BB_OK};
		}
		pat_match_batch(s, sc, items, m);
		for (size_t j = 0; j < m; j++) {
			uint32_t want[CAP];
			size_t wn = 99;
			bb_err we = items[j].event ? pat_match(s, one, items[j].event, items[j].len, want, CAP, &wn) : BB_EINVAL;
			if (!items[j].event)
				wn = 0;
			if (items[j].err != we || items[j].n != wn)
				fail_msg("event %s: batch err=%d n=%zu, alone err=%d n=%zu", items[j].event ? items[j].event : "NULL",
					 items[j].err, items[j].n, we, wn);
			for (size_t q = 0; q < wn && q < CAP; q++) {
				bool found = false;
				for (size_t r = 0; r < wn && r < CAP; r++)
					found |= items[j].ids[q] == want[r];
				if (wn <= CAP && !found)
					fail_msg("event %s: rule %u not matched alone", items[j].event, items[j].ids[q]);
			}
		}
		e += (int)m;
	}
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_scratch_free(one);
	pat_builder_free(b);
}

static const char *const shapes[] = {
	"{\"a\":[\"v%u\"]}",
	"{\"a\":[{\"prefix\":\"v%u\"}]}",
	"{\"b\":[%u]}",
	"{\"b\":[{\"numeric\":[\">\",%u]}]}",
	"{\"c\":{\"d\":[\"v%u\",{\"exists\":false}]}}",
	"{\"$or\":[{\"a\":[\"v%u\"]},{\"b\":[{\"numeric\":[\"<\",%u]}]}]}",
	"{\"a\":[{\"anything-but\":\"v%u\"}]}",
};

static pat_rule *random_rule(uint32_t v)
{
	char p[256];
	const char *sh = shapes[rnd(sizeof shapes / sizeof shapes[0])];
	snprintf(p, sizeof p, sh, v, v);
	return compile(p);
}

static void incremental(void **st)
{
	(void)st;
	enum { IDS = 600, STEPS = 700 };
	pat_rule *rules[IDS + 1] = {0};
	pat_builder *b = pat_builder_new();
	pat_scratch *sc = pat_scratch_new(), *sc2 = pat_scratch_new();
	char ev[256];
	for (int step = 0; step < STEPS; step++) {
		/* a burst of changes: mostly adds early, then a mix */
		int burst = step < 100 ? 8 : 1 + (int)rnd(3);
		for (int k = 0; k < burst; k++) {
			uint32_t id = 1 + rnd(IDS);
			if (rules[id] && rnd(3) == 0) {
				assert_int_equal(pat_builder_remove(b, id), BB_OK);
				pat_rule_free(rules[id]);
				rules[id] = NULL;
			} else {
				pat_rule_free(rules[id]);
				rules[id] = random_rule(rnd(50));
				assert_int_equal(pat_builder_add(b, id, rules[id]), BB_OK);
			}
		}
		pat_set *s = pat_builder_publish(b);
		assert_non_null(s);
		/* the same rules built from scratch */
		pat_builder *f = pat_builder_new();
		uint32_t live = 0;
		for (uint32_t id = 1; id <= IDS; id++)
			if (rules[id]) {
				assert_int_equal(pat_builder_add(f, id, rules[id]), BB_OK);
				live++;
			}
		pat_set *full = pat_builder_publish(f);
		assert_int_equal(pat_set_count(s), live);
		for (int e = 0; e < 3; e++) {
			uint32_t v = rnd(50);
			snprintf(ev, sizeof ev, "{\"a\":\"v%u\",\"b\":%u,\"c\":{\"d\":\"v%u\"}}", v, rnd(60), rnd(50));
			uint32_t x[IDS + 1], y[IDS + 1];
			size_t nx = 0, ny = 0;
			assert_int_equal(pat_match(s, sc, ev, strlen(ev), x, IDS + 1, &nx), BB_OK);
			assert_int_equal(pat_match(full, sc2, ev, strlen(ev), y, IDS + 1, &ny), BB_OK);
			bool in[IDS + 1] = {false}, seen[IDS + 1] = {false};
			for (size_t i = 0; i < ny; i++) {
				if (in[y[i]])
					fail_msg("step %d: rule %u twice from scratch (%s)", step, y[i], ev);
				in[y[i]] = true;
			}
			for (size_t i = 0; i < nx; i++) {
				if (seen[x[i]])
					fail_msg("step %d: rule %u twice incrementally (%s)", step, x[i], ev);
				seen[x[i]] = true;
			}
			if (nx != ny)
				fail_msg("step %d: %zu matches incrementally, %zu from scratch (%s)", step, nx, ny, ev);
			for (size_t i = 0; i < nx; i++)
				assert_true(in[x[i]]);
		}
		pat_set_release(full);
		pat_builder_free(f);
		pat_set_release(s);
	}
	for (uint32_t id = 1; id <= IDS; id++)
		pat_rule_free(rules[id]);
	pat_scratch_free(sc);
	pat_scratch_free(sc2);
	pat_builder_free(b);
}

/* A set of the n patterns, rule i + 1 = pats[i]. */
static pat_set *set_of(const char *const *pats, uint32_t n, pat_builder *b)
{
	for (uint32_t i = 0; i < n; i++) {
		pat_rule *r = compile(pats[i]);
		assert_int_equal(pat_builder_add(b, i + 1, r), BB_OK);
		pat_rule_free(r);
	}
	return pat_builder_publish(b);
}

/* The portable SSE2 walk (level 0) and the best one (level) answer alike on ev (rules 1..np < 32). */
static void walks_agree(pat_set *s, pat_scratch *sc, const char *ev, size_t len, uint32_t np, int level)
{
	uint32_t x1[32], x2[32];
	size_t n1 = 0, n2 = 0;
	pat_simd_set(0);
	bb_err e1 = pat_match(s, sc, ev, len, x1, np + 1, &n1);
	pat_simd_set(level);
	bb_err e2 = pat_match(s, sc, ev, len, x2, np + 1, &n2);
	uint32_t m1 = 0, m2 = 0;
	for (size_t i = 0; i < n1 && i <= np; i++)
		m1 |= 1u << x1[i];
	for (size_t i = 0; i < n2 && i <= np; i++)
		m2 |= 1u << x2[i];
	if (e1 != e2 || n1 != n2 || m1 != m2)
		fail_msg("%s: sse2 err %d n %zu rules %#x, best err %d n %zu rules %#x", ev, e1, n1, m1, e2, n2, m2);
}

/* The fast number scan against the general one on num[0..n), placed at byte `at` of its buffer
 * (so the 16-byte fraction step sometimes lacks the bytes before it) with and without 32 bytes after
 * it: the same end, and the same parts wherever they are plain. */
static void scanners_alike(const char *num, size_t n, unsigned at)
{
	char buf[128];
	for (int pad = 0; pad < 2; pad++) {
		int len = snprintf(buf, sizeof buf, "%.*s%.*s%s}", (int)at, "{\"n\":[[[[", (int)n, num,
				   pad ? ",\"pad\":\"................................\"" : "");
		assert_true(len > 0 && (size_t)len < sizeof buf);
		const char *e = buf + len, *p = buf + at;
		pat_numparts a = {0}, b = {0};
		const char *qa = pat_number_scan(buf, p, e, &a, false), *qb = pat_number_scan(buf, p, e, &b, true);
		if (qa != qb || (qa && (a.plain != b.plain || (a.plain && (a.M != b.M || a.k != b.k || a.f != b.f ||
									 a.neg != b.neg)))))
			fail_msg("%s at %u: fast end %td plain %d M %llu k %d f %d, general end %td plain %d M %llu k %d f %d",
				 num, at, qa ? qa - p : -1, a.plain, (unsigned long long)a.M, a.k, a.f, qb ? qb - p : -1,
				 b.plain, (unsigned long long)b.M, b.k, b.f);
		/* what the element templates may skip unread ends where reading it would, a plain decimal */
		const char *qs = pat_number_shape(p, e);
		if (qs && (qs != qb || !b.plain))
			fail_msg("%s at %u: shape end %td, general end %td plain %d", num, at, qs - p, qb ? qb - p : -1, b.plain);
	}
}

/* The AVX2 walk against the portable one on numbers of every shape — integer and fraction lengths up
 * to 12 and 20 digits (past the 8-digit steps of the digit scan and the 19-digit exact parts), leading
 * zeros, exponents, signs, malformed forms ("1.", "-", "01", "1e") — with and without 32 bytes after
 * them, matched against numeric ranges, exact numbers and number texts. */
static void number_scanners(void **st)
{
	(void)st;
	static const char *const pats[] = {
		"{\"n\":[{\"numeric\":[\"<\",0]}]}",
		"{\"n\":[{\"numeric\":[\">\",1000]}]}",
		"{\"n\":[{\"numeric\":[\">=\",-122.41600944012424,\"<\",-122.4]}]}",
		"{\"n\":[{\"numeric\":[\"=\",37.5]}]}",
		"{\"n\":[37.80996902979933]}",
		"{\"n\":[{\"numeric\":[\">\",12345678.5,\"<=\",12345679]}]}",
		"{\"n\":[{\"numeric\":[\"=\",0.1]}]}",
	};
	enum { NP = sizeof pats / sizeof pats[0] };
	pat_builder *b = pat_builder_new();
	pat_set *s = set_of(pats, NP, b);
	pat_scratch *sc = pat_scratch_new();
	static const char *const fixed[] = {"37.5", "37.50", "-122.41600944012424", "-122.400000000000001", "0.1",
					    "0.10", "12345679", "12345679.0", "123456789.5", "37.80996902979933",
					    "37.809969029799330", "1.", "-", "01", "1e", "-0", "1e3", "-122.4e0",
					    /* 32 digits and more: the digit mask is all ones (fuzz_pat_event) */
					    "66666666666666666666666666666666666666666", "-12345678901234567890123456789012.5"};
	int level = pat_simd_set(PAT_SIMD_HIGHEST);
	char num[64], ev[160];
	for (int it = 0; it < 20000; it++) {
		size_t n = 0;
		if (it < (int)(2 * (sizeof fixed / sizeof fixed[0]))) {
			n = (size_t)snprintf(num, sizeof num, "%s", fixed[it / 2]);
		} else {
			if (rnd(2))
				num[n++] = '-';
			unsigned ni = rnd(12), nf = rnd(4) ? rnd(21) : 0;
			if (ni == 0 || rnd(10) == 0)
				num[n++] = '0'; /* a leading zero: alone, or before more digits (malformed) */
			bool zero = n && num[n - 1] == '0';
			for (unsigned i = 0; i < ni; i++) {
				char dg = (char)('0' + (i == 0 && !zero ? 1 + rnd(9) : rnd(10)));
				num[n++] = dg;
			}
			if (nf || rnd(20) == 0) {
				num[n++] = '.';
				for (unsigned i = 0; i < nf; i++)
					num[n++] = (char)('0' + rnd(10));
			}
			if (rnd(8) == 0) {
				num[n++] = rnd(2) ? 'e' : 'E';
				if (rnd(2))
					num[n++] = rnd(2) ? '+' : '-';
				for (unsigned i = rnd(4); i > 0; i--)
					num[n++] = (char)('0' + rnd(10));
			}
			num[n] = 0;
		}
		scanners_alike(num, n, (unsigned)it % 8);
		int len = it % 2 ? snprintf(ev, sizeof ev, "{\"n\":%s}", num)
				 : snprintf(ev, sizeof ev, "{\"n\":%s,\"pad\":\"................................\"}", num);
		walks_agree(s, sc, ev, (size_t)len, NP, level);
	}
	pat_simd_set(-1);
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
}

static void portable_walk(void **st)
{
	(void)st;
	static const char *const pats[] = {
		"{\"a\":{\"b\":[\"x\",{\"prefix\":\"y\"}]},\"c\":[{\"numeric\":[\">\",1.5]}]}",
		"{\"a.b\":[{\"suffix\":\"z\"}],\"d\":[{\"exists\":false}]}",
		"{\"arr\":{\"k\":[1],\"m\":[\"q\"]}}",
		"{\"s\":[{\"wildcard\":\"*\\\\\\\\*x*\"}]}",
	};
	enum { NP = sizeof pats / sizeof pats[0] };
	pat_builder *b = pat_builder_new();
	pat_set *s = set_of(pats, NP, b);
	pat_scratch *sc = pat_scratch_new();
	/* events with the keys at block boundaries, escapes, long strings and padding */
	static const char *const bits[] = {
		"\"a\":{\"b\":\"x\"}", "\"a.b\":\"zz\"", "\"c\":2", "\"c\":1.5", "\"d\":null", "\"s\":\"\\\\*x\"",
		"\"s\":\"a\\\"b\\\\*xq\"", "\"arr\":[{\"k\":1,\"m\":\"q\"},{\"k\":2}]", "\"pad\":\"................\"",
		"\"e\":{\"f\":[1,[2,{\"g\":\"}]\"}]]}", "\"a\":{\"b\":\"yes\"}", "\"x\\\\\":\"\\u0041\"",
	};
	char ev[4096];
	int level = pat_simd_set(PAT_SIMD_HIGHEST);
	for (int e = 0; e < 3000; e++) {
		size_t n = 0;
		ev[n++] = '{';
		int parts = 1 + (int)rnd(12);
		for (int k = 0; k < parts; k++) {
			const char *x = bits[rnd(sizeof bits / sizeof bits[0])];
			if (k)
				ev[n++] = ',';
			size_t l = strlen(x);
			memcpy(ev + n, x, l);
			n += l;
			if (rnd(8) == 0)
				ev[n++] = ' ';
		}
		ev[n++] = '}';
		ev[n] = 0;
		walks_agree(s, sc, ev, n, NP, level);
	}
	pat_simd_set(-1);
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(many_ranges), cmocka_unit_test(ranges_in_arrays),
					   cmocka_unit_test(many_affixes), cmocka_unit_test(many_anything_but),
					   cmocka_unit_test(many_exact), cmocka_unit_test(many_exact_ids), cmocka_unit_test(batch_like_single),
					   cmocka_unit_test(incremental), cmocka_unit_test(number_scanners), cmocka_unit_test(portable_walk)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
