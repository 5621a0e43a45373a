/* node/jmin.c — validate and minify JSON text in one pass (PutEvents Detail).
 *
 * jansson is not used here on purpose: it rejects integers beyond int64 and rewrites numbers, while
 * an event's detail must reach targets as the publisher wrote it (minus insignificant whitespace),
 * numbers and key order included. The grammar is RFC 8259; nesting is bounded (JMIN_MAX_DEPTH) so a
 * hostile detail cannot exhaust the stack (the parser is iterative anyway). The input is assumed to be
 * UTF-8 (it comes out of a jansson-decoded string). A `\u` escape is checked for its form (four hex
 * digits) only, as Jackson — AWS's reader — does: an escaped lone surrogate passes through as written.
 */
#include <stdint.h>
#include <string.h>

#include "node_int.h"

#define JMIN_MAX_DEPTH 512

typedef struct jm {
	const char *p, *end;
	char *o;
} jm;

static void ws(jm *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool digit(char c) { return c >= '0' && c <= '9'; }

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether none of the 8 bytes at p is '"', '\\' or below 0x20 (SWAR zero-byte tests; bytes >= 0x80 are
 * fine here: the input is valid UTF-8 already). */
static bool plain8(const char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\'), lo = w & ~HIGHS;
	/* below 0x20: a byte whose low 7 bits are < 0x20 and whose high bit is clear */
	uint64_t ctl = ((lo - ONES * 0x20) & ~lo & HIGHS) & ~w;
	return (ctl | ((q - ONES) & ~q & HIGHS) | ((b - ONES) & ~b & HIGHS)) == 0;
}

static bool string(jm *j)
{
	const char *s = j->p++;
	while (j->p < j->end) {
		while (j->end - j->p >= 8 && plain8(j->p))
			j->p += 8;
		if (j->p >= j->end)
			break;
		unsigned char c = (unsigned char)*j->p;
		if (c == '"') {
			j->p++;
			size_t n = (size_t)(j->p - s);
			memcpy(j->o, s, n);
			j->o += n;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->p + 1 >= j->end)
				return false;
			char e = j->p[1];
			if (e == 'u') {
				if (j->end - j->p < 6 || !hex(j->p[2]) || !hex(j->p[3]) || !hex(j->p[4]) || !hex(j->p[5]))
					return false;
				j->p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == '\0')
				return false;
			j->p += 2;
			continue;
		}
		j->p++;
	}
	return false;
}

static bool number(jm *j)
{
	const char *s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return false;
	if (*j->p == '0')
		j->p++;
	else if (digit(*j->p))
		while (j->p < j->end && digit(*j->p))
			j->p++;
	else
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || !digit(*j->p))
			return false;
		while (j->p < j->end && digit(*j->p))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !digit(*j->p))
			return false;
		while (j->p < j->end && digit(*j->p))
			j->p++;
	}
	memcpy(j->o, s, (size_t)(j->p - s));
	j->o += j->p - s;
	return true;
}

static bool literal(jm *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return false;
	memcpy(j->o, lit, n);
	j->o += n;
	j->p += n;
	return true;
}

static bool scalar(jm *j)
{
	switch (*j->p) {
	case '"':
		return string(j);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	default:
		return number(j);
	}
}

bool json_minify(const char *in, size_t len, char *out, size_t *out_len, bool object_only)
{
	jm j = {in, in + len, out};
	char stack[JMIN_MAX_DEPTH]; /* '{' or '[' */
	int depth = 0;
	ws(&j);
	if (j.p >= j.end || (object_only && *j.p != '{'))
		return false;
	/* state: expecting a value (after '[', ',' in array, ':' in object) or a key/close. */
	for (;;) {
		ws(&j);
		if (j.p >= j.end)
			return false;
		char c = *j.p;
		if (c == '{' || c == '[') {
			if (depth == JMIN_MAX_DEPTH)
				return false;
			stack[depth++] = c;
			*j.o++ = c;
			j.p++;
			ws(&j);
			if (j.p < j.end && *j.p == (c == '{' ? '}' : ']')) {
				*j.o++ = *j.p++;
				depth--;
				goto after_value;
			}
			if (c == '{') {
				if (j.p >= j.end || *j.p != '"' || !string(&j))
					return false;
				ws(&j);
				if (j.p >= j.end || *j.p != ':')
					return false;
				*j.o++ = *j.p++;
			}
			continue;
		}
		if (!scalar(&j))
			return false;
	after_value:
		ws(&j);
		if (depth == 0)
			break;
		if (j.p >= j.end)
			return false;
		if (*j.p == ',') {
			*j.o++ = *j.p++;
			if (stack[depth - 1] == '{') {
				ws(&j);
				if (j.p >= j.end || *j.p != '"' || !string(&j))
					return false;
				ws(&j);
				if (j.p >= j.end || *j.p != ':')
					return false;
				*j.o++ = *j.p++;
			}
			continue;
		}
		if (*j.p == (stack[depth - 1] == '{' ? '}' : ']')) {
			*j.o++ = *j.p++;
			depth--;
			goto after_value;
		}
		return false;
	}
	if (j.p != j.end)
		return false;
	*out_len = (size_t)(j.o - out);
	return true;
}
