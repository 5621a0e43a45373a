/* tests/fuzz/fuzz_xform_apply.c — libFuzzer target: node/xform/ (target input transformation).
 *
 * The first byte picks what the rest is:
 *   0  an event, given to a fixed set of compiled transformations (InputPath with and without
 *      wildcards, JSON / string / bare templates using every reserved variable, Input, none);
 *   1  a template (up to the first NUL byte; after it, an event), compiled with a fixed paths map and
 *      applied to fixed events and to the given one;
 *   2  a JSONPath, compiled as InputPath and as an InputPathsMap value, applied to fixed events;
 *   3  an Input, compiled and applied.
 * Must never crash, leak, hang or hit UB. Oracles: results are only BB_OK / BB_EINVAL / BB_ETOOBIG
 * (compile: BB_OK / BB_EINVAL with a NUL-terminated message); an OK payload is NUL-terminated and
 * applying twice gives the same bytes; a JSON template's payload is valid minified JSON; an Input is
 * delivered verbatim; and every event jansson accepts (without NUL bytes), InputPath "$" accepts too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/xform/xform_int.h"

typedef struct cfg {
	const char *input, *path, *tmpl;
	bool json_out; /* a JSON template: the payload must be valid minified JSON */
} cfg;

static const char *const MAP =
	"{\"a\":\"$.detail\",\"b\":\"$.detail.b\",\"c\":\"$.resources[0]\",\"w\":\"$.detail.*\",\"n\":\"$.detail.n\","
	"\"q\":\"$['detail']['a'][-1]\",\"s\":\"$.detail.s\"}";

static const cfg cfgs[] = {
	{NULL, "$", NULL, false},
	{NULL, "$.detail", NULL, false},
	{NULL, "$.detail.*[*]", NULL, false},
	{NULL, "$['detail'].a[-1]", NULL, false},
	{NULL, "$.resources[0]", NULL, false},
	{NULL, NULL,
	 "{\"a\": <a>, \"b\": \"<b> <c>\", \"e\": <aws.events.event>, \"j\": <aws.events.event.json>, "
	 "\"t\": <aws.events.event.ingestion-time>, \"r\": [<aws.events.rule-arn>, \"<aws.events.rule-name>\"], "
	 "\"w\": <w>, \"q\": <q>}",
	 true},
	{NULL, NULL, "\"<a> <b> <c> <w> <q> <s> <aws.events.event> <aws.events.event.ingestion-time>\"\n\"<n>\"", false},
	{NULL, NULL, "<n>", false},
	{NULL, NULL, "[<s>, \"<s>\", <n>]", true},
	{"{\"constant\": [1, 2.50, \"x\"]}", NULL, NULL, false},
};
#define NCFG (sizeof cfgs / sizeof cfgs[0])

static const char *const events[] = {
	"{\"version\":\"0\",\"id\":\"i\",\"detail-type\":\"d\",\"source\":\"s\",\"account\":\"1\","
	"\"time\":\"2022-01-01T00:00:00Z\",\"region\":\"r\",\"resources\":[\"arn\"],"
	"\"detail\":{\"a\":[1,{\"x\":null}],\"b\":\"q\\\"x\\n\",\"n\":1.5e3,\"s\":\"\\u00e9\\ud83d\\ude00\"}}",
	"{ \"detail\" : { \"b\" : [ ] , \"n\" : true } , \"time\" : \"2024-02-29T23:59:59.999Z\" }",
	"[1,2,3]",
	"\"just a string\"",
};
#define NEV (sizeof events / sizeof events[0])

static xform *fixed[NCFG];
static json_t *map;
static bool ready;

static void setup(void)
{
	json_error_t jerr;
	map = json_loads(MAP, 0, &jerr);
	if (!map)
		abort();
	for (size_t i = 0; i < NCFG; i++) {
		char msg[XFORM_MSG_MAX];
		json_t *it = NULL;
		if (cfgs[i].tmpl)
			it = json_pack("{s:s, s:O}", "InputTemplate", cfgs[i].tmpl, "InputPathsMap", map);
		if (xform_compile("fz", cfgs[i].input, cfgs[i].path, it, &fixed[i], msg, sizeof msg) != BB_OK) {
			fprintf(stderr, "fuzz_xform_apply: config %zu rejected: %s\n", i, msg);
			abort();
		}
		json_decref(it);
	}
	ready = true;
}

/* Applies x twice and checks the oracles; returns the result code. */
static bb_err run(const xform *x, const char *ev, size_t len, int64_t ms, bool json_out, const char *input)
{
	xform_ctx ctx = {.rule_arn = "arn:aws:events:us-east-1:000000000000:rule/b/r", .rule_name = "r\"q", .ingest_ms = ms};
	char *o1 = NULL, *o2 = NULL;
	size_t l1 = 0, l2 = 0;
	bb_err e1 = xform_apply(x, ev, len, &ctx, &o1, &l1);
	bb_err e2 = xform_apply(x, ev, len, &ctx, &o2, &l2);
	if (e1 != e2 || (e1 != BB_OK && e1 != BB_EINVAL && e1 != BB_ETOOBIG))
		abort();
	if (e1 != BB_OK) {
		if (o1 || o2 || l1 || l2)
			abort();
		return e1;
	}
	if (!o1 || !o2 || l1 != l2 || memcmp(o1, o2, l1) != 0 || o1[l1] != '\0')
		abort();
	if (json_out) {
		xbuf m;
		xbuf_init(&m, SIZE_MAX);
		if (!xj_minify(o1, l1, &m, false) || m.len != l1 || memcmp(m.p, o1, l1) != 0)
			abort();
		xbuf_free(&m);
	}
	if (input && (l1 != strlen(input) || memcmp(o1, input, l1) != 0))
		abort();
	free(o1);
	free(o2);
	return e1;
}

static char *dup_n(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

static void check_compile(bb_err e, const char *msg, xform *x)
{
	if ((e != BB_OK && e != BB_EINVAL) || !memchr(msg, '\0', XFORM_MSG_MAX) || (e != BB_OK && x))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	if (size == 0)
		return 0;
	uint8_t mode = data[0] % 4;
	data++;
	size--;
	int64_t ms = (int64_t)(size * 2654435761u) % 253402300800000LL;
	char msg[XFORM_MSG_MAX];
	xform *x = NULL;
	switch (mode) {
	case 0: {
		const char *ev = (const char *)data;
		for (size_t i = 0; i < NCFG; i++) {
			bb_err e = run(fixed[i], ev, size, ms, cfgs[i].json_out, cfgs[i].input);
			/* "$" must accept every event jansson accepts (jansson stops at a NUL byte: skip those) */
			if (i == 0 && !memchr(ev, 0, size)) {
				json_error_t jerr;
				json_t *j = json_loadb(ev, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
				if (j && e != BB_OK)
					abort();
				json_decref(j);
			}
		}
		run(NULL, ev, size, ms, false, NULL);
		break;
	}
	case 1: {
		const uint8_t *nul = memchr(data, 0, size);
		size_t tl = nul ? (size_t)(nul - data) : size;
		char *tmpl = dup_n(data, tl);
		json_t *it = json_pack("{s:s%, s:O}", "InputTemplate", tmpl, tl, "InputPathsMap", map);
		if (!it) /* not UTF-8: the API layer never passes such a template */
			goto done1;
		bb_err e = xform_compile("fz", NULL, NULL, it, &x, msg, sizeof msg);
		check_compile(e, msg, x);
		if (e == BB_OK) {
			bool json_out = x->tkind == XT_JSON;
			for (size_t i = 0; i < NEV; i++)
				run(x, events[i], strlen(events[i]), ms, json_out, NULL);
			if (nul)
				run(x, (const char *)nul + 1, size - tl - 1, ms, json_out, NULL);
		}
		xform_free(x);
		json_decref(it);
	done1:
		free(tmpl);
		break;
	}
	case 2: {
		char *path = dup_n(data, size);
		bb_err e = xform_compile("fz", NULL, path, NULL, &x, msg, sizeof msg);
		check_compile(e, msg, x);
		if (e == BB_OK)
			for (size_t i = 0; i < NEV; i++)
				run(x, events[i], strlen(events[i]), ms, false, NULL);
		xform_free(x);
		x = NULL;
		json_t *it = json_pack("{s:s, s:{s:s}}", "InputTemplate", "{\"v\": <v>, \"s\": \"<v>\"}", "InputPathsMap", "v",
				       path);
		if (it) {
			e = xform_compile("fz", NULL, NULL, it, &x, msg, sizeof msg);
			check_compile(e, msg, x);
			if (e == BB_OK)
				for (size_t i = 0; i < NEV; i++)
					run(x, events[i], strlen(events[i]), ms, true, NULL);
			xform_free(x);
			json_decref(it);
		}
		free(path);
		break;
	}
	default: {
		char *input = dup_n(data, size);
		bb_err e = xform_compile("fz", input, NULL, NULL, &x, msg, sizeof msg);
		check_compile(e, msg, x);
		if (e == BB_OK)
			run(x, events[0], strlen(events[0]), ms, false, input);
		xform_free(x);
		free(input);
	}
	}
	return 0;
}
