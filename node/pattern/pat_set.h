/* node/pattern/pat_set.h — private: the layout of a published pattern set.
 *
 * A pat_core is the compiled form of a list of rules (pat_core.c builds it, pat_walk*.c and
 * pat_match.c read it): a path trie, per-field value indexes, predicates, branches and rules, all in
 * flat arrays indexed by 32-bit ids, strings in one blob. A core is immutable once built and
 * refcounted.
 * A published pat_set is a base core (all rules as of the last full build), optionally a small delta
 * core (rules added or replaced since), and a bitset of base rules removed or replaced since — so a
 * rule change costs a rebuild of the delta, not of the world (pat_builder.c decides when to rebuild
 * the base). One walk over the event serves both cores.
 */
#ifndef PAT_SET_H
#define PAT_SET_H

#include <stdatomic.h>

#include "pat_int.h"

/* Open-addressing hash map from a byte string to a u32. The first 16 key bytes live in the entry
 * (zero-padded), so keys up to 16 bytes compare (and rehash) without touching the blob; longer keys
 * compare their rest in the blob at off. */
typedef struct pat_smap_ent {
	uint64_t w0, w1;
	uint32_t hash; /* low 32 bits of the key hash with bit 0 forced: 0 marks an empty slot */
	uint32_t len;
	union {
		uint32_t off; /* keys over 16 bytes: where the key is in the blob */
		uint32_t id;  /* keys of at most 16 bytes: pat_smap_put's id (the caller's id of a direct
			       * val's rule, which matching then reads here instead of in rule_ids) */
	};
	uint32_t val;
} pat_smap_ent;

typedef struct pat_smap {
	pat_smap_ent *e;
	uint32_t mask; /* capacity - 1, 0 when empty table */
	uint32_t n;
} pat_smap;

/* A value of the exact-string and number maps, or a range's ment, with this bit set is a rule index,
 * not a ment: the ment is the only condition of a branch, so a hit matches that rule directly (no
 * predicate counting). */
#define PAT_DIRECT 0x80000000u

/* Hash map from u64 (double bits) to u32. */
typedef struct pat_nmap_ent {
	uint64_t key;
	uint32_t val, used;
} pat_nmap_ent;

typedef struct pat_nmap {
	pat_nmap_ent *e;
	uint32_t mask, n;
} pat_nmap;

/* An affix of a small table, by its bytes zero-padded to 16 (as pat_words gives them) and the masks
 * of its length over a value's first 16 bytes: a value starts with it when (w & m) == affix. A
 * suffix table's are right-aligned instead (its bytes at 16 - len .. 15, masks over a value's last
 * 16 bytes). */
typedef struct pat_affix_small {
	uint64_t w0, w1, m0, m1;
	uint32_t len, val;
} pat_affix_small;

/* Prefix/suffix table: one map keyed by the affix bytes, and the distinct affix lengths. A table of
 * at most PAT_AFFIX_SMALL affixes of at most 16 bytes also lists them (sm, by ascending length): a
 * value compares its leading (trailing) words with each instead of hashing once per length. */
#define PAT_AFFIX_SMALL 8
typedef struct pat_affix {
	pat_smap map;
	uint32_t *lens; /* ascending */
	uint32_t nlens;
	pat_affix_small *sm; /* NULL unless small */
	uint32_t nsm;
	bool sm_word; /* a prefix table whose listed affixes have at most 8 bytes, none 0: a value's first
		       * word decides each (a shorter value's zero padding meets a byte the affix has) */
} pat_affix;

/* A unique matcher on a field: the predicates it satisfies. gen >= 0: index in the field's generic
 * list (evaluated with pat_value_match). */
typedef struct pat_ment {
	uint32_t pred_off, npred;
} pat_ment;

/* A bound of a numeric hull as text (pat_core.c: bound_text): the first 16 bytes (zero-padded) of a
 * plain decimal — sign, digits, '.', digits — a few ulps beyond the bound, and the index of its '.';
 * ok is false when the bound has no such text (infinite, or only an exponent form). The walk
 * compares a number's text with it to tell, unread, that the number is outside (pat_walk.c:
 * num_far). */
typedef struct pat_ntxt {
	char s[16];
	uint8_t dot;
	bool ok;
} pat_ntxt;

/* A numeric range matcher. */
typedef struct pat_range {
	double lo, hi;
	double tlo, thi;   /* lo and hi widened by a few ulps (pat_core.c: tolerant_bounds), for the walk's
			    * cheap "could a value near x be in here?" test */
	pat_ntxt tlo_t, thi_t; /* tlo and thi as texts, a few ulps further out */
	bool open_lo, open_hi;
	uint32_t ment;
} pat_range;

/* A centered interval tree over a field's ranges (pat_itree.c). */
typedef struct pat_inode {
	double center;
	uint32_t off, n;   /* the ranges containing center: by_lo[off..off+n), by_hi[off..off+n) */
	int32_t left, right;
} pat_inode;

typedef struct pat_itree {
	pat_inode *nodes;
	uint32_t *by_lo, *by_hi;
	uint32_t nnodes, nids;
	int32_t root;      /* -1: empty */
} pat_itree;

/* Fields with more ranges than this use the tree; fewer are checked one by one. */
#define PAT_ITREE_MIN 8

bool pat_itree_build(pat_itree *t, const pat_range *r, uint32_t n);
void pat_itree_free(pat_itree *t);
size_t pat_itree_bytes(const pat_itree *t);
/* Calls fn(ctx, i) for every range r[i] that contains x. */
void pat_itree_visit(const pat_itree *t, const pat_range *r, double x, void (*fn)(void *, uint32_t), void *ctx);

typedef struct pat_field {
	pat_smap exact;     /* decoded string -> ment */
	pat_affix_small *exsm; /* NULL, or exact's few keys when all are short (m0/m1 unused): a value of
				* at most 16 bytes compares its words with each instead of hashing */
	uint32_t nexsm;
	pat_smap numtext;   /* non-comparable number text -> ment */
	pat_nmap num;       /* comparable double bits -> ment */
	int32_t lit[3];     /* null/true/false -> ment or -1 */
	pat_affix prefix, suffix, prefix_ic, suffix_ic; /* ic: ASCII-only patterns, lowercased */
	pat_affix wpre, wsuf; /* wildcards by their literal prefix (else suffix): candidates, verified */
	pat_smap eic;       /* fold key -> first candidate in eic_list */
	uint32_t *eic_next; /* chain of candidates: eic ment -> next (UINT32_MAX ends) */
	uint32_t *gen;      /* generic matchers: indexes into set->gm */
	uint32_t ngen;
	pat_range *ranges;  /* numeric ranges */
	uint32_t nranges;
	pat_itree rtree;    /* over ranges when nranges > PAT_ITREE_MIN */
	double rmin, rmax;  /* the union of the ranges lies in [rmin, rmax] */
	double rtlo, rthi;  /* [rmin, rmax] widened by a few ulps */
	double *numv;       /* the exact numbers of num, ascending (a cheap "near any?" test) */
	uint32_t nnumv;
	double ntlo, nthi;  /* [numv[0], numv[nnumv - 1]] widened by a few ulps */
	bool need_num, need_ip;
	bool num_only;      /* a number here asks only for its value: no exists, exists:false or generic
			     * matcher (the walk's inline path for coordinates) */
	/* a num_only field with exact numbers, no ranges and no non-comparable texts: the common leading
	 * text (sign, digits, point) of its widened hull's bounds, npre_len >= 3, else 0. Every plain
	 * decimal in the hull starts with it, so one written otherwise (an exponent aside) is outside
	 * and is skipped unread (pat_walk.c: num_skip) */
	char npre[16];
	uint8_t npre_len;
	/* a num_only field with exact numbers or ranges, no non-comparable texts and no npre: its
	 * numbers outside both hulls (ntlo..nthi, and the ranges' that can still change the result) are
	 * told by their text and skipped unread in element templates (pat_walk.c: num_far), with the
	 * hulls' bounds as texts (ok false: that side tells nothing) */
	bool far;
	pat_ntxt ntlo_t, nthi_t, rtlo_t, rthi_t;
	bool need_absent;   /* some condition says exists:false here: track where its values are */
	uint32_t ment_exists; /* UINT32_MAX or ment */
	/* anything-but by exclusion (pat_core.c: exclusions): the field's first PAT_AB_MAX anything-but
	 * matchers, each a bit. Every value they exclude is an ordinary matcher of this field (exact,
	 * prefix, suffix, equals-ignore-case, wildcard, exact number) whose predicate list also holds
	 * PAT_XPRED | bit; a leaf value hits, after its probes, the ab_val of every bit not excluded. */
	uint32_t *ab_val;   /* bit -> ment, or rule with PAT_DIRECT */
	uint32_t nab;
	uint64_t ab_all;    /* the nab low bits */
} pat_field;

/* A predicate list entry with this bit set is not a predicate: it excludes anything-but bit
 * (entry & 63) of the ment's field for the value being emitted. */
#define PAT_XPRED 0x80000000u
#define PAT_AB_MAX 64 /* the bits of a uint64_t */

/* Trie of path segments: node 0 is the root. Children of a node are found by (length, first 16
 * bytes) in a short array (nodes with at most PAT_SMALL_KIDS children) or through the kids hash map;
 * lenmask rejects most unused event keys with one bit test. */
#define PAT_SMALL_KIDS 8
typedef struct pat_node {
	int32_t field;     /* leaf field id or -1 */
	uint32_t nchild;   /* used children */
	uint32_t slot;     /* index of this node among its parent's children (for seen masks) */
	uint32_t kid_off;  /* first child in set->kid */
	uint64_t lenmask;  /* bit min(len, 63) set for every child segment length */
	uint64_t keymask;  /* bit pat_key_bit of every child segment: the walk's filter of event keys */
	/* the early-stop labels (pat_stop.c) of a position inside this node's object: the segments of
	 * its children and of every ancestor's children, stop[stop_off..stop_off + stop_n); stop_n ==
	 * PAT_NONE when there would be more than PAT_STOP_MAX or one is empty (no early stop there) */
	uint32_t stop_off, stop_n;
	bool bit_order;    /* children in keymask bit order, one per bit (pat_core.c build_kids) */
} pat_node;

/* A key label of the early-stop test (pat_stop.c): a segment's bytes (in the core's blob, n >= 1). */
typedef struct pat_lab {
	const char *s;
	uint32_t n;
} pat_lab;

#define PAT_STOP_MAX 8

typedef struct pat_kid {
	uint64_t w0, w1;   /* first 16 bytes of the segment, zero-padded */
	uint32_t len, off; /* segment length and its bytes in the blob */
	uint32_t parent, node;
} pat_kid;

/* (parent, segment) -> child: open addressing over pat_kid entries (node == 0 marks empty; the root
 * is never a child). */
typedef struct pat_kmap {
	pat_kid *e;
	uint32_t mask, n;
} pat_kmap;

enum { PAT_C_POS = 0, PAT_C_ABS = 1, PAT_C_MIX = 2 };

typedef struct pat_bcond {
	uint32_t pred;
	uint32_t field;
	uint8_t kind;
	uint8_t solo;  /* the branch's only condition, and a value one: array membership never matters */
} pat_bcond;

typedef struct pat_br {
	uint32_t rule;    /* index in rule_ids */
	uint32_t cond_off;
	uint16_t nc;
	uint16_t npos;    /* POS + MIX? no: number of POS conditions that must be hit */
	uint8_t simple;   /* only POS conditions */
} pat_br;

typedef struct pat_core {
	atomic_uint refs;
	char *blob;
	size_t blob_len;
	/* path trie */
	pat_node *nodes;
	uint32_t nnodes;
	pat_kmap kids;   /* (parent, segment) -> child node */
	pat_kid *kid;    /* children of each node, contiguous from nodes[i].kid_off */
	pat_lab *stop;   /* the nodes' early-stop label lists (pointing into blob) */
	uint32_t nstop;
	/* fields */
	pat_field *fields;
	uint32_t nfields;
	/* matchers */
	pat_ment *ments;
	uint32_t nments;
	uint32_t *pred_lists;
	uint32_t *alias_next; /* affix ments sharing one key (case-insensitive variants): chain */
	uint32_t *ment_soff, *ment_slen; /* equals-ignore-case ments: the pattern text (for confirmation) */
	uint8_t *ment_ascii; /* and whether that text is ASCII: a value's lowered ASCII words that find its
			      * fold key then equal it ignoring case, with no confirmation (pat_emit.c) */
	pat_matcher *gm;  /* generic matchers */
	uint32_t *gm_ment; /* each one's ment, or its rule with PAT_DIRECT when it alone matches the rule */
	uint32_t ngm;
	/* predicates and branches */
	uint32_t *pred_branch;
	uint32_t npreds;
	pat_br *br;
	uint32_t nbr;
	pat_bcond *conds;
	uint32_t *always;  /* branches with no POS condition: checked on every event */
	uint32_t nalways;
	uint32_t *rule_ids; /* caller's id of each rule */
	uint32_t nrules;
	size_t memory;
	bool stamp_hits; /* few rules: direct hits are deduplicated by rule stamp (pat_emit.c) */
	uint64_t uid; /* unique in the process (never 0): what a scratch's caches are about */
} pat_core;

struct pat_set {
	atomic_uint refs;
	pat_core *base;    /* never NULL */
	pat_core *delta;   /* NULL when no rule changed since the base was built */
	uint64_t *dead;    /* bit i: base rule i no longer counts (NULL = none) */
	uint32_t nrules;   /* live rules */
	size_t memory;
};

/* Builds a core from n rules (ids[i], rules[i]); NULL on allocation failure. (pat_core.c) */
pat_core *pat_core_build(const uint32_t *ids, const pat_rule *const *rules, uint32_t n);
void pat_core_retain(pat_core *c);
void pat_core_release(pat_core *c);

#define PAT_NONE UINT32_MAX

/* A core of at most this many rules deduplicates direct hits by stamp (16 KiB of stamps). */
#define PAT_STAMP_HITS_MAX 4096

/* The keymask bit of a segment of n bytes whose first and last bytes are a and b (both '"' when n is
 * 0: an event key's bytes are between quotes). Length and both ends tell the used keys of one object
 * apart far better than the length alone (citylots' properties: 7 of 9 keys share a used length). */
static inline unsigned pat_key_bit(size_t n, unsigned char a, unsigned char b)
{
	return ((uint32_t)a | (uint32_t)b << 8 | (uint32_t)n << 16) * 0x9E3779B1u >> 26;
}

/* Seeds of the maps (build and lookup must agree). */
#define PAT_SEED_EXACT 11
#define PAT_SEED_AFFIX 13
#define PAT_SEED_EIC 17
#define PAT_SEED_KID(parent) ((uint64_t)(parent) * 0x9E3779B97F4A7C15ULL + 17)

/* ---- lookups (pat_map.c; any thread) ---- */
/* Looks k up in m. w0/w1: the first 16 bytes of k zero-padded (pat_words); hh = pat_hash(k, n, seed)
 * with the map's seed (pat_hash16 for n <= 16). */
uint32_t pat_smap_get(const pat_core *s, const pat_smap *m, const char *k, size_t n, uint64_t w0, uint64_t w1,
		      uint64_t hh);
/* pat_smap_get3 for what it leaves: probes longer than three slots, keys over 16 bytes, and another
 * key with the same hash. */
uint32_t pat_smap_get3_slow(const pat_core *s, const pat_smap *m, const char *k, size_t n, uint64_t w0, uint64_t w1,
			    uint64_t hh, uint32_t *id);

/* The hash of an smap entry (bit 0 forced, so 0 marks a free slot) and its home slot, from the key's
 * 64-bit hash. */
static inline uint32_t pat_h32(uint64_t hh)
{
	return (uint32_t)hh | 1u;
}
static inline uint32_t pat_home(uint64_t hh, uint32_t mask)
{
	return (uint32_t)(hh >> 32) & mask;
}

/* Slot i (wrapped) of m ends a probe for entry hash h: it has h, or is free. */
static inline uint32_t pat_smap_ends(const pat_smap *m, uint32_t i, uint32_t h)
{
	uint32_t x = m->e[i & m->mask].hash;
	return (uint32_t)(x == h) | (x == 0);
}

/* pat_smap_get for a large map whose home slot and the two after it were prefetched: those three
 * are compared without branches, so whether a value is there (often a coin toss when the map holds
 * many rules' values) costs no mispredicted branch. m must have a table (m->e). *id: the entry's id
 * (pat_smap_ent) when the key is found and at most 16 bytes long, else 0. */
static inline uint32_t pat_smap_get3(const pat_core *s, const pat_smap *m, const char *k, size_t n, uint64_t w0,
				     uint64_t w1, uint64_t hh, uint32_t *id)
{
	uint32_t h = pat_h32(hh), i = pat_home(hh, m->mask);
	uint32_t stop = pat_smap_ends(m, i, h) | pat_smap_ends(m, i + 1, h) << 1 | pat_smap_ends(m, i + 2, h) << 2;
	if (__builtin_expect(stop && n <= 16, 1)) {
		const pat_smap_ent *e = &m->e[(i + (uint32_t)__builtin_ctz(stop)) & m->mask];
		uint32_t got = e->hash == h, same = got & (e->len == n) & (e->w0 == w0) & (e->w1 == w1);
		if (__builtin_expect(got == same, 1)) {
			uint32_t miss = same - 1; /* all ones unless e holds the key */
			*id = e->id & ~miss;
			return e->val | miss;
		}
	}
	return pat_smap_get3_slow(s, m, k, n, w0, w1, hh, id);
}
uint32_t pat_nmap_get(const pat_nmap *m, uint64_t key);
uint32_t pat_kmap_get(const pat_core *s, uint32_t parent, const char *seg, size_t n, uint64_t w0, uint64_t w1);
/* Child of parent named seg[0..n), or PAT_NONE. */
uint32_t pat_set_child(const pat_core *s, uint32_t parent, const char *seg, size_t n);

/* The same, with the segment's first 16 bytes already in w0/w1: one bit test rejects most unknown
 * keys; small nodes compare their few children directly. */
static inline uint32_t pat_child(const pat_core *s, uint32_t node, const char *k, size_t n, uint64_t w0, uint64_t w1)
{
	const pat_node *nd = &s->nodes[node];
	if (!((nd->lenmask >> (n < 63 ? n : 63)) & 1))
		return PAT_NONE;
	if (nd->nchild > PAT_SMALL_KIDS)
		return pat_kmap_get(s, node, k, n, w0, w1);
	const pat_kid *kd = s->kid + nd->kid_off;
	for (uint32_t i = 0; i < nd->nchild; i++)
		if (kd[i].len == n && kd[i].w0 == w0 && kd[i].w1 == w1 &&
		    (n <= 16 || memcmp(s->blob + kd[i].off + 16, k + 16, n - 16) == 0))
			return kd[i].node;
	return PAT_NONE;
}

/* ---- build-time inserts (pat_map.c; the publishing thread). blob: the key bytes' buffer as it is
 * now (keys are at blob + off). *oom is set on allocation failure. ---- */
/* Inserts key blob[off..off+len) unless present, with id kept beside val when len <= 16 (see
 * pat_smap_ent); returns the value stored for it. */
uint32_t pat_smap_put(pat_smap *m, const char *blob, uint32_t off, uint32_t len, uint64_t seed, uint32_t val,
		      uint32_t id, bool *oom);
void pat_nmap_put(pat_nmap *m, uint64_t key, uint32_t val, bool *oom);
/* Inserts (parent, blob[off..off+len)) -> node unless present; returns the node stored. */
uint32_t pat_kmap_put(pat_kmap *m, const char *blob, uint32_t parent, uint32_t off, uint32_t len, uint32_t node,
		      bool *oom);

#endif /* PAT_SET_H */
