/* tests/unit/test_pat_builder.c — builder add/replace/remove by id, published sets stay valid while the
 * builder keeps changing, match ids reported once each, cap/total semantics, malformed events (raw
 * control bytes in string values among them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/pattern/pat.h"

static void add(pat_builder *b, uint32_t id, const char *p)
{
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	assert_int_equal(pat_compile(p, strlen(p), NULL, &r, reason, sizeof(reason)), BB_OK);
	assert_int_equal(pat_builder_add(b, id, r), BB_OK);
	pat_rule_free(r);
}

static size_t match(pat_set *s, pat_scratch *sc, const char *ev, uint32_t *ids, size_t cap)
{
	size_t n = 99;
	assert_int_equal(pat_match(s, sc, ev, strlen(ev), ids, cap, &n), BB_OK);
	return n;
}

static void lifecycle(void **st)
{
	(void)st;
	pat_builder *b = pat_builder_new();
	pat_scratch *sc = pat_scratch_new();
	uint32_t ids[8];
	add(b, 1, "{\"a\":[\"x\"]}");
	add(b, 2, "{\"a\":[{\"prefix\":\"x\"}]}");
	add(b, 3, "{\"b\":[1]}");
	assert_int_equal(pat_builder_count(b), 3);
	pat_set *s1 = pat_builder_publish(b);
	assert_non_null(s1);
	assert_int_equal(pat_set_count(s1), 3);
	assert_true(pat_set_memory(s1) > 0);
	assert_int_equal(match(s1, sc, "{\"a\":\"x\",\"b\":1}", ids, 8), 3);
	/* replace id 1, remove id 2: s1 unchanged */
	add(b, 1, "{\"a\":[\"y\"]}");
	assert_int_equal(pat_builder_remove(b, 2), BB_OK);
	assert_int_equal(pat_builder_remove(b, 2), BB_ENOTFOUND);
	assert_int_equal(pat_builder_count(b), 2);
	pat_set *s2 = pat_builder_publish(b);
	assert_int_equal(match(s1, sc, "{\"a\":\"x\"}", ids, 8), 2);
	assert_int_equal(match(s2, sc, "{\"a\":\"x\"}", ids, 8), 0);
	assert_int_equal(match(s2, sc, "{\"a\":\"y\",\"b\":1.0}", ids, 8), 2);
	/* cap smaller than the total */
	assert_int_equal(match(s1, sc, "{\"a\":\"x\",\"b\":1}", ids, 1), 3);
	/* malformed / non-object events */
	size_t n = 5;
	assert_int_equal(pat_match(s2, sc, "[1]", 3, ids, 8, &n), BB_EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(pat_match(s2, sc, "{\"a\":", 5, ids, 8, &n), BB_EINVAL);
	pat_set_retain(s1);
	pat_set_release(s1);
	pat_set_release(s1);
	pat_set_release(s2);
	pat_scratch_free(sc);
	pat_builder_free(b);
}

/* A raw control byte (below 0x20) inside a used string value makes the event malformed wherever it
 * is — first, middle or last byte, in values of at most 16 bytes (tested in one load) and longer
 * ones — while control bytes just after the closing quote (whitespace) and escaped ones are fine. */
static void control_bytes(void **st)
{
	(void)st;
	pat_builder *b = pat_builder_new();
	pat_scratch *sc = pat_scratch_new();
	add(b, 1, "{\"a\":[{\"prefix\":\"\"}]}");
	pat_set *s = pat_builder_publish(b);
	uint32_t ids[4];
	static const char *const bad[] = {"\x01" "bc", "a\x1f" "c", "ab\n", "\t", "0123456789abcde\x02",
					  "0123456789abcdef\x02", "0123456789abcdefghij\x1f" "0123456789"};
	char ev[128];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(ev, sizeof ev, "{\"a\":\"%s\",\"z\":\"....................\"}", bad[i]);
		size_t n = 7;
		if (pat_match(s, sc, ev, strlen(ev), ids, 4, &n) != BB_EINVAL || n != 0)
			fail_msg("value %zu with a control byte was accepted", i);
	}
	static const char *const good[] = {"{\"a\":\"ab\"\n,\"z\":\"................\"}",
					   "{\"a\":\"\"\t}", "{\"a\":\"a\\tb\\u0001\",\"z\":\"................\"}",
					   "{\"a\":\"0123456789abcdef\"\r\n,\"z\":\"................\"}"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (match(s, sc, good[i], ids, 4) != 1)
			fail_msg("event %zu did not match", i);
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
}

static void many(void **st)
{
	(void)st;
	pat_builder *b = pat_builder_new();
	char p[128];
	for (uint32_t i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "{\"k\":[\"v%u\"],\"$or\":[{\"x\":[%u]},{\"y\":[{\"exists\":false}]}]}", i, i);
		add(b, i, p);
	}
	for (uint32_t i = 0; i < 5000; i += 2)
		assert_int_equal(pat_builder_remove(b, i), BB_OK);
	assert_int_equal(pat_builder_count(b), 2500);
	pat_set *s = pat_builder_publish(b);
	pat_scratch *sc = pat_scratch_new();
	uint32_t ids[4];
	assert_int_equal(match(s, sc, "{\"k\":\"v4\"}", ids, 4), 0);
	assert_int_equal(match(s, sc, "{\"k\":\"v7\"}", ids, 4), 1);
	assert_int_equal(ids[0], 7);
	assert_int_equal(match(s, sc, "{\"k\":\"v7\",\"y\":1}", ids, 4), 0);
	assert_int_equal(match(s, sc, "{\"k\":\"v7\",\"y\":1,\"x\":7}", ids, 4), 1);
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(lifecycle), cmocka_unit_test(control_bytes),
					   cmocka_unit_test(many)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
