/* node/pattern/pat_fold.c — Unicode case mapping for equals-ignore-case (and prefix/suffix variants).
 *
 * event-ruler semantics: every pattern character c accepts exactly the UTF-8 bytes of
 * c.toLowerCase(Locale.ROOT) or c.toUpperCase(Locale.ROOT) at that position (so "ß" accepts "ß" and
 * "SS", "K" (Kelvin) accepts "k"). The table pat_fold_tab.h covers every code point whose full
 * lower/upper mapping differs from itself (all scripts of Unicode 14, 2927 entries, binary search).
 * pat_fold_key() gives a hash key equal for every pair that can match (lower of upper per code point,
 * 'ß' → "ss"); indexes hash by it and then confirm with pat_eic_equal/pat_prefix_match.
 */
#include <string.h>

#include "pat_int.h"
#include "pat_fold_tab.h"

size_t pat_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t l = (c >= 0xF0 && c < 0xF8) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC0) ? 2 : 0;
	if (l == 0 || l > n)
		goto bad;
	uint32_t v = c & (0x3F >> (l - 1));
	for (size_t i = 1; i < l; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3F);
	}
	*cp = v;
	return l;
bad:
	*cp = 0x80000000u | c;
	return 1;
}

static size_t enc(uint32_t v, char *o)
{
	if (v & 0x80000000u) {
		o[0] = (char)(v & 0xFF);
		return 1;
	}
	if (v < 0x80) {
		o[0] = (char)v;
		return 1;
	}
	if (v < 0x800) {
		o[0] = (char)(0xC0 | (v >> 6));
		o[1] = (char)(0x80 | (v & 0x3F));
		return 2;
	}
	if (v < 0x10000) {
		o[0] = (char)(0xE0 | (v >> 12));
		o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
		o[2] = (char)(0x80 | (v & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (v >> 18));
	o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((v >> 6) & 0x3F));
	o[3] = (char)(0x80 | (v & 0x3F));
	return 4;
}

static const struct pat_fold_ent *find(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(pat_fold_tab) / sizeof(pat_fold_tab[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pat_fold_tab[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sizeof(pat_fold_tab) / sizeof(pat_fold_tab[0]) && pat_fold_tab[lo].cp == cp)
		return &pat_fold_tab[lo];
	return NULL;
}

size_t pat_case_lower(uint32_t cp, char out[12])
{
	if (cp < 0x80) {
		out[0] = (char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
		return 1;
	}
	const struct pat_fold_ent *e = find(cp);
	if (!e)
		return enc(cp, out);
	memcpy(out, pat_fold_blob + e->lo, e->lon);
	return e->lon;
}

size_t pat_case_upper(uint32_t cp, char out[12])
{
	if (cp < 0x80) {
		out[0] = (char)((cp >= 'a' && cp <= 'z') ? cp - 32 : cp);
		return 1;
	}
	const struct pat_fold_ent *e = find(cp);
	if (!e)
		return enc(cp, out);
	memcpy(out, pat_fold_blob + e->up, e->upn);
	return e->upn;
}

bb_err pat_fold_key(const char *s, size_t n, pat_buf *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	/* the leading ASCII run (usually all of it): copied at once, lowercased in place */
	while (i < n && u[i] < 0x80)
		i++;
	if (i && pat_buf_put_lower(out, s, i))
		return BB_ENOMEM;
	while (i < n) {
		if (u[i] < 0x80) {
			char c = (char)((u[i] >= 'A' && u[i] <= 'Z') ? u[i] + 32 : u[i]);
			if (pat_buf_putc(out, c))
				return BB_ENOMEM;
			i++;
			continue;
		}
		uint32_t cp;
		i += pat_utf8_decode(u + i, n - i, &cp);
		char up[12];
		size_t un = pat_case_upper(cp, up);
		size_t j = 0;
		while (j < un) {
			uint32_t c2;
			j += pat_utf8_decode((const unsigned char *)up + j, un - j, &c2);
			char lo[12];
			size_t ln = pat_case_lower(c2, lo);
			if (ln == 2 && (unsigned char)lo[0] == 0xC3 && (unsigned char)lo[1] == 0x9F) {
				if (pat_buf_put(out, "ss", 2))
					return BB_ENOMEM;
			} else if (pat_buf_put(out, lo, ln)) {
				return BB_ENOMEM;
			}
		}
	}
	return BB_OK;
}

/* Matches pattern p (ER per-character lower/upper alternatives) against a prefix of v.
 * Returns the number of bytes of v consumed, or -1. When whole is set the whole of v must match. */
static long eic_prefix(const unsigned char *p, size_t pn, const unsigned char *v, size_t vn, bool whole)
{
	size_t i = 0, j = 0;
	while (i < pn) {
		if (p[i] < 0x80) {
			unsigned char c = p[i];
			if (j >= vn)
				return -1;
			unsigned char e = v[j];
			unsigned char lc = (c >= 'A' && c <= 'Z') ? c + 32 : c;
			unsigned char le = (e >= 'A' && e <= 'Z') ? e + 32 : e;
			/* ASCII letters: both cases; but 'k','s' etc. only their ASCII pair (ER: lower/upper) */
			if (lc != le)
				return -1;
			i++;
			j++;
			continue;
		}
		uint32_t cp;
		i += pat_utf8_decode(p + i, pn - i, &cp);
		char lo[12], up[12];
		size_t ln = pat_case_lower(cp, lo), un = pat_case_upper(cp, up);
		if (ln <= vn - j && memcmp(v + j, lo, ln) == 0)
			j += ln;
		else if (un <= vn - j && memcmp(v + j, up, un) == 0)
			j += un;
		else
			return -1;
	}
	if (whole && j != vn)
		return -1;
	return (long)j;
}

bool pat_eic_equal(const char *p, size_t pn, const char *v, size_t vn)
{
	return eic_prefix((const unsigned char *)p, pn, (const unsigned char *)v, vn, true) >= 0;
}

bool pat_prefix_match(const char *p, size_t pn, const char *v, size_t vn, bool ic)
{
	/* ER matches '"' + p against '"' + v + '"': a trailing '"' in p may meet the closing quote */
	if (!ic) {
		if (pn <= vn)
			return memcmp(p, v, pn) == 0;
		return pn == vn + 1 && p[vn] == '"' && memcmp(p, v, vn) == 0;
	}
	if (eic_prefix((const unsigned char *)p, pn, (const unsigned char *)v, vn, false) >= 0)
		return true;
	return pn > 0 && p[pn - 1] == '"' &&
	       eic_prefix((const unsigned char *)p, pn - 1, (const unsigned char *)v, vn, true) >= 0;
}

/* Reverse-direction eic: does pattern p match a suffix of v? Tries every start position that could
 * align; patterns are short, values too, and the ASCII case is a byte loop. */
bool pat_suffix_match(const char *p, size_t pn, const char *v, size_t vn, bool ic)
{
	if (!ic) {
		if (pn <= vn)
			return memcmp(p, v + vn - pn, pn) == 0;
		return pn == vn + 1 && p[0] == '"' && memcmp(p + 1, v, vn) == 0;
	}
	/* lengths of alternatives can differ: try each start position from the end */
	size_t maxl = pn * 3 + 3;
	for (size_t l = 0; l <= vn && l <= maxl; l++) {
		if (eic_prefix((const unsigned char *)p, pn, (const unsigned char *)v + vn - l, l, true) >= 0)
			return true;
	}
	if (pn > 0 && p[0] == '"' && eic_prefix((const unsigned char *)p + 1, pn - 1, (const unsigned char *)v, vn, true) >= 0)
		return true;
	return false;
}
