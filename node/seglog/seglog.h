/* node/seglog/seglog.h — the bus log's bytes: append-only segment files with group commit. The one
 * public header of node/seglog/ (prefix seglog_).
 *
 * Why not LMDB: an LMDB commit fsyncs twice (data pages, then the meta page), and in a store with
 * churn (delivery tasks, queue messages) it rewrites pages all over the file; on this class of disk
 * each scattered page costs ~0.1 ms at fsync time, so a commit carrying a few dozen PutEvents took
 * 2-5 ms. Events are written once and never changed, so they go to the end of a file instead: one
 * contiguous write and one fdatasync per group of requests, ~0.5 ms for 100 KiB (bench/README.md).
 * LMDB keeps what does change — tasks, queues, the time index — and is not on the acknowledgement
 * path of PutEvents any more (node/evlog.c).
 *
 * Layout: files <dir>/<base>-<first seq>.seg (16 hex digits each). A record's LSN is its byte position
 * in the log as a whole: segment files cover consecutive ranges [base, next base); a record never
 * spans two files. Record (integers little endian, 8-byte aligned):
 *
 *   offset size  field
 *   0      4     magic 0x314c4242 ("BBL1")
 *   4      4     payload length P
 *   8      4     CRC-32C (Castagnoli) of bytes 16 .. 32+P
 *   12     4     reserved (0)
 *   16     8     seq (assigned here, increasing by 1 per record)
 *   24     8     time, ms since the epoch (the caller's)
 *   32     P     payload (opaque here)
 *   32+P   0-7   zero padding to a multiple of 8
 *
 * Durability: a record is reported appended only after the fdatasync of its batch (and, for the first
 * record of a new file, of the directory). A crash can leave a torn record at the end of the last
 * file only; opening the log cuts the file at the first record that does not check out (magic,
 * length, CRC), so nothing after a torn record is ever read.
 *
 * Threads: one writer thread owns the end of the log; appends from any thread are queued (bounded)
 * and completed in order on the writer. Reads and scans run on the caller's thread (pread), any
 * thread, concurrently with appends and with dropping old files.
 */
#ifndef SEGLOG_H
#define SEGLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/bb.h"

typedef struct seglog seglog;

typedef struct seglog_config {
	const char *dir;          /* created if missing; copied */
	uint64_t segment_bytes;   /* start a new file beyond this; 0 = 64 MiB */
	size_t max_queued;        /* appends submitted and not completed, at most; 0 = 65536 */
	uint64_t max_bytes;       /* refuse appends (BB_ENOSPC) once the files hold this much; 0 = none */
	uint64_t min_next_seq;    /* first seq to hand out, at least (continuing an older log) */
	bool no_sync;             /* benchmarks only: skip fdatasync */
	unsigned hold_us;         /* longest wait for announced appends before a batch (seglog_expect) */
	unsigned min_interval_us; /* least time from one batch's start to the next (appends gather meanwhile) */
	void (*on_sync)(void *ctx, int64_t ns); /* called on the writer with each fdatasync's duration */
	void *on_sync_ctx;
} seglog_config;

/* Opens (or creates) the log and starts its writer; cuts a torn tail (logged). *out owns it. BB_EIO
 * if the directory or a file cannot be opened, BB_ENOMEM. */
bb_err seglog_open(const seglog_config *cfg, seglog **out);
/* Completes queued appends with BB_ESHUTDOWN after the batch in progress, joins the writer, closes
 * the files. No reads may be running. */
void seglog_close(seglog *l);

/* ---- appends ------------------------------------------------------------------------------ */

typedef struct seglog_rec {
	const void *data;         /* payload, borrowed until done */
	size_t len;
	uint64_t seq, lsn;        /* out: assigned on the writer */
	uint32_t size;            /* out: bytes the record takes (for seglog_read) */
} seglog_rec;

typedef struct seglog_append seglog_append;
struct seglog_append {
	seglog_rec *recs;         /* borrowed until done */
	size_t n;
	int64_t ms;               /* stored in each record */
	/* Runs on the log's writer once the records are durable (BB_OK: seq/lsn/size filled) or failed
	 * (BB_ENOSPC, BB_EIO, BB_ESHUTDOWN: nothing of this append is in the log). Must be quick. */
	void (*done)(void *arg, bb_err err);
	void *arg;
	seglog_append *next;      /* owned by the log while submitted */
};

/* Queues a (borrowed until its done). BB_OK, BB_EBUSY when max_queued appends are outstanding,
 * BB_ENOSPC when the files already hold max_bytes, BB_ESHUTDOWN (done is then not called). Any
 * thread. */
bb_err seglog_submit(seglog *l, seglog_append *a);

/* Announces appends that are about to be submitted (delta +1) or no longer coming (-1): requests
 * being read and checked on other threads. While some are announced, the writer waits a little
 * (at most hold_us, config) before starting a batch, so they share its fdatasync instead of each
 * waiting for one of its own. Any thread. */
void seglog_expect(seglog *l, int delta);

/* ---- reads -------------------------------------------------------------------------------- */

typedef struct seglog_entry {
	void *buf;                /* malloc'd; the caller frees it (free(e.buf)) */
	const uint8_t *payload;   /* into buf */
	size_t len;
	uint64_t seq;
	int64_t ms;
	uint64_t next_lsn;        /* the record after this one */
} seglog_entry;

/* Reads the record at lsn; size is its seglog_rec.size when known (one pread), else 0. BB_ENOTFOUND
 * if lsn is before the oldest file or at/after the end, BB_ECORRUPT if what is there is not a valid
 * record, BB_EIO, BB_ENOMEM. Any thread. */
bb_err seglog_read(seglog *l, uint64_t lsn, uint32_t size, seglog_entry *out);

/* Calls fn for each record from lsn (a record's start, or the start of the oldest file if earlier) to
 * the end as it was when the scan began, in order, until fn returns false. e is only valid during
 * the call (its buf is not the caller's). BB_OK, or an error reading. Any thread. */
bb_err seglog_scan(seglog *l, uint64_t lsn, bool (*fn)(void *ctx, const seglog_entry *e, uint64_t lsn), void *ctx);

/* ---- space -------------------------------------------------------------------------------- */

/* Deletes every file all of whose records lie before lsn (never the one being appended to). Readers
 * holding a file keep it open until they are done. Any thread. */
void seglog_drop_before(seglog *l, uint64_t lsn);

/* CRC-32C of n bytes continuing crc (0 to start); exposed for tests. */
uint32_t seglog_crc32c(uint32_t crc, const void *data, size_t n);

typedef struct seglog_stats {
	uint64_t start_lsn, end_lsn;  /* oldest byte kept, end of the durable log */
	uint64_t bytes;               /* in the files */
	uint64_t next_seq;
	uint64_t files, appends, batches, sync_ns;
} seglog_stats;
void seglog_get_stats(seglog *l, seglog_stats *out);

#endif /* SEGLOG_H */
