/* tests/unit/test_pat_diff.c — randomized differential test: the compiled engine (node/pattern/pat.h)
 * against the reference matcher (pat_ref.h) on generated patterns and events.
 *
 * Generator: a seeded PRNG (splitmix64; seed = env BB_DIFF_SEED, default fixed; every iteration
 * reseeds from (seed, iteration) so a single case replays with BB_DIFF_ONLY=<iteration>). Patterns use
 * every AWS operator (exact string/number/literal, prefix/suffix with and without equals-ignore-case,
 * equals-ignore-case, wildcard with escapes, every anything-but form, numeric ranges, exists, cidr v4/v6,
 * IP-looking exact strings), nested objects, dotted keys, duplicate keys, and `$or` at any level, over a
 * small vocabulary so that paths and values collide. Events are built from the pattern's own paths and
 * values (same keys, keys split or joined at dots, near values, case variants, number spellings,
 * arrays and arrays of objects whose fields are spread over elements, empty arrays/objects, noise
 * members, also inside nested objects after the pattern's own).
 * Not generated on purpose: event-ruler's {"exact": ..} (not an AWS operator; the engine rejects it)
 * and non-BMP characters in equals-ignore-case (event-ruler artefact, see support_pat_ref.c).
 *
 * Checks per iteration: both accept the pattern (the engine may refuse only with AWS's wildcard
 * complexity reason); pat_match_rule == reference on 4 events. Every 8 iterations the rolling set of the
 * last 24 patterns (pat_builder_add for new ids, pat_builder_remove for the oldest — incremental
 * edits) is published and pat_match over the batch's events (one per pattern) must return exactly the
 * ids the reference matches. On mismatch the seed, iteration, pattern(s) and event are printed.
 *
 * Environment: BB_DIFF_SEED (u64), BB_DIFF_ITERS (patterns, default 5000 = 20,000 pattern/event pairs),
 * BB_DIFF_ONLY (replay one iteration), BB_DIFF_VERBOSE=1 (print each pattern and event before use, to
 * find the input of an engine crash), BB_DIFF_JOIN_PCT (how often path segments become one dotted event
 * key, default 20).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/pattern/pat.h"
#include "pat_ref.h"

#define DEFAULT_SEED 0x5eedb05b0a4dULL
#define DEFAULT_ITERS 5000
#define EVENTS_PER_PATTERN 4
#define SET_WINDOW 24
#define SET_EVERY 8
#define MAX_REPORTS 25

/* ---- PRNG and string builder -------------------------------------------------------------------- */

typedef struct rng {
	uint64_t s;
} rng;

static uint64_t next64(rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static unsigned rn(rng *r, unsigned n) { return (unsigned)(next64(r) % n); }
static bool chance(rng *r, unsigned pct) { return rn(r, 100) < pct; }
#define PICK(r, arr) ((arr)[rn((r), (unsigned)(sizeof(arr) / sizeof((arr)[0])))])

typedef struct sb {
	char *s;
	size_t n, cap;
} sb;

static void sb_put(sb *b, const char *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2 + 64;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
	memcpy(b->s + b->n, p, n);
	b->n += n;
	b->s[b->n] = 0;
}

static void sb_puts(sb *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sb_put(b, tmp, (size_t)n);
}

static void sb_json_str(sb *b, const char *s, size_t n)
{
	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			sb_put(b, e, 2);
		} else if (c < 0x20) {
			sb_printf(b, "\\u%04x", c);
		} else {
			sb_put(b, (const char *)&c, 1);
		}
	}
	sb_put(b, "\"", 1);
}

/* ---- vocabulary --------------------------------------------------------------------------------- */

static const char *const keys[] = {"a", "b", "c", "x", "y", "x.y", "ids", "st"};

static const char *const strs[] = {
	"", "a", "ab", "abc", "Abc", "ABC", "abcd", "x", "foo", "Foo", "foo.bar", "bar", "us-east-1",
	"us-west-2", "US-EAST-1", "eu-west-1", "a*b", "a\\b", "quo\"te", "\xc3\xa9t\xc3\xa9" /* été */,
	"\xc3\x89T\xc3\x89" /* ÉTÉ */, "stra\xc3\x9f" "e" /* straße */, "STRASSE", "\xcf\x83\xcf\x82" /* σς */,
	"\xce\xa3\xce\xa3" /* ΣΣ */, "\xe2\x82\xac" "10" /* €10 */, "true", "5", "null", "*", "x.y",
};

/* comparable numbers (valid anywhere a number is) */
static const char *const nums[] = {
	"0", "1", "5", "5.5", "-3", "300", "3.0e2", "0.1", "1e-7", "123456789012", "-0.5", "1e15",
	"27.807807921694092", "2.5E3", "-122.4", "37.7", "1000000", "0.3",
};

/* spellings of equal or near values, used for events */
static const char *const num_variants[][4] = {
	{"0", "-0", "0.0", "0e5"}, {"1", "1.0", "1e0", "10e-1"}, {"5", "5.0", "5e0", "50e-1"},
	{"5.5", "5.50", "55e-1", "5.5000001"}, {"-3", "-3.0", "-3e0", "-2.9999999"},
	{"300", "300.0", "3e2", "3.0e2"}, {"0.1", "0.10", "1e-1", "0.10000000000000001"},
	{"1e-7", "0.0000001", "1.0e-7", "1e-8"}, {"123456789012", "123456789012.0", "1.23456789012e11", "123456789013"},
	{"-0.5", "-5e-1", "-0.50", "-0.4"}, {"1e15", "1000000000000000", "1.0e15", "1e16"},
	{"27.807807921694092", "27.80780792169409", "27.8078079216940920", "27.8"},
	{"2.5E3", "2500", "2500.0", "2.5e3"}, {"-122.4", "-122.40", "-1.224e2", "-122.5"},
	{"37.7", "37.70", "3.77e1", "37.69"}, {"1000000", "1e6", "1.0E6", "999999.9"},
	{"0.3", "0.30", "3e-1", "0.30000000000000004"},
};

static const char *const cidrs[] = {
	"10.0.0.0/24", "10.0.0.0/8", "10.0.0.0/31", "0.0.0.0/0", "192.168.1.0/24", "10.0.0.1/30",
	"2001:db8::/32", "2001:db8:1234:1a00::/64", "::/0",
};

static const char *const ips[] = {
	"10.0.0.1", "10.0.0.255", "10.0.1.0", "10.255.255.255", "11.0.0.0", "192.168.1.77", "0.0.0.0",
	"2001:db8::1", "2001:0db8:1234:1a00:0000:0000:0000:0001", "2001:db9::1", "2001:DB8::ABCD", "::1",
	"10.0.0.01", "1.2.3", "::ffff:a00:1",
};

/* ---- pattern generation ------------------------------------------------------------------------- */

/* Values each path of the pattern mentions, to build events that hit them. */
typedef struct hint {
	char *path;
	int kind; /* 's' string, 'n' number, 'i' ip, 'l' literal, '-' none */
	char *val;
} hint;

typedef struct gen {
	rng r;
	sb out;
	hint *h;
	size_t nh;
} gen;

static void add_hint(gen *g, const char *path, int kind, const char *val)
{
	g->h = realloc(g->h, (g->nh + 1) * sizeof(*g->h));
	g->h[g->nh].path = strdup(path);
	g->h[g->nh].kind = kind;
	g->h[g->nh].val = strdup(val ? val : "");
	g->nh++;
}

static const char *some_str(gen *g, const char *path)
{
	/* prefer a string already used at this path */
	if (chance(&g->r, 40)) {
		for (size_t i = 0; i < g->nh; i++)
			if (g->h[i].kind == 's' && strcmp(g->h[i].path, path) == 0 && chance(&g->r, 50))
				return g->h[i].val;
	}
	return PICK(&g->r, strs);
}

/* A prefix/suffix/substring of s (bytes; may cut a UTF-8 sequence, which is fine for matching). */
static void str_part(gen *g, const char *s, char *out, size_t cap, int which)
{
	size_t n = strlen(s), k = n ? rn(&g->r, (unsigned)n + 1) : 0;
	if (which == 'p')
		snprintf(out, cap, "%.*s", (int)k, s);
	else
		snprintf(out, cap, "%s", s + (n - k));
}

static bool utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int l = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
		if (!l)
			return false;
		for (int i = 1; i < l; i++)
			if ((p[i] & 0xC0) != 0x80)
				return false;
		p += l;
	}
	return true;
}

/* A string operand: a pool string or a part of one, always valid UTF-8. */
static void operand(gen *g, const char *path, char *out, size_t cap, int which, bool nonempty)
{
	for (int tries = 0; tries < 20; tries++) {
		const char *s = some_str(g, path);
		if (which && chance(&g->r, 50))
			str_part(g, s, out, cap, which);
		else
			snprintf(out, cap, "%s", s);
		if (utf8_ok(out) && (!nonempty || out[0]))
			return;
	}
	snprintf(out, cap, "q");
}

/* Wildcard text (before JSON escaping) from a base string: 1-2 substrings replaced by '*',
 * literal '*' and '\' escaped. */
static void wildcard_of(gen *g, const char *base, sb *w)
{
	size_t n = strlen(base);
	size_t a = n ? rn(&g->r, (unsigned)n + 1) : 0, b2 = a + (n > a ? rn(&g->r, (unsigned)(n - a) + 1) : 0);
	int stars = 1 + (int)rn(&g->r, 2);
	size_t c = b2 < n ? b2 + 1 + rn(&g->r, (unsigned)(n - b2)) : n + 1; /* second star position */
	bool last_star = false;
	for (size_t i = 0; i <= n; i++) {
		if (i == a && !last_star) {
			sb_puts(w, "*");
			last_star = true;
			i = b2;
			if (i > n)
				break;
		}
		if (stars == 2 && i == c && !last_star) {
			sb_puts(w, "*");
			last_star = true;
		}
		if (i == n)
			break;
		char ch = base[i];
		if (ch == '*' || ch == '\\')
			sb_put(w, "\\", 1);
		sb_put(w, &ch, 1);
		last_star = false;
	}
}

static void emit_wildcard(gen *g, const char *path)
{
	char base[64];
	for (int t = 0; t < 10; t++) {
		operand(g, path, base, sizeof(base), 0, false);
		sb w = {0};
		wildcard_of(g, base, &w);
		if (w.s && utf8_ok(w.s)) {
			sb_json_str(&g->out, w.s, w.n);
			add_hint(g, path, 's', base);
			free(w.s);
			return;
		}
		free(w.s);
	}
	sb_puts(&g->out, "\"q*\"");
}

static void emit_str_operand(gen *g, const char *path, int which, bool nonempty)
{
	char s[64];
	operand(g, path, s, sizeof(s), which, nonempty);
	sb_json_str(&g->out, s, strlen(s));
	add_hint(g, path, 's', s);
}

static void emit_num(gen *g, const char *path)
{
	const char *n = PICK(&g->r, nums);
	sb_puts(&g->out, n);
	add_hint(g, path, 'n', n);
}

static void emit_list(gen *g, const char *path, void (*one)(gen *, const char *, int, bool), int which, bool ne)
{
	unsigned k = 1 + rn(&g->r, 3);
	sb_puts(&g->out, "[");
	for (unsigned i = 0; i < k; i++) {
		if (i)
			sb_puts(&g->out, ",");
		one(g, path, which, ne);
	}
	sb_puts(&g->out, "]");
}

static void emit_wc_one(gen *g, const char *path, int which, bool ne)
{
	(void)which, (void)ne;
	emit_wildcard(g, path);
}

static void emit_num_one(gen *g, const char *path, int which, bool ne)
{
	(void)which, (void)ne;
	emit_num(g, path);
}

static void emit_anything_but(gen *g, const char *path)
{
	sb_puts(&g->out, "{\"anything-but\":");
	switch (rn(&g->r, 9)) {
	case 0: emit_str_operand(g, path, 0, false); break;
	case 1: emit_list(g, path, emit_str_operand, 0, false); break;
	case 2: emit_num(g, path); break;
	case 3: emit_list(g, path, emit_num_one, 0, false); break;
	case 4:
		sb_puts(&g->out, "{\"prefix\":");
		chance(&g->r, 60) ? emit_str_operand(g, path, 'p', true) : emit_list(g, path, emit_str_operand, 'p', true);
		sb_puts(&g->out, "}");
		break;
	case 5:
		sb_puts(&g->out, "{\"suffix\":");
		chance(&g->r, 60) ? emit_str_operand(g, path, 's', true) : emit_list(g, path, emit_str_operand, 's', true);
		sb_puts(&g->out, "}");
		break;
	case 6:
	case 7:
		sb_puts(&g->out, "{\"equals-ignore-case\":");
		chance(&g->r, 60) ? emit_str_operand(g, path, 0, false) : emit_list(g, path, emit_str_operand, 0, false);
		sb_puts(&g->out, "}");
		break;
	default:
		sb_puts(&g->out, "{\"wildcard\":");
		chance(&g->r, 60) ? emit_wildcard(g, path) : emit_list(g, path, emit_wc_one, 0, false);
		sb_puts(&g->out, "}");
		break;
	}
	sb_puts(&g->out, "}");
}

static void emit_numeric(gen *g, const char *path)
{
	static const char *const ops1[] = {"=", ">", ">=", "<", "<="};
	sb_puts(&g->out, "{\"numeric\":[");
	if (chance(&g->r, 35)) {
		const char *a, *b;
		double da, db;
		do {
			a = PICK(&g->r, nums);
			b = PICK(&g->r, nums);
			da = strtod(a, NULL);
			db = strtod(b, NULL);
		} while (da == db);
		if (da > db) {
			const char *t = a;
			a = b, b = t;
		}
		sb_printf(&g->out, "\"%s\",%s,\"%s\",%s", chance(&g->r, 50) ? ">" : ">=", a, chance(&g->r, 50) ? "<" : "<=",
			  b);
		add_hint(g, path, 'n', a);
		add_hint(g, path, 'n', b);
	} else {
		const char *n = PICK(&g->r, nums);
		sb_printf(&g->out, "\"%s\",%s", PICK(&g->r, ops1), n);
		add_hint(g, path, 'n', n);
	}
	sb_puts(&g->out, "]}");
}

static void gen_leaf(gen *g, const char *path)
{
	unsigned k = 1 + rn(&g->r, chance(&g->r, 70) ? 2 : 3);
	sb_puts(&g->out, "[");
	for (unsigned i = 0; i < k; i++) {
		if (i)
			sb_puts(&g->out, ",");
		unsigned w = rn(&g->r, 118);
		if (w < 20) {
			emit_str_operand(g, path, 0, false);
		} else if (w < 30) {
			emit_num(g, path);
			if (chance(&g->r, 2)) { /* rare: non-comparable number text, matched by text only */
				sb_puts(&g->out, chance(&g->r, 50) ? ",0.10000000000000001" : ",1e400");
				add_hint(g, path, 'n', "0.10000000000000001");
			}
		} else if (w < 34) {
			static const char *const lits[] = {"true", "false", "null"};
			const char *l = PICK(&g->r, lits);
			sb_puts(&g->out, l);
			add_hint(g, path, 'l', l);
		} else if (w < 42) {
			sb_puts(&g->out, "{\"prefix\":");
			emit_str_operand(g, path, 'p', false);
			sb_puts(&g->out, "}");
		} else if (w < 46) {
			sb_puts(&g->out, "{\"prefix\":{\"equals-ignore-case\":");
			emit_str_operand(g, path, 'p', false);
			sb_puts(&g->out, "}}");
		} else if (w < 54) {
			sb_puts(&g->out, "{\"suffix\":");
			emit_str_operand(g, path, 's', false);
			sb_puts(&g->out, "}");
		} else if (w < 58) {
			sb_puts(&g->out, "{\"suffix\":{\"equals-ignore-case\":");
			emit_str_operand(g, path, 's', false);
			sb_puts(&g->out, "}}");
		} else if (w < 64) {
			sb_puts(&g->out, "{\"equals-ignore-case\":");
			emit_str_operand(g, path, 0, false);
			sb_puts(&g->out, "}");
		} else if (w < 72) {
			sb_puts(&g->out, "{\"wildcard\":");
			emit_wildcard(g, path);
			sb_puts(&g->out, "}");
		} else if (w < 86) {
			emit_anything_but(g, path);
		} else if (w < 96) {
			emit_numeric(g, path);
		} else if (w < 104) {
			sb_printf(&g->out, "{\"exists\":%s}", chance(&g->r, 50) ? "true" : "false");
			add_hint(g, path, '-', NULL);
		} else if (w < 110) {
			const char *c = PICK(&g->r, cidrs);
			sb_printf(&g->out, "{\"cidr\":\"%s\"}", c);
			add_hint(g, path, 'i', PICK(&g->r, ips));
		} else if (w < 116) {
			const char *ip = PICK(&g->r, ips);
			sb_printf(&g->out, "\"%s\"", ip);
			add_hint(g, path, 'i', ip);
		} else {
			/* event-ruler also has {"exact": "..."}; AWS's operator list (and so the engine) does
			 * not, so it is not generated. */
			emit_str_operand(g, path, 0, false);
		}
	}
	sb_puts(&g->out, "]");
}

static void gen_obj(gen *g, const char *path, int depth)
{
	unsigned nk = 1 + rn(&g->r, depth ? 2 : 3);
	bool or_done = false;
	const char *prev = NULL;
	sb_puts(&g->out, "{");
	for (unsigned i = 0; i < nk; i++) {
		if (i)
			sb_puts(&g->out, ",");
		if (!or_done && depth < 3 && chance(&g->r, 14)) {
			or_done = true;
			unsigned alts = 2 + rn(&g->r, 2);
			sb_puts(&g->out, "\"$or\":[");
			for (unsigned a = 0; a < alts; a++) {
				if (a)
					sb_puts(&g->out, ",");
				gen_obj(g, path, depth + 1);
			}
			sb_puts(&g->out, "]");
			continue;
		}
		const char *k = prev && chance(&g->r, 6) ? prev : PICK(&g->r, keys);
		prev = k;
		char np[256];
		snprintf(np, sizeof(np), "%s%s%s", path, path[0] ? "." : "", k);
		sb_json_str(&g->out, k, strlen(k));
		sb_puts(&g->out, ":");
		if (depth < 2 && chance(&g->r, 28))
			gen_obj(g, np, depth + 1);
		else
			gen_leaf(g, np);
	}
	sb_puts(&g->out, "}");
}

/* ---- event generation --------------------------------------------------------------------------- */

typedef struct en {
	int t; /* 'o' object, 'a' array, 's' scalar (raw JSON text) */
	char *raw;
	struct en **kid;
	char **key;
	size_t n;
} en;

static en *en_new(int t, const char *raw)
{
	en *e = calloc(1, sizeof(*e));
	e->t = t;
	e->raw = raw ? strdup(raw) : NULL;
	return e;
}

static void en_add(en *p, const char *key, en *kid)
{
	p->kid = realloc(p->kid, (p->n + 1) * sizeof(*p->kid));
	p->key = realloc(p->key, (p->n + 1) * sizeof(*p->key));
	p->kid[p->n] = kid;
	p->key[p->n++] = key ? strdup(key) : NULL;
}

static void en_free(en *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		en_free(e->kid[i]);
		free(e->key[i]);
	}
	free(e->kid);
	free(e->key);
	free(e->raw);
	free(e);
}

static void en_emit(const en *e, sb *b)
{
	if (e->t == 's') {
		sb_puts(b, e->raw);
		return;
	}
	sb_puts(b, e->t == 'o' ? "{" : "[");
	for (size_t i = 0; i < e->n; i++) {
		if (i)
			sb_puts(b, ",");
		if (e->t == 'o') {
			sb_json_str(b, e->key[i], strlen(e->key[i]));
			sb_puts(b, ":");
		}
		en_emit(e->kid[i], b);
	}
	sb_puts(b, e->t == 'o' ? "}" : "]");
}

static void ascii_case(char *s, int mode)
{
	for (; *s; s++) {
		if (mode == 'u' && *s >= 'a' && *s <= 'z')
			*s = (char)(*s - 32);
		else if (mode == 'l' && *s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
	}
}

/* A leaf value (raw JSON text) near the hint. */
static void near_value(rng *r, const hint *h, sb *out)
{
	char s[160];
	switch (h ? h->kind : '-') {
	case 's': {
		snprintf(s, sizeof(s), "%s", h->val);
		switch (rn(r, 10)) {
		case 0: ascii_case(s, 'u'); break;
		case 1: ascii_case(s, 'l'); break;
		case 2: snprintf(s, sizeof(s), "x%s", h->val); break;
		case 3: snprintf(s, sizeof(s), "%sx", h->val); break;
		case 4: if (s[0]) s[strlen(s) - 1] = 0; break;
		case 5: snprintf(s, sizeof(s), "%s", PICK(r, strs)); break;
		default: break;
		}
		if (!utf8_ok(s))
			snprintf(s, sizeof(s), "%s", h->val);
		sb_json_str(out, s, strlen(s));
		return;
	}
	case 'n':
		for (size_t i = 0; i < sizeof(num_variants) / sizeof(num_variants[0]); i++) {
			if (strcmp(num_variants[i][0], h->val) == 0 && chance(r, 70)) {
				sb_puts(out, num_variants[i][rn(r, 4)]);
				return;
			}
		}
		if (chance(r, 15)) {
			sb_printf(out, "\"%s\"", h->val);
			return;
		}
		sb_puts(out, chance(r, 70) ? h->val : PICK(r, nums));
		return;
	case 'i':
		sb_printf(out, "\"%s\"", chance(r, 60) ? h->val : PICK(r, ips));
		return;
	case 'l': {
		static const char *const litv[] = {"true", "false", "null", "\"true\"", "\"null\"", "0"};
		sb_puts(out, chance(r, 60) ? h->val : PICK(r, litv));
		return;
	}
	default:
		switch (rn(r, 4)) {
		case 0: {
			const char *x = PICK(r, strs);
			sb_json_str(out, x, strlen(x));
			return;
		}
		case 1: sb_puts(out, PICK(r, nums)); return;
		case 2: sb_puts(out, chance(r, 50) ? "null" : "true"); return;
		default: sb_printf(out, "\"%s\"", PICK(r, ips)); return;
		}
	}
}

static en *leaf_node(rng *r, const hint *h)
{
	sb v = {0};
	en *e;
	unsigned w = rn(r, 100);
	if (w < 4) {
		e = en_new('a', NULL); /* [] */
	} else if (w < 7) {
		e = en_new('o', NULL); /* {} */
	} else if (w < 27) {
		e = en_new('a', NULL);
		unsigned k = 1 + rn(r, 3);
		for (unsigned i = 0; i < k; i++) {
			v.n = 0;
			near_value(r, h, &v);
			en *x = en_new('s', v.s);
			if (chance(r, 15)) {
				en *inner = en_new('a', NULL);
				en_add(inner, NULL, x);
				x = inner;
			}
			en_add(e, NULL, x);
		}
	} else {
		near_value(r, h, &v);
		e = en_new('s', v.s);
	}
	free(v.s);
	return e;
}

static en *find_key(en *o, const char *k)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->key[i], k) == 0)
			return o->kid[i];
	return NULL;
}

/* Descends into an array to an object element (or makes a new one). */
static en *array_obj(rng *r, en *a, int depth)
{
	if (a->n && chance(r, 70)) {
		en *x = a->kid[rn(r, (unsigned)a->n)];
		if (x->t == 'o')
			return x;
		if (x->t == 'a' && depth < 3)
			return array_obj(r, x, depth + 1);
		return NULL;
	}
	en *o = en_new('o', NULL);
	en_add(a, NULL, o);
	return o;
}

/* Inserts a leaf at segs[0..n) under object o. */
static void insert(rng *r, en *o, char **segs, size_t n, const hint *h)
{
	en *cur = find_key(o, segs[0]);
	if (n == 1) {
		if (!cur) {
			en_add(o, segs[0], leaf_node(r, h));
		} else if (cur->t == 'a') {
			en *l = leaf_node(r, h);
			if (l->t == 's')
				en_add(cur, NULL, l);
			else
				en_free(l);
		} else if (cur->t == 's' && chance(r, 50)) {
			en *a = en_new('a', NULL);
			en *old = en_new('s', cur->raw);
			en_add(a, NULL, old);
			en_add(a, NULL, leaf_node(r, h));
			free(cur->raw);
			*cur = *a;
			free(a);
		}
		return;
	}
	if (!cur) {
		if (chance(r, 30)) {
			cur = en_new('a', NULL);
			if (chance(r, 10)) {
				en *inner = en_new('a', NULL);
				en_add(cur, NULL, inner);
			}
		} else {
			cur = en_new('o', NULL);
		}
		en_add(o, segs[0], cur);
	}
	if (cur->t == 'a')
		cur = array_obj(r, cur, 0);
	if (cur && cur->t == 'o')
		insert(r, cur, segs + 1, n - 1, h);
}

/* Percentage of neighbouring path segments written as one dotted event key (env BB_DIFF_JOIN_PCT;
 * 0 = never, for triaging other differences while a dotted-key bug is open). */
static unsigned join_pct = 20;

/* Splits a dotted path into event keys, joining some neighbours back (dotted event keys). */
static size_t split_path(rng *r, const char *path, char **segs, size_t cap)
{
	size_t n = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL;
	for (char *t = strtok_r(buf, ".", &save); t && n < cap; t = strtok_r(NULL, ".", &save)) {
		if (n && chance(r, join_pct)) {
			char *j = malloc(strlen(segs[n - 1]) + strlen(t) + 2);
			sprintf(j, "%s.%s", segs[n - 1], t);
			free(segs[n - 1]);
			segs[n - 1] = j;
		} else {
			segs[n++] = strdup(t);
		}
	}
	return n;
}

/* Extra members after the pattern's in nested objects (vocabulary keys, so sometimes a later
 * duplicate of a used key): what the walk's early stop must look past. */
static void sprinkle(rng *r, en *e, int depth)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->kid[i]->t != 's')
			sprinkle(r, e->kid[i], depth + 1);
	if (e->t == 'o' && depth > 0 && chance(r, 25))
		en_add(e, PICK(r, keys), leaf_node(r, NULL));
}

static void gen_event(rng *r, const gen *g, sb *out)
{
	en *root = en_new('o', NULL);
	for (size_t i = 0; i < g->nh; i++) {
		unsigned times = chance(r, 75) ? 1 + (chance(r, 30) ? 1 : 0) : 0;
		for (unsigned t = 0; t < times; t++) {
			char *segs[16];
			size_t n = split_path(r, g->h[i].path, segs, 16);
			if (n)
				insert(r, root, segs, n, &g->h[i]);
			for (size_t k = 0; k < n; k++)
				free(segs[k]);
		}
	}
	if (chance(r, 30)) {
		char *segs[1] = {strdup(PICK(r, keys))};
		insert(r, root, segs, 1, NULL);
		free(segs[0]);
	}
	if (chance(r, 50))
		sprinkle(r, root, 0);
	out->n = 0;
	en_emit(root, out);
	en_free(root);
}

/* ---- the test ----------------------------------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

typedef struct slot {
	uint32_t id;
	char *pattern;
	pat_ref *ref;
} slot;

static int reports;

static void report(uint64_t seed, uint64_t it, const char *what, const char *pattern, const char *event, int want,
		   int got)
{
	if (reports++ >= MAX_REPORTS)
		return;
	printf("MISMATCH (%s) seed=0x%llx iteration=%llu (replay: BB_DIFF_SEED=0x%llx BB_DIFF_ONLY=%llu)\n"
	       "  pattern: %s\n  event:   %s\n  reference=%d engine=%d\n",
	       what, (unsigned long long)seed, (unsigned long long)it, (unsigned long long)seed,
	       (unsigned long long)it, pattern, event ? event : "-", want, got);
}

static void test_diff(void **state)
{
	(void)state;
	uint64_t seed = env_u64("BB_DIFF_SEED", DEFAULT_SEED);
	uint64_t iters = env_u64("BB_DIFF_ITERS", DEFAULT_ITERS);
	uint64_t only = env_u64("BB_DIFF_ONLY", UINT64_MAX);
	bool verbose = env_u64("BB_DIFF_VERBOSE", 0) != 0; /* print every case first (for engine crashes) */
	join_pct = (unsigned)env_u64("BB_DIFF_JOIN_PCT", 20);
	uint64_t first = only == UINT64_MAX ? 0 : only, last = only == UINT64_MAX ? iters : only + 1;
	printf("pat diff: seed=0x%llx iterations=%llu..%llu\n", (unsigned long long)seed, (unsigned long long)first,
	       (unsigned long long)last);

	pat_builder *b = pat_builder_new();
	pat_scratch *sc = pat_scratch_new();
	assert_non_null(b);
	assert_non_null(sc);
	slot win[SET_WINDOW] = {{0}};
	char *batch_ev[SET_EVERY] = {0};
	size_t nbatch = 0;
	uint64_t n_match = 0, n_nomatch = 0, n_skipped = 0, n_gen_invalid = 0, n_sets = 0;
	uint32_t ids[SET_WINDOW + 8];

	for (uint64_t it = first; it < last; it++) {
		gen g = {{seed ^ (it * 0xD1B54A32D192ED03ULL)}, {0}, NULL, 0};
		next64(&g.r);
		gen_obj(&g, "", 0);
		if (verbose) {
			printf("iteration %llu pattern: %s\n", (unsigned long long)it, g.out.s);
			fflush(stdout);
		}
		char reason[PAT_REASON_MAX] = "";
		pat_ref *ref = pat_ref_compile(g.out.s, g.out.n, reason, sizeof(reason));
		pat_rule *rule = NULL;
		if (!ref) {
			if (n_gen_invalid++ < 5)
				printf("note: generator produced a pattern the reference rejects (%s): %s\n", reason, g.out.s);
			goto next;
		}
		char ereason[PAT_REASON_MAX] = "";
		bb_err e = pat_compile(g.out.s, g.out.n, NULL, &rule, ereason, sizeof(ereason));
		if (e != BB_OK) {
			if (strstr(ereason, "too complex")) {
				n_skipped++;
			} else {
				char msg[PAT_REASON_MAX + 64];
				snprintf(msg, sizeof(msg), "valid pattern rejected: %s", ereason);
				report(seed, it, msg, g.out.s, NULL, 1, 0);
			}
			pat_ref_free(ref);
			goto next;
		}
		for (int k = 0; k < EVENTS_PER_PATTERN; k++) {
			sb ev = {0};
			gen_event(&g.r, &g, &ev);
			if (verbose) {
				printf("  event: %s\n", ev.s);
				fflush(stdout);
			}
			int want = pat_ref_match(ref, ev.s, ev.n);
			bool m = false;
			bb_err me = pat_match_rule(rule, ev.s, ev.n, &m);
			int got = me == BB_OK ? (int)m : -1;
			if (want != got)
				report(seed, it, "pat_match_rule", g.out.s, ev.s, want, got);
			want == 1 ? n_match++ : n_nomatch++;
			if (k == 0 && nbatch < SET_EVERY)
				batch_ev[nbatch++] = ev.s; /* one event per pattern goes to the set check */
			else
				free(ev.s);
		}
		/* rolling set: replace the oldest slot (incremental remove + add) */
		slot *s = &win[it % SET_WINDOW];
		if (s->pattern) {
			assert_int_equal(pat_builder_remove(b, s->id), BB_OK);
			free(s->pattern);
			pat_ref_free(s->ref);
		}
		s->id = (uint32_t)(it + 1);
		s->pattern = strdup(g.out.s);
		s->ref = ref;
		assert_int_equal(pat_builder_add(b, s->id, rule), BB_OK);
		if ((it + 1) % SET_EVERY == 0 || it + 1 == last) {
			pat_set *set = pat_builder_publish(b);
			assert_non_null(set);
			n_sets++;
			for (size_t k = 0; k < nbatch; k++) {
				const char *ev = batch_ev[k];
				size_t n = 0;
				bb_err me = pat_match(set, sc, ev, strlen(ev), ids, BB_ARRAY_LEN(ids), &n);
				for (size_t w = 0; w < SET_WINDOW; w++) {
					if (!win[w].pattern)
						continue;
					int want = pat_ref_match(win[w].ref, ev, strlen(ev));
					int got = 0;
					for (size_t j = 0; me == BB_OK && j < n && j < BB_ARRAY_LEN(ids); j++)
						got |= ids[j] == win[w].id;
					if (me != BB_OK)
						got = -1;
					if (want != got) {
						char what[64];
						snprintf(what, sizeof(what), "pat_match set, rule id %u", win[w].id);
						report(seed, it, what, win[w].pattern, ev, want, got);
					}
				}
				if (me == BB_OK && n > pat_set_count(set))
					report(seed, it, "pat_match returned more ids than rules", "-", ev, 0, (int)n);
			}
			pat_set_release(set);
			for (size_t k = 0; k < nbatch; k++)
				free(batch_ev[k]);
			nbatch = 0;
		}
	next:
		pat_rule_free(rule);
		free(g.out.s);
		for (size_t i = 0; i < g.nh; i++) {
			free(g.h[i].path);
			free(g.h[i].val);
		}
		free(g.h);
		if (reports >= MAX_REPORTS)
			break;
	}
	for (size_t k = 0; k < nbatch; k++)
		free(batch_ev[k]);
	for (size_t w = 0; w < SET_WINDOW; w++) {
		free(win[w].pattern);
		pat_ref_free(win[w].ref);
	}
	pat_scratch_free(sc);
	pat_builder_free(b);
	printf("pat diff: %llu matching and %llu non-matching pairs, %llu sets checked, %llu patterns skipped "
	       "(engine complexity limit), %llu generator rejects, %d mismatches\n",
	       (unsigned long long)n_match, (unsigned long long)n_nomatch, (unsigned long long)n_sets,
	       (unsigned long long)n_skipped, (unsigned long long)n_gen_invalid, reports);
	assert_int_equal(reports, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
