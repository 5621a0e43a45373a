/* tests/unit/test_xform_internals.c — the pieces under xform_apply (node/xform/xform_int.h): the
 * scanner's minification, string decoding, key comparison and JSON string encoding; plus two
 * properties of the whole: concurrent applies of one xform agree, and a large event with the full
 * 100 variables renders in linear time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/xform/xform_int.h"

static void minify_is(const char *in, bool strip, const char *want)
{
	xbuf b;
	xbuf_init(&b, SIZE_MAX);
	bool ok = xj_minify(in, strlen(in), &b, strip);
	if (!want) {
		assert_false(ok);
		xbuf_free(&b);
		return;
	}
	assert_true(ok);
	size_t len;
	char *s = xbuf_take(&b, &len);
	assert_string_equal(s, want);
	free(s);
}

static void test_minify(void **state)
{
	(void)state;
	minify_is(" { \"a\" : [ 1 , 2.50 , \"x y\" ] ,\n\t\"b\" : { } } ", false, "{\"a\":[1,2.50,\"x y\"],\"b\":{}}");
	minify_is("{\"a\":\"q\\\"x\",\"b\":[\"c\"]}", true, "{a:q\\x,b:[c]}");
	minify_is("\"\"", false, "\"\"");
	minify_is("[]", true, "[]");
	minify_is("[1 2]", false, NULL);
	minify_is("", false, NULL);
}

static void unescape_is(const char *body, const char *want, size_t wlen)
{
	xbuf b;
	xbuf_init(&b, SIZE_MAX);
	xj_unescape(body, strlen(body), &b);
	assert_int_equal(b.len, wlen);
	assert_memory_equal(b.p, want, wlen);
	xbuf_free(&b);
}

static void test_unescape(void **state)
{
	(void)state;
	unescape_is("plain", "plain", 5);
	unescape_is("a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t", "a\"b\\c/d\b\f\n\r\t", 12);
	unescape_is("\\u0041\\u00e9\\u20ac", "A\xc3\xa9\xe2\x82\xac", 6);
	unescape_is("\\ud83d\\ude00", "\xf0\x9f\x98\x80", 4);      /* a surrogate pair */
	unescape_is("\\ud83dx", "\xef\xbf\xbdx", 4);               /* lone high: U+FFFD */
	unescape_is("\\ude00", "\xef\xbf\xbd", 3);                 /* lone low */
	unescape_is("\\ud83d\\u0041", "\xef\xbf\xbd" "A", 4);      /* high then not a low */
	unescape_is("\\u0000", "\0", 1);
}

static void test_key_eq_and_parse(void **state)
{
	(void)state;
	const char *t = "{\"a\\u0062\":1,\"plain\":[true,null],\"\":2}";
	xj_doc d;
	assert_int_equal(xj_parse(&d, t, strlen(t)), BB_OK);
	assert_int_equal(d.n, 6);
	assert_int_equal(d.nodes[0].type, XJ_OBJ);
	assert_int_equal(d.nodes[0].next, 6);
	assert_true(xj_key_eq(&d, &d.nodes[1], "ab", 2));
	assert_false(xj_key_eq(&d, &d.nodes[1], "a", 1));
	assert_false(xj_key_eq(&d, &d.nodes[1], "abc", 3));
	assert_true(xj_key_eq(&d, &d.nodes[2], "plain", 5));
	assert_int_equal(d.nodes[2].type, XJ_ARR);
	assert_int_equal(d.nodes[2].next, 5);
	assert_int_equal(d.nodes[3].type, XJ_TRUE);
	assert_int_equal(d.nodes[4].type, XJ_NULL);
	assert_true(xj_key_eq(&d, &d.nodes[5], "", 0));
	assert_false(d.spaced);
	xj_doc_free(&d);
	const char *sp = " [ 1 ] ";
	assert_int_equal(xj_parse(&d, sp, strlen(sp)), BB_OK);
	assert_true(d.spaced);
	xj_doc_free(&d);
	const char *top = " 5 ";
	assert_int_equal(xj_parse(&d, top, strlen(top)), BB_OK);
	assert_false(d.spaced); /* whitespace around the value does not count */
	xj_doc_free(&d);
	assert_int_equal(xj_parse(&d, "[1,", 3), BB_EINVAL);
	xj_doc_free(&d);
}

static void test_json_str(void **state)
{
	(void)state;
	xbuf b;
	xbuf_init(&b, SIZE_MAX);
	xbuf_add_json_str(&b, "a\"b\\c\n\x01\x1f\xc3\xa9", 10);
	size_t len;
	char *s = xbuf_take(&b, &len);
	assert_string_equal(s, "\"a\\\"b\\\\c\\n\\u0001\\u001f\xc3\xa9\"");
	assert_true(xj_minify(s, len, NULL, false));
	free(s);
	/* the maximum sticks */
	xbuf_init(&b, 4);
	xbuf_add(&b, "abc", 3);
	xbuf_add(&b, "de", 2);
	xbuf_addc(&b, 'f');
	assert_int_equal(b.err, BB_ETOOBIG);
	assert_null(xbuf_take(&b, &len));
	xbuf_free(&b);
}

/* ---- whole-library properties --------------------------------------------------------------------- */

typedef struct worker {
	const xform *x;
	const char *event;
	const char *want;
	int bad;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	xform_ctx ctx = {.rule_arn = "arn:aws:events:us-east-1:1:rule/r", .rule_name = "r", .ingest_ms = 1700000000123LL};
	for (int i = 0; i < 2000; i++) {
		char *out;
		size_t len;
		if (xform_apply(w->x, w->event, strlen(w->event), &ctx, &out, &len) != BB_OK) {
			w->bad++;
			continue;
		}
		if (strcmp(out, w->want) != 0)
			w->bad++;
		free(out);
	}
	return NULL;
}

static void test_concurrent_apply(void **state)
{
	(void)state;
	json_t *it = json_pack("{s:s, s:{s:s, s:s}}", "InputTemplate",
			       "{\"a\": <a>, \"b\": \"<b> <aws.events.rule-name>\", \"e\": <aws.events.event>, \"t\": "
			       "<aws.events.event.ingestion-time>}",
			       "InputPathsMap", "a", "$.detail.a[*]", "b", "$.detail.b");
	xform *x;
	char msg[XFORM_MSG_MAX];
	assert_int_equal(xform_compile("t", NULL, NULL, it, &x, msg, sizeof msg), BB_OK);
	json_decref(it);
	const char *ev = "{\"id\":\"1\",\"time\":\"2023-11-14T22:13:20Z\",\"detail\":{\"a\":[1,{\"x\":2}],\"b\":\"bee\"}}";
	const char *want = "{\"a\":[1,{\"x\":2}],\"b\":\"bee r\",\"e\":{\"id\":\"1\",\"time\":1700000000123},"
			   "\"t\":\"2023-11-14T22:13:20.123Z\"}";
	pthread_t th[4];
	worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (worker){x, ev, want, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	xform_free(x);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_linear_time(void **state)
{
	(void)state;
	/* a ~250 KB event: one object with 12k members and a 12k-element array */
	size_t cap = 400000, l = 0;
	char *ev = malloc(cap);
	l += (size_t)snprintf(ev + l, cap - l, "{\"detail\":{");
	for (int i = 0; i < 12000; i++)
		l += (size_t)snprintf(ev + l, cap - l, "%s\"k%d\":%d", i ? "," : "", i, i);
	l += (size_t)snprintf(ev + l, cap - l, "},\"list\":[");
	for (int i = 0; i < 12000; i++)
		l += (size_t)snprintf(ev + l, cap - l, "%s%d", i ? "," : "", i);
	l += (size_t)snprintf(ev + l, cap - l, "]}");
	/* 100 variables, each looking up members near the end, used in a long template */
	json_t *map = json_object();
	char tmpl[8192] = "{";
	for (int i = 0; i < 100; i++) {
		char k[16], p[64];
		snprintf(k, sizeof k, "v%d", i);
		snprintf(p, sizeof p, i % 2 ? "$.detail.k%d" : "$.list[-%d]", 11900 + i % 100);
		json_object_set_new(map, k, json_string(p));
		snprintf(tmpl + strlen(tmpl), sizeof tmpl - strlen(tmpl), "%s\"%s\": <%s>", i ? "," : "", k, k);
	}
	strcat(tmpl, "}");
	json_t *it = json_pack("{s:s, s:o}", "InputTemplate", tmpl, "InputPathsMap", map);
	xform *x;
	char msg[XFORM_MSG_MAX];
	assert_int_equal(xform_compile("t", NULL, NULL, it, &x, msg, sizeof msg), BB_OK);
	json_decref(it);
	double t0 = now_s();
	for (int r = 0; r < 20; r++) {
		char *out;
		size_t len;
		assert_int_equal(xform_apply(x, ev, l, NULL, &out, &len), BB_OK);
		assert_non_null(strstr(out, "\"v1\":11901"));
		free(out);
	}
	double per = (now_s() - t0) / 20;
	print_message("250 KB event, 100 variables: %.2f ms per apply (sanitized build)\n", per * 1e3);
	assert_true(per < 0.5); /* generous: linear work is a few ms even under ASan */
	xform_free(x);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minify),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_key_eq_and_parse),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_concurrent_apply),
		cmocka_unit_test(test_linear_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
