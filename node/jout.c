/* node/jout.c — writing JSON answers directly, byte for byte as jansson's compact json_dumps would.
 *
 * Hot answers (ReceiveMessage with ten 1 KiB bodies, say) spent more time in json_pack/json_dumps
 * than in the work they report. These helpers append to a growable buffer; strings are escaped like
 * jansson's dump_string without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH: '"' and '\\' with a
 * backslash, \b \f \n \r \t by name, other bytes below 0x20 as \u00XX (uppercase hex), everything else
 * (UTF-8 included) as is. tests/unit/test_node_jout.c compares them with jansson.
 *
 * Memory: a failed allocation sets oom and makes every later call a no-op; jo_finish then frees the
 * buffer and returns NULL.
 */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

static bool need(jout *o, size_t n)
{
	if (o->oom)
		return false;
	if (o->len + n + 1 <= o->cap)
		return true;
	size_t nc = o->cap ? o->cap : 256;
	while (nc < o->len + n + 1)
		nc *= 2;
	char *np = realloc(o->p, nc);
	if (!np) {
		o->oom = true;
		return false;
	}
	o->p = np;
	o->cap = nc;
	return true;
}

void jo_raw(jout *o, const char *s, size_t n)
{
	if (!need(o, n))
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

void jo_lit(jout *o, const char *s) { jo_raw(o, s, strlen(s)); }

void jo_str(jout *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	/* worst case: every byte becomes \u00XX */
	if (!need(o, 6 * n + 2))
		return;
	char *w = o->p + o->len;
	*w++ = '"';
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		const unsigned char *q = p;
		while (q < end && *q >= 0x20 && *q != '"' && *q != '\\')
			q++;
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		if (q >= end)
			break;
		unsigned char c = *q;
		*w++ = '\\';
		switch (c) {
		case '"': *w++ = '"'; break;
		case '\\': *w++ = '\\'; break;
		case '\b': *w++ = 'b'; break;
		case '\f': *w++ = 'f'; break;
		case '\n': *w++ = 'n'; break;
		case '\r': *w++ = 'r'; break;
		case '\t': *w++ = 't'; break;
		default:
			*w++ = 'u';
			*w++ = '0';
			*w++ = '0';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		}
		p = q + 1;
	}
	*w++ = '"';
	o->len = (size_t)(w - o->p);
}

void jo_cstr(jout *o, const char *s) { jo_str(o, s, strlen(s)); }

char *jo_finish(jout *o)
{
	if (!need(o, 0)) {
		free(o->p);
		o->p = NULL;
		return NULL;
	}
	o->p[o->len] = '\0';
	char *r = o->p;
	o->p = NULL;
	o->len = o->cap = 0;
	return r;
}
