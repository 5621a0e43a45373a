/* node/pattern/pat_walk.c — the one pass over an event's bytes, and what each used leaf value does.
 *
 * A cursor (pat_cursor_impl.h) classifies the event 64 bytes at a time, simdjson-style: quotes with
 * escapes removed, the in-string mask as the prefix XOR of the quotes (one carry-less multiply),
 * brackets outside strings, dots and backslashes. The walk (pat_walk_impl.h) follows only the object
 * keys that are in a core's path trie: a key's end is the next quote bit, a key mask (length, first and
 * last byte) rejects most unused keys before their bytes are read, and an unused value is skipped — a
 * string by its closing quote bit, a container by counting brackets with popcount, 64 bytes per step.
 * Dotted event keys are walked segment by segment, so "a.b" ≡ a→b. Later duplicate or dotted keys
 * are still seen (event-ruler reads them), so the walk reads on until a test at a member boundary (try_stop,
 * pat_stop.c) shows that the rest holds no backslash and no label of the trie path it is on: then no
 * later key can add a value for a used path and the walk stops; a test that fails still lets the walk
 * jump to the later key of the same object where the scan found the first label (try_stop, jump).
 * An array of small records written alike is read through an element template (tmpl_build below,
 * tmpl_elem). Each leaf value of a used field goes to pat_emit.c.
 * The cursor and the walk are compiled for AVX2+PCLMUL and for plain SSE2 (chosen once per process,
 * pat_simd_set; the classifiers are in pat_classify.h), and the walk for one core and for base + delta.
 */
#include <emmintrin.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "pat_run.h"

bool pat_push1_grow(pat_scratch *sc, uint32_t **a, size_t *n, size_t *cap)
{
	if (*n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 64;
	uint32_t *na = realloc(*a, c * 4);
	if (!na) {
		sc->oom = true;
		return false;
	}
	*a = na;
	*cap = c;
	return true;
}

bool pat_push2_grow(pat_scratch *sc, uint32_t **a, uint32_t **b, size_t *n, size_t *cap)
{
	if (*n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 256;
	uint32_t *na = realloc(*a, c * 4);
	if (na)
		*a = na;
	uint32_t *nb = na ? realloc(*b, c * 4) : NULL;
	if (nb)
		*b = nb;
	if (!na || !nb) {
		sc->oom = true;
		return false;
	}
	*cap = c;
	return true;
}

/* Whether the number v, split by the walk's scan, is surely outside what field fid (f, num_only) of
 * core k could match: its approximation (pat_num_approx) is outside the widened hulls of the field's
 * exact numbers and of its ranges that can still change the event's result (pat_in_open_ranges) —
 * pat_emit_number would want nothing of it. Tested inline before that call: a record's other
 * coordinates seldom come near a pattern's one number, and one-condition ranges are soon hit. */
static inline bool num_outside(const pat_walk *w, int k, uint32_t fid, const pat_field *f, const pat_value *v)
{
	double a;
	if (!f->need_num || f->numtext.e || !pat_num_approx(&v->nparts, &a))
		return false;
	return !(f->nnumv && a >= f->ntlo && a <= f->nthi) && !(f->nranges && pat_in_open_ranges(w, k, fid, f, a));
}

/* ---- scanning ------------------------------------------------------------------------------------ */

enum { SC_WORDS = 1, SC_ESC = 2, SC_DOT = 4, SC_CTRL = 8 };

/* Skips whitespace: bounded by the event's final '}' (e is only a guard). */
static const char *ws_slow(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static inline const char *ws(const char *p, const char *e)
{
	return (unsigned char)*p <= ' ' ? ws_slow(p, e) : p;
}

/* Whether byte c ends a number or literal that is skipped, not read: ',', '}', ']', ':', and every
 * byte no well-formed scalar holds that is a space or control byte or not ASCII (so one signed
 * compare finds them; the walk then tells a malformed event from its next byte). */
static inline bool delim(unsigned char c)
{
	return c <= ' ' || c >= 0x80 || c == ',' || c == '}' || c == ']' || c == ':';
}

/* The end of a number or literal that is skipped: bounded by the event's final '}'; the first 16
 * bytes in one SSE2 step when they are in the event (e: its end). */
static inline const char *scalar_end(const char *p, const char *e)
{
	if (__builtin_expect(e - p >= 16, 1)) {
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		__m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x21)), /* and >= 0x80: negative */
					 _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('}')));
		m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')), _mm_cmpeq_epi8(v, _mm_set1_epi8(':'))));
		unsigned b = (unsigned)_mm_movemask_epi8(m); /* '}' or ']' (0x5D | 0x20 == 0x7D) */
		if (b)
			return p + __builtin_ctz(b);
		p += 16;
	}
	while (!delim((unsigned char)*p))
		p++;
	return p;
}

static inline bool digit(char c)
{
	return (unsigned)(unsigned char)c - '0' <= 9;
}

static const uint64_t pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* The value of the n (1..8) ASCII digits in the low bytes of v, x = v - "00000000": shifted to the top
 * of the word, then combined pairwise in its lanes (2, 4, then 8 digits). */
static inline uint64_t digits_value(uint64_t x, unsigned n)
{
	x <<= 8 * (8 - n);
	x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFULL;
	x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFULL;
	return (x * 10000 + (x >> 32)) & 0xFFFFFFFFULL;
}

/* Appends the digits at p to *m, eight at a time while eight bytes are readable: a byte is a digit
 * when its high nibble is 3 and adding 6 keeps it so (carries and borrows of the bytes after the
 * digits only move to later bytes). Returns the end of the digits. */
static inline const char *more_digits(const char *p, const char *e, uint64_t *m)
{
	while (e - p >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		uint64_t bad = ((v & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL) |
			       (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL);
		unsigned n = bad ? (unsigned)__builtin_ctzll(bad) / 8 : 8;
		if (n) {
			*m = *m * pow10_u64[n] + digits_value(v - 0x3030303030303030ULL, n);
			p += n;
		}
		if (n < 8)
			return p;
	}
	while (digit(*p))
		*m = *m * 10 + (unsigned)(*p++ - '0');
	return p;
}

/* The end of the JSON number at p, or NULL when it is malformed, with its digits split into t (see
 * pat_numparts) on the way: the general path, digit loops bounded by the event's final '}'. */
static const char *scan_number_slow(const char *p, const char *e, pat_numparts *t)
{
	bool neg = *p == '-';
	p += neg;
	uint64_t m = 0;
	int digits, lead = 0, f = 0;
	const char *st = p;
	if (*p == '0') {
		p++;
		lead = 1;
	} else if (digit(*p)) {
		do
			m = m * 10 + (unsigned)(*p++ - '0');
		while (digit(*p));
	} else {
		return NULL;
	}
	digits = (int)(p - st);
	if (*p == '.') {
		const char *fs = ++p;
		if (!digit(*p))
			return NULL;
		if (m == 0) { /* 0.000ddd: the zeros after the point are not significant */
			while (*p == '0')
				p++;
			lead += (int)(p - fs);
		}
		p = more_digits(p, e, &m);
		f = (int)(p - fs);
		digits += f;
	}
	bool plain = true;
	if ((*p | 0x20) == 'e') {
		p++;
		p += *p == '+' || *p == '-';
		if (!digit(*p))
			return NULL;
		while (digit(*++p))
			;
		plain = false;
	}
	t->M = m;
	t->k = (int16_t)(digits - lead < 0x7fff ? digits - lead : 0x7fff);
	t->f = (int16_t)(f < 0x7fff ? f : 0x7fff);
	t->neg = neg;
	t->plain = plain && digits - lead <= 19;
	return p;
}

static const uint64_t pow10_big[17] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
					10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
					100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
					1000000000000000ULL, 10000000000000000ULL};

/* The digit bytes of p[0..32) as bits (SSE2: a byte minus '0' is a digit when min(it, 9) is itself). */
static inline uint32_t digit_bits32(const char *p)
{
	const __m128i z = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
	__m128i a = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)p), z);
	__m128i b = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), z);
	return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(a, nine), a)) |
	       (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(b, nine), b)) << 16;
}

/* The value of the n (0..8) digits at p (8 bytes readable). */
static inline uint64_t digits_at(const char *p, unsigned n)
{
	if (!n)
		return 0;
	uint64_t v;
	memcpy(&v, p, 8);
	return digits_value(v - 0x3030303030303030ULL, n);
}

/* The value of the n (9..16) ASCII digits that end at end, the 16 bytes before end readable: the
 * digits as bytes (those before them masked to 0), combined in 16-bit lanes (2 digits, then 4) and
 * 32-bit ones (8), SSE2 only. */
static inline uint64_t digits16(const char *end, unsigned n)
{
	static const uint8_t keep[32] = {0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
					 0,    0,    0,    0,    0,    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
					 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	__m128i v = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(end - 16)), _mm_set1_epi8('0'));
	v = _mm_and_si128(v, _mm_loadu_si128((const __m128i *)(keep + n)));
	const __m128i z = _mm_setzero_si128(), m10 = _mm_setr_epi16(10, 1, 10, 1, 10, 1, 10, 1);
	__m128i lo = _mm_madd_epi16(_mm_unpacklo_epi8(v, z), m10), hi = _mm_madd_epi16(_mm_unpackhi_epi8(v, z), m10);
	__m128i t = _mm_madd_epi16(_mm_packs_epi32(lo, hi), _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
	t = _mm_madd_epi16(_mm_packs_epi32(t, t), _mm_setr_epi16(10000, 1, 10000, 1, 0, 0, 0, 0));
	uint64_t a = (uint32_t)_mm_cvtsi128_si32(t), b = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(t, 4));
	return a * 100000000ULL + b;
}

/* The common shape of a number at p, from one 32-byte digit mask: an integer part of at most 8
 * digits without a leading zero (or a single 0), an optional fraction of at most 16 digits (not
 * 0.0…), at most 19 significant digits, no exponent, within 32 readable bytes — the numbers
 * scan_number reads on its fast path, by the same tests. Its end, with its integer and fraction digit
 * counts in *i and *j; NULL for any other number. num_skip may leave such a number unread: the walk
 * goes on from the byte it would have (test_pat_scale: number_scanners checks the two agree). Kept
 * apart from scan_number, which interleaves these tests with the digit conversion: written on top of
 * this function, it costs ~3 % more instructions on COMPLEX_ARRAYS (GCC 12, callgrind). */
static inline __attribute__((always_inline)) const char *fast_shape(const char *p, const char *e, unsigned *i,
								    unsigned *j)
{
	const char *s = p + (*p == '-');
	if (__builtin_expect(e - s < 32, 0))
		return NULL;
	uint32_t db = digit_bits32(s);
	if (__builtin_expect(db == ~0u, 0)) /* 32 digits: ctz(0) below is undefined */
		return NULL;
	unsigned ni = (unsigned)__builtin_ctz(~db), nj = 0, lead = s[0] == '0';
	if (ni == 0 || ni > 8 || (lead && ni > 1))
		return NULL;
	const char *q = s + ni;
	if (*q == '.') {
		uint32_t rest = ~db >> (ni + 1); /* non-digits after the point; bit 31 - ni - 1 and up are 0 */
		nj = rest ? (unsigned)__builtin_ctz(rest) : 32;
		if (nj == 0 || nj > 16 || ni + 1 + nj >= 32 || (lead && q[1] == '0'))
			return NULL;
		q += 1 + nj;
	}
	if (__builtin_expect((*q | 0x20) == 'e', 0) || ni + nj - lead > 19)
		return NULL;
	*i = ni;
	*j = nj;
	return q;
}

/* scan_number_slow's answer, read from one 32-byte digit mask for the common shape (fast_shape's):
 * the lengths come from the mask and the digits in 8-byte lanes (a fraction of more than 8 in one 16-byte step, when the 16
 * bytes before its end are in [lo, e)), with no loop per digit. Any other number
 * takes the general path, which gives the same answer (tests/unit/test_pat_scale: number_scanners). */
static inline __attribute__((always_inline)) const char *scan_number(const char *lo, const char *p, const char *e,
								     pat_numparts *t)
{
	const char *s = p + (*p == '-');
	if (__builtin_expect(e - s < 32, 0))
		return scan_number_slow(p, e, t);
	uint32_t db = digit_bits32(s);
	if (__builtin_expect(db == ~0u, 0)) /* 32 digits: ctz(0) below is undefined */
		return scan_number_slow(p, e, t);
	unsigned i = (unsigned)__builtin_ctz(~db); /* integer digits */
	if (i == 0 || i > 8 || (s[0] == '0' && i > 1))
		return scan_number_slow(p, e, t);
	uint64_t m = digits_at(s, i);
	unsigned j = 0, lead = s[0] == '0';
	const char *q = s + i;
	if (*q == '.') {
		uint32_t rest = ~db >> (i + 1); /* non-digits after the point; bit 31 - i - 1 and up are 0 */
		j = rest ? (unsigned)__builtin_ctz(rest) : 32;
		if (j == 0 || j > 16 || i + 1 + j >= 32 || (lead && q[1] == '0'))
			return scan_number_slow(p, e, t);
		const char *fs = q + 1;
		if (j <= 8)
			m = m * pow10_big[j] + digits_at(fs, j);
		else if (fs + j - lo >= 16)
			m = m * pow10_big[j] + digits16(fs + j, j);
		else
			m = (m * 100000000ULL + digits_at(fs, 8)) * pow10_big[j - 8] + digits_at(fs + 8, j - 8);
		q = fs + j;
	}
	if (__builtin_expect((*q | 0x20) == 'e', 0) || i + j - lead > 19)
		return scan_number_slow(p, e, t);
	t->M = m;
	t->k = (int16_t)(i + j - lead);
	t->f = (int16_t)j;
	t->neg = *p == '-';
	t->plain = true;
	return q;
}

/* For a field with a number prefix (pat_field.npre, plen bytes at pre): the end of the number at p
 * when it has the common shape (the walk would read it alike) and does not start with the prefix —
 * it is then outside the field's hull and nothing of it is needed; NULL when it must be read. */
static inline __attribute__((always_inline)) const char *num_skip(const char *p, const char *e, const char *pre,
								  unsigned plen)
{
	unsigned i, j;
	const char *q = fast_shape(p, e, &i, &j);
	if (!q)
		return NULL;
	unsigned same = (unsigned)_mm_movemask_epi8(
		_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), _mm_loadu_si128((const __m128i *)pre)));
	unsigned want = (1u << plen) - 1;
	return (same & want) == want ? NULL : q;
}

/* Which side of the bound text b the number at p is on — -1 below, 1 above, 0 not told (also for no
 * b, or one without a text) — by the first byte where their texts differ (x: p's first 16 bytes): it
 * must come after b's point (so the sign and integer digits are b's) and be a digit in both, or a
 * digit 1-9 in one where the other has ended. *dot: b's point, when told. The bytes after the
 * difference are checked by num_far. */
static inline int txt_side(__m128i x, const char *p, const pat_ntxt *b, unsigned *dot)
{
	if (!b || !b->ok)
		return 0;
	unsigned ne = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *)b->s))) & 0xFFFFu;
	if (!ne)
		return 0;
	unsigned d = (unsigned)__builtin_ctz(ne);
	if (d <= b->dot)
		return 0;
	unsigned xc = (unsigned char)p[d] - '0', bc = (unsigned char)b->s[d] - '0';
	int mag; /* |number| against |b| */
	if (xc <= 9 && bc <= 9)
		mag = xc > bc ? 1 : -1;
	else if (xc <= 9) /* b ended: more digits */
		mag = xc ? 1 : 0;
	else if (bc <= 9) /* the number ended (num_far checks it is a delimiter) */
		mag = bc ? -1 : 0;
	else
		return 0;
	*dot = b->dot;
	return b->s[0] == '-' ? -mag : mag;
}

/* For a far field f of core k (pat_set.h): the end of the number at p when its text shows it outside
 * both of the field's hulls — its exact numbers' (ntlo..nthi) and its ranges' that can still change
 * the result (as pat_in_open_ranges: this event's when ranges_open narrowed it, empty when every
 * range is spent) — and it is a plain decimal: a bound's bytes up to past its point, then digits up
 * to a delimiter. pat_emit_number would want nothing of it. NULL: it must be read. */
static inline __attribute__((always_inline)) const char *num_far(const pat_walk *w, int k, uint32_t fid,
								 const pat_field *f, const char *p, const char *e)
{
	if (e - p < 32)
		return NULL;
	__m128i x = _mm_loadu_si128((const __m128i *)p);
	unsigned dot = 0;
	if (f->nnumv && !(txt_side(x, p, &f->nthi_t, &dot) > 0 || txt_side(x, p, &f->ntlo_t, &dot) < 0))
		return NULL;
	if (f->nranges) {
		const pat_cs *cs = w->cs[k];
		const pat_ntxt *lo = &f->rtlo_t, *hi = &f->rthi_t;
		bool empty = false;
		if (cs->hull_at[fid] == w->ep) {
			empty = cs->hull[2 * fid] > cs->hull[2 * fid + 1];
			lo = cs->hull_t[2 * fid];
			hi = cs->hull_t[2 * fid + 1];
		}
		if (!empty && !(txt_side(x, p, hi, &dot) > 0 || txt_side(x, p, lo, &dot) < 0))
			return NULL;
	}
	if (!dot) { /* no bound was needed (the empty hull): any number of the fast scan's shape */
		unsigned i, j;
		return fast_shape(p, e, &i, &j);
	}
	/* digits from the point of a bound that told (every bound that told shares the bytes up to its
	 * point with the number) up to a delimiter */
	uint32_t after = ~digit_bits32(p) & (~0u << (dot + 1)); /* non-digits after the point */
	if (!after)
		return NULL;
	unsigned end = (unsigned)__builtin_ctz(after);
	return end == dot + 1 || !delim((unsigned char)p[end]) ? NULL : p + end;
}

const char *pat_number_scan(const char *lo, const char *p, const char *e, pat_numparts *t, bool general)
{
	return general ? scan_number_slow(p, e, t) : scan_number(lo, p, e, t);
}

const char *pat_number_shape(const char *p, const char *e)
{
	unsigned i, j;
	return fast_shape(p, e, &i, &j);
}

static uint32_t new_elem(pat_walk *w, uint32_t parent, uint32_t array)
{
	pat_scratch *sc = w->sc;
	if (sc->nen == sc->en_cap) {
		size_t c = sc->en_cap * 2;
		uint32_t *a = realloc(sc->en_parent, c * 4);
		if (a)
			sc->en_parent = a;
		uint32_t *b = a ? realloc(sc->en_array, c * 4) : NULL;
		if (b)
			sc->en_array = b;
		uint32_t *d = b ? realloc(sc->en_depth, c * 4) : NULL;
		if (d)
			sc->en_depth = d;
		if (!d) {
			sc->oom = true;
			return 0;
		}
		sc->en_cap = c;
	}
	uint32_t id = (uint32_t)sc->nen++;
	sc->en_parent[id] = parent;
	sc->en_array[id] = array;
	sc->en_depth[id] = sc->en_depth[parent] + 1;
	return id;
}

static const char *bad(pat_walk *w)
{
	w->bad = true;
	return NULL;
}

/* The members of a fresh value that say "not computed yet" (the rest is set by whoever fills it). */
static inline void value_init(pat_value *v)
{
	v->numstate = 0;
	v->ipstate = 0;
	v->hw = false;
	v->parts = false;
	v->d = 0;
}

/* The literal or number at p (the caller saw no '"', '{' or '['), read into v as the walk gives it:
 * its end, or NULL when malformed. lo: the event's start (scan_number's bound). */
static inline __attribute__((always_inline)) const char *scalar_value(const char *lo, const char *p, const char *e,
								       pat_value *v)
{
	value_init(v);
	v->s = p;
	if (*p >= 'a') { /* true, false, null — or malformed, which their compare rejects as the scan would */
		const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
		size_t ln = *p == 'f' ? 5 : 4;
		if ((size_t)(e - p) < ln || memcmp(p, lit, ln))
			return NULL;
		v->t = *p == 't' ? PV_TRUE : *p == 'f' ? PV_FALSE : PV_NULL;
		v->n = ln;
		return p + ln;
	}
	const char *q = scan_number(lo, p, e, &v->nparts);
	if (!q)
		return NULL;
	v->t = PV_NUM;
	v->n = (size_t)(q - p);
	v->parts = true;
	return q;
}

/* The n (<= 16) bytes at k zero-padded to 16, k[0..16) readable. */
static inline __m128i first_bytes(const char *k, size_t n)
{
	return _mm_and_si128(_mm_loadu_si128((const __m128i *)k),
			     _mm_cmpgt_epi8(_mm_set1_epi8((char)n),
					    _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)));
}

/* The two words of x (w0: its first 8 bytes). */
static inline void split_words(__m128i x, uint64_t *w0, uint64_t *w1)
{
	*w0 = (uint64_t)_mm_cvtsi128_si64(x);
	*w1 = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(x, x));
}

/* The string value between the quotes at p and q as a pat_value (decoded when esc; its first 16
 * bytes loaded when it is short and they are in the event); false when malformed. */
static bool string_value(pat_walk *w, const char *p, const char *q, bool esc, pat_value *v)
{
	value_init(v);
	v->t = PV_STR;
	v->s = p + 1;
	v->n = (size_t)(q - p - 1);
	if (esc) {
		if (!pat_decode_string(v->s, v->n, &w->sc->str))
			return false;
		v->s = w->sc->str.p;
		v->n = w->sc->str.len;
		return true;
	}
	if (v->n <= 16 && w->end - v->s >= 16) { /* one load: the control-byte test and the words */
		__m128i x = first_bytes(v->s, v->n);
		__m128i pad = _mm_cmpgt_epi8(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
					     _mm_set1_epi8((char)(v->n - 1))); /* the zeroed bytes past the value */
		__m128i ctl = _mm_andnot_si128(pad, _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1F)), x));
		if (_mm_movemask_epi8(ctl))
			return false;
		split_words(x, &v->w0, &v->w1);
		v->hw = true;
		return true;
	}
	for (size_t i = 0; i < v->n; i++)
		if ((unsigned char)v->s[i] < 0x20)
			return false;
	return true;
}

/* The first 16 bytes of key k[0..n) zero-padded (one load when 16 bytes are readable). */
static inline __attribute__((always_inline)) void key_words(const char *k, size_t n, const char *end, uint64_t *w0, uint64_t *w1)
{
	if (n <= 16 && end - k >= 16) {
		split_words(first_bytes(k, n), w0, w1);
		return;
	}
	pat_words(k, n, w0, w1);
}

/* Child of node for a plain key k[0..n) of the event (between its quotes, so k[-1] and k[n] are
 * readable): the key mask first, the key's bytes only if it passes. */
static inline __attribute__((always_inline)) uint32_t key_child(const pat_core *c, uint32_t node, const char *k, size_t n, const char *end)
{
	if (node == PAT_NONE)
		return PAT_NONE;
	const pat_node *nd = &c->nodes[node];
	unsigned bit = pat_key_bit(n, (unsigned char)k[0], (unsigned char)k[(ptrdiff_t)n - 1]);
	uint64_t km = nd->keymask;
	if (!((km >> bit) & 1))
		return PAT_NONE;
	uint64_t w0, w1;
	key_words(k, n, end, &w0, &w1);
	if (nd->bit_order) { /* the one child with this bit */
		const pat_kid *kd = c->kid + nd->kid_off + __builtin_popcountll(km & ((1ULL << bit) - 1));
		return kd->len == n && kd->w0 == w0 && kd->w1 == w1 &&
				       (n <= 16 || memcmp(c->blob + kd->off + 16, k + 16, n - 16) == 0)
			       ? kd->node
			       : PAT_NONE;
	}
	return pat_child(c, node, k, n, w0, w1);
}

#include "pat_classify.h"

#ifndef PAT_PREFETCH
#define PAT_PREFETCH 512 /* bytes ahead of the block being classified */
#endif
#define CUR(x) x##_sse2
#define CUR_ATTR
#define CUR_CONSTS SSE2_CONSTS
#define CUR_CLASSIFY_K(p) classify_sse2_k(p, Q, B, O, C, D, S)
#define CUR_CLASSIFY4_K(p) classify4_sse2_k(p, Q, B, O, C, S)
#define CUR_DOT dot_sse2
#define CUR_CLASSIFY classify_sse2
#define CUR_PREFIX_XOR prefix_xor_sw
#include "pat_cursor_impl.h"
#undef CUR
#undef CUR_ATTR
#undef CUR_CONSTS
#undef CUR_CLASSIFY_K
#undef CUR_CLASSIFY4_K
#undef CUR_DOT
#undef CUR_CLASSIFY
#undef CUR_PREFIX_XOR
#define CUR(x) x##_avx2
#define CUR_ATTR AVX2_ATTR
#define CUR_CONSTS AVX2_CONSTS
#define CUR_CLASSIFY_K(p) classify_avx2_k(p, Q, B, O, C, D, S)
#define CUR_CLASSIFY4_K(p) classify4_avx2_k(p, Q, B, O, C, S)
#define CUR_DOT dot_avx2
#define CUR_CLASSIFY classify_avx2
#define CUR_PREFIX_XOR prefix_xor_clmul
#include "pat_cursor_impl.h"
#undef CUR
#undef CUR_ATTR
#undef CUR_CONSTS
#undef CUR_CLASSIFY_K
#undef CUR_CLASSIFY4_K
#undef CUR_DOT
#undef CUR_CLASSIFY
#undef CUR_PREFIX_XOR

/* ---- element templates (walk_array) ----------------------------------------------------------------- */

/* The scratch's template slot for the array at the cores' nodes nd: claimed (emptied) when it was
 * another's. */
static pat_tmpl *tmpl_for(const pat_walk *w, int wk, const uint32_t *nd)
{
	uint64_t u0 = w->c[0]->uid, u1 = wk == 2 ? w->c[1]->uid : 0;
	uint32_t n1 = wk == 2 ? nd[1] : PAT_NONE;
	pat_tmpl *t = &w->sc->tmpl[(nd[0] ^ n1) * 0x9E3779B1u >> 29 & (PAT_TMPL_SLOTS - 1)];
	if (t->uid[0] != u0 || t->uid[1] != u1 || t->nd[0] != nd[0] || t->nd[1] != n1) {
		t->uid[0] = u0;
		t->uid[1] = u1;
		t->nd[0] = nd[0];
		t->nd[1] = n1;
		t->n = 0;
	}
	return t;
}

/* Builds t from the element at p (its '{') that the walk has just read, well formed, up to end (past
 * its '}'), for the cores' nodes nd of the array. false (t->n is then 0) when it is not written so. */
static bool tmpl_build(const pat_walk *w, int wk, const char *p, const char *end, const uint32_t *nd, pat_tmpl *t)
{
	const char *pos = p;
	unsigned n = 0;
	t->n = 0;
	for (;;) {
		if (n == PAT_TMPL_MAX || end - pos < 4 || pos[1] != '"')
			return false;
		const char *k = pos + 2, *q = k;
		while (q < end && *q != '"') {
			unsigned char b = (unsigned char)*q++;
			if (b == '\\' || b == '.' || b < 0x20)
				return false;
		}
		if (q + 1 >= end || q - k > 12 || q[1] != ':')
			return false;
		size_t kn = (size_t)(q - k);
		unsigned hl = (unsigned)(q + 2 - pos); /* at most 1 + 1 + 12 + 1 + 1 */
		if (w->end - pos < 16)
			return false; /* tmpl_elem could not read it either */
		_mm_store_si128((__m128i *)t->head[n], first_bytes(pos, hl));
		t->hlen[n] = hl;
		t->hmask[n] = (1u << hl) - 1;
		t->used[n] = false;
		for (int c = 0; c < 2; c++) {
			uint32_t ch = c < wk ? key_child(w->c[c], nd[c], k, kn, w->end) : PAT_NONE;
			t->field[n][c] = ch == PAT_NONE ? -1 : w->c[c]->nodes[ch].field;
			t->used[n] |= ch != PAT_NONE;
		}
		/* the field of exactly one core, with a number prefix (or far): its numbers outside the
		 * hull (hulls) are skipped unread */
		t->npre[n] = NULL;
		t->npre_len[n] = 0;
		t->far[n] = -1;
		t->farf[n] = NULL;
		if ((t->field[n][0] >= 0) != (t->field[n][1] >= 0)) {
			int c = t->field[n][0] >= 0 ? 0 : 1;
			const pat_field *f = &w->c[c]->fields[t->field[n][c]];
			t->npre[n] = f->npre_len ? f->npre : NULL;
			t->npre_len[n] = f->npre_len;
			t->far[n] = f->far ? (int8_t)c : -1;
			t->farf[n] = f->far ? f : NULL;
		}
		pos = q + 2;
		if (*pos == '"' || *pos == '{' || *pos == '[')
			return false;
		pos = scalar_end(pos, w->end);
		n++;
		if (*pos == '}') {
			if (pos + 1 != end)
				return false;
			t->n = n;
			return true;
		}
		if (*pos != ',')
			return false;
	}
}

/* The walk, once per instruction set and number of cores. */
#define WATTR
#define WC(x) x##_sse2
#define WK 1
#define WNAME(x) x##_1_sse2
#include "pat_walk_impl.h"
#undef WK
#undef WNAME
#define WK 2
#define WNAME(x) x##_2_sse2
#include "pat_walk_impl.h"
#undef WK
#undef WNAME
#undef WATTR
#undef WC
#define WATTR AVX2_ATTR
#define WC(x) x##_avx2
#define WK 1
#define WNAME(x) x##_1_avx2
#include "pat_walk_impl.h"
#undef WK
#undef WNAME
#define WK 2
#define WNAME(x) x##_2_avx2
#include "pat_walk_impl.h"
#undef WK
#undef WNAME
#undef WATTR
#undef WC

static int simd_level = -1; /* -1: not chosen yet; 0: SSE2; 1: AVX2 + PCLMUL + POPCNT + BMI1; 2: and
			     * AVX-512BW for the early-stop scan */

/* The AVX-512BW scan is the default on Intel only. AMD's Zen 4 runs a 512-bit operation as two 256-bit
 * halves, so the wider scan reads no faster there and its masked tail loads cost more: on an AMD EPYC
 * (family 25) it was slower than the AVX2 scan in each of 3 interleaved runs (EXACT 6.98M vs 6.71M,
 * PREFIX 5.28M vs 4.77M, WILDCARD 6.35M vs 4.81M events/s; busbar-bench match --simd 1 / --simd 2).
 * pat_simd_set(2) still selects it on any CPU that has it. */
static bool avx512_pays(void)
{
	return __builtin_cpu_is("intel");
}

static int best_level(void)
{
	__builtin_cpu_init();
	if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("popcnt") &&
	      __builtin_cpu_supports("bmi")))
		return 0;
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 2 : 1;
}

int pat_simd_set(int level)
{
	int best = best_level();
	int v = level > best ? best : level;
	if (v < 0)
		v = best == 2 && !avx512_pays() ? 1 : best;
	__atomic_store_n(&simd_level, v, __ATOMIC_RELAXED);
	return v;
}

const char *pat_walk_event(pat_walk *w, const char *p)
{
	static const pat_stop_fn scan[3] = {pat_stop_scan_sse2, pat_stop_scan_avx2, pat_stop_scan_avx512};
	int lv = __atomic_load_n(&simd_level, __ATOMIC_RELAXED);
	if (lv < 0)
		lv = pat_simd_set(-1);
	w->stop_scan = scan[lv];
	bool two = w->c[1] != NULL;
	if (lv)
		return two ? walk_event_2_avx2(w, p) : walk_event_1_avx2(w, p);
	return two ? walk_event_2_sse2(w, p) : walk_event_1_sse2(w, p);
}
