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
static bool exact_1617(uint64_t M, int q, bool neg, double *out, bool *comparable)
{
	typedef unsigned __int128 u128;
	typedef __int128 i128;
	uint64_t p10 = 1;
	for (int i = 0; i < q; i++)
		p10 *= 10;
	int bl = 64 - __builtin_clzll(M);
	/* m2 = M * 2^s / 10^q in [2^52, 2^53) */
	int l10 = (q * 3322 + 999) / 1000; /* ceil(q * log2(10)) approx */
	int s = 53 + l10 - bl;
	for (int tries = 0; tries < 3; tries++) {
		if (s < 0 || bl + s > 125)
			return false;
		u128 num = (u128)M << s;
		u128 m2 = num / p10;
		if (m2 >= ((u128)1 << 53)) {
			s--;
			continue;
		}
		if (m2 < ((u128)1 << 52)) {
			s++;
			continue;
		}
		u128 rem = num - m2 * p10;
		/* round half even */
		if (rem * 2 > p10 || (rem * 2 == p10 && (m2 & 1)))
			m2++;
		if (m2 == ((u128)1 << 53)) {
			/* carried into the next binade: exact value still m2 * 2^-s */
		}
		i128 diff = (i128)num - (i128)(m2 * p10); /* (D - d) * 10^q * 2^s */
		double d = ldexp((double)(uint64_t)m2, -s);
		*out = neg ? -d : d;
		i128 half_unit = (i128)1 << (s - 1 >= 0 ? s - 1 : 0);
		i128 ad = diff < 0 ? -diff : diff;
		if (ad > half_unit || (ad == half_unit && (M & 1))) {
			*comparable = false; /* a neighbouring k-digit decimal is closer */
			return true;
		}
		bool even = !(m2 & 1);
		bool pow2 = m2 == ((u128)1 << 52);
		uint64_t r10 = M % 10;
		i128 cand[2] = {diff - (i128)r10 * ((i128)1 << s), diff + (i128)(10 - r10) * ((i128)1 << s)};
		for (int c = 0; c < 2; c++) {
			i128 x = cand[c];
			i128 ax = x < 0 ? -x : x;
			i128 lim2 = (i128)p10; /* |x| * 2 <= 10^q  (x below d with a power-of-two m2: |x| * 4 <= 10^q) */
			i128 lhs = (x < 0 && pow2) ? ax * 4 : ax * 2;
			if (lhs < lim2 || (lhs == lim2 && even)) {
				*comparable = false; /* a shorter decimal rounds to d */
				return true;
			}
		}
		*comparable = true;
		return true;
	}
	return false;
}

bool pat_num_comparable(const char *s, size_t n, double *out)
{
	/* 16/17-digit plain decimals (the common case for coordinates and measurements) */
	{
		size_t i = 0;
		bool neg = false;
		if (i < n && s[i] == '-') {
			neg = true;
			i++;
		}
		uint64_t M = 0;
		int k = 0, frac = 0, tz = 0;
		bool nz = false, ok = true, dot = false;
		for (; i < n; i++) {
			char ch = s[i];
			if (ch >= '0' && ch <= '9') {
				if (dot)
					frac++;
				if (ch != '0')
					nz = true;
				if (!nz)
					continue;
				if (++k > 19) {
					ok = false;
					break;
				}
				M = M * 10 + (uint64_t)(ch - '0');
				tz = ch == '0' ? tz + 1 : 0;
			} else if (ch == '.' && !dot) {
				dot = true;
			} else {
				ok = false;
				break;
			}
		}
		if (ok && nz) {
			while (tz > 0) {
				M /= 10;
				k--;
				frac--;
				tz--;
			}
			if ((k == 16 || k == 17) && frac >= 1 && frac <= 19) {
				bool comp;
				if (exact_1617(M, frac, neg, out, &comp))
					return comp;
			}
		}
	}

	/* fast path: plain digits, few significant digits */
	uint64_t mant = 0;
	int sig = 0, frac = 0;
	size_t i = 0;
	bool neg = false, ok = true;
	if (i < n && s[i] == '-') {
		neg = true;
		i++;
	}
	bool nz = false;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (s[i] != '0')
			nz = true;
		if (nz) {
			if (++sig > 15) {
				ok = false;
				break;
			}
			mant = mant * 10 + (uint64_t)(s[i] - '0');
		}
	}
	if (ok && i < n && s[i] == '.') {
		i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (s[i] != '0')
				nz = true;
			frac++;
			if (nz) {
				if (++sig > 15) {
					ok = false;
					break;
				}
			}
			mant = mant * 10 + (uint64_t)(s[i] - '0');
		}
	}
	if (ok && i == n) {
		if (mant == 0) {
			*out = 0.0;
			return true;
		}
		double d;
		if (frac <= 22)
			d = (double)mant / pow10tab[frac];
		else
			d = strtod(s, NULL);
		if (d >= DBL_MIN || -d >= DBL_MIN) {
			*out = neg && d > 0 ? -d : d;
			return true;
		}
	}
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
