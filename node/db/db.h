/* node/db/db.h — the node-local durable store: one LMDB environment, one writer thread, group commit.
 * The one public header of node/db/ (prefix db_).
 *
 * Everything the data plane keeps on this node's disk lives here: the bus logs, the delivery task
 * table, the built-in queues' messages. None of it is in raft (DESIGN.md §1: events live on their
 * bus's home node).
 *
 * Writes. LMDB allows one write transaction at a time, so one writer thread owns it. Any thread
 * submits a db_write (an apply function plus a completion); the writer keeps one batch transaction
 * open for up to min_interval_us (or a batch limit), runs each apply as it arrives inside its own
 * nested transaction of it, commits the batch with one fsync (group commit), then calls every
 * completion with the outcome.
 * An apply that fails has its nested transaction aborted: the rest of the batch is unaffected.
 * Nothing is reported durable before the fsync of its batch returned.
 *
 * Reads. Any thread may open a read-only transaction (MDB_NOTLS: not tied to the thread) and must
 * close it promptly: a long reader pins old pages and makes the file grow.
 *
 * Failure. A full map (MDB_MAP_FULL) or a full disk (ENOSPC at commit) fails the writes of that
 * batch with BB_ENOSPC and changes nothing; other I/O errors give BB_EIO. LMDB's meta-page protocol
 * keeps the file consistent across kill -9 at any point.
 */
#ifndef DB_H
#define DB_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/bb.h"

typedef struct db db;

typedef struct db_config {
	const char *dir;        /* directory of the environment (created if missing); copied */
	uint64_t map_bytes;     /* maximum size of the data file (LMDB map size); 0 = 64 GiB */
	size_t max_queued;      /* bound on submitted, not yet completed writes; 0 = 65536 */
	size_t max_batch;       /* writes per transaction at most; 0 = 4096 */
	bool no_sync;           /* tests/benchmarks only: skip fsync (never for real deployments) */
	unsigned min_interval_us; /* least time from one commit's start to the next (writes are applied
				   * meanwhile and share the commit) */
	void (*on_commit)(void *ctx, int64_t ns); /* called on the writer with each commit's duration */
	void *on_commit_ctx;
} db_config;

/* Named tables (LMDB sub-databases), opened by db_open. Their key/value formats are documented by the
 * file that owns each (see docs/storage.md). */
typedef enum db_table {
	DB_T_LOG = 0,   /* bus log: event records by sequence number (node/evlog.c) */
	DB_T_TIDX,      /* bus log time index: ingest second -> first sequence (node/evlog.c) */
	DB_T_TASK,      /* delivery tasks by target, due time, sequence (node/deliver_store.c) */
	DB_T_STATE,     /* small node-local state: counters, cursors (node/evlog.c) */
	DB_T_QMSG,      /* built-in queue messages (node/sqs_store.c) */
	DB_T_QVIS,      /* built-in queue visibility index (node/sqs_store.c) */
	DB_T__COUNT
} db_table;

/* Opens (creating if needed) the environment and its tables and starts the writer thread. On success
 * *out owns it (db_close). Errors: BB_EIO (cannot create/open), BB_ENOMEM. Any thread, once. */
bb_err db_open(const db_config *cfg, db **out);

/* Fails queued writes with BB_ESHUTDOWN after finishing the batch in progress, joins the writer and
 * closes the environment. Readers must have ended their transactions. */
void db_close(db *d);

/* The LMDB handle of a table (valid for the life of d; usable in any transaction of d). */
MDB_dbi db_dbi(db *d, db_table t);

/* ---- writes ------------------------------------------------------------------------------- */

typedef struct db_write db_write;
/* Runs on the writer thread inside a nested transaction. Returns BB_OK to keep its changes; anything
 * else discards them (and is passed to done). Must not block or call back into db_submit waits. */
typedef bb_err (*db_apply_fn)(db *d, MDB_txn *txn, void *arg);
/* Runs on the writer thread once the batch is durable (err = BB_OK) or failed (the apply's error, or
 * BB_ENOSPC / BB_EIO / BB_ESHUTDOWN). Must be quick: wake a waiter, post a message. */
typedef void (*db_done_fn)(void *arg, bb_err err);

struct db_write {
	db_apply_fn apply;
	db_done_fn done;    /* may be NULL */
	void *arg;
	bool early;         /* done runs once the apply's changes are in the batch, before its commit: only
			     * for writes whose loss (a crash, a failed commit) is harmless, e.g. hiding a
			     * received queue message (it becomes visible again: at-least-once) */
	bool (*early_if)(void *arg); /* if set, asked after the apply (writer thread): false = wait for
				      * the commit after all (what the apply did must be visible first) */
	bool must;          /* counted but never refused for --store-max-queued (the caller throttles
			     * elsewhere: PutEvents checks db_busy before its log write) */
	db_write *next;     /* owned by db while submitted */
};

/* Queues w; w is borrowed until its done has run. Returns BB_OK, BB_EBUSY when max_queued writes are
 * outstanding (answer the client with a throttling error), BB_ESHUTDOWN when closing (then done is
 * not called). Thread-safe. */
bb_err db_submit(db *d, db_write *w);

/* Whether max_queued writes are outstanding (db_submit would answer BB_EBUSY). Any thread. */
bool db_busy(db *d);

/* Submits apply(arg) and waits for the outcome: BB_OK once durable. Not on the writer thread. */
bb_err db_run(db *d, db_apply_fn apply, void *arg);
/* The same, but returns as soon as the changes are applied in the batch (db_write.early): visible at
 * once to the writes applied after it (in the same batch too) and to readers after the commit, not
 * yet durable — unless early_if (may be NULL) answers false after the apply, then only after the
 * commit. */
bb_err db_run_early(db *d, db_apply_fn apply, void *arg, bool (*early_if)(void *arg));

/* Waits until every write submitted before the call has completed — committed, or failed — so a
 * read transaction begun afterwards sees the effects of early writes (db_write.early) that were
 * already answered. Not on the writer thread. */
void db_barrier(db *d);

/* ---- reads -------------------------------------------------------------------------------- */

/* Begins a read-only transaction (any thread). BB_EIO on failure. End it with db_read_end. */
bb_err db_read_begin(db *d, MDB_txn **txn);
void db_read_end(MDB_txn *txn);

/* ---- helpers ------------------------------------------------------------------------------ */

/* Translates an LMDB/errno code into bb_err (MDB_MAP_FULL/ENOSPC → BB_ENOSPC, MDB_NOTFOUND →
 * BB_ENOTFOUND, others → BB_EIO). */
bb_err db_err(int rc);

/* Big-endian u64 for keys that sort numerically. */
static inline void db_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}
static inline uint64_t db_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Drops the store's mapped pages from this process's resident set (they stay in the kernel's page
 * cache; the next read refaults them cheaply). The data file is mapped read-only and shared, so this
 * changes no data; it keeps RSS proportional to the working set instead of to everything read since
 * start (a large backlog read once would otherwise stay counted in RSS). Any thread. */
void db_trim_resident(db *d);

/* Keeps the store's mapped pages from growing RSS without bound: trims (db_trim_resident) when this
 * process's file-backed resident pages — the store's map, mostly — exceed DB_RESIDENT_MAX, reading
 * /proc/self/statm at most every DB_RESIDENT_CHECK_NS whoever calls. Whoever reads records through
 * the map calls it as it goes (log and queue reads, the delivery engine's task walks, the writer after
 * each commit). Any thread; a clock read and a compare when not due. */
#define DB_RESIDENT_MAX (64ull << 20)
#define DB_RESIDENT_CHECK_NS 10000000ll
void db_trim_if_over(db *d);

/* Counters for /metrics (thread-safe reads). */
typedef struct db_stats {
	uint64_t commits, writes, failed_writes, queued;
	uint64_t apply_ns, commit_ns; /* writer time running applies / committing (page writes + fsync) */
	uint64_t map_bytes, used_bytes;
} db_stats;
void db_get_stats(db *d, db_stats *out);

#endif /* DB_H */
