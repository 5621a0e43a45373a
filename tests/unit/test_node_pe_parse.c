/* tests/unit/test_node_pe_parse.c — the one-pass PutEvents reader (node/pe_parse.c) against jansson.
 *
 * The property: whenever pe_parse_fast accepts a body, jansson (json_loadb with JSON_ALLOW_NUL, as the
 * general reader uses) accepts it too and yields the same members — same strings byte for byte, same
 * Time value, same Resources. Checked on a table of ordinary and tricky bodies (escapes, surrogate
 * pairs, UTF-8, numbers, whitespace), on bodies that must go to the general reader (duplicates, nulls,
 * unknown members, \u0000, invalid UTF-8, syntax errors), and on many random mutations of valid bodies
 * (ASan checks that nothing reads or writes out of bounds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_int.h"

static bool same_str(const char *fast, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!fast)
		return v == NULL;
	return json_is_string(v) && strlen(fast) == json_string_length(v) && strcmp(fast, json_string_value(v)) == 0;
}

/* When the fast reader accepts body, jansson must agree on everything. Returns whether it accepted. */
static bool check_equivalent(const char *body, size_t len)
{
	pe_parsed p;
	if (pe_parse_fast(body, len, &p) != PE_PARSED)
		return false;
	json_error_t err;
	json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &err);
	assert_non_null(root);
	assert_true(json_is_object(root));
	assert_int_equal(json_object_size(root), 1);
	json_t *entries = json_object_get(root, "Entries");
	assert_true(json_is_array(entries));
	assert_int_equal(json_array_size(entries), p.n);
	assert_true(p.n >= 1 && p.n <= PE_MAX_ENTRIES);
	for (size_t i = 0; i < p.n; i++) {
		json_t *e = json_array_get(entries, i);
		const pe_fields *f = &p.f[i];
		assert_true(json_is_object(e));
		assert_true(same_str(f->source, e, "Source"));
		assert_true(same_str(f->detail_type, e, "DetailType"));
		assert_true(same_str(f->detail, e, "Detail"));
		assert_true(same_str(f->bus_in, e, "EventBusName"));
		assert_true(same_str(f->trace, e, "TraceHeader"));
		if (f->detail)
			assert_int_equal(f->detail_len, strlen(f->detail));
		json_t *t = json_object_get(e, "Time");
		assert_int_equal(f->has_time, t != NULL);
		if (t) {
			assert_true(json_is_number(t));
			assert_true(f->time_s == json_number_value(t));
		}
		json_t *res = json_object_get(e, "Resources");
		if (!res) {
			assert_int_equal(f->n_resources, 0);
		} else {
			assert_true(json_is_array(res));
			assert_int_equal(f->n_resources, json_array_size(res));
			for (size_t j = 0; j < f->n_resources; j++) {
				json_t *r = json_array_get(res, j);
				assert_true(json_is_string(r));
				assert_string_equal(f->resources[j], json_string_value(r));
			}
		}
		/* no member the fast reader does not know */
		size_t known = 0;
		const char *names[] = {"Source", "DetailType", "Detail", "EventBusName", "TraceHeader", "Time", "Resources"};
		for (size_t k = 0; k < BB_ARRAY_LEN(names); k++)
			known += json_object_get(e, names[k]) != NULL;
		assert_int_equal(known, json_object_size(e));
	}
	json_decref(root);
	pe_parsed_free(&p);
	return true;
}

static bool fast_ok(const char *body) { return check_equivalent(body, strlen(body)); }

static void test_accepted(void **state)
{
	(void)state;
	static const char *cases[] = {
		"{\"Entries\":[{\"Source\":\"shop\",\"DetailType\":\"order\",\"Detail\":\"{\\\"a\\\": 1}\"}]}",
		" \n{ \"Entries\" : [ { \"Source\" : \"s\" , \"Detail\" : \"{}\" } , {} ] } \r\n\t",
		"{\"Entries\":[{\"Source\":\"s\",\"DetailType\":\"d\",\"Detail\":\"{}\",\"Time\":1640995200,"
		"\"Resources\":[\"r1\",\"r2\"],\"EventBusName\":\"arn:aws:events:us-east-1:000000000000:event-bus/b\","
		"\"TraceHeader\":\"Root=1\"}]}",
		"{\"Entries\":[{\"Time\":1640995200.75},{\"Time\":-0},{\"Time\":1.5e9},{\"Time\":0},{\"Time\":123456789012345678}]}",
		"{\"Entries\":[{\"Resources\":[]},{\"Resources\":[\"\"]}]}",
		"{\"Entries\":[{\"Detail\":\"{\\\"k\\\": \\\"\\u00e9\\u20ac\\ud83d\\ude00 \\\\n \\/ \\b\\f\\n\\r\\t\\\"}\"}]}",
		"{\"Entries\":[{\"Source\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"DetailType\":\"\\\"\\\\\"}]}",
		"{\"Entries\":[{},{},{},{},{},{},{},{},{},{}]}",
		"{\"Entries\":[{\"Source\":\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"}]}",
	};
	for (size_t i = 0; i < BB_ARRAY_LEN(cases); i++) {
		if (!fast_ok(cases[i]))
			fail_msg("case %zu went to the general reader: %s", i, cases[i]);
	}
}

static void test_general(void **state)
{
	(void)state;
	static const char *cases[] = {
		"",
		"{}",
		"[]",
		"{\"Entries\":[]}",
		"{\"Entries\":null}",
		"{\"Entries\":[{}],\"EndpointId\":\"x\"}",
		"{\"Entries\":[{}],\"Entries\":[{}]}",
		"{\"Entries\":[{},{},{},{},{},{},{},{},{},{},{}]}",
		"{\"Entries\":[{\"Source\":\"a\",\"Source\":\"b\"}]}",
		"{\"Entries\":[{\"Source\":null}]}",
		"{\"Entries\":[{\"Source\":1}]}",
		"{\"Entries\":[{\"Time\":\"1\"}]}",
		"{\"Entries\":[{\"Time\":null}]}",
		"{\"Entries\":[{\"Time\":1234567890123456789}]}",
		"{\"Entries\":[{\"Time\":1e400}]}",
		"{\"Entries\":[{\"Time\":01}]}",
		"{\"Entries\":[{\"Time\":1.}]}",
		"{\"Entries\":[{\"Other\":\"x\"}]}",
		"{\"Entries\":[{\"Resources\":[1]}]}",
		"{\"Entries\":[{\"Resources\":\"r\"}]}",
		"{\"Entries\":[{\"Source\":\"a\\u0000b\"}]}",
		"{\"Entries\":[{\"Source\":\"\\ud800\"}]}",
		"{\"Entries\":[{\"Source\":\"\\udc00\"}]}",
		"{\"Entries\":[{\"Source\":\"\\ud800\\u0041\"}]}",
		"{\"Entries\":[{\"Source\":\"\xc0\xaf\"}]}",
		"{\"Entries\":[{\"Source\":\"\xed\xa0\x80\"}]}",
		"{\"Entries\":[{\"Source\":\"\xf4\x90\x80\x80\"}]}",
		"{\"Entries\":[{\"Source\":\"\xe2\x82\"}]}",
		"{\"Entries\":[{\"Source\":\"a\nb\"}]}",
		"{\"Entries\":[{\"Source\":\"\\x\"}]}",
		"{\"Entries\":[{\"Source\":\"a\"}]} x",
		"{\"Entries\":[{\"Source\":\"a\"},]}",
		"{\"Entries\":[{\"Source\":\"a\",}]}",
		"{\"Entr\\u0069es\":[{}]}",
		"{\"Entries\":[{\"Source\":\"a\"}]",
	};
	for (size_t i = 0; i < BB_ARRAY_LEN(cases); i++) {
		pe_parsed p;
		if (pe_parse_fast(cases[i], strlen(cases[i]), &p) != PE_GENERAL)
			fail_msg("case %zu was accepted by the fast reader: %s", i, cases[i]);
	}
}

/* Random mutations of valid bodies: the fast reader either declines, or agrees with jansson. */
static void test_mutations(void **state)
{
	(void)state;
	static const char *seeds[] = {
		"{\"Entries\":[{\"Source\":\"shop\",\"DetailType\":\"order\",\"Detail\":\"{\\\"a\\\":[1,2.5,\\\"\\u00e9\\\"]}\","
		"\"Time\":1640995200,\"Resources\":[\"r1\",\"r\\u00e92\"]},{\"Source\":\"x\",\"EventBusName\":\"b\"}]}",
		"{\"Entries\":[{\"Detail\":\"{\\\"e\\\":\\\"\\ud83d\\ude00\xc3\xa9\\\"}\",\"TraceHeader\":\"t\",\"Time\":-1.25e3}]}",
	};
	static const char alphabet[] = "{}[]\",:\\u0123456789abcdefABCDEF .-+eE\xc3\xa9\xed\xa0\x80\xf0\x9f\x98\x80\n\t";
	uint64_t rng = 0x9E3779B97F4A7C15ull;
	size_t accepted = 0;
	for (int round = 0; round < 40000; round++) {
		const char *seed = seeds[round % BB_ARRAY_LEN(seeds)];
		size_t len = strlen(seed);
		char buf[512];
		memcpy(buf, seed, len);
		int edits = 1 + (int)(rng % 3);
		for (int e = 0; e < edits; e++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t at = (size_t)(rng >> 33) % len;
			unsigned op = (unsigned)(rng >> 20) % 3;
			char ch = alphabet[(rng >> 40) % (sizeof alphabet - 1)];
			if (op == 0) {
				buf[at] = ch;
			} else if (op == 1 && len + 1 < sizeof buf) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = ch;
				len++;
			} else if (len > 1) {
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
			}
		}
		/* an exact-size heap copy, so ASan sees any read past the end */
		char *body = malloc(len);
		memcpy(body, buf, len);
		accepted += check_equivalent(body, len);
		free(body);
	}
	print_message("%zu of 40000 mutations accepted by the fast reader\n", accepted);
	assert_true(accepted > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_general),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
