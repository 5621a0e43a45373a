/* node/node.h — the busbar node as a library: configuration, start, stop. The one public header of
 * node/ (the pattern engine has its own, node/pattern/pat.h). main.c is a thin shell around it.
 *
 * A node owns: the metadata replica (raft/, meta_node), the public HTTP API (libmicrohttpd), and —
 * in later issues — the bus logs, matching and delivery. Threads: node_start/node_stop are called
 * from the main thread; the HTTP server runs its own threads (one per connection, bounded).
 */
#ifndef NODE_H
#define NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bb.h"

/* Every tunable of a node. node_config_defaults() fills AWS-compatible defaults; the table in
 * config.c maps command-line flags onto these fields. Strings are borrowed until node_start returns
 * (the node copies what it keeps). */
typedef struct node_config {
	const char *data_dir;          /* root of all on-disk state */
	const char *listen;            /* public API "host:port" */
	const char *raft_listen;       /* raft "host:port" (private network only: no auth on raft) */
	uint64_t node_id;              /* raft server id */
	const char *region;            /* the cluster's region, e.g. us-east-1 */
	const char *account;           /* dev account id */
	const char *access_key;        /* dev access key id */
	const char *secret_key;        /* dev secret */
	bool allow_anonymous;          /* accept unsigned requests as the dev account */
	unsigned max_connections;      /* concurrent HTTP connections */
	unsigned max_inflight;         /* concurrent API requests before ThrottlingException */
	size_t max_body_bytes;         /* largest accepted request body */
	unsigned conn_timeout_s;       /* idle connection timeout */
	unsigned http_threads;         /* HTTP threads (each an epoll loop; requests never block them) */
	unsigned write_timeout_ms;     /* how long a control-plane write may wait for raft */
	int max_skew_s;                /* SigV4 allowed clock skew */
	unsigned raft_election_ms;
	unsigned raft_heartbeat_ms;
	unsigned raft_snapshot_threshold;
	unsigned raft_segment_size;
	size_t raft_max_pending;
	/* AWS limits, configurable (DESIGN.md §4) */
	unsigned max_targets_per_rule;   /* 5 */
	unsigned max_rules_per_bus;      /* 300 */
	unsigned max_buses_per_account;  /* 100 */
	unsigned max_pattern_bytes;      /* 4096 */
	/* node-local store (node/db) */
	uint64_t store_max_bytes;        /* LMDB map size: the most the store may hold on disk */
	size_t store_max_queued;         /* queued store writes before ThrottlingException */
	bool store_no_sync;              /* skip fsync (benchmarks only; loses acknowledged data on power loss) */
	unsigned log_retention_s;        /* events older than this leave the bus log */
	unsigned log_commit_interval_us; /* least time between two group commits of the bus log */
	unsigned store_commit_interval_us; /* least time between two commits of the node-local store */
	/* delivery (node/deliver*.c) */
	unsigned deliver_max_inflight;   /* deliveries in flight, all targets */
	unsigned deliver_target_inflight; /* deliveries in flight per target */
	unsigned retry_base_ms;          /* first retry waits up to this (full jitter) */
	unsigned retry_max_ms;           /* cap of one retry wait */
	unsigned http_connect_timeout_ms;
	unsigned http_timeout_ms;        /* whole request (AWS API destinations: 5 s) */
	bool apidest_https_only;         /* refuse http:// InvocationEndpoints (AWS's rule) */
	/* built-in queues (node/sqs_*.c) */
	unsigned sqs_max_queues;         /* queues per account (OverLimit beyond) */
	unsigned sqs_max_waiters;        /* long-polling ReceiveMessage calls at once (RequestThrottled beyond) */
	const bb_clock *clock;           /* NULL = system */
} node_config;

void node_config_defaults(node_config *cfg);

typedef struct node node;

/* Starts a node: opens/creates data_dir, starts the metadata replica (bootstrapping a one-voter
 * cluster on a pristine dir), ensures the dev account, key and default bus exist, and starts
 * serving HTTP. On success *out owns the node. Errors: BB_EIO (dir, ports), BB_ECORRUPT,
 * BB_ETIMEDOUT (raft did not elect itself), BB_ENOMEM. */
bb_err node_start(const node_config *cfg, node **out);

/* The bound API port (useful when listen asked for port 0). */
unsigned node_api_port(const node *n);

/* Stops serving HTTP (in-flight requests finish), closes raft cleanly, frees the node. */
void node_stop(node *n);

#endif /* NODE_H */
