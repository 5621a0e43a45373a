/* tests/unit/test_xform_compile.c — xform_compile: what PutTargets accepts and rejects, with the
 * exact messages (AWS's where recorded: exclusivity and invalid placeholder from LocalStack's
 * AWS-validated snapshots, Input from an AWS error quoted in awsdocs/aws-cloudformation-user-guide
 * issue 1010; Busbar's own elsewhere, listed in docs/transform.md), the JSONPath grammar and the
 * template/placeholder rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/xform/xform.h"

static char msg[XFORM_MSG_MAX];

static bb_err comp(const char *input, const char *path, json_t *xf, xform **x)
{
	memset(msg, 'X', sizeof msg);
	bb_err e = xform_compile("tgt-1", input, path, xf, x, msg, sizeof msg);
	assert_true(memchr(msg, '\0', sizeof msg) != NULL);
	if (e != BB_OK)
		assert_null(*x);
	else
		assert_string_equal(msg, "");
	return e;
}

static void ok_input(const char *input)
{
	xform *x = NULL;
	if (comp(input, NULL, NULL, &x) != BB_OK)
		fail_msg("Input %s rejected: %s", input, msg);
	assert_non_null(x);
	/* delivered verbatim, whatever the event */
	char *out;
	size_t len;
	assert_int_equal(xform_apply(x, "not json", 8, NULL, &out, &len), BB_OK);
	assert_int_equal(len, strlen(input));
	assert_memory_equal(out, input, len);
	free(out);
	xform_free(x);
}

static void bad_input(const char *input)
{
	xform *x = NULL;
	if (comp(input, NULL, NULL, &x) != BB_EINVAL)
		fail_msg("Input %s accepted", input);
	assert_string_equal(msg, "Input for target tgt-1 is not a valid JSON text.");
}

static void ok_path(const char *p)
{
	xform *x = NULL;
	if (comp(NULL, p, NULL, &x) != BB_OK)
		fail_msg("InputPath %s rejected: %s", p, msg);
	xform_free(x);
}

static void bad_path(const char *p)
{
	xform *x = NULL;
	if (comp(NULL, p, NULL, &x) != BB_EINVAL)
		fail_msg("InputPath %s accepted", p);
	assert_string_equal(msg, "InputPath for target tgt-1 is not a valid JSON path.");
}

/* An InputTransformer from a template and a JSON map text (NULL = no map). */
static json_t *xf_of(const char *tmpl, const char *map)
{
	json_t *it = json_object();
	if (tmpl)
		json_object_set_new(it, "InputTemplate", json_string(tmpl));
	if (map) {
		json_error_t jerr;
		json_t *m = json_loads(map, JSON_DECODE_ANY, &jerr);
		assert_non_null(m);
		json_object_set_new(it, "InputPathsMap", m);
	}
	return it;
}

static bb_err comp_xf(const char *tmpl, const char *map)
{
	json_t *it = xf_of(tmpl, map);
	xform *x = NULL;
	bb_err e = comp(NULL, NULL, it, &x);
	xform_free(x);
	json_decref(it);
	return e;
}

static void xf_ok(const char *tmpl, const char *map)
{
	if (comp_xf(tmpl, map) != BB_OK)
		fail_msg("template %s rejected: %s", tmpl ? tmpl : "(none)", msg);
}

static void xf_bad(const char *tmpl, const char *map, const char *want)
{
	if (comp_xf(tmpl, map) != BB_EINVAL)
		fail_msg("template %s accepted", tmpl ? tmpl : "(none)");
	assert_string_equal(msg, want);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_none_is_identity(void **state)
{
	(void)state;
	xform *x = (xform *)1;
	assert_int_equal(comp(NULL, NULL, NULL, &x), BB_OK);
	assert_null(x);
}

static void test_exclusivity(void **state)
{
	(void)state;
	const char *want = "Only one of Input, InputPath, or InputTransformer must be provided for target tgt-1.";
	json_t *it = xf_of("\"x\"", NULL);
	xform *x;
	assert_int_equal(comp("{}", "$.detail", NULL, &x), BB_EINVAL);
	assert_string_equal(msg, want);
	assert_int_equal(comp("{}", NULL, it, &x), BB_EINVAL);
	assert_string_equal(msg, want);
	assert_int_equal(comp(NULL, "$.detail", it, &x), BB_EINVAL);
	assert_string_equal(msg, want);
	assert_int_equal(comp("{}", "$", it, &x), BB_EINVAL);
	assert_string_equal(msg, want);
	/* exclusivity is checked before anything else (LS snapshot: a valid transformer + InputPath) */
	assert_int_equal(comp("not json", "bad path", it, &x), BB_EINVAL);
	assert_string_equal(msg, want);
	json_decref(it);
}

static void test_input(void **state)
{
	(void)state;
	ok_input("{\"target_value\":\"value\"}");
	ok_input("{\"custom-value\": \"somecustominput\"}");
	ok_input(" [1, 2, \"three\"] \n");
	ok_input("\"plain\"");
	ok_input("42");
	ok_input("-0.5e-7");
	ok_input("true");
	ok_input("null");
	ok_input("{\"big\":123456789012345678901234567890,\"tiny\":1e-400,\"u\":\"\\u00e9\\ud83d\\ude00\"}");
	ok_input("{\"a\":{\"b\":[{},[],\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]}}");
	ok_input("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
	bad_input("");
	bad_input("   ");
	bad_input("NotJSON");
	bad_input("{");
	bad_input("{{}");
	bad_input("{\"a\":1} x");
	bad_input("{\"a\":1}{}");
	bad_input("'x'");
	bad_input("{'a':1}");
	bad_input("{\"a\":01}");
	bad_input("{\"a\":1.}");
	bad_input("{\"a\":.5}");
	bad_input("{\"a\":+1}");
	bad_input("{\"a\":1e}");
	bad_input("[1,]");
	bad_input("{\"a\":1,}");
	bad_input("{\"a\"}");
	bad_input("[tru]");
	bad_input("nulls");
	bad_input("\"tab\there\"");
	bad_input("\"\\x\"");
	bad_input("\"\\u12\"");
	bad_input("\"\xc3\"");        /* truncated UTF-8 */
	bad_input("\"\xc0\xaf\"");    /* overlong */
	bad_input("\"\xed\xa0\x80\""); /* UTF-8-encoded surrogate */
	bad_input("\"\xf4\x90\x80\x80\""); /* above U+10FFFF */
	bad_input("NaN");
	bad_input("Infinity");
}

static void test_input_nesting_limit(void **state)
{
	(void)state;
	size_t n = 2048;
	char *s = malloc(2 * n + 1);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	ok_input(s);
	free(s);
	n = 2049;
	s = malloc(2 * n + 1);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	bad_input(s);
	free(s);
}

static void test_input_path_grammar(void **state)
{
	(void)state;
	/* AWS-recorded and documented forms */
	ok_path("$");
	ok_path("$.detail");
	ok_path("$.detail.payload");
	ok_path("$.detail.payload.sf_id");
	ok_path("$.notexisting");
	ok_path("$.detail-type");
	ok_path("$.resources[0]");
	ok_path("$.detail.resources[0].details.awsEc2Instance.platform");
	ok_path("$.detail.items[*].id");
	ok_path("$.detail.*");
	ok_path("$.detail.a/b");
	ok_path("$.detail.under_score.CAPS.d1g1ts");
	/* bracket notation (allowed for InputPath by the current API reference) */
	ok_path("$['detail']");
	ok_path("$[\"detail-type\"]");
	ok_path("$['detail']['with space']");
	ok_path("$['']");
	/* Busbar's leniency: other name bytes, negative indices */
	ok_path("$.detail.aws:cloudformation:stack-name");
	ok_path("$.detail.@timestamp");
	ok_path("$.detail.$meta");
	ok_path("$.detail.caf\xc3\xa9");
	ok_path("$.list[-1]");
	ok_path("$.list[2147483647]");
	bad_path("");
	bad_path("detail");
	bad_path(".detail");
	bad_path("$.");
	bad_path("$.detail.");
	bad_path("$..detail");
	bad_path("$.a..b");
	bad_path("$ .a");
	bad_path("$.a b");
	bad_path("$.a\tb");
	bad_path("$.a*");
	bad_path("$.a(b)");
	bad_path("$.a?b");
	bad_path("$.a\\b");
	bad_path("$.a'b");
	bad_path("$.a]");
	bad_path("$[");
	bad_path("$[0");
	bad_path("$[]");
	bad_path("$[a]");
	bad_path("$[-0]");
	bad_path("$[-]");
	bad_path("$[2147483648]");
	bad_path("$[0,1]");
	bad_path("$[0:2]");
	bad_path("$[?(@.a)]");
	bad_path("$['a]");
	bad_path("$['a\"]");
	bad_path("$['a'");
	bad_path("$.length()");
	bad_path("$$");
	bad_path("@.a");
}

static void test_paths_map(void **state)
{
	(void)state;
	/* ≤ 100 entries */
	char big[101 * 32] = "{";
	for (int i = 0; i < 100; i++)
		snprintf(big + strlen(big), sizeof big - strlen(big), "%s\"k%d\":\"$.detail\"", i ? "," : "", i);
	strcat(big, "}");
	xf_ok("\"x\"", big);
	big[strlen(big) - 1] = '\0';
	strcat(big, ",\"k100\":\"$.detail\"}");
	xf_bad("\"x\"", big, "InputPathsMap for target tgt-1 has more than 100 entries.");
	/* keys: [A-Za-z0-9_-]+, 1..256 */
	xf_ok("\"<A-z_0-9>\"", "{\"A-z_0-9\":\"$.a\"}");
	xf_bad("\"x\"", "{\"bad key\":\"$.a\"}", "InputPathsMap for target tgt-1 contains invalid key bad key.");
	xf_bad("\"x\"", "{\"\":\"$.a\"}", "InputPathsMap for target tgt-1 contains invalid key .");
	xf_bad("\"x\"", "{\"a.b\":\"$.a\"}", "InputPathsMap for target tgt-1 contains invalid key a.b.");
	char k256[300], map[400];
	memset(k256, 'k', 256);
	k256[256] = '\0';
	snprintf(map, sizeof map, "{\"%s\":\"$.a\"}", k256);
	xf_ok("\"x\"", map);
	snprintf(map, sizeof map, "{\"%sk\":\"$.a\"}", k256);
	assert_int_equal(comp_xf("\"x\"", map), BB_EINVAL);
	/* reserved variable names cannot be defined */
	static const char *const reserved[] = {"aws.events.rule-arn", "aws.events.rule-name",
					       "aws.events.event.ingestion-time", "aws.events.event",
					       "aws.events.event.json"};
	for (size_t i = 0; i < 5; i++) {
		char m[128], want[160];
		snprintf(m, sizeof m, "{\"%s\":\"$.source\"}", reserved[i]);
		snprintf(want, sizeof want, "InputPathsMap for target tgt-1 cannot define reserved variable %s.", reserved[i]);
		xf_bad("{\"a\": <aws.events.rule-arn>}", m, want);
	}
	/* values: JSON paths; $.resources[0] is fine; nothing checks they exist */
	xf_ok("{\"r\": <first>, \"n\": <nope>}", "{\"first\":\"$.resources[0]\",\"nope\":\"$.not.in.any.event\"}");
	xf_bad("\"x\"", "{\"a\":\"$.ok\",\"b\":\"detail.x\"}",
	       "InputPathsMap for target tgt-1 contains an invalid JSON path for key b.");
	xf_bad("\"x\"", "{\"a\":\"\"}", "InputPathsMap for target tgt-1 contains an invalid JSON path for key a.");
	xf_bad("\"x\"", "{\"a\":\"$..x\"}", "InputPathsMap for target tgt-1 contains an invalid JSON path for key a.");
	xf_bad("\"x\"", "{\"a\":1}", "InputPathsMap for target tgt-1 must be a map of strings.");
	xf_bad("\"x\"", "[]", "InputPathsMap for target tgt-1 must be a map of strings.");
	xf_ok("\"x\"", "{}");
	xf_ok("\"x\"", "null");
}

static void test_template_required(void **state)
{
	(void)state;
	xf_bad(NULL, "{\"a\":\"$.a\"}", "InputTemplate for target tgt-1 is required.");
	xf_bad("", NULL, "InputTemplate for target tgt-1 is required.");
	json_t *it = json_pack("{s:i}", "InputTemplate", 5);
	xform *x;
	assert_int_equal(comp(NULL, NULL, it, &x), BB_EINVAL);
	assert_string_equal(msg, "InputTemplate for target tgt-1 is required.");
	json_decref(it);
	it = json_array();
	assert_int_equal(comp(NULL, NULL, it, &x), BB_EINVAL);
	assert_string_equal(msg, "InputTransformer for target tgt-1 must be an object.");
	json_decref(it);
}

static void test_placeholders(void **state)
{
	(void)state;
	const char *map = "{\"detail-type\":\"$.detail-type\",\"timestamp\":\"$.time\",\"command\":\"$.detail.command\"}";
	/* the LS snapshot case */
	xf_bad("\"Event of <detail-type> type, with not defined key <notdefinedkey>\"", map,
	       "InputTemplate for target tgt-1 contains invalid placeholder notdefinedkey.");
	/* the first undefined one, in template order, in every kind of template and context */
	xf_bad("{\"a\": <x1>, \"b\": \"<x2>\"}", NULL, "InputTemplate for target tgt-1 contains invalid placeholder x1.");
	xf_bad("{\"b\": \"<x2>\", \"a\": <x1>}", NULL, "InputTemplate for target tgt-1 contains invalid placeholder x2.");
	xf_bad("<bare> text", NULL, "InputTemplate for target tgt-1 contains invalid placeholder bare.");
	xf_bad("\"<aws.events.rule>\"", NULL, "InputTemplate for target tgt-1 contains invalid placeholder aws.events.rule.");
	xf_bad("\"<AWS.EVENTS.RULE-ARN>\"", NULL,
	       "InputTemplate for target tgt-1 contains invalid placeholder AWS.EVENTS.RULE-ARN.");
	xf_bad("\"<command> <Command>\"", map, "InputTemplate for target tgt-1 contains invalid placeholder Command.");
	/* reserved variables need no map */
	xf_ok("{\"arn\": <aws.events.rule-arn>, \"name\": <aws.events.rule-name>, \"t\": <aws.events.event.ingestion-time>, "
	      "\"e\": <aws.events.event>, \"j\": <aws.events.event.json>}",
	      NULL);
	xf_ok("\"<aws.events.rule-name> triggered\"", NULL);
	/* map entries need not be used; repeated placeholders are fine */
	xf_ok("\"<command> <command> <command>\"", map);
	/* `<` that does not open a name closed by `>` is text */
	xf_ok("\"a < b > c\"", NULL);
	xf_ok("\"<>\"", NULL);
	xf_ok("\"<a b>\"", NULL);
	xf_ok("\"</b>\"", NULL);
	xf_ok("\"<x\"", NULL);
	xf_ok("\"<<command>>\"", map);
	/* templates are not validated as JSON at PutTargets (AWS delivered a multi-line string template) */
	xf_ok("\"a\"\n\"b\"", NULL);
	xf_ok("{\"a\": ", NULL);
	xf_ok("plain text", NULL);
}

static void test_messages_bounded(void **state)
{
	(void)state;
	/* a tiny message buffer is still NUL-terminated; cap 0 with a NULL buffer is allowed */
	json_t *it = xf_of("\"<undefined_placeholder_with_a_long_name>\"", NULL);
	xform *x;
	char small[8];
	assert_int_equal(xform_compile("t", NULL, NULL, it, &x, small, sizeof small), BB_EINVAL);
	assert_string_equal(small, "InputTe");
	assert_int_equal(xform_compile("t", NULL, NULL, it, &x, NULL, 0), BB_EINVAL);
	assert_null(x);
	/* a NULL target id reads as "" */
	assert_int_equal(xform_compile(NULL, "{", NULL, NULL, &x, msg, sizeof msg), BB_EINVAL);
	assert_string_equal(msg, "Input for target  is not a valid JSON text.");
	json_decref(it);
	xform_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_is_identity),
		cmocka_unit_test(test_exclusivity),
		cmocka_unit_test(test_input),
		cmocka_unit_test(test_input_nesting_limit),
		cmocka_unit_test(test_input_path_grammar),
		cmocka_unit_test(test_paths_map),
		cmocka_unit_test(test_template_required),
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_messages_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
