/* tests/unit/test_node_jmin.c — json_minify (node/jmin.c): the PutEvents Detail validator keeps numbers and
 * key order byte for byte, drops only insignificant whitespace, and rejects every malformed input of a table
 * plus random mutations (never reading past the input: ASan checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "node/node_int.h"

static bool mini(const char *in, bool obj, char *out)
{
	size_t n = 0;
	char *buf = malloc(strlen(in) + 1);
	bool ok = json_minify(in, strlen(in), buf, &n, obj);
	if (ok) {
		memcpy(out, buf, n);
		out[n] = '\0';
	}
	free(buf);
	return ok;
}

static void test_valid(void **state)
{
	(void)state;
	static const char *cases[][2] = {
		{"{}", "{}"},
		{" { \"a\" : 1 , \"b\" : [ 1 , 2.50 , -0 , 1e400 , true , false , null ] } ", "{\"a\":1,\"b\":[1,2.50,-0,1e400,true,false,null]}"},
		{"{\"big\": 123456789012345678901234567890}", "{\"big\":123456789012345678901234567890}"},
		{"{\"s\": \"a b\\\" \\\\ \\u00e9 \\n\"}", "{\"s\":\"a b\\\" \\\\ \\u00e9 \\n\"}"},
		{"{\"z\":1,\"a\":2,\"z\":3}", "{\"z\":1,\"a\":2,\"z\":3}"},
		{"{\"n\":{\"m\":{\"o\":[[],[{}]]}}}", "{\"n\":{\"m\":{\"o\":[[],[{}]]}}}"},
		{"{\"u\":\"\xc3\xa9\xe2\x82\xac\"}", "{\"u\":\"\xc3\xa9\xe2\x82\xac\"}"},
	};
	char out[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_true(mini(cases[i][0], true, out));
		assert_string_equal(out, cases[i][1]);
	}
	assert_true(mini("[1]", false, out));
	assert_true(mini("\"x\"", false, out));
}

static void test_invalid(void **state)
{
	(void)state;
	static const char *bad[] = {"", " ", "NotJSON", "[]", "\"x\"", "1", "{{}", "{\"a\":}", "{\"a\":1,}", "{} {}",
				    "{\"a\" 1}", "{a:1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}",
				    "{\"a\":-}", "{\"a\":tru}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\x01\"}",
				    "{\"a\":\"open}", "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":{]}", "{\"a\":1]", "{,}",
				    "{\"a\":1}}", "{\"a\":NaN}", "{\"a\":+1}"};
	char out[512];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (mini(bad[i], true, out))
			fail_msg("accepted: %s", bad[i]);
	}
}

static void test_depth_bound(void **state)
{
	(void)state;
	size_t n = 100000;
	char *deep = malloc(2 * n + 8);
	strcpy(deep, "{\"a\":");
	size_t p = 5;
	for (size_t i = 0; i < n; i++)
		deep[p++] = '[';
	for (size_t i = 0; i < n; i++)
		deep[p++] = ']';
	deep[p++] = '}';
	deep[p] = '\0';
	char *out = malloc(p + 1);
	size_t ol;
	assert_false(json_minify(deep, p, out, &ol, true));
	free(out);
	free(deep);
}

static void test_random_mutations(void **state)
{
	(void)state;
	const char *seed = "{\"a\": [1, 2.5e3, {\"b\": \"x\\\"y\"}, true, null], \"c\": {\"d\": -0.1}}";
	size_t len = strlen(seed);
	srand(7);
	for (int it = 0; it < 200000; it++) {
		char buf[128];
		memcpy(buf, seed, len);
		size_t l = len;
		int muts = 1 + rand() % 3;
		for (int m = 0; m < muts && l > 1; m++) {
			size_t at = (size_t)rand() % l;
			switch (rand() % 3) {
			case 0:
				buf[at] = "{}[]\":,.-e0 \\tnu"[rand() % 16];
				break;
			case 1:
				memmove(buf + at, buf + at + 1, l - at - 1);
				l--;
				break;
			default:
				l = at + 1;
			}
		}
		char *in = malloc(l); /* exact size: ASan catches any overread */
		memcpy(in, buf, l);
		char out[128];
		size_t ol;
		if (json_minify(in, l, out, &ol, true))
			assert_true(ol <= l);
		free(in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_random_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
