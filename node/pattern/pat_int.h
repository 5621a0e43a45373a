/* node/pattern/pat_int.h — private types shared by the files of node/pattern/ (never included outside).
 *
 * Pipeline: pat_json.c (Jackson-compatible pull tokenizer for pattern text) → pat_compile.c (validator and
 * compiler, event-ruler's JsonRuleCompiler with the RuleCompiler fallback) → pat_rule: a list of branches
 * ($or expanded), each a list of conditions (flattened dotted path + the value matchers OR'ed for it).
 * pat_set.c turns many rules into per-field value indexes (hash tables, length-bucketed prefix/suffix
 * tables, interval lists) plus a branch table; pat_event.c walks the event bytes once and feeds each
 * leaf value of a used path to pat_match.c, which combines predicates with per-branch counters and an
 * array-consistency check (pat_ac.c) when values come from arrays of objects.
 */
#ifndef PAT_INT_H
#define PAT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include "pat.h"

/* ---- small growable buffer ---------------------------------------------------------------------- */
typedef struct pat_buf {
	char *p;
	size_t len, cap;
} pat_buf;

bb_err pat_buf_put(pat_buf *b, const void *d, size_t n);
bb_err pat_buf_putc(pat_buf *b, char c);
/* pat_buf_put with 'A'..'Z' lowercased on the way (other bytes as they are). */
bb_err pat_buf_put_lower(pat_buf *b, const char *d, size_t n);
void pat_buf_free(pat_buf *b);

/* Hashing. Keys are hashed as their first 16 bytes (two zero-padded little-endian words, which the
 * matcher already holds in a register when it finds a key's end) plus the rest in 8-byte words:
 * pat_hash(p, n, seed) == pat_hash16(w0, w1, n, seed) for n <= 16, where pat_words gives w0/w1. */
static inline uint64_t pat_mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

static inline uint64_t pat_hash16(uint64_t w0, uint64_t w1, size_t n, uint64_t seed)
{
	uint64_t h = (w0 ^ seed) * 0x9E3779B97F4A7C15ULL;
	h ^= (w1 + (uint64_t)n) * 0xC2B2AE3D27D4EB4FULL;
	return pat_mix(h);
}

/* The first 16 bytes of p[0..n) as two zero-padded words. */
static inline void pat_words(const void *p, size_t n, uint64_t *w0, uint64_t *w1)
{
	unsigned char b[16] = {0};
	if (n)
		memcpy(b, p, n < 16 ? n : 16);
	memcpy(w0, b, 8);
	memcpy(w1, b + 8, 8);
}

uint64_t pat_hash(const void *p, size_t n, uint64_t seed);

/* calloc(n, size) for the hash tables: from 2 MiB up, 2 MiB-aligned and advised MADV_HUGEPAGE (freed
 * with free). NULL when out of memory. */
void *pat_table_calloc(size_t n, size_t size);

/* ---- numbers (pat_num.c) ------------------------------------------------------------------------ */
/* Parses JSON number text. Returns true and *out when the number is "comparable" in event-ruler's
 * sense: finite as a double and exactly equal (by decimal value) to Java's Double.toString of that
 * double. Otherwise false (the number then matches only by identical text). -0 is folded to +0. */
bool pat_num_comparable(const char *s, size_t n, double *out);
/* A number's text already split by a scan: value = ±M · 10^-f with k significant digits, for a plain
 * [-]digits[.digits] of at most 19 significant digits (plain false otherwise: then only s/n count). */
typedef struct pat_numparts {
	uint64_t M;
	int16_t k, f;
	bool neg, plain;
} pat_numparts;
bool pat_num_comparable_parts(const pat_numparts *t, const char *s, size_t n, double *out);

/* ---- case folding (pat_fold.c) ------------------------------------------------------------------ */
/* Java String.toLowerCase/toUpperCase(Locale.ROOT) of one code point, as UTF-8 (up to 12 bytes).
 * Returns the byte length written to out. */
size_t pat_case_lower(uint32_t cp, char out[12]);
size_t pat_case_upper(uint32_t cp, char out[12]);
/* Canonical fold key of a UTF-8 string (lower(upper(c)) per code point, ß/ﬀ-style expansions kept
 * as their upper form lowered) used only to hash; the exact comparison is pat_eic_equal. */
bb_err pat_fold_key(const char *s, size_t n, pat_buf *out);
/* Decodes one UTF-8 code point at s[0..n). Invalid bytes decode as themselves (one byte, cp = byte
 * | 0x80000000). Returns the length consumed (>= 1). */
size_t pat_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* ---- IP / CIDR (pat_ip.c) ----------------------------------------------------------------------- */
/* Parses an IP literal the way event-ruler (java.net.InetAddress on regex-checked text) does.
 * Returns 4 (IPv4 or IPv4-mapped IPv6), 16 (IPv6) or 0 when not an IP address. */
int pat_ip_parse(const char *s, size_t n, uint8_t out[16]);

/* ---- matchers ----------------------------------------------------------------------------------- */
typedef enum pat_mkind {
	PM_EXACT_STR = 0, /* s: decoded string */
	PM_EXACT_NUM,     /* d: comparable number */
	PM_EXACT_NUMTEXT, /* s: number text that is not comparable (matches identical text only) */
	PM_NULL,
	PM_TRUE,
	PM_FALSE,
	PM_PREFIX,    /* s */
	PM_PREFIX_IC, /* s */
	PM_SUFFIX,    /* s */
	PM_SUFFIX_IC, /* s */
	PM_EIC,       /* s: equals-ignore-case */
	PM_WILDCARD,  /* s: raw wildcard text (escapes kept) */
	PM_RANGE,     /* lo/hi + open flags */
	PM_CIDR,      /* ip lo/hi, fam (4/16) */
	PM_EXISTS,
	PM_ABSENT,
	PM_AB_STR,      /* vals: strings */
	PM_AB_NUM,      /* nums */
	PM_AB_PREFIX,   /* vals */
	PM_AB_SUFFIX,   /* vals */
	PM_AB_EIC,      /* vals */
	PM_AB_WILDCARD, /* vals */
	PM_KIND_COUNT
} pat_mkind;

typedef struct pat_str {
	char *p;
	uint32_t n;
} pat_str;

typedef struct pat_matcher {
	pat_mkind kind;
	bool open_lo, open_hi; /* PM_RANGE */
	uint8_t fam;           /* PM_CIDR: 4 or 16 */
	double lo, hi;         /* PM_RANGE; PM_EXACT_NUM uses lo */
	uint8_t ip_lo[16], ip_hi[16];
	pat_str s;       /* single-string kinds */
	pat_str *vals;   /* anything-but string lists */
	double *nums;    /* PM_AB_NUM */
	uint32_t nvals;  /* count of vals or nums */
} pat_matcher;

/* One condition of a branch: a flattened path and the matchers OR'ed on it. */
typedef struct pat_cond {
	pat_str path;
	pat_matcher *m;
	uint32_t nm;
} pat_cond;

/* One branch ($or expanded): conditions sorted by path (byte order), ANDed. */
typedef struct pat_branch {
	pat_cond *c;
	uint32_t nc;
} pat_branch;

struct pat_rule {
	pat_branch *b;
	uint32_t nb;
	size_t bytes; /* memory held, for accounting */
};

/* Deep copy / free helpers (pat_rule.c). */
void pat_matcher_free(pat_matcher *m);
bb_err pat_matcher_copy(pat_matcher *dst, const pat_matcher *src);
bool pat_matcher_equal(const pat_matcher *a, const pat_matcher *b);
uint64_t pat_matcher_hash(const pat_matcher *m);
void pat_branch_free(pat_branch *b);
pat_rule *pat_rule_clone(const pat_rule *r);

/* ---- value tests (pat_value.c) ------------------------------------------------------------------ */
/* The kinds of event leaf values. */
typedef enum pat_vtype { PV_STR = 0, PV_NUM, PV_NULL, PV_TRUE, PV_FALSE } pat_vtype;

typedef struct pat_value {
	pat_vtype t;
	const char *s; /* decoded string / number text */
	size_t n;
	int numstate; /* 0 = not parsed yet, 1 = comparable (d valid), -1 = not comparable */
	double d;
	int ipstate;  /* 0 = not parsed, else 4/16, -1 = not an IP */
	uint8_t ip[16];
	bool hw;        /* w0/w1 hold the first 16 bytes of s, zero-padded (set by the walk) */
	uint64_t w0, w1;
	bool parts;     /* nparts holds s split by the walk's number scan */
	pat_numparts nparts;
} pat_value;

/* Is v matched by m (the ER semantics of one matcher on one leaf value)? */
bool pat_value_match(const pat_matcher *m, pat_value *v);
bool pat_prefix_match(const char *p, size_t pn, const char *v, size_t vn, bool ic);
bool pat_suffix_match(const char *p, size_t pn, const char *v, size_t vn, bool ic);
bool pat_eic_equal(const char *p, size_t pn, const char *v, size_t vn);
/* Wildcard (ER escapes: \* and \\) match of the whole value. Linear-time two-pointer algorithm. */
bool pat_wildcard_match(const char *w, size_t wn, const char *v, size_t vn);
/* Validates wildcard text: "" on success or ER's reason into reason. */
bool pat_wildcard_check(const char *w, size_t wn, char *reason, size_t cap);
/* Complexity of a set of wildcard patterns on one field (max wildcard-prefixes matching one input). */
unsigned pat_wildcard_complexity(const pat_str *w, size_t nw, unsigned limit);

/* ---- event walking (pat_event.c) ---------------------------------------------------------------- */
/* Returns the end of the JSON string starting at s (s[0] == '"'), i.e. the closing quote, or NULL if
 * unterminated/invalid. *esc is set when the string contains a backslash. */
const char *pat_scan_string(const char *s, const char *end, bool *esc);
/* Decodes JSON string content (between quotes) into out, Jackson-style (lone surrogates become '?').
 * Returns false on an invalid escape or control character. */
bool pat_decode_string(const char *s, size_t n, pat_buf *out);
/* Full RFC 8259 validation of one JSON text (used by pat_match_rule). */
bool pat_json_valid(const char *s, size_t n);

#define PAT_MAX_EVENT_DEPTH 1000

#endif /* PAT_INT_H */
