/* node/evlog_int.h — private to the bus log: evlog.c (records, appends, indexing) and evlog_keep.c
 * (catching the index up from the log, retention). Not for other files of node/. */
#ifndef EVLOG_INT_H
#define EVLOG_INT_H

#include "node_int.h"
#include "seglog/seglog.h"

#define REC_HDR 16
#define PAY_HDR 12
#define SWEEP_CHUNK 2000
#define REINDEX_CHUNK 1024

struct evlog {
	node *n;
	seglog *log;
	/* log writer thread only: appends without tasks are not indexed one by one. Their range is
	 * folded into the next index write (or the next second's), so a bus without rules costs the
	 * store one write a second, not one per request. */
	uint64_t ix_start;        /* start of the records not indexed yet; UINT64_MAX = none */
	uint64_t ix_sec;          /* second of the last index write */
	unsigned ix_skipped;
	_Atomic unsigned index_pending; /* index writes submitted, not completed */
	_Atomic bool index_gap;   /* an index write failed: catch up from log_lsn */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
};

/* A record's payload, decoded (pointers into it). targets points at the first (u16 length, key). */
typedef struct payload_view {
	uint8_t hops;
	const char *bus_key;
	size_t bus_key_len, n_targets;
	const uint8_t *targets;
	const char *envelope;
	size_t len;
} payload_view;

/* One record to index. */
typedef struct ix_item {
	uint64_t seq, lsn;
	uint32_t size;
	int64_t ms;
	const uint8_t *targets; /* (u16 length, key) × n_targets */
	size_t n_targets;
} ix_item;

/* Decodes a record payload (format in evlog.c's header); false if malformed. Pure. */
bool evlog_payload_parse(const uint8_t *p, size_t len, payload_view *v);
/* Puts the tasks and the time index of items (start..end: the LSN range they cover) in txn, and moves
 * log_lsn to end if it was at start. cells: per target, fresh-attempt claims (NULL: none). Store writer. */
bb_err evlog_index_txn(node *n, MDB_txn *txn, const ix_item *it, size_t count, uint64_t start, uint64_t end,
		       _Atomic uint8_t *cells);
/* Indexes the records after log_lsn (at start, or after a failed index write). Blocking. */
bb_err evlog_catch_up(node *n);
/* The housekeeping thread (arg: the evlog): catch-up after failed index writes, retention. */
void *evlog_housekeeping(void *arg);

#endif
