/* node/xform/xform_json.c — the output buffer and the strict JSON scanner of node/xform/.
 *
 * Why our own scanner rather than jansson: a transformation must deliver the event's own text
 * (numbers such as 1.50 or 123456789012345678901234567890 unchanged, keys in their order) and must
 * validate rendered templates the way a strict parser does. The scanner is one iterative pass
 * (explicit stack, depth limit XJ_MAX_DEPTH, so no recursion on hostile input) that either records a
 * flat node array (events) or copies tokens without insignificant whitespace (validation +
 * minification). Strings are checked for UTF-8 and escapes; control characters are rejected.
 */
#include <stdlib.h>
#include <string.h>

#include "xform_int.h"

/* ---- xbuf ------------------------------------------------------------------------------------ */

void xbuf_init(xbuf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

void xbuf_free(xbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static bool xbuf_reserve(xbuf *b, size_t n)
{
	if (b->err)
		return false;
	if (n > b->max || b->len > b->max - n) {
		b->err = BB_ETOOBIG;
		return false;
	}
	size_t need = b->len + n + 1; /* room for the final NUL */
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->err = BB_ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void xbuf_add(xbuf *b, const char *s, size_t n)
{
	if (n && xbuf_reserve(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

void xbuf_addc(xbuf *b, char c)
{
	if (xbuf_reserve(b, 1))
		b->p[b->len++] = c;
}

void xbuf_add_json_str(xbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	xbuf_addc(b, '"');
	size_t run = 0; /* bytes of s[run..i) not yet copied */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		xbuf_add(b, s + run, i - run);
		run = i + 1;
		char esc[7] = {'\\', 0};
		size_t el = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		xbuf_add(b, esc, el);
	}
	xbuf_add(b, s + run, n - run);
	xbuf_addc(b, '"');
}

char *xbuf_take(xbuf *b, size_t *len)
{
	if (!xbuf_reserve(b, 0)) /* a failed buffer, or room for the NUL (allocates when empty) */
		return NULL;
	b->p[b->len] = '\0';
	char *p = b->p;
	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---- scanner ---------------------------------------------------------------------------------- */

typedef struct scan {
	const unsigned char *s;
	size_t n, i;
	xj_doc *doc;  /* record nodes when not NULL */
	xbuf *out;    /* emit minified text when not NULL */
	bool strip;   /* emit without '"' */
	size_t depth;
	bb_err err;   /* BB_ENOMEM from node growth */
	/* the key of the member whose value comes next */
	uint32_t key, klen;
	bool key_esc, has_key;
} scan;

static void skip_ws(scan *sc)
{
	size_t j = sc->i;
	while (j < sc->n && (sc->s[j] == ' ' || sc->s[j] == '\t' || sc->s[j] == '\n' || sc->s[j] == '\r'))
		j++;
	if (j != sc->i && sc->depth > 0 && sc->doc)
		sc->doc->spaced = true;
	sc->i = j;
}

static void emit(scan *sc, size_t from, size_t to)
{
	if (!sc->out)
		return;
	if (!sc->strip) {
		xbuf_add(sc->out, (const char *)sc->s + from, to - from);
		return;
	}
	size_t run = from;
	for (size_t k = from; k < to; k++) {
		if (sc->s[k] == '"') {
			xbuf_add(sc->out, (const char *)sc->s + run, k - run);
			run = k + 1;
		}
	}
	xbuf_add(sc->out, (const char *)sc->s + run, to - run);
}


/* Length of the UTF-8 sequence at s[0..n) (1..4), or 0 when it is not well-formed (RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF). s[0] >= 0x80. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (s[k] < 0x80 || s[k] > 0xBF)
			return 0;
	return len;
}

/* Scans the string literal at sc->i (a '"'); on success sc->i is past the closing quote. */
static bool scan_string(scan *sc, bool *has_esc)
{
	const unsigned char *s = sc->s;
	size_t i = sc->i + 1, n = sc->n;
	*has_esc = false;
	while (i < n) {
		unsigned char c = s[i];
		if (c == '"') {
			sc->i = i + 1;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			*has_esc = true;
			if (i + 1 >= n)
				return false;
			unsigned char e = s[i + 1];
			if (e == 'u') {
				if (i + 5 >= n)
					return false;
				for (size_t k = 2; k < 6; k++)
					if (bb_hexval(s[i + k]) < 0)
						return false;
				i += 6;
			} else if (e && strchr("\"\\/bfnrt", e)) {
				i += 2;
			} else
				return false;
		} else if (c < 0x80) {
			i++;
		} else {
			size_t l = utf8_len(s + i, n - i);
			if (!l)
				return false;
			i += l;
		}
	}
	return false;
}

static bool scan_number(scan *sc)
{
	const unsigned char *s = sc->s;
	size_t i = sc->i, n = sc->n;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	sc->i = i;
	return true;
}

static bool scan_literal(scan *sc, const char *lit)
{
	size_t l = strlen(lit);
	if (sc->n - sc->i < l || memcmp(sc->s + sc->i, lit, l) != 0)
		return false;
	sc->i += l;
	return true;
}

/* Appends a node for the value starting at sc->i; returns its index or -1 (out of memory). */
static long add_node(scan *sc, xj_type t)
{
	xj_doc *d = sc->doc;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		xj_node *p = realloc(d->nodes, cap * sizeof *p);
		if (!p) {
			sc->err = BB_ENOMEM;
			return -1;
		}
		d->nodes = p;
		d->cap = cap;
	}
	xj_node *nd = &d->nodes[d->n];
	memset(nd, 0, sizeof *nd);
	nd->start = (uint32_t)sc->i;
	nd->type = (uint8_t)t;
	if (sc->has_key) {
		nd->key = sc->key;
		nd->klen = sc->klen;
		nd->key_esc = sc->key_esc;
		sc->has_key = false;
	}
	return (long)d->n++;
}

static void end_node(scan *sc, long idx)
{
	if (!sc->doc)
		return;
	xj_node *nd = &sc->doc->nodes[idx];
	nd->len = (uint32_t)(sc->i - nd->start);
	nd->next = (uint32_t)sc->doc->n;
}

/* Scans exactly one value with optional whitespace around it. The labels are the grammar's states:
 * `value` (a value starts here), `after` (a value just ended), `close` (a container ends), `key` (an
 * object member starts); the open containers are on an explicit stack, never the C stack. */
static bool scan_doc(scan *sc)
{
	/* per open container: its node index (or 0 without a doc) and whether it is an object */
	uint32_t stack_idx[XJ_MAX_DEPTH];
	bool stack_obj[XJ_MAX_DEPTH];
	const unsigned char *s = sc->s;
	skip_ws(sc);
value:
	if (sc->i >= sc->n)
		return false;
	{
		unsigned char c = s[sc->i];
		size_t from = sc->i;
		long idx = -1;
		xj_type t;
		switch (c) {
		case '{':
		case '[':
			if (sc->depth >= XJ_MAX_DEPTH)
				return false;
			t = c == '{' ? XJ_OBJ : XJ_ARR;
			if (sc->doc && (idx = add_node(sc, t)) < 0)
				return false;
			stack_idx[sc->depth] = idx < 0 ? 0 : (uint32_t)idx;
			stack_obj[sc->depth] = c == '{';
			sc->depth++;
			sc->i++;
			emit(sc, from, sc->i);
			skip_ws(sc);
			if (sc->i < sc->n && s[sc->i] == (c == '{' ? '}' : ']'))
				goto close;
			if (c == '[')
				goto value;
			goto key;
		case '"': {
			bool esc;
			if (sc->doc && (idx = add_node(sc, XJ_STR)) < 0)
				return false;
			if (!scan_string(sc, &esc))
				return false;
			break;
		}
		case 't':
		case 'f':
		case 'n':
			t = c == 't' ? XJ_TRUE : c == 'f' ? XJ_FALSE : XJ_NULL;
			if (sc->doc && (idx = add_node(sc, t)) < 0)
				return false;
			if (!scan_literal(sc, c == 't' ? "true" : c == 'f' ? "false" : "null"))
				return false;
			break;
		default:
			if (sc->doc && (idx = add_node(sc, XJ_NUM)) < 0)
				return false;
			if (!scan_number(sc))
				return false;
		}
		if (idx >= 0)
			end_node(sc, idx);
		emit(sc, from, sc->i);
	}
after:
	if (sc->depth == 0) {
		skip_ws(sc);
		return sc->i == sc->n;
	}
	skip_ws(sc);
	if (sc->i >= sc->n)
		return false;
	if (s[sc->i] == ',') {
		emit(sc, sc->i, sc->i + 1);
		sc->i++;
		skip_ws(sc);
		if (stack_obj[sc->depth - 1])
			goto key;
		goto value;
	}
	if (s[sc->i] != (stack_obj[sc->depth - 1] ? '}' : ']'))
		return false;
close:
	sc->i++;
	emit(sc, sc->i - 1, sc->i);
	sc->depth--;
	if (sc->doc)
		end_node(sc, (long)stack_idx[sc->depth]);
	goto after;
key:
	if (sc->i >= sc->n || s[sc->i] != '"')
		return false;
	{
		size_t from = sc->i;
		bool esc;
		if (!scan_string(sc, &esc))
			return false;
		emit(sc, from, sc->i);
		sc->key = (uint32_t)(from + 1);
		sc->klen = (uint32_t)(sc->i - from - 2);
		sc->key_esc = esc;
		sc->has_key = sc->doc != NULL;
	}
	skip_ws(sc);
	if (sc->i >= sc->n || s[sc->i] != ':')
		return false;
	emit(sc, sc->i, sc->i + 1);
	sc->i++;
	skip_ws(sc);
	goto value;
}

bb_err xj_parse(xj_doc *d, const char *text, size_t len)
{
	memset(d, 0, sizeof *d);
	d->text = text;
	d->len = len;
	if (len >= UINT32_MAX)
		return BB_ETOOBIG;
	scan sc = {.s = (const unsigned char *)text, .n = len, .doc = d};
	bool ok = scan_doc(&sc);
	if (sc.err)
		return sc.err;
	return ok ? BB_OK : BB_EINVAL;
}

void xj_doc_free(xj_doc *d)
{
	free(d->nodes);
	d->nodes = NULL;
	d->n = d->cap = 0;
}

bool xj_minify(const char *text, size_t len, xbuf *out, bool strip_quotes)
{
	scan sc = {.s = (const unsigned char *)text, .n = len, .out = out, .strip = strip_quotes};
	return scan_doc(&sc);
}

/* ---- helpers on validated text ------------------------------------------------------------------ */

static void add_utf8(xbuf *out, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	xbuf_add(out, u, n);
}

static uint32_t hex4(const char *p)
{
	uint32_t v = 0;
	for (int k = 0; k < 4; k++)
		v = v << 4 | (uint32_t)bb_hexval((unsigned char)p[k]);
	return v;
}

void xj_unescape(const char *s, size_t n, xbuf *out)
{
	size_t run = 0, i = 0;
	while (i < n) {
		if (s[i] != '\\') {
			i++;
			continue;
		}
		xbuf_add(out, s + run, i - run);
		char e = s[i + 1];
		i += 2;
		switch (e) {
		case 'b': xbuf_addc(out, '\b'); break;
		case 'f': xbuf_addc(out, '\f'); break;
		case 'n': xbuf_addc(out, '\n'); break;
		case 'r': xbuf_addc(out, '\r'); break;
		case 't': xbuf_addc(out, '\t'); break;
		case 'u': {
			uint32_t cp = hex4(s + i);
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
				uint32_t lo = hex4(s + i + 2);
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				}
			}
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 0xFFFD;
			add_utf8(out, cp);
			break;
		}
		default: xbuf_addc(out, e); /* " \ / */
		}
		run = i;
	}
	xbuf_add(out, s + run, n - run);
}

bool xj_key_eq(const xj_doc *d, const xj_node *k, const char *name, size_t n)
{
	const char *key = d->text + k->key;
	if (!k->key_esc)
		return k->klen == n && memcmp(key, name, n) == 0;
	xbuf tmp;
	xbuf_init(&tmp, n); /* a decoded key longer than name cannot be equal: ETOOBIG stops early */
	xj_unescape(key, k->klen, &tmp);
	bool eq = !tmp.err && tmp.len == n && (n == 0 || memcmp(tmp.p, name, n) == 0);
	xbuf_free(&tmp);
	return eq;
}

void xj_emit(const xj_doc *d, size_t i, xbuf *out, bool strip_quotes)
{
	const xj_node *nd = &d->nodes[i];
	const char *t = d->text + nd->start;
	if (d->spaced && (nd->type == XJ_OBJ || nd->type == XJ_ARR)) {
		xj_minify(t, nd->len, out, strip_quotes);
		return;
	}
	if (!strip_quotes) {
		xbuf_add(out, t, nd->len);
		return;
	}
	size_t run = 0;
	for (size_t k = 0; k < nd->len; k++) {
		if (t[k] == '"') {
			xbuf_add(out, t + run, k - run);
			run = k + 1;
		}
	}
	xbuf_add(out, t + run, nd->len - run);
}
