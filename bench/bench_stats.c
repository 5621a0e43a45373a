/* bench/bench_stats.c — fixed-size statistics for the data-plane benchmarks: the log-bucket latency
 * histogram, the error tally, process CPU time, and the option-parsing helpers the modes share.
 *
 * Design: a histogram is a flat array indexed by (exponent, 5-bit mantissa) of the value in ns, so
 * adding is a few instructions and memory never grows however long a run is; quantiles are read from
 * the cumulative counts and reported as the bucket midpoint (error <= ~1.6 % of the value).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_net.h"

void bench_hist_init(bench_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min_ns = UINT64_MAX;
}

static size_t bucket_of(uint64_t v)
{
	if (v < BENCH_HIST_SUB)
		return (size_t)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 5 .. 63 */
	if (e >= BENCH_HIST_MAX_EXP)
		return BENCH_HIST_BUCKETS - 1;
	return BENCH_HIST_SUB + (size_t)(e - 5) * BENCH_HIST_SUB + (size_t)((v >> (e - 5)) & (BENCH_HIST_SUB - 1));
}

/* Midpoint of bucket i in ns. */
static double bucket_mid(size_t i)
{
	if (i < BENCH_HIST_SUB)
		return (double)i;
	size_t e = (i - BENCH_HIST_SUB) / BENCH_HIST_SUB + 5, sub = (i - BENCH_HIST_SUB) % BENCH_HIST_SUB;
	double width = (double)(1ull << (e - 5));
	return (double)(BENCH_HIST_SUB + sub) * width + width / 2;
}

void bench_hist_add(bench_hist *h, int64_t ns)
{
	uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
	h->b[bucket_of(v)]++;
	h->count++;
	h->sum_ns += (double)v;
	if (v > h->max_ns)
		h->max_ns = v;
	if (v < h->min_ns)
		h->min_ns = v;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
	for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->count += from->count;
	into->sum_ns += from->sum_ns;
	if (from->max_ns > into->max_ns)
		into->max_ns = from->max_ns;
	if (from->min_ns < into->min_ns)
		into->min_ns = from->min_ns;
}

double bench_hist_ms(const bench_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q >= 1)
		return (double)h->max_ns / 1e6;
	uint64_t want = (uint64_t)(q * (double)h->count);
	if (want < 1)
		want = 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			double v = bucket_mid(i);
			if (v > (double)h->max_ns)
				v = (double)h->max_ns; /* the top bucket's midpoint may exceed the real maximum */
			return v / 1e6;
		}
	}
	return (double)h->max_ns / 1e6;
}

/* ---- error tally ------------------------------------------------------------------------------ */

void bench_errs_add(bench_errs *t, const char *name, size_t len, uint64_t n)
{
	if (n == 0)
		return;
	t->total += n;
	if (len >= sizeof t->e[0].name)
		len = sizeof t->e[0].name - 1;
	for (size_t i = 0; i < t->kinds; i++) {
		if (strncmp(t->e[i].name, name, len) == 0 && t->e[i].name[len] == '\0') {
			t->e[i].n += n;
			return;
		}
	}
	if (t->kinds == BENCH_ERR_KINDS) {
		t->other += n;
		return;
	}
	memcpy(t->e[t->kinds].name, name, len);
	t->e[t->kinds].name[len] = '\0';
	t->e[t->kinds++].n = n;
}

void bench_errs_merge(bench_errs *into, const bench_errs *from)
{
	for (size_t i = 0; i < from->kinds; i++)
		bench_errs_add(into, from->e[i].name, strlen(from->e[i].name), from->e[i].n);
	into->other += from->other;
	into->total += from->other;
}

void bench_errs_format(const bench_errs *t, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < t->kinds && n < cap; i++) {
		int w = snprintf(out + n, cap - n, "%s%s:%llu", n ? "," : "", t->e[i].name, (unsigned long long)t->e[i].n);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (t->other && n < cap)
		n += (size_t)snprintf(out + n, cap - n, "%sother:%llu", n ? "," : "", (unsigned long long)t->other);
	if (n == 0)
		snprintf(out, cap, "none");
}

double bench_self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- options ---------------------------------------------------------------------------------- */

bool bench_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t nl = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, nl) != 0)
		return false;
	if (a[nl] == '=') {
		*val = a + nl + 1;
		return true;
	}
	if (a[nl] != '\0')
		return false;
	if (*i + 1 >= argc) {
		fprintf(stderr, "busbar-bench: %s needs a value\n", name);
		exit(2);
	}
	*val = argv[++*i];
	return true;
}

double bench_num(const char *name, const char *s, double min, double max)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || v < min || v > max) {
		fprintf(stderr, "busbar-bench: %s must be a number in [%g, %g], got '%s'\n", name, min, max, s);
		exit(2);
	}
	return v;
}
