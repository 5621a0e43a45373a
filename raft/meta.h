/* raft/meta.h — Busbar's replicated metadata: a versioned key/value store whose every write is a
 * transaction applied through canonical/raft. The one public header of raft/ (prefix meta_, since
 * raft_ belongs to the library).
 *
 * Model
 *   - Keys are byte strings ordered bytewise (node/ uses paths like "a/<acct>/bus/<name>").
 *   - Values are opaque bytes (node/ decides their encoding; raft/ knows no JSON, no HTTP).
 *   - Each key carries a version: the raft index of the transaction that last wrote it (> 0).
 *   - A write is a transaction: a list of ops applied atomically, all-or-nothing. Ops may carry a
 *     precondition on the version of a key (compare-and-set), so node/ validates against a read
 *     snapshot and the FSM rejects the transaction with BB_ECONFLICT if anything changed meanwhile.
 *   - Every transaction carries a 16-byte request id. The FSM remembers recent ids (bounded, kept in
 *     snapshots) and answers a retried id with the first outcome instead of applying it twice.
 *
 * Threads
 *   - meta_start() spawns one loop thread that owns libuv, libraft and the mutable FSM state. Every
 *     raft_* call happens on it (deps.md R7).
 *   - Other threads submit transactions through a bounded queue (meta_submit*) and read immutable
 *     snapshots (meta_snap_*). A snapshot is a persistent (path-copying) tree published atomically
 *     after each apply; acquiring one is O(1) and never blocks the loop for long.
 *
 * Raft pitfalls handled inside (deps.md §1.1): entries padded to 8 bytes with a length prefix, SIGPIPE
 * ignored by the caller (node/main), pre-vote on, snapshot threshold >= 8192, idempotent commands.
 */
#ifndef META_H
#define META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bb.h"

typedef struct meta_node meta_node;
typedef struct meta_snap meta_snap;

/* Configuration of one metadata node. Strings are copied by meta_start. */
typedef struct meta_config {
	const char *dir;             /* raft data directory; created if missing */
	uint64_t id;                 /* raft server id, != 0 */
	const char *address;         /* raft listen address "host:port" */
	bool bootstrap;              /* bootstrap a one-voter cluster if the dir is pristine */
	unsigned election_timeout_ms;  /* 0 = default 1000 */
	unsigned heartbeat_timeout_ms; /* 0 = default 100 */
	unsigned snapshot_threshold;   /* 0 = default 8192 */
	unsigned snapshot_trailing;    /* 0 = default 1024 */
	unsigned segment_size;         /* bytes; 0 = default (8 MiB) */
	size_t max_pending;          /* bound on queued + in-flight transactions; 0 = default 1024 */
	size_t dedupe_capacity;      /* remembered request ids; 0 = default 65536 */
	const bb_clock *clock;       /* NULL = bb_clock_system */
} meta_config;

/* Starts the node: creates the dir, loads raft state, bootstraps if asked and pristine, starts the
 * loop thread. On success *out owns the node (free with meta_stop). Errors: BB_EIO (dir/raft init),
 * BB_ECORRUPT (raft refused its persisted state), BB_ENOMEM. Call from any thread, once. */
bb_err meta_start(const meta_config *cfg, meta_node **out);

/* Stops accepting work, fails queued transactions with BB_ESHUTDOWN, closes raft cleanly (flushes),
 * joins the loop thread and frees the node. Snapshots still held stay valid until released. */
void meta_stop(meta_node *n);

/* True when raft has a leader and this node's FSM has applied everything committed that it knows
 * of (for /ready). Thread-safe. */
bool meta_ready(meta_node *n);

/* Status for health/metrics. Thread-safe; values may be slightly stale. */
typedef struct meta_status {
	int raft_state;          /* 0 unavailable, 1 follower, 2 candidate, 3 leader */
	uint64_t leader_id;      /* 0 = unknown */
	uint64_t last_applied;   /* FSM applied index */
	uint64_t last_index;     /* raft last log index */
	uint64_t term;
	uint64_t pending;        /* queued + in-flight transactions */
} meta_status;
void meta_get_status(meta_node *n, meta_status *out);

/* ---- reads -------------------------------------------------------------------------------- */

/* A value as read from a snapshot: borrowed until meta_snap_release of its snapshot. */
typedef struct meta_val {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *data;
	size_t len;
	uint64_t version;
} meta_val;

/* Returns the newest published snapshot, with a reference the caller must release. Never NULL
 * after meta_start succeeded. Thread-safe, O(1). */
meta_snap *meta_snap_acquire(meta_node *n);
void meta_snap_release(meta_snap *s);

/* The raft index this snapshot reflects (0 before anything was applied). */
uint64_t meta_snap_index(const meta_snap *s);
/* Number of keys. */
size_t meta_snap_count(const meta_snap *s);

/* Looks up key. Returns true and fills *out (borrowed from s) if present. */
bool meta_snap_get(const meta_snap *s, const void *key, size_t key_len, meta_val *out);

/* Visits, in key order, every key that starts with prefix and is strictly greater than after (after
 * may be NULL: start at the prefix). Stops when fn returns false. Returns the number visited.
 * O(log n + visited). */
typedef bool (*meta_scan_fn)(void *ctx, const meta_val *v);
size_t meta_snap_scan(const meta_snap *s, const void *prefix, size_t prefix_len, const void *after,
		      size_t after_len, meta_scan_fn fn, void *ctx);

/* ---- writes ------------------------------------------------------------------------------- */

#define META_ANY ((int64_t)-1)   /* no precondition */
#define META_ABSENT ((int64_t)0) /* key must not exist */

typedef enum meta_op_kind {
	META_OP_PUT = 1,      /* set key = val (precondition: expect) */
	META_OP_DEL = 2,      /* delete key (precondition: expect); deleting an absent key with META_ANY is ok */
	META_OP_CHECK = 3,    /* only the precondition: key's version must equal expect (or be absent) */
	META_OP_DEL_PREFIX = 4, /* delete every key starting with key (expect ignored) */
} meta_op_kind;

/* One op of a transaction. Buffers are borrowed for the duration of the submit call (copied). */
typedef struct meta_op {
	meta_op_kind kind;
	const void *key;
	size_t key_len;
	const void *val;   /* PUT only */
	size_t val_len;
	int64_t expect;    /* META_ANY, META_ABSENT, or the exact version the key must have */
} meta_op;

typedef struct meta_result {
	bb_err err;          /* BB_OK, BB_ECONFLICT (failed_op names the op), BB_ESHUTDOWN, BB_ENOTLEADER,
			      * BB_ETIMEDOUT, BB_EIO */
	uint64_t index;      /* raft index the transaction was applied at (BB_OK / BB_ECONFLICT) */
	size_t failed_op;    /* with BB_ECONFLICT: index of the first op whose precondition failed */
} meta_result;

/* Called on the loop thread when the transaction has been applied (or failed). Must not block. */
typedef void (*meta_done_fn)(void *ctx, const meta_result *res);

/* Limits on one transaction. */
#define META_MAX_OPS 4096
#define META_MAX_KEY 1024
#define META_MAX_VAL (1u << 20)

/* Queues a transaction (ops copied, encoded as msgpack). req_id makes it idempotent: resubmitting the
 * same id returns the first outcome. done is called exactly once, on the loop thread, after the FSM
 * applied the entry (or with an error). Returns BB_OK when queued; BB_EBUSY when max_pending is
 * reached (throttle the client); BB_EINVAL / BB_ETOOBIG for bad ops; BB_ESHUTDOWN when stopping.
 * On error done is not called. Thread-safe. */
bb_err meta_submit(meta_node *n, const uint8_t req_id[16], const meta_op *ops, size_t n_ops, meta_done_fn done,
		   void *ctx);

/* Blocking form of meta_submit: waits up to timeout_ms for the outcome (then BB_ETIMEDOUT, and the
 * transaction may still apply later). Must not be called on the loop thread. */
bb_err meta_submit_wait(meta_node *n, const uint8_t req_id[16], const meta_op *ops, size_t n_ops,
			int timeout_ms, meta_result *out);

/* Blocks until this node's published snapshot reflects at least index, or timeout_ms passes
 * (BB_ETIMEDOUT). Used to make a write visible to reads on this node before answering. */
bb_err meta_wait_applied(meta_node *n, uint64_t index, int timeout_ms);

#endif /* META_H */
