/* node/xform/xform_int.h — internals of node/xform/ shared by its files (not a public header; unit
 * tests include it to test the pieces).
 *
 *   xbuf       a growable output buffer with a hard maximum; the first failure sticks, so callers
 *              append freely and check once.
 *   xj_*       a strict RFC 8259 JSON scanner (UTF-8 checked, no number range limits, original text
 *              kept). It either records a flat node array of a document (events) or validates and
 *              minifies text into an xbuf (rendered JSON templates, value spans).
 *   xpath_*    the JSONPath subset AWS accepts, parsed once and evaluated on a node array.
 *
 * Threads: all reentrant; nothing global.
 */
#ifndef XFORM_INT_H
#define XFORM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xform.h"

/* ---- output buffer ------------------------------------------------------------------------- */
typedef struct xbuf {
	char *p;
	size_t len, cap, max;
	bb_err err; /* BB_OK, BB_ENOMEM or BB_ETOOBIG (first failure) */
} xbuf;

void xbuf_init(xbuf *b, size_t max);
void xbuf_free(xbuf *b);
void xbuf_add(xbuf *b, const char *s, size_t n);
void xbuf_addc(xbuf *b, char c);
/* Appends s as a JSON string literal (quotes added, ", \ and controls escaped). */
void xbuf_add_json_str(xbuf *b, const char *s, size_t n);
/* Ensures a terminating NUL after len (not counted) and hands the text over; b is left empty. */
char *xbuf_take(xbuf *b, size_t *len);

/* ---- JSON scanner ---------------------------------------------------------------------------- */
#define XJ_MAX_DEPTH 2048

typedef enum xj_type { XJ_NULL, XJ_FALSE, XJ_TRUE, XJ_NUM, XJ_STR, XJ_ARR, XJ_OBJ } xj_type;

/* One value of a document, in document order. A container's children follow it; `next` is the index
 * just past its subtree, so children are walked with c = i + 1; c < nodes[i].next; c = nodes[c].next. */
typedef struct xj_node {
	uint32_t start, len;  /* the value's text (strings include their quotes) */
	uint32_t key, klen;   /* member of an object: the key's text between the quotes */
	uint32_t next;        /* index of the first node after this subtree */
	uint8_t type;         /* xj_type */
	uint8_t key_esc;      /* the key contains a backslash escape */
} xj_node;

typedef struct xj_doc {
	const char *text;
	size_t len;
	xj_node *nodes;
	size_t n, cap;
	bool spaced; /* insignificant whitespace occurred inside the value (spans are not minified) */
} xj_doc;

/* Parses exactly one JSON value (whitespace around it allowed) into d (d->text borrows text).
 * BB_OK, BB_EINVAL (not valid JSON, or nested deeper than XJ_MAX_DEPTH), BB_ETOOBIG, BB_ENOMEM.
 * Free with xj_doc_free in every case. */
bb_err xj_parse(xj_doc *d, const char *text, size_t len);
void xj_doc_free(xj_doc *d);

/* Validates that text is exactly one JSON value (whitespace around it allowed). When out is not
 * NULL, appends its minified form (insignificant whitespace dropped, every other byte kept) and,
 * with strip_quotes, without any '"' character. Returns true when valid. */
bool xj_minify(const char *text, size_t len, xbuf *out, bool strip_quotes);

/* Appends the decoded content of a validated JSON string literal body (between the quotes). Lone
 * surrogate escapes decode to U+FFFD. */
void xj_unescape(const char *s, size_t n, xbuf *out);

/* Does member key (node k of d) equal name[0..n)? Handles escaped keys. */
bool xj_key_eq(const xj_doc *d, const xj_node *k, const char *name, size_t n);

/* Appends node i's text: minified (and, with strip_quotes, without '"' characters). */
void xj_emit(const xj_doc *d, size_t i, xbuf *out, bool strip_quotes);

/* ---- JSONPath ------------------------------------------------------------------------------- */
typedef enum xpath_kind { XP_NAME, XP_INDEX, XP_WILD } xpath_kind;

typedef struct xpath_step {
	uint8_t kind;       /* xpath_kind */
	int32_t index;      /* XP_INDEX: >= 0 from the start, < 0 from the end (-1 = last) */
	uint32_t off, len;  /* XP_NAME: the name within xpath.text */
} xpath_step;

typedef struct xpath {
	char *text;         /* owned copy of the path */
	xpath_step *steps;
	size_t nsteps;
	bool wild;          /* contains a wildcard: the result is an array of every match */
} xpath;

/* Parses a path (grammar in docs/transform.md). BB_OK, BB_EINVAL or BB_ENOMEM; on failure p is
 * empty. Free with xpath_free. */
bb_err xpath_parse(const char *s, size_t n, xpath *p);
void xpath_free(xpath *p);

/* Evaluates a path without wildcards: the node index, or -1 when absent. */
long xpath_find(const xpath *p, const xj_doc *d);

/* Evaluates a path with wildcards: appends a JSON array of every match (document order) to out. */
void xpath_collect(const xpath *p, const xj_doc *d, xbuf *out);

/* ---- a compiled transformation ------------------------------------------------------------------ */
typedef enum xform_kind { XF_INPUT, XF_PATH, XF_TEMPLATE } xform_kind;

/* Template kinds (docs/transform.md "Templates"): by the first non-whitespace character. */
typedef enum xtmpl_kind {
	XT_JSON,   /* { or [ : rendered, then must be one valid JSON value; delivered minified */
	XT_STRING, /* "      : rendered and delivered verbatim */
	XT_BARE    /* other  : rendered like a string template, then must be one valid JSON value */
} xtmpl_kind;

typedef enum xvar_kind { XV_PATH, XV_RULE_ARN, XV_RULE_NAME, XV_INGEST, XV_EVENT, XV_EVENT_JSON } xvar_kind;

/* Where a placeholder sits, which decides how a value is written (docs/transform.md "Values"). */
typedef enum xctx_kind {
	XC_UNQUOTED, /* JSON template, outside a string literal */
	XC_QUOTED,   /* JSON template, inside a string literal */
	XC_STRING    /* string or bare template */
} xctx_kind;

typedef struct xvar {
	char *name;  /* the placeholder name (owned) */
	uint8_t kind; /* xvar_kind */
	xpath path;  /* XV_PATH */
} xvar;

/* One piece of a template: literal text, then optionally a placeholder. */
typedef struct xseg {
	uint32_t off, len; /* literal text within xform.text */
	int32_t var;       /* index into xform.vars, or -1 (literal only) */
	uint8_t ctx;       /* xctx_kind */
} xseg;

struct xform {
	uint8_t kind;      /* xform_kind */
	uint8_t tkind;     /* xtmpl_kind (XF_TEMPLATE) */
	bool needs_event;  /* some variable reads the event */
	char *text;        /* XF_INPUT: the Input; XF_TEMPLATE: the template (owned) */
	size_t text_len;
	xpath path;        /* XF_PATH */
	xvar *vars;
	size_t nvars;
	xseg *segs;
	size_t nsegs;
};

#endif /* XFORM_INT_H */
