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
	      "{\"detailType\":\"core.update-account-command\",\"time\":\"2024-06-11T08:33:12Z\",\"command\":\"update-account\"}");
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
		 "{\"method\":\"PUT\",\"path\":\"users-service/users/0a787ecb-4015\",\"bod\":{\"acc_id\":\"0a787ecb-4015\",\"sf_id\":\"baz\"}}"},
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
