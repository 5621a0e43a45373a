/* node/xform/xform.h — EventBridge target input transformation (prefix xform_). The one public
 * header of node/xform/. Used by PutTargets (validation) and by the delivery engine (one payload per
 * delivery).
 *
 * Semantics: ../shared/reference/eventbridge-api.md §5 and docs/transform.md (rules table and the
 * choices made where AWS is unclear). A target has at most one of
 *   Input            constant JSON text, delivered verbatim instead of the event;
 *   InputPath        a JSONPath into the event; its value is delivered as JSON text;
 *   InputTransformer {InputPathsMap?, InputTemplate}: variables bound to JSONPaths, substituted into
 *                    the template as <name> (plus five reserved aws.events.* variables).
 * With none of them the matched event is delivered as is.
 *
 * Shape: xform_compile() validates once (at PutTargets and whenever the delivery side loads a
 * target) into an immutable xform; xform_apply() renders one delivery: it parses the event once
 * (its own tokenizer, original number and string text kept), evaluates each variable the template
 * uses once, and writes the payload in time linear in the event and the output.
 *
 * Threads: every function is reentrant; a compiled xform is immutable and may be shared by any
 * number of threads applying it concurrently. No global state.
 */
#ifndef XFORM_H
#define XFORM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../../common/bb.h"

/* Largest payload xform_apply produces; a bigger one (a template repeating large variables) fails
 * with BB_ETOOBIG and is not delivered. */
#define XFORM_MAX_OUTPUT ((size_t)4 << 20)

/* Largest event xform_apply accepts (byte offsets are 32-bit); bigger events fail with BB_ETOOBIG. */
#define XFORM_MAX_EVENT ((size_t)64 << 20)

/* Suggested size of the message buffer of xform_compile: every message fits whole, including a
 * placeholder name as long as the longest (8192-character) template. */
#define XFORM_MSG_MAX 9216

typedef struct xform xform;

/* Validates and compiles a target's input settings; each of input (the Input string), input_path
 * (InputPath) and input_transformer (the InputTransformer JSON object {InputPathsMap?, InputTemplate})
 * may be NULL. target_id is used in messages (NULL reads as ""). Returns BB_OK with *out (NULL when
 * all three are NULL: deliver the matched event as is), or BB_EINVAL with msg = AWS's
 * ValidationException text (e.g. "Only one of Input, InputPath, or InputTransformer must be provided
 * for target <Id>.", "InputTemplate for target <Id> contains invalid placeholder x.", an invalid
 * JSONPath, more than 100 paths, a reserved variable name defined in the map, Input not valid JSON
 * text; the full list is in docs/transform.md), or BB_ENOMEM.
 *
 * Ownership: the arguments are borrowed for the call only (everything needed is copied); on BB_OK
 * the caller owns *out and frees it with xform_free. On failure *out is NULL. msg (cap bytes, may be
 * NULL when cap is 0) is always NUL-terminated when cap > 0; on BB_OK it is set to "".
 * Model constraints (lengths, the key pattern) are the API layer's job and are checked first there;
 * this function re-checks what it relies on, so it is safe on any input. Thread: any. */
bb_err xform_compile(const char *target_id, const char *input, const char *input_path,
		     const json_t *input_transformer, xform **out, char *msg, size_t cap);

/* Frees a compiled transformation; NULL is ignored. Thread: any, once no apply is using it. */
void xform_free(xform *x);

/* Per-delivery context of the reserved variables. Any field may be NULL/0 (the variable then reads
 * as missing: "" unquoted in a JSON template, empty text elsewhere). ingest_ms is the time the event
 * was received (ms since the Unix epoch); <aws.events.event.ingestion-time> renders it as
 * YYYY-MM-DDThh:mm:ss.sssZ (UTC). */
typedef struct xform_ctx {
	const char *rule_arn, *rule_name;
	int64_t ingest_ms;
} xform_ctx;

/* Produces the payload of one delivery from the event envelope JSON (compact, as delivered; len
 * bytes, need not be NUL-terminated). x NULL = a copy of the event. ctx may be NULL (all reserved
 * variables missing).
 *
 * Returns BB_OK with *out a malloc'd NUL-terminated text of *out_len bytes (owned by the caller, free
 * with free(); the text may itself contain NUL bytes when a string template inserts a decoded
 * "\u0000"), or — with *out NULL and *out_len 0 — one of:
 *   BB_EINVAL  the result is not deliverable: AWS silently drops it (the event is not valid JSON,
 *              a JSON template renders invalid JSON such as an object variable inside quotes, an
 *              unquoted string template renders invalid JSON, the InputPath is absent from the event);
 *   BB_ETOOBIG the event exceeds XFORM_MAX_EVENT or the payload would exceed XFORM_MAX_OUTPUT;
 *   BB_ENOMEM.
 * Any result other than BB_OK means: do not deliver (and do not retry: the same event gives the
 * same answer). Never crashes on any input. Thread-safe: x is immutable after compile. */
bb_err xform_apply(const xform *x, const char *event, size_t len, const xform_ctx *ctx, char **out,
		   size_t *out_len);

#endif /* XFORM_H */
