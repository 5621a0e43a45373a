/* tests/fuzz/fuzz_pat_event.c — libFuzzer target: arbitrary bytes as an event (the event flattener
 * and matcher of node/pattern/).
 *
 * A fixed set of diverse compiled patterns (every operator, nesting, dotted keys, $or, arrays) is
 * built once, twice: as one full build, and incrementally (half the rules in the base, then the
 * other half added and two base rules replaced, so the set has a delta core and dead base rules).
 * Each input goes through pat_match on both sets (with a large and a tiny id buffer), through the
 * portable SSE2 walk as well as the best one, in a pat_match_batch between two copies of a fixed
 * event, and through pat_match_rule for every pattern. Must never
 * crash, leak, hang or hit UB; ids must be in range and distinct. When the event is well-formed (one
 * JSON object), every call must accept it, every answer must equal the per-rule answers and the total
 * must not depend on the buffer size; a malformed one may be rejected or, where the walk stopped
 * reading before the malformed bytes, answered (pat.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/pattern/pat.h"

static const char *const patterns[] = {
	"{\"source\":[\"aws.ec2\"],\"detail\":{\"state\":[\"pending\",\"running\"]}}",
	"{\"detail\":{\"c-count\":[{\"numeric\":[\">\",0,\"<=\",5]}],\"d-count\":[{\"numeric\":[\"<\",10]}]}}",
	"{\"region\":[{\"prefix\":\"us-\"}],\"account\":[{\"anything-but\":[\"111\",\"222\"]}]}",
	"{\"detail\":{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}],\"ip6\":[{\"cidr\":\"2001:db8::/32\"}]}}",
	"{\"resources\":[{\"wildcard\":\"arn:aws:ec2:*:instance/i-*\"}]}",
	"{\"detail-type\":[{\"equals-ignore-case\":\"ec2 instance state-change notification\"}]}",
	"{\"x\":{\"y\":{\"z\":[{\"suffix\":{\"equals-ignore-case\":\"SSE\"}}]}}}",
	"{\"x.y\":{\"z\":[{\"prefix\":{\"equals-ignore-case\":\"STRA\"}}]}}",
	"{\"a\":[1,\"b\",null,true],\"n\":[{\"exists\":true}],\"missing\":[{\"exists\":false}]}",
	"{\"employees\":{\"firstName\":[\"Anna\"],\"ids\":[{\"exists\":false}]}}",
	"{\"employees\":{\"firstName\":[\"John\"],\"ids\":[1000]}}",
	("{\"$or\":[{\"a\":{\"e\":{\"f\":[300]}}},{\"s\":[{\"anything-but\":{\"prefix\":\"x\"}}]},"
	 "{\"k\":[{\"anything-but\":{\"equals-ignore-case\":[\"kelvin k\"]}}]}]}"),
	"{\"detail\":{\"$or\":[{\"flag\":[true]},{\"none\":[null]}],\"empty\":[\"\"]}}",
	"{\"s\":[{\"anything-but\":{\"wildcard\":\"*a\\\\*b*\"}}],\"t\":[{\"anything-but\":{\"suffix\":[\"z\"]}}]}",
	"{\"n\":[0.1,-1e308,{\"anything-but\":[5,6]}],\"o\":[{\"exists\":false}],\"l\":[{\"exists\":false}]}",
	"{\"detail\":{\"ip\":[\"10.0.0.1\"],\"state\":[{\"anything-but\":\"stopped\"}]}}",
};

#define NPAT (sizeof(patterns) / sizeof(patterns[0]))

static pat_rule *rules[NPAT];
static pat_set *set, *inc;
static pat_scratch *scratch;
static int best;

static void setup(void)
{
	pat_builder *b = pat_builder_new();
	char reason[PAT_REASON_MAX];
	if (!b)
		abort();
	for (size_t i = 0; i < NPAT; i++) {
		if (pat_compile(patterns[i], strlen(patterns[i]), NULL, &rules[i], reason, sizeof(reason)) != BB_OK) {
			fprintf(stderr, "fuzz_pat_event: pattern %zu rejected: %s\n", i, reason);
			abort();
		}
		if (pat_builder_add(b, (uint32_t)(i + 1), rules[i]) != BB_OK)
			abort();
	}
	set = pat_builder_publish(b);
	scratch = pat_scratch_new();
	pat_builder_free(b);
	/* the same rules, incrementally: a base of the first half, then the rest as a delta, and two
	 * base rules replaced by themselves (dead in the base, live in the delta) */
	pat_builder *ib = pat_builder_new();
	if (!ib)
		abort();
	for (size_t i = 0; i < NPAT / 2; i++)
		if (pat_builder_add(ib, (uint32_t)(i + 1), rules[i]) != BB_OK)
			abort();
	pat_set_release(pat_builder_publish(ib));
	for (size_t i = NPAT / 2; i < NPAT; i++)
		if (pat_builder_add(ib, (uint32_t)(i + 1), rules[i]) != BB_OK)
			abort();
	if (pat_builder_add(ib, 1, rules[0]) != BB_OK || pat_builder_add(ib, 3, rules[2]) != BB_OK)
		abort();
	inc = pat_builder_publish(ib);
	pat_builder_free(ib);
	best = pat_simd_set(PAT_SIMD_HIGHEST);
	if (!set || !scratch || !inc)
		abort();
}

/* The ids a set matches, as a bit mask; BB_EINVAL when it rejects the event. */
static bb_err mask_of(pat_set *s, const char *ev, size_t size, uint32_t *mask)
{
	uint32_t ids[NPAT + 1];
	size_t n = 0;
	bb_err e = pat_match(s, scratch, ev, size, ids, NPAT + 1, &n);
	*mask = 0;
	for (size_t i = 0; e == BB_OK && i < n; i++) {
		if (ids[i] < 1 || ids[i] > NPAT || (*mask >> ids[i] & 1))
			abort();
		*mask |= 1u << ids[i];
	}
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!set)
		setup();
	const char *ev = (const char *)data;
	/* pat_match_rule validates the whole event first: BB_OK exactly when it is one JSON object */
	bool m0 = false;
	bb_err ev_ok = pat_match_rule(rules[0], ev, size, &m0);
	if (ev_ok != BB_OK && ev_ok != BB_EINVAL)
		abort();
	bool valid = ev_ok == BB_OK;
	uint32_t ids[NPAT + 1], few[2];
	size_t n = 0, nfew = 0;
	bb_err e = pat_match(set, scratch, ev, size, ids, NPAT + 1, &n);
	bb_err efew = pat_match(set, scratch, ev, size, few, 2, &nfew);
	/* a malformed event is BB_EINVAL, or — when the malformed bytes lie after the point where the
	 * walk stopped reading (nothing there could change the result) — a result; where the walk stops
	 * depends on the scratch's history, so only well-formed events must answer alike every time */
	if ((e != BB_OK && (e != BB_EINVAL || n != 0)) || (efew != BB_OK && (efew != BB_EINVAL || nfew != 0)))
		abort();
	if (valid && (e != BB_OK || efew != BB_OK || n != nfew))
		abort();
	if (e == BB_OK && n > NPAT)
		abort();
	bool in_set[NPAT] = {false};
	for (size_t i = 0; e == BB_OK && i < n; i++) {
		if (ids[i] < 1 || ids[i] > NPAT || in_set[ids[i] - 1])
			abort();
		in_set[ids[i] - 1] = true;
	}
	/* the incremental set and the portable walk answer alike */
	uint32_t full_mask = 0, m2 = 0;
	bb_err ef = mask_of(set, ev, size, &full_mask);
	bb_err ei = mask_of(inc, ev, size, &m2);
	if (valid && (ef != BB_OK || ei != BB_OK || m2 != full_mask))
		abort();
	pat_simd_set(0);
	bb_err es = mask_of(set, ev, size, &m2);
	pat_simd_set(best);
	if (valid && (es != BB_OK || m2 != full_mask))
		abort();
	/* and in a batch, between two copies of a fixed event (the lanes must not mix) */
	static const char other[] = "{\"source\":\"aws.ec2\",\"detail\":{\"state\":\"running\",\"c-count\":3}}";
	uint32_t bids[3][NPAT + 1];
	pat_batch_item items[3] = {{other, sizeof other - 1, bids[0], NPAT + 1, 0, BB_OK},
				   {ev, size, bids[1], NPAT + 1, 0, BB_OK},
				   {other, sizeof other - 1, bids[2], NPAT + 1, 0, BB_OK}};
	pat_match_batch(set, scratch, items, 3);
	uint32_t om = 0, bm = 0;
	if (mask_of(set, other, sizeof other - 1, &om) != BB_OK || items[0].err != BB_OK || items[2].err != BB_OK)
		abort();
	for (int k = 0; k < 3; k++) {
		uint32_t mk = 0;
		for (size_t i = 0; items[k].err == BB_OK && i < items[k].n; i++)
			mk |= 1u << bids[k][i];
		if (k != 1 && mk != om)
			abort();
		if (k == 1)
			bm = mk;
	}
	if (valid && (items[1].err != BB_OK || bm != full_mask))
		abort();
	if (!valid)
		return 0;
	for (size_t i = 0; i < NPAT; i++) {
		bool m = false;
		bb_err er = pat_match_rule(rules[i], ev, size, &m);
		if (er != BB_OK) {
			fprintf(stderr, "fuzz_pat_event: pattern %zu: pat_match_rule=%d on a valid event\n", i, er);
			abort();
		}
		if (m != in_set[i]) {
			fprintf(stderr, "fuzz_pat_event: pattern %zu: pat_match_rule=%d pat_match=%d\n", i, m, in_set[i]);
			abort();
		}
	}
	return 0;
}
