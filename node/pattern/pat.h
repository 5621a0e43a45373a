/* node/pattern/pat.h — the EventBridge event-pattern engine (prefix pat_). The one public header of
 * node/pattern/. Used by TestEventPattern, by every bus's matcher, and later by archives/replays.
 *
 * Semantics: ../shared/reference/eventbridge-api.md §3 (event-ruler's, array-consistent).
 * Shape:
 *   pat_compile()  parses and validates one pattern (our own tokenizer: duplicate keys last-wins,
 *                  number text kept) into an immutable pat_rule, or fails with AWS's reason text.
 *   pat_builder    a mutable set of rules keyed by caller-chosen 32-bit ids; add/remove are
 *                  incremental (no rebuild of the world). pat_builder_publish() returns an
 *                  immutable, refcounted pat_set that matching threads use while the owner thread
 *                  keeps editing the builder (atomic swap of the published pointer is the caller's).
 *   pat_match()    one pass over the event bytes, no allocation per event (scratch is per thread),
 *                  returns the ids of every rule in the set that matches; stops reading once
 *                  nothing later in the event can change that.
 *
 * Threads: pat_compile, pat_rule_*, pat_match_rule are reentrant. A pat_builder belongs to one
 * thread. A published pat_set is immutable and may be shared by any number of matching threads,
 * each with its own pat_scratch.
 */
#ifndef PAT_H
#define PAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/bb.h"

/* Limits applied at compile time. Zero fields take AWS's defaults. */
typedef struct pat_limits {
	size_t max_pattern_bytes;     /* 0 = no length limit here (the API layer checks 4096) */
	unsigned max_or_combinations; /* 0 = 1000 */
	unsigned max_wildcard_complexity; /* 0 = 10 (event-ruler's MachineComplexityEvaluator) */
	unsigned max_depth;           /* 0 = 64 nesting levels */
} pat_limits;

/* Room for a reason: the message, and up to three Jackson locations each quoting up to 500
 * characters of the pattern (event-ruler's texts, as AWS returns them). */
#define PAT_REASON_MAX 8192

typedef struct pat_rule pat_rule;
typedef struct pat_builder pat_builder;
typedef struct pat_set pat_set;
typedef struct pat_scratch pat_scratch;

/* Compiles one pattern. On success *out owns a new rule (free with pat_rule_free). On failure returns
 * BB_EPATTERN with AWS's reason text (without the "Event pattern is not valid. Reason: " prefix; with
 * the "\n at [Source: ...]" location(s) AWS appends) in reason[cap] (PAT_REASON_MAX holds any), or
 * BB_ENOMEM. limits may be NULL (defaults). */
bb_err pat_compile(const char *json, size_t len, const pat_limits *limits, pat_rule **out, char *reason,
		   size_t cap);
void pat_rule_free(pat_rule *r);

/* Matches one event against one compiled rule (TestEventPattern). Returns BB_OK and *matched, or
 * BB_EINVAL when event is not a well-formed JSON value. */
bb_err pat_match_rule(const pat_rule *r, const char *event, size_t len, bool *matched);

/* Builder: a mutable set of rules. */
pat_builder *pat_builder_new(void);
void pat_builder_free(pat_builder *b);
/* Adds (or replaces) rule id with a copy of what r needs; r stays owned by the caller. */
bb_err pat_builder_add(pat_builder *b, uint32_t id, const pat_rule *r);
/* Removes rule id; BB_ENOTFOUND if absent. */
bb_err pat_builder_remove(pat_builder *b, uint32_t id);
size_t pat_builder_count(const pat_builder *b);
/* Returns an immutable snapshot of the current rules with one reference for the caller. */
pat_set *pat_builder_publish(pat_builder *b);

void pat_set_retain(pat_set *s);
void pat_set_release(pat_set *s);
size_t pat_set_count(const pat_set *s);
/* Bytes of memory the set holds (for bytes_per_rule and metrics). */
size_t pat_set_memory(const pat_set *s);

/* Per-thread matching scratch. */
pat_scratch *pat_scratch_new(void);
void pat_scratch_free(pat_scratch *sc);

/* Matches event against every rule of s. Writes up to cap matching ids (each once, any order) into
 * ids and the total number of matches into *n (may exceed cap); ids[*n..cap) may be written too
 * (their contents mean nothing). Returns BB_OK, or BB_EINVAL when the
 * event is not one well-formed JSON object (then *n = 0). The event is meant to be well-formed (the
 * data plane builds it; pat_match_rule checks it first): the walk stops reading once nothing later can
 * change the result, and jumps over members whose keys cannot be used, so a malformed event may also
 * get an answer when its malformed bytes come after that point or inside such members. Never reads
 * outside event[0..len). No allocation once the scratch has warmed up. */
bb_err pat_match(const pat_set *s, pat_scratch *sc, const char *event, size_t len, uint32_t *ids, size_t cap,
		 size_t *n);

/* One event of pat_match_batch: event/len/ids/cap as for pat_match (borrowed for the call); n and
 * err are its results. */
typedef struct pat_batch_item {
	const char *event;
	size_t len;
	uint32_t *ids;
	size_t cap;
	size_t n;
	bb_err err;
} pat_batch_item;

/* pat_match for each of items[0..count), with the same results, faster on large sets: an event's
 * deferred hash probes (their cache lines prefetched during its walk) run after the next event's
 * walk, so their memory latency overlaps it. Uses sc and, from its first batch of two or more
 * events, a second scratch it keeps (freed with sc). Same thread rules as pat_match. */
void pat_match_batch(const pat_set *s, pat_scratch *sc, pat_batch_item *items, size_t count);

/* Which SIMD code pat_match uses, for tests and benchmarks: 0 = portable SSE2, 1 = AVX2 + PCLMUL (if
 * the CPU has them), 2 = that with AVX-512BW for the early-stop scan (a level above what the CPU has
 * gives the highest it has), -1 = the default, chosen at first use: the best the CPU has, except that
 * the AVX-512BW scan is chosen on Intel only (slower on AMD Zen 4, pat_walk.c). Returns the level now
 * in force. Process-wide; call before matching starts. */
int pat_simd_set(int level);
#define PAT_SIMD_HIGHEST 2 /* pat_simd_set(PAT_SIMD_HIGHEST): the highest level this CPU has */

#endif /* PAT_H */
