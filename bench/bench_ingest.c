/* bench/bench_ingest.c — `busbar-bench ingest`: PutEvents throughput and latency of one node.
 *
 *   busbar-bench ingest [--endpoint http://127.0.0.1:4010 | --start-node] [--clients 16] [--seconds 10]
 *                       [--rate 0] [--bus NAME] [--event-bytes 1024] [--batch 10]
 *
 * Design: the publisher of bench_load.c (one thread and keep-alive connection per client, SigV4-signed
 * AWSEvents.PutEvents of --batch entries with a ~--event-bytes Detail; closed loop, or open loop at
 * --rate events/s with latency from the intended send time). A bus other than "default" is created
 * first (CreateEventBus; an existing one is fine). With --start-node a fresh node runs on a temporary
 * directory for the duration and its CPU and RSS are reported too. One line on stdout:
 *
 *   mode=ingest clients=16 seconds=10 rate=0 batch=10 event_bytes=1024 acked_events_per_s=... requests=...
 *   p50_ms=... p99_ms=... p999_ms=... max_ms=... errors=... error_types=... late=... unsent=...
 *   client_cpu_pct=... [node_cpu_pct=... node_rss_mb=...]
 *
 * Exit status: 0 figures printed, 1 no event was acknowledged, 2 usage or setup error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_net.h"

static void usage(void)
{
	fprintf(stderr, "usage: busbar-bench ingest [options]\n"
			"  --clients N         connections, one thread each (default 16)\n"
			"  --seconds S         publishing time (default 10)\n"
			"  --rate R            events/s over all clients, open loop; 0 = closed loop (default 0)\n"
			"  --bus NAME          event bus (created if missing; default: the default bus)\n"
			"  --event-bytes B     Detail size (default 1024)\n"
			"  --batch N           entries per PutEvents, 1..10 (default 10)\n" BENCH_TARGET_HELP);
}

/* Creates bus (ResourceAlreadyExistsException is fine). Returns 0 or -1. */
static int ensure_bus(const bench_target *t, const char *bus)
{
	bench_conn c;
	bench_conn_init(&c, &t->ep, t->timeout_ms);
	json_t *req = json_pack("{s:s}", "Name", bus);
	char *body = json_dumps(req, JSON_COMPACT), err[512];
	json_decref(req);
	json_t *ans = body ? bench_aws_json(&c, &t->cr, "AWSEvents.CreateEventBus", body, "ResourceAlreadyExistsException",
					    err, sizeof err)
			   : NULL;
	free(body);
	bench_conn_free(&c);
	if (!ans) {
		fprintf(stderr, "busbar-bench: %s\n", err);
		return -1;
	}
	json_decref(ans);
	return 0;
}

int bench_ingest(int argc, char **argv)
{
	bench_target t;
	bench_target_defaults(&t);
	bench_load_cfg cfg = {.clients = 16, .seconds = 10, .batch = 10, .event_bytes = 1024, .source = "busbar.bench"};
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (bench_target_opt(&t, argc, argv, &i))
			continue;
		if (bench_opt(argc, argv, &i, "--clients", &v))
			cfg.clients = (int)bench_num("--clients", v, 1, 4096);
		else if (bench_opt(argc, argv, &i, "--seconds", &v))
			cfg.seconds = bench_num("--seconds", v, 0.001, 86400);
		else if (bench_opt(argc, argv, &i, "--rate", &v))
			cfg.rate = bench_num("--rate", v, 0, 1e9);
		else if (bench_opt(argc, argv, &i, "--bus", &v))
			cfg.bus = v;
		else if (bench_opt(argc, argv, &i, "--event-bytes", &v))
			cfg.event_bytes = (int)bench_num("--event-bytes", v, 1, 256 * 1024);
		else if (bench_opt(argc, argv, &i, "--batch", &v))
			cfg.batch = (int)bench_num("--batch", v, 1, 10);
		else {
			if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h"))
				fprintf(stderr, "busbar-bench ingest: unknown option '%s'\n", argv[i]);
			usage();
			return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
		}
	}
	if (bench_target_open(&t) != 0)
		return 2;
	int rc = 2;
	if (cfg.bus && strcmp(cfg.bus, "default") != 0 && ensure_bus(&t, cfg.bus) != 0)
		goto out;
	cfg.ep = &t.ep;
	cfg.cr = &t.cr;
	cfg.timeout_ms = t.timeout_ms;

	double node_cpu0 = t.node.pid > 0 ? bench_proc_cpu_s(t.node.pid) : -1;
	bench_load_result res;
	if (bench_load_run(&cfg, &res) != 0)
		goto out;
	double node_cpu1 = t.node.pid > 0 ? bench_proc_cpu_s(t.node.pid) : -1;

	char errs[1024];
	bench_errs_format(&res.errs, errs, sizeof errs);
	printf("mode=ingest clients=%d seconds=%g rate=%g batch=%d event_bytes=%d acked_events_per_s=%.0f requests=%llu "
	       "p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f errors=%llu error_types=%s late=%llu unsent=%llu "
	       "client_cpu_pct=%.0f",
	       cfg.clients, cfg.seconds, cfg.rate, cfg.batch, cfg.event_bytes, (double)res.acked / res.elapsed_s,
	       (unsigned long long)res.requests, bench_hist_ms(&res.lat, 0.50), bench_hist_ms(&res.lat, 0.99),
	       bench_hist_ms(&res.lat, 0.999), bench_hist_ms(&res.lat, 1), (unsigned long long)res.errs.total, errs,
	       (unsigned long long)res.late, (unsigned long long)res.unsent, 100 * res.cpu_s / res.elapsed_s);
	if (t.node.pid > 0) {
		bench_rss rss;
		bench_proc_rss(t.node.pid, &rss);
		printf(" node_cpu_pct=%.0f node_rss_mb=%.0f", 100 * (node_cpu1 - node_cpu0) / res.elapsed_s,
		       (double)rss.vm_rss_kb / 1024);
	}
	printf("\n");
	fflush(stdout);
	rc = res.acked ? 0 : 1;
out:
	bench_target_close(&t);
	return rc;
}
