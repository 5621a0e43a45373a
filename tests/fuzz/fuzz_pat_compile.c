/* tests/fuzz/fuzz_pat_compile.c — libFuzzer target: arbitrary bytes as an event pattern.
 *
 * pat_compile must either accept the input or reject it with BB_EPATTERN / BB_ENOMEM and a
 * NUL-terminated reason; it must never crash, leak, hang (libFuzzer -timeout) or hit UB. An accepted
 * pattern is then exercised: pat_match_rule against a few fixed, diverse events, and a builder round
 * trip (add, publish, pat_match, remove, publish) whose set result must agree with pat_match_rule.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/pattern/pat.h"

static const char *const events[] = {
	("{\"id\":\"7bf73129-1428-4cd3-a780-95db273d1602\",\"detail-type\":\"EC2 Instance State-change "
	"Notification\",\"source\":\"aws.ec2\",\"account\":\"123456789012\",\"time\":\"2015-11-11T21:29:54Z\","
	"\"region\":\"us-east-1\",\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111\"],"
	"\"detail\":{\"instance-id\":\"i-abcd1111\",\"state\":\"pending\",\"c-count\":5,\"d-count\":-0.5,"
	"\"ip\":\"10.0.0.1\",\"ip6\":\"2001:db8::1\",\"flag\":true,\"none\":null,\"empty\":\"\"}}"),
	("{\"a\":[1,\"b\",[2,[3,{\"c\":\"d\"}]],{\"e\":[{\"f\":300.0},{\"f\":\"300\"}]}],\"x.y\":{\"z\":\"\\u00df\"},"
	"\"x\":{\"y.z\":\"STRASSE\"},\"n\":[-1e308,1e-320,0.1,123456789012345678901234567890],\"o\":{},\"l\":[]}"),
	("{\"employees\":[[{\"firstName\":\"John\",\"ids\":[1234,1000]},{\"firstName\":\"Anna\"}],[{\"firstName\":"
	"\"Peter\",\"ids\":[]}]],\"s\":\"\\ud83d\\ude00 \\\"q\\\" a*b\\\\c\",\"k\":\"Kelvin \\u212a\"}"),
	"[1,2,3]",
	"{\"truncated\":",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	memset(reason, 'x', sizeof(reason));
	bb_err e = pat_compile((const char *)data, size, NULL, &r, reason, sizeof(reason));
	if (e != BB_OK) {
		if ((e != BB_EPATTERN && e != BB_ENOMEM) || r != NULL)
			abort();
		if (e == BB_EPATTERN && memchr(reason, 0, sizeof(reason)) == NULL)
			abort();
		return 0;
	}
	if (!r)
		abort();
	bool m[sizeof(events) / sizeof(events[0])];
	bb_err me[sizeof(events) / sizeof(events[0])];
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		m[i] = false;
		me[i] = pat_match_rule(r, events[i], strlen(events[i]), &m[i]);
	}
	pat_builder *b = pat_builder_new();
	pat_scratch *sc = pat_scratch_new();
	if (b && sc && pat_builder_add(b, 7, r) == BB_OK) {
		pat_set *s = pat_builder_publish(b);
		for (size_t i = 0; s && i < sizeof(events) / sizeof(events[0]); i++) {
			uint32_t ids[4];
			size_t n = 99;
			bb_err se = pat_match(s, sc, events[i], strlen(events[i]), ids, 4, &n);
			if (se == BB_OK && me[i] == BB_OK && (n == 1 && ids[0] == 7) != m[i])
				abort(); /* the set and the single rule disagree */
			if (se == BB_OK && n > 1)
				abort();
		}
		if (s)
			pat_set_release(s);
		if (pat_builder_remove(b, 7) != BB_OK)
			abort();
		s = pat_builder_publish(b);
		if (s) {
			size_t n = 99;
			uint32_t ids[1];
			if (pat_match(s, sc, events[0], strlen(events[0]), ids, 1, &n) == BB_OK && n != 0)
				abort();
			pat_set_release(s);
		}
	}
	pat_scratch_free(sc);
	pat_builder_free(b);
	pat_rule_free(r);
	return 0;
}
