/* tests/unit/pat_ref.h — a deliberately simple reference matcher for EventBridge event patterns, used only
 * by tests (test_pat_ref.c checks it against the conformance corpus, test_pat_diff.c compares the real
 * engine in node/pattern/ against it). It shares no code with the engine.
 *
 * Design: no optimisation at all. The pattern and the event are parsed into trees by a small JSON parser
 * of its own (object members kept in document order, duplicates included; number text kept as
 * written; strings decoded to UTF-8). The pattern is compiled the way aws/event-ruler's JsonRuleCompiler
 * does (path-level last-wins, `$or` expanded into sub-rules, legacy fallback that treats `$or` as a plain
 * field name when the `$or` reading fails). The event is flattened into (dotted path, leaf value, array
 * membership) fields, and each sub-rule is evaluated by a recursive search over its keys in sorted
 * order with event-ruler's array-consistency rule. support_pat_ref.c's header comment lists every
 * semantic decision and every known gap.
 *
 * Threads: all functions are reentrant; a pat_ref is immutable after compile.
 */
#ifndef PAT_REF_H
#define PAT_REF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pat_ref pat_ref;

/* Compiles one pattern (json[len], need not be NUL-terminated). Returns a new pat_ref (free with
 * pat_ref_free) or NULL when the pattern is invalid; then a human-readable reason (event-ruler's
 * wording where cheap, not guaranteed exact) is written to reason[cap] if reason is not NULL.
 * Allocation failure aborts (test code). */
pat_ref *pat_ref_compile(const char *json, size_t len, char *reason, size_t cap);
void pat_ref_free(pat_ref *r);

/* Number of sub-rules after `$or` expansion (for tests). */
size_t pat_ref_subrules(const pat_ref *r);

/* Matches event[len] against r. Returns 1 (match), 0 (no match; also when the event is well-formed
 * JSON but not an object), -1 (event is not well-formed JSON). */
int pat_ref_match(const pat_ref *r, const char *event, size_t len);

/* Exposed for the tests' own edge-case checks. */
/* True when the JSON number text num[len] is "comparable" in event-ruler's sense: finite as a double
 * and its exact decimal value equals the shortest round-trip decimal of that double. */
bool pat_ref_number_comparable(const char *num, size_t len);

#endif /* PAT_REF_H */
