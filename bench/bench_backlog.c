/* bench/bench_backlog.c — `busbar-bench backlog`: a node's memory with a large delivery backlog.
 *
 *   busbar-bench backlog [--start-node | --endpoint URL --pid PID] [--events 1000000] [--clients 8]
 *                        [--max-seconds 600] [--settle 5] [--event-bytes 1024]
 *
 * Design: the question is whether undelivered work lives on disk or in memory (DESIGN.md §5.5). A rule
 * on a fresh bus (bench-backlog-<pid>) routes every event to one API destination whose endpoint is a
 * closed loopback port (every attempt is refused; retries back off for hours: MaximumRetryAttempts 185,
 * MaximumEventAgeInSeconds 86400), so every acknowledged event stays a pending delivery. The publisher
 * (bench_load.c, closed loop) runs until --events events are acknowledged; after --settle seconds the
 * node's /proc/<pid>/status is read. Output, one line:
 *
 *   mode=backlog events=.. acked=.. ingest_s=.. acked_events_per_s=.. backlog=.. rss_before_mb=..
 *   vm_rss_mb=.. rss_anon_mb=.. rss_file_mb=.. vm_hwm_mb=.. [data_mb=..] errors=.. error_types=..
 *
 * backlog = the sum of the node's busbar_target_backlog gauges from GET /metrics ("?" if it has none).
 * RssAnon is heap (what must stay bounded); RssFile is mapped store pages (page cache, reclaimable).
 * data_mb (with --start-node) is the disk usage of the node's data directory.
 * Exit status: 0 figures printed, 1 fewer events acknowledged than asked, 2 usage or setup error.
 */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_net.h"

typedef struct backlog {
	bench_target t;
	bench_conn c;
	char name[64];
	bool bus_made, conn_made, dest_made, rule_made;
} backlog;

static void usage(void)
{
	fprintf(stderr, "usage: busbar-bench backlog [options]\n"
			"  --events N          acknowledged events to backlog (default 1000000)\n"
			"  --clients N         publishing connections (default 8)\n"
			"  --max-seconds S     give up publishing after S seconds (default 600)\n"
			"  --settle S          wait before reading memory (default 5)\n"
			"  --event-bytes B     Detail size (default 1024)\n"
			"  --pid PID           the node's process id when it was not started here (for RSS)\n"
			"  --keep              leave the bus, rule, destination and connection (default: removed)\n"
			BENCH_TARGET_HELP);
}

static bool call(backlog *b, const char *op, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL, err[1024];
	json_decref(body);
	if (!s) {
		fprintf(stderr, "busbar-bench: %s: out of memory\n", op);
		return false;
	}
	json_t *a = bench_aws_json(&b->c, &b->t.cr, op, s, NULL, err, sizeof err);
	free(s);
	if (!a) {
		fprintf(stderr, "busbar-bench: %s\n", err);
		return false;
	}
	json_decref(a);
	return true;
}

static int setup(backlog *b)
{
	int dead = bench_free_port(); /* bound then closed: nothing listens there */
	if (dead < 0)
		return -1;
	char err[1024], url[64];
	if (!(b->bus_made = call(b, "AWSEvents.CreateEventBus", json_pack("{s:s}", "Name", b->name))))
		return -1;
	json_t *body = json_pack("{s:s, s:s, s:{s:{s:s, s:s}}}", "Name", b->name, "AuthorizationType", "API_KEY",
				 "AuthParameters", "ApiKeyAuthParameters", "ApiKeyName", "x-bench-key", "ApiKeyValue", "bench");
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	json_t *a = s ? bench_aws_json(&b->c, &b->t.cr, "AWSEvents.CreateConnection", s, NULL, err, sizeof err) : NULL;
	free(s);
	const char *conn_arn = json_string_value(json_object_get(a, "ConnectionArn"));
	if (!conn_arn) {
		fprintf(stderr, "busbar-bench: %s\n", a ? "CreateConnection gave no ConnectionArn" : err);
		json_decref(a);
		return -1;
	}
	b->conn_made = true;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/dead", dead);
	body = json_pack("{s:s, s:s, s:s, s:s, s:i}", "Name", b->name, "ConnectionArn", conn_arn, "InvocationEndpoint", url,
			 "HttpMethod", "POST", "InvocationRateLimitPerSecond", 1000000);
	json_decref(a);
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	a = s ? bench_aws_json(&b->c, &b->t.cr, "AWSEvents.CreateApiDestination", s, NULL, err, sizeof err) : NULL;
	free(s);
	const char *dest_arn = json_string_value(json_object_get(a, "ApiDestinationArn"));
	if (!dest_arn) {
		fprintf(stderr, "busbar-bench: %s\n", a ? "CreateApiDestination gave no ApiDestinationArn" : err);
		json_decref(a);
		return -1;
	}
	b->dest_made = true;
	char role[128];
	snprintf(role, sizeof role, "arn:aws:iam::000000000000:role/%s", b->name);
	bool ok = (b->rule_made = call(b, "AWSEvents.PutRule",
				       json_pack("{s:s, s:s, s:s}", "Name", b->name, "EventBusName", b->name, "EventPattern",
						 "{\"source\":[\"busbar.bench\"]}"))) &&
		  call(b, "AWSEvents.PutTargets",
		       json_pack("{s:s, s:s, s:[{s:s, s:s, s:s, s:{s:i, s:i}}]}", "Rule", b->name, "EventBusName", b->name,
				 "Targets", "Id", "dead", "Arn", dest_arn, "RoleArn", role, "RetryPolicy",
				 "MaximumRetryAttempts", 185, "MaximumEventAgeInSeconds", 86400));
	json_decref(a);
	return ok ? 0 : -1;
}

static void teardown(backlog *b)
{
	if (b->rule_made) {
		call(b, "AWSEvents.RemoveTargets", json_pack("{s:s, s:s, s:[s]}", "Rule", b->name, "EventBusName", b->name, "Ids", "dead"));
		call(b, "AWSEvents.DeleteRule", json_pack("{s:s, s:s}", "Name", b->name, "EventBusName", b->name));
	}
	if (b->dest_made)
		call(b, "AWSEvents.DeleteApiDestination", json_pack("{s:s}", "Name", b->name));
	if (b->conn_made)
		call(b, "AWSEvents.DeleteConnection", json_pack("{s:s}", "Name", b->name));
	if (b->bus_made)
		call(b, "AWSEvents.DeleteEventBus", json_pack("{s:s}", "Name", b->name));
}

/* Sum of busbar_target_backlog samples in GET /metrics, or -1. */
static double metrics_backlog(backlog *b)
{
	bench_resp r;
	if (bench_http_get(&b->c, "/metrics", &r) != 200)
		return -1;
	double sum = -1;
	const char *p = r.body, *end = r.body + r.body_len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > 22 && memcmp(p, "busbar_target_backlog", 21) == 0 && (p[21] == '{' || p[21] == ' ')) {
			const char *sp = eol;
			while (sp > p && sp[-1] != ' ')
				sp--;
			sum = (sum < 0 ? 0 : sum) + strtod(sp, NULL);
		}
		p = eol + 1;
	}
	return sum;
}

static _Thread_local uint64_t du_bytes;
static int du_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	du_bytes += (uint64_t)sb->st_blocks * 512;
	return 0;
}

static double mb(long kb) { return kb < 0 ? -1 : (double)kb / 1024; }

int bench_backlog(int argc, char **argv)
{
	backlog b;
	memset(&b, 0, sizeof b);
	bench_target_defaults(&b.t);
	bench_load_cfg cfg = {.clients = 8, .seconds = 600, .batch = 10, .event_bytes = 1024, .source = "busbar.bench",
			      .max_acked = 1000000, .progress_s = 10};
	double settle = 5;
	pid_t pid = -1;
	bool keep = false;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (bench_target_opt(&b.t, argc, argv, &i))
			continue;
		if (bench_opt(argc, argv, &i, "--events", &v))
			cfg.max_acked = (uint64_t)bench_num("--events", v, 1, 1e12);
		else if (bench_opt(argc, argv, &i, "--clients", &v))
			cfg.clients = (int)bench_num("--clients", v, 1, 4096);
		else if (bench_opt(argc, argv, &i, "--max-seconds", &v))
			cfg.seconds = bench_num("--max-seconds", v, 1, 86400);
		else if (bench_opt(argc, argv, &i, "--settle", &v))
			settle = bench_num("--settle", v, 0, 3600);
		else if (bench_opt(argc, argv, &i, "--event-bytes", &v))
			cfg.event_bytes = (int)bench_num("--event-bytes", v, 1, 256 * 1024);
		else if (bench_opt(argc, argv, &i, "--pid", &v))
			pid = (pid_t)bench_num("--pid", v, 1, 1e9);
		else if (strcmp(argv[i], "--keep") == 0)
			keep = true;
		else {
			if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h"))
				fprintf(stderr, "busbar-bench backlog: unknown option '%s'\n", argv[i]);
			usage();
			return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
		}
	}
	if (!b.t.start_node && pid < 0) {
		fprintf(stderr, "busbar-bench backlog: give --pid of the node at --endpoint (for its RSS), or --start-node\n");
		return 2;
	}
	snprintf(b.name, sizeof b.name, "bench-backlog-%d", (int)getpid());
	if (bench_target_open(&b.t) != 0)
		return 2;
	if (b.t.node.pid > 0)
		pid = b.t.node.pid;
	bench_conn_init(&b.c, &b.t.ep, b.t.timeout_ms);
	int rc = 2;
	if (setup(&b) != 0)
		goto out;
	cfg.ep = &b.t.ep;
	cfg.cr = &b.t.cr;
	cfg.bus = b.name;
	cfg.timeout_ms = b.t.timeout_ms;

	bench_rss before, after;
	if (bench_proc_rss(pid, &before) != 0) {
		fprintf(stderr, "busbar-bench: cannot read /proc/%d/status\n", (int)pid);
		goto out;
	}
	bench_load_result res;
	if (bench_load_run(&cfg, &res) != 0)
		goto out;
	if (settle > 0 && !bench_interrupted) {
		struct timespec ts = {(time_t)settle, (long)((settle - (double)(time_t)settle) * 1e9)};
		nanosleep(&ts, NULL);
	}
	bench_proc_rss(pid, &after);
	double backlog_n = metrics_backlog(&b);
	char eb[1024], bl[32], data[48] = "";
	bench_errs_format(&res.errs, eb, sizeof eb);
	if (backlog_n >= 0)
		snprintf(bl, sizeof bl, "%.0f", backlog_n);
	else
		snprintf(bl, sizeof bl, "?");
	if (b.t.node.pid > 0) {
		du_bytes = 0;
		nftw(b.t.node.dir, du_one, 16, FTW_PHYS);
		snprintf(data, sizeof data, " data_mb=%.0f", (double)du_bytes / (1 << 20));
	}
	printf("mode=backlog events=%llu acked=%llu ingest_s=%.1f acked_events_per_s=%.0f backlog=%s rss_before_mb=%.0f "
	       "vm_rss_mb=%.0f rss_anon_mb=%.0f rss_file_mb=%.0f vm_hwm_mb=%.0f%s errors=%llu error_types=%s\n",
	       (unsigned long long)cfg.max_acked, (unsigned long long)res.acked, res.elapsed_s,
	       (double)res.acked / res.elapsed_s, bl, mb(before.vm_rss_kb), mb(after.vm_rss_kb), mb(after.rss_anon_kb),
	       mb(after.rss_file_kb), mb(after.vm_hwm_kb), data, (unsigned long long)res.errs.total, eb);
	fflush(stdout);
	rc = res.acked >= cfg.max_acked ? 0 : 1;
out:
	if (!keep && b.t.node.pid <= 0)
		teardown(&b);
	bench_conn_free(&b.c);
	bench_target_close(&b.t);
	return rc;
}
