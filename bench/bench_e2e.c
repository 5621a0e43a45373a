/* bench/bench_e2e.c — `busbar-bench e2e`: publish-to-delivery latency and delivered events/s per target
 * kind (API destination over HTTP, built-in queue).
 *
 *   busbar-bench e2e [--endpoint URL | --start-node] [--rate 10000] [--seconds 10] [--clients 16]
 *                    [--targets api_destination,queue] [--queue-readers 4] [--drain-idle 5] [--drain-max 60]
 *
 * Design: everything is created through the public API with signed calls, as a user would: an event
 * bus (bench-e2e-<pid>, unless --bus), a rule matching source "busbar.bench", a connection (API key) and
 * an API destination whose endpoint is this process's HTTP sink (bench_sink.c), a queue
 * (AmazonSQS.CreateQueue + GetQueueAttributes for its ARN, JSON 1.0), and PutTargets with both. The
 * publisher (bench_load.c, open loop at --rate) stamps every Detail with a unique bench_seq and the
 * intended send time; the sink and the queue readers (bench_track.c) record first deliveries,
 * duplicates and publish-to-delivery latency on the same monotonic clock. After publishing, the run
 * waits until every target got every acknowledged event, or nothing arrived for --drain-idle seconds,
 * or --drain-max passed; then it removes what it created (unless --keep). Output, one line per kind:
 *
 *   mode=e2e target=publish rate=.. seconds=.. acked_events=.. acked_events_per_s=.. p50_ms=.. ... errors=..
 *   mode=e2e target=api_destination delivered=.. delivered_events_per_s=.. p50_ms=.. p99_ms=.. p999_ms=..
 *            max_ms=.. duplicates=.. missing=..
 *   mode=e2e target=queue ... (same fields, plus reader errors)
 *
 * Exit status: 0 every acknowledged event reached every target, 1 something is missing or no event was
 * acknowledged, 2 usage or setup error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_net.h"
#include "common/bb.h"

#define E2E_SOURCE "busbar.bench"

typedef struct e2e {
	bench_target t;
	bench_load_cfg cfg;
	bench_conn c; /* setup connection */
	bool want_http, want_queue, keep;
	const char *sink_host;
	double api_rate, drain_idle, drain_max;
	int readers;
	char name[64]; /* bench-e2e-<pid>: every resource's name */
	char bus[256];
	bool created_bus;
	char *queue_url, *queue_arn, *conn_arn, *dest_arn;
	bool rule_created;
} e2e;

static void usage(void)
{
	fprintf(stderr,
		"usage: busbar-bench e2e [options]\n"
		"  --rate R            events/s, open loop (default 10000)\n"
		"  --seconds S         publishing time (default 10)\n"
		"  --clients N         publishing connections (default 16)\n"
		"  --event-bytes B     Detail size (default 1024)\n"
		"  --batch N           entries per PutEvents (default 10)\n"
		"  --bus NAME          use this bus (created if missing) instead of a fresh bench-e2e-<pid>\n"
		"  --targets LIST      api_destination,queue (default both)\n"
		"  --api-rate N        the API destination's InvocationRateLimitPerSecond (default 1000000)\n"
		"  --queue-readers N   receiver threads (and as many deleters; default 4)\n"
		"  --sink-host ADDR    IPv4 address the HTTP sink listens on and the destination uses (default 127.0.0.1)\n"
		"  --drain-idle S      stop waiting for deliveries after S seconds without one (default 5)\n"
		"  --drain-max S       stop waiting for deliveries after S seconds in total (default 60)\n"
		"  --keep              leave the created bus, rule, destination, connection and queue\n" BENCH_TARGET_HELP);
}

/* One setup call with a jansson body (stolen). Returns the answer or NULL (message printed). */
static json_t *call(e2e *x, const char *op, json_t *body, const char *ok_error)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL, err[1024];
	json_decref(body);
	if (!s) {
		fprintf(stderr, "busbar-bench: %s: out of memory\n", op);
		return NULL;
	}
	json_t *ans = bench_aws_json(&x->c, &x->t.cr, op, s, ok_error, err, sizeof err);
	free(s);
	if (!ans)
		fprintf(stderr, "busbar-bench: %s\n", err);
	return ans;
}

/* Copies the string member key of ans (then releases ans); NULL if absent. */
static char *take_str(json_t *ans, const char *key)
{
	const char *v = json_string_value(json_object_get(ans, key));
	char *s = v ? strdup(v) : NULL;
	json_decref(ans);
	return s;
}

static int setup(e2e *x, int sink_port)
{
	json_t *a;
	if (x->cfg.bus) {
		snprintf(x->bus, sizeof x->bus, "%s", x->cfg.bus);
	} else {
		snprintf(x->bus, sizeof x->bus, "%s", x->name);
		x->created_bus = true;
	}
	if (strcmp(x->bus, "default") != 0) {
		a = call(x, "AWSEvents.CreateEventBus", json_pack("{s:s}", "Name", x->bus), "ResourceAlreadyExistsException");
		if (!a)
			return -1;
		json_decref(a);
	}
	x->cfg.bus = x->bus;

	json_t *targets = json_array();
	if (x->want_queue) {
		x->queue_url = take_str(call(x, "AmazonSQS.CreateQueue", json_pack("{s:s}", "QueueName", x->name), NULL),
					"QueueUrl");
		if (!x->queue_url)
			goto fail;
		a = call(x, "AmazonSQS.GetQueueAttributes",
			 json_pack("{s:s, s:[s]}", "QueueUrl", x->queue_url, "AttributeNames", "QueueArn"), NULL);
		const char *arn = json_string_value(json_object_get(json_object_get(a, "Attributes"), "QueueArn"));
		x->queue_arn = arn ? strdup(arn) : NULL;
		json_decref(a);
		if (!x->queue_arn) {
			fprintf(stderr, "busbar-bench: GetQueueAttributes gave no QueueArn\n");
			goto fail;
		}
		json_array_append_new(targets, json_pack("{s:s, s:s}", "Id", "queue", "Arn", x->queue_arn));
	}
	if (x->want_http) {
		x->conn_arn = take_str(call(x, "AWSEvents.CreateConnection",
					    json_pack("{s:s, s:s, s:{s:{s:s, s:s}}}", "Name", x->name, "AuthorizationType",
						      "API_KEY", "AuthParameters", "ApiKeyAuthParameters", "ApiKeyName",
						      "x-bench-key", "ApiKeyValue", "bench"),
					    NULL),
				       "ConnectionArn");
		if (!x->conn_arn)
			goto fail;
		char url[128];
		snprintf(url, sizeof url, "http://%s:%d/sink", x->sink_host, sink_port);
		x->dest_arn = take_str(call(x, "AWSEvents.CreateApiDestination",
					    json_pack("{s:s, s:s, s:s, s:s, s:I}", "Name", x->name, "ConnectionArn",
						      x->conn_arn, "InvocationEndpoint", url, "HttpMethod", "POST",
						      "InvocationRateLimitPerSecond", (json_int_t)x->api_rate),
					    NULL),
				       "ApiDestinationArn");
		if (!x->dest_arn)
			goto fail;
		char role[128];
		snprintf(role, sizeof role, "arn:aws:iam::000000000000:role/%s", x->name);
		json_array_append_new(targets,
				      json_pack("{s:s, s:s, s:s}", "Id", "api_destination", "Arn", x->dest_arn, "RoleArn", role));
	}
	a = call(x, "AWSEvents.PutRule",
		 json_pack("{s:s, s:s, s:s, s:s}", "Name", x->name, "EventBusName", x->bus, "EventPattern",
			   "{\"source\":[\"" E2E_SOURCE "\"]}", "State", "ENABLED"),
		 NULL);
	if (!a)
		goto fail;
	json_decref(a);
	x->rule_created = true;
	a = call(x, "AWSEvents.PutTargets", json_pack("{s:s, s:s, s:O}", "Rule", x->name, "EventBusName", x->bus, "Targets", targets),
		 NULL);
	if (!a)
		goto fail;
	json_int_t failed = json_integer_value(json_object_get(a, "FailedEntryCount"));
	if (failed) {
		char *s = json_dumps(json_object_get(a, "FailedEntries"), JSON_COMPACT);
		fprintf(stderr, "busbar-bench: PutTargets failed: %s\n", s ? s : "?");
		free(s);
		json_decref(a);
		goto fail;
	}
	json_decref(a);
	json_decref(targets);
	return 0;
fail:
	json_decref(targets);
	return -1;
}

/* Best effort: removes what setup created, in reverse order. */
static void teardown(e2e *x)
{
	json_t *a;
	if (x->rule_created) {
		json_t *ids = json_array();
		if (x->dest_arn)
			json_array_append_new(ids, json_string("api_destination"));
		if (x->queue_arn)
			json_array_append_new(ids, json_string("queue"));
		a = call(x, "AWSEvents.RemoveTargets",
			 json_pack("{s:s, s:s, s:o}", "Rule", x->name, "EventBusName", x->bus, "Ids", ids), NULL);
		json_decref(a);
		a = call(x, "AWSEvents.DeleteRule", json_pack("{s:s, s:s}", "Name", x->name, "EventBusName", x->bus), NULL);
		json_decref(a);
	}
	if (x->dest_arn)
		json_decref(call(x, "AWSEvents.DeleteApiDestination", json_pack("{s:s}", "Name", x->name), NULL));
	if (x->conn_arn)
		json_decref(call(x, "AWSEvents.DeleteConnection", json_pack("{s:s}", "Name", x->name), NULL));
	if (x->queue_url)
		json_decref(call(x, "AmazonSQS.DeleteQueue", json_pack("{s:s}", "QueueUrl", x->queue_url), NULL));
	if (x->created_bus)
		json_decref(call(x, "AWSEvents.DeleteEventBus", json_pack("{s:s}", "Name", x->bus), NULL));
}

static void print_target(const char *kind, bench_track *tr, const bench_hist *h, uint64_t acked, int64_t t0_ns,
			 const bench_errs *errs)
{
	uint64_t delivered = atomic_load(&tr->delivered);
	int64_t last = atomic_load(&tr->last_ns);
	double span = last > t0_ns ? (double)(last - t0_ns) / 1e9 : 0;
	char eb[1024] = "none";
	if (errs)
		bench_errs_format(errs, eb, sizeof eb);
	printf("mode=e2e target=%s delivered=%llu delivered_events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f "
	       "max_ms=%.2f duplicates=%llu missing=%llu foreign=%llu errors=%llu error_types=%s\n",
	       kind, (unsigned long long)delivered, span > 0 ? (double)delivered / span : 0, bench_hist_ms(h, 0.5),
	       bench_hist_ms(h, 0.99), bench_hist_ms(h, 0.999), bench_hist_ms(h, 1),
	       (unsigned long long)atomic_load(&tr->duplicates),
	       (unsigned long long)(acked > delivered ? acked - delivered : 0), (unsigned long long)atomic_load(&tr->foreign),
	       (unsigned long long)(errs ? errs->total : 0), eb);
}

static bool parse_targets(e2e *x, const char *v)
{
	x->want_http = strstr(v, "api_destination") != NULL;
	x->want_queue = strstr(v, "queue") != NULL;
	return x->want_http || x->want_queue;
}

int bench_e2e(int argc, char **argv)
{
	e2e x;
	memset(&x, 0, sizeof x);
	bench_target_defaults(&x.t);
	x.cfg = (bench_load_cfg){.clients = 16, .seconds = 10, .rate = 10000, .batch = 10, .event_bytes = 1024,
				 .source = E2E_SOURCE, .stamp = true};
	x.want_http = x.want_queue = true;
	x.sink_host = "127.0.0.1";
	x.api_rate = 1000000;
	x.drain_idle = 5;
	x.drain_max = 60;
	x.readers = 4;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (bench_target_opt(&x.t, argc, argv, &i))
			continue;
		if (bench_opt(argc, argv, &i, "--clients", &v))
			x.cfg.clients = (int)bench_num("--clients", v, 1, 4096);
		else if (bench_opt(argc, argv, &i, "--seconds", &v))
			x.cfg.seconds = bench_num("--seconds", v, 0.001, 86400);
		else if (bench_opt(argc, argv, &i, "--rate", &v))
			x.cfg.rate = bench_num("--rate", v, 1, 1e9);
		else if (bench_opt(argc, argv, &i, "--event-bytes", &v))
			x.cfg.event_bytes = (int)bench_num("--event-bytes", v, 1, 256 * 1024);
		else if (bench_opt(argc, argv, &i, "--batch", &v))
			x.cfg.batch = (int)bench_num("--batch", v, 1, 10);
		else if (bench_opt(argc, argv, &i, "--bus", &v))
			x.cfg.bus = v;
		else if (bench_opt(argc, argv, &i, "--api-rate", &v))
			x.api_rate = bench_num("--api-rate", v, 1, 1e9);
		else if (bench_opt(argc, argv, &i, "--queue-readers", &v))
			x.readers = (int)bench_num("--queue-readers", v, 1, 64);
		else if (bench_opt(argc, argv, &i, "--sink-host", &v))
			x.sink_host = v;
		else if (bench_opt(argc, argv, &i, "--drain-idle", &v))
			x.drain_idle = bench_num("--drain-idle", v, 0, 3600);
		else if (bench_opt(argc, argv, &i, "--drain-max", &v))
			x.drain_max = bench_num("--drain-max", v, 0, 86400);
		else if (strcmp(argv[i], "--keep") == 0)
			x.keep = true;
		else if (bench_opt(argc, argv, &i, "--targets", &v)) {
			if (!parse_targets(&x, v)) {
				fprintf(stderr, "busbar-bench e2e: --targets takes api_destination, queue or both\n");
				return 2;
			}
		} else {
			if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h"))
				fprintf(stderr, "busbar-bench e2e: unknown option '%s'\n", argv[i]);
			usage();
			return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
		}
	}
	snprintf(x.name, sizeof x.name, "bench-e2e-%d", (int)getpid());

	int rc = 2;
	bench_track http_tr, queue_tr;
	uint64_t nbits = bench_load_max_seq(&x.cfg);
	if (bench_track_init(&http_tr, nbits) != 0 || bench_track_init(&queue_tr, nbits) != 0) {
		fprintf(stderr, "busbar-bench: out of memory\n");
		return 2;
	}
	if (bench_target_open(&x.t) != 0)
		goto out_track;
	bench_conn_init(&x.c, &x.t.ep, x.t.timeout_ms);
	x.cfg.ep = &x.t.ep;
	x.cfg.cr = &x.t.cr;
	x.cfg.timeout_ms = x.t.timeout_ms;

	bench_sink *sink = NULL;
	int sink_port = 0;
	if (x.want_http && bench_sink_start(x.sink_host, 0, &http_tr, &sink, &sink_port) != 0) {
		fprintf(stderr, "busbar-bench: cannot start the HTTP sink\n");
		goto out_target;
	}
	bench_qreader *qr = NULL;
	if (setup(&x, sink_port) != 0)
		goto out_setup;
	if (x.want_queue && bench_qreader_start(&x.t.ep, &x.t.cr, x.queue_url, x.readers, &queue_tr, &qr) != 0) {
		fprintf(stderr, "busbar-bench: cannot start the queue readers\n");
		goto out_setup;
	}

	double node_cpu0 = x.t.node.pid > 0 ? bench_proc_cpu_s(x.t.node.pid) : -1;
	bench_load_result res;
	if (bench_load_run(&x.cfg, &res) != 0)
		goto out_readers;

	/* Drain: wait for the deliveries still under way. */
	int64_t start = bb_mono_ns(&bb_clock_system), last_progress = start;
	uint64_t seen = 0;
	for (;;) {
		uint64_t h = atomic_load(&http_tr.delivered), q = atomic_load(&queue_tr.delivered);
		bool done = (!x.want_http || h >= res.acked) && (!x.want_queue || q >= res.acked);
		int64_t now = bb_mono_ns(&bb_clock_system);
		if (h + q != seen) {
			seen = h + q;
			last_progress = now;
		}
		if (done || bench_interrupted || now - last_progress > (int64_t)(x.drain_idle * 1e9) || now - start > (int64_t)(x.drain_max * 1e9))
			break;
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	double node_cpu1 = x.t.node.pid > 0 ? bench_proc_cpu_s(x.t.node.pid) : -1;
	double wall = (double)(bb_mono_ns(&bb_clock_system) - res.t0_ns) / 1e9;

	bench_hist http_h, queue_h;
	bench_hist_init(&http_h);
	bench_hist_init(&queue_h);
	bench_errs qerrs;
	memset(&qerrs, 0, sizeof qerrs);
	uint64_t sink_requests = 0;
	if (sink) {
		bench_sink_stop(sink, &http_h, &sink_requests);
		sink = NULL;
	}
	if (qr) {
		bench_qreader_stop(qr, &queue_h, &qerrs);
		qr = NULL;
	}

	char eb[1024];
	bench_errs_format(&res.errs, eb, sizeof eb);
	printf("mode=e2e target=publish rate=%g seconds=%g clients=%d batch=%d event_bytes=%d acked_events=%llu "
	       "acked_events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f errors=%llu error_types=%s "
	       "late=%llu unsent=%llu client_cpu_pct=%.0f",
	       x.cfg.rate, x.cfg.seconds, x.cfg.clients, x.cfg.batch, x.cfg.event_bytes, (unsigned long long)res.acked,
	       (double)res.acked / res.elapsed_s, bench_hist_ms(&res.lat, 0.5), bench_hist_ms(&res.lat, 0.99),
	       bench_hist_ms(&res.lat, 0.999), bench_hist_ms(&res.lat, 1), (unsigned long long)res.errs.total, eb,
	       (unsigned long long)res.late, (unsigned long long)res.unsent, 100 * res.cpu_s / res.elapsed_s);
	if (x.t.node.pid > 0) {
		bench_rss rss;
		bench_proc_rss(x.t.node.pid, &rss);
		printf(" node_cpu_pct=%.0f node_rss_mb=%.0f", 100 * (node_cpu1 - node_cpu0) / wall,
		       (double)rss.vm_rss_kb / 1024);
	}
	printf("\n");
	if (x.want_http)
		print_target("api_destination", &http_tr, &http_h, res.acked, res.t0_ns, NULL);
	if (x.want_queue)
		print_target("queue", &queue_tr, &queue_h, res.acked, res.t0_ns, &qerrs);
	fflush(stdout);
	bool complete = res.acked > 0 && (!x.want_http || atomic_load(&http_tr.delivered) >= res.acked) &&
			(!x.want_queue || atomic_load(&queue_tr.delivered) >= res.acked);
	rc = complete ? 0 : 1;

out_readers:
	if (qr)
		bench_qreader_stop(qr, NULL, NULL);
out_setup:
	if (sink)
		bench_sink_stop(sink, NULL, NULL);
	if (!x.keep && x.t.node.pid <= 0) /* a node started here goes away with everything on it */
		teardown(&x);
	free(x.queue_url);
	free(x.queue_arn);
	free(x.conn_arn);
	free(x.dest_arn);
	bench_conn_free(&x.c);
out_target:
	bench_target_close(&x.t);
out_track:
	bench_track_free(&http_tr);
	bench_track_free(&queue_tr);
	return rc;
}
