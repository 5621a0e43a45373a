/* bench/bench_track.c — the delivery tracker of the end-to-end benchmark: which stamped events arrived,
 * how late, how often.
 *
 * Design: every delivered body is searched for the publisher's stamps (bench_seq, bench_t_ns), which
 * may appear raw (an API-destination POST of the event) or JSON-escaped (the event as a string inside
 * a ReceiveMessage answer), so the parser skips any of `\":` and spaces between key and digits. A
 * bitmap with one bit per seq (atomic fetch_or, shared by every thread of one target kind) separates
 * first deliveries from duplicates; memory is bounded by the publisher's largest possible seq.
 * Latency = receive time - bench_t_ns, both CLOCK_MONOTONIC of this machine (the publisher and the
 * receivers are this process), so no clock sync is involved.
 *
 * The queue readers that feed it from a built-in queue are in bench_queue.c; the HTTP sink in
 * bench_sink.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_net.h"
#include "common/bb.h"

int bench_track_init(bench_track *t, uint64_t nbits)
{
	memset(t, 0, sizeof *t);
	t->nbits = nbits;
	t->seen = calloc((size_t)(nbits / 64 + 1), sizeof *t->seen);
	return t->seen ? 0 : -1;
}

void bench_track_free(bench_track *t)
{
	free(t->seen);
	t->seen = NULL;
}

/* Finds key in body and parses the unsigned integer after it (skipping `\":` and blanks). */
static bool find_num(const char *body, size_t len, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	const char *p = memmem(body, len, key, kl), *end = body + len;
	if (!p)
		return false;
	p += kl;
	while (p < end && (*p == '\\' || *p == '"' || *p == ':' || *p == ' '))
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return false;
	uint64_t x = 0;
	while (p < end && *p >= '0' && *p <= '9')
		x = x * 10 + (uint64_t)(*p++ - '0');
	*v = x;
	return true;
}

void bench_track_record(bench_track *t, bench_hist *h, const char *body, size_t len, int64_t now_ns)
{
	uint64_t seq, ts;
	if (!find_num(body, len, "bench_seq", &seq) || !find_num(body, len, "bench_t_ns", &ts)) {
		atomic_fetch_add(&t->foreign, 1);
		return;
	}
	if (seq < t->nbits) {
		uint64_t bit = 1ull << (seq % 64);
		if (atomic_fetch_or(&t->seen[seq / 64], bit) & bit) {
			atomic_fetch_add(&t->duplicates, 1);
			return;
		}
	} else {
		atomic_fetch_add(&t->unchecked, 1);
	}
	bench_hist_add(h, now_ns - (int64_t)ts);
	atomic_fetch_add(&t->delivered, 1);
	atomic_store(&t->last_ns, now_ns);
}
