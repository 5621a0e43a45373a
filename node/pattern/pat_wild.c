/* node/pattern/pat_wild.c — wildcard patterns: validation with event-ruler's messages, matching, and
 * the complexity measure AWS uses to reject pathological patterns.
 *
 * Syntax (ER WildcardParser): '*' matches any byte sequence (also empty); "\*" is a literal '*',
 * "\\" a literal '\'; any other backslash is "Invalid escape character at pos N"; "**" is
 * "Consecutive wildcard characters at pos N". ER parses '"' + text + '"', so N is the UTF-8 byte
 * offset in the text plus one.
 * Matching: the literal segments between stars are decoded once; the first must be a prefix, the last
 * a suffix, the middle ones are found left to right with memmem (greedy leftmost is exact for globs
 * with only '*'), so the cost is linear in the value.
 * Complexity: the largest number of wildcard-pattern prefixes that one input can match at once
 * (ER MachineComplexityEvaluator's definition), found by a breadth-first walk over the subsets of
 * pattern positions reachable on the bytes that occur in the patterns plus one "other" byte; the walk
 * stops as soon as the limit is reached or after 20000 subsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pat_int.h"

bool pat_wildcard_check(const char *w, size_t wn, char *reason, size_t cap)
{
	for (size_t i = 0; i < wn; i++) {
		if (w[i] == '*') {
			if (i + 1 < wn && w[i + 1] == '*') {
				snprintf(reason, cap, "Consecutive wildcard characters at pos %zu", i + 1);
				return false;
			}
		} else if (w[i] == '\\') {
			if (i + 1 < wn && (w[i + 1] == '*' || w[i + 1] == '\\')) {
				i++;
				continue;
			}
			snprintf(reason, cap, "Invalid escape character at pos %zu", i + 1);
			return false;
		}
	}
	return true;
}

/* Decodes w into tokens: bytes, with star positions marked in star[] (star[i] true = token i is '*').
 * Returns the token count. */
static size_t tokens(const char *w, size_t wn, unsigned char *tok, bool *star)
{
	size_t n = 0;
	for (size_t i = 0; i < wn; i++) {
		if (w[i] == '*') {
			tok[n] = '*';
			star[n++] = true;
		} else if (w[i] == '\\' && i + 1 < wn) {
			tok[n] = (unsigned char)w[++i];
			star[n++] = false;
		} else {
			tok[n] = (unsigned char)w[i];
			star[n++] = false;
		}
	}
	return n;
}

bool pat_wildcard_match(const char *w, size_t wn, const char *v, size_t vn)
{
	unsigned char sbuf[256];
	bool sstar[256];
	unsigned char *tok = sbuf;
	bool *star = sstar;
	bool heap = false;
	if (wn > sizeof(sbuf)) {
		tok = malloc(wn);
		star = malloc(wn * sizeof(bool));
		if (!tok || !star) {
			free(tok);
			free(star);
			return false;
		}
		heap = true;
	}
	size_t n = tokens(w, wn, tok, star);
	bool ok = false;
	/* first segment: prefix */
	size_t i = 0, pos = 0;
	while (i < n && !star[i]) {
		if (pos >= vn || (unsigned char)v[pos] != tok[i])
			goto out;
		i++;
		pos++;
	}
	if (i == n) {
		ok = pos == vn;
		goto out;
	}
	/* last segment: suffix */
	size_t j = n;
	size_t end = vn;
	while (j > i && !star[j - 1]) {
		if (end <= pos || (unsigned char)v[end - 1] != tok[j - 1])
			goto out;
		j--;
		end--;
	}
	/* middle segments between stars in tok[i..j): find leftmost occurrences */
	while (i < j) {
		while (i < j && star[i])
			i++;
		size_t s = i;
		while (i < j && !star[i])
			i++;
		size_t len = i - s;
		if (!len)
			continue;
		const char *f = memmem(v + pos, end - pos, tok + s, len);
		if (!f)
			goto out;
		pos = (size_t)(f - v) + len;
	}
	ok = true;
out:
	if (heap) {
		free(tok);
		free(star);
	}
	return ok;
}

/* ---- complexity ------------------------------------------------------------------------------ */

typedef struct cx {
	size_t npos, words;
	unsigned char *tok; /* global token per position (position p = after consuming token p-1) */
	bool *star;         /* star[p]: token at position p (i.e. tok index p) is '*' */
	bool *isend;        /* position p is the last of its pattern */
	bool *isstart;      /* position p is a pattern's position 0 */
} cx;

static void closure(const cx *c, uint64_t *s)
{
	/* if position p active and token p is '*', position p+1 is active */
	for (size_t p = 0; p < c->npos; p++) {
		if ((s[p / 64] >> (p % 64)) & 1) {
			if (!c->isend[p] && c->star[p])
				s[(p + 1) / 64] |= 1ULL << ((p + 1) % 64);
		}
	}
}

static unsigned count(const cx *c, const uint64_t *s)
{
	unsigned k = 0;
	for (size_t p = 0; p < c->npos; p++)
		if (((s[p / 64] >> (p % 64)) & 1) && !c->isstart[p])
			k++;
	return k;
}

unsigned pat_wildcard_complexity(const pat_str *w, size_t nw, unsigned limit)
{
	size_t total = 0;
	for (size_t k = 0; k < nw; k++)
		total += w[k].n + 1;
	if (total == 0)
		return 0;
	cx c = {0};
	c.tok = calloc(total, 1);
	c.star = calloc(total, sizeof(bool));
	c.isend = calloc(total, sizeof(bool));
	c.isstart = calloc(total, sizeof(bool));
	size_t maxst = 20000;
	unsigned best = 0;
	uint64_t *states = NULL;
	uint64_t *tabkeys = NULL;
	if (!c.tok || !c.star || !c.isend || !c.isstart)
		goto done;
	bool present[256] = {0};
	size_t p = 0;
	uint64_t *init = NULL;
	for (size_t k = 0; k < nw; k++) {
		unsigned char *tk = c.tok + p;
		bool *st = c.star + p;
		size_t n = tokens(w[k].p, w[k].n, tk, st);
		c.isstart[p] = true;
		for (size_t i = 0; i < n; i++)
			if (!st[i])
				present[tk[i]] = true;
		c.isend[p + n] = true;
		p += n + 1;
	}
	c.npos = p;
	c.words = (p + 63) / 64;
	/* alphabet: present bytes + one absent byte */
	unsigned char alpha[257];
	size_t na = 0;
	int other = -1;
	for (int b = 0; b < 256; b++) {
		if (present[b])
			alpha[na++] = (unsigned char)b;
		else if (other < 0)
			other = b;
	}
	if (other >= 0)
		alpha[na++] = (unsigned char)other;
	states = calloc(maxst * c.words, sizeof(uint64_t));
	size_t tabsz = 65536;
	tabkeys = calloc(tabsz, sizeof(uint64_t)); /* hash -> state index + 1 */
	if (!states || !tabkeys)
		goto done;
	init = states;
	for (size_t q = 0; q < c.npos; q++)
		if (c.isstart[q])
			init[q / 64] |= 1ULL << (q % 64);
	closure(&c, init);
	size_t nst = 1, head = 0;
	uint64_t *nx = calloc(c.words, sizeof(uint64_t));
	if (!nx)
		goto done;
	while (head < nst && best < limit) {
		const uint64_t *cur = states + head * c.words;
		head++;
		for (size_t a = 0; a < na && best < limit; a++) {
			memset(nx, 0, c.words * sizeof(uint64_t));
			bool any = false;
			for (size_t q = 0; q < c.npos; q++) {
				if (!((cur[q / 64] >> (q % 64)) & 1))
					continue;
				if (!c.isstart[q] && c.star[q - 1]) {
					nx[q / 64] |= 1ULL << (q % 64); /* a star absorbs the byte */
					any = true;
				}
				if (!c.isend[q] && !c.star[q] && c.tok[q] == alpha[a]) {
					nx[(q + 1) / 64] |= 1ULL << ((q + 1) % 64);
					any = true;
				}
			}
			if (!any)
				continue;
			closure(&c, nx);
			unsigned k = count(&c, nx);
			if (k > best)
				best = k;
			uint64_t h = pat_hash(nx, c.words * 8, 7);
			size_t slot = h & (tabsz - 1);
			bool seen = false;
			while (tabkeys[slot]) {
				if (memcmp(states + (tabkeys[slot] - 1) * c.words, nx, c.words * 8) == 0) {
					seen = true;
					break;
				}
				slot = (slot + 1) & (tabsz - 1);
			}
			if (seen)
				continue;
			if (nst >= maxst || nst * 2 >= tabsz) {
				head = nst; /* give up exploring; keep what we measured */
				break;
			}
			memcpy(states + nst * c.words, nx, c.words * 8);
			tabkeys[slot] = nst + 1;
			nst++;
		}
	}
	free(nx);
done:
	free(states);
	free(tabkeys);
	free(c.tok);
	free(c.star);
	free(c.isend);
	free(c.isstart);
	return best;
}
