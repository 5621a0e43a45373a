/* tests/unit/test_pat_stop.c — the walk's early stop (node/pattern/pat_stop.c, try_stop in
 * pat_walk_impl.h): what comes after a stop point must still count when it can — a later member of an
 * enclosing object, a dotted or duplicate key, an escaped key, a later scalar of an array, exists:false
 * — and the three scanners (SSE2, AVX2, AVX-512BW where the CPU has them) find exactly the first
 * backslash or label occurrence that a plain byte loop finds. White-box: the scanners are private
 * (pat_run.h), tested here directly because the walk only ever asks them yes/no questions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/pattern/pat.h"
#include "node/pattern/pat_run.h"

/* Whether the one pattern matches the event, through a published set and a scratch reused for
 * `rounds` calls (the scratch's failure back-off must not change answers). */
static bool matches(const char *pattern, const char *event, int rounds)
{
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	assert_int_equal(pat_compile(pattern, strlen(pattern), NULL, &r, reason, sizeof(reason)), BB_OK);
	pat_builder *b = pat_builder_new();
	assert_int_equal(pat_builder_add(b, 7, r), BB_OK);
	pat_set *s = pat_builder_publish(b);
	pat_scratch *sc = pat_scratch_new();
	size_t first = 0;
	for (int i = 0; i < rounds; i++) {
		uint32_t ids[2];
		size_t n = 99;
		assert_int_equal(pat_match(s, sc, event, strlen(event), ids, 2, &n), BB_OK);
		if (i == 0)
			first = n;
		assert_int_equal(n, first);
	}
	bool one = false;
	assert_int_equal(pat_match_rule(r, event, strlen(event), &one), BB_OK);
	assert_int_equal(one, first == 1);
	pat_set_release(s);
	pat_scratch_free(sc);
	pat_builder_free(b);
	pat_rule_free(r);
	return first == 1;
}

static void after_the_stop_point(void **st)
{
	(void)st;
	static const int levels[] = {0, 1, 2};
	for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
		pat_simd_set(levels[k]);
		/* a later member of an enclosing object */
		assert_true(matches("{\"a\":{\"b\":[\"1\"]},\"c\":[\"2\"]}", "{\"a\":{\"b\":\"1\",\"x\":0},\"c\":\"2\"}", 40));
		assert_false(matches("{\"a\":{\"b\":[\"1\"]},\"c\":[\"2\"]}", "{\"a\":{\"b\":\"1\",\"x\":0},\"d\":\"2\"}", 40));
		/* a later dotted key adds a value to a used path */
		assert_true(matches("{\"a\":{\"b\":[\"1\"],\"c\":[\"2\"]}}", "{\"a\":{\"b\":\"1\",\"x\":0},\"a.c\":\"2\"}", 40));
		/* a later duplicate key */
		assert_true(matches("{\"a\":[\"2\"]}", "{\"a\":\"1\",\"x\":0,\"a\":\"2\"}", 40));
		assert_true(matches("{\"p\":{\"a\":[\"2\"]}}", "{\"p\":{\"a\":\"1\",\"x\":0},\"p\":{\"a\":\"2\"}}", 40));
		/* a later key written with an escape: its raw bytes hold no label */
		assert_true(matches("{\"b\":[\"2\"]}", "{\"x\":1,\"y\":2,\"\\u0062\":\"2\"}", 40));
		assert_true(matches("{\"a\":{\"bc\":[\"2\"]}}", "{\"a\":{\"z\":1,\"y\":2,\"b\\u0063\":\"2\"}}", 40));
		/* exists:false fails on a value that comes after the stop point */
		assert_false(matches("{\"a\":[\"1\"],\"b\":[{\"exists\":false}]}", "{\"a\":\"1\",\"x\":0,\"b\":\"z\"}", 40));
		assert_true(matches("{\"a\":[\"1\"],\"b\":[{\"exists\":false}]}", "{\"a\":\"1\",\"x\":0,\"c\":\"b\"}", 40));
		/* inside an array, a later scalar element is a value of the array's own path */
		assert_true(matches("{\"a\":[\"2\"]}", "{\"a\":[{\"b\":\"1\",\"x\":0},\"2\"]}", 40));
		assert_true(matches("{\"$or\":[{\"a\":[\"2\"]},{\"a\":{\"b\":[\"9\"]}}]}",
				    "{\"a\":[{\"b\":\"1\",\"x\":0},\"2\"]}", 40));
		/* anything-but: a later value of the field makes it match */
		assert_true(matches("{\"a\":[{\"anything-but\":[\"1\"]}]}", "{\"a\":\"1\",\"x\":0,\"a\":\"3\"}", 40));
		/* the jump over members whose keys hold no label (a failed test's scan found the first at x):
		 * only to a key of the same object — not to a label in a value, a nested object, or the
		 * middle of a key — and it never passes over a used key, escaped, dotted or spaced */
		assert_true(matches("{\"p\":{\"STREET\":[\"x\"]}}", "{\"p\":{\"a\":1,\"b\":\"STREET\",\"c\":2,\"STREET\":\"x\"}}", 40));
		assert_false(matches("{\"p\":{\"STREET\":[\"y\"]}}", "{\"p\":{\"a\":1,\"b\":{\"STREET\":\"y\"},\"STREET\":\"x\"}}", 40));
		assert_true(matches("{\"p\":{\"STREET\":[\"x\"]}}", "{\"p\":{\"a\":1,\"b\":[{\"STREET\":\"y\"}],\"STREET\":\"x\"}}", 40));
		assert_true(matches("{\"p\":{\"STREET\":[\"x\"],\"ZIP\":[\"1\"]}}",
				    "{\"p\":{\"a\":1,\"ZIP\":\"1\",\"b\":2,\"STREET\":\"x\"}}", 40));
		assert_true(matches("{\"p\":{\"STREET\":[\"x\"]}}", "{\"p\":{\"a\":1,\"b\":2,\"\\u0053TREET\":\"x\"}}", 40));
		assert_true(matches("{\"p\":{\"STREET\":[\"y\"]}}", "{\"p\":{\"a\":1,\"aSTREET\":\"x\",\"STREET\":\"y\"}}", 40));
		assert_true(matches("{\"p\":{\"STREET\":{\"x\":[\"q\"]}}}", "{\"p\":{\"a\":1,\"b\":2,\"STREET.x\":\"q\"}}", 40));
		assert_true(matches("{\"p\":{\"STREET\":[\"x\"]}}", "{\"p\":{\"a\":1 ,\n \"b\":2 , \"STREET\" : \"x\"}}", 40));
		assert_false(matches("{\"p\":{\"STREET\":[\"x\"]}}", "{\"p\":{\"a\":1,\"b\":2},\"STREET\":\"x\"}", 40));
		/* not to a string's closing quote: a value ending in ',' with a label (a key " ") after it */
		assert_false(matches("{\"a\":[\"1\"],\" \":[\"x\"]}", "{\"a\":\"1\",\"k\":\"v,\" ,\"z\":1}", 40));
		assert_true(matches("{\"a\":[\"1\"],\" \":[\"x\"]}", "{\"a\":\"1\",\"k\":\"v,\" ,\" \":\"x\"}", 40));
		/* the stop itself: nothing after it can match, the answer is the same */
		assert_true(matches("{\"a\":[\"1\"]}", "{\"a\":\"1\",\"x\":{\"y\":[1,2,{\"z\":\"a\"}]},\"w\":\"q\"}", 40));
	}
	pat_simd_set(-1);
}

static uint64_t rng_state = 0x243F6A8885A308D3ULL;

static unsigned rn(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static const char *naive(const char *p, const char *end, const pat_lab *l, unsigned n)
{
	for (; p < end; p++) {
		if (*p == '\\')
			return p;
		for (unsigned i = 0; i < n; i++)
			if ((size_t)(end - p) >= l[i].n && memcmp(p, l[i].s, l[i].n) == 0)
				return p;
	}
	return NULL;
}

static void scanners_agree(void **st)
{
	(void)st;
	static const char alpha[] = "abcab\"{}:,.xy\\";
	pat_stop_fn fns[3] = {pat_stop_scan_sse2, NULL, NULL};
	int best = pat_simd_set(PAT_SIMD_HIGHEST);
	if (best >= 1)
		fns[1] = pat_stop_scan_avx2;
	if (best >= 2)
		fns[2] = pat_stop_scan_avx512;
	char *buf = malloc(400);
	char lab[PAT_STOP_LABELS][48];
	for (int it = 0; it < 20000; it++) {
		size_t len = rn(300);
		/* the text sits at the end of its allocation, so an over-read would show under ASan */
		char *text = buf + 400 - len;
		bool bs = rn(4) == 0;
		for (size_t i = 0; i < len; i++) {
			text[i] = alpha[rn(bs ? sizeof alpha - 1 : sizeof alpha - 2)];
		}
		unsigned n = rn(PAT_STOP_LABELS + 1);
		pat_lab l[PAT_STOP_LABELS];
		for (unsigned i = 0; i < n; i++) {
			unsigned ln = 1 + rn(rn(4) == 0 ? 45 : 4);
			for (unsigned j = 0; j < ln; j++)
				lab[i][j] = alpha[rn(sizeof alpha - 2)];
			if (len >= ln && rn(3) == 0) /* plant it */
				memcpy(text + rn((unsigned)(len - ln + 1)), lab[i], ln);
			l[i] = (pat_lab){lab[i], ln};
		}
		const char *start = text + (len ? rn((unsigned)len + 1) : 0);
		const char *want = naive(start, text + len, l, n);
		for (int k = 0; k < 3; k++) {
			if (!fns[k])
				continue;
			const char *got = fns[k](text, start, text + len, l, n);
			if (got != want)
				fail_msg("scanner %d: iteration %d len %zu labels %u: got %td want %td", k, it, len, n,
					 got ? got - start : -1, want ? want - start : -1);
		}
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(after_the_stop_point),
		cmocka_unit_test(scanners_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
