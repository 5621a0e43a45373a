/* node/pattern/pat_util.c — small helpers shared by the pattern engine: growable byte buffers (and
 * their ASCII-lowercasing append), a
 * fast 64-bit hash (the first 16 bytes in two multiplies, then 8 bytes per step; pat_int.h) used by
 * every hash table here, and zeroed tables that ask for transparent huge pages when large.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pat_int.h"

bb_err pat_buf_put(pat_buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 64;
		while (c < b->len + n + 1)
			c *= 2;
		char *p = realloc(b->p, c);
		if (!p)
			return BB_ENOMEM;
		b->p = p;
		b->cap = c;
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return BB_OK;
}

bb_err pat_buf_put_lower(pat_buf *b, const char *d, size_t n)
{
	size_t at = b->len;
	if (pat_buf_put(b, d, n))
		return BB_ENOMEM;
	for (size_t i = at; i < b->len; i++)
		if (b->p[i] >= 'A' && b->p[i] <= 'Z')
			b->p[i] = (char)(b->p[i] + 32);
	return BB_OK;
}

bb_err pat_buf_putc(pat_buf *b, char c)
{
	return pat_buf_put(b, &c, 1);
}

void pat_buf_free(pat_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void *pat_table_calloc(size_t n, size_t size)
{
	enum { HUGE = 2u << 20 };
	if (size && n > SIZE_MAX / size)
		return NULL;
	size_t bytes = n * size;
	if (bytes < HUGE)
		return calloc(n, size ? size : 1);
	/* a probe of a table this large is a cache miss and, with 4 KiB pages, a TLB miss too: whole
	 * 2 MiB pages (where the kernel grants them; THP "madvise" or "always") keep the page walk out */
	bytes = (bytes + HUGE - 1) / HUGE * HUGE;
	void *p = NULL;
	if (posix_memalign(&p, HUGE, bytes) != 0)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

uint64_t pat_hash(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t w0, w1;
	pat_words(s, n, &w0, &w1);
	uint64_t h = pat_hash16(w0, w1, n, seed);
	for (size_t i = 16; i < n; i += 8) {
		uint64_t w = 0;
		memcpy(&w, s + i, n - i < 8 ? n - i : 8);
		h = pat_mix((h ^ w) * 0x9E3779B97F4A7C15ULL);
	}
	return h;
}
