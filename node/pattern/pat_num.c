/* node/pattern/pat_num.c — event-ruler's number comparability (ComparableNumber.generate).
 *
 * A JSON number is "comparable" when its decimal value is finite as a double and equals, exactly,
 * the value Java's Double.toString prints for that double (BigDecimal.valueOf(d).compareTo(bd) == 0).
 * Comparable numbers match by value (300 == 300.0 == 3.0e2); the others only by identical text.
 * Fast path: at most 15 significant digits and a normal double ⇒ always comparable (two distinct
 * 15-digit decimals can never round to one normal double), value by Clinger's exact fast path when
 * the exponent allows, else strtod. Slow path (16+ digits, subnormals): shortest round-trip digits
 * via printf, with Java's "at least two digits" rule.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pat_int.h"

static const double pow10tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
				    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Decimal digits (no leading/trailing zeros) and exponent: value = 0.D * 10^exp. */
typedef struct dec {
	char d[1100];
	int nd;
	long exp;
	bool neg;
} dec;

static bool parse_dec(const char *s, size_t n, dec *o)
{
	size_t i = 0;
	o->nd = 0;
	o->exp = 0;
	o->neg = false;
	if (i < n && s[i] == '-') {
		o->neg = true;
		i++;
	}
	long intdigits = 0;
	bool seen_nz = false;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (s[i] != '0' || seen_nz) {
			seen_nz = true;
			if (o->nd < (int)sizeof(o->d))
				o->d[o->nd++] = s[i];
			intdigits++;
		}
	}
	if (i < n && s[i] == '.') {
		i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (!seen_nz && s[i] == '0') {
				intdigits--;
				continue;
			}
			seen_nz = true;
			if (o->nd < (int)sizeof(o->d))
				o->d[o->nd++] = s[i];
		}
	}
	long e = 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		bool en = false;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			en = s[i++] == '-';
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (e < 100000000)
				e = e * 10 + (s[i] - '0');
		if (en)
			e = -e;
	}
	if (i != n)
		return false;
	while (o->nd > 0 && o->d[o->nd - 1] == '0')
		o->nd--;
	o->exp = intdigits + e;
	return true;
}

/* Formats |x| with p significant digits and returns them as a dec. */
static void fmt_dec(double x, int p, dec *o)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%.*e", p - 1, fabs(x));
	parse_dec(buf, strlen(buf), o);
}

static bool same_dec(const dec *a, const dec *b)
{
	return a->nd == b->nd && (a->nd == 0 || a->exp == b->exp) && memcmp(a->d, b->d, (size_t)a->nd) == 0;
}

/* 16-17 significant digits, D = M / 10^q with 1 <= q <= 19: exact binary arithmetic in 128 bits.
 * Computes d = round-half-even(D) and decides whether D is what Java prints for d: no 1-digit-shorter
 * decimal lies in d's rounding interval and D is the closest k-digit decimal to d.
 * Returns false when the inputs are outside its range (caller falls back). */
static const uint64_t pow10u[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
				    100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
				    10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
				    10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
				    10000000000000000000ULL};

/* num / d for a quotient that fits in 64 bits (the high word of num is below d): one divq on
 * x86-64 instead of the generic 128-bit division. */
static inline unsigned __int128 div_small(unsigned __int128 num, uint64_t d)
{
#if defined(__x86_64__)
	uint64_t hi = (uint64_t)(num >> 64), lo = (uint64_t)num, quo, rem;
	if (hi < d) {
		__asm__("divq %4" : "=a"(quo), "=d"(rem) : "a"(lo), "d"(hi), "rm"(d));
		return quo;
	}
#endif
	return num / d;
}

/* m * 2^-s for m in [2^52, 2^53]: the bits directly when the result is a normal double. */
static inline double scale2(uint64_t m, int s)
{
	uint64_t mm = m;
	int e = 52 - s + 1023;
	if (mm == (1ULL << 53)) {
		mm >>= 1;
		e++;
	}
	if (e < 1 || e > 2046)
		return ldexp((double)m, -s);
	uint64_t bits = ((uint64_t)e << 52) | (mm & ((1ULL << 52) - 1));
	double d;
	memcpy(&d, &bits, 8);
	return d;
}

/* The verdict on D = M / 10^q once d = m2 * 2^-s is known with diff = (D - d) * 10^q * 2^s and
 * |diff| <= 10^q / 2 (pat_num.c's exact paths): is D what Java prints for d? Not when a neighbouring
 * k-digit decimal (spacing 2^s here) is closer to d, nor when a (k-1)-digit decimal (the multiples of
 * 10 * 2^s next to D) lies inside d's rounding interval (half an ulp = 10^q / 2 here; a quarter below
 * a power of two). */
static bool verdict(uint64_t M, uint64_t p10, uint64_t m2, int s, __int128 diff)
{
	typedef unsigned __int128 u128;
	typedef __int128 i128;
	u128 ad = (u128)(diff < 0 ? -diff : diff);
	if (s <= 64) {
		u128 half = s ? (u128)1 << (s - 1) : 1;
		if (ad > half || (ad == half && (M & 1)))
			return false;
	}
	bool even = !(m2 & 1), pow2 = m2 == (1ULL << 52);
	uint64_t r10 = M % 10;
	i128 cand[2] = {diff - ((i128)r10 << s), diff + ((i128)(10 - r10) << s)};
	for (int c = 0; c < 2; c++) {
		i128 x = cand[c];
		u128 ax = (u128)(x < 0 ? -x : x);
		u128 lhs = (x < 0 && pow2) ? ax * 4 : ax * 2;
		if (lhs < p10 || (lhs == p10 && even))
			return false;
	}
	return true;
}

/* 16-17 significant digits without any division: a = M / 10^q computed in floating point is within
 * a couple of ulps of d, so d's mantissa is a's plus a small correction found from the exact
 * remainder diff = M * 2^s - m2 * 10^q (one 64 x 64 multiply). false when a is near a binade edge or
 * out of the normal range: the caller takes the division path. */
static bool exact_approx(uint64_t M, int q, bool neg, double *out, bool *comparable)
{
	typedef unsigned __int128 u128;
	typedef __int128 i128;
	uint64_t p10 = pow10u[q];
	double a = (double)M / pow10tab[q];
	uint64_t bits;
	memcpy(&bits, &a, 8);
	int be = (int)(bits >> 52);
	uint64_t m2 = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
	int s = 1075 - be; /* a = m2 * 2^-s */
	int bl = 64 - __builtin_clzll(M);
	if (be < 1 || be > 2045 || s < 0 || bl + s > 124 || m2 < (1ULL << 52) + 8 || m2 > (1ULL << 53) - 8)
		return false;
	i128 diff = (i128)((u128)M << s) - (i128)((u128)m2 * p10);
	i128 half = (i128)(p10 / 2); /* p10 is even: q >= 1 */
	for (int i = 0; i < 8 && diff > half; i++) {
		m2++;
		diff -= (i128)p10;
	}
	for (int i = 0; i < 8 && diff < -half; i++) {
		m2--;
		diff += (i128)p10;
	}
	if (diff > half || diff < -half)
		return false;
	if ((diff == half || diff == -half) && (m2 & 1)) { /* a tie: round half to even */
		if (diff == half) {
			m2++;
			diff -= (i128)p10;
		} else {
			m2--;
			diff += (i128)p10;
		}
	}
	double d = scale2(m2, s);
	*out = neg ? -d : d;
	*comparable = verdict(M, p10, m2, s, diff);
	return true;
}

static bool exact_1617(uint64_t M, int q, bool neg, double *out, bool *comparable)
{
	typedef unsigned __int128 u128;
	typedef __int128 i128;
	uint64_t p10 = pow10u[q];
	int bl = 64 - __builtin_clzll(M);
	/* m2 = M * 2^s / 10^q in [2^52, 2^53) */
	int l10 = (q * 3322 + 999) / 1000; /* ceil(q * log2(10)) approx */
	int s = 53 + l10 - bl;
	for (int tries = 0; tries < 3; tries++) {
		if (s < 0 || bl + s > 125)
			return false;
		u128 num = (u128)M << s;
		if ((uint64_t)(num >> 64) >= p10) { /* quotient >= 2^64: far too big */
			s--;
			continue;
		}
		uint64_t m2 = (uint64_t)div_small(num, p10);
		if (m2 >= (1ULL << 53)) {
			s--;
			continue;
		}
		if (m2 < (1ULL << 52)) {
			s++;
			continue;
		}
		/* rem < 10^q; round half even; diff = (D - d) * 10^q * 2^s, |diff| <= 10^q / 2 < 2^63 */
		uint64_t rem = (uint64_t)(num - (u128)m2 * p10);
		int64_t diff;
		if (rem > p10 - rem || (rem == p10 - rem && (m2 & 1))) {
			m2++; /* may carry to 2^53: the exact value is still m2 * 2^-s */
			diff = -(int64_t)(p10 - rem);
		} else {
			diff = (int64_t)rem;
		}
		double d = scale2(m2, s);
		*out = neg ? -d : d;
		/* a neighbouring k-digit decimal (spacing 2^s here) is closer to d than D */
		uint64_t ad = diff < 0 ? (uint64_t)-diff : (uint64_t)diff;
		if (s <= 64) {
			uint64_t half = s ? 1ULL << (s - 1) : 1;
			if (ad > half || (ad == half && (M & 1))) {
				*comparable = false;
				return true;
			}
		}
		/* a (k-1)-digit decimal (the multiples of 10 * 2^s next to D) inside d's rounding interval
		 * (half an ulp = 10^q / 2 here; a quarter below a power of two) rounds to d: D is not shortest */
		bool even = !(m2 & 1), pow2 = m2 == (1ULL << 52);
		uint64_t r10 = M % 10;
		i128 cand[2] = {(i128)diff - ((i128)r10 << s), (i128)diff + ((i128)(10 - r10) << s)};
		for (int c = 0; c < 2; c++) {
			i128 x = cand[c];
			u128 ax = (u128)(x < 0 ? -x : x);
			u128 lhs = (x < 0 && pow2) ? ax * 4 : ax * 2;
			if (lhs < p10 || (lhs == p10 && even)) {
				*comparable = false;
				return true;
			}
		}
		*comparable = true;
		return true;
	}
	return false;
}

/* Appends the digits at s[*i..n) to *m; counts them and the leading zeros while *m is still 0. */
static void digit_run(const char *s, size_t n, size_t *i, uint64_t *m, int *digits, int *lead)
{
	for (; *i < n; (*i)++) {
		unsigned d = (unsigned)(unsigned char)s[*i] - '0';
		if (d > 9)
			break;
		*m = *m * 10 + d;
		*lead += *m == 0;
		(*digits)++;
	}
}

/* One pass over [-]digits[.digits] into parts (pat_int.h); parts->plain is false for any other form. */
static void plain_decimal(const char *s, size_t n, pat_numparts *t)
{
	size_t i = n && s[0] == '-';
	t->neg = i;
	t->plain = false;
	uint64_t m = 0;
	int digits = 0, lead = 0, fr = 0;
	digit_run(s, n, &i, &m, &digits, &lead);
	if (digits == 0)
		return;
	if (i < n && s[i] == '.') {
		size_t fs = ++i;
		digit_run(s, n, &i, &m, &digits, &lead);
		fr = (int)(i - fs);
		if (fr == 0)
			return;
	}
	if (i != n || digits - lead > 19)
		return;
	t->M = m;
	t->k = (int16_t)(digits - lead);
	t->f = (int16_t)fr;
	t->plain = true;
}

static bool general(const char *s, size_t n, double *out);

bool pat_num_comparable(const char *s, size_t n, double *out)
{
	pat_numparts t;
	plain_decimal(s, n, &t);
	return pat_num_comparable_parts(&t, s, n, out);
}

bool pat_num_comparable_parts(const pat_numparts *t, const char *s, size_t n, double *out)
{
	if (t->plain) {
		uint64_t M = t->M;
		int k = t->k, f = t->f;
		if (M == 0) {
			*out = 0.0; /* -0 folds to +0 */
			return true;
		}
		while (f > 0 && M % 10 == 0) { /* trailing fraction zeros change nothing */
			M /= 10;
			k--;
			f--;
		}
		if ((k == 16 || k == 17) && f >= 1 && f <= 19) {
			bool comp;
			if (exact_approx(M, f, t->neg, out, &comp) || exact_1617(M, f, t->neg, out, &comp))
				return comp;
		} else if (k <= 15 && f <= 22) {
			/* M and 10^f are exact doubles: one correctly rounded division */
			double d = (double)M / pow10tab[f];
			if (d >= DBL_MIN) {
				*out = t->neg ? -d : d;
				return true;
			}
		}
	}
	return general(s, n, out);
}

/* Any number text: decimal digits compared with Java's shortest form of the double. */
static bool general(const char *s, size_t n, double *out)
{
	/* general path */
	dec in;
	if (!parse_dec(s, n, &in))
		return false;
	if (in.nd == 0) {
		*out = 0.0;
		return true;
	}
	if (in.exp > 400 || in.exp < -400)
		return false;
	char tmp[1200];
	size_t tn = n < sizeof(tmp) - 1 ? n : sizeof(tmp) - 1;
	memcpy(tmp, s, tn);
	tmp[tn] = 0;
	double d = strtod(tmp, NULL);
	if (isinf(d) || d == 0.0 || isnan(d))
		return false;
	if (in.nd <= 15 && fabs(d) >= DBL_MIN) {
		*out = d;
		return true;
	}
	if (in.nd > 17) {
		/* Java's shortest form never has more than 17 digits */
		return false;
	}
	/* shortest length m of a round-tripping decimal */
	dec c;
	int m = 1;
	for (; m <= 17; m++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%.*e", m - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (m < 2)
		m = 2;
	fmt_dec(d, m, &c);
	if (!same_dec(&c, &in))
		return false;
	*out = d;
	return true;
}
