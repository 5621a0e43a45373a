/* bench/bench_match.c — `busbar-bench match`: single-thread throughput of the pattern engine
 * (node/pattern/pat.h) on ../shared/bench/ data, one rule family at a time.
 *
 *   busbar-bench match --data citylots2-syn.json.gz --rules rules/EXACT.tsv [--rules ...] [--passes N]
 *                      [--batch N] [--churn N] [--portable] [--simd 0|1|2] [--small-pages]
 *
 * Method (../shared/bench/README.md): all events (one JSON object per line of the gzip file) are
 * loaded into one contiguous buffer first (decompression is slower than matching). For each --rules
 * file (family = file name without .tsv; lines `expected_count<TAB>pattern`, rule id = line number)
 * every pattern is compiled with pat_compile and added with pat_builder_add, the set is published
 * (compile_s = the time of all three), then N passes (default 5) run over every event on this thread
 * with one reused scratch: pat_match_batch on --batch events at a time (default 16; 1 = pat_match per
 * event, the data plane's call). The first pass's per-rule match counts are checked against the
 * file; every pass must find the same total. Output, one line per family on stdout:
 *
 *   family=EXACT rules=5 events_per_s=<median over passes> counts=ok bytes_per_rule=<n> compile_s=<s>
 *
 * counts=MISMATCH plus one stderr line per wrong rule (and a non-zero exit after all families) when a
 * count differs, a pattern fails to compile, or an event is rejected. Nothing here asserts on time.
 * --churn N then times N rule changes on the family's set, each followed by a publish (the cost of a
 * PutRule/DeleteRule on a bus with that many rules): remove a random rule, publish; add it back,
 * publish. One more line: family=EXACT churn=N remove_publish_us=<median> add_publish_us=<median>.
 * The buffer is asked to be in 2 MiB pages (events_huge); --small-pages leaves it in 4 KiB pages.
 * --portable matches with the SSE2 code instead of the best the CPU has (pat_simd_set(0)); --simd N
 * chooses the level (0 SSE2, 1 AVX2, 2 AVX2 with the AVX-512BW early-stop scan; default the best).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

#include "bench.h"
#include "node/pattern/pat.h"

#define MAX_RULE_FILES 64

/* All events: one buffer, each event at off[i] with len[i] bytes (newline excluded). */
typedef struct events {
	char *buf;
	size_t size, cap;
	size_t *off;
	size_t *len;
	size_t n, ncap;
} events;

static void *must_realloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "busbar-bench: out of memory\n");
		exit(2);
	}
	return p;
}

static void events_add(events *ev, size_t off, size_t len)
{
	if (len == 0)
		return;
	if (ev->n == ev->ncap) {
		ev->ncap = ev->ncap ? ev->ncap * 2 : 4096;
		ev->off = must_realloc(ev->off, ev->ncap * sizeof(*ev->off));
		ev->len = must_realloc(ev->len, ev->ncap * sizeof(*ev->len));
	}
	ev->off[ev->n] = off;
	ev->len[ev->n++] = len;
}

/* Reads the whole (gzip or plain) file with gzread and splits it into lines. */
static int events_load(const char *path, events *ev)
{
	gzFile gz = gzopen(path, "rb");
	if (!gz) {
		fprintf(stderr, "busbar-bench: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	gzbuffer(gz, 1 << 20);
	for (;;) {
		if (ev->cap - ev->size < (1u << 20)) {
			ev->cap = ev->cap ? ev->cap * 2 : (64u << 20);
			ev->buf = must_realloc(ev->buf, ev->cap);
		}
		int n = gzread(gz, ev->buf + ev->size, (unsigned)(ev->cap - ev->size - 1));
		if (n < 0) {
			int zerr;
			fprintf(stderr, "busbar-bench: %s: %s\n", path, gzerror(gz, &zerr));
			gzclose(gz);
			return -1;
		}
		if (n == 0)
			break;
		ev->size += (size_t)n;
	}
	gzclose(gz);
	size_t start = 0;
	for (size_t i = 0; i < ev->size; i++) {
		if (ev->buf[i] == '\n') {
			events_add(ev, start, i - start);
			start = i + 1;
		}
	}
	events_add(ev, start, ev->size - start);
	return 0;
}

/* Moves the events into memory the kernel is asked to back with 2 MiB pages (MADV_HUGEPAGE; a hint:
 * with transparent huge pages "never" nothing changes). The harness's 211 MB buffer in 4 KiB pages
 * costs the matcher a TLB miss every ~4 events (~8 % of EXACT's time, measured), which a data plane
 * matching an event it has just received does not pay; --small-pages keeps the plain buffer. */
static void events_huge(events *ev)
{
	size_t huge = 2u << 20, n = (ev->size + huge) & ~(huge - 1);
	void *h = NULL;
	if (posix_memalign(&h, huge, n) != 0)
		return;
	(void)madvise(h, n, MADV_HUGEPAGE);
	memcpy(h, ev->buf, ev->size);
	free(ev->buf);
	ev->buf = h;
	ev->cap = n;
}

/* One rule family read from a TSV file. */
typedef struct family {
	char name[256];
	char **pattern;    /* pattern[i] = text of rule id i + 1 */
	uint64_t *expect;  /* expected match count of rule id i + 1 */
	size_t n;
} family;

static void family_free(family *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->pattern[i]);
	free(f->pattern);
	free(f->expect);
}

static int family_load(const char *path, family *f)
{
	memset(f, 0, sizeof(*f));
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(f->name, sizeof(f->name), "%s", base);
	char *dot = strstr(f->name, ".tsv");
	if (dot && dot[4] == 0)
		*dot = 0;
	FILE *fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "busbar-bench: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, fp)) > 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		char *tab = strchr(line, '\t');
		char *end;
		unsigned long long want = tab ? strtoull(line, &end, 10) : 0;
		if (!tab || end != tab) {
			fprintf(stderr, "busbar-bench: %s:%zu: expected `count<TAB>pattern`\n", path, lineno);
			free(line);
			fclose(fp);
			return -1;
		}
		/* ids are line numbers: rule id lineno lives at index lineno - 1 */
		f->pattern = must_realloc(f->pattern, lineno * sizeof(*f->pattern));
		f->expect = must_realloc(f->expect, lineno * sizeof(*f->expect));
		f->pattern[lineno - 1] = strdup(tab + 1);
		f->expect[lineno - 1] = want;
		f->n = lineno;
	}
	free(line);
	fclose(fp);
	if (f->n == 0) {
		fprintf(stderr, "busbar-bench: %s: no rules\n", path);
		return -1;
	}
	return 0;
}

/* Runs one family; returns 0 when every count matched, 1 otherwise, 2 on setup failure. */
/* Times rule changes on a built set: each removal and each re-addition is followed by a publish. */
static void run_churn(const family *f, pat_builder *b, int churn)
{
	double *rm = calloc((size_t)churn, sizeof(double)), *ad = calloc((size_t)churn, sizeof(double));
	char reason[PAT_REASON_MAX];
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	for (int i = 0; rm && ad && i < churn; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t k = (size_t)(x % f->n);
		pat_rule *r = NULL;
		if (pat_compile(f->pattern[k], strlen(f->pattern[k]), NULL, &r, reason, sizeof(reason)) != BB_OK)
			continue;
		double t0 = bench_now();
		pat_builder_remove(b, (uint32_t)(k + 1));
		pat_set_release(pat_builder_publish(b));
		double t1 = bench_now();
		pat_builder_add(b, (uint32_t)(k + 1), r);
		pat_set_release(pat_builder_publish(b));
		double t2 = bench_now();
		pat_rule_free(r);
		rm[i] = (t1 - t0) * 1e6;
		ad[i] = (t2 - t1) * 1e6;
	}
	if (rm && ad)
		printf("family=%s churn=%d remove_publish_us=%.1f add_publish_us=%.1f\n", f->name, churn,
		       bench_median(rm, (size_t)churn), bench_median(ad, (size_t)churn));
	fflush(stdout);
	free(rm);
	free(ad);
}

#define BATCH_MAX 64 /* --batch at most */
#define BATCH_IDS 64 /* ids kept per event of a batch */
static int batch = 16; /* events per pat_match_batch call (--batch; 1 = pat_match) */

static int run_family(const family *f, const events *ev, int passes, int churn)
{
	bool ok = true;
	char reason[PAT_REASON_MAX];
	pat_builder *b = pat_builder_new();
	if (!b) {
		fprintf(stderr, "busbar-bench: pat_builder_new failed\n");
		return 2;
	}
	double t0 = bench_now();
	for (size_t i = 0; i < f->n; i++) {
		pat_rule *r = NULL;
		bb_err e = pat_compile(f->pattern[i], strlen(f->pattern[i]), NULL, &r, reason, sizeof(reason));
		if (e == BB_OK) {
			e = pat_builder_add(b, (uint32_t)(i + 1), r);
			pat_rule_free(r);
			if (e != BB_OK)
				snprintf(reason, sizeof(reason), "pat_builder_add: %s", bb_strerror(e));
		}
		if (e != BB_OK) {
			fprintf(stderr, "family=%s rule=%zu compile failed: %s pattern=%s\n", f->name, i + 1, reason,
				f->pattern[i]);
			ok = false;
		}
	}
	pat_set *set = pat_builder_publish(b);
	double compile_s = bench_now() - t0;
	pat_scratch *sc = pat_scratch_new();
	uint64_t *count = calloc(f->n + 1, sizeof(*count));
	uint32_t *ids = malloc((f->n + 1) * sizeof(*ids));
	double *rate = calloc((size_t)passes, sizeof(*rate));
	if (!set || !sc || !count || !ids || !rate) {
		fprintf(stderr, "busbar-bench: setup failed for family %s\n", f->name);
		ok = false;
		goto out;
	}
	uint64_t first_total = 0, rejected = 0;
	/* each event of a batch gets room for a few ids; one with more is matched again alone for the
	 * first pass's counts (its total n is right either way) */
	size_t cap1 = f->n + 1 < BATCH_IDS ? f->n + 1 : BATCH_IDS;
	pat_batch_item items[BATCH_MAX];
	uint32_t item_ids[BATCH_MAX * BATCH_IDS];
	for (int p = 0; p < passes; p++) {
		uint64_t total = 0;
		double start = bench_now();
		for (size_t i = 0; i < ev->n; i += (size_t)batch) {
			size_t m = ev->n - i < (size_t)batch ? ev->n - i : (size_t)batch;
			for (size_t j = 0; j < m; j++)
				items[j] = (pat_batch_item){.event = ev->buf + ev->off[i + j], .len = ev->len[i + j],
							    .ids = item_ids + j * BATCH_IDS, .cap = cap1};
			if (batch == 1)
				items[0].err = pat_match(set, sc, items[0].event, items[0].len, items[0].ids, cap1, &items[0].n);
			else
				pat_match_batch(set, sc, items, m);
			for (size_t j = 0; j < m; j++) {
				pat_batch_item *it = &items[j];
				if (it->err != BB_OK) {
					if (p == 0)
						rejected++;
					continue;
				}
				total += it->n;
				if (p != 0)
					continue;
				const uint32_t *got = it->ids;
				size_t n = it->n;
				if (n > cap1) {
					if (pat_match(set, sc, it->event, it->len, ids, f->n + 1, &n) != BB_OK) {
						rejected++;
						continue;
					}
					got = ids;
				}
				size_t k = n < f->n + 1 ? n : f->n + 1;
				for (size_t q = 0; q < k; q++)
					if (got[q] >= 1 && got[q] <= f->n)
						count[got[q]]++;
			}
		}
		double el = bench_now() - start;
		rate[p] = el > 0 ? (double)ev->n / el : 0;
		if (p == 0)
			first_total = total;
		else if (total != first_total) {
			fprintf(stderr, "family=%s pass=%d total matches %" PRIu64 " != first pass %" PRIu64 "\n",
				f->name, p + 1, total, first_total);
			ok = false;
		}
	}
	if (rejected) {
		fprintf(stderr, "family=%s %" PRIu64 " events rejected by pat_match\n", f->name, rejected);
		ok = false;
	}
	for (size_t i = 1; i <= f->n; i++) {
		if (count[i] != f->expect[i - 1]) {
			fprintf(stderr, "family=%s rule=%zu expected=%" PRIu64 " got=%" PRIu64 " pattern=%s\n", f->name, i,
				f->expect[i - 1], count[i], f->pattern[i - 1]);
			ok = false;
		}
	}
	printf("family=%s rules=%zu events_per_s=%.0f counts=%s bytes_per_rule=%zu compile_s=%.6f\n", f->name,
	       f->n, bench_median(rate, (size_t)passes), ok ? "ok" : "MISMATCH",
	       pat_set_memory(set) / (f->n ? f->n : 1), compile_s);
	fflush(stdout);
	if (churn > 0)
		run_churn(f, b, churn);
out:
	free(rate);
	free(ids);
	free(count);
	pat_scratch_free(sc);
	if (set)
		pat_set_release(set);
	pat_builder_free(b);
	return ok ? 0 : 1;
}

static void match_usage(void)
{
	fprintf(stderr, "usage: busbar-bench match --data EVENTS.json.gz --rules FAMILY.tsv [--rules ...] "
			"[--passes N] [--batch N] [--churn N] [--portable] [--simd 0|1|2] [--small-pages]\n");
}

int bench_match(int argc, char **argv)
{
	const char *data = NULL;
	const char *rules[MAX_RULE_FILES];
	size_t nrules = 0;
	int passes = 5, churn = 0;
	bool small_pages = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--portable") == 0) {
			pat_simd_set(0);
			continue;
		}
		if (strcmp(a, "--small-pages") == 0) {
			small_pages = true;
			continue;
		}
		if (i + 1 >= argc) {
			match_usage();
			return 2;
		}
		if (strcmp(a, "--data") == 0) {
			data = argv[++i];
		} else if (strcmp(a, "--rules") == 0) {
			if (nrules == MAX_RULE_FILES) {
				fprintf(stderr, "busbar-bench: at most %d --rules\n", MAX_RULE_FILES);
				return 2;
			}
			rules[nrules++] = argv[++i];
		} else if (strcmp(a, "--simd") == 0) {
			int want = atoi(argv[++i]);
			if (want < 0 || want > 2 || pat_simd_set(want) != want) {
				fprintf(stderr, "busbar-bench: --simd %d: 0 (SSE2), 1 (AVX2) or 2 (AVX-512 scan), up to what "
						"this CPU has (%d; default %d)\n", want, pat_simd_set(PAT_SIMD_HIGHEST), pat_simd_set(-1));
				return 2;
			}
		} else if (strcmp(a, "--churn") == 0) {
			churn = atoi(argv[++i]);
			if (churn < 0 || churn > 1000000) {
				fprintf(stderr, "busbar-bench: --churn must be 0..1000000\n");
				return 2;
			}
		} else if (strcmp(a, "--batch") == 0) {
			batch = atoi(argv[++i]);
			if (batch < 1 || batch > BATCH_MAX) {
				fprintf(stderr, "busbar-bench: --batch must be 1..%d\n", BATCH_MAX);
				return 2;
			}
		} else if (strcmp(a, "--passes") == 0) {
			passes = atoi(argv[++i]);
			if (passes < 1 || passes > 1000) {
				fprintf(stderr, "busbar-bench: --passes must be 1..1000\n");
				return 2;
			}
		} else {
			match_usage();
			return 2;
		}
	}
	if (!data || nrules == 0) {
		match_usage();
		return 2;
	}
	events ev = {0};
	double t0 = bench_now();
	if (events_load(data, &ev) != 0)
		return 2;
	if (!small_pages)
		events_huge(&ev);
	fprintf(stderr, "loaded %zu events (%zu bytes, %s pages) in %.1f s\n", ev.n, ev.size,
		small_pages ? "4 KiB" : "2 MiB (asked)", bench_now() - t0);
	int status = 0;
	for (size_t i = 0; i < nrules; i++) {
		family f;
		if (family_load(rules[i], &f) != 0) {
			status = 2;
			continue;
		}
		int r = run_family(&f, &ev, passes, churn);
		if (r > status)
			status = r;
		family_free(&f);
	}
	free(ev.buf);
	free(ev.off);
	free(ev.len);
	return status;
}
