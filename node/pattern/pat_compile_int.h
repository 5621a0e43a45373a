/* node/pattern/pat_compile_int.h — private to the pattern compiler (pat_compile.c: structure, $or,
 * limits; pat_compile_ops.c: the value matchers and operator objects).
 */
#ifndef PAT_COMPILE_INT_H
#define PAT_COMPILE_INT_H

#include "pat_json.h"

/* one branch under construction: path -> matchers */
typedef struct cent {
	char *path;
	size_t plen;
	pat_matcher *m;
	uint32_t nm;
} cent;

typedef struct cbr {
	cent *e;
	uint32_t n, cap;
} cbr;

typedef struct cbrs {
	cbr *v;
	uint32_t n, cap;
} cbrs;

typedef struct mlist {
	pat_matcher *m;
	uint32_t n, cap;
} mlist;

typedef struct cc {
	pj j;
	bool legacy;
	unsigned max_or;
	pat_buf path;         /* current dotted path prefix */
	cbrs rules;
	/* temporaries freed on error */
	mlist vals;           /* matchers of the array being parsed */
	pat_matcher tmp;      /* matcher being built */
	cbrs stack[64];       /* $or copies in flight (bounded by depth) */
	int nstack;
} cc;

/* pat_compile.c */
/* A NUL-terminated copy of s[0..n) (raises out-of-memory through the tokenizer). */
char *pat_cc_dup_text(cc *c, const char *s, size_t n);

/* pat_compile_ops.c */
/* The current string token as a matcher of kind k (text copied). */
void pat_cc_set_str(cc *c, pat_matcher *m, pat_mkind k);
/* Does s[0..n) look like an IP literal to event-ruler (its regex)? */
bool pat_cc_is_ip_regex(const char *s, size_t n);
/* One element of a value array that is an object: an operator ({"prefix": ...}, ...), appended to
 * c->vals; current token START_OBJECT. (event-ruler's processMatchExpression) */
void pat_cc_match_expr(cc *c);

#endif /* PAT_COMPILE_INT_H */
