/* tests/unit/test_node_jout.c — direct JSON output (node/jout.c) escapes every byte exactly as jansson's
 * compact json_dumps does (every single byte value, UTF-8 sequences, random strings), and builds
 * larger texts across buffer growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "node/node_int.h"

static void expect_same(const char *s, size_t n)
{
	json_t *v = json_stringn_nocheck(s, n);
	assert_non_null(v);
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	assert_non_null(want);
	jout o = {0};
	jo_str(&o, s, n);
	char *got = jo_finish(&o);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

static void test_every_byte(void **state)
{
	(void)state;
	for (int b = 1; b < 128; b++) {
		char s[3] = {'a', (char)b, 'z'};
		expect_same(s, 3);
	}
	expect_same("", 0);
	expect_same("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xe2\x80\xa8", 13);
	expect_same("{\"a\":\"b\\\\c\"}\n\t", 15);
}

static void test_random(void **state)
{
	(void)state;
	static const char pool[] = "ab\"\\/\b\f\n\r\t\x01\x1f\x7f \xc3\xa9";
	uint64_t r = 12345;
	for (int round = 0; round < 2000; round++) {
		char s[300];
		size_t n = (size_t)(r >> 40) % sizeof s;
		for (size_t i = 0; i < n; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			s[i] = pool[(r >> 33) % (sizeof pool - 1)];
		}
		expect_same(s, n);
	}
}

static void test_growth(void **state)
{
	(void)state;
	jout o = {0};
	jo_lit(&o, "[");
	for (int i = 0; i < 5000; i++) {
		if (i)
			jo_lit(&o, ",");
		jo_cstr(&o, "x\"y");
	}
	jo_lit(&o, "]");
	char *got = jo_finish(&o);
	json_error_t err;
	json_t *v = json_loads(got, 0, &err);
	assert_non_null(v);
	assert_int_equal(json_array_size(v), 5000);
	assert_string_equal(json_string_value(json_array_get(v, 4999)), "x\"y");
	json_decref(v);
	free(got);
	jout empty = {0};
	char *e = jo_finish(&empty);
	assert_string_equal(e, "");
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
