/* node/xform/xform_apply.c — rendering one delivery's payload (docs/transform.md "Values").
 *
 * The event is parsed once into a flat node array (only when some variable reads it); each
 * variable the template uses is evaluated once; segments are then written into one buffer, and a
 * JSON (or bare) template's result is checked to be one valid JSON value — JSON templates are
 * delivered minified. Work is linear in the event plus the output; the output is capped at
 * XFORM_MAX_OUTPUT.
 *
 * How a value is written depends on where its placeholder sits:
 *
 *   value            | JSON, unquoted       | JSON, inside "..."     | string / bare template
 *   string           | "text" (JSON-escaped) | text, not escaped      | text, not escaped
 *   number/bool/null | its JSON text        | its JSON text          | its JSON text
 *   object/array     | minified JSON        | minified JSON (breaks) | minified JSON without any "
 *   missing          | ""                   | (nothing)              | (nothing)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xform_int.h"

typedef enum val_kind { V_MISSING, V_NODE, V_JSON, V_STR } val_kind;

/* A variable's value for one delivery. */
typedef struct val {
	uint8_t kind;     /* val_kind */
	long node;        /* V_NODE: node index in the event */
	xbuf json;        /* V_JSON: owned minified JSON (object or array) */
	const char *str;  /* V_STR: raw text (borrowed) */
	size_t slen;
} val;

/* ---- time ------------------------------------------------------------------------------------ */

/* Formats ms since the epoch as YYYY-MM-DDThh:mm:ss.sssZ; false when out of the 4-digit-year range. */
static bool iso_ms(int64_t ms, char out[64])
{
	if (ms <= 0 || ms > 253402300799999LL) /* 9999-12-31T23:59:59.999Z */
		return false;
	int64_t secs = ms / 1000, days = secs / 86400, rem = secs % 86400, y;
	int mo, d;
	bb_civil_from_days(days, &y, &mo, &d);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, mo, d, (int)(rem / 3600),
		 (int)(rem / 60 % 60), (int)(rem % 60), (int)(ms % 1000));
	return true;
}

static bool digits(const char *s, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* Parses an envelope time "YYYY-MM-DDThh:mm:ss[.f+]Z" (the text between the quotes) into ms since
 * the epoch; *frac tells whether a fraction was given. */
static bool parse_time(const char *s, size_t n, int64_t *ms, bool *frac)
{
	int y, mo, d, h, mi, se, f = 0;
	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	*frac = n > 20;
	if (*frac) {
		if (s[19] != '.' || n < 22)
			return false;
		int scale = 100;
		for (size_t i = 20; i < n - 1; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			f += (s[i] - '0') * scale;
			scale /= 10;
		}
	}
	*ms = (bb_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000 + f;
	return true;
}

/* ---- reserved variables ------------------------------------------------------------------------ */

static long member(const xj_doc *d, size_t obj, const char *name)
{
	long found = -1;
	size_t n = strlen(name);
	for (size_t c = obj + 1; c < d->nodes[obj].next; c = d->nodes[c].next)
		if (xj_key_eq(d, &d->nodes[c], name, n))
			found = (long)c;
	return found;
}

/* <aws.events.event>: the envelope without detail, detail-type renamed detailType, in the order AWS
 * delivered it (LS snapshot test_input_transformer_predefined_variables), time as epoch ms. */
static void build_event(const xj_doc *d, const xform_ctx *ctx, xbuf *out)
{
	static const char *const order[] = {"id",     "account", "detail-type", "time",
					    "source", "region",  "resources",   "version"};
	bool first = true;
	xbuf_addc(out, '{');
	for (size_t k = 0; k < BB_ARRAY_LEN(order); k++) {
		long m = member(d, 0, order[k]);
		if (m < 0)
			continue;
		xbuf_add(out, ",", !first);
		first = false;
		const char *key = k == 2 ? "detailType" : order[k];
		xbuf_add_json_str(out, key, strlen(key));
		xbuf_addc(out, ':');
		const xj_node *nd = &d->nodes[m];
		int64_t ms;
		bool frac;
		if (k == 3 && nd->type == XJ_STR && parse_time(d->text + nd->start + 1, nd->len - 2, &ms, &frac)) {
			/* within the ingestion second, AWS's internal time carries the milliseconds */
			if (!frac && ctx && ctx->ingest_ms > 0 && ctx->ingest_ms / 1000 == ms / 1000)
				ms = ctx->ingest_ms;
			char num[32];
			int l = snprintf(num, sizeof num, "%lld", (long long)ms);
			xbuf_add(out, num, (size_t)l);
		} else {
			xj_emit(d, (size_t)m, out, false);
		}
	}
	/* anything else but detail (replay-name, ...) after, in document order */
	for (size_t c = 1; c < d->nodes[0].next; c = d->nodes[c].next) {
		bool known = xj_key_eq(d, &d->nodes[c], "detail", 6);
		for (size_t k = 0; k < BB_ARRAY_LEN(order) && !known; k++)
			known = xj_key_eq(d, &d->nodes[c], order[k], strlen(order[k]));
		if (known)
			continue;
		xbuf_add(out, ",", !first);
		first = false;
		xbuf_addc(out, '"');
		xbuf_add(out, d->text + d->nodes[c].key, d->nodes[c].klen);
		xbuf_add(out, "\":", 2);
		xj_emit(d, c, out, false);
	}
	xbuf_addc(out, '}');
}

static void eval_var(const xvar *v, const xj_doc *d, const xform_ctx *ctx, const char *ingest, val *out)
{
	memset(out, 0, sizeof *out);
	xbuf_init(&out->json, XFORM_MAX_OUTPUT);
	switch ((xvar_kind)v->kind) {
	case XV_PATH:
		if (v->path.wild) {
			out->kind = V_JSON;
			xpath_collect(&v->path, d, &out->json);
		} else if ((out->node = xpath_find(&v->path, d)) >= 0) {
			out->kind = V_NODE;
		}
		break;
	case XV_RULE_ARN:
	case XV_RULE_NAME: {
		const char *s = !ctx ? NULL : v->kind == XV_RULE_ARN ? ctx->rule_arn : ctx->rule_name;
		if (s) {
			out->kind = V_STR;
			out->str = s;
			out->slen = strlen(s);
		}
		break;
	}
	case XV_INGEST:
		if (ingest[0]) {
			out->kind = V_STR;
			out->str = ingest;
			out->slen = strlen(ingest);
		}
		break;
	case XV_EVENT:
		if (d->n && d->nodes[0].type == XJ_OBJ) {
			out->kind = V_JSON;
			build_event(d, ctx, &out->json);
		}
		break;
	case XV_EVENT_JSON:
		if (d->n) {
			out->kind = V_NODE;
			out->node = 0;
		}
		break;
	}
}

static void write_val(const val *v, const xj_doc *d, xctx_kind ctx, xbuf *out)
{
	switch ((val_kind)v->kind) {
	case V_MISSING:
		if (ctx == XC_UNQUOTED)
			xbuf_add(out, "\"\"", 2);
		break;
	case V_STR:
		if (ctx == XC_UNQUOTED)
			xbuf_add_json_str(out, v->str, v->slen);
		else
			xbuf_add(out, v->str, v->slen);
		break;
	case V_JSON:
		if (ctx == XC_STRING)
			xj_minify(v->json.p, v->json.len, out, true);
		else
			xbuf_add(out, v->json.p, v->json.len);
		break;
	case V_NODE: {
		const xj_node *nd = &d->nodes[v->node];
		if (nd->type == XJ_STR && ctx != XC_UNQUOTED)
			xj_unescape(d->text + nd->start + 1, nd->len - 2, out);
		else
			xj_emit(d, (size_t)v->node, out, ctx == XC_STRING);
		break;
	}
	}
}

static bb_err render(const xform *x, const xj_doc *d, const xform_ctx *ctx, xbuf *out)
{
	char ingest[64] = "";
	if (ctx && !iso_ms(ctx->ingest_ms, ingest))
		ingest[0] = '\0';
	val *vals = calloc(x->nvars ? x->nvars : 1, sizeof *vals);
	if (!vals)
		return BB_ENOMEM;
	bb_err e = BB_OK;
	for (size_t i = 0; i < x->nvars; i++) {
		eval_var(&x->vars[i], d, ctx, ingest, &vals[i]);
		if (vals[i].json.err && !e)
			e = vals[i].json.err;
	}
	for (size_t s = 0; s < x->nsegs && !e && !out->err; s++) {
		const xseg *sg = &x->segs[s];
		xbuf_add(out, x->text + sg->off, sg->len);
		if (sg->var >= 0)
			write_val(&vals[sg->var], d, (xctx_kind)sg->ctx, out);
	}
	for (size_t i = 0; i < x->nvars; i++)
		xbuf_free(&vals[i].json);
	free(vals);
	if (e || out->err)
		return e ? e : out->err;
	if (x->tkind == XT_JSON) {
		xbuf m;
		xbuf_init(&m, XFORM_MAX_OUTPUT);
		bool ok = xj_minify(out->p, out->len, &m, false);
		if (!ok || m.err) {
			e = !ok ? BB_EINVAL : m.err;
			xbuf_free(&m);
			return e;
		}
		xbuf_free(out);
		*out = m;
	} else if (x->tkind == XT_BARE && !xj_minify(out->p, out->len, NULL, false)) {
		return BB_EINVAL;
	}
	return BB_OK;
}

bb_err xform_apply(const xform *x, const char *event, size_t len, const xform_ctx *ctx, char **out,
		   size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (!event && len)
		return BB_EINVAL;
	if (len > XFORM_MAX_EVENT)
		return BB_ETOOBIG;
	xbuf b;
	xbuf_init(&b, XFORM_MAX_OUTPUT);
	xj_doc d = {0};
	bb_err e = BB_OK;
	if (!x || x->kind == XF_INPUT) {
		b.max = SIZE_MAX; /* copies are as big as their source */
		if (x)
			xbuf_add(&b, x->text, x->text_len);
		else
			xbuf_add(&b, event, len);
		goto take;
	}
	if (x->needs_event && (e = xj_parse(&d, event ? event : "", len)) != BB_OK)
		goto free_doc_buf;
	if (x->kind == XF_PATH) {
		if (x->path.wild) {
			xpath_collect(&x->path, &d, &b);
		} else {
			long i = xpath_find(&x->path, &d);
			if (i < 0) {
				e = BB_EINVAL;
				goto free_doc_buf;
			}
			xj_emit(&d, (size_t)i, &b, false);
		}
	} else if ((e = render(x, &d, ctx, &b)) != BB_OK) {
		goto free_doc_buf;
	}
take:
	if (b.err) {
		e = b.err;
		goto free_doc_buf;
	}
	*out = xbuf_take(&b, out_len);
	if (!*out)
		e = b.err ? b.err : BB_ENOMEM;
free_doc_buf:
	xj_doc_free(&d);
	xbuf_free(&b);
	if (e != BB_OK) {
		*out = NULL;
		*out_len = 0;
	}
	return e;
}
