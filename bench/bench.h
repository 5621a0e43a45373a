/* bench/bench.h — private header of busbar-bench: the subcommand signature and small shared helpers.
 *
 * A subcommand is `int bench_<name>(int argc, char **argv)` in its own file bench/bench_<name>.c;
 * argv[0] is the subcommand name. It returns the process exit status: 0 all figures printed and all
 * self-checks passed, 1 a self-check failed (e.g. a match count differs), 2 usage or I/O error.
 * Figures go to stdout (one `key=value ...` line per measurement), diagnostics to stderr.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time in seconds (the process clock of common/bb.h). Thread-safe. */
double bench_now(void);

/* Median of v[n] (n >= 1); sorts v in place. */
double bench_median(double *v, size_t n);

/* Subcommands. Each is declared weak so that a subcommand whose file is absent is simply not offered
 * (bench_ingest.c, bench_e2e.c, bench_backlog.c were added without touching the others). The data-plane
 * modes share bench_net.h. */
int bench_match(int argc, char **argv) __attribute__((weak));
int bench_ingest(int argc, char **argv) __attribute__((weak));
int bench_e2e(int argc, char **argv) __attribute__((weak));
int bench_backlog(int argc, char **argv) __attribute__((weak));

#endif /* BENCH_H */
