/* tests/unit/test_xform_apply.c — xform_apply against what AWS delivered.
 *
 * The first group replays every case recorded on AWS in LocalStack's
 * tests/aws/services/events/test_events_inputs.snapshot.json (and the InputTransformer case of
 * test_events.snapshot.json): the same event, paths and templates, and the exact Body AWS delivered
 * (JSON bodies compared in minified form, with the snapshot's "date"/"<region>" placeholders filled
 * with this test's values). Cases AWS did not deliver must return BB_EINVAL. The second group covers
 * the rules of docs/transform.md that the snapshots do not reach.
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

#define EV_HEAD                                                                                            \
	"{\"version\":\"0\",\"id\":\"6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c\","                              \
	"\"detail-type\":\"core.update-account-command\",\"source\":\"core.update-account-command\","     \
	"\"account\":\"111111111111\",\"time\":\"2024-06-11T08:33:12Z\",\"region\":\"us-east-1\","         \
	"\"resources\":[],"

/* TEST_EVENT_DETAIL and SPECIAL_EVENT_DETAIL of LocalStack's test_events.py, as AWS delivers them. */
static const char *const EVENT = EV_HEAD
	"\"detail\":{\"command\":\"update-account\",\"payload\":{\"acc_id\":\"0a787ecb-4015\",\"sf_id\":\"baz\"}}}";
static const char *const SPECIAL = EV_HEAD
	"\"detail\":{\"command\":\"update-account\",\"payload\":{\"acc_id\":\"0a787ecb-4015\",\"sf_id\":\"baz\"},"
	"\"listsingle\":[\"HIGH\"],\"listmulti\":[\"ACTIVE\",\"INACTIVE\"],\"valid\":true}}";
static const char *const DUPKEY = EV_HEAD
	"\"detail\":{\"command\":\"update-account\",\"payload\":{\"acc_id\":\"0a787ecb-4015\","
	"\"payload\":{\"message\":\"baz\",\"id\":\"123\"}}}}";

static const char *const RULE_ARN = "arn:aws:events:us-east-1:111111111111:rule/test-bus/test-rule";
/* 2024-06-11T08:33:12.345Z */
#define INGEST_MS 1718094792345LL

/* The paths maps of the snapshot tests. */
static const char *const MAP_BASIC =
	"{\"detail-type\":\"$.detail-type\",\"timestamp\":\"$.time\",\"command\":\"$.detail.command\"}";
static const char *const MAP_MISSING =
	"{\"detail-type\":\"$.detail-type\",\"timestamp\":\"$.time\",\"command\":\"$.detail.notinmessage\"}";
static const char *const MAP_NESTED =
	"{\"userId\":\"$.detail.payload.acc_id\",\"payload\":\"$.detail.payload\",\"systemstring\":\"$.detail.awsAccountId\","
	"\"listsingle\":\"$.detail.listsingle\",\"listmulti\":\"$.detail.listmulti\",\"valid\":\"$.detail.valid\"}";

static xform *compile_xf(const char *tmpl, const char *map)
{
	json_t *it = json_object();
	json_object_set_new(it, "InputTemplate", json_string(tmpl));
	if (map) {
		json_error_t jerr;
		json_t *m = json_loads(map, 0, &jerr);
		assert_non_null(m);
		json_object_set_new(it, "InputPathsMap", m);
	}
	xform *x = NULL;
	char msg[XFORM_MSG_MAX];
	bb_err e = xform_compile("t1", NULL, NULL, it, &x, msg, sizeof msg);
	if (e != BB_OK)
		fail_msg("compile %s: %s", tmpl, msg);
	json_decref(it);
	assert_non_null(x);
	return x;
}

/* Applies x to event; want NULL = not deliverable (BB_EINVAL). */
static void check_x(const xform *x, const char *event, const char *want)
{
	xform_ctx ctx = {.rule_arn = RULE_ARN, .rule_name = "test-rule", .ingest_ms = INGEST_MS};
	char *out = NULL;
	size_t len = 0;
	bb_err e = xform_apply(x, event, strlen(event), &ctx, &out, &len);
	if (!want) {
		assert_int_equal(e, BB_EINVAL);
		assert_null(out);
		assert_int_equal(len, 0);
		return;
	}
	assert_int_equal(e, BB_OK);
	assert_non_null(out);
	assert_int_equal(out[len], '\0');
	if (len != strlen(want) || memcmp(out, want, len) != 0)
		fail_msg("got  %s\nwant %s", out, want);
	free(out);
}

static void check(const char *tmpl, const char *map, const char *event, const char *want)
{
	xform *x = compile_xf(tmpl, map);
	check_x(x, event, want);
	xform_free(x);
}

static void check_path(const char *path, const char *event, const char *want)
{
	xform *x = NULL;
	char msg[XFORM_MSG_MAX];
	assert_int_equal(xform_compile("t1", NULL, path, NULL, &x, msg, sizeof msg), BB_OK);
	check_x(x, event, want);
	xform_free(x);
}

/* ---- LocalStack AWS snapshots -------------------------------------------------------------------- */

/* TestInputPath::test_put_events_with_input_path / _nested / _max_level_depth / _multiple_targets */
static void test_snapshot_input_path(void **state)
{
	(void)state;
	check_path("$.detail", EVENT,
		   "{\"command\":\"update-account\",\"payload\":{\"acc_id\":\"0a787ecb-4015\",\"sf_id\":\"baz\"}}");
	check_path("$.detail.payload", EVENT, "{\"acc_id\":\"0a787ecb-4015\",\"sf_id\":\"baz\"}");
	check_path("$.detail.payload", DUPKEY,
		   "{\"acc_id\":\"0a787ecb-4015\",\"payload\":{\"message\":\"baz\",\"id\":\"123\"}}");
	check_path("$.detail.payload.sf_id", EVENT, "\"baz\"");
	/* the target without input settings gets the event as is */
	char *out;
	size_t len;
	assert_int_equal(xform_apply(NULL, EVENT, strlen(EVENT), NULL, &out, &len), BB_OK);
	assert_string_equal(out, EVENT);
	free(out);
}

/* test_put_events_with_input_transformer_input_template_string (both templates, key present/missing) */
static void test_snapshot_string_template(void **state)
{
	(void)state;
	const char *t1 = "\"Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>\"";
	check(t1, MAP_BASIC, EVENT,
	      "\"Event of core.update-account-command type, at time 2024-06-11T08:33:12Z, info extracted from detail "
	      "update-account\"");
	check(t1, MAP_MISSING, EVENT,
	      "\"Event of core.update-account-command type, at time 2024-06-11T08:33:12Z, info extracted from detail \"");
	const char *t2 = "\"{[/Check with special starting characters for event of <detail-type> type\"";
	const char *w2 = "\"{[/Check with special starting characters for event of core.update-account-command type\"";
	check(t2, MAP_BASIC, EVENT, w2);
	check(t2, MAP_MISSING, EVENT, w2);
}

/* test_put_events_with_input_transformer_input_template_json */
static void test_snapshot_json_template(void **state)
{
	(void)state;
	const char *t = "{\"detailType\": <detail-type>,  \"time\": <timestamp>, \"command\": <command>}";
	check(t, MAP_BASIC, EVENT,
	      "{\"detailType\":\"core.update-account-command\",\"time\":\"2024-06-11T08:33:12Z\","
	      "\"command\":\"update-account\"}");
	check(t, MAP_MISSING, EVENT,
	      "{\"detailType\":\"core.update-account-command\",\"time\":\"2024-06-11T08:33:12Z\",\"command\":\"\"}");
}

/* test_input_transformer_predefined_variables (string and JSON template) */
static void test_snapshot_predefined(void **state)
{
	(void)state;
	check("\"Message containing all pre defined variables <aws.events.rule-arn> <aws.events.rule-name> "
	      "<aws.events.event.ingestion-time>\"",
	      NULL, EVENT,
	      "\"Message containing all pre defined variables arn:aws:events:us-east-1:111111111111:rule/test-bus/test-rule "
	      "test-rule 2024-06-11T08:33:12.345Z\"");
	/* originalEvent: no detail, detailType, AWS's key order, time in epoch ms (see docs/transform.md) */
	check("{\"originalEvent\": <aws.events.event>, \"originalEventJson\": <aws.events.event.json>}", NULL, EVENT,
	      "{\"originalEvent\":{\"id\":\"6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c\",\"account\":\"111111111111\","
	      "\"detailType\":\"core.update-account-command\",\"time\":1718094792345,"
	      "\"source\":\"core.update-account-command\",\"region\":\"us-east-1\",\"resources\":[],\"version\":\"0\"},"
	      "\"originalEventJson\":" EV_HEAD
	      "\"detail\":{\"command\":\"update-account\",\"payload\":{\"acc_id\":\"0a787ecb-4015\",\"sf_id\":\"baz\"}}}}");
}

/* test_input_transformer_nested_keys_replacement: every delivered template */
static void test_snapshot_nested_keys(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"{\"method\": \"PUT\", \"path\": \"users-service/users/<userId>\", \"bod\": <payload>}",
		 "{\"method\":\"PUT\",\"path\":\"users-service/users/0a787ecb-4015\","
		 "\"bod\":{\"acc_id\":\"0a787ecb-4015\",\"sf_id\":\"baz\"}}"},
		{"\"Payload of <payload> with path users-service/users/<userId> and <userId>\"",
		 "\"Payload of {acc_id:0a787ecb-4015,sf_id:baz} with path users-service/users/0a787ecb-4015 and 0a787ecb-4015\""},
		{"{\"id\" : <userId>}", "{\"id\":\"0a787ecb-4015\"}"},
		{"{\"id\" : \"<userId>\"}", "{\"id\":\"0a787ecb-4015\"}"},
		{"{\"method\": \"PUT\", \"path\": \"users-service/users/<userId>\", \"id\": <userId>, \"body\": <payload>}",
		 "{\"method\":\"PUT\",\"path\":\"users-service/users/0a787ecb-4015\",\"id\":\"0a787ecb-4015\","
		 "\"body\":{\"acc_id\":\"0a787ecb-4015\",\"sf_id\":\"baz\"}}"},
		{"{\"method\": \"PUT\", \"path\": \"users-service/users/<userId>\", \"bod\": [<userId>, \"hardcoded\"]}",
		 "{\"method\":\"PUT\",\"path\":\"users-service/users/0a787ecb-4015\",\"bod\":[\"0a787ecb-4015\",\"hardcoded\"]}"},
		{"{\"method\": \"PUT\", \"nested\": {\"level1\": {\"level2\": {\"level3\": \"users-service/users/<userId>\"} } }, "
		 "\"bod\": \"<userId>\"}",
		 "{\"method\":\"PUT\",\"nested\":{\"level1\":{\"level2\":{\"level3\":\"users-service/users/0a787ecb-4015\"}}},"
		 "\"bod\":\"0a787ecb-4015\"}"},
		{"\"<listsingle> single list item\"", "\"[HIGH] single list item\""},
		{"\"<listmulti> multiple list items\"", "\"[ACTIVE,INACTIVE] multiple list items\""},
		{"{\"singlelistitem\": <listsingle>}", "{\"singlelistitem\":[\"HIGH\"]}"},
		{"\"<listsingle> single list item <listmulti> multiple list items <systemstring> system account id <payload> "
		 "payload <userId> user id\"",
		 "\"[HIGH] single list item [ACTIVE,INACTIVE] multiple list items  system account id "
		 "{acc_id:0a787ecb-4015,sf_id:baz} payload 0a787ecb-4015 user id\""},
		{"{\"multi_replacement\": \"users/<userId>/second/<userId>\"}",
		 "{\"multi_replacement\":\"users/0a787ecb-4015/second/0a787ecb-4015\"}"},
		{"\"Command is <valid>!\"", "\"Command is true!\""},
		/* the multi-line string template (recorded 2024-12-13): delivered as is, lines and all */
		{"\"<listsingle> single list item\"\n\"<listmulti> multiple list items\"\n\"<systemstring> system account id\"\n"
		 "\"<payload> payload\"\n\"<userId> user id\"",
		 "\"[HIGH] single list item\"\n\"[ACTIVE,INACTIVE] multiple list items\"\n\" system account id\"\n"
		 "\"{acc_id:0a787ecb-4015,sf_id:baz} payload\"\n\"0a787ecb-4015 user id\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check(cases[i][0], MAP_NESTED, SPECIAL, cases[i][1]);
}

/* test_input_transformer_nested_keys_replacement_not_valid: AWS delivered nothing */
static void test_snapshot_not_delivered(void **state)
{
	(void)state;
	check("{\"not_valid\": \"users-service/users/<payload>\", \"bod\": <payload>}", MAP_NESTED, SPECIAL, NULL);
	check("{\"payload\": \"<payload>\"}", MAP_NESTED, SPECIAL, NULL);
	check("{\"singlelistitem\": \"<listsingle>\"}", MAP_NESTED, SPECIAL, NULL);
	/* unvalidated stale entries of the same snapshot file (recorded, nothing delivered) */
	check("<listsingle> single list item", MAP_NESTED, SPECIAL, NULL);
	check("<listmulti> multiple list items", MAP_NESTED, SPECIAL, NULL);
	check("{\"singlelistitem\": \"<listsingle>\", \"multiplelistitems\": \"<listmulti>\"}", MAP_NESTED, SPECIAL, NULL);
}

/* test_events.py::test_process_pattern_to_single_matching_rules_single_target (Lambda targets) */
static void test_snapshot_lambda_detail(void **state)
{
	(void)state;
	const char *ev = EV_HEAD "\"detail\":{\"payload\":{\"id\":\"123\"}}}";
	check("{\"detail-payload-with-id\": <detail>}", "{\"detail\":\"$.detail\"}", ev,
	      "{\"detail-payload-with-id\":{\"payload\":{\"id\":\"123\"}}}");
}

/* ---- rules beyond the snapshots (docs/transform.md) ------------------------------------------------ */

/* An event whose detail has one of everything. */
static const char *const RICH = EV_HEAD
	"\"detail\":{\"s\":\"a\\\"b\\\\c\\u00e9\",\"nl\":\"l1\\nl2\",\"n\":1.50,\"big\":123456789012345678901234567890,"
	"\"t\":true,\"f\":false,\"z\":null,\"o\":{\"k\":\"v\\\"q\",\"n\":[1,2]},\"a\":[1,\"x\",{\"y\":null}],\"e\":{},"
	"\"ea\":[]}}";
static const char *const MAP_RICH =
	"{\"s\":\"$.detail.s\",\"nl\":\"$.detail.nl\",\"n\":\"$.detail.n\",\"big\":\"$.detail.big\",\"t\":\"$.detail.t\","
	"\"f\":\"$.detail.f\",\"z\":\"$.detail.z\",\"o\":\"$.detail.o\",\"a\":\"$.detail.a\",\"e\":\"$.detail.e\","
	"\"ea\":\"$.detail.ea\",\"m\":\"$.detail.missing\",\"id\":\"$.id\"}";

static void test_values_json_unquoted(void **state)
{
	(void)state;
	/* the event's own JSON text: strings keep their escapes, numbers their digits */
	check("{\"s\": <s>, \"n\": <n>, \"big\": <big>, \"t\": <t>, \"f\": <f>, \"z\": <z>, \"m\": <m>}", MAP_RICH, RICH,
	      "{\"s\":\"a\\\"b\\\\c\\u00e9\",\"n\":1.50,\"big\":123456789012345678901234567890,\"t\":true,\"f\":false,"
	      "\"z\":null,\"m\":\"\"}");
	check("{\"o\": <o>, \"a\": <a>, \"e\": <e>, \"ea\": <ea>}", MAP_RICH, RICH,
	      "{\"o\":{\"k\":\"v\\\"q\",\"n\":[1,2]},\"a\":[1,\"x\",{\"y\":null}],\"e\":{},\"ea\":[]}");
	/* array templates are JSON templates too; placeholders in an unquoted key position become keys */
	check("[<n>, <s>, \"<id>\"]", MAP_RICH, RICH,
	      "[1.50,\"a\\\"b\\\\c\\u00e9\",\"6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c\"]");
	check("{<id>: 1}", MAP_RICH, RICH, "{\"6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c\":1}");
	/* multi-line (CloudFormation block style) JSON templates are delivered minified */
	check("{\n  \"instance\" : <id>,\n  \"state\": [ 9, <t>, true ],\n  \"Transformed\" : \"Yes\"\n}\n", MAP_RICH, RICH,
	      "{\"instance\":\"6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c\",\"state\":[9,true,true],\"Transformed\":\"Yes\"}");
}

static void test_values_json_quoted(void **state)
{
	(void)state;
	/* inside a string literal: text not escaped, numbers/booleans/null as text, missing = nothing */
	check("{\"x\": \"n=<n> big=<big> t=<t> f=<f> z=<z> m=<m>!\"}", MAP_RICH, RICH,
	      "{\"x\":\"n=1.50 big=123456789012345678901234567890 t=true f=false z=null m=!\"}");
	/* a value with a quote, backslash or newline breaks the JSON: not delivered */
	check("{\"x\": \"<s>\"}", MAP_RICH, RICH, NULL);
	check("{\"x\": \"<nl>\"}", MAP_RICH, RICH, NULL);
	/* objects/arrays inside quotes break it too (the LS not-delivered cases) */
	check("{\"x\": \"<a>\"}", MAP_RICH, RICH, NULL);
	/* ... except when the JSON text happens to fit in a string */
	check("{\"x\": \"<e><ea>\"}", MAP_RICH, RICH, "{\"x\":\"{}[]\"}");
	/* escaped quotes in the template stay (UG "JSON with strings and variables") */
	check("{\"instanceStatus\": \"instance \\\"<id>\\\" is <t>\"}", MAP_RICH, RICH,
	      "{\"instanceStatus\":\"instance \\\"6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c\\\" is true\"}");
	/* "<" and ">" cannot be escaped: \<x> is still a placeholder (here giving an invalid escape) */
	check("{\"x\": \"\\\\<id>\"}", MAP_RICH, RICH, "{\"x\":\"\\\\6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c\"}");
	check("{\"x\": \"\\<id>\"}", MAP_RICH, RICH, NULL);
	/* a template that is not JSON whatever the values: never delivered */
	check("{\"a\": <n>,}", MAP_RICH, RICH, NULL);
	check("{\"a\": <n>} trailing", MAP_RICH, RICH, NULL);
	check("{\"a\": \"real\ttab\"}", MAP_RICH, RICH, NULL);
}

static void test_values_string_template(void **state)
{
	(void)state;
	/* text as is (no escaping), objects/arrays without quotes, scalars as text, missing = nothing */
	check("\"s=<s> nl=<nl> n=<n> t=<t> z=<z> m=<m> o=<o> a=<a> e=<e> ea=<ea>\"", MAP_RICH, RICH,
	      "\"s=a\"b\\c\xc3\xa9 nl=l1\nl2 n=1.50 t=true z=null m= o={k:v\\q,n:[1,2]} a=[1,x,{y:null}] e={} ea=[]\"");
	/* delivered verbatim even when it is not JSON, leading/trailing text included */
	check("  \"<id>\" and then some", MAP_RICH, RICH, "  \"6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c\" and then some");
	/* repeated placeholders */
	check("\"<t><t><t>\"", MAP_RICH, RICH, "\"truetruetrue\"");
	/* a decoded \u0000 is delivered inside a string template (out_len counts it) */
	xform *x = compile_xf("\"<s>\"", "{\"s\":\"$.detail.s\"}");
	const char *ev = "{\"detail\":{\"s\":\"a\\u0000b\"}}";
	char *out;
	size_t len;
	assert_int_equal(xform_apply(x, ev, strlen(ev), NULL, &out, &len), BB_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "\"a\0b\"", 6);
	free(out);
	xform_free(x);
}

static void test_bare_template(void **state)
{
	(void)state;
	/* a template that is neither JSON nor a quoted string must render one JSON value */
	check("<n>", MAP_RICH, RICH, "1.50");
	check(" <t> ", MAP_RICH, RICH, " true ");
	check("42", NULL, RICH, "42");
	check("<ea>", MAP_RICH, RICH, "[]");
	check("<s>", MAP_RICH, RICH, NULL);
	check("<o>", MAP_RICH, RICH, NULL);
	check("<id> is <t>", MAP_RICH, RICH, NULL);
	check("<m>", MAP_RICH, RICH, NULL);
}

static void test_reserved_variables(void **state)
{
	(void)state;
	check("{\"arn\": <aws.events.rule-arn>, \"name\": <aws.events.rule-name>, \"t\": <aws.events.event.ingestion-time>}",
	      NULL, EVENT,
	      "{\"arn\":\"arn:aws:events:us-east-1:111111111111:rule/test-bus/test-rule\",\"name\":\"test-rule\","
	      "\"t\":\"2024-06-11T08:33:12.345Z\"}");
	check("{\"s\": \"<aws.events.rule-name>/<aws.events.event.ingestion-time>\"}", NULL, EVENT,
	      "{\"s\":\"test-rule/2024-06-11T08:33:12.345Z\"}");
	/* JSON variables in a string template lose their quotes like any object */
	check("\"<aws.events.event>\"", NULL, EVENT,
	      "\"{id:6b1b6c8e-9c2b-4d39-a5b4-0d1e2f3a4b5c,account:111111111111,detailType:core.update-account-command,"
	      "time:1718094792345,source:core.update-account-command,region:us-east-1,resources:[],version:0}\"");
	/* without a context every reserved variable is missing */
	xform *x = compile_xf("{\"a\": <aws.events.rule-arn>, \"b\": \"<aws.events.rule-name>\", "
			      "\"c\": <aws.events.event.ingestion-time>}",
			      NULL);
	char *out;
	size_t len;
	assert_int_equal(xform_apply(x, EVENT, strlen(EVENT), NULL, &out, &len), BB_OK);
	assert_string_equal(out, "{\"a\":\"\",\"b\":\"\",\"c\":\"\"}");
	free(out);
	/* context strings are JSON-escaped when unquoted */
	xform_ctx ctx = {.rule_arn = "a\"b\\c\n", .rule_name = "n", .ingest_ms = 0};
	assert_int_equal(xform_apply(x, EVENT, strlen(EVENT), &ctx, &out, &len), BB_OK);
	assert_string_equal(out, "{\"a\":\"a\\\"b\\\\c\\n\",\"b\":\"n\",\"c\":\"\"}");
	free(out);
	/* reserved-only templates never parse the event */
	assert_int_equal(xform_apply(x, "garbage", 7, &ctx, &out, &len), BB_OK);
	free(out);
	xform_free(x);
}

static void ingest_is(int64_t ms, const char *want)
{
	xform *x = compile_xf("\"<aws.events.event.ingestion-time>\"", NULL);
	xform_ctx ctx = {.ingest_ms = ms};
	char *out;
	size_t len;
	assert_int_equal(xform_apply(x, "{}", 2, &ctx, &out, &len), BB_OK);
	assert_string_equal(out, want);
	free(out);
	xform_free(x);
}

static void test_ingestion_time_format(void **state)
{
	(void)state;
	ingest_is(1, "\"1970-01-01T00:00:00.001Z\"");
	ingest_is(951782400000LL, "\"2000-02-29T00:00:00.000Z\"");
	ingest_is(1709251199999LL, "\"2024-02-29T23:59:59.999Z\"");
	ingest_is(253402300799999LL, "\"9999-12-31T23:59:59.999Z\"");
	ingest_is(0, "\"\"");
	ingest_is(-5, "\"\"");
	ingest_is(253402300800000LL, "\"\"");
}

static void test_event_variable(void **state)
{
	(void)state;
	xform *x = compile_xf("[<aws.events.event>]", NULL);
	/* an explicit event time outside the ingestion second: the envelope's own time */
	const char *ev = "{\"version\":\"0\",\"id\":\"i\",\"detail-type\":\"d\",\"source\":\"s\",\"account\":\"1\","
			 "\"time\":\"2022-01-01T00:00:00Z\",\"region\":\"r\",\"replay-name\":\"rp\",\"resources\":[\"x\"],"
			 "\"detail\":{\"k\":1},\"extra\":{\"a\" : 1}}";
	check_x(x, ev,
		"[{\"id\":\"i\",\"account\":\"1\",\"detailType\":\"d\",\"time\":1640995200000,\"source\":\"s\",\"region\":\"r\","
		"\"resources\":[\"x\"],\"version\":\"0\",\"replay-name\":\"rp\",\"extra\":{\"a\":1}}]");
	/* a fraction is kept; an unparseable time is copied; absent members are left out */
	check_x(x, "{\"time\":\"2022-01-01T00:00:00.5Z\",\"id\":\"i\"}", "[{\"id\":\"i\",\"time\":1640995200500}]");
	check_x(x, "{\"time\":\"yesterday\"}", "[{\"time\":\"yesterday\"}]");
	check_x(x, "{\"time\":\"2022-13-01T00:00:00Z\"}", "[{\"time\":\"2022-13-01T00:00:00Z\"}]");
	check_x(x, "{\"time\":17}", "[{\"time\":17}]");
	check_x(x, "{ \"detail\" : { } }", "[{}]");
	/* not an object: the variable is missing */
	check_x(x, "[1]", "[\"\"]");
	xform_free(x);
	/* <aws.events.event.json> is the whole event, minified */
	check("{\"e\": <aws.events.event.json>}", NULL, "{ \"a\" : [ 1 , 2 ] , \"b\" : \"x y\" }",
	      "{\"e\":{\"a\":[1,2],\"b\":\"x y\"}}");
	/* bare templates render like string templates: an object loses its quotes and is not JSON */
	check("<aws.events.event.json>", NULL, EVENT, NULL);
}

static void test_input_path_values(void **state)
{
	(void)state;
	check_path("$", EVENT, EVENT);
	check_path("$.detail.n", RICH, "1.50");
	check_path("$.detail.z", RICH, "null");
	check_path("$.detail.s", RICH, "\"a\\\"b\\\\c\\u00e9\"");
	check_path("$.detail.a[2]", RICH, "{\"y\":null}");
	check_path("$.detail.a[-1].y", RICH, "null");
	check_path("$.detail.a[-3]", RICH, "1");
	check_path("$.detail.a[-4]", RICH, NULL);
	check_path("$.detail.a[3]", RICH, NULL);
	check_path("$['detail']['o'][\"n\"][1]", RICH, "2");
	check_path("$.detail-type", RICH, "\"core.update-account-command\"");
	/* absent: not delivered */
	check_path("$.notexisting", EVENT, NULL);
	check_path("$.detail.s.deeper", RICH, NULL);
	check_path("$.detail.o[0]", RICH, NULL);
	check_path("$.resources[0]", EVENT, NULL);
	/* wildcards: an array of every match, in document order (possibly empty) */
	check_path("$.detail.o.*", RICH, "[\"v\\\"q\",[1,2]]");
	check_path("$.detail.a[*]", RICH, "[1,\"x\",{\"y\":null}]");
	check_path("$.detail.*.n", RICH, "[[1,2]]");
	check_path("$.detail.*[*]", RICH, "[\"v\\\"q\",[1,2],1,\"x\",{\"y\":null}]");
	check_path("$.resources[*]", EVENT, "[]");
	check_path("$.detail.s[*]", RICH, "[]");
	/* keys written with escapes match; duplicate keys: the last one wins */
	check_path("$.ab", "{\"a\\u0062\":1}", "1");
	check_path("$['a\"b']", "{\"a\\\"b\":2}", "2");
	check_path("$.k", "{\"k\":1,\"k\":2}", "2");
	/* spaced events are delivered minified; invalid events are not delivered */
	check_path("$.d", "{ \"d\" : { \"a\" : [ 1 , \"x y\" ] } }", "{\"a\":[1,\"x y\"]}");
	check_path("$", "{\"a\":1", NULL);
	check_path("$", "", NULL);
	check("{\"a\": <id>}", MAP_RICH, "{\"id\":1}}", NULL);
}

static void test_no_event_needed(void **state)
{
	(void)state;
	/* x NULL and Input copy without looking at the event */
	char *out;
	size_t len;
	assert_int_equal(xform_apply(NULL, "not json", 8, NULL, &out, &len), BB_OK);
	assert_string_equal(out, "not json");
	free(out);
	assert_int_equal(xform_apply(NULL, NULL, 0, NULL, &out, &len), BB_OK);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	free(out);
	assert_int_equal(xform_apply(NULL, NULL, 5, NULL, &out, &len), BB_EINVAL);
	assert_null(out);
	check("\"constant\"", NULL, "garbage", "\"constant\"");
}

static void test_limits(void **state)
{
	(void)state;
	char *out = (char *)1;
	size_t len = 1;
	/* events over XFORM_MAX_EVENT are refused before being read */
	assert_int_equal(xform_apply(NULL, "x", XFORM_MAX_EVENT + 1, NULL, &out, &len), BB_ETOOBIG);
	assert_null(out);
	assert_int_equal(len, 0);
	/* a ~200 KB event repeated 30 times exceeds XFORM_MAX_OUTPUT */
	size_t n = 200000;
	char *ev = malloc(n + 32);
	strcpy(ev, "{\"detail\":{\"s\":\"");
	size_t l = strlen(ev);
	memset(ev + l, 'a', n);
	strcpy(ev + l + n, "\"}}");
	char tmpl[30 * 32] = "[";
	for (int i = 0; i < 30; i++)
		strcat(tmpl, i ? ",<aws.events.event.json>" : "<aws.events.event.json>");
	strcat(tmpl, "]");
	xform *x = compile_xf(tmpl, NULL);
	assert_int_equal(xform_apply(x, ev, strlen(ev), NULL, &out, &len), BB_ETOOBIG);
	assert_null(out);
	xform_free(x);
	/* 15 copies fit */
	tmpl[1 + 15 * 24 - 1] = ']';
	tmpl[1 + 15 * 24] = '\0';
	x = compile_xf(tmpl, NULL);
	assert_int_equal(xform_apply(x, ev, strlen(ev), NULL, &out, &len), BB_OK);
	assert_int_equal(len, 2 + 15 * strlen(ev) + 14);
	free(out);
	xform_free(x);
	free(ev);
	/* nesting deeper than the scanner's limit is not deliverable, not a crash */
	n = 100000;
	ev = malloc(2 * n + 1);
	memset(ev, '[', n);
	memset(ev + n, ']', n);
	check_path("$", ev, NULL);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_input_path),
		cmocka_unit_test(test_snapshot_string_template),
		cmocka_unit_test(test_snapshot_json_template),
		cmocka_unit_test(test_snapshot_predefined),
		cmocka_unit_test(test_snapshot_nested_keys),
		cmocka_unit_test(test_snapshot_not_delivered),
		cmocka_unit_test(test_snapshot_lambda_detail),
		cmocka_unit_test(test_values_json_unquoted),
		cmocka_unit_test(test_values_json_quoted),
		cmocka_unit_test(test_values_string_template),
		cmocka_unit_test(test_bare_template),
		cmocka_unit_test(test_reserved_variables),
		cmocka_unit_test(test_ingestion_time_format),
		cmocka_unit_test(test_event_variable),
		cmocka_unit_test(test_input_path_values),
		cmocka_unit_test(test_no_event_needed),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
