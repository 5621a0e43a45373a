/* node/node.c — node lifecycle: start the metadata replica, bootstrap the dev account, serve HTTP;
 * and a clean stop (HTTP first so no request is cut mid-write, then raft flushes and closes).
 *
 * Bootstrap is itself a set of idempotent raft transactions (account and default bus only if absent,
 * the access key always refreshed from the config), so a restart on the same data dir changes
 * nothing but the key's secret when the operator changed it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node_int.h"

void node_config_defaults(node_config *c)
{
	memset(c, 0, sizeof *c);
	c->data_dir = "busbar-data";
	c->listen = "127.0.0.1:4010";
	c->raft_listen = NULL; /* default: API host, API port + 1 */
	c->node_id = 1;
	c->region = "us-east-1";
	c->account = "000000000000";
	c->access_key = "test";
	c->secret_key = "test";
	c->max_connections = 512;
	c->max_inflight = 256;
	c->max_body_bytes = 1 << 20;
	c->conn_timeout_s = 60;
	c->http_threads = 2;
	c->write_timeout_ms = 10000;
	c->max_skew_s = 900;
	c->raft_election_ms = 1000;
	c->raft_heartbeat_ms = 100;
	c->raft_snapshot_threshold = 8192;
	c->raft_segment_size = 1 << 20;
	c->raft_max_pending = 1024;
	c->max_targets_per_rule = 5;
	c->max_rules_per_bus = 300;
	c->max_buses_per_account = 100;
	c->max_pattern_bytes = 4096;
	c->store_max_bytes = 64ull << 30;
	c->store_max_queued = 65536;
	c->log_retention_s = 90000;
	c->log_commit_interval_us = 1000;
	c->store_commit_interval_us = 2000;
	c->deliver_max_inflight = 1024;
	c->deliver_target_inflight = 64;
	c->retry_base_ms = 1000;
	c->retry_max_ms = 300000;
	c->http_connect_timeout_ms = 2000;
	c->http_timeout_ms = 5000;
	c->sqs_max_queues = 1000;
	c->sqs_max_waiters = 128;
}

/* Splits "host:port" (IPv4 or [IPv6]) into a sockaddr. */
static bb_err parse_hostport(const char *hp, struct sockaddr_storage *ss, char *host, size_t hcap, unsigned *port)
{
	const char *colon = strrchr(hp, ':');
	if (!colon || colon == hp)
		return BB_EINVAL;
	size_t hl = (size_t)(colon - hp);
	const char *h = hp;
	if (hp[0] == '[' && hl >= 2 && hp[hl - 1] == ']') {
		h = hp + 1;
		hl -= 2;
	}
	if (hl >= hcap)
		return BB_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end || p > 65535)
		return BB_EINVAL;
	*port = (unsigned)p;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		return BB_EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return BB_OK;
}

static bb_err mkdir_p(const char *path)
{
	char buf[4096];
	if (strlen(path) >= sizeof buf)
		return BB_EINVAL;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0750) != 0 && errno != EEXIST)
				return BB_EIO;
			*p = '/';
		}
	}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST)
		return BB_EIO;
	return BB_OK;
}

bb_err node_meta_put(node *n, const char *key, json_t *val, int64_t expect)
{
	char *text = json_dumps(val, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		return BB_ENOMEM;
	meta_op op = {META_OP_PUT, key, strlen(key), text, strlen(text), expect};
	uint8_t rid[16];
	bb_random(&bb_rng_system, rid, sizeof rid);
	meta_result res;
	bb_err e = meta_submit_wait(n->meta, rid, &op, 1, (int)n->cfg.write_timeout_ms, &res);
	free(text);
	if (e == BB_OK)
		e = res.err;
	if (e == BB_OK && res.index)
		e = meta_wait_applied(n->meta, res.index, (int)n->cfg.write_timeout_ms);
	return e;
}

/* One idempotent write: put key=val unless present (if_absent) or always. Conflicts on if_absent mean
 * the record already exists, which is fine. */
static bb_err boot_put(node *n, const char *key, json_t *val, bool if_absent)
{
	bb_err e = node_meta_put(n, key, val, if_absent ? META_ABSENT : META_ANY);
	return e == BB_ECONFLICT && if_absent ? BB_OK : e;
}

static bb_err bootstrap_dev(node *n)
{
	char key[KEY_MAX];
	double now = (double)bb_wall_ms(n->clock) / 1000.0;
	bb_err e;
	/* Skip writes whose result is already there, so an idle restart appends nothing to the log. */
	meta_snap *s = meta_snap_acquire(n->meta);
	key_access(key, n->access_key);
	json_t *cur = store_get(s, key, NULL);
	bool key_same = cur && strcmp(json_string_value(json_object_get(cur, "Account")) ?: "", n->account) == 0 &&
			strcmp(json_string_value(json_object_get(cur, "Secret")) ?: "", n->secret_key) == 0;
	json_decref(cur);
	meta_snap_release(s);

	json_t *acct = json_pack("{s:s, s:f}", "Id", n->account, "CreationTime", now);
	key_account(key, n->account);
	e = boot_put(n, key, acct, true);
	json_decref(acct);
	if (e)
		return e;
	if (!key_same) {
		json_t *k = json_pack("{s:s, s:s}", "Account", n->account, "Secret", n->secret_key);
		key_access(key, n->access_key);
		e = boot_put(n, key, k, false);
		json_decref(k);
		if (e)
			return e;
	}
	json_t *bus = json_pack("{s:s, s:f, s:f, s:[]}", "Name", "default", "CreationTime", now, "LastModifiedTime", now,
				"Tags");
	key_bus(key, n->account, "default");
	e = boot_put(n, key, bus, true);
	json_decref(bus);
	return e;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void node_free(node *n)
{
	free(n->data_dir);
	free(n->listen);
	free(n->raft_listen);
	free(n->region);
	free(n->account);
	free(n->access_key);
	free(n->secret_key);
	free(n);
}

/* Order matters: deliveries stop first (their outcome writes still complete), then the log's
 * housekeeping, then the store (which completes every queued write), then what they referenced. */
static void data_plane_stop(node *n)
{
	deliver_stop(n);
	conn_tokens_stop(n); /* after the deliveries that ask it for tokens */
	evlog_stop(n);
	db_close(n->db);
	n->db = NULL;
	deliver_free(n);
	sqs_stop(n); /* after the store: outcome writes completed by db_close may wake queue waiters */
	route_stop(n);
	metrics_free(n->metrics);
	n->metrics = NULL;
}

static void store_committed(void *ctx, int64_t ns)
{
	node *n = ctx;
	if (n->metrics)
		metrics_observe_store_commit(n->metrics, (double)ns / 1e6);
}

bb_err node_start(const node_config *cfg, node **out)
{
	bb_err e;
	node *n = calloc(1, sizeof *n);
	if (!n)
		return BB_ENOMEM;
	n->cfg = *cfg;
	n->clock = cfg->clock ? cfg->clock : &bb_clock_system;
	n->data_dir = dup_or_null(cfg->data_dir);
	n->listen = dup_or_null(cfg->listen);
	n->region = dup_or_null(cfg->region);
	n->account = dup_or_null(cfg->account);
	n->access_key = dup_or_null(cfg->access_key);
	n->secret_key = dup_or_null(cfg->secret_key);

	struct sockaddr_storage api_addr;
	char host[256];
	unsigned port;
	if (parse_hostport(n->listen, &api_addr, host, sizeof host, &port) != BB_OK) {
		BB_LOGE("node", "msg=\"bad --listen\" value=\"%s\"", n->listen);
		e = BB_EINVAL;
		goto err_free;
	}
	if (cfg->raft_listen) {
		n->raft_listen = strdup(cfg->raft_listen);
	} else {
		char buf[300];
		snprintf(buf, sizeof buf, "%s:%u", host, port + 1);
		n->raft_listen = strdup(buf);
	}
	char raft_dir[4200];
	snprintf(raft_dir, sizeof raft_dir, "%s/raft", n->data_dir);
	if ((e = mkdir_p(raft_dir)) != BB_OK) {
		BB_LOGE("node", "msg=\"cannot create data dir\" dir=\"%s\"", raft_dir);
		goto err_free;
	}

	meta_config mc = {.dir = raft_dir,
			  .id = cfg->node_id,
			  .address = n->raft_listen,
			  .bootstrap = true,
			  .election_timeout_ms = cfg->raft_election_ms,
			  .heartbeat_timeout_ms = cfg->raft_heartbeat_ms,
			  .snapshot_threshold = cfg->raft_snapshot_threshold,
			  .segment_size = cfg->raft_segment_size,
			  .max_pending = cfg->raft_max_pending,
			  .clock = n->clock};
	if ((e = meta_start(&mc, &n->meta)) != BB_OK) {
		BB_LOGE("node", "msg=\"metadata store failed to start\" err=%s", bb_errname(e));
		goto err_free;
	}
	/* A single voter elects itself after one election timeout; wait (bounded) for it. */
	int64_t deadline = bb_mono_ns(n->clock) + (int64_t)(cfg->raft_election_ms * 10 + 5000) * 1000000;
	while (!meta_ready(n->meta)) {
		if (bb_mono_ns(n->clock) > deadline) {
			BB_LOGE("node", "msg=\"raft did not become ready\"");
			e = BB_ETIMEDOUT;
			goto err_meta;
		}
		usleep(10 * 1000);
	}
	if ((e = bootstrap_dev(n)) != BB_OK) {
		BB_LOGE("node", "msg=\"bootstrap failed\" err=%s", bb_errname(e));
		goto err_meta;
	}
	char store_dir[4200];
	snprintf(store_dir, sizeof store_dir, "%s/store", n->data_dir);
	db_config dc = {.dir = store_dir,
			.map_bytes = cfg->store_max_bytes,
			.max_queued = cfg->store_max_queued,
			.no_sync = cfg->store_no_sync,
			.min_interval_us = cfg->store_commit_interval_us,
			.on_commit = store_committed,
			.on_commit_ctx = n};
	if ((e = db_open(&dc, &n->db)) != BB_OK) {
		BB_LOGE("node", "msg=\"cannot open the node store\" dir=\"%s\"", store_dir);
		goto err_meta;
	}
	if ((e = sqs_start(n)) != BB_OK) {
		BB_LOGE("node", "msg=\"cannot start the built-in queues\" err=%s", bb_errname(e));
		goto err_db;
	}
	if (!(n->metrics = metrics_new())) {
		e = BB_ENOMEM;
		goto err_data;
	}
	if ((e = route_start(n)) != BB_OK || (e = evlog_start(n)) != BB_OK ||
	    (e = conn_tokens_start(n)) != BB_OK || (e = deliver_start(n)) != BB_OK) {
		BB_LOGE("node", "msg=\"data plane failed to start\" err=%s", bb_errname(e));
		goto err_data;
	}
	if ((e = http_start(n, (struct sockaddr *)&api_addr)) != BB_OK) {
		BB_LOGE("node", "msg=\"cannot listen\" listen=\"%s\"", n->listen);
		goto err_data;
	}
	BB_LOGI("node", "msg=\"ready\" listen=%s raft=%s data_dir=\"%s\" region=%s", n->listen, n->raft_listen,
		n->data_dir, n->region);
	*out = n;
	return BB_OK;

err_data:
	sqs_quiesce(n);
	data_plane_stop(n);
	goto err_meta;
err_db:
	db_close(n->db);
err_meta:
	meta_stop(n->meta);
err_free:
	node_free(n);
	return e;
}

unsigned node_api_port(const node *n) { return n->port; }

void node_stop(node *n)
{
	if (!n)
		return;
	sqs_quiesce(n); /* wakes long polls so HTTP drains; stops the sweeper */
	http_stop(n);
	data_plane_stop(n);
	meta_stop(n->meta);
	BB_LOGI("node", "msg=\"stopped\"");
	node_free(n);
}
