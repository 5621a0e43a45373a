/* node/pattern/pat_walk_impl.h — the event walk, included by pat_walk.c once per instruction set and
 * number of cores: WK cores (1: the base; 2: base and delta at once, so an event is read once however
 * many cores), WNAME(x) naming the instance, WC(x) the cursor functions of its instruction set and
 * WATTR their target attribute. Not a header of its own: no include guard, nothing for other files.
 *
 * nd[c] is the trie node of core c at the current position (PAT_NONE: core c uses nothing here). A
 * subtree is descended into when some core has a node there, and skipped otherwise. Positions only
 * move forward, and every jump goes through the cursor, which has classified everything before it.
 */

WATTR static const char *WNAME(walk_value)(pat_walk *w, const char *p, const uint32_t *nd, const uint32_t *lab,
					   uint32_t elem, int depth);
WATTR static inline __attribute__((always_inline)) const char *WNAME(leaf)(pat_walk *w, const char *p,
									  const uint32_t *nd, uint32_t elem);

/* Children for a key with a dot or an escape: decoded, then looked up segment by segment. */
WATTR static bool WNAME(slow_key)(pat_walk *w, const char *k, size_t kn, bool esc, const uint32_t *nd, uint32_t *ch)
{
	if (esc) {
		if (!pat_decode_string(k, kn, &w->sc->key))
			return false;
		k = w->sc->key.p;
		kn = w->sc->key.len;
	} else {
		for (size_t i = 0; i < kn; i++)
			if ((unsigned char)k[i] < 0x20)
				return false;
	}
	for (int c = 0; c < WK; c++) {
		uint32_t cur = nd[c];
		for (size_t i = 0; cur != PAT_NONE;) {
			size_t st = i;
			while (i < kn && k[i] != '.')
				i++;
			cur = pat_set_child(w->c[c], cur, k + st, i - st);
			if (i >= kn)
				break;
			i++;
		}
		ch[c] = cur;
	}
	return true;
}

/* The closing quote of the string whose content starts at k: inline when it is in the cursor's
 * current block. */
#define NEXT_QUOTE(cur, k, q)                                                                                     \
	do {                                                                                                      \
		size_t i_ = (size_t)((k) - (cur)->blk);                                                           \
		uint64_t m_;                                                                                      \
		if (__builtin_expect(i_ < 64 && (m_ = (cur)->quote & (~0ULL << i_)) != 0, 1))                    \
			(q) = (cur)->blk + __builtin_ctzll(m_);                                                   \
		else                                                                                              \
			(q) = WC(next_quote_slow)(cur, k);                                                        \
	} while (0)

/* Dot and backslash bits of the string k[0..q) (q: its closing quote, in the cursor's current block):
 * 0 for a plain key. */
WATTR static inline uint64_t WNAME(special)(const pat_cur *cur, const char *k, const char *q)
{
	if (__builtin_expect(k >= cur->blk, 1)) {
		unsigned a = (unsigned)(k - cur->blk), b = (unsigned)(q - cur->blk);
		return (cur->dot | cur->bslash) & ((1ULL << b) - 1) & (~0ULL << a);
	}
	size_t n = (size_t)(q - k);
	return (memchr(k, '.', n) ? 1 : 0) | (memchr(k, '\\', n) ? 2 : 0);
}

/* Whether the string k[0..q) has a backslash (q: its closing quote, in the cursor's current block). */
WATTR static inline bool WNAME(has_escape)(const pat_cur *cur, const char *k, const char *q)
{
	if (__builtin_expect(k >= cur->blk, 1)) {
		unsigned a = (unsigned)(k - cur->blk), b = (unsigned)(q - cur->blk);
		return cur->bslash & ((1ULL << b) - 1) & (~0ULL << a);
	}
	return memchr(k, '\\', (size_t)(q - k)) != NULL;
}

/* After a failed early-stop test at the member boundary p (its key's opening quote) whose scan found
 * the first label or backslash at x: the key quote just before x when that is the start of a later
 * member of this object — no bracket outside strings in between (so the same depth), x - 1 a quote
 * bit that opens a string, preceded by ',' — else NULL. Every member in between has a key without a
 * label and without a backslash, so none is used by any core here: the walk goes straight to x - 1
 * (their bytes are not checked for well-formedness; pat.h). The cursor moves past p only when the
 * answer is not NULL. */
WATTR static const char *WNAME(jump)(pat_walk *w, pat_cur *cur, const char *p, const char *x)
{
	if (!x || x - 1 <= p || x >= w->end || x[-1] != '"')
		return NULL;
	const char *q = x - 1, *c = q - 1;
	while (c > p && (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t'))
		c--;
	if (*c != ',')
		return NULL;
	if (p - cur->blk >= 64) /* the walk goes on from p either way */
		(void)WC(seek)(cur, p);
	pat_cur t0 = *cur; /* to go back to when the answer is NULL */
	uint64_t from = ~0ULL << (p - cur->blk); /* p is in the cursor's block now */
	while (q - cur->blk >= 64) {
		if (((cur->open | cur->close) & from) || !WC(advance)(cur))
			goto back;
		from = ~0ULL;
	}
	unsigned b = (unsigned)(q - cur->blk);
	if (((cur->open | cur->close) & from & ((1ULL << b) - 1)) || !(cur->quote >> b & 1))
		goto back;
	/* q must open a string (a value may end in ','): the string state just after q is the block's
	 * incoming state (its outgoing one less the parity of all its quotes) and the parity of its
	 * quotes up to q */
	unsigned all = (unsigned)__builtin_popcountll(cur->quote);
	unsigned upto = (unsigned)__builtin_popcountll(cur->quote & ((2ULL << b) - 1));
	if (!(((unsigned)cur->in_str ^ all ^ upto) & 1))
		goto back;
	return q;
back:
	*cur = t0;
	return NULL;
}

/* The early-stop test at p, a member boundary outside every array (pat_stop.c): true (and
 * w->stopped) when the rest of the event holds no backslash and no label of the cores' lists at lab.
 * A test that finds one at x is not repeated before x, so the tests of one event read each byte at
 * most once, and *to is where the walk may jump (jump), or NULL. A test that fails costs a scan up to
 * x, and events of one stream are alike: after k failures in a row at one place h (STOP_PLACE: the
 * base core's node and the member number), the place is not tested in the next 2^k - 1 events
 * (k <= 10; checked in the member loop). A failure whose jump skips PAT_JUMP_PAYS bytes or more paid
 * for its scan and counts as a success. */
WATTR static __attribute__((noinline)) bool WNAME(try_stop)(pat_walk *w, const char *p, const uint32_t *lab,
							    unsigned h, const char **to)
{
	*to = NULL;
	pat_scratch *sc = w->sc;
	const pat_node *nd = &w->c[0]->nodes[lab[0]];
	if (nd->stop_n == PAT_NONE)
		return false;
	const pat_lab *l = w->c[0]->stop + nd->stop_off; /* one core: its list as it is */
	unsigned n = nd->stop_n;
	pat_lab both[PAT_STOP_LABELS];
	if (WK == 2) {
		const pat_node *nd1 = &w->c[1]->nodes[lab[1]];
		if (nd1->stop_n == PAT_NONE)
			return false;
		memcpy(both, l, n * sizeof(pat_lab));
		memcpy(both + n, w->c[1]->stop + nd1->stop_off, nd1->stop_n * sizeof(pat_lab));
		l = both;
		n += nd1->stop_n;
	}
	const char *x = w->stop_scan(w->start, p, w->end, l, n);
	if (x) {
		w->stop_next = x;
		*to = WNAME(jump)(w, &w->cur, p, x);
		if (*to && *to - p >= PAT_JUMP_PAYS) {
			sc->stop_fails[h] = 0;
			sc->stop_at[h] = 0;
		} else {
			if (sc->stop_fails[h] < 10)
				sc->stop_fails[h]++;
			sc->stop_at[h] = w->ep + (1u << sc->stop_fails[h]);
		}
		return false;
	}
	sc->stop_fails[h] = 0;
	w->stopped = true;
	return true;
}

/* An object's members; p just after its '{'. The event ends with '}' (pat_match.c trims it so), so
 * the byte after any quote, ':' or ',' is inside the event. lab[c]: the node whose early-stop labels
 * hold here for core c (its node here, or the nearest ancestor's where it has none). */
WATTR static const char *WNAME(walk_object)(pat_walk *w, const char *p, const uint32_t *nd, const uint32_t *plab,
					    uint32_t elem, int depth)
{
	const char *e = w->end;
	pat_cur *cur = &w->cur;
	/* early stop: tested only outside arrays (elem 0), where lab matters (inside, it is passed on
	 * unused) */
	uint32_t lab[WK];
	for (int c = 0; c < WK; c++)
		lab[c] = elem == 0 && nd[c] != PAT_NONE ? nd[c] : plab[c];
	bool tests = elem == 0 && w->stop_live;
	unsigned mi = 0; /* members done (counted where tests run; ++mi is never 0) */
	p = ws(p, e);
	if (*p == '}')
		return p + 1;
	if (*p != '"')
		return bad(w);
	for (;;) {
		const char *k = p + 1, *q;
		NEXT_QUOTE(cur, k, q);
		if (!q)
			return bad(w);
		size_t kn = (size_t)(q - k);
		uint32_t ch[WK];
		bool any = false;
		if (__builtin_expect(!WNAME(special)(cur, k, q), 1)) {
			for (int c = 0; c < WK; c++) {
				ch[c] = key_child(w->c[c], nd[c], k, kn, e);
				any |= ch[c] != PAT_NONE;
			}
		} else {
			if (!WNAME(slow_key)(w, k, kn, memchr(k, '\\', kn) != NULL, nd, ch))
				return bad(w);
			for (int c = 0; c < WK; c++)
				any |= ch[c] != PAT_NONE;
		}
		p = q + 1;
		if (__builtin_expect(*p != ':', 0)) {
			p = ws(p, e);
			if (*p != ':')
				return bad(w);
		}
		p = ws(p + 1, e);
		if (!any) {
			char c0 = *p;
			if (c0 == '"') {
				NEXT_QUOTE(cur, p + 1, q);
				if (!q)
					return bad(w);
				p = q + 1;
			} else if (c0 == '{' || c0 == '[') {
				p = WC(skip)(cur, p);
				if (!p || p >= e)
					return bad(w);
			} else {
				p = scalar_end(p, e);
			}
		} else {
			p = *p == '{' || *p == '[' ? WNAME(walk_value)(w, p, ch, lab, elem, depth + 1)
						   : WNAME(leaf)(w, p, ch, elem);
			if (!p || p >= e)
				return p ? bad(w) : NULL;
		}
		char c1 = *p;
		if (c1 == ',') {
			p++;
			if (tests && ++mi && p > w->stop_next) {
				unsigned h = STOP_PLACE(lab[0], mi);
				const char *to;
				if (w->ep >= w->sc->stop_at[h]) {
					if (WNAME(try_stop)(w, p, lab, h, &to))
						return NULL;
					if (to) {
						p = to;
						continue;
					}
				}
			}
			if (__builtin_expect(*p == '"', 1))
				continue;
			p = ws(p, e);
			if (*p == '"')
				continue;
			return bad(w);
		}
		if (c1 == '}')
			return p + 1;
		p = ws(p, e);
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return bad(w);
		p = ws(p + 1, e);
		if (*p != '"')
			return bad(w);
	}
}

/* Gives the leaf value v to each core c with a field field[c] >= 0; a number of a field that asks
 * nothing of it but its value (num_only: no exists, exists:false or generic matcher — coordinates)
 * goes straight to pat_emit_number, and only when num_outside does not rule it out. *elem is the
 * value's array element; with aid != 0 it is not made yet (0) and is recorded (new_elem(parent, aid),
 * for array consistency) the first time a core wants the value, so an element of a template none of
 * whose values is wanted gets no record (no value can refer to it). false when out of memory. */
WATTR static inline __attribute__((always_inline)) bool WNAME(give)(pat_walk *w, const int32_t *field, pat_value *v,
								   uint32_t parent, uint32_t aid, uint32_t *elem)
{
	for (int c = 0; c < WK; c++) {
		if (field[c] < 0)
			continue;
		const pat_field *f = &w->c[c]->fields[field[c]];
		bool num = v->t == PV_NUM && f->num_only;
		if (num && num_outside(w, c, (uint32_t)field[c], f, v))
			continue;
		if (aid && !*elem) {
			*elem = new_elem(w, parent, aid);
			if (w->sc->oom)
				return false;
		}
		if (num)
			pat_emit_number(w, c, f, v, *elem);
		else
			pat_emit(w, c, (uint32_t)field[c], v, *elem);
	}
	return true;
}

/* tmpl_elem for an element whose '}' is among its first 64 bytes (e - p >= 96): its member
 * boundaries come at once from the bits of ',' and '}' there — the m-th comma starts member m — so
 * the members are checked independently of one another instead of each waiting for the end of the
 * one before (a chain of loads and scans per member). Every member's head must match at its boundary
 * and its value end exactly at the next one, which is what the member-by-member reading accepts, so
 * both accept the same elements (a key holding ',' or '}' fails here and is read the other way).
 * 1: read (values to give in *give, *end at the '}'); 0: its '}' is further (read member by member);
 * -1: written otherwise than the template. */
WATTR static inline __attribute__((always_inline)) int WNAME(elem_par)(pat_walk *w, const char *p, const pat_tmpl *t,
									pat_value *v, unsigned *give, const char **end)
{
	const char *e = w->end;
	uint64_t close, comma = WC(commas)(p, &close);
	if (!close)
		return 0;
	unsigned n = t->n, cp = (unsigned)__builtin_ctzll(close);
	uint64_t cm = comma & ((1ULL << cp) - 1); /* the commas before the first '}' */
	if ((unsigned)__builtin_popcountll(cm) != n - 1)
		return -1;
	const char *b[PAT_TMPL_MAX + 1];
	b[0] = p;
	for (unsigned m = 1; m < n; m++, cm &= cm - 1)
		b[m] = p + __builtin_ctzll(cm);
	b[n] = p + cp;
	unsigned g = 0;
	for (unsigned m = 0; m < n; m++) {
		__m128i h = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)b[m]), _mm_load_si128((const __m128i *)t->head[m]));
		if (((unsigned)_mm_movemask_epi8(h) & t->hmask[m]) != t->hmask[m])
			return -1;
		const char *vs = b[m] + t->hlen[m], *q = NULL;
		if (vs >= b[m + 1] || *vs == '"' || (*vs | 0x20) == '{')
			return -1;
		/* the value step is tmpl_elem's, written out: one always_inline helper for both cost
		 * COMPLEX_ARRAYS 1.3 % (GCC 12 arranged the loops worse) */
		if (t->npre[m]) {
			q = num_skip(vs, e, t->npre[m], t->npre_len[m]);
		} else if (t->farf[m]) {
			int c = t->far[m];
			q = num_far(w, c, (uint32_t)t->field[m][c], t->farf[m], vs, e);
		}
		if (!q) {
			if (t->used[m]) {
				g |= 1u << m;
				q = scalar_value(w->start, vs, e, &v[m]);
			} else {
				q = scalar_end(vs, e);
			}
		}
		if (q != b[m + 1])
			return -1;
	}
	*give = g;
	*end = b[n];
	return 1;
}

/* The object element at p (of the array aid, inside element parent) read with its array's template t
 * (pat_walk.c): true, *out just past its '}', when every member's head has the template's bytes and
 * its value is a scalar — an unused one ends where the member loop's would, a used one is read as
 * leaf() reads it, and the values are then given to the cores as leaf() gives them (give: the
 * element is recorded only if one is wanted). false when the element is written otherwise: nothing
 * was given, and the member loop reads it (it answers the same for any bytes both accept). Out of
 * memory: true with *out NULL. */
WATTR static bool WNAME(tmpl_elem)(pat_walk *w, const char *p, const pat_tmpl *t, uint32_t parent, uint32_t aid,
				   const char **out)
{
	const char *e = w->end, *pos = p;
	pat_value v[PAT_TMPL_MAX];
	unsigned give = 0; /* members whose values are given, as bits */
	if (e - p >= 96) { /* within its first 64 bytes: read in parallel (elem_par) */
		int r = WNAME(elem_par)(w, p, t, v, &give, &pos);
		if (r < 0)
			return false;
		if (r > 0)
			goto done;
	}
	for (unsigned m = 0, n = t->n; m < n; m++) {
		if (e - pos < 16)
			return false;
		__m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)pos), _mm_load_si128((const __m128i *)t->head[m]));
		if (((unsigned)_mm_movemask_epi8(b) & t->hmask[m]) != t->hmask[m])
			return false;
		pos += t->hlen[m];
		if (*pos == '"' || (*pos | 0x20) == '{') /* a string, object or array ('[' | 0x20 is '{') */
			return false;
		const char *q = NULL;
		if (t->npre[m]) {
			q = num_skip(pos, e, t->npre[m], t->npre_len[m]);
		} else if (t->farf[m]) {
			int c = t->far[m];
			q = num_far(w, c, (uint32_t)t->field[m][c], t->farf[m], pos, e);
		}
		if (q) { /* a number its one field cannot want */
			pos = q;
			continue;
		}
		if (t->used[m]) {
			give |= 1u << m;
			pos = scalar_value(w->start, pos, e, &v[m]);
		} else {
			pos = scalar_end(pos, e);
		}
		if (!pos)
			return false;
	}
	if (*pos != '}')
		return false;
done:;
	uint32_t elem = 0;
	for (; give; give &= give - 1) {
		unsigned m = (unsigned)__builtin_ctz(give);
		if (!WNAME(give)(w, t->field[m], &v[m], parent, aid, &elem)) {
			*out = NULL;
			return true;
		}
	}
	*out = pos + 1;
	return true;
}

/* An array's elements; p just after its '['. Whether the cores' nodes have children is the same for
 * every element, so it is read once: an object element goes straight to walk_object (or is skipped). */
WATTR static const char *WNAME(walk_array)(pat_walk *w, const char *p, const uint32_t *nd, const uint32_t *lab,
					   uint32_t elem, int depth)
{
	const char *e = w->end;
	uint32_t aid = ++w->sc->narrays;
	bool kids = false;
	for (int c = 0; c < WK; c++)
		kids |= nd[c] != PAT_NONE && w->c[c]->nodes[nd[c]].nchild != 0;
	p = ws(p, e);
	if (*p == ']')
		return p + 1;
	if (depth + 1 > PAT_MAX_EVENT_DEPTH) /* as walk_value's test of each element */
		return bad(w);
	pat_tmpl *t = kids ? tmpl_for(w, WK, nd) : NULL; /* the scratch's, for these nodes */
	bool tried = false;
	for (;;) {
		if (*p == '{') {
			if (kids) {
				const char *q;
				if (t->n && WNAME(tmpl_elem)(w, p, t, elem, aid, &q)) {
					p = q;
				} else {
					uint32_t en = new_elem(w, elem, aid);
					if (w->sc->oom)
						return NULL;
					q = p;
					p = WNAME(walk_object)(w, p + 1, nd, lab, en, depth + 1);
					/* the element's own arrays may have taken the slot: take it back */
					t = tmpl_for(w, WK, nd);
					if (p && !tried) {
						tried = true;
						(void)tmpl_build(w, WK, q, p, nd, t);
					}
				}
			} else {
				p = WC(skip)(&w->cur, p);
				if (!p)
					return bad(w);
			}
		} else if (*p == '[') {
			uint32_t en = new_elem(w, elem, aid);
			if (w->sc->oom)
				return NULL;
			p = WNAME(walk_value)(w, p, nd, lab, en, depth + 1);
		} else {
			if (p >= e)
				return bad(w);
			p = WNAME(leaf)(w, p, nd, elem);
		}
		if (!p || p >= e)
			return p ? bad(w) : NULL;
		if (*p == ',') {
			p = ws(p + 1, e);
			continue;
		}
		p = ws(p, e);
		if (*p == ',') {
			p = ws(p + 1, e);
			continue;
		}
		if (*p == ']') {
			if (t && t->n) /* elements read without the cursor: it may go straight here */
				w->cur.sync = p + 1;
			return p + 1;
		}
		return bad(w);
	}
}

/* A scalar value (string, number, literal) at p for the cores' nodes nd: read and given to each core
 * whose node is a field. Inline in the member loop, so a leaf costs no call. */
WATTR static inline __attribute__((always_inline)) const char *WNAME(leaf)(pat_walk *w, const char *p,
									  const uint32_t *nd, uint32_t elem)
{
	int32_t field[WK];
	bool leaf = false;
	for (int c = 0; c < WK; c++) {
		field[c] = nd[c] == PAT_NONE ? -1 : w->c[c]->nodes[nd[c]].field;
		leaf |= field[c] >= 0;
	}
	pat_value v;
	const char *q;
	if (*p == '"') {
		NEXT_QUOTE(&w->cur, p + 1, q);
		if (!q)
			return bad(w);
		if (!leaf)
			return q + 1;
		if (!string_value(w, p, q, WNAME(has_escape)(&w->cur, p + 1, q), &v))
			return bad(w);
		q++;
	} else {
		q = scalar_value(w->start, p, w->end, &v);
		if (!q)
			return bad(w);
		if (!leaf)
			return q;
	}
	(void)WNAME(give)(w, field, &v, 0, 0, &elem); /* elem exists: nothing to allocate */
	return q;
}

WATTR static const char *WNAME(walk_value)(pat_walk *w, const char *p, const uint32_t *nd, const uint32_t *lab,
					   uint32_t elem, int depth)
{
	const char *e = w->end;
	if (depth > PAT_MAX_EVENT_DEPTH || p >= e)
		return bad(w);
	if (*p != '{' && *p != '[')
		return WNAME(leaf)(w, p, nd, elem);
	bool kids = false, leaf = false;
	for (int c = 0; c < WK; c++) {
		if (nd[c] == PAT_NONE)
			continue;
		const pat_node *n = &w->c[c]->nodes[nd[c]];
		kids |= n->nchild != 0;
		leaf |= n->field >= 0;
	}
	if (*p == '{') {
		if (!kids) {
			const char *q = WC(skip)(&w->cur, p);
			return q ? q : bad(w);
		}
		return WNAME(walk_object)(w, p + 1, nd, lab, elem, depth);
	}
	if (!kids && !leaf) {
		const char *q = WC(skip)(&w->cur, p);
		return q ? q : bad(w);
	}
	return WNAME(walk_array)(w, p + 1, nd, lab, elem, depth);
}

/* p at the event's '{'. */
WATTR static const char *WNAME(walk_event)(pat_walk *w, const char *p)
{
	WC(init)(&w->cur, w->start, w->end);
	uint32_t nd[WK];
	for (int c = 0; c < WK; c++)
		nd[c] = 0;
	return WNAME(walk_object)(w, p + 1, nd, nd, 0, 1);
}

#undef NEXT_QUOTE
