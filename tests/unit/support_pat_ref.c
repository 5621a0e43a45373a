/* tests/unit/support_pat_ref.c — the reference pattern matcher (see pat_ref.h). Test code only.
 *
 * It evaluates aws/event-ruler's semantics (the executable spec of ../shared/reference/eventbridge-api.md
 * §3, commit 337e8d99 of event-ruler, array-consistent `rulesForJSONEvent`) as directly as possible:
 *
 *  Pattern compile (event-ruler JsonRuleCompiler):
 *   - nested objects extend a dotted path; a key containing '.' is kept as is, so {"a":{"b":..}} and
 *     {"a.b":..} name the same field. Every leaf must be a non-empty array of values/operator objects.
 *   - duplicate keys: last wins *per flattened path* (rule.put(path, values)); two duplicate object keys
 *     whose values are objects therefore merge their different sub-paths, as event-ruler's streaming
 *     compiler does.
 *   - `$or` at any object level: an array of >= 2 objects; the rules so far are copied once per
 *     alternative; operator names are reserved field names inside an alternative. More than 1000
 *     sub-rules (AWS's combination limit) is an error. If that reading fails, the pattern is compiled
 *     again with `$or` as an ordinary field name (event-ruler's legacy RuleCompiler fallback), and is
 *     valid if that succeeds.
 *   - a string value that is a valid IPv4/IPv6 address is an IP equality (event "10.0.0.1" matches
 *     pattern "10.0.0.1" through the address value); a number value is matched by numeric value when
 *     "comparable" (see below), else by its exact text; null/true/false match the same literal.
 *   - operators: exact, prefix, suffix (each optionally {"equals-ignore-case":..}), equals-ignore-case,
 *     wildcard (`*`, `\*`, `\\`; `**` and other escapes rejected), numeric (=, <, <=, >, >=, one
 *     lower + one upper bound, bottom < top), exists true/false, cidr (v4 mask 0..31, v6 0..127, Java
 *     split/parseInt quirks), anything-but (string, number, list of all strings or all numbers, and
 *     {prefix|suffix|equals-ignore-case|wildcard: string or list}).
 *
 *  Event: parsed completely; each leaf (string, number, true, false, null) is a field named by its
 *   dotted path; empty arrays and empty objects yield no field; arrays of arrays are flattened.
 *   Array membership: every array gets an id; an object or array that is an element of array A at
 *   index i carries (A, i) down to its leaves (scalars directly in A do not carry A, exactly as in
 *   event-ruler's Event). Duplicate event keys yield both fields (event-ruler's streaming reader).
 *
 *  Matching one sub-rule: its keys in sorted order (Java String order = UTF-16 code units), searching
 *   recursively: key k is satisfied by some field named k whose membership agrees with the
 *   membership accumulated so far (same index for every array both know) and whose value matches one
 *   of k's values; the membership then grows by the field's. {"exists":false} on k is satisfied when no
 *   field named k agrees with the membership accumulated *so far* (keys sorted before k), which is
 *   event-ruler's ACFinder behaviour (order-dependent by design of event-ruler, kept on purpose).
 *
 *  Values: strings are compared on event-ruler's quoted form ('"' + value + '"'): prefix p matches when
 *   '"'+value+'"' starts with '"'+p, suffix s when it ends with s+'"' (so a prefix/suffix containing a
 *   quote can match at the string's edge, as in event-ruler). Numbers: a JSON number text is
 *   "comparable" when it is finite as an IEEE double and its exact decimal value equals the shortest
 *   round-trip decimal of that double (event-ruler ComparableNumber); comparable numbers compare by
 *   double value (300 == 300.0 == 3e2), others only by identical text, and never match numeric ranges.
 *   equals-ignore-case: each UTF-16 unit c of the pattern matches Java's c.toLowerCase(ROOT) or
 *   c.toUpperCase(ROOT) (full mappings: "ß" matches "ß" or "SS"); the event text is not folded.
 *   anything-but matches any present value not excluded (null, booleans and values of the other type
 *   are never excluded); cidr/IP equality only match strings that parse as an address of the family.
 *
 *  Known gaps (extreme cases only, documented so nobody "fixes" the engine towards them):
 *   - simple case mappings come from glibc's C.UTF-8 tables (Unicode version may differ from the
 *     JDK's); the multi-character upper-case mappings are a table generated from Unicode SpecialCasing.
 *   - shortest round-trip decimals come from printf("%.*e") + strtod; JDK < 19 printed a few doubles
 *     with a longer form, which would make those texts "non-comparable" there.
 *   - trailing bytes after a pattern's root object are ignored (as Jackson/event-ruler do); after an
 *     event they make it malformed here (event-ruler's streaming reader would ignore them too).
 *   - equals-ignore-case with a non-BMP character reproduces event-ruler's artefact (each surrogate
 *     half becomes '?'); the engine deliberately matches the character itself, so the differential
 *     test does not generate such patterns.
 *   - IPv4 parts with leading zeros are not addresses here (JDK's ambiguity rule); event-ruler's
 *     v6-event-vs-v4-range prefix artefact is not reproduced (families never mix).
 *   - wildcard complexity (AWS "Rule is too complex") is not evaluated; the legacy `$or` fallback uses
 *     the modern operator grammar (the legacy one rejects anything-but wildcard/lists).
 */
#include "pat_ref.h"

#include <arpa/inet.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* ---- small helpers ------------------------------------------------------------------------------ */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static char *xmemdup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

typedef struct buf {
	char *s;
	size_t n, cap;
} buf;

static void buf_put(buf *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->n, p, n);
	b->n += n;
	b->s[b->n] = 0;
}

static void buf_putc(buf *b, char c) { buf_put(b, &c, 1); }

/* ---- JSON tree ---------------------------------------------------------------------------------- */

typedef enum { J_NULL, J_TRUE, J_FALSE, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jnode {
	jtype t;
	char *s;   /* J_STR: decoded UTF-8; J_NUM: text as written; literals: "null"/"true"/"false" */
	size_t n;
	size_t cnt; /* J_ARR/J_OBJ: members in document order (duplicates kept) */
	struct jnode **kid;
	char **key;
	size_t *keyn;
} jnode;

static void jfree(jnode *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->cnt; i++) {
		jfree(j->kid[i]);
		if (j->key)
			free(j->key[i]);
	}
	free(j->kid);
	free(j->key);
	free(j->keyn);
	free(j->s);
	free(j);
}

typedef struct jparser {
	const unsigned char *p, *end;
	int depth;
} jparser;

static void jws(jparser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static void put_utf8(buf *b, uint32_t cp)
{
	char o[4];
	if (cp < 0x80) {
		o[0] = (char)cp;
		buf_put(b, o, 1);
	} else if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, o, 2);
	} else if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, o, 3);
	} else {
		o[0] = (char)(0xF0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[3] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, o, 4);
	}
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length (0 if invalid) and the code point. */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (n == 0)
		return 0;
	unsigned c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
		return 0;
	*cp = v;
	return len;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool jhex4(jparser *jp, uint32_t *out)
{
	if (jp->end - jp->p < 4)
		return false;
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(jp->p[i]);
		if (h < 0)
			return false;
		v = v * 16 + (uint32_t)h;
	}
	jp->p += 4;
	*out = v;
	return true;
}

/* Parses a string (opening quote at jp->p) into b. Lone surrogates become '?' (Java's UTF-8 encoder). */
static bool jstring(jparser *jp, buf *b)
{
	jp->p++;
	for (;;) {
		if (jp->p >= jp->end)
			return false;
		unsigned c = *jp->p;
		if (c == '"') {
			jp->p++;
			if (!b->s)
				buf_put(b, "", 0);
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			jp->p++;
			if (jp->p >= jp->end)
				return false;
			c = *jp->p++;
			switch (c) {
			case '"': buf_putc(b, '"'); break;
			case '\\': buf_putc(b, '\\'); break;
			case '/': buf_putc(b, '/'); break;
			case 'b': buf_putc(b, '\b'); break;
			case 'f': buf_putc(b, '\f'); break;
			case 'n': buf_putc(b, '\n'); break;
			case 'r': buf_putc(b, '\r'); break;
			case 't': buf_putc(b, '\t'); break;
			case 'u': {
				uint32_t u, lo;
				if (!jhex4(jp, &u))
					return false;
				if (u >= 0xD800 && u < 0xDC00 && jp->end - jp->p >= 6 && jp->p[0] == '\\' &&
				    jp->p[1] == 'u') {
					jparser save = *jp;
					jp->p += 2;
					if (jhex4(jp, &lo) && lo >= 0xDC00 && lo < 0xE000) {
						put_utf8(b, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
						break;
					}
					*jp = save;
				}
				if (u >= 0xD800 && u < 0xE000)
					buf_putc(b, '?');
				else
					put_utf8(b, u);
				break;
			}
			default:
				return false;
			}
			continue;
		}
		uint32_t cp;
		size_t l = utf8_dec(jp->p, (size_t)(jp->end - jp->p), &cp);
		if (!l)
			return false;
		buf_put(b, jp->p, l);
		jp->p += l;
	}
}

static bool isdig(int c) { return c >= '0' && c <= '9'; }

static jnode *jvalue(jparser *jp);

static jnode *jnew(jtype t)
{
	jnode *j = xmalloc(sizeof(*j));
	memset(j, 0, sizeof(*j));
	j->t = t;
	return j;
}

static void jadd(jnode *j, jnode *kid, char *key, size_t keyn)
{
	j->kid = xrealloc(j->kid, (j->cnt + 1) * sizeof(*j->kid));
	if (j->t == J_OBJ) {
		j->key = xrealloc(j->key, (j->cnt + 1) * sizeof(*j->key));
		j->keyn = xrealloc(j->keyn, (j->cnt + 1) * sizeof(*j->keyn));
		j->key[j->cnt] = key;
		j->keyn[j->cnt] = keyn;
	}
	j->kid[j->cnt++] = kid;
}

static jnode *jcontainer(jparser *jp, bool obj)
{
	if (++jp->depth > 256)
		return NULL;
	jnode *j = jnew(obj ? J_OBJ : J_ARR);
	jp->p++;
	jws(jp);
	if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
		jp->p++;
		jp->depth--;
		return j;
	}
	for (;;) {
		buf key = {0};
		jws(jp);
		if (obj) {
			if (jp->p >= jp->end || *jp->p != '"' || !jstring(jp, &key))
				goto fail_key;
			jws(jp);
			if (jp->p >= jp->end || *jp->p != ':')
				goto fail_key;
			jp->p++;
		}
		jnode *kid = jvalue(jp);
		if (!kid)
			goto fail_key;
		jadd(j, kid, key.s, key.n);
		jws(jp);
		if (jp->p >= jp->end)
			goto fail;
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p == (obj ? '}' : ']')) {
			jp->p++;
			jp->depth--;
			return j;
		}
		goto fail;
	fail_key:
		free(key.s);
		goto fail;
	}
fail:
	jfree(j);
	return NULL;
}

static jnode *jvalue(jparser *jp)
{
	jws(jp);
	if (jp->p >= jp->end)
		return NULL;
	const unsigned char *s = jp->p;
	switch (*s) {
	case '{': return jcontainer(jp, true);
	case '[': return jcontainer(jp, false);
	case '"': {
		buf b = {0};
		if (!jstring(jp, &b)) {
			free(b.s);
			return NULL;
		}
		jnode *j = jnew(J_STR);
		j->s = b.s;
		j->n = b.n;
		return j;
	}
	case 't': case 'f': case 'n': {
		static const char *lits[] = {"true", "false", "null"};
		static const jtype types[] = {J_TRUE, J_FALSE, J_NULL};
		for (int i = 0; i < 3; i++) {
			size_t l = strlen(lits[i]);
			if ((size_t)(jp->end - s) >= l && memcmp(s, lits[i], l) == 0) {
				jp->p += l;
				jnode *j = jnew(types[i]);
				j->s = xmemdup(lits[i], l);
				j->n = l;
				return j;
			}
		}
		return NULL;
	}
	default: break;
	}
	/* number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
	const unsigned char *p = s, *e = jp->end;
	if (p < e && *p == '-')
		p++;
	if (p >= e || !isdig(*p))
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < e && isdig(*p))
			p++;
	if (p < e && *p == '.') {
		p++;
		if (p >= e || !isdig(*p))
			return NULL;
		while (p < e && isdig(*p))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || !isdig(*p))
			return NULL;
		while (p < e && isdig(*p))
			p++;
	}
	if (p < e && (isdig(*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '-' || *p == '+'))
		return NULL;
	jnode *j = jnew(J_NUM);
	j->s = xmemdup((const char *)s, (size_t)(p - s));
	j->n = (size_t)(p - s);
	jp->p = p;
	return j;
}

/* Parses one JSON value. With trailing_ok, bytes after a complete root object are ignored, as
 * event-ruler's pattern compiler (Jackson streaming, closed after the root object) does. */
static jnode *jparse(const char *text, size_t len, bool trailing_ok)
{
	jparser jp = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
	jnode *j = jvalue(&jp);
	if (!j)
		return NULL;
	jws(&jp);
	if (jp.p != jp.end && !(trailing_ok && j->t == J_OBJ)) {
		jfree(j);
		return NULL;
	}
	return j;
}

/* ---- numbers ------------------------------------------------------------------------------------ */

/* Exact decimal value of a JSON number text: value = (neg ? -1 : 1) * digits * 10^exp, digits without
 * leading or trailing zeros (nd == 0 means zero). Digit strings longer than 40 are flagged (no double's
 * shortest form has more than 17 significant digits). */
typedef struct decnum {
	bool neg, toolong;
	int nd;
	long exp;
	char d[41];
} decnum;

static void dec_parse(const char *s, size_t n, decnum *o)
{
	memset(o, 0, sizeof(*o));
	size_t i = 0;
	long frac = 0;
	bool seen_nz = false, in_frac = false;
	long pending_zeros = 0; /* zeros after the last non-zero digit, not yet appended */
	if (i < n && s[i] == '-')
		o->neg = true, i++;
	for (; i < n && (isdig((unsigned char)s[i]) || s[i] == '.'); i++) {
		if (s[i] == '.') {
			in_frac = true;
			continue;
		}
		if (in_frac)
			frac++;
		if (s[i] == '0') {
			if (seen_nz)
				pending_zeros++;
			continue;
		}
		seen_nz = true;
		for (; pending_zeros > 0; pending_zeros--) {
			if (o->nd < 40)
				o->d[o->nd++] = '0';
			else
				o->toolong = true;
		}
		if (o->nd < 40)
			o->d[o->nd++] = s[i];
		else
			o->toolong = true;
	}
	long e = 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool eneg = false;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (; i < n && isdig((unsigned char)s[i]); i++)
			if (e < 1000000000L)
				e = e * 10 + (s[i] - '0');
		if (eneg)
			e = -e;
	}
	/* value = d * 10^(pending_zeros - frac + e) */
	o->exp = e - frac + pending_zeros;
	if (o->nd == 0)
		o->neg = false, o->exp = 0;
}

static bool dec_eq(const decnum *a, const decnum *b)
{
	return !a->toolong && !b->toolong && a->neg == b->neg && a->nd == b->nd && a->exp == b->exp &&
	       memcmp(a->d, b->d, (size_t)a->nd) == 0;
}

/* Parses num[len] as a double; false if not finite or not comparable (see pat_ref.h). */
static bool num_comparable(const char *num, size_t len, double *out)
{
	char tmp[512];
	char *t = len < sizeof(tmp) ? tmp : xmalloc(len + 1);
	memcpy(t, num, len);
	t[len] = 0;
	double d = strtod(t, NULL);
	if (t != tmp)
		free(t);
	if (!isfinite(d))
		return false;
	decnum a, b;
	dec_parse(num, len, &a);
	if (d == 0) {
		*out = 0.0;
		return a.nd == 0;
	}
	char rep[64];
	for (int p = 1; p <= 17; p++) {
		snprintf(rep, sizeof(rep), "%.*e", p - 1, d);
		if (strtod(rep, NULL) == d)
			break;
	}
	dec_parse(rep, strlen(rep), &b);
	*out = d;
	return dec_eq(&a, &b);
}

bool pat_ref_number_comparable(const char *num, size_t len)
{
	double d;
	return num_comparable(num, len, &d);
}

/* ---- IP addresses ------------------------------------------------------------------------------- */

/* Returns 4 or 16 (bytes in out) when s[n] is an address event-ruler's CIDR class accepts, else 0.
 * IPv4: [0-9]+(\.[0-9]+){3}, each part 0..255 without leading zeros. IPv6: only hex digits and ':'
 * with at least one ':', standard text form; IPv4-mapped ::ffff:x:y becomes the IPv4 address (Java). */
static int ip_parse(const char *s, size_t n, unsigned char out[16])
{
	int dots = 0, colons = 0, other = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.')
			dots++;
		else if (c == ':')
			colons++;
		else if (!isdig((unsigned char)c) && hexval((unsigned char)c) < 0)
			other++;
	}
	if (dots == 3 && colons == 0 && other == 0) {
		size_t i = 0;
		for (int part = 0; part < 4; part++) {
			size_t st = i;
			unsigned v = 0;
			while (i < n && isdig((unsigned char)s[i])) {
				if (v <= 255)
					v = v * 10 + (unsigned)(s[i] - '0');
				i++;
			}
			if (i == st || v > 255 || (i - st > 1 && s[st] == '0'))
				return 0;
			if (part < 3) {
				if (i >= n || s[i] != '.')
					return 0;
				i++;
			}
			out[part] = (unsigned char)v;
		}
		return i == n ? 4 : 0;
	}
	if (dots == 0 && colons > 0 && other == 0 && n < 64) {
		char t[64];
		memcpy(t, s, n);
		t[n] = 0;
		unsigned char a[16];
		if (inet_pton(AF_INET6, t, a) != 1)
			return 0;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, 12) == 0) {
			memcpy(out, a + 12, 4);
			return 4;
		}
		memcpy(out, a, 16);
		return 16;
	}
	return 0;
}

/* ---- case mapping (Java String.toLowerCase/toUpperCase(Locale.ROOT) of one UTF-16 unit) --------- */

/* Unconditional multi-character upper-case mappings of the BMP (Unicode SpecialCasing; generated with
 * Python's str.upper, which applies the same table as Java). */
static const struct {
	uint32_t cp;
	const char *up;
} special_upper[] = {
	{0x00DF, "\x53\x53"}, {0x0149, "\xca\xbc\x4e"}, {0x01F0, "\x4a\xcc\x8c"},
	{0x0390, "\xce\x99\xcc\x88\xcc\x81"}, {0x03B0, "\xce\xa5\xcc\x88\xcc\x81"}, {0x0587, "\xd4\xb5\xd5\x92"},
	{0x1E96, "\x48\xcc\xb1"}, {0x1E97, "\x54\xcc\x88"}, {0x1E98, "\x57\xcc\x8a"}, {0x1E99, "\x59\xcc\x8a"},
	{0x1E9A, "\x41\xca\xbe"}, {0x1F50, "\xce\xa5\xcc\x93"}, {0x1F52, "\xce\xa5\xcc\x93\xcc\x80"},
	{0x1F54, "\xce\xa5\xcc\x93\xcc\x81"}, {0x1F56, "\xce\xa5\xcc\x93\xcd\x82"}, {0x1F80, "\xe1\xbc\x88\xce\x99"},
	{0x1F81, "\xe1\xbc\x89\xce\x99"}, {0x1F82, "\xe1\xbc\x8a\xce\x99"}, {0x1F83, "\xe1\xbc\x8b\xce\x99"},
	{0x1F84, "\xe1\xbc\x8c\xce\x99"}, {0x1F85, "\xe1\xbc\x8d\xce\x99"}, {0x1F86, "\xe1\xbc\x8e\xce\x99"},
	{0x1F87, "\xe1\xbc\x8f\xce\x99"}, {0x1F88, "\xe1\xbc\x88\xce\x99"}, {0x1F89, "\xe1\xbc\x89\xce\x99"},
	{0x1F8A, "\xe1\xbc\x8a\xce\x99"}, {0x1F8B, "\xe1\xbc\x8b\xce\x99"}, {0x1F8C, "\xe1\xbc\x8c\xce\x99"},
	{0x1F8D, "\xe1\xbc\x8d\xce\x99"}, {0x1F8E, "\xe1\xbc\x8e\xce\x99"}, {0x1F8F, "\xe1\xbc\x8f\xce\x99"},
	{0x1F90, "\xe1\xbc\xa8\xce\x99"}, {0x1F91, "\xe1\xbc\xa9\xce\x99"}, {0x1F92, "\xe1\xbc\xaa\xce\x99"},
	{0x1F93, "\xe1\xbc\xab\xce\x99"}, {0x1F94, "\xe1\xbc\xac\xce\x99"}, {0x1F95, "\xe1\xbc\xad\xce\x99"},
	{0x1F96, "\xe1\xbc\xae\xce\x99"}, {0x1F97, "\xe1\xbc\xaf\xce\x99"}, {0x1F98, "\xe1\xbc\xa8\xce\x99"},
	{0x1F99, "\xe1\xbc\xa9\xce\x99"}, {0x1F9A, "\xe1\xbc\xaa\xce\x99"}, {0x1F9B, "\xe1\xbc\xab\xce\x99"},
	{0x1F9C, "\xe1\xbc\xac\xce\x99"}, {0x1F9D, "\xe1\xbc\xad\xce\x99"}, {0x1F9E, "\xe1\xbc\xae\xce\x99"},
	{0x1F9F, "\xe1\xbc\xaf\xce\x99"}, {0x1FA0, "\xe1\xbd\xa8\xce\x99"}, {0x1FA1, "\xe1\xbd\xa9\xce\x99"},
	{0x1FA2, "\xe1\xbd\xaa\xce\x99"}, {0x1FA3, "\xe1\xbd\xab\xce\x99"}, {0x1FA4, "\xe1\xbd\xac\xce\x99"},
	{0x1FA5, "\xe1\xbd\xad\xce\x99"}, {0x1FA6, "\xe1\xbd\xae\xce\x99"}, {0x1FA7, "\xe1\xbd\xaf\xce\x99"},
	{0x1FA8, "\xe1\xbd\xa8\xce\x99"}, {0x1FA9, "\xe1\xbd\xa9\xce\x99"}, {0x1FAA, "\xe1\xbd\xaa\xce\x99"},
	{0x1FAB, "\xe1\xbd\xab\xce\x99"}, {0x1FAC, "\xe1\xbd\xac\xce\x99"}, {0x1FAD, "\xe1\xbd\xad\xce\x99"},
	{0x1FAE, "\xe1\xbd\xae\xce\x99"}, {0x1FAF, "\xe1\xbd\xaf\xce\x99"}, {0x1FB2, "\xe1\xbe\xba\xce\x99"},
	{0x1FB3, "\xce\x91\xce\x99"}, {0x1FB4, "\xce\x86\xce\x99"}, {0x1FB6, "\xce\x91\xcd\x82"},
	{0x1FB7, "\xce\x91\xcd\x82\xce\x99"}, {0x1FBC, "\xce\x91\xce\x99"}, {0x1FC2, "\xe1\xbf\x8a\xce\x99"},
	{0x1FC3, "\xce\x97\xce\x99"}, {0x1FC4, "\xce\x89\xce\x99"}, {0x1FC6, "\xce\x97\xcd\x82"},
	{0x1FC7, "\xce\x97\xcd\x82\xce\x99"}, {0x1FCC, "\xce\x97\xce\x99"}, {0x1FD2, "\xce\x99\xcc\x88\xcc\x80"},
	{0x1FD3, "\xce\x99\xcc\x88\xcc\x81"}, {0x1FD6, "\xce\x99\xcd\x82"}, {0x1FD7, "\xce\x99\xcc\x88\xcd\x82"},
	{0x1FE2, "\xce\xa5\xcc\x88\xcc\x80"}, {0x1FE3, "\xce\xa5\xcc\x88\xcc\x81"}, {0x1FE4, "\xce\xa1\xcc\x93"},
	{0x1FE6, "\xce\xa5\xcd\x82"}, {0x1FE7, "\xce\xa5\xcc\x88\xcd\x82"}, {0x1FF2, "\xe1\xbf\xba\xce\x99"},
	{0x1FF3, "\xce\xa9\xce\x99"}, {0x1FF4, "\xce\x8f\xce\x99"}, {0x1FF6, "\xce\xa9\xcd\x82"},
	{0x1FF7, "\xce\xa9\xcd\x82\xce\x99"}, {0x1FFC, "\xce\xa9\xce\x99"}, {0xFB00, "\x46\x46"}, {0xFB01, "\x46\x49"},
	{0xFB02, "\x46\x4c"}, {0xFB03, "\x46\x46\x49"}, {0xFB04, "\x46\x46\x4c"}, {0xFB05, "\x53\x54"},
	{0xFB06, "\x53\x54"}, {0xFB13, "\xd5\x84\xd5\x86"}, {0xFB14, "\xd5\x84\xd4\xb5"}, {0xFB15, "\xd5\x84\xd4\xbb"},
	{0xFB16, "\xd5\x8e\xd5\x86"}, {0xFB17, "\xd5\x84\xd4\xbd"},
};

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (!utf8_locale)
		abort();
}

/* Appends Java's lower (upper=false) or upper case of BMP code point cp, as UTF-8, to b. */
static void java_case(uint32_t cp, bool upper, buf *b)
{
	pthread_once(&utf8_once, utf8_init);
	if (!upper && cp == 0x130) {
		buf_put(b, "i\xcc\x87", 3);
		return;
	}
	if (upper) {
		for (size_t i = 0; i < sizeof(special_upper) / sizeof(special_upper[0]); i++) {
			if (special_upper[i].cp == cp) {
				buf_put(b, special_upper[i].up, strlen(special_upper[i].up));
				return;
			}
		}
	}
	wint_t m = upper ? towupper_l((wint_t)cp, utf8_locale) : towlower_l((wint_t)cp, utf8_locale);
	put_utf8(b, (uint32_t)m);
}

/* ---- string matchers ---------------------------------------------------------------------------- */

typedef struct eicpos {
	buf alt[2];
	int nalt;
} eicpos;

/* Splits pattern p[n] into per-UTF-16-unit alternatives {lower, upper}. Non-BMP characters are two
 * units whose one-unit case mapping is a lone surrogate, which Java encodes as '?'. */
static eicpos *eic_build(const char *p, size_t n, size_t *np)
{
	eicpos *v = NULL;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_dec((const unsigned char *)p + i, n - i, &cp);
		if (!l) {
			cp = (unsigned char)p[i];
			l = 1;
		}
		i += l;
		int units = cp >= 0x10000 ? 2 : 1;
		for (int u = 0; u < units; u++) {
			v = xrealloc(v, (k + 1) * sizeof(*v));
			memset(&v[k], 0, sizeof(v[k]));
			if (units == 2) {
				buf_putc(&v[k].alt[0], '?');
				v[k].nalt = 1;
			} else {
				java_case(cp, false, &v[k].alt[0]);
				java_case(cp, true, &v[k].alt[1]);
				v[k].nalt = (v[k].alt[0].n == v[k].alt[1].n &&
					     memcmp(v[k].alt[0].s, v[k].alt[1].s, v[k].alt[0].n) == 0) ? 1 : 2;
			}
			k++;
		}
	}
	*np = k;
	return v;
}

static void eic_free(eicpos *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].alt[0].s);
		free(v[i].alt[1].s);
	}
	free(v);
}

enum { EIC_FULL, EIC_PREFIX, EIC_SUFFIX };

/* Forward: positions i.. must match t starting at pos. */
static bool eic_fwd(const eicpos *v, size_t nv, size_t i, const char *t, size_t tn, size_t pos, bool full)
{
	if (i == nv)
		return !full || pos == tn;
	for (int a = 0; a < v[i].nalt; a++) {
		const buf *alt = &v[i].alt[a];
		if (alt->n <= tn - pos && memcmp(t + pos, alt->s, alt->n) == 0 &&
		    eic_fwd(v, nv, i + 1, t, tn, pos + alt->n, full))
			return true;
	}
	return false;
}

/* Backward: positions ..i-1 must match t ending at end. */
static bool eic_bwd(const eicpos *v, size_t i, const char *t, size_t end)
{
	if (i == 0)
		return true;
	for (int a = 0; a < v[i - 1].nalt; a++) {
		const buf *alt = &v[i - 1].alt[a];
		if (alt->n <= end && memcmp(t + end - alt->n, alt->s, alt->n) == 0 && eic_bwd(v, i - 1, t, end - alt->n))
			return true;
	}
	return false;
}

static bool eic_match(const char *p, size_t pn, const char *t, size_t tn, int mode)
{
	size_t nv;
	eicpos *v = eic_build(p, pn, &nv);
	bool r = mode == EIC_SUFFIX ? eic_bwd(v, nv, t, tn) : eic_fwd(v, nv, 0, t, tn, 0, mode == EIC_FULL);
	eic_free(v, nv);
	return r;
}

#define WC_STAR 0x100

/* Parses a wildcard value into tokens (bytes, or WC_STAR). Returns false with reason on error. */
static bool wc_parse(const char *s, size_t n, unsigned short **tok, size_t *nt, char *why, size_t cap)
{
	*tok = xmalloc((n + 1) * sizeof(**tok));
	*nt = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '*') {
			if (i + 1 < n && s[i + 1] == '*') {
				snprintf(why, cap, "Consecutive wildcard characters at pos %zu", i);
				goto fail;
			}
			(*tok)[(*nt)++] = WC_STAR;
		} else if (c == '\\') {
			if (i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '\\')) {
				(*tok)[(*nt)++] = (unsigned char)s[++i];
				continue;
			}
			snprintf(why, cap, "Invalid escape character at pos %zu", i);
			goto fail;
		} else {
			(*tok)[(*nt)++] = c;
		}
	}
	return true;
fail:
	free(*tok);
	*tok = NULL;
	return false;
}

static bool wc_match(const unsigned short *tok, size_t nt, const char *t, size_t tn)
{
	size_t i = 0, j = 0, mark = 0;
	long star = -1;
	while (i < tn) {
		if (j < nt && tok[j] != WC_STAR && tok[j] == (unsigned char)t[i]) {
			i++, j++;
		} else if (j < nt && tok[j] == WC_STAR) {
			star = (long)j++;
			mark = i;
		} else if (star >= 0) {
			j = (size_t)star + 1;
			i = ++mark;
		} else {
			return false;
		}
	}
	while (j < nt && tok[j] == WC_STAR)
		j++;
	return j == nt;
}

static bool wc_match_str(const char *w, size_t wn, const char *t, size_t tn)
{
	unsigned short *tok;
	size_t nt;
	char why[8];
	if (!wc_parse(w, wn, &tok, &nt, why, sizeof(why)))
		return false;
	bool r = wc_match(tok, nt, t, tn);
	free(tok);
	return r;
}

/* '"' + s + '"' */
static buf quoted(const char *pre, const char *s, size_t n, const char *post)
{
	buf b = {0};
	buf_put(&b, pre, strlen(pre));
	buf_put(&b, s, n);
	buf_put(&b, post, strlen(post));
	return b;
}

/* ---- compiled pattern --------------------------------------------------------------------------- */

typedef enum mkind {
	M_EXACT_STR, M_EXACT_NUM, M_LIT, M_IP_EQ, M_PREFIX, M_PREFIX_EIC, M_SUFFIX, M_SUFFIX_EIC, M_EIC,
	M_WILDCARD, M_RANGE, M_EXISTS_T, M_EXISTS_F, M_CIDR,
	M_AB_STR, M_AB_NUM, M_AB_EIC, M_AB_PREFIX, M_AB_SUFFIX, M_AB_WILDCARD
} mkind;

typedef struct matcher {
	mkind k;
	char *v; /* value text (decoded string, number text or literal) */
	size_t vn;
	char **set; /* anything-but values (strings, or number texts for M_AB_NUM) */
	size_t *setn;
	size_t nset;
	bool has_lo, has_hi, lo_open, hi_open; /* M_RANGE */
	double lo, hi;
	unsigned char ip_lo[16], ip_hi[16]; /* M_CIDR / M_IP_EQ */
	int iplen;
} matcher;

typedef struct mlist {
	matcher *m;
	size_t n;
} mlist;

/* One key of a sub-rule: the dotted path and the index of its value list in pat_ref.lists. */
typedef struct entry {
	char *path;
	size_t pathn;
	size_t list;
} entry;

typedef struct subrule {
	entry *e;
	size_t n;
} subrule;

struct pat_ref {
	mlist *lists;
	size_t nlists;
	subrule *rules;
	size_t nrules;
};

typedef struct cctx {
	pat_ref *r;
	subrule *rules;
	size_t nrules;
	bool legacy; /* `$or` is an ordinary field name */
	char why[256];
} cctx;

static bool cfail(cctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool cfail(cctx *c, const char *fmt, ...)
{
	if (!c->why[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->why, sizeof(c->why), fmt, ap);
		va_end(ap);
	}
	return false;
}

static void sr_free(subrule *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].path);
	free(s->e);
	s->e = NULL;
	s->n = 0;
}

static void rules_free(subrule *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sr_free(&r[i]);
	free(r);
}

static subrule sr_copy(const subrule *s)
{
	subrule o = {xmalloc((s->n + 1) * sizeof(entry)), s->n};
	for (size_t i = 0; i < s->n; i++) {
		o.e[i] = s->e[i];
		o.e[i].path = xmemdup(s->e[i].path, s->e[i].pathn);
	}
	return o;
}

static void sr_put(subrule *s, const char *path, size_t pathn, size_t list)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->e[i].pathn == pathn && memcmp(s->e[i].path, path, pathn) == 0) {
			s->e[i].list = list; /* last wins per path */
			return;
		}
	}
	s->e = xrealloc(s->e, (s->n + 1) * sizeof(entry));
	s->e[s->n++] = (entry){xmemdup(path, pathn), pathn, list};
}

static void rules_push(subrule **r, size_t *n, subrule s)
{
	*r = xrealloc(*r, (*n + 1) * sizeof(subrule));
	(*r)[(*n)++] = s;
}

static bool key_is(const jnode *o, size_t i, const char *k)
{
	return o->keyn[i] == strlen(k) && memcmp(o->key[i], k, o->keyn[i]) == 0;
}

static bool str_is(const jnode *j, const char *s)
{
	return j->t == J_STR && j->n == strlen(s) && memcmp(j->s, s, j->n) == 0;
}

static const char *const reserved[] = {
	"exact", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard", "numeric",
	"cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard", "not-equals-ignore-case", "date-after",
	"date-on-or-after", "date-before", "date-on-or-before", "in-date-range", "ip-address-in-range",
	"ip-address-not-in-range",
};

static void matcher_free(matcher *m)
{
	free(m->v);
	for (size_t i = 0; i < m->nset; i++)
		free(m->set[i]);
	free(m->set);
	free(m->setn);
}

static bool number_arg(cctx *c, const jnode *j, double *d)
{
	if (!num_comparable(j->s, j->n, d))
		return cfail(c, "Cannot compare number : %.*s", (int)j->n, j->s);
	return true;
}

static bool parse_numeric(cctx *c, const jnode *a, matcher *m)
{
	size_t n = a->cnt;
	jnode *const *e = a->kid;
	m->k = M_RANGE;
	if (n == 0 || e[0]->t != J_STR)
		return cfail(c, "Invalid member in numeric match");
	const jnode *op = e[0];
	if (str_is(op, "=")) {
		if (n < 2 || e[1]->t != J_NUM)
			return cfail(c, "Value of equals must be numeric");
		if (!number_arg(c, e[1], &m->lo))
			return false;
		if (n > 2)
			return cfail(c, "Too many elements in numeric expression");
		m->hi = m->lo;
		m->has_lo = m->has_hi = true;
		return true;
	}
	if (str_is(op, ">=") || str_is(op, ">")) {
		if (n < 2 || e[1]->t != J_NUM)
			return cfail(c, "Value of %s must be numeric", op->s);
		if (!number_arg(c, e[1], &m->lo))
			return false;
		m->has_lo = true;
		m->lo_open = str_is(op, ">");
		if (n == 2)
			return true;
		if (e[2]->t != J_STR)
			return cfail(c, "Bad value in numeric range");
		if (!str_is(e[2], "<") && !str_is(e[2], "<="))
			return cfail(c, "Bad numeric range operator: %s", e[2]->s);
		if (n < 4 || e[3]->t != J_NUM)
			return cfail(c, "Value of %s must be numeric", e[2]->s);
		if (!number_arg(c, e[3], &m->hi))
			return false;
		m->has_hi = true;
		m->hi_open = str_is(e[2], "<");
		if (n > 4)
			return cfail(c, "Too many terms in numeric range expression");
		if (!(m->lo < m->hi))
			return cfail(c, "Bottom must be less than top");
		return true;
	}
	if (str_is(op, "<=") || str_is(op, "<")) {
		if (n < 2 || e[1]->t != J_NUM)
			return cfail(c, "Value of %s must be numeric", op->s);
		if (!number_arg(c, e[1], &m->hi))
			return false;
		if (n > 2)
			return cfail(c, "Too many elements in numeric expression");
		m->has_hi = true;
		m->hi_open = str_is(op, "<");
		return true;
	}
	return cfail(c, "Unrecognized numeric range operator: %s", op->s);
}

/* Java: cidr.split("/") (trailing empty parts dropped), Integer.parseInt, mask < 32 / < 128. */
static bool parse_cidr(cctx *c, const char *s, size_t n, matcher *m)
{
	size_t parts = 1, last_nonempty = 0, slash = n;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (i > start)
				last_nonempty = parts;
			if (i < n) {
				if (slash == n)
					slash = i;
				parts++;
			}
			start = i + 1;
		}
	}
	if (last_nonempty != 2)
		return cfail(c, "Malformed CIDR, one '/' required");
	size_t mstart = slash + 1, mend = mstart;
	while (mend < n && s[mend] != '/')
		mend++;
	long mask = 0;
	size_t i = mstart;
	bool neg = false;
	if (i < mend && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == mend || mend - i > 9)
		return cfail(c, "Malformed CIDR, mask bits must be an integer");
	for (; i < mend; i++) {
		if (!isdig((unsigned char)s[i]))
			return cfail(c, "Malformed CIDR, mask bits must be an integer");
		mask = mask * 10 + (s[i] - '0');
	}
	if (neg && mask > 0)
		return cfail(c, "Malformed CIDR, mask bits must not be negative");
	unsigned char ip[16];
	int len = ip_parse(s, slash, ip);
	if (!len)
		return cfail(c, "Nonstandard IP address: %.*s", (int)slash, s);
	if (len == 4 && mask > 31)
		return cfail(c, "IPv4 mask bits must be < 32");
	if (len == 16 && mask > 127)
		return cfail(c, "IPv6 mask bits must be < 128");
	m->k = M_CIDR;
	m->iplen = len;
	for (int b = 0; b < len; b++) {
		long fixed = mask - 8L * b; /* fixed bits in this byte */
		unsigned keep = fixed >= 8 ? 0xFF : fixed <= 0 ? 0 : (0xFFu << (8 - fixed)) & 0xFF;
		m->ip_lo[b] = (unsigned char)(ip[b] & keep);
		m->ip_hi[b] = (unsigned char)(ip[b] | (~keep & 0xFF));
	}
	return true;
}

static void set_add(matcher *m, const char *s, size_t n)
{
	m->set = xrealloc(m->set, (m->nset + 1) * sizeof(*m->set));
	m->setn = xrealloc(m->setn, (m->nset + 1) * sizeof(*m->setn));
	m->set[m->nset] = xmemdup(s, n);
	m->setn[m->nset++] = n;
}

/* One anything-but value list element for the prefix/suffix/equals-ignore-case/wildcard forms. */
static bool ab_set_value(cctx *c, const jnode *v, matcher *m)
{
	if (v->t != J_STR) {
		if (m->k == M_AB_EIC)
			return cfail(c, "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
					"supported.");
		if (m->k == M_AB_WILDCARD)
			return cfail(c, "wildcard match pattern must be a string");
		return cfail(c, "prefix/suffix match pattern must be a string");
	}
	if ((m->k == M_AB_PREFIX || m->k == M_AB_SUFFIX) && v->n == 0)
		return cfail(c, "Null prefix/suffix not allowed");
	if (m->k == M_AB_WILDCARD) {
		unsigned short *tok;
		size_t nt;
		char why[128];
		if (!wc_parse(v->s, v->n, &tok, &nt, why, sizeof(why)))
			return cfail(c, "%s", why);
		free(tok);
	}
	set_add(m, v->s, v->n);
	return true;
}

static bool parse_anything_but(cctx *c, const jnode *v, matcher *m, bool *extra)
{
	m->k = M_AB_STR;
	const jnode *inner = v;
	if (v->t == J_OBJ) {
		if (v->cnt == 0)
			return cfail(c, "Anything-But expression name not found");
		if (key_is(v, 0, "equals-ignore-case"))
			m->k = M_AB_EIC;
		else if (key_is(v, 0, "prefix"))
			m->k = M_AB_PREFIX;
		else if (key_is(v, 0, "suffix"))
			m->k = M_AB_SUFFIX;
		else if (key_is(v, 0, "wildcard"))
			m->k = M_AB_WILDCARD;
		else
			return cfail(c, "Unsupported anything-but pattern: %.*s", (int)v->keyn[0], v->key[0]);
		inner = v->kid[0];
		*extra = *extra || v->cnt > 1;
	}
	if (inner->t != J_ARR && inner->t != J_STR && inner->t != J_NUM)
		return cfail(c, "Value of anything-but must be an array or single string/number value.");
	if (m->k != M_AB_STR) {
		if (inner->t != J_ARR)
			return ab_set_value(c, inner, m);
		for (size_t i = 0; i < inner->cnt; i++)
			if (!ab_set_value(c, inner->kid[i], m))
				return false;
		return true;
	}
	bool has_num = false, has_str = false;
	size_t cnt = inner->t == J_ARR ? inner->cnt : 1;
	for (size_t i = 0; i < cnt; i++) {
		const jnode *x = inner->t == J_ARR ? inner->kid[i] : inner;
		double d;
		if (x->t == J_STR) {
			has_str = true;
		} else if (x->t == J_NUM) {
			if (!number_arg(c, x, &d))
				return false;
			has_num = true;
		} else {
			return cfail(c, "Inside anything but list, start|null|boolean is not supported.");
		}
		set_add(m, x->s, x->n);
	}
	if (has_num == has_str)
		return cfail(c, "Inside anything but list, either all values are number or string, mixed type is "
				"not supported");
	if (has_num)
		m->k = M_AB_NUM;
	return true;
}

/* {"prefix": {"equals-ignore-case": "x"}} and the suffix twin. */
static bool parse_eic_sub(cctx *c, const jnode *v, const char *what, matcher *m)
{
	if (v->cnt == 0)
		return cfail(c, "%s expression name not found", what);
	if (!key_is(v, 0, "equals-ignore-case"))
		return cfail(c, "Unsupported %s pattern: %.*s", what, (int)v->keyn[0], v->key[0]);
	if (v->kid[0]->t != J_STR)
		return cfail(c, "equals-ignore-case match pattern must be a string");
	if (v->cnt > 1)
		return cfail(c, "Only one key allowed in match expression");
	m->v = xmemdup(v->kid[0]->s, v->kid[0]->n);
	m->vn = v->kid[0]->n;
	return true;
}

static bool set_value_str(cctx *c, const jnode *v, matcher *m, mkind k, const char *err)
{
	if (v->t != J_STR)
		return cfail(c, "%s", err);
	m->k = k;
	m->v = xmemdup(v->s, v->n);
	m->vn = v->n;
	return true;
}

static bool match_expr(cctx *c, const jnode *o, matcher *m)
{
	if (o->cnt == 0)
		return cfail(c, "Match expression name not found");
	const jnode *v = o->kid[0];
	bool extra = o->cnt > 1;
	if (key_is(o, 0, "exact")) {
		if (!set_value_str(c, v, m, M_EXACT_STR, "exact match pattern must be a string"))
			return false;
	} else if (key_is(o, 0, "prefix") || key_is(o, 0, "suffix")) {
		bool pre = key_is(o, 0, "prefix");
		if (v->t == J_OBJ) {
			m->k = pre ? M_PREFIX_EIC : M_SUFFIX_EIC;
			if (!parse_eic_sub(c, v, pre ? "Prefix" : "Suffix", m))
				return false;
		} else if (!set_value_str(c, v, m, pre ? M_PREFIX : M_SUFFIX,
					  pre ? "prefix match pattern must be a string"
					      : "suffix match pattern must be a string")) {
			return false;
		}
	} else if (key_is(o, 0, "numeric")) {
		if (v->t != J_ARR)
			return cfail(c, "Value of numeric must be an array.");
		if (!parse_numeric(c, v, m))
			return false;
		if (extra)
			return cfail(c, "Too many elements in numeric expression");
	} else if (key_is(o, 0, "anything-but")) {
		if (!parse_anything_but(c, v, m, &extra))
			return false;
		if (extra)
			return cfail(c, "Too many elements in numeric expression");
	} else if (key_is(o, 0, "exists")) {
		if (v->t != J_TRUE && v->t != J_FALSE)
			return cfail(c, "exists match pattern must be either true or false.");
		m->k = v->t == J_TRUE ? M_EXISTS_T : M_EXISTS_F;
	} else if (key_is(o, 0, "cidr")) {
		if (v->t != J_STR)
			return cfail(c, "prefix match pattern must be a string");
		if (!parse_cidr(c, v->s, v->n, m))
			return false;
	} else if (key_is(o, 0, "equals-ignore-case")) {
		if (!set_value_str(c, v, m, M_EIC, "equals-ignore-case match pattern must be a string"))
			return false;
	} else if (key_is(o, 0, "wildcard")) {
		if (!set_value_str(c, v, m, M_WILDCARD, "wildcard match pattern must be a string"))
			return false;
		unsigned short *tok;
		size_t nt;
		char why[128];
		if (!wc_parse(v->s, v->n, &tok, &nt, why, sizeof(why)))
			return cfail(c, "%s", why);
		free(tok);
	} else {
		return cfail(c, "Unrecognized match type %.*s", (int)o->keyn[0], o->key[0]);
	}
	if (extra)
		return cfail(c, "Only one key allowed in match expression");
	return true;
}

static bool write_rules(cctx *c, const char *name, size_t namen, const jnode *a)
{
	mlist L = {xmalloc((a->cnt + 1) * sizeof(matcher)), 0};
	for (size_t i = 0; i < a->cnt; i++) {
		const jnode *v = a->kid[i];
		matcher *m = &L.m[L.n];
		memset(m, 0, sizeof(*m));
		L.n++;
		switch (v->t) {
		case J_OBJ:
			if (!match_expr(c, v, m))
				goto fail;
			break;
		case J_STR:
			m->iplen = ip_parse(v->s, v->n, m->ip_lo);
			m->k = m->iplen ? M_IP_EQ : M_EXACT_STR;
			m->v = xmemdup(v->s, v->n);
			m->vn = v->n;
			break;
		case J_NUM:
		case J_NULL:
		case J_TRUE:
		case J_FALSE:
			m->k = v->t == J_NUM ? M_EXACT_NUM : M_LIT;
			m->v = xmemdup(v->s, v->n);
			m->vn = v->n;
			break;
		default:
			cfail(c, "Match value must be String, number, true, false, or null");
			goto fail;
		}
	}
	if (L.n == 0) {
		cfail(c, "Empty arrays are not allowed");
		goto fail;
	}
	pat_ref *r = c->r;
	r->lists = xrealloc(r->lists, (r->nlists + 1) * sizeof(mlist));
	r->lists[r->nlists++] = L;
	if (c->nrules == 0)
		rules_push(&c->rules, &c->nrules, (subrule){NULL, 0});
	for (size_t i = 0; i < c->nrules; i++)
		sr_put(&c->rules[i], name, namen, r->nlists - 1);
	return true;
fail:
	for (size_t i = 0; i < L.n; i++)
		matcher_free(&L.m[i]);
	free(L.m);
	return false;
}

static bool parse_object(cctx *c, const jnode *o, const char *path, size_t pathn, bool in_or);

static bool parse_or(cctx *c, const jnode *v, const char *path, size_t pathn)
{
	subrule *cur = c->rules, *acc = NULL;
	size_t ncur = c->nrules, nacc = 0;
	bool ok = false;
	c->rules = NULL;
	c->nrules = 0;
	if (v->t != J_ARR) {
		cfail(c, "It must be an Array followed with $or.");
		goto out;
	}
	for (size_t i = 0; i < v->cnt; i++) {
		if (v->kid[i]->t != J_OBJ) {
			cfail(c, "Only JSON object is allowed in array of $or relationship.");
			goto out;
		}
		for (size_t j = 0; j < ncur; j++)
			rules_push(&c->rules, &c->nrules, sr_copy(&cur[j]));
		if (ncur == 0)
			rules_push(&c->rules, &c->nrules, (subrule){NULL, 0});
		bool okk = parse_object(c, v->kid[i], path, pathn, true);
		for (size_t j = 0; j < c->nrules; j++)
			rules_push(&acc, &nacc, c->rules[j]);
		free(c->rules);
		c->rules = NULL;
		c->nrules = 0;
		if (!okk)
			goto out;
		if (nacc > 1000) {
			cfail(c, "Too many combinations of $or (limit 1000)");
			goto out;
		}
	}
	if (v->cnt < 2) {
		cfail(c, "There must have at least 2 Objects in $or relationship.");
		goto out;
	}
	ok = true;
out:
	rules_free(cur, ncur);
	c->rules = acc;
	c->nrules = nacc;
	return ok;
}

static bool parse_object(cctx *c, const jnode *o, const char *path, size_t pathn, bool in_or)
{
	if (o->cnt == 0)
		return cfail(c, "Empty objects are not allowed");
	for (size_t i = 0; i < o->cnt; i++) {
		const jnode *v = o->kid[i];
		if (!c->legacy && key_is(o, i, "$or")) {
			if (!parse_or(c, v, path, pathn))
				return false;
			continue;
		}
		if (in_or) {
			for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
				if (key_is(o, i, reserved[k]))
					return cfail(c, "%s is Ruler reserved fieldName which cannot be used inside $or.",
						     reserved[k]);
		}
		buf name = {0};
		if (pathn) {
			buf_put(&name, path, pathn);
			buf_putc(&name, '.');
		}
		buf_put(&name, o->key[i], o->keyn[i]);
		bool ok;
		if (v->t == J_OBJ)
			ok = parse_object(c, v, name.s, name.n, in_or);
		else if (v->t == J_ARR)
			ok = write_rules(c, name.s, name.n, v);
		else
			ok = cfail(c, "\"%.*s\" must be an object or an array", (int)o->keyn[i], o->key[i]);
		free(name.s);
		if (!ok)
			return false;
	}
	return true;
}

/* Next UTF-16 code unit of s[n] at *i (with *pending holding a low surrogate), or -1 at the end. */
static long u16next(const char *s, size_t n, size_t *i, unsigned *pending)
{
	if (*pending) {
		long u = *pending;
		*pending = 0;
		return u;
	}
	if (*i >= n)
		return -1;
	uint32_t cp;
	size_t l = utf8_dec((const unsigned char *)s + *i, n - *i, &cp);
	if (!l)
		cp = (unsigned char)s[*i], l = 1;
	*i += l;
	if (cp < 0x10000)
		return cp;
	*pending = 0xDC00 + ((cp - 0x10000) & 0x3FF);
	return 0xD800 + ((cp - 0x10000) >> 10);
}

/* Compares two UTF-8 strings in Java String order (UTF-16 code units; a prefix sorts first). */
static int u16cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;
	unsigned pa = 0, pb = 0;
	for (;;) {
		long ua = u16next(a, an, &i, &pa), ub = u16next(b, bn, &j, &pb);
		if (ua != ub)
			return ua < ub ? -1 : 1;
		if (ua < 0)
			return 0;
	}
}

static int entry_cmp(const void *x, const void *y)
{
	const entry *a = x, *b = y;
	return u16cmp(a->path, a->pathn, b->path, b->pathn);
}

void pat_ref_free(pat_ref *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nlists; i++) {
		for (size_t j = 0; j < r->lists[i].n; j++)
			matcher_free(&r->lists[i].m[j]);
		free(r->lists[i].m);
	}
	free(r->lists);
	rules_free(r->rules, r->nrules);
	free(r);
}

static bool compile_tree(cctx *c, const jnode *root)
{
	if (root->t != J_OBJ)
		return cfail(c, "Filter is not an object");
	return parse_object(c, root, "", 0, false);
}

pat_ref *pat_ref_compile(const char *json, size_t len, char *reason, size_t cap)
{
	jnode *root = jparse(json, len, true);
	if (!root) {
		if (reason && cap)
			snprintf(reason, cap, "Malformed JSON");
		return NULL;
	}
	pat_ref *r = NULL;
	for (int legacy = 0; legacy < 2; legacy++) {
		cctx c = {0};
		c.r = xmalloc(sizeof(pat_ref));
		memset(c.r, 0, sizeof(pat_ref));
		c.legacy = legacy;
		bool ok = compile_tree(&c, root);
		if (ok && c.nrules == 0)
			ok = cfail(&c, "Empty objects are not allowed");
		if (ok) {
			r = c.r;
			r->rules = c.rules;
			r->nrules = c.nrules;
			for (size_t i = 0; i < r->nrules; i++)
				if (r->rules[i].n)
					qsort(r->rules[i].e, r->rules[i].n, sizeof(entry), entry_cmp);
			break;
		}
		rules_free(c.rules, c.nrules);
		pat_ref_free(c.r);
		if (legacy && reason && cap)
			snprintf(reason, cap, "%s", c.why);
	}
	jfree(root);
	return r;
}

size_t pat_ref_subrules(const pat_ref *r) { return r->nrules; }

/* ---- event flattening and matching -------------------------------------------------------------- */

typedef struct field {
	char *name;
	size_t namen;
	const jnode *v;
	int *mid, *midx; /* array membership: (array id, index) pairs */
	size_t nm;
	size_t ord;
} field;

typedef struct ev {
	field *f;
	size_t n;
	int arrays;
	int mstack_id[300], mstack_idx[300];
	size_t nmstack;
} ev;

static void flatten(ev *e, const jnode *v, buf *path);

static void add_field(ev *e, const jnode *v, const buf *path)
{
	e->f = xrealloc(e->f, (e->n + 1) * sizeof(field));
	field *f = &e->f[e->n];
	f->name = xmemdup(path->s ? path->s : "", path->n);
	f->namen = path->n;
	f->v = v;
	f->nm = e->nmstack;
	f->mid = xmalloc((f->nm + 1) * sizeof(int));
	f->midx = xmalloc((f->nm + 1) * sizeof(int));
	if (f->nm) {
		memcpy(f->mid, e->mstack_id, f->nm * sizeof(int));
		memcpy(f->midx, e->mstack_idx, f->nm * sizeof(int));
	}
	f->ord = e->n++;
}

static void flatten_array(ev *e, const jnode *a, buf *path)
{
	int id = e->arrays++;
	for (size_t i = 0; i < a->cnt; i++) {
		const jnode *x = a->kid[i];
		if (x->t == J_OBJ || x->t == J_ARR) {
			e->mstack_id[e->nmstack] = id;
			e->mstack_idx[e->nmstack++] = (int)i;
			if (x->t == J_OBJ)
				flatten(e, x, path);
			else
				flatten_array(e, x, path);
			e->nmstack--;
		} else {
			add_field(e, x, path);
		}
	}
}

static void flatten(ev *e, const jnode *o, buf *path)
{
	for (size_t i = 0; i < o->cnt; i++) {
		size_t save = path->n;
		if (path->n)
			buf_putc(path, '.');
		buf_put(path, o->key[i], o->keyn[i]);
		const jnode *v = o->kid[i];
		if (v->t == J_OBJ)
			flatten(e, v, path);
		else if (v->t == J_ARR)
			flatten_array(e, v, path);
		else
			add_field(e, v, path);
		path->n = save;
		if (path->s)
			path->s[save] = 0;
	}
}

static int field_cmp(const void *x, const void *y)
{
	const field *a = x, *b = y;
	int c = u16cmp(a->name, a->namen, b->name, b->namen);
	if (c)
		return c;
	return a->ord < b->ord ? -1 : a->ord > b->ord;
}

typedef struct mem {
	int *id, *idx;
	size_t n;
} mem;

/* Does field f agree with membership m? When out is not NULL, writes the merged membership. */
static bool mem_merge(const mem *m, const field *f, mem *out)
{
	for (size_t i = 0; i < f->nm; i++)
		for (size_t j = 0; j < m->n; j++)
			if (m->id[j] == f->mid[i] && m->idx[j] != f->midx[i])
				return false;
	if (!out)
		return true;
	out->id = xmalloc((m->n + f->nm + 1) * sizeof(int));
	out->idx = xmalloc((m->n + f->nm + 1) * sizeof(int));
	if (m->n) {
		memcpy(out->id, m->id, m->n * sizeof(int));
		memcpy(out->idx, m->idx, m->n * sizeof(int));
	}
	out->n = m->n;
	for (size_t i = 0; i < f->nm; i++) {
		bool have = false;
		for (size_t j = 0; j < m->n; j++)
			have = have || m->id[j] == f->mid[i];
		if (!have) {
			out->id[out->n] = f->mid[i];
			out->idx[out->n++] = f->midx[i];
		}
	}
	return true;
}

static bool is_str(const jnode *v) { return v->t == J_STR; }

static bool starts_with(const buf *t, const buf *p) { return p->n <= t->n && memcmp(t->s, p->s, p->n) == 0; }

static bool ends_with(const buf *t, const buf *p)
{
	return p->n <= t->n && memcmp(t->s + t->n - p->n, p->s, p->n) == 0;
}

/* Matches one positive matcher against one leaf value. */
static bool mval(const matcher *m, const jnode *v)
{
	bool r = false;
	double a, b;
	unsigned char ip[16];
	buf q = {0}, p = {0};
	switch (m->k) {
	case M_EXACT_STR:
		return is_str(v) && v->n == m->vn && memcmp(v->s, m->v, m->vn) == 0;
	case M_EXACT_NUM:
		if (v->t != J_NUM)
			return false;
		if (num_comparable(m->v, m->vn, &a))
			return num_comparable(v->s, v->n, &b) && a == b;
		return v->n == m->vn && memcmp(v->s, m->v, m->vn) == 0;
	case M_LIT:
		return (v->t == J_NULL || v->t == J_TRUE || v->t == J_FALSE) && v->n == m->vn &&
		       memcmp(v->s, m->v, m->vn) == 0;
	case M_IP_EQ:
		return is_str(v) && ip_parse(v->s, v->n, ip) == m->iplen && memcmp(ip, m->ip_lo, (size_t)m->iplen) == 0;
	case M_CIDR:
		return is_str(v) && ip_parse(v->s, v->n, ip) == m->iplen &&
		       memcmp(ip, m->ip_lo, (size_t)m->iplen) >= 0 && memcmp(ip, m->ip_hi, (size_t)m->iplen) <= 0;
	case M_RANGE:
		if (v->t != J_NUM || !num_comparable(v->s, v->n, &a))
			return false;
		if (m->has_lo && (m->lo_open ? !(a > m->lo) : !(a >= m->lo)))
			return false;
		if (m->has_hi && (m->hi_open ? !(a < m->hi) : !(a <= m->hi)))
			return false;
		return true;
	case M_EXISTS_T:
		return true;
	case M_EXISTS_F:
		return false;
	case M_AB_NUM:
		if (v->t != J_NUM || !num_comparable(v->s, v->n, &a))
			return true;
		for (size_t i = 0; i < m->nset; i++)
			if (num_comparable(m->set[i], m->setn[i], &b) && a == b)
				return false;
		return true;
	case M_AB_STR:
		if (!is_str(v))
			return true;
		for (size_t i = 0; i < m->nset; i++)
			if (m->setn[i] == v->n && memcmp(m->set[i], v->s, v->n) == 0)
				return false;
		return true;
	default:
		break;
	}
	/* The string operators work on event-ruler's quoted form. */
	bool ab = m->k >= M_AB_EIC;
	if (!is_str(v))
		return ab;
	q = quoted("\"", v->s, v->n, "\"");
	size_t nvals = ab ? m->nset : 1;
	for (size_t i = 0; i < nvals && !r; i++) {
		const char *s = ab ? m->set[i] : m->v;
		size_t sn = ab ? m->setn[i] : m->vn;
		switch (m->k) {
		case M_PREFIX:
		case M_AB_PREFIX:
			p = quoted("\"", s, sn, "");
			r = starts_with(&q, &p);
			break;
		case M_SUFFIX:
		case M_AB_SUFFIX:
			p = quoted("", s, sn, "\"");
			r = ends_with(&q, &p);
			break;
		case M_PREFIX_EIC:
			p = quoted("\"", s, sn, "");
			r = eic_match(p.s, p.n, q.s, q.n, EIC_PREFIX);
			break;
		case M_SUFFIX_EIC:
			p = quoted("", s, sn, "\"");
			r = eic_match(p.s, p.n, q.s, q.n, EIC_SUFFIX);
			break;
		case M_EIC:
		case M_AB_EIC:
			p = quoted("\"", s, sn, "\"");
			r = eic_match(p.s, p.n, q.s, q.n, EIC_FULL);
			break;
		case M_WILDCARD:
		case M_AB_WILDCARD:
			r = wc_match_str(s, sn, v->s, v->n);
			break;
		default:
			abort();
		}
		free(p.s);
		p.s = NULL;
	}
	free(q.s);
	return ab ? !r : r;
}

static bool sr_search(const pat_ref *r, const subrule *s, size_t i, const ev *e, const mem *m)
{
	if (i == s->n)
		return true;
	const entry *en = &s->e[i];
	const mlist *L = &r->lists[en->list];
	bool absent_ok = false, seen_consistent = false;
	for (size_t j = 0; j < L->n; j++)
		absent_ok = absent_ok || L->m[j].k == M_EXISTS_F;
	for (size_t fi = 0; fi < e->n; fi++) {
		const field *f = &e->f[fi];
		if (f->namen != en->pathn || memcmp(f->name, en->path, en->pathn) != 0)
			continue;
		mem m2;
		if (!mem_merge(m, f, &m2))
			continue;
		seen_consistent = true;
		bool ok = false;
		for (size_t j = 0; j < L->n && !ok; j++)
			ok = mval(&L->m[j], f->v);
		ok = ok && sr_search(r, s, i + 1, e, &m2);
		free(m2.id);
		free(m2.idx);
		if (ok)
			return true;
	}
	return absent_ok && !seen_consistent && sr_search(r, s, i + 1, e, m);
}

int pat_ref_match(const pat_ref *r, const char *event, size_t len)
{
	jnode *root = jparse(event, len, false);
	if (!root)
		return -1;
	if (root->t != J_OBJ) {
		jfree(root);
		return 0;
	}
	ev e;
	memset(&e, 0, sizeof(e));
	buf path = {0};
	flatten(&e, root, &path);
	free(path.s);
	if (e.n)
		qsort(e.f, e.n, sizeof(field), field_cmp);
	int res = 0;
	mem m0 = {NULL, NULL, 0};
	for (size_t i = 0; i < r->nrules && !res; i++)
		res = sr_search(r, &r->rules[i], 0, &e, &m0);
	for (size_t i = 0; i < e.n; i++) {
		free(e.f[i].name);
		free(e.f[i].mid);
		free(e.f[i].midx);
	}
	free(e.f);
	jfree(root);
	return res;
}
