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

bool pat_num_comparable(const char *s, size_t n, double *out)
{
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
