/* node/pe_parse.c — the PutEvents request body in one pass, without building a JSON tree.
 *
 * Why: jansson spent ~40 % of the node's CPU at full ingest (a tree of every entry, a hash table per
 * object, a copy of every string), for a request whose shape is fixed. This reader walks the body once,
 * decodes the strings it needs into one arena and hands back plain fields.
 *
 * Contract: it accepts only the ordinary shape — {"Entries": [1..10 objects]} whose entries have
 * string members Source, DetailType, Detail, EventBusName, TraceHeader, a number Time and a list of
 * strings Resources — and for every body it accepts it yields exactly the values jansson's
 * json_loadb(JSON_ALLOW_NUL) followed by the general reader in op_putevents.c would. Anything else
 * (another member, a duplicate member, null, a wrong type, \u0000, invalid UTF-8, any syntax error,
 * more than PE_MAX_RESOURCES resources in all, a Time jansson would reject) answers PE_GENERAL, and the
 * caller parses the body with jansson, which produces the AWS-shaped error or the rare accepted
 * variant. So this file can only make things faster, never change an answer.
 *
 * Strings are validated as jansson does (RFC 8259 escapes, surrogate pairs, UTF-8 without overlong
 * forms, surrogates or code points above U+10FFFF) and written NUL-terminated into the arena; a
 * decoded string is never longer than its source text, so the arena is one allocation of the body's
 * size.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

typedef struct rd {
	const unsigned char *p, *end;
	char *o;          /* arena write position */
	pe_parsed *out;
} rd;

static void ws(rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static bool eat(rd *r, unsigned char c)
{
	ws(r);
	if (r->p >= r->end || *r->p != c)
		return false;
	r->p++;
	return true;
}


static bool hex4(const unsigned char *p, const unsigned char *end, unsigned *v)
{
	if (end - p < 4)
		return false;
	unsigned x = 0;
	for (int i = 0; i < 4; i++) {
		int h = bb_hexval(p[i]);
		if (h < 0)
			return false;
		x = (x << 4) | (unsigned)h;
	}
	*v = x;
	return true;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xC0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xE0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (char)(0xF0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	}
	return o;
}

/* Length of the valid UTF-8 sequence at p (2..4 bytes), or 0 (jansson's utf8_check_first/full). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], n, cp;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether the 8 bytes at p are all printable ASCII other than '"' and '\\' (SWAR: a byte is zero in
 * v exactly when (v - 1) borrows into its high bit while v's own high bit is clear). */
static bool plain8(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
	uint64_t bad = (w & HIGHS) | ((w - ONES * 0x20) & ~w & HIGHS) | ((q - ONES) & ~q & HIGHS) |
		       ((b - ONES) & ~b & HIGHS);
	return bad == 0;
}

/* A JSON string at r->p (the opening quote) decoded into the arena; *s points at it. */
static bool string(rd *r, const char **s, size_t *len)
{
	ws(r);
	if (r->p >= r->end || *r->p != '"')
		return false;
	r->p++;
	char *start = r->o, *o = r->o;
	const unsigned char *p = r->p, *end = r->end;
	for (;;) {
		/* the common run: printable ASCII without quote or backslash, eight bytes at a time */
		const unsigned char *q = p;
		while (end - q >= 8 && plain8(q))
			q += 8;
		while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
			q++;
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		p = q;
		if (p >= end)
			return false;
		unsigned char c = *p;
		if (c == '"') {
			p++;
			break;
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			size_t n = utf8_seq(p, end);
			if (!n)
				return false;
			memcpy(o, p, n);
			o += n;
			p += n;
			continue;
		}
		/* backslash */
		if (end - p < 2)
			return false;
		unsigned char e = p[1];
		p += 2;
		switch (e) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp;
			if (!hex4(p, end, &cp))
				return false;
			p += 4;
			if (cp == 0)
				return false; /* \u0000: the general path keeps jansson's truncation semantics */
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return false;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo;
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) || lo < 0xDC00 ||
				    lo > 0xDFFF)
					return false;
				p += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			o = put_utf8(o, cp); /* at most as long as the escape it replaces */
			break;
		}
		default:
			return false;
		}
	}
	*o++ = '\0';
	r->p = p;
	r->o = o;
	*s = start;
	*len = (size_t)(o - start - 1);
	return true;
}

/* A member name without escapes (every name this reader knows is plain ASCII). */
static bool key(rd *r, const unsigned char **k, size_t *klen)
{
	ws(r);
	if (r->p >= r->end || *r->p != '"')
		return false;
	const unsigned char *s = ++r->p;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\' || *r->p < 0x20)
			return false;
		r->p++;
	}
	if (r->p >= r->end)
		return false;
	*k = s;
	*klen = (size_t)(r->p - s);
	r->p++;
	return eat(r, ':');
}

static bool key_is(const unsigned char *k, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(k, name, n) == 0;
}

static bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A JSON number; the value as jansson's json_number_value gives it (integers up to 18 digits exactly,
 * reals by strtod; anything jansson could reject answers false). */
static bool number(rd *r, double *out)
{
	ws(r);
	const unsigned char *s = r->p, *p = r->p, *end = r->end;
	bool neg = false, real = false;
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	const unsigned char *ds = p;
	if (p < end && *p == '0')
		p++;
	else if (p < end && digit(*p) && *p != '0')
		while (p < end && digit(*p))
			p++;
	else
		return false;
	size_t int_digits = (size_t)(p - ds);
	if (p < end && *p == '.') {
		real = true;
		p++;
		if (p >= end || !digit(*p))
			return false;
		while (p < end && digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !digit(*p))
			return false;
		while (p < end && digit(*p))
			p++;
	}
	if (p < end && (digit(*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '-' || *p == '+'))
		return false;
	if (!real) {
		if (int_digits > 18)
			return false; /* jansson may call it too big: let it say so */
		long long v = 0;
		for (const unsigned char *q = ds; q < p; q++)
			v = v * 10 + (*q - '0');
		*out = (double)(neg ? -v : v);
	} else {
		char buf[128];
		size_t n = (size_t)(p - s);
		if (n >= sizeof buf)
			return false;
		memcpy(buf, s, n);
		buf[n] = '\0';
		double v = strtod(buf, NULL);
		if (isinf(v))
			return false; /* jansson: "real number overflow" */
		*out = v;
	}
	r->p = p;
	return true;
}

enum { F_SOURCE = 1, F_DTYPE = 2, F_DETAIL = 4, F_BUS = 8, F_TRACE = 16, F_RES = 32, F_TIME = 64 };

static bool resources(rd *r, pe_fields *f)
{
	pe_parsed *o = r->out;
	if (!eat(r, '['))
		return false;
	f->resources = &o->res[o->n_res];
	f->n_resources = 0;
	ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return true;
	}
	for (;;) {
		if (o->n_res == PE_MAX_RESOURCES)
			return false;
		size_t len;
		if (!string(r, &o->res[o->n_res], &len))
			return false;
		o->n_res++;
		f->n_resources++;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		return eat(r, ']');
	}
}

static bool entry(rd *r, pe_fields *f)
{
	memset(f, 0, sizeof *f);
	if (!eat(r, '{'))
		return false;
	ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return true;
	}
	unsigned seen = 0;
	for (;;) {
		const unsigned char *k;
		size_t kl, len;
		if (!key(r, &k, &kl))
			return false;
		unsigned bit;
		bool ok;
		if (key_is(k, kl, "Source"))
			bit = F_SOURCE, ok = !(seen & bit) && string(r, &f->source, &len);
		else if (key_is(k, kl, "DetailType"))
			bit = F_DTYPE, ok = !(seen & bit) && string(r, &f->detail_type, &len);
		else if (key_is(k, kl, "Detail"))
			bit = F_DETAIL, ok = !(seen & bit) && string(r, &f->detail, &f->detail_len);
		else if (key_is(k, kl, "EventBusName"))
			bit = F_BUS, ok = !(seen & bit) && string(r, &f->bus_in, &len);
		else if (key_is(k, kl, "TraceHeader"))
			bit = F_TRACE, ok = !(seen & bit) && string(r, &f->trace, &len);
		else if (key_is(k, kl, "Resources"))
			bit = F_RES, ok = !(seen & bit) && resources(r, f);
		else if (key_is(k, kl, "Time"))
			bit = F_TIME, ok = !(seen & bit) && number(r, &f->time_s);
		else
			return false;
		if (!ok)
			return false;
		seen |= bit;
		if (bit == F_TIME)
			f->has_time = true;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		return eat(r, '}');
	}
}

int pe_parse_fast(const char *body, size_t len, pe_parsed *out)
{
	out->n = out->n_res = 0; /* entries are cleared as they are read */
	out->arena = NULL;
	if (len == 0)
		return PE_GENERAL;
	out->arena = malloc(len + 1);
	if (!out->arena)
		return PE_GENERAL;
	rd r = {(const unsigned char *)body, (const unsigned char *)body + len, out->arena, out};
	const unsigned char *k;
	size_t kl;
	if (!eat(&r, '{') || !key(&r, &k, &kl) || !key_is(k, kl, "Entries") || !eat(&r, '['))
		goto general;
	for (;;) {
		if (out->n == PE_MAX_ENTRIES || !entry(&r, &out->f[out->n]))
			goto general;
		out->n++;
		ws(&r);
		if (r.p < r.end && *r.p == ',') {
			r.p++;
			continue;
		}
		break;
	}
	if (!eat(&r, ']') || !eat(&r, '}'))
		goto general;
	ws(&r);
	if (r.p != r.end)
		goto general;
	return PE_PARSED;
general:
	pe_parsed_free(out);
	return PE_GENERAL;
}

void pe_parsed_free(pe_parsed *p)
{
	free(p->arena);
	p->arena = NULL;
	p->n = 0;
	p->n_res = 0;
}
