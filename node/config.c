/* node/config.c — the one declarative table of node settings (redis-style): each row maps a
 * command-line flag (and BUSBAR_<NAME> environment variable) onto a node_config field, with its type
 * and help text. `busbar dev --help` prints the table; docs/configuration.md mirrors it.
 * Precedence: flag > environment > default.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

typedef enum { CFG_STR, CFG_UINT, CFG_SIZE, CFG_INT, CFG_U64, CFG_BOOL } cfg_type;

static const struct cfg_row {
	const char *flag;
	cfg_type type;
	size_t offset;
	const char *help;
} cfg_rows[] = {
#define ROW(flag, type, field, help) {flag, type, offsetof(node_config, field), help}
	ROW("data-dir", CFG_STR, data_dir, "directory for all on-disk state (raft log, snapshots)"),
	ROW("listen", CFG_STR, listen, "public API address host:port"),
	ROW("raft-listen", CFG_STR, raft_listen, "raft address host:port (default: API port + 1; keep it private)"),
	ROW("node-id", CFG_U64, node_id, "raft server id (non-zero)"),
	ROW("region", CFG_STR, region, "the region this cluster serves"),
	ROW("account", CFG_STR, account, "dev account id (12 digits)"),
	ROW("access-key", CFG_STR, access_key, "dev access key id"),
	ROW("secret-key", CFG_STR, secret_key, "dev secret access key"),
	ROW("allow-anonymous", CFG_BOOL, allow_anonymous, "accept unsigned requests as the dev account"),
	ROW("max-connections", CFG_UINT, max_connections, "concurrent HTTP connections"),
	ROW("max-inflight", CFG_UINT, max_inflight, "concurrent API requests before ThrottlingException"),
	ROW("max-body-bytes", CFG_SIZE, max_body_bytes, "largest request body accepted (413 above)"),
	ROW("conn-timeout-s", CFG_UINT, conn_timeout_s, "idle HTTP connection timeout, seconds"),
	ROW("http-threads", CFG_UINT, http_threads, "HTTP threads, each serving many connections (blocking requests run on workers)"),
	ROW("write-timeout-ms", CFG_UINT, write_timeout_ms, "how long a metadata write may wait for raft"),
	ROW("max-skew-s", CFG_INT, max_skew_s, "allowed SigV4 clock skew, seconds"),
	ROW("raft-election-ms", CFG_UINT, raft_election_ms, "raft election timeout, ms"),
	ROW("raft-heartbeat-ms", CFG_UINT, raft_heartbeat_ms, "raft heartbeat timeout, ms"),
	ROW("raft-snapshot-threshold", CFG_UINT, raft_snapshot_threshold, "raft entries between snapshots (>= 8192 advised)"),
	ROW("raft-segment-size", CFG_UINT, raft_segment_size, "raft log segment size, bytes"),
	ROW("raft-max-pending", CFG_SIZE, raft_max_pending, "queued metadata writes before ThrottlingException"),
	ROW("max-targets-per-rule", CFG_UINT, max_targets_per_rule, "targets per rule (AWS: 5)"),
	ROW("max-rules-per-bus", CFG_UINT, max_rules_per_bus, "rules per event bus (AWS default quota: 300)"),
	ROW("max-buses-per-account", CFG_UINT, max_buses_per_account, "event buses per account (AWS: 100)"),
	ROW("max-pattern-bytes", CFG_UINT, max_pattern_bytes, "event pattern length (AWS: 4096)"),
	ROW("store-max-bytes", CFG_U64, store_max_bytes, "largest size of the node-local store (events, deliveries, queues), bytes"),
	ROW("store-max-queued", CFG_SIZE, store_max_queued, "queued store writes before ThrottlingException"),
	ROW("store-commit-interval-us", CFG_UINT, store_commit_interval_us, "least time between two commits of the node-local store, µs (fewer, larger fsyncs under load; 0 = commit at once)"),
	ROW("store-no-sync", CFG_BOOL, store_no_sync, "do not fsync the store (benchmarks only: unsafe)"),
	ROW("log-commit-interval-us", CFG_UINT, log_commit_interval_us, "least time between two group commits of the bus log, µs (fewer, larger fdatasyncs under load; 0 = commit at once)"),
	ROW("log-retention-s", CFG_UINT, log_retention_s, "seconds events stay in the bus log (keep >= the longest MaximumEventAgeInSeconds)"),
	ROW("deliver-max-inflight", CFG_UINT, deliver_max_inflight, "deliveries in flight over all targets"),
	ROW("deliver-target-inflight", CFG_UINT, deliver_target_inflight, "deliveries in flight per target"),
	ROW("retry-base-ms", CFG_UINT, retry_base_ms, "retry backoff base: attempt n waits random(0, min(max, base*2^n)) ms"),
	ROW("retry-max-ms", CFG_UINT, retry_max_ms, "longest single retry wait, ms"),
	ROW("http-connect-timeout-ms", CFG_UINT, http_connect_timeout_ms, "HTTP target connect timeout, ms"),
	ROW("http-timeout-ms", CFG_UINT, http_timeout_ms, "HTTP target whole-request timeout, ms"),
	ROW("apidest-https-only", CFG_BOOL, apidest_https_only, "API destinations must use https:// (as AWS); default allows http:// for local webhooks"),
	ROW("sqs-max-queues", CFG_UINT, sqs_max_queues, "built-in queues per account"),
	ROW("sqs-max-waiters", CFG_UINT, sqs_max_waiters, "long-polling ReceiveMessage calls at once (RequestThrottled beyond)"),
#undef ROW
};

static int set_field(node_config *cfg, const struct cfg_row *r, const char *val, char *err, size_t cap)
{
	char *field = (char *)cfg + r->offset;
	char *end = NULL;
	errno = 0;
	switch (r->type) {
	case CFG_STR:
		*(const char **)field = val;
		return 0;
	case CFG_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "1") || !strcmp(val, "yes"))
			*(bool *)field = true;
		else if (!strcmp(val, "false") || !strcmp(val, "0") || !strcmp(val, "no"))
			*(bool *)field = false;
		else
			goto bad;
		return 0;
	case CFG_UINT: {
		unsigned long v = strtoul(val, &end, 10);
		if (errno || *end || !isdigit((unsigned char)val[0]) || v > 0xffffffffUL)
			goto bad;
		*(unsigned *)field = (unsigned)v;
		return 0;
	}
	case CFG_SIZE: {
		unsigned long long v = strtoull(val, &end, 10);
		if (errno || *end || !isdigit((unsigned char)val[0]))
			goto bad;
		*(size_t *)field = (size_t)v;
		return 0;
	}
	case CFG_U64: {
		unsigned long long v = strtoull(val, &end, 10);
		if (errno || *end || !isdigit((unsigned char)val[0]))
			goto bad;
		*(uint64_t *)field = v;
		return 0;
	}
	case CFG_INT: {
		long v = strtol(val, &end, 10);
		if (errno || *end || val[0] == '\0')
			goto bad;
		*(int *)field = (int)v;
		return 0;
	}
	}
bad:
	snprintf(err, cap, "invalid value for --%s: '%s'", r->flag, val);
	return -1;
}

int config_parse(node_config *cfg, int argc, char **argv, char *err, size_t cap)
{
	/* environment first, so flags override it */
	for (size_t i = 0; i < BB_ARRAY_LEN(cfg_rows); i++) {
		char env[64] = "BUSBAR_";
		size_t k = 7;
		for (const char *p = cfg_rows[i].flag; *p && k < sizeof env - 1; p++)
			env[k++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
		env[k] = '\0';
		const char *v = getenv(env);
		if (v && set_field(cfg, &cfg_rows[i], v, err, cap))
			return -1;
	}
	for (int a = 0; a < argc; a++) {
		const char *arg = argv[a];
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, cap, "unexpected argument '%s'", arg);
			return -1;
		}
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct cfg_row *row = NULL;
		for (size_t i = 0; i < BB_ARRAY_LEN(cfg_rows); i++)
			if (strlen(cfg_rows[i].flag) == nlen && strncmp(cfg_rows[i].flag, name, nlen) == 0)
				row = &cfg_rows[i];
		if (!row) {
			snprintf(err, cap, "unknown option '%s' (see --help)", arg);
			return -1;
		}
		const char *val = eq ? eq + 1 : NULL;
		if (!val && row->type == CFG_BOOL)
			val = "true";
		if (!val) {
			if (a + 1 >= argc) {
				snprintf(err, cap, "option --%s needs a value", row->flag);
				return -1;
			}
			val = argv[++a];
		}
		if (set_field(cfg, row, val, err, cap))
			return -1;
	}
	if (cfg->node_id == 0) {
		snprintf(err, cap, "--node-id must be non-zero");
		return -1;
	}
	if (strlen(cfg->account) != 12 || strspn(cfg->account, "0123456789") != 12) {
		snprintf(err, cap, "--account must be 12 digits");
		return -1;
	}
	return 0;
}

void config_print_help(FILE *f)
{
	node_config d;
	node_config_defaults(&d);
	for (size_t i = 0; i < BB_ARRAY_LEN(cfg_rows); i++) {
		const struct cfg_row *r = &cfg_rows[i];
		const char *field = (const char *)&d + r->offset;
		char def[128];
		switch (r->type) {
		case CFG_STR:
			snprintf(def, sizeof def, "%s", *(const char *const *)field ? *(const char *const *)field : "-");
			break;
		case CFG_BOOL:
			snprintf(def, sizeof def, "%s", *(const bool *)field ? "true" : "false");
			break;
		case CFG_UINT:
			snprintf(def, sizeof def, "%u", *(const unsigned *)field);
			break;
		case CFG_SIZE:
			snprintf(def, sizeof def, "%zu", *(const size_t *)field);
			break;
		case CFG_U64:
			snprintf(def, sizeof def, "%llu", (unsigned long long)*(const uint64_t *)field);
			break;
		case CFG_INT:
			snprintf(def, sizeof def, "%d", *(const int *)field);
			break;
		}
		if (strstr(r->help, "(default:")) /* the help text states a computed default itself */
			fprintf(f, "  --%-26s %s\n", r->flag, r->help);
		else
			fprintf(f, "  --%-26s %s (default: %s)\n", r->flag, r->help, def);
	}
	fprintf(f, "  --%-26s %s (default: %s)\n", "log-level", "debug|info|warn|error|off", "info");
	fprintf(f, "\nEvery option can also be set as BUSBAR_<OPTION> in the environment, e.g. BUSBAR_DATA_DIR.\n");
}
