/* bench/bench_main.c — busbar-bench entry point: `busbar-bench <subcommand> [options]`.
 *
 * Design: a table of subcommands, each implemented in its own file (bench_<name>.c) as a weak
 * symbol declared in bench.h; the table lists every known name and skips those not linked in. Adding
 * a subcommand = one file + one row here. Benchmarks print figures and never assert on time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common/bb.h"

typedef struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} subcommand;

static const subcommand subcommands[] = {
	{"match", bench_match,
	 "--data EVENTS.json.gz --rules FAMILY.tsv [--rules ...] [--passes N]\n"
	 "        pattern-matching throughput per rule family (single thread), counts checked"},
	{"ingest", bench_ingest,
	 "[--endpoint URL | --start-node] [--clients 16] [--seconds 10] [--rate 0] [--bus NAME] [--event-bytes 1024]\n"
	 "        signed PutEvents throughput (acked events/s) and request latency percentiles"},
	{"e2e", bench_e2e,
	 "[--endpoint URL | --start-node] [--rate 10000] [--seconds 10]\n"
	 "        publish-to-delivery latency and delivered events/s per target kind (API destination, queue)"},
	{"backlog", bench_backlog,
	 "[--endpoint URL --pid PID | --start-node] [--events 1000000]\n"
	 "        node RSS with events backlogged behind a dead API destination"},
};

double bench_now(void) { return (double)bb_mono_ns(&bb_clock_system) / 1e9; }

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: busbar-bench <subcommand> [options]\n\nsubcommands:\n");
	for (size_t i = 0; i < BB_ARRAY_LEN(subcommands); i++)
		if (subcommands[i].run)
			fprintf(f, "  %s %s\n", subcommands[i].name, subcommands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < BB_ARRAY_LEN(subcommands); i++) {
		if (subcommands[i].run && strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "busbar-bench: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
