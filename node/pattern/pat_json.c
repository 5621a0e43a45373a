/* node/pattern/pat_json.c — Jackson-compatible pull tokenizer for pattern text (see pat_json.h).
 *
 * Mirrors ReaderBasedJsonParser 2.x: nextToken() closes scopes first, then expects a comma, then in an
 * object parses the field name, the colon and pre-lexes the value (numbers and literals fully, strings
 * lazily); getText() decodes strings. Message texts and "[Source: (String)...; line: L, column: C]"
 * locations are Jackson's, columns counted in UTF-16 units like Java. Every error ends with the
 * location(s) Java's getLocalizedMessage() appends (pj_fail, pj_fail_iae: see pat_json.h).
 */
#include "pat_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define VALID_TOKENS "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"

void pj_init(pj *p, const char *src, size_t len, unsigned max_depth, jmp_buf *fail)
{
	/* everything but the context stack (26 KB, used only up to the depth reached) */
	memset(p, 0, offsetof(pj, ctx));
	memset((char *)p + offsetof(pj, ctx) + sizeof(p->ctx), 0, sizeof(*p) - offsetof(pj, ctx) - sizeof(p->ctx));
	p->ctx[0] = (pj_ctx){0};
	p->src = src;
	p->len = len;
	p->fail = fail;
	p->max_depth = max_depth;
	p->ctx[0].type = 'r';
	p->row = 1;
}

void pj_free(pj *p)
{
	pat_buf_free(&p->name);
	pat_buf_free(&p->text);
}

_Noreturn void pj_oom(pj *p)
{
	p->fail_code = BB_ENOMEM;
	snprintf(p->err, sizeof(p->err), "out of memory");
	longjmp(*p->fail, 1);
}

/* Number of UTF-16 units in src[a..b). */
static size_t u16len(const char *s, size_t a, size_t b)
{
	size_t n = 0;
	for (size_t i = a; i < b; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xC0) != 0x80)
			n += (c >= 0xF0) ? 2 : 1;
	}
	return n;
}

/* Writes Jackson's "[Source: (String)"..."; line: L, column: C]". */
static void location_at(pj *p, size_t line, size_t col, char *out, size_t cap)
{
	/* Jackson shows at most 500 chars of the source */
	size_t chars = u16len(p->src, 0, p->len), shown = p->len, trunc = 0;
	if (chars > 500) {
		size_t c = 0, i = 0;
		for (; i < p->len && c < 500; i++) {
			unsigned char b = (unsigned char)p->src[i];
			if ((b & 0xC0) != 0x80)
				c++;
		}
		while (i < p->len && ((unsigned char)p->src[i] & 0xC0) == 0x80)
			i++;
		shown = i;
		trunc = chars - 500;
	}
	char tr[48] = "";
	if (trunc)
		snprintf(tr, sizeof(tr), "[truncated %zu chars]", trunc);
	snprintf(out, cap, "[Source: (String)\"%.*s\"%s; line: %zu, column: %zu]", (int)shown, p->src, tr, line, col);
}

/* The location of byte offset off (a scope's start marker; root: column 0). */
static void location(pj *p, size_t off, bool root, char *out, size_t cap)
{
	size_t line = 1, ls = 0;
	for (size_t i = 0; i < off && i < p->len; i++) {
		if (p->src[i] == '\n') {
			line++;
			ls = i + 1;
		} else if (p->src[i] == '\r') {
			if (i + 1 < p->len && p->src[i + 1] == '\n')
				i++;
			line++;
			ls = i + 1;
		}
	}
	location_at(p, line, root ? 0 : u16len(p->src, ls, off) + 1, out, cap);
}

/* Raises p->err (err_base bytes of message) with `locs` copies of the parser's current location
 * (Jackson's getCurrentLocation: the row it tracks, the column of the next byte to read). */
static _Noreturn void raise_with(pj *p, int locs)
{
	p->err_base = strlen(p->err);
	char loc[PAT_REASON_MAX / 2];
	location_at(p, p->row, u16len(p->src, p->row_start, p->pos) + 1 + p->loc_bump, loc, sizeof(loc));
	for (int i = 0; i < locs; i++) {
		size_t n = strlen(p->err);
		snprintf(p->err + n, sizeof(p->err) - n, "\n at %s", loc);
	}
	p->fail_code = BB_EPATTERN;
	longjmp(*p->fail, 1);
}

_Noreturn void pj_fail(pj *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	raise_with(p, 1 + p->catch_io);
}

_Noreturn void pj_fail_iae(pj *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	raise_with(p, p->catch_io || p->catch_iae ? 1 : 0);
}

/* An error about the character at off, which Jackson reports having read it (one UTF-16 unit). */
static void at_char(pj *p, size_t off)
{
	p->pos = off;
	p->loc_bump = 1;
}

/* Jackson's _getCharDesc for the character at byte offset off. */
static void char_desc(pj *p, size_t off, char *out, size_t cap)
{
	uint32_t cp;
	size_t l = pat_utf8_decode((const unsigned char *)p->src + off, p->len - off, &cp);
	cp &= 0x7fffffff;
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		snprintf(out, cap, "(CTRL-CHAR, code %u)", cp);
	else if (cp > 255)
		snprintf(out, cap, "'%.*s' (code %u / 0x%x)", (int)l, p->src + off, cp, cp);
	else
		snprintf(out, cap, "'%.*s' (code %u)", (int)l, p->src + off, cp);
}

static _Noreturn void unexpected_char(pj *p, size_t off, const char *comment)
{
	char d[64];
	char_desc(p, off, d, sizeof(d));
	at_char(p, off);
	pj_fail(p, "Unexpected character (%s): %s", d, comment);
}

static _Noreturn void unexpected_num_char(pj *p, size_t off, const char *comment)
{
	char d[64];
	char_desc(p, off, d, sizeof(d));
	at_char(p, off);
	pj_fail(p, "Unexpected character (%s) in numeric value: %s", d, comment);
}

static const char *type_desc(char t)
{
	return t == 'a' ? "Array" : t == 'o' ? "Object" : "root";
}

static _Noreturn void eof_in_ctx(pj *p)
{
	pj_ctx *c = &p->ctx[p->depth];
	char loc[PAT_REASON_MAX / 2];
	location(p, c->start, c->type == 'r', loc, sizeof(loc));
	pj_fail(p, "Unexpected end-of-input: expected close marker for %s (start marker at %s)", type_desc(c->type), loc);
}

static bool ident_part(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
	       c >= 0x80 || c <= 8 || (c >= 0x0e && c <= 0x1b) || c == 0x7f;
}

static bool ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c >= 0x80;
}

/* _reportInvalidToken: the matched part plus following identifier characters. */
static _Noreturn void invalid_token(pj *p, size_t start, size_t pos, const char *expect)
{
	while (pos < p->len && ident_part((unsigned char)p->src[pos]) && pos - start < 256)
		pos++;
	p->pos = pos; /* Jackson has read the token */
	pj_fail(p, "Unrecognized token '%.*s': was expecting %s", (int)(pos - start), p->src + start, expect);
}

/* Skips whitespace; returns the offset of the next char or len at EOF. Rejects illegal spaces. */
static size_t skip_ws(pj *p)
{
	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->src[p->pos];
		if (c == ' ' || c == '\t') {
			p->pos++;
		} else if (c == '\n') {
			p->pos++;
			p->row++;
			p->row_start = p->pos;
		} else if (c == '\r') {
			p->pos++;
			if (p->pos < p->len && p->src[p->pos] == '\n')
				p->pos++;
			p->row++;
			p->row_start = p->pos;
		} else if (c == '/') {
			unexpected_char(p, p->pos, "maybe a (non-standard) comment? (not recognized as one since Feature "
						   "'ALLOW_COMMENTS' not enabled for parser)");
		} else if (c < 0x20) {
			char d[64];
			char_desc(p, p->pos, d, sizeof(d));
			at_char(p, p->pos);
			pj_fail(p, "Illegal character (%s): only regular white space (\\r, \\n, \\t) is allowed between tokens",
				d);
		} else {
			break;
		}
	}
	return p->pos;
}

/* Decodes one escape after a backslash at p->pos (pointing after '\'); appends to out if non-NULL. */
static void decode_escape(pj *p, pat_buf *out)
{
	if (p->pos >= p->len)
		pj_fail(p, "Unexpected end-of-input in character escape sequence");
	char c = p->src[p->pos++];
	char r;
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
		uint32_t v = 0;
		for (int i = 0; i < 4; i++) {
			if (p->pos >= p->len)
				pj_fail(p, "Unexpected end-of-input in character escape sequence");
			unsigned char h = (unsigned char)p->src[p->pos];
			int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
				: (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
			if (d < 0)
				unexpected_char(p, p->pos, "expected a hex-digit for character escape sequence");
			p->pos++;
			v = (v << 4) | (uint32_t)d;
		}
		if (!out)
			return;
		/* surrogate pair? (decoded as in Java: a pair becomes one code point, a lone one '?') */
		if (v >= 0xD800 && v <= 0xDBFF && p->pos + 5 < p->len && p->src[p->pos] == '\\' && p->src[p->pos + 1] == 'u') {
			uint32_t w = 0;
			bool ok = true;
			for (int i = 0; i < 4; i++) {
				unsigned char h = (unsigned char)p->src[p->pos + 2 + i];
				int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
					: (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
				if (d < 0) {
					ok = false;
					break;
				}
				w = (w << 4) | (uint32_t)d;
			}
			if (ok && w >= 0xDC00 && w <= 0xDFFF) {
				p->pos += 6;
				v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00);
			}
		}
		char u[4];
		size_t n;
		if (v >= 0xD800 && v <= 0xDFFF) {
			u[0] = '?';
			n = 1;
		} else if (v < 0x80) {
			u[0] = (char)v;
			n = 1;
		} else if (v < 0x800) {
			u[0] = (char)(0xC0 | (v >> 6));
			u[1] = (char)(0x80 | (v & 0x3F));
			n = 2;
		} else if (v < 0x10000) {
			u[0] = (char)(0xE0 | (v >> 12));
			u[1] = (char)(0x80 | ((v >> 6) & 0x3F));
			u[2] = (char)(0x80 | (v & 0x3F));
			n = 3;
		} else {
			u[0] = (char)(0xF0 | (v >> 18));
			u[1] = (char)(0x80 | ((v >> 12) & 0x3F));
			u[2] = (char)(0x80 | ((v >> 6) & 0x3F));
			u[3] = (char)(0x80 | (v & 0x3F));
			n = 4;
		}
		if (pat_buf_put(out, u, n))
			pj_oom(p);
		return;
	}
	default: {
		char d[64];
		char_desc(p, p->pos - 1, d, sizeof(d));
		pj_fail(p, "Unrecognized character escape %s", d);
	}
	}
	if (out && pat_buf_putc(out, r))
		pj_oom(p);
}

/* Reads string content from p->pos (after the opening quote) to the closing quote. */
static void read_string(pj *p, pat_buf *out, bool is_name)
{
	if (out)
		out->len = 0;
	for (;;) {
		if (p->pos >= p->len) {
			if (is_name)
				pj_fail(p, "Unexpected end-of-input: was expecting closing '\"' for name");
			pj_fail(p, "Unexpected end-of-input: was expecting closing quote for a string value");
		}
		unsigned char c = (unsigned char)p->src[p->pos];
		if (c == '"') {
			p->pos++;
			return;
		}
		if (c == '\\') {
			p->pos++;
			decode_escape(p, out);
			continue;
		}
		if (c < 0x20) {
			char d[64];
			char_desc(p, p->pos, d, sizeof(d));
			at_char(p, p->pos);
			pj_fail(p, "Illegal unquoted character (%s): has to be escaped using backslash to be included in %s", d,
				is_name ? "name" : "string value");
		}
		size_t s = p->pos;
		while (p->pos < p->len && p->src[p->pos] != '"' && p->src[p->pos] != '\\' &&
		       (unsigned char)p->src[p->pos] >= 0x20)
			p->pos++;
		if (out && pat_buf_put(out, p->src + s, p->pos - s))
			pj_oom(p);
	}
}

/* Lexes a number starting at p->pos; returns PJ_INT or PJ_FLOAT. */
static pj_tok lex_number(pj *p)
{
	size_t s = p->pos;
	bool fl = false;
	if (p->src[p->pos] == '-') {
		p->pos++;
		if (p->pos >= p->len)
			pj_fail(p, "Unexpected end-of-input in a Number value");
		unsigned char c = (unsigned char)p->src[p->pos];
		if (c < '0' || c > '9')
			unexpected_num_char(p, p->pos, "expected digit (0-9) to follow minus sign, for valid numeric value");
	}
	if (p->src[p->pos] == '0' && p->pos + 1 < p->len && p->src[p->pos + 1] >= '0' && p->src[p->pos + 1] <= '9')
		pj_fail(p, "Invalid numeric value: Leading zeroes not allowed");
	while (p->pos < p->len && p->src[p->pos] >= '0' && p->src[p->pos] <= '9')
		p->pos++;
	if (p->pos < p->len && p->src[p->pos] == '.') {
		fl = true;
		p->pos++;
		size_t d = p->pos;
		while (p->pos < p->len && p->src[p->pos] >= '0' && p->src[p->pos] <= '9')
			p->pos++;
		if (p->pos == d)
			unexpected_num_char(p, p->pos < p->len ? p->pos : p->pos - 1, "Decimal point not followed by a digit");
	}
	if (p->pos < p->len && (p->src[p->pos] == 'e' || p->src[p->pos] == 'E')) {
		fl = true;
		p->pos++;
		if (p->pos < p->len && (p->src[p->pos] == '+' || p->src[p->pos] == '-'))
			p->pos++;
		size_t d = p->pos;
		while (p->pos < p->len && p->src[p->pos] >= '0' && p->src[p->pos] <= '9')
			p->pos++;
		if (p->pos == d)
			unexpected_num_char(p, p->pos < p->len ? p->pos : p->pos - 1,
					    "Exponent indicator not followed by a digit");
	}
	if (p->pos - s > 1000)
		pj_fail(p, "Number value length (%zu) exceeds the maximum allowed (1000, from "
			   "`StreamReadConstraints.getMaxNumberLength()`)", p->pos - s);
	p->num_start = s;
	p->num_len = p->pos - s;
	return fl ? PJ_FLOAT : PJ_INT;
}

static void match_literal(pj *p, const char *lit)
{
	size_t s = p->pos, n = strlen(lit);
	for (size_t i = 1; i < n; i++) {
		if (s + i >= p->len || p->src[s + i] != lit[i])
			invalid_token(p, s, s + i, VALID_TOKENS);
	}
	p->pos = s + n;
	if (p->pos < p->len) {
		unsigned char c = (unsigned char)p->src[p->pos];
		if (!(c < '0' || c == ']' || c == '}') && ident_part(c))
			invalid_token(p, s, p->pos, VALID_TOKENS);
	}
}

/* Lexes a value starting at the char at p->pos (not '"', '[', '{'). */
static pj_tok lex_scalar(pj *p)
{
	unsigned char c = (unsigned char)p->src[p->pos];
	if (c == '-' || (c >= '0' && c <= '9'))
		return lex_number(p);
	if (c == 't') {
		match_literal(p, "true");
		return PJ_TRUE;
	}
	if (c == 'f') {
		match_literal(p, "false");
		return PJ_FALSE;
	}
	if (c == 'n') {
		match_literal(p, "null");
		return PJ_NULL;
	}
	/* _handleOddValue */
	if (c == 'N' || c == 'I') {
		const char *lit = c == 'N' ? "NaN" : "Infinity";
		match_literal(p, lit);
		pj_fail(p, "Non-standard token '%s': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow", lit);
	}
	if (c == '+') {
		unexpected_num_char(p, p->pos, "JSON spec does not allow numbers to have plus signs: enable "
					       "`JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow");
	}
	if (ident_start(c))
		invalid_token(p, p->pos, p->pos + 1, VALID_TOKENS);
	unexpected_char(p, p->pos, "expected a valid value " VALID_TOKENS);
}

static void push_ctx(pj *p, char type, size_t start)
{
	if (p->depth + 1 >= PJ_MAX_CTX || (unsigned)p->depth + 1 > p->max_depth)
		pj_fail(p, "Pattern nesting depth exceeds the maximum allowed (%u)", p->max_depth);
	p->depth++;
	p->ctx[p->depth].type = type;
	p->ctx[p->depth].expect_comma = false;
	p->ctx[p->depth].start = start;
}

static void mismatched(pj *p, char act, char exp)
{
	pj_ctx *c = &p->ctx[p->depth];
	char loc[PAT_REASON_MAX / 2];
	location(p, c->start, c->type == 'r', loc, sizeof(loc));
	at_char(p, p->tok_start);
	pj_fail(p, "Unexpected close marker '%c': expected '%c' (for %s starting at %s)", act, exp, type_desc(c->type),
		loc);
}

static pj_tok value_token(pj *p, pj_tok t, size_t start)
{
	if (t == PJ_START_ARRAY)
		push_ctx(p, 'a', start);
	else if (t == PJ_START_OBJECT)
		push_ctx(p, 'o', start);
	return t;
}

pj_tok pj_next(pj *p)
{
	if (p->cur == PJ_FIELD_NAME) {
		pj_tok t = p->next_after_name;
		p->tok_start = p->next_start;
		p->cur = value_token(p, t, p->next_start);
		return p->cur;
	}
	if (p->str_incomplete) {
		p->str_incomplete = false;
		p->pos = p->str_start + 1;
		read_string(p, NULL, false);
	}
	size_t i = skip_ws(p);
	if (i >= p->len) {
		if (p->ctx[p->depth].type != 'r')
			eof_in_ctx(p);
		p->cur = PJ_NONE;
		return PJ_NONE;
	}
	char c = p->src[i];
	p->tok_start = i;
	if (c == ']' || c == '}') {
		pj_ctx *x = &p->ctx[p->depth];
		if (c == ']' && x->type != 'a')
			mismatched(p, ']', '}');
		if (c == '}' && x->type != 'o')
			mismatched(p, '}', ']');
		p->pos++;
		p->depth--;
		p->ctx[p->depth].expect_comma = true;
		p->cur = c == ']' ? PJ_END_ARRAY : PJ_END_OBJECT;
		return p->cur;
	}
	pj_ctx *x = &p->ctx[p->depth];
	if (x->expect_comma) {
		if (c != ',') {
			char m[64];
			snprintf(m, sizeof(m), "was expecting comma to separate %s entries", type_desc(x->type));
			unexpected_char(p, i, m);
		}
		p->pos++;
		i = skip_ws(p);
		if (i >= p->len)
			pj_fail(p, "Unexpected end-of-input within/between %s entries", type_desc(x->type));
		c = p->src[i];
		p->tok_start = i;
	}
	x->expect_comma = true;
	if (x->type == 'o') {
		if (c != '"')
			unexpected_char(p, i, "was expecting double-quote to start field name");
		p->pos = i + 1;
		read_string(p, &p->name, true);
		size_t j = skip_ws(p);
		if (j >= p->len)
			pj_fail(p, "Unexpected end-of-input within/between Object entries");
		if (p->src[j] != ':')
			unexpected_char(p, j, "was expecting a colon to separate field name and value");
		p->pos = j + 1;
		j = skip_ws(p);
		if (j >= p->len)
			pj_fail(p, "Unexpected end-of-input within/between Object entries");
		p->next_start = j;
		char v = p->src[j];
		if (v == '"') {
			p->str_incomplete = true;
			p->str_start = j;
			p->pos = j + 1;
			p->next_after_name = PJ_STRING;
		} else if (v == '[') {
			p->pos = j + 1;
			p->next_after_name = PJ_START_ARRAY;
		} else if (v == '{') {
			p->pos = j + 1;
			p->next_after_name = PJ_START_OBJECT;
		} else {
			p->pos = j;
			p->next_after_name = lex_scalar(p);
		}
		p->cur = PJ_FIELD_NAME;
		return p->cur;
	}
	pj_tok t;
	if (c == '"') {
		p->str_incomplete = true;
		p->str_start = i;
		p->pos = i + 1;
		t = PJ_STRING;
	} else if (c == '[') {
		p->pos = i + 1;
		t = PJ_START_ARRAY;
	} else if (c == '{') {
		p->pos = i + 1;
		t = PJ_START_OBJECT;
	} else {
		p->pos = i;
		t = lex_scalar(p);
	}
	p->cur = value_token(p, t, i);
	return p->cur;
}

void pj_text(pj *p, const char **s, size_t *n)
{
	switch (p->cur) {
	case PJ_START_OBJECT: *s = "{"; *n = 1; return;
	case PJ_END_OBJECT: *s = "}"; *n = 1; return;
	case PJ_START_ARRAY: *s = "["; *n = 1; return;
	case PJ_END_ARRAY: *s = "]"; *n = 1; return;
	case PJ_FIELD_NAME: *s = p->name.p ? p->name.p : ""; *n = p->name.len; return;
	case PJ_TRUE: *s = "true"; *n = 4; return;
	case PJ_FALSE: *s = "false"; *n = 5; return;
	case PJ_NULL: *s = "null"; *n = 4; return;
	case PJ_INT:
	case PJ_FLOAT: *s = p->src + p->num_start; *n = p->num_len; return;
	case PJ_STRING:
		if (p->str_incomplete) {
			size_t save = p->pos;
			p->pos = p->str_start + 1;
			read_string(p, &p->text, false);
			p->str_incomplete = false;
			(void)save;
		}
		*s = p->text.p ? p->text.p : "";
		*n = p->text.len;
		return;
	default: *s = ""; *n = 0; return;
	}
}
