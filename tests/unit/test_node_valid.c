/* tests/unit/test_node_valid.c — name/ARN validation, Coral-style constraint messages, pagination
 * tokens and schedule expressions (node/jv.c, node/store.c, node/op_rule.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "node/node_int.h"

static void test_names(void **state)
{
	(void)state;
	assert_true(name_ok("my-rule_1.x"));
	assert_false(name_ok(""));
	assert_false(name_ok("a/b"));
	assert_false(name_ok("!@#$@!#$"));
	assert_false(name_ok("sp ace"));
	assert_false(name_ok("caf\xc3\xa9"));
	assert_true(bus_name_ok("aws.partner/x/y"));
	assert_false(bus_name_ok("a|b"));
	assert_false(bus_name_ok("a:b"));
}

static void test_bus_name_or_arn(void **state)
{
	(void)state;
	assert_true(bus_name_or_arn_ok("orders"));
	assert_true(bus_name_or_arn_ok("arn:aws:events:us-east-1:000000000000:event-bus/orders"));
	assert_true(bus_name_or_arn_ok("arn:aws-cn:events:cn-north-1:123456789012:event-bus/a/b"));
	assert_false(bus_name_or_arn_ok("arn:aws:events:us-east-1:00000000000:event-bus/orders")); /* 11 digits */
	assert_false(bus_name_or_arn_ok("arn:aws:events:useast1:000000000000:event-bus/orders"));
	assert_false(bus_name_or_arn_ok("arn:aws:events:us-east-1:000000000000:rule/orders"));
	assert_false(bus_name_or_arn_ok("arn:aws:events:us-east-1:000000000000:event-bus/"));
	assert_false(bus_name_or_arn_ok(""));
}

static void test_constraint_messages(void **state)
{
	(void)state;
	vcheck v;
	v_init(&v);
	char longname[80];
	memset(longname, 'a', 70);
	strcpy(longname + 70, "!");
	v_string(&v, "name", longname, true, 1, 64, RE_NAME, name_ok);
	assert_int_equal(v.count, 2);
	assert_string_equal(v.msg,
			    "Value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' at 'name' failed "
			    "to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+; "
			    "Value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' at 'name' failed "
			    "to satisfy constraint: Member must have length less than or equal to 64");
	v_init(&v);
	v_string(&v, "name", NULL, true, 1, 64, RE_NAME, name_ok);
	assert_string_equal(v.msg, "Value null at 'name' failed to satisfy constraint: Member must not be null");
	v_init(&v);
	v_int_range(&v, "targets.1.member.retryPolicy.maximumRetryAttempts", true, 186, 0, 185);
	assert_string_equal(v.msg, "Value '186' at 'targets.1.member.retryPolicy.maximumRetryAttempts' failed to "
				   "satisfy constraint: Member must have value less than or equal to 185");
	v_init(&v);
	v_int_range(&v, "limit", true, 0, 1, 100);
	assert_string_equal(v.msg, "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater "
				   "than or equal to 1");
	v_init(&v);
	static const char *const states[] = {"ENABLED", "DISABLED", NULL};
	v_enum(&v, "state", "ON", states, "[ENABLED, DISABLED]");
	assert_string_equal(v.msg,
			    "Value 'ON' at 'state' failed to satisfy constraint: Member must satisfy enum value set: "
			    "[ENABLED, DISABLED]");

	api_call c;
	memset(&c, 0, sizeof c);
	v_init(&v);
	v_string(&v, "name", "ok", true, 1, 64, RE_NAME, name_ok);
	assert_int_equal(v_finish(&c, &v), 0);
	v_add(&v, "x", "a", "Member must x");
	v_add(&v, "y", "b", "Member must y");
	assert_int_equal(v_finish(&c, &v), -1);
	assert_string_equal(c.err_type, "ValidationException");
	assert_string_equal(c.err_msg, "2 validation errors detected: Value 'x' at 'a' failed to satisfy constraint: "
				       "Member must x; Value 'y' at 'b' failed to satisfy constraint: Member must y");
}

static void test_tokens(void **state)
{
	(void)state;
	api_call c;
	memset(&c, 0, sizeof c);
	char *tok = token_make("rule-0042");
	assert_non_null(tok);
	char last[KEY_MAX];
	assert_int_equal(token_parse(&c, tok, last, sizeof last), 0);
	assert_string_equal(last, "rule-0042");
	free(tok);
	assert_int_equal(token_parse(&c, "not-a-token!", last, sizeof last), -1);
	assert_string_equal(c.err_type, "ValidationException");
	memset(&c, 0, sizeof c);
	assert_int_equal(token_parse(&c, "YWJj", last, sizeof last), -1); /* "abc": valid base64, not ours */
}

static void test_schedules(void **state)
{
	(void)state;
	assert_true(schedule_expression_ok("rate(1 minute)"));
	assert_true(schedule_expression_ok("rate(5 minutes)"));
	assert_true(schedule_expression_ok("rate(2 days)"));
	assert_false(schedule_expression_ok("rate(1 minutes)"));
	assert_false(schedule_expression_ok("rate(5 minute)"));
	assert_false(schedule_expression_ok("rate(0 minutes)"));
	assert_false(schedule_expression_ok("rate(-1 minutes)"));
	assert_false(schedule_expression_ok("rate(5 weeks)"));
	assert_true(schedule_expression_ok("cron(0 12 * * ? *)"));
	assert_true(schedule_expression_ok("cron(0/15 10-12 ? * MON-FRI *)"));
	assert_false(schedule_expression_ok("cron(0 12 * * ?)"));
	assert_false(schedule_expression_ok("every 5 minutes"));
	assert_false(schedule_expression_ok(""));
	/* AWS-recorded valid and invalid expressions (LocalStack test_events_schedule, validated on AWS) */
	static const char *good[] = {"cron(0 2 ? * SAT *)", "cron(5,35 14 * * ? *)", "cron(15 10 ? * 6L 2002-2005)",
				     "cron(0 2 ? * SAT#3 *)", "cron(* * ? * SAT#3 *)", "cron(0/5 5 ? JAN 1-5 2022)",
				     "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)", "cron(0/15 * * * ? *)",
				     "cron(0/30 0-2 ? * MON-FRI *)", "rate(1 hour)", "rate(1 day)", "rate(10 hours)"};
	for (size_t i = 0; i < BB_ARRAY_LEN(good); i++)
		assert_true(schedule_expression_ok(good[i]));
	static const char *bad[] = {"cron(0 1 * * * *)", "cron(7 20 * * NOT *)", "cron(INVALID)",
				    "cron(0 dummy ? * MON-FRI *)", "cron(71 8 1 * ? *)", "rate(10 seconds)",
				    "rate(10 years)", "rate(1 hours)", "rate(1 days)", "rate(10 hour)", "rate(10 day)",
				    "rate()", "rate(10)", "rate(10 minutess)", "rate(foo minutes)", "rate(-10 minutes)",
				    "rate(10 MINUTES)", "rate( 10 minutes )", " rate(10 minutes)", "rate(10  minutes)"};
	for (size_t i = 0; i < BB_ARRAY_LEN(bad); i++)
		assert_false(schedule_expression_ok(bad[i]));
}

static void test_keys(void **state)
{
	(void)state;
	char k[KEY_MAX], p[KEY_MAX];
	key_rule(k, "000000000000", "orders", "r1");
	key_rule_prefix(p, "000000000000", "orders");
	assert_string_equal(k, "r/000000000000/orders|r1");
	assert_memory_equal(k, p, strlen(p));
	/* a bus whose name extends another's must not share its rule prefix */
	key_rule(k, "000000000000", "orders2", "r1");
	assert_true(strncmp(k, p, strlen(p)) != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),        cmocka_unit_test(test_bus_name_or_arn),
		cmocka_unit_test(test_constraint_messages), cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_schedules),    cmocka_unit_test(test_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
