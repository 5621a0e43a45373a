/* tests/fuzz/fuzz_node_jmin.c — libFuzzer target: node/jmin.c, the validator and minifier every
 * PutEvents Detail goes through.
 *
 * The first byte's low bit sets object_only; the rest is the JSON text. Must never crash, leak, hang or
 * hit UB. Oracles:
 *  - an accepted text comes out as exactly the input minus the whitespace outside strings (a reference
 *    stripper here), never longer;
 *  - for valid UTF-8 input without NUL bytes, json_minify and jansson (JSON_DECODE_ANY |
 *    JSON_ALLOW_NUL) agree on validity (and on "is an object" when object_only), except where they
 *    differ by design: jansson refuses numbers beyond int64/double range (jmin keeps them as written)
 *    and `\u` escapes of lone surrogates or of NUL in object keys (jmin checks an escape's form only,
 *    as Jackson reads it), and jmin refuses nesting beyond its depth bound of 512.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_int.h"

/* Writes the input without the whitespace outside strings (what a minifier must produce) to out and
 * returns its length; *max_depth = the deepest bracket nesting outside strings. */
static size_t strip(const uint8_t *in, size_t n, char *out, size_t *max_depth)
{
	size_t o = 0, d = 0;
	bool str = false, esc = false;
	*max_depth = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];
		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
		} else if (c == '"') {
			str = true;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			continue;
		} else if (c == '[' || c == '{') {
			if (++d > *max_depth)
				*max_depth = d;
		} else if ((c == ']' || c == '}') && d) {
			d--;
		}
		out[o++] = (char)c;
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool object_only = data[0] & 1;
	data++;
	size--;
	char *out = malloc(size + 1), *ref = malloc(size + 1);
	if (!out || !ref)
		abort();
	size_t out_len = 0;
	bool ok = json_minify((const char *)data, size, out, &out_len, object_only);
	size_t depth;
	size_t rl = strip(data, size, ref, &depth);
	if (ok) {
		if (out_len > size || out_len != rl || memcmp(out, ref, rl) != 0)
			abort();
	}
	/* jansson's reader ends the text at a NUL byte; jmin (rightly) calls such a text malformed */
	json_t *as_string = memchr(data, 0, size) ? NULL : json_stringn((const char *)data, size);
	if (as_string) { /* valid UTF-8 without NUL bytes */
		json_error_t err;
		json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
		bool jok = j && (!object_only || json_is_object(j));
		bool by_design = (!j && (strstr(err.text, "too big") || strstr(err.text, "overflow") ||
					 strstr(err.text, "invalid Unicode") || strstr(err.text, "NUL byte in object key"))) ||
				 depth > 512;
		if (ok != jok && !by_design)
			abort();
		json_decref(j);
		json_decref(as_string);
	}
	free(out);
	free(ref);
	return 0;
}
