/* node/pattern/pat_classify.h — private: classifying 64 bytes of JSON into bit masks (quotes,
 * backslashes, dots, opening and closing brackets), the escape and in-string arithmetic on those
 * masks, for SSE2 (every x86-64) and AVX2 + PCLMUL; the commas and closing braces of 64 bytes (for
 * array elements read by template). Static inline, for pat_walk.c's cursor and walk instances
 * (pat_cursor_impl.h, pat_walk_impl.h) only.
 */
#ifndef PAT_CLASSIFY_H
#define PAT_CLASSIFY_H

#include <emmintrin.h>
#include <immintrin.h>
#include <stdint.h>


typedef struct blk {
	uint64_t quote, bslash, open, close, dot;
} blk;

/* Bits of the characters escaped by a backslash: a backslash escapes the next character unless it
 * is itself escaped. *carry: bit 0 of this block is escaped (the previous block ended in an odd run).
 * Blocks with backslashes are rare in events, so this walks the backslashes one by one. */
static uint64_t escaped_bits(uint64_t bs, uint64_t *carry)
{
	uint64_t esc = *carry;
	uint64_t b = bs & ~esc;
	*carry = 0;
	while (b) {
		int i = __builtin_ctzll(b);
		if (i == 63) {
			*carry = 1;
			break;
		}
		uint64_t next = 1ULL << (i + 1);
		esc |= next;
		b &= ~next; /* an escaped backslash escapes nothing */
		b &= b - 1; /* done with bit i */
	}
	return esc;
}

static inline uint64_t prefix_xor_sw(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

static inline __attribute__((always_inline)) uint64_t mask16(__m128i v, __m128i c)
{
	return (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, c));
}

/* Keeps the six classification constants in registers for a whole loop (GCC otherwise rebuilds each
 * broadcast inside the loop): the empty asm hides their values from the optimizer. */
#define PIN_CONSTS __asm__("" : "+x"(Q), "+x"(B), "+x"(O), "+x"(C), "+x"(D), "+x"(S))

/* '{' and '[' (0x7B, 0x5B) both become 0x7B when OR'ed with 0x20, '}' and ']' both 0x7D. The _k
 * forms take the constants, for loops that keep them in registers. */
#define SSE2_CONSTS                                                                                               \
	__m128i Q = _mm_set1_epi8('"'), B = _mm_set1_epi8('\\'), O = _mm_set1_epi8('{'), C = _mm_set1_epi8('}'),       \
		      D = _mm_set1_epi8('.'), S = _mm_set1_epi8(0x20);                                             \
	PIN_CONSTS

/* Quotes, backslashes and brackets (the skip loop needs no dots; classify_sse2_k adds them). */
static inline __attribute__((always_inline)) blk classify4_sse2_k(const char *p, __m128i Q, __m128i B, __m128i O,
								  __m128i C, __m128i S)
{
	blk b = {0};
	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
		__m128i f = _mm_or_si128(v, S);
		int sh = 16 * k;
		b.quote |= mask16(v, Q) << sh;
		b.bslash |= mask16(v, B) << sh;
		b.open |= mask16(f, O) << sh;
		b.close |= mask16(f, C) << sh;
	}
	return b;
}

static inline uint64_t dot_sse2(const char *p)
{
	const __m128i D = _mm_set1_epi8('.');
	uint64_t m = 0;
	for (int k = 0; k < 4; k++)
		m |= mask16(_mm_loadu_si128((const __m128i *)(p + 16 * k)), D) << (16 * k);
	return m;
}

static inline __attribute__((always_inline)) blk classify_sse2_k(const char *p, __m128i Q, __m128i B, __m128i O,
								 __m128i C, __m128i D, __m128i S)
{
	(void)D;
	blk b = classify4_sse2_k(p, Q, B, O, C, S);
	b.dot = dot_sse2(p);
	return b;
}

static inline __attribute__((always_inline)) blk classify_sse2(const char *p)
{
	SSE2_CONSTS;
	return classify_sse2_k(p, Q, B, O, C, D, S);
}

/* The ',' bits of p[0..64), its '}' bits in *close (an array element read by its template,
 * pat_walk_impl.h elem_par). */
static inline __attribute__((always_inline)) uint64_t commas_sse2(const char *p, uint64_t *close)
{
	uint64_t cm = 0, cl = 0;
	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
		cm |= mask16(v, _mm_set1_epi8(',')) << (16 * k);
		cl |= mask16(v, _mm_set1_epi8('}')) << (16 * k);
	}
	*close = cl;
	return cm;
}

#define AVX2_ATTR __attribute__((target("avx2,pclmul,popcnt,bmi")))

AVX2_ATTR static inline __attribute__((always_inline)) uint64_t mask32(__m256i v, __m256i c)
{
	return (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, c));
}

#define AVX2_CONSTS                                                                                               \
	__m256i Q = _mm256_set1_epi8('"'), B = _mm256_set1_epi8('\\'), O = _mm256_set1_epi8('{'),            \
		      C = _mm256_set1_epi8('}'), D = _mm256_set1_epi8('.'), S = _mm256_set1_epi8(0x20);           \
	PIN_CONSTS

AVX2_ATTR static inline __attribute__((always_inline)) blk classify4_avx2_k(const char *p, __m256i Q, __m256i B,
									    __m256i O, __m256i C, __m256i S)
{
	__m256i lo = _mm256_loadu_si256((const __m256i *)p), hi = _mm256_loadu_si256((const __m256i *)(p + 32));
	__m256i flo = _mm256_or_si256(lo, S), fhi = _mm256_or_si256(hi, S);
	return (blk){.quote = mask32(lo, Q) | mask32(hi, Q) << 32,
		     .bslash = mask32(lo, B) | mask32(hi, B) << 32,
		     .open = mask32(flo, O) | mask32(fhi, O) << 32,
		     .close = mask32(flo, C) | mask32(fhi, C) << 32};
}

AVX2_ATTR static inline uint64_t dot_avx2(const char *p)
{
	const __m256i D = _mm256_set1_epi8('.');
	return mask32(_mm256_loadu_si256((const __m256i *)p), D) |
	       mask32(_mm256_loadu_si256((const __m256i *)(p + 32)), D) << 32;
}

AVX2_ATTR static inline __attribute__((always_inline)) blk classify_avx2_k(const char *p, __m256i Q, __m256i B,
									   __m256i O, __m256i C, __m256i D, __m256i S)
{
	(void)D;
	blk b = classify4_avx2_k(p, Q, B, O, C, S);
	b.dot = dot_avx2(p);
	return b;
}

AVX2_ATTR static inline __attribute__((always_inline)) blk classify_avx2(const char *p)
{
	AVX2_CONSTS;
	return classify_avx2_k(p, Q, B, O, C, D, S);
}

AVX2_ATTR static inline __attribute__((always_inline)) uint64_t commas_avx2(const char *p, uint64_t *close)
{
	__m256i lo = _mm256_loadu_si256((const __m256i *)p), hi = _mm256_loadu_si256((const __m256i *)(p + 32));
	__m256i cm = _mm256_set1_epi8(','), cl = _mm256_set1_epi8('}');
	*close = mask32(lo, cl) | mask32(hi, cl) << 32;
	return mask32(lo, cm) | mask32(hi, cm) << 32;
}

AVX2_ATTR static inline __attribute__((always_inline)) uint64_t prefix_xor_clmul(uint64_t x)
{
	return (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8(-1), 0));
}

#endif /* PAT_CLASSIFY_H */
