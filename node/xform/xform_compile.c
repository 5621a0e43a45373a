/* node/xform/xform_compile.c — validation of a target's Input / InputPath / InputTransformer and
 * compilation into an immutable xform (reference §5; messages and choices in docs/transform.md).
 *
 * A template is split once into segments "literal text, then a placeholder", each placeholder
 * tagged with its context: inside or outside a JSON string literal of a JSON template, or in a
 * string template. Placeholders are `<name>` with name made of [A-Za-z0-9_.-] (any other `<` is
 * literal text); every one must be a key of InputPathsMap or a reserved aws.events.* variable.
 * Variables are deduplicated so a repeated placeholder is evaluated once per delivery.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xform_int.h"

#define MAX_PATHS 100
#define MAX_KEY 256

static const struct {
	const char *name;
	xvar_kind kind;
} reserved[] = {
	{"aws.events.rule-arn", XV_RULE_ARN},
	{"aws.events.rule-name", XV_RULE_NAME},
	{"aws.events.event.ingestion-time", XV_INGEST},
	{"aws.events.event", XV_EVENT},
	{"aws.events.event.json", XV_EVENT_JSON},
};

static int reserved_kind(const char *name, size_t n)
{
	for (size_t i = 0; i < BB_ARRAY_LEN(reserved); i++)
		if (strlen(reserved[i].name) == n && memcmp(reserved[i].name, name, n) == 0)
			return (int)reserved[i].kind;
	return -1;
}

static bb_err fail(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bb_err fail(char *msg, size_t cap, const char *fmt, ...)
{
	if (cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, cap, fmt, ap);
		va_end(ap);
	}
	return BB_EINVAL;
}

void xform_free(xform *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->nvars; i++) {
		free(x->vars[i].name);
		xpath_free(&x->vars[i].path);
	}
	free(x->vars);
	free(x->segs);
	free(x->text);
	xpath_free(&x->path);
	free(x);
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n < 1 || n > MAX_KEY)
		return false;
	for (; *k; k++) {
		char c = *k;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool placeholder_byte(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.';
}

/* Index of the variable for placeholder name[0..n), adding it on first use; -1 = out of memory,
 * -2 = not defined (neither a map key nor reserved). */
static long var_for(xform *x, size_t *cap, const json_t *map, const char *name, size_t n)
{
	for (size_t i = 0; i < x->nvars; i++)
		if (strlen(x->vars[i].name) == n && memcmp(x->vars[i].name, name, n) == 0)
			return (long)i;
	char *nm = strndup(name, n);
	if (!nm)
		return -1;
	xvar v = {.name = nm};
	int rk = reserved_kind(name, n);
	const json_t *path = map ? json_object_get(map, nm) : NULL;
	if (rk >= 0) {
		v.kind = (uint8_t)rk;
	} else if (path) {
		v.kind = XV_PATH;
		const char *ps = json_string_value(path);
		if (xpath_parse(ps, strlen(ps), &v.path) != BB_OK) { /* validated before: only ENOMEM */
			free(nm);
			return -1;
		}
	} else {
		free(nm);
		return -2;
	}
	if (x->nvars == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		xvar *p = realloc(x->vars, nc * sizeof *p);
		if (!p) {
			free(nm);
			xpath_free(&v.path);
			return -1;
		}
		x->vars = p;
		*cap = nc;
	}
	if (v.kind != XV_RULE_ARN && v.kind != XV_RULE_NAME && v.kind != XV_INGEST)
		x->needs_event = true;
	x->vars[x->nvars++] = v;
	return (long)x->nvars - 1;
}

static bool add_seg(xform *x, size_t *cap, xseg s)
{
	if (x->nsegs == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		xseg *p = realloc(x->segs, nc * sizeof *p);
		if (!p)
			return false;
		x->segs = p;
		*cap = nc;
	}
	x->segs[x->nsegs++] = s;
	return true;
}

/* Splits the template into segments. */
static bb_err compile_template(xform *x, const char *id, const json_t *map, char *msg, size_t cap)
{
	const char *t = x->text;
	size_t n = x->text_len, vcap = 0, scap = 0, lit = 0;
	size_t first = 0;
	while (first < n && (t[first] == ' ' || t[first] == '\t' || t[first] == '\n' || t[first] == '\r'))
		first++;
	char c0 = first < n ? t[first] : '\0';
	x->tkind = c0 == '{' || c0 == '[' ? XT_JSON : c0 == '"' ? XT_STRING : XT_BARE;
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (x->tkind == XT_JSON) {
			if (in_str && c == '\\' && i + 1 < n && (t[i + 1] == '"' || t[i + 1] == '\\')) {
				i++; /* an escaped quote or backslash; `\<` still starts a placeholder */
				continue;
			}
			if (c == '"') {
				in_str = !in_str;
				continue;
			}
		}
		if (c != '<')
			continue;
		size_t j = i + 1;
		while (j < n && placeholder_byte(t[j]))
			j++;
		if (j >= n || t[j] != '>' || j == i + 1)
			continue;
		long v = var_for(x, &vcap, map, t + i + 1, j - i - 1);
		if (v == -1)
			return BB_ENOMEM;
		if (v == -2)
			return fail(msg, cap, "InputTemplate for target %s contains invalid placeholder %.*s.", id,
				    (int)(j - i - 1), t + i + 1);
		uint8_t ctx = x->tkind != XT_JSON ? XC_STRING : in_str ? XC_QUOTED : XC_UNQUOTED;
		if (!add_seg(x, &scap, (xseg){(uint32_t)lit, (uint32_t)(i - lit), (int32_t)v, ctx}))
			return BB_ENOMEM;
		lit = j + 1;
		i = j;
	}
	if (lit < n && !add_seg(x, &scap, (xseg){(uint32_t)lit, (uint32_t)(n - lit), -1, XC_STRING}))
		return BB_ENOMEM;
	return BB_OK;
}

static bb_err compile_transformer(xform *x, const char *id, const json_t *it, char *msg, size_t cap)
{
	if (!json_is_object(it))
		return fail(msg, cap, "InputTransformer for target %s must be an object.", id);
	const json_t *tmpl = json_object_get(it, "InputTemplate");
	if (!json_is_string(tmpl) || json_string_length(tmpl) == 0)
		return fail(msg, cap, "InputTemplate for target %s is required.", id);
	const json_t *map = json_object_get(it, "InputPathsMap");
	if (json_is_null(map))
		map = NULL;
	if (map && !json_is_object(map))
		return fail(msg, cap, "InputPathsMap for target %s must be a map of strings.", id);
	if (map && json_object_size(map) > MAX_PATHS)
		return fail(msg, cap, "InputPathsMap for target %s has more than %d entries.", id, MAX_PATHS);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)map, k, v)
	{
		if (reserved_kind(k, strlen(k)) >= 0)
			return fail(msg, cap, "InputPathsMap for target %s cannot define reserved variable %s.", id, k);
		if (!key_ok(k))
			return fail(msg, cap, "InputPathsMap for target %s contains invalid key %.*s.", id, MAX_KEY, k);
		if (!json_is_string(v))
			return fail(msg, cap, "InputPathsMap for target %s must be a map of strings.", id);
		xpath p;
		bb_err e = xpath_parse(json_string_value(v), json_string_length(v), &p);
		if (e == BB_ENOMEM)
			return e;
		if (e != BB_OK)
			return fail(msg, cap, "InputPathsMap for target %s contains an invalid JSON path for key %s.",
				    id, k);
		xpath_free(&p);
	}
	x->kind = XF_TEMPLATE;
	x->text_len = json_string_length(tmpl);
	if (x->text_len >= UINT32_MAX)
		return fail(msg, cap, "InputTemplate for target %s is too long.", id);
	x->text = malloc(x->text_len + 1);
	if (!x->text)
		return BB_ENOMEM;
	memcpy(x->text, json_string_value(tmpl), x->text_len + 1);
	return compile_template(x, id, map, msg, cap);
}

bb_err xform_compile(const char *target_id, const char *input, const char *input_path,
		     const json_t *input_transformer, xform **out, char *msg, size_t cap)
{
	const char *id = target_id ? target_id : "";
	*out = NULL;
	if (cap)
		msg[0] = '\0';
	int given = (input != NULL) + (input_path != NULL) + (input_transformer != NULL);
	if (given > 1)
		return fail(msg, cap, "Only one of Input, InputPath, or InputTransformer must be provided for target %s.",
			    id);
	if (given == 0)
		return BB_OK;
	xform *x = calloc(1, sizeof *x);
	if (!x)
		return BB_ENOMEM;
	bb_err e = BB_OK;
	if (input) {
		x->kind = XF_INPUT;
		x->text_len = strlen(input);
		if (!xj_minify(input, x->text_len, NULL, false))
			e = fail(msg, cap, "Input for target %s is not a valid JSON text.", id);
		else if (!(x->text = strdup(input)))
			e = BB_ENOMEM;
	} else if (input_path) {
		x->kind = XF_PATH;
		x->needs_event = true;
		e = xpath_parse(input_path, strlen(input_path), &x->path);
		if (e == BB_EINVAL)
			e = fail(msg, cap, "InputPath for target %s is not a valid JSON path.", id);
	} else {
		e = compile_transformer(x, id, input_transformer, msg, cap);
	}
	if (e != BB_OK) {
		if (e == BB_ENOMEM && cap)
			snprintf(msg, cap, "%s", bb_strerror(e));
		xform_free(x);
		return e;
	}
	*out = x;
	return BB_OK;
}
