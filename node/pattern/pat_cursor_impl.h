/* node/pattern/pat_cursor_impl.h — the event cursor (pat_cursor.h) for one instruction set, included by
 * pat_walk.c once per ISA with CUR(x) naming the instance, CUR_ATTR its target attribute and
 * CUR_CLASSIFY / CUR_PREFIX_XOR its two primitives. Not a header of its own (no include guard).
 *
 * The cursor classifies the event 64 bytes at a time, in order from its first byte, so the string
 * state carried from block to block is always right: quote bits (escaped quotes removed), backslash
 * and dot bits (raw), and the opening and closing brackets outside strings. The walk asks it for the
 * next quote at or after a position, and to skip a container; both only move forward.
 */

/* Turns raw block masks into the cursor's, continuing the string and escape state. */
CUR_ATTR static inline __attribute__((always_inline)) void CUR(finish)(pat_cur *c, blk b)
{
	uint64_t q = b.quote;
	if (__builtin_expect((b.bslash | c->esc) != 0, 0))
		q &= ~escaped_bits(b.bslash, &c->esc);
	uint64_t in = CUR_PREFIX_XOR(q) ^ c->in_str;
	c->in_str = (uint64_t)((int64_t)in >> 63);
	c->quote = q;
	c->bslash = b.bslash;
	c->dot = b.dot;
	c->open = b.open & ~in;
	c->close = b.close & ~in;
}

/* The last partial block: the 64 bytes ending at end when they are readable, masks shifted so bit 0
 * is blk; else a copy padded with spaces. */
CUR_ATTR static __attribute__((noinline)) void CUR(fill_tail)(pat_cur *c)
{
	size_t r = (size_t)(c->end - c->blk);
	blk b;
	if (c->end - c->start >= 64) {
		b = CUR_CLASSIFY(c->end - 64);
		unsigned sh = 64 - (unsigned)r;
		b.quote >>= sh;
		b.bslash >>= sh;
		b.open >>= sh;
		b.close >>= sh;
		b.dot >>= sh;
	} else {
		char tail[64];
		memcpy(tail, c->blk, r);
		memset(tail + r, ' ', 64 - r);
		b = CUR_CLASSIFY(tail);
	}
	CUR(finish)(c, b);
}

/* Classifies the block at c->blk (c->blk < c->end). */
CUR_ATTR static inline __attribute__((always_inline)) void CUR(fill)(pat_cur *c)
{
	/* a few blocks ahead (also past the end: a prefetch never faults, and the next event usually
	 * follows this one in memory) */
	__builtin_prefetch(c->blk + PAT_PREFETCH, 0, 3);
	if (__builtin_expect(c->end - c->blk >= 64, 1))
		CUR(finish)(c, CUR_CLASSIFY(c->blk));
	else
		CUR(fill_tail)(c);
}

CUR_ATTR static inline void CUR(init)(pat_cur *c, const char *start, const char *end)
{
	c->start = c->blk = start;
	c->end = end;
	c->in_str = c->esc = 0;
	c->sync = NULL;
	CUR(fill)(c);
}

/* Moves to the next block; false at the end of the event (the masks are then empty). */
CUR_ATTR static inline __attribute__((always_inline)) bool CUR(advance)(pat_cur *c)
{
	c->blk += 64;
	if (c->blk >= c->end) {
		c->blk = c->end;
		c->quote = c->bslash = c->dot = c->open = c->close = 0;
		return false;
	}
	CUR(fill)(c);
	return true;
}

/* Moves the cursor to the block holding p without classifying the blocks before it, when p is known
 * to be outside every string and not escaped — c->sync, just after a container the walk read without
 * the cursor (arrays read with element templates, pat_walk_impl.h) — and blocks ahead. The
 * block's incoming string state is taken as the parity of its quotes before p, so every bit from p
 * on is as a classification from the event's start would have it (bits before p are not: nothing
 * reads them, the cursor only moves forward); no escape reaches p, whose byte before is ']'. */
CUR_ATTR static __attribute__((noinline)) void CUR(resync_far)(pat_cur *c, const char *p)
{
	c->blk = c->start + ((size_t)(p - c->start) & ~(size_t)63);
	c->in_str = c->esc = 0;
	CUR(fill)(c);
	uint64_t before = (1ULL << (p - c->blk)) - 1; /* p - c->blk < 64 */
	if (__builtin_popcountll(c->quote & before) & 1) {
		c->in_str = ~0ULL;
		c->esc = 0;
		CUR(fill)(c);
	}
}

/* Bit index of p in the current block after moving the cursor forward to the block holding p
 * (p >= c->blk); 64 when p is at or past the end. */
CUR_ATTR static inline __attribute__((always_inline)) unsigned CUR(seek)(pat_cur *c, const char *p)
{
	if (__builtin_expect(c->sync != NULL, 0)) { /* only ever asked about positions from sync on */
		if (c->sync - c->blk >= 128 && c->sync < c->end) /* nearer, advancing is as cheap */
			CUR(resync_far)(c, c->sync);
		c->sync = NULL;
	}
	while (p - c->blk >= 64)
		if (!CUR(advance)(c))
			return 64;
	return (unsigned)(p - c->blk);
}

CUR_ATTR static __attribute__((noinline)) const char *CUR(next_quote_slow)(pat_cur *c, const char *p)
{
	unsigned i = CUR(seek)(c, p);
	if (i >= 64)
		return NULL;
	uint64_t m = c->quote & (~0ULL << i);
	while (!m) {
		if (!CUR(advance)(c))
			return NULL;
		m = c->quote;
	}
	return c->blk + __builtin_ctzll(m);
}

/* The first unescaped quote at or after p, or NULL. Inline when it is in the current block. */
CUR_ATTR static inline __attribute__((always_inline)) const char *CUR(next_quote)(pat_cur *c, const char *p)
{
	size_t i = (size_t)(p - c->blk);
	if (i < 64) {
		uint64_t m = c->quote & (~0ULL << i);
		if (m)
			return c->blk + __builtin_ctzll(m);
	}
	return CUR(next_quote_slow)(c, p);
}

/* The position after the container that starts at p (p[0] is '{' or '['), or NULL. The depth can
 * reach zero in a block only if it has at least depth closing brackets; only such blocks are walked
 * bracket by bracket. The loop keeps the cursor state in locals (the classification constants stay in
 * registers) and stores it back when it leaves. */
CUR_ATTR static __attribute__((noinline)) const char *CUR(skip)(pat_cur *c, const char *p)
{
	unsigned i = CUR(seek)(c, p);
	if (i >= 64)
		return NULL;
	int64_t depth = 0;
	uint64_t op = c->open & (~0ULL << i), cl = c->close & (~0ULL << i);
	const char *at = c->blk, *end = c->end;
	uint64_t in_str = c->in_str, esc = c->esc;
	uint64_t q = c->quote, bs = c->bslash; /* of the block at `at` (its dots only on the way out) */
	bool fresh = false;                     /* c's masks are not those of `at` yet */
	CUR_CONSTS;
	for (;;) {
		int64_t nc = __builtin_popcountll(cl);
		if (cl && nc >= depth) {
			for (uint64_t m = op | cl; m; m &= m - 1) {
				int k = __builtin_ctzll(m);
				if (op >> k & 1) {
					depth++;
				} else if (--depth == 0) {
					if (fresh) {
						c->blk = at;
						c->quote = q;
						c->bslash = bs;
						c->open = op;
						c->close = cl;
						c->dot = CUR_DOT(at);
					}
					c->in_str = in_str;
					c->esc = esc;
					return at + k + 1;
				}
			}
		} else {
			depth += __builtin_popcountll(op) - nc;
		}
		at += 64;
		if (end - at < 64) { /* the last block, or the end: the general path */
			c->blk = at - 64;
			c->in_str = in_str;
			c->esc = esc;
			if (!CUR(advance)(c))
				return NULL;
			at = c->blk;
			op = c->open;
			cl = c->close;
			in_str = c->in_str;
			esc = c->esc;
			fresh = false;
			continue;
		}
		__builtin_prefetch(at + PAT_PREFETCH, 0, 3);
		blk b = CUR_CLASSIFY4_K(at);
		q = b.quote;
		bs = b.bslash;
		if (__builtin_expect((bs | esc) != 0, 0))
			q &= ~escaped_bits(bs, &esc);
		uint64_t in = CUR_PREFIX_XOR(q) ^ in_str;
		in_str = (uint64_t)((int64_t)in >> 63);
		op = b.open & ~in;
		cl = b.close & ~in;
		fresh = true;
	}
}
