/* node/pattern/pat_run.h — private: the state of one pat_match call, shared by the event walk
 * (pat_walk.c) and the combination of predicates into rule matches (pat_match.c).
 *
 * Per core (base, delta) the scratch keeps epoch-stamped arrays sized to that core: a stamp equal to
 * the current epoch means "set during this event", so nothing is cleared between events and nothing
 * is allocated once the arrays have grown to the largest set seen. Values inside arrays of objects are
 * recorded with the array element they lie in (an element tree built during the walk) for the
 * array-consistency check.
 */
#ifndef PAT_RUN_H
#define PAT_RUN_H

#include "pat_set.h"

/* Scratch for one core. */
typedef struct pat_cs {
	uint32_t *pred_seen, *pred_free, *pred_head;
	size_t npred_cap;
	uint32_t *br_stamp, *br_cnt;
	size_t nbr_cap;
	uint32_t *rule_stamp;
	size_t nrule_cap;
	uint32_t *field_seen, *field_free, *field_head;
	/* field -> the widened hull of its ranges that can still change the result, when hull_at is this
	 * epoch (pat_emit.c: ranges_open narrows it; before, the field's whole rtlo..rthi) */
	uint32_t *hull_at;
	double *hull; /* [2 * field], [2 * field + 1] */
	const pat_ntxt **hull_t; /* the same bounds' texts (pat_set.h; NULL: infinite), for num_far */
	size_t nhull_cap;
	size_t nfield_cap;
	/* (pred, element) pairs for values inside arrays of objects */
	uint32_t *pair_node, *pair_next;
	size_t npairs, pair_cap;
	/* (field, element) values inside arrays of objects */
	uint32_t *fv_node, *fv_next;
	size_t nfv, fv_cap;
	/* branches whose value conditions are all satisfied (to check), and rules matched directly */
	uint32_t *cand;
	size_t ncand, cand_cap;
	uint32_t *hits;
	size_t nhits, hits_cap;
	/* hits[0]'s id when pat_walk_deferred recorded it (read from the map entry, so the rule_ids
	 * line, a cache miss when the set is large, is not needed) in epoch hit0_ep; any other epoch (0:
	 * a later hit may have taken hits[0]) says to read rule_ids */
	uint32_t hit0_id, hit0_ep;
} pat_cs;

/* An exact-string probe of a large map, deferred to the end of the walk so its cache miss overlaps the
 * rest of the walk (the slot is prefetched when the value is read). The value's bytes are in the event. */
typedef struct pat_defer {
	const pat_smap *map;
	const char *s;
	uint32_t n, elem;
	uint64_t w0, w1, h;
	int k;
} pat_defer;

/* Maps with more slots than this are probed late (pat_defer); smaller ones stay in cache. */
#define PAT_DEFER_SLOTS 8192
#define PAT_DEFER_MAX 64

/* Places the early-stop back-off keeps apart (pat_scratch.stop_*). */
#define PAT_STOP_PLACES 256
#define PAT_STOP_MISSES 64   /* events in a row without an early stop ... */
#define PAT_STOP_PAUSE 1024  /* ... pause the tests for this many events */
#define PAT_JUMP_PAYS 64  /* a failed test whose jump skips this many bytes counts as a success */
#define STOP_PLACE(node, member) (((node) * 16 + ((member) < 15 ? (member) : 15)) % PAT_STOP_PLACES)

/* An array's object elements as written (pat_walk.c tmpl_build, pat_walk_impl.h tmpl_elem): when
 * every member of one is a plain key of at most 12 bytes (no dot, backslash or control byte) with no
 * whitespace around it and a scalar value, the bytes of its member heads ('{' or ',', the quoted key,
 * ':'). Later elements whose heads have the same bytes are read without the cursor or the trie. A
 * scratch keeps a few, by the cores (uid) and the array's trie nodes: the events of one stream are
 * alike, so the first element of an array is usually read that way too. */
#define PAT_TMPL_MAX 8   /* members */
#define PAT_TMPL_SLOTS 8 /* kept per scratch */
typedef struct pat_tmpl {
	_Alignas(16) uint8_t head[PAT_TMPL_MAX][16]; /* zero-padded */
	unsigned n;                   /* members; 0: none yet */
	unsigned hlen[PAT_TMPL_MAX];  /* head bytes (at most 16) */
	unsigned hmask[PAT_TMPL_MAX]; /* (1 << hlen) - 1: the head's bits of a 16-byte compare */
	int32_t field[PAT_TMPL_MAX][2]; /* the member's field for each core (-1: none) */
	bool used[PAT_TMPL_MAX];        /* some core has a node there (its value is read as leaf() does) */
	const char *npre[PAT_TMPL_MAX]; /* the member's one field's number prefix (pat_field.npre) or NULL */
	uint8_t npre_len[PAT_TMPL_MAX];
	int8_t far[PAT_TMPL_MAX];       /* the core whose field is the member's only one and far, or -1 */
	const pat_field *farf[PAT_TMPL_MAX]; /* that field (in that core) */
	uint64_t uid[2];              /* whose: the cores (0: no delta) ... */
	uint32_t nd[2];               /* ... and the array's nodes */
} pat_tmpl;

struct pat_scratch {
	uint32_t epoch;
	pat_cs cs[2];
	pat_defer defer[PAT_DEFER_MAX];
	uint32_t ndefer;
	/* element tree: node 0 = outside any array */
	uint32_t *en_parent, *en_array, *en_depth;
	size_t nen, en_cap;
	uint32_t narrays;
	pat_buf str, key, low;
	uint32_t steps;
	bool oom;
	/* early-stop tests (pat_walk_impl.h try_stop), per place — trie node of the base and member
	 * number, hashed to PAT_STOP_PLACES: failures in a row, and the first epoch (event) at which
	 * the place is tested again */
	uint8_t stop_fails[PAT_STOP_PLACES];
	uint32_t stop_at[PAT_STOP_PLACES];
	/* and for the whole set: events in a row that did not stop, and the first epoch at which
	 * tests run again after PAT_STOP_MISSES of them (none run before: a set whose events never stop
	 * early pays one compare per member) */
	uint32_t stop_misses, stop_off_until;
	const pat_core *stop_core; /* the set (its base) they are about: another set starts afresh */
	pat_scratch *twin; /* pat_match_batch's second lane (made at its first use), or NULL */
	pat_tmpl tmpl[PAT_TMPL_SLOTS];
};

/* The event cursor (pat_cursor_impl.h): the masks of the current 64-byte block. Bit i is byte
 * blk[i]; quote: unescaped quotes; bslash, dot: raw '\\' and '.'; open, close: brackets outside
 * strings. in_str, esc: string and escape state carried into the next block. */
typedef struct pat_cur {
	const char *blk, *start, *end;
	uint64_t quote, bslash, dot, open, close;
	uint64_t in_str, esc;
	const char *sync; /* NULL, or a later position known to be outside strings (pat_cursor_impl.h:
			   * seek goes straight there instead of classifying every block before it) */
} pat_cur;

/* At most this many labels in one test: PAT_STOP_MAX per core. */
#define PAT_STOP_LABELS (2 * PAT_STOP_MAX)

/* The first position in [p, end) where a backslash or one of the n labels l[] starts, or NULL when
 * there is none; p when n > PAT_STOP_LABELS. [lo, p) must be readable too (lo <= p: the event's
 * start); nothing outside [lo, end) is read. SSE2, AVX2 and AVX-512BW forms (the caller knows which
 * the CPU has). */
const char *pat_stop_scan_sse2(const char *lo, const char *p, const char *end, const pat_lab *l, unsigned n);
const char *pat_stop_scan_avx2(const char *lo, const char *p, const char *end, const pat_lab *l, unsigned n);
const char *pat_stop_scan_avx512(const char *lo, const char *p, const char *end, const pat_lab *l, unsigned n);
typedef const char *(*pat_stop_fn)(const char *lo, const char *p, const char *end, const pat_lab *l, unsigned n);

/* One walk. pat_match.c's walk() sets every field but cur (the walk's own to set up) one by one, not
 * by zeroing the struct: a field added here must be set there. */
typedef struct pat_walk {
	pat_cur cur;
	const pat_core *c[2]; /* c[1] NULL when the set has no delta */
	pat_cs *cs[2];
	pat_scratch *sc;
	const char *start, *end; /* the event */
	uint32_t ep;
	bool bad;     /* malformed JSON seen */
	bool stopped; /* the walk stopped early: nothing after that point can change the result */
	bool stop_live; /* early-stop tests may run in this event (pat_scratch.stop_off_until) */
	const char *stop_next; /* no early-stop test before this position (one found a label there) */
	pat_stop_fn stop_scan; /* the scanner for this CPU (pat_walk_event sets it) */
	uint64_t xmask; /* the anything-but bits the value being emitted excludes (pat_emit.c) */
} pat_walk;

/* A number's double from the walk's split of it (t), when that is cheap: exact for a plain number of
 * at most 15 significant digits, within two ulps for 16 to 19 digits; false when only the exact path
 * can tell (exponents, more digits). pat_emit.c's test of a number and the walk's pre-test share it. */
static inline bool pat_num_approx(const pat_numparts *t, double *d)
{
	static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
				       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	if (!t->plain || t->f > 22)
		return false;
	double x = (double)t->M / p10[t->f];
	*d = t->neg ? -x : x;
	return true;
}

/* The walk's number scan at p (the number's first byte; [lo, e) readable, the event ending with a
 * delimiter before e): its end or NULL, its digits split into t. general: the general path
 * (scan_number_slow) instead of the fast one. For tests: both must answer alike. (pat_walk.c) */
const char *pat_number_scan(const char *lo, const char *p, const char *e, pat_numparts *t, bool general);
/* The end of the number at p when the fast scan reads it (pat_walk.c fast_shape: what the element
 * templates may skip unread), else NULL. For tests. */
const char *pat_number_shape(const char *p, const char *e);

/* Whether a (a number's approximation) is in the hull of field fid's (f's) ranges that could still
 * change core k's result in this event. */
static inline bool pat_in_open_ranges(const pat_walk *w, int k, uint32_t fid, const pat_field *f, double a)
{
	const pat_cs *cs = w->cs[k];
	if (cs->hull_at[fid] == w->ep)
		return a >= cs->hull[2 * fid] && a <= cs->hull[2 * fid + 1];
	return a >= f->rtlo && a <= f->rthi;
}

/* Runs the probes deferred during the walk (pat_emit.c). */
void pat_walk_deferred(pat_walk *w);

/* A leaf value v of field fid for core k, inside array element elem (0: outside arrays): every index
 * and matcher of the field (pat_emit.c). pat_emit_number is its number part alone, for a num_only
 * field. The walk's thread; v's lazily parsed parts (numstate, ipstate) may be filled in. */
void pat_emit(pat_walk *w, int k, uint32_t fid, pat_value *v, uint32_t elem);
void pat_emit_number(pat_walk *w, int k, const pat_field *f, pat_value *v, uint32_t elem);

/* Walks the event's top-level object (p at its '{') and records every leaf value of a used path.
 * Returns the position after the closing '}', or NULL (w->bad or w->sc->oom says why). Walks c[0],
 * and c[1] too when it is not NULL, in one pass. (pat_walk.c) */
const char *pat_walk_event(pat_walk *w, const char *p);

/* Room for one more entry in a u32 array (or a pair of parallel ones): true when there is (growing
 * them if needed), false and sc->oom when memory runs out. The _grow forms are the slow paths. */
bool pat_push1_grow(pat_scratch *sc, uint32_t **a, size_t *n, size_t *cap);
bool pat_push2_grow(pat_scratch *sc, uint32_t **a, uint32_t **b, size_t *n, size_t *cap);
static inline bool pat_push1(pat_scratch *sc, uint32_t **a, size_t *n, size_t *cap)
{
	return *n < *cap || pat_push1_grow(sc, a, n, cap);
}
static inline bool pat_push2(pat_scratch *sc, uint32_t **a, uint32_t **b, size_t *n, size_t *cap)
{
	return *n < *cap || pat_push2_grow(sc, a, b, n, cap);
}

#endif /* PAT_RUN_H */
