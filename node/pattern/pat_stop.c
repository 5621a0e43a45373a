/* node/pattern/pat_stop.c — the early-stop test of the event walk: does the rest of the event hold a
 * backslash or any of a few key labels?
 *
 * The walk (pat_walk_impl.h) may stop reading an event once nothing after the current position can
 * add a value for a used path. Every later key that could (a duplicate key, a dotted key, a later
 * member of an enclosing object) has, in its raw bytes, a label of the trie path the walk is on —
 * unless it is written with escapes. So when the rest holds no backslash and none of those labels
 * as a substring anywhere (values included: cheaper than knowing where keys are, and only ever
 * conservative), the result cannot change. The scan tests each label's first byte and its byte at
 * min(len, 32) - 1 (the memmem filter) for 16 (SSE2) or 64 (AVX2, AVX-512BW) positions per step and
 * confirms candidates with memcmp; it stops at the first backslash or real occurrence and returns
 * it, which the walk uses to avoid scanning the same bytes again (pat_walk_impl.h).
 * Threads: pure functions.
 */
#include <emmintrin.h>
#include <immintrin.h>
#include <string.h>

#include "pat_run.h"

#ifndef PAT_STOP_PREFETCH
#define PAT_STOP_PREFETCH 4096 /* bytes ahead of the AVX2/AVX-512 scans: events that follow one another
				* in memory (a batch, the benchmark, a log being replayed) arrive in cache.
				* Measured (busbar-bench match, Xeon VM, events from DRAM, events/s): 2048 ->
				* 4096 took EXACT 6.85M -> 7.28M, PREFIX 5.27M -> 5.43M, SCALE_EXACT_100000
				* 5.41M -> 5.62M; 8192 gained 1-2 % more on the first two but lost 5 % on the
				* third (its map probes wait behind the stream). Only the bytes scanned are
				* prefetched (shifted), so at most this many are fetched in vain at the end
				* of a run of events */
#endif

/* Whether a backslash or a label starts at p (p < end), by the plain definition. */
static bool hit_at(const char *p, const char *end, const pat_lab *l, unsigned n)
{
	if (*p == '\\')
		return true;
	for (unsigned i = 0; i < n; i++)
		if ((size_t)(end - p) >= l[i].n && p[0] == l[i].s[0] && memcmp(p, l[i].s, l[i].n) == 0)
			return true;
	return false;
}

/* Candidate bits m of the chunk at p, confirmed in order; the first real one, or NULL. */
static const char *confirm(const char *p, uint64_t m, const char *end, const pat_lab *l, unsigned n)
{
	for (; m; m &= m - 1) {
		const char *x = p + __builtin_ctzll(m);
		if (hit_at(x, end, l, n))
			return x;
	}
	return NULL;
}

/* The filter compares a label's first byte and its byte at d = min(n, 32) - 1 (longer labels are
 * still confirmed whole), so a chunk of W bytes reads at most W + 31. */
static inline unsigned dist(const pat_lab *l)
{
	return (l->n < 32 ? l->n : 32) - 1;
}

/* SSE2 (the portable fallback): 16 positions per step (reads p[0..47)). */
static inline uint64_t sse2_chunk(const char *p, const __m128i *first, const __m128i *last, const unsigned *d,
				  unsigned n, __m128i bsl)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	__m128i c = _mm_cmpeq_epi8(v, bsl);
#pragma GCC unroll 4
	for (unsigned i = 0; i < n; i++)
		c = _mm_or_si128(c, _mm_and_si128(_mm_cmpeq_epi8(v, first[i]),
						  _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + d[i])), last[i])));
	return (uint32_t)_mm_movemask_epi8(c);
}

/* The last < 47 bytes go through a zero-padded copy, 16 positions at a time (bits past the end
 * masked off), so no byte outside [p, end) is read. */
const char *pat_stop_scan_sse2(const char *lo, const char *p, const char *end, const pat_lab *l, unsigned n)
{
	(void)lo;
	if (n > PAT_STOP_LABELS)
		return p;
	__m128i first[PAT_STOP_LABELS], last[PAT_STOP_LABELS];
	unsigned d[PAT_STOP_LABELS];
	for (unsigned i = 0; i < n; i++) {
		d[i] = dist(&l[i]);
		first[i] = _mm_set1_epi8(l[i].s[0]);
		last[i] = _mm_set1_epi8(l[i].s[d[i]]);
	}
	const __m128i bsl = _mm_set1_epi8('\\');
	for (; end - p >= 16 + 31; p += 16) {
		uint64_t m = sse2_chunk(p, first, last, d, n, bsl);
		const char *x = m ? confirm(p, m, end, l, n) : NULL;
		if (x)
			return x;
	}
	while (p < end) {
		char buf[48];
		size_t r = (size_t)(end - p), k = r < 16 ? r : 16;
		memset(buf, 0, sizeof buf);
		memcpy(buf, p, r); /* r < 47 */
		uint64_t m = sse2_chunk(buf, first, last, d, n, bsl) & ((1ULL << k) - 1);
		const char *x = m ? confirm(p, m, end, l, n) : NULL;
		if (x)
			return x;
		p += k;
	}
	return NULL;
}

#define AVX2_FN __attribute__((target("avx2,bmi")))

/* AVX2: 64 positions per step (two 32-byte halves, one 64-bit candidate mask; reads p[0..95)). */
AVX2_FN static inline __attribute__((always_inline)) uint64_t avx2_chunk(const char *p, const __m256i *first,
									  const __m256i *last, const unsigned *d,
									  unsigned n, __m256i bsl)
{
	__m256i v0 = _mm256_loadu_si256((const __m256i *)p), v1 = _mm256_loadu_si256((const __m256i *)(p + 32));
	__m256i c0 = _mm256_cmpeq_epi8(v0, bsl), c1 = _mm256_cmpeq_epi8(v1, bsl);
#pragma GCC unroll 4 /* with the constant n of avx2_scan's small cases: the labels' vectors stay in registers */
	for (unsigned i = 0; i < n; i++) {
		__m256i w0 = _mm256_loadu_si256((const __m256i *)(p + d[i]));
		__m256i w1 = _mm256_loadu_si256((const __m256i *)(p + 32 + d[i]));
		c0 = _mm256_or_si256(c0, _mm256_and_si256(_mm256_cmpeq_epi8(v0, first[i]), _mm256_cmpeq_epi8(w0, last[i])));
		c1 = _mm256_or_si256(c1, _mm256_and_si256(_mm256_cmpeq_epi8(v1, first[i]), _mm256_cmpeq_epi8(w1, last[i])));
	}
	return (uint64_t)(uint32_t)_mm256_movemask_epi8(c0) | (uint64_t)(uint32_t)_mm256_movemask_epi8(c1) << 32;
}

/* The AVX2 scan for n labels, inlined with a constant n for the common small counts (GCC 12 keeps the
 * label loop but with a known bound: 6 % fewer instructions on EXACT than one generic loop,
 * callgrind). The last < 95 bytes are filtered in place by chunks that end at end (reading back to
 * lo, never past end); only an event shorter than that is copied into a zeroed buffer (a copy read
 * back at once stalls on store forwarding: ~15 % of an EXACT event when every tail was copied). */
AVX2_FN static inline __attribute__((always_inline)) const char *avx2_scan(const char *lo, const char *p,
									    const char *end, const pat_lab *l,
									    unsigned n)
{
	__m256i first[PAT_STOP_LABELS], last[PAT_STOP_LABELS];
	unsigned d[PAT_STOP_LABELS];
	for (unsigned i = 0; i < n; i++) {
		d[i] = dist(&l[i]);
		first[i] = _mm256_set1_epi8(l[i].s[0]);
		last[i] = _mm256_set1_epi8(l[i].s[d[i]]);
	}
	const __m256i bsl = _mm256_set1_epi8('\\');
	for (; end - p >= 64 + 31; p += 64) {
		__builtin_prefetch(p + PAT_STOP_PREFETCH, 0, 3);
		uint64_t m = avx2_chunk(p, first, last, d, n, bsl);
		if (__builtin_expect(m != 0, 0)) {
			const char *x = confirm(p, m, end, l, n);
			if (x)
				return x;
		}
	}
	size_t r = (size_t)(end - p); /* < 95 */
	if (!r)
		return NULL;
	if (end - lo >= 95) {
		/* the chunk of the 95 bytes ending at end covers positions up to end - 32 (those before p
		 * masked off); the last 31 can only start labels of at most 31 bytes, so their first byte
		 * and the confirmation decide: one load of the 32 bytes ending at end */
		const char *q = end - 95;
		unsigned skip = (unsigned)(p - q);
		if (skip < 64) {
			uint64_t m = avx2_chunk(q, first, last, d, n, bsl) & (~0ULL << skip);
			const char *x = m ? confirm(q, m, end, l, n) : NULL;
			if (x)
				return x;
		}
		__m256i v = _mm256_loadu_si256((const __m256i *)(end - 32));
		__m256i c = _mm256_cmpeq_epi8(v, bsl);
		for (unsigned i = 0; i < n; i++)
			c = _mm256_or_si256(c, _mm256_cmpeq_epi8(v, first[i]));
		uint64_t m = (uint32_t)_mm256_movemask_epi8(c) & ~1u; /* end - 32 itself: done above */
		if (r < 32)
			m &= ~0ULL << (32 - r);
		return m ? confirm(end - 32, m, end, l, n) : NULL;
	}
	/* a short event: a copy in a zeroed buffer */
	char buf[192] __attribute__((aligned(32)));
	memset(buf, 0, sizeof buf);
	char *b = buf + 96 - r; /* b[k] is p[k] */
	memcpy(b, p, r);
	for (size_t o = 0; o < r; o += 64) {
		uint64_t m = avx2_chunk(b + o, first, last, d, n, bsl);
		if (r - o < 64)
			m &= (1ULL << (r - o)) - 1;
		const char *x = m ? confirm(p + o, m, end, l, n) : NULL;
		if (x)
			return x;
	}
	return NULL;
}

AVX2_FN const char *pat_stop_scan_avx2(const char *lo, const char *p, const char *end, const pat_lab *l, unsigned n)
{
	switch (n) {
	case 0: return avx2_scan(lo, p, end, l, 0);
	case 1: return avx2_scan(lo, p, end, l, 1);
	case 2: return avx2_scan(lo, p, end, l, 2);
	case 3: return avx2_scan(lo, p, end, l, 3);
	case 4: return avx2_scan(lo, p, end, l, 4);
	default: return n > PAT_STOP_LABELS ? p : avx2_scan(lo, p, end, l, n);
	}
}

#define AVX512_FN __attribute__((target("avx512f,avx512bw,bmi")))

/* AVX-512BW: 64 bytes per step into mask registers; the last step loads with a byte mask (masked-off
 * bytes read as zero and never fault), so there is no copy. Inlined with a constant n for the small
 * counts, as the AVX2 scan. */
AVX512_FN static inline __attribute__((always_inline)) const char *avx512_scan(const char *p, const char *end,
									      const pat_lab *l, unsigned n)
{
	__m512i first[PAT_STOP_LABELS], last[PAT_STOP_LABELS];
	unsigned d[PAT_STOP_LABELS];
	for (unsigned i = 0; i < n; i++) {
		d[i] = dist(&l[i]);
		first[i] = _mm512_set1_epi8(l[i].s[0]);
		last[i] = _mm512_set1_epi8(l[i].s[d[i]]);
	}
	const __m512i bsl = _mm512_set1_epi8('\\');
	for (; end - p >= 64 + 31; p += 64) {
		__builtin_prefetch(p + PAT_STOP_PREFETCH, 0, 3);
		__m512i v = _mm512_loadu_si512((const void *)p);
		__mmask64 c = _mm512_cmpeq_epi8_mask(v, bsl);
#pragma GCC unroll 4
		for (unsigned i = 0; i < n; i++)
			c |= _mm512_mask_cmpeq_epi8_mask(_mm512_cmpeq_epi8_mask(v, first[i]),
							 _mm512_loadu_si512((const void *)(p + d[i])), last[i]);
		if (__builtin_expect(c != 0, 0)) {
			const char *x = confirm(p, c, end, l, n);
			if (x)
				return x;
		}
	}
	for (; p < end; p += 64) {
		size_t r = (size_t)(end - p);
		__mmask64 live = r >= 64 ? ~0ULL : (1ULL << r) - 1;
		__m512i v = _mm512_maskz_loadu_epi8(live, p);
		__mmask64 c = _mm512_cmpeq_epi8_mask(v, bsl);
		for (unsigned i = 0; i < n; i++) {
			__mmask64 wl = r > d[i] ? (r - d[i] >= 64 ? ~0ULL : (1ULL << (r - d[i])) - 1) : 0;
			c |= _mm512_mask_cmpeq_epi8_mask(_mm512_cmpeq_epi8_mask(v, first[i]),
							 _mm512_maskz_loadu_epi8(wl, p + d[i]), last[i]);
		}
		c &= live;
		if (c) {
			const char *x = confirm(p, c, end, l, n);
			if (x)
				return x;
		}
	}
	return NULL;
}

AVX512_FN const char *pat_stop_scan_avx512(const char *lo, const char *p, const char *end, const pat_lab *l, unsigned n)
{
	(void)lo;
	switch (n) {
	case 0: return avx512_scan(p, end, l, 0);
	case 1: return avx512_scan(p, end, l, 1);
	case 2: return avx512_scan(p, end, l, 2);
	case 3: return avx512_scan(p, end, l, 3);
	case 4: return avx512_scan(p, end, l, 4);
	default: return n > PAT_STOP_LABELS ? p : avx512_scan(p, end, l, n);
	}
}
