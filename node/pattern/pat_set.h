/* node/pattern/pat_set.h — private: the layout of a published pattern set (pat_set.c builds it,
 * pat_match.c reads it). Everything is in flat arrays indexed by 32-bit ids; strings live in one
 * blob. A set is immutable after publication and shared by matching threads (refcount).
 */
#ifndef PAT_SET_H
#define PAT_SET_H

#include <stdatomic.h>

#include "pat_int.h"

/* Open-addressing hash map from a byte string (in the set's blob) to a u32. */
typedef struct pat_smap_ent {
	uint32_t hash; /* low 32 bits of pat_hash; 0 = empty slot marker is avoided by forcing bit 0 */
	uint32_t off, len;
	uint32_t val;
} pat_smap_ent;

typedef struct pat_smap {
	pat_smap_ent *e;
	uint32_t mask; /* capacity - 1, 0 when empty table */
	uint32_t n;
} pat_smap;

/* Hash map from u64 (double bits) to u32. */
typedef struct pat_nmap_ent {
	uint64_t key;
	uint32_t val, used;
} pat_nmap_ent;

typedef struct pat_nmap {
	pat_nmap_ent *e;
	uint32_t mask, n;
} pat_nmap;

/* Prefix/suffix table: one map keyed by the affix bytes, and the distinct affix lengths. */
typedef struct pat_affix {
	pat_smap map;
	uint32_t *lens; /* ascending */
	uint32_t nlens;
} pat_affix;

/* A unique matcher on a field: the predicates it satisfies. gen >= 0: index in the field's generic
 * list (evaluated with pat_value_match). */
typedef struct pat_ment {
	uint32_t pred_off, npred;
} pat_ment;

typedef struct pat_field {
	pat_smap exact;     /* decoded string -> ment */
	pat_smap numtext;   /* non-comparable number text -> ment */
	pat_nmap num;       /* comparable double bits -> ment */
	int32_t lit[3];     /* null/true/false -> ment or -1 */
	pat_affix prefix, suffix, prefix_ic, suffix_ic; /* ic: ASCII-only patterns, lowercased */
	pat_smap eic;       /* fold key -> first candidate in eic_list */
	uint32_t *eic_next; /* chain of candidates: eic ment -> next (UINT32_MAX ends) */
	uint32_t *gen;      /* generic matchers: indexes into set->gm */
	uint32_t ngen;
	bool need_num, need_ip;
	uint32_t ment_exists; /* UINT32_MAX or ment */
} pat_field;

/* Trie of path segments: node 0 is the root. */
typedef struct pat_node {
	int32_t field;     /* leaf field id or -1 */
	uint32_t nchild;   /* used children */
	uint32_t slot;     /* index of this node among its parent's children (for seen masks) */
} pat_node;

enum { PAT_C_POS = 0, PAT_C_ABS = 1, PAT_C_MIX = 2 };

typedef struct pat_bcond {
	uint32_t pred;
	uint32_t field;
	uint8_t kind;
} pat_bcond;

typedef struct pat_br {
	uint32_t rule;    /* index in rule_ids */
	uint32_t cond_off;
	uint16_t nc;
	uint16_t npos;    /* POS + MIX? no: number of POS conditions that must be hit */
	uint8_t simple;   /* only POS conditions */
} pat_br;

struct pat_set {
	atomic_uint refs;
	char *blob;
	size_t blob_len;
	/* path trie */
	pat_node *nodes;
	uint32_t nnodes;
	pat_smap kids;   /* key: 4-byte parent id + segment bytes (in blob) -> child node */
	/* fields */
	pat_field *fields;
	uint32_t nfields;
	/* matchers */
	pat_ment *ments;
	uint32_t nments;
	uint32_t *pred_lists;
	uint32_t *alias_next; /* affix ments sharing one key (case-insensitive variants): chain */
	uint32_t *ment_soff, *ment_slen; /* equals-ignore-case ments: the pattern text (for confirmation) */
	pat_matcher *gm;  /* generic matchers */
	uint32_t *gm_ment;
	uint32_t ngm;
	/* predicates and branches */
	uint32_t *pred_branch;
	uint32_t npreds;
	pat_br *br;
	uint32_t nbr;
	pat_bcond *conds;
	uint32_t *always;  /* branches with no POS condition: checked on every event */
	uint32_t nalways;
	uint32_t *rule_ids;
	uint32_t nrules;
	size_t memory;
};

/* lookups */
uint32_t pat_smap_get(const pat_set *s, const pat_smap *m, const char *k, size_t n, uint64_t h);
uint32_t pat_nmap_get(const pat_nmap *m, uint64_t key);
uint32_t pat_set_child(const pat_set *s, uint32_t parent, const char *seg, size_t n);

#define PAT_NONE UINT32_MAX

#endif /* PAT_SET_H */
