/* node/xform/xform_path.c — the JSONPath subset of InputPath and InputPathsMap.
 *
 * Grammar (docs/transform.md "Paths"): `$` followed by steps
 *   .name          a member; name is one or more bytes other than . [ ] * ' " ( ) \ ? space and
 *                  control characters (letters, digits, - _ / : @ $ and UTF-8 are all fine)
 *   ['name'] ["name"]   a member in bracket notation (any text but the quote and controls)
 *   [n] [-n]       an array element, from the start or (negative) from the end
 *   .* [*]         every member / element: the result becomes an array of all matches
 * Anything else (.., filters, slices, unions, functions, whitespace, a trailing .) is invalid.
 *
 * Evaluation walks the flat node array of xform_json.c. An object lookup takes the last member of
 * that name (duplicate keys: last wins, as the pattern engine does). Each step only visits children
 * of the current nodes, so a path costs at most one visit per event node.
 */
#include <stdlib.h>
#include <string.h>

#include "xform_int.h"

static bool name_byte(unsigned char c)
{
	if (c <= 0x20 || c == 0x7F)
		return false;
	return !strchr(".[]*'\"()\\?", c);
}

static bool add_step(xpath *p, size_t *cap, xpath_step st)
{
	if (p->nsteps == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		xpath_step *s = realloc(p->steps, nc * sizeof *s);
		if (!s)
			return false;
		p->steps = s;
		*cap = nc;
	}
	p->steps[p->nsteps++] = st;
	return true;
}

bb_err xpath_parse(const char *s, size_t n, xpath *p)
{
	memset(p, 0, sizeof *p);
	if (n == 0 || s[0] != '$' || n >= UINT32_MAX)
		return BB_EINVAL;
	p->text = malloc(n + 1);
	if (!p->text)
		return BB_ENOMEM;
	memcpy(p->text, s, n);
	p->text[n] = '\0';
	size_t cap = 0, i = 1;
	bb_err err = BB_EINVAL;
	while (i < n) {
		xpath_step st = {0};
		if (s[i] == '.') {
			i++;
			if (i < n && s[i] == '*') {
				st.kind = XP_WILD;
				i++;
			} else {
				size_t from = i;
				while (i < n && name_byte((unsigned char)s[i]))
					i++;
				if (i == from)
					goto free_path;
				st.kind = XP_NAME;
				st.off = (uint32_t)from;
				st.len = (uint32_t)(i - from);
			}
		} else if (s[i] == '[') {
			i++;
			if (i >= n)
				goto free_path;
			if (s[i] == '*') {
				st.kind = XP_WILD;
				i++;
			} else if (s[i] == '\'' || s[i] == '"') {
				char q = s[i++];
				size_t from = i;
				while (i < n && s[i] != q) {
					if ((unsigned char)s[i] < 0x20)
						goto free_path;
					i++;
				}
				if (i >= n)
					goto free_path;
				st.kind = XP_NAME;
				st.off = (uint32_t)from;
				st.len = (uint32_t)(i - from);
				i++; /* the closing quote */
			} else {
				bool neg = s[i] == '-';
				if (neg)
					i++;
				size_t from = i;
				int64_t v = 0;
				while (i < n && s[i] >= '0' && s[i] <= '9') {
					v = v * 10 + (s[i] - '0');
					if (v > INT32_MAX)
						goto free_path;
					i++;
				}
				if (i == from || (neg && v == 0))
					goto free_path;
				st.kind = XP_INDEX;
				st.index = neg ? -(int32_t)v : (int32_t)v;
			}
			if (i >= n || s[i] != ']')
				goto free_path;
			i++;
		} else
			goto free_path;
		if (st.kind == XP_WILD)
			p->wild = true;
		if (!add_step(p, &cap, st)) {
			err = BB_ENOMEM;
			goto free_path;
		}
	}
	return BB_OK;
free_path:
	xpath_free(p);
	return err;
}

void xpath_free(xpath *p)
{
	free(p->text);
	free(p->steps);
	memset(p, 0, sizeof *p);
}

/* The child of node i selected by a NAME or INDEX step, or -1. */
static long child(const xpath *p, const xpath_step *st, const xj_doc *d, size_t i)
{
	const xj_node *nd = &d->nodes[i];
	long found = -1;
	if (st->kind == XP_NAME) {
		if (nd->type != XJ_OBJ)
			return -1;
		for (size_t c = i + 1; c < nd->next; c = d->nodes[c].next)
			if (xj_key_eq(d, &d->nodes[c], p->text + st->off, st->len))
				found = (long)c; /* last wins */
		return found;
	}
	if (nd->type != XJ_ARR)
		return -1;
	int64_t want = st->index;
	if (want < 0) {
		int64_t count = 0;
		for (size_t c = i + 1; c < nd->next; c = d->nodes[c].next)
			count++;
		want += count;
		if (want < 0)
			return -1;
	}
	int64_t k = 0;
	for (size_t c = i + 1; c < nd->next; c = d->nodes[c].next, k++)
		if (k == want)
			return (long)c;
	return -1;
}

long xpath_find(const xpath *p, const xj_doc *d)
{
	if (d->n == 0)
		return -1;
	long cur = 0;
	for (size_t s = 0; s < p->nsteps && cur >= 0; s++)
		cur = child(p, &p->steps[s], d, (size_t)cur);
	return cur;
}

void xpath_collect(const xpath *p, const xj_doc *d, xbuf *out)
{
	uint32_t *cur = malloc(sizeof *cur * (d->n ? d->n : 1));
	uint32_t *nxt = malloc(sizeof *nxt * (d->n ? d->n : 1));
	size_t ncur = 0;
	if (!cur || !nxt) {
		out->err = out->err ? out->err : BB_ENOMEM;
		goto free_frontiers;
	}
	if (d->n)
		cur[ncur++] = 0;
	for (size_t s = 0; s < p->nsteps && ncur; s++) {
		const xpath_step *st = &p->steps[s];
		size_t nn = 0;
		for (size_t k = 0; k < ncur; k++) {
			size_t i = cur[k];
			const xj_node *nd = &d->nodes[i];
			if (st->kind == XP_WILD) {
				if (nd->type == XJ_OBJ || nd->type == XJ_ARR)
					for (size_t c = i + 1; c < nd->next; c = d->nodes[c].next)
						nxt[nn++] = (uint32_t)c;
			} else {
				long c = child(p, st, d, i);
				if (c >= 0)
					nxt[nn++] = (uint32_t)c;
			}
		}
		uint32_t *t = cur;
		cur = nxt;
		nxt = t;
		ncur = nn;
	}
	xbuf_addc(out, '[');
	for (size_t k = 0; k < ncur; k++) {
		if (k)
			xbuf_addc(out, ',');
		xj_emit(d, cur[k], out, false);
	}
	xbuf_addc(out, ']');
free_frontiers:
	free(cur);
	free(nxt);
}
