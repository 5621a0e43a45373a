/* node/pattern/pat_json.h — private: a pull tokenizer over pattern text that behaves like Jackson's
 * ReaderBasedJsonParser (the parser event-ruler and AWS use), including the exact texts of its error
 * messages and the order in which errors surface (field values are pre-lexed with their names, string
 * contents are decoded lazily), so that the compiler above it reports the same first error as AWS.
 * Errors longjmp to the jmp_buf the caller installed in pj.fail, with the message in pj.err.
 */
#ifndef PAT_JSON_H
#define PAT_JSON_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

#include "pat_int.h"

typedef enum pj_tok {
	PJ_NONE = 0, /* end of input at the root (Jackson's null token) */
	PJ_START_OBJECT,
	PJ_END_OBJECT,
	PJ_START_ARRAY,
	PJ_END_ARRAY,
	PJ_FIELD_NAME,
	PJ_STRING,
	PJ_INT,
	PJ_FLOAT,
	PJ_TRUE,
	PJ_FALSE,
	PJ_NULL
} pj_tok;

#define PJ_MAX_CTX 1100

typedef struct pj_ctx {
	char type;       /* 'r' root, 'a' array, 'o' object */
	bool expect_comma;
	size_t start;    /* byte offset of the opening marker (root: 0) */
} pj_ctx;

typedef struct pj {
	const char *src;
	size_t len, pos;
	size_t row, row_start; /* Jackson's line tracking (only in whitespace) */
	size_t tok_start;      /* offset of the current token */
	pj_tok cur;
	pj_tok next_after_name; /* value pre-lexed together with a field name */
	size_t next_start;
	bool str_incomplete;    /* current/next string token not decoded yet */
	size_t str_start;       /* offset of the opening quote of that string */
	pat_buf name;           /* current field name (decoded) */
	pat_buf text;           /* decoded string text */
	size_t num_start, num_len;
	pj_ctx ctx[PJ_MAX_CTX];
	int depth;
	unsigned max_depth;
	jmp_buf *fail;
	bb_err fail_code;
	/* event-ruler's try/catch regions the parse is inside: catch_io re-raises any error (its message,
	 * location included) with the location appended again (the anything-but list loops); catch_iae
	 * raises an IllegalArgumentException's bare message with a location (the numeric expression) */
	int catch_io, catch_iae;
	unsigned loc_bump; /* an error about the byte at pos: Jackson has read it (its column is past it) */
	char err[PAT_REASON_MAX];
	size_t err_base; /* err's message without the locations */
} pj;

void pj_init(pj *p, const char *src, size_t len, unsigned max_depth, jmp_buf *fail);
void pj_free(pj *p);
/* Advances to the next token (Jackson nextToken()). */
pj_tok pj_next(pj *p);
/* Text of the current token (Jackson getText()); decodes strings on demand. */
void pj_text(pj *p, const char **s, size_t *n);
/* Raises an error with the given message (ER's barf: a JsonParseException at the parser's current
 * location, which Java's getLocalizedMessage() appends as "\n at [Source: ...; line: L, column: C]",
 * once more per enclosing catch_io region). Never returns. */
_Noreturn void pj_fail(pj *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Raises an IllegalArgumentException's message (ER's CIDR and ComparableNumber): bare, or with one
 * location inside a catch_io or catch_iae region (which re-raise it as a barf). Never returns. */
_Noreturn void pj_fail_iae(pj *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void pj_oom(pj *p);
static inline bool pj_is_number(pj_tok t) { return t == PJ_INT || t == PJ_FLOAT; }

#endif /* PAT_JSON_H */
