/* node/pattern/pat_event.c — event strings and validation: string end search (SSE2, 16 bytes per
 * step), JSON string decoding (Jackson's rules), and a full RFC 8259 validator used by pat_match_rule
 * (TestEventPattern must reject malformed events; the hot path only validates what it reads).
 */
#include <emmintrin.h>
#include <string.h>

#include "pat_int.h"

const char *pat_scan_string(const char *s, const char *end, bool *esc)
{
	const char *p = s + 1;
	const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\');
	for (;;) {
		while (p + 16 <= end) {
			__m128i x = _mm_loadu_si128((const __m128i *)p);
			unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, b)));
			if (m) {
				p += __builtin_ctz(m);
				goto found;
			}
			p += 16;
		}
		while (p < end && *p != '"' && *p != '\\')
			p++;
		if (p >= end)
			return NULL;
	found:
		if (*p == '"')
			return p;
		*esc = true;
		p += 2; /* skip the escaped char */
		if (p > end)
			return NULL;
	}
}


static size_t put_utf8(uint32_t v, char *o)
{
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

static bool hex4(const char *s, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int d = bb_hexval(s[i]);
		if (d < 0)
			return false;
		*v = (*v << 4) | (uint32_t)d;
	}
	return true;
}

bool pat_decode_string(const char *s, size_t n, pat_buf *out)
{
	out->len = 0;
	size_t i = 0;
	while (i < n) {
		size_t st = i;
		while (i < n && s[i] != '\\') {
			if ((unsigned char)s[i] < 0x20)
				return false;
			i++;
		}
		if (i > st && pat_buf_put(out, s + st, i - st))
			return false;
		if (i >= n)
			break;
		if (i + 1 >= n)
			return false;
		char c = s[i + 1], r;
		i += 2;
		switch (c) {
		case 'b': r = '\b'; break;
		case 't': r = '\t'; break;
		case 'n': r = '\n'; break;
		case 'f': r = '\f'; break;
		case 'r': r = '\r'; break;
		case '"': r = '"'; break;
		case '/': r = '/'; break;
		case '\\': r = '\\'; break;
		case 'u': {
			uint32_t v, w;
			if (i + 4 > n || !hex4(s + i, &v))
				return false;
			i += 4;
			if (v >= 0xD800 && v <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' && hex4(s + i + 2, &w) &&
			    w >= 0xDC00 && w <= 0xDFFF) {
				v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00);
				i += 6;
			}
			char u[4];
			size_t un = (v >= 0xD800 && v <= 0xDFFF) ? (u[0] = '?', 1) : put_utf8(v, u);
			if (pat_buf_put(out, u, un))
				return false;
			continue;
		}
		default:
			return false;
		}
		if (pat_buf_putc(out, r))
			return false;
	}
	if (!out->p && pat_buf_put(out, "", 0))
		return false;
	return true;
}

/* ---- full validation --------------------------------------------------------------------------- */

static const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *vstring(const char *p, const char *e)
{
	p++;
	while (p < e) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (p + 1 >= e)
				return NULL;
			char x = p[1];
			if (x == 'u') {
				if (p + 6 > e || bb_hexval(p[2]) < 0 || bb_hexval(p[3]) < 0 || bb_hexval(p[4]) < 0 || bb_hexval(p[5]) < 0)
					return NULL;
				p += 6;
				continue;
			}
			if (!strchr("bfnrt\"/\\", x) || x == 0)
				return NULL;
			p += 2;
			continue;
		}
		p++;
	}
	return NULL;
}

static const char *vnumber(const char *p, const char *e)
{
	if (p < e && *p == '-')
		p++;
	if (p >= e)
		return NULL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	if (p < e && *p == '.') {
		p++;
		const char *s = p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		const char *s = p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	return p;
}

static const char *vvalue(const char *p, const char *e, int depth)
{
	p = ws(p, e);
	if (p >= e || depth > PAT_MAX_EVENT_DEPTH)
		return NULL;
	switch (*p) {
	case '"': return vstring(p, e);
	case '{':
		p = ws(p + 1, e);
		if (p < e && *p == '}')
			return p + 1;
		for (;;) {
			if (p >= e || *p != '"')
				return NULL;
			p = vstring(p, e);
			if (!p)
				return NULL;
			p = ws(p, e);
			if (p >= e || *p != ':')
				return NULL;
			p = vvalue(p + 1, e, depth + 1);
			if (!p)
				return NULL;
			p = ws(p, e);
			if (p < e && *p == ',') {
				p = ws(p + 1, e);
				continue;
			}
			if (p < e && *p == '}')
				return p + 1;
			return NULL;
		}
	case '[':
		p = ws(p + 1, e);
		if (p < e && *p == ']')
			return p + 1;
		for (;;) {
			p = vvalue(p, e, depth + 1);
			if (!p)
				return NULL;
			p = ws(p, e);
			if (p < e && *p == ',') {
				p++;
				continue;
			}
			if (p < e && *p == ']')
				return p + 1;
			return NULL;
		}
	case 't': return (e - p >= 4 && !memcmp(p, "true", 4)) ? p + 4 : NULL;
	case 'f': return (e - p >= 5 && !memcmp(p, "false", 5)) ? p + 5 : NULL;
	case 'n': return (e - p >= 4 && !memcmp(p, "null", 4)) ? p + 4 : NULL;
	default: return vnumber(p, e);
	}
}

bool pat_json_valid(const char *s, size_t n)
{
	const char *e = s + n;
	const char *p = vvalue(s, e, 0);
	if (!p)
		return false;
	return ws(p, e) == e;
}
