/* raft/meta_int.h — private declarations shared by the files of raft/ (never included outside it).
 *
 * Layers, bottom up:
 *   meta_codec.c     raft_malloc'd growable buffer, 8-byte entry framing (deps.md R1), transaction codec
 *   meta_map.c       persistent (path-copying, refcounted) treap of {key, value, version} items
 *   meta_snap.c      immutable refcounted snapshots, the publisher (current snapshot + applied index)
 *   meta_dedupe.c    bounded FIFO table of recent request ids -> outcome
 *   meta_fsm.c       struct raft_fsm apply: preconditions, all-or-nothing ops, idempotency
 *   meta_fsm_snap.c  struct raft_fsm snapshot/restore: serialization of map + dedupe table
 *   meta_node.c      libuv loop thread, raft lifecycle, status
 *   meta_submit.c    bounded submit queue, raft_apply, blocking waits
 *
 * Threads: everything mutable belongs to the loop thread, except the publisher (mutex + condvar) and
 * the submit queue (node mutex). Trees, items and snapshots are immutable once published and carry
 * atomic reference counts, so any thread may drop the last reference.
 */
#ifndef META_INT_H
#define META_INT_H

#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdatomic.h>

#include "meta.h"

/* ---- meta_codec.c: buffers and framing -------------------------------------------------------- */

/* A growable byte buffer whose memory comes from raft_malloc/raft_realloc, so it can be handed to
 * raft_apply (R8) or returned from fsm->snapshot (R9). failed is set once an allocation failed; later
 * writes are ignored. */
typedef struct meta_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool failed;
} meta_buf;

/* msgpack_packer write callback over a meta_buf (returns -1 after an allocation failure). */
int meta_buf_write(void *data, const char *buf, size_t len);
/* Appends n zero bytes. */
void meta_buf_zero(meta_buf *b, size_t n);
/* Frees b's memory (raft_free) and resets it. */
void meta_buf_reset(meta_buf *b);

/* Frame layout (all entries and snapshots):
 *   offset 0  u32 LE magic (META_MAGIC_TXN or META_MAGIC_SNAP)
 *   offset 4  u32 LE payload length L
 *   offset 8  L bytes of msgpack
 *   then      0..7 zero bytes so the total length is a multiple of 8 (deps.md R1) */
#define META_FRAME_HDR 8u
#define META_MAGIC_TXN 0x31544d42u  /* "BMT1" */
#define META_MAGIC_SNAP 0x31534d42u /* "BMS1" */
#define META_TXN_VERSION 1u
#define META_SNAP_VERSION 1u
/* Bound on one encoded transaction (the frame stores a u32 length; raft entries are held in memory). */
#define META_MAX_TXN_BYTES (64u << 20)

/* Starts a frame: reserves the 8-byte header. */
void meta_frame_begin(meta_buf *b);
/* Finishes a frame started by meta_frame_begin: writes the header, pads with zeros to a multiple of 8.
 * Returns BB_ENOMEM if any write failed, BB_ETOOBIG if the payload exceeds max_payload. */
bb_err meta_frame_end(meta_buf *b, uint32_t magic, size_t max_payload);
/* Validates a frame (length multiple of 8, magic, payload length, zero padding) and returns its
 * payload (borrowed from buf). Errors: BB_ECORRUPT. */
bb_err meta_frame_open(const void *buf, size_t len, uint32_t magic, const uint8_t **payload, size_t *payload_len);

/* Walks one msgpack object spanning exactly p[0..len) without allocating; rejects truncation,
 * trailing bytes, reserved bytes and container counts larger than the bytes left (which would make
 * msgpack_unpack_next allocate unbounded memory). Call before msgpack_unpack_next on untrusted
 * input. Errors: BB_ECORRUPT. */
bb_err meta_mp_check(const uint8_t *p, size_t len);

/* Checks ops against the limits of meta.h. Errors: BB_EINVAL (kind, NULL pointers, empty key, expect
 * < -1, no ops), BB_ETOOBIG (count, key or value size). */
bb_err meta_ops_validate(const meta_op *ops, size_t n_ops);

/* Encodes a transaction into a framed, padded raft_malloc buffer (out_base, out_len; caller owns it
 * and frees it with raft_free unless raft_apply takes it). Validates ops first. Errors: as
 * meta_ops_validate, BB_ETOOBIG (> META_MAX_TXN_BYTES), BB_ENOMEM. Any thread. */
bb_err meta_txn_encode(const uint8_t req_id[16], const meta_op *ops, size_t n_ops, void **out_base,
		       size_t *out_len);

/* A decoded transaction. ops[i].key/val borrow from the decoded buffer; ops is owned (free with
 * meta_txn_free). */
typedef struct meta_txn {
	uint8_t req_id[16];
	meta_op *ops;
	size_t n_ops;
} meta_txn;

/* Decodes a framed transaction; rejects anything malformed, truncated, over the limits or with
 * trailing bytes. Errors: BB_ECORRUPT, BB_ENOMEM. Any thread. */
bb_err meta_txn_decode(const void *buf, size_t len, meta_txn *out);
void meta_txn_free(meta_txn *t);

/* ---- meta_map.c: persistent treap --------------------------------------------------------------- */

/* An immutable key/value/version record shared by every tree version that contains it. */
typedef struct meta_item {
	atomic_size_t ref;
	uint64_t prio; /* keyed hash of the key: treap priority */
	uint64_t version;
	size_t key_len;
	size_t val_len;
	uint8_t bytes[]; /* key then value */
} meta_item;

/* A tree node. Nodes are never modified after construction; updates copy the path (O(log n)). */
typedef struct meta_tnode {
	atomic_size_t ref;
	size_t size; /* number of items in this subtree */
	struct meta_tnode *left;
	struct meta_tnode *right;
	meta_item *item;
} meta_tnode;

/* Creates an item with refcount 1 (copies key and val). NULL on allocation failure. */
meta_item *meta_item_new(const void *key, size_t key_len, const void *val, size_t val_len, uint64_t version);
void meta_item_unref(meta_item *it);

/* Reference counting of (sub)trees; NULL is the empty tree. unref may run on any thread. */
meta_tnode *meta_tree_ref(meta_tnode *t);
void meta_tree_unref(meta_tnode *t);
static inline size_t meta_tree_size(const meta_tnode *t) { return t ? t->size : 0; }

/* Returns the item for key (borrowed from t) or NULL. O(log n). */
const meta_item *meta_tree_get(const meta_tnode *t, const void *key, size_t key_len);

/* Functional updates: t is borrowed and left unchanged; on success *out is a new reference. On
 * BB_ENOMEM nothing is leaked and *out is untouched. */
bb_err meta_tree_set(meta_tnode *t, meta_item *item, meta_tnode **out);
bb_err meta_tree_del(meta_tnode *t, const void *key, size_t key_len, meta_tnode **out, bool *found);
bb_err meta_tree_del_prefix(meta_tnode *t, const void *prefix, size_t prefix_len, meta_tnode **out,
			    size_t *removed);

/* In-order visit of keys starting with prefix and strictly greater than after (if after != NULL).
 * Returns the number visited; stops when fn returns false. */
size_t meta_tree_scan(const meta_tnode *t, const void *prefix, size_t prefix_len, const void *after,
		      size_t after_len, meta_scan_fn fn, void *ctx);

/* Bytewise order, shorter first on a common prefix. */
int meta_key_cmp(const void *a, size_t al, const void *b, size_t bl);

/* ---- meta_snap.c: snapshots and the publisher ----------------------------------------------- */

struct meta_snap {
	atomic_size_t ref;
	meta_tnode *root; /* owned reference */
	uint64_t index;
};

/* The current snapshot of one FSM, swapped under mu after each apply; cv is broadcast on publish. */
typedef struct meta_pub {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	meta_snap *cur;
	const bb_clock *clock;
} meta_pub;

/* Initializes with an empty snapshot at index 0. Errors: BB_ENOMEM, BB_EINTERNAL. */
bb_err meta_pub_init(meta_pub *p, const bb_clock *clock);
void meta_pub_destroy(meta_pub *p);
/* Creates a snapshot holding a new reference to root (borrowed). NULL on allocation failure. */
meta_snap *meta_snap_new(meta_tnode *root, uint64_t index);
/* Makes s (ownership taken) the current snapshot and wakes waiters. Never fails. */
void meta_pub_publish(meta_pub *p, meta_snap *s);
/* New reference to the current snapshot. */
meta_snap *meta_pub_acquire(meta_pub *p);
/* Waits until the current snapshot's index >= index (timeout_ms < 0: forever). BB_ETIMEDOUT. */
bb_err meta_pub_wait(meta_pub *p, uint64_t index, int timeout_ms);

/* Waits on cv (whose mutex mu is held) until *flag becomes true or the deadline on clock passes.
 * Waits in short slices so an injected clock is honoured. Returns BB_OK or BB_ETIMEDOUT. */
bb_err meta_cond_wait_flag(pthread_cond_t *cv, pthread_mutex_t *mu, const bb_clock *clock,
			   bool (*done)(void *ctx), void *ctx, int timeout_ms);
/* Initializes a condvar on CLOCK_MONOTONIC. */
bb_err meta_cond_init(pthread_cond_t *cv);

/* ---- meta_dedupe.c: recent request ids ------------------------------------------------------- */

typedef struct meta_dd_ent {
	uint8_t id[16];
	uint64_t index;
	uint32_t failed_op;
	uint32_t err; /* bb_err */
	uint32_t next; /* hash chain */
} meta_dd_ent;

typedef struct meta_dedupe {
	size_t cap;      /* max entries */
	size_t n;        /* entries in use */
	size_t head;     /* ring position of the oldest entry */
	meta_dd_ent *ents;
	uint32_t *buckets;
	size_t n_buckets; /* power of two */
} meta_dedupe;

/* Errors: BB_EINVAL (cap 0 or > 2^31), BB_ENOMEM. */
bb_err meta_dedupe_init(meta_dedupe *d, size_t cap);
void meta_dedupe_free(meta_dedupe *d);
void meta_dedupe_clear(meta_dedupe *d);
/* Outcome remembered for id, or NULL. */
const meta_dd_ent *meta_dedupe_find(const meta_dedupe *d, const uint8_t id[16]);
/* Remembers id (not already present) -> outcome, evicting the oldest entry when full. */
void meta_dedupe_add(meta_dedupe *d, const uint8_t id[16], const meta_result *res);
/* The i-th entry, oldest first (i < d->n). */
const meta_dd_ent *meta_dedupe_at(const meta_dedupe *d, size_t i);

/* ---- meta_fsm.c / meta_fsm_snap.c: the state machine ------------------------------------------ */

typedef struct meta_fsm {
	struct raft_fsm rfsm;   /* .data = this; handed to raft_init */
	struct raft *raft;      /* set after raft_init: the index of an applied entry is last_applied + 1 */
	meta_tnode *root;       /* loop thread only */
	uint64_t index;         /* index of the last applied command */
	meta_dedupe dd;
	meta_pub pub;
	meta_result last;       /* outcome of the last apply; *result of fsm->apply points here */
} meta_fsm;

/* Initializes an empty FSM. Errors: BB_ENOMEM, BB_EINVAL, BB_EINTERNAL. */
bb_err meta_fsm_init(meta_fsm *f, size_t dedupe_capacity, const bb_clock *clock);
/* Frees the FSM state. Snapshots acquired from f->pub stay valid until released. */
void meta_fsm_close(meta_fsm *f);
/* Applies one framed transaction at raft index `index` (the body of fsm->apply). Fills f->last and
 * publishes a snapshot. Returns 0, or RAFT_NOMEM with the state untouched. */
int meta_fsm_apply_at(meta_fsm *f, const void *buf, size_t len, uint64_t index);
/* fsm->snapshot / fsm->restore (struct raft_fsm v1 semantics, see deps.md R9). */
int meta_fsm_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[], unsigned *n_bufs);
int meta_fsm_restore(struct raft_fsm *rf, struct raft_buffer *buf);

/* ---- meta_node.c / meta_submit.c: the node ---------------------------------------------------- */

/* One queued or in-flight transaction. Owned by the queue, then by raft (while in flight), then
 * freed by meta_req_finish on the loop thread. */
typedef struct meta_req {
	struct raft_apply apply; /* apply.data = this */
	struct meta_req *next;
	meta_node *node;
	void *base;              /* encoded entry (raft_malloc); NULL once raft owns it */
	size_t len;
	meta_done_fn done;
	void *ctx;
} meta_req;

struct meta_node {
	/* fixed after meta_start */
	char *dir;
	char *address;
	uint64_t id;
	size_t max_pending;
	const bb_clock *clock;
	pthread_t thread;

	/* loop thread only (and meta_start/meta_stop before/after the thread runs) */
	uv_loop_t loop;
	uv_async_t wake;
	uv_check_t check;
	struct raft_uv_transport transport;
	struct raft_io io;
	struct raft raft;
	struct raft_barrier barrier;
	bool barrier_busy;
	uint64_t barrier_term;   /* term whose barrier is in flight */
	bool closing;
	meta_fsm fsm;

	/* guarded by mu */
	pthread_mutex_t mu;
	meta_req *q_head;
	meta_req *q_tail;
	size_t pending;          /* queued + in flight */
	bool stopping;
	meta_status status;      /* refreshed by the loop thread after every loop iteration */
	uint64_t commit_index;
	uint64_t ready_term;     /* a leader: term whose barrier has been applied */
};

/* The one place raft codes become bb_err. */
bb_err meta_err_from_raft(int rv);

/* Loop thread: the async callback — moves queued requests into raft (or fails them when stopping). */
void meta_submit_drain(meta_node *n, bool stopping);
/* Loop thread: delivers res to the request's callback and frees it. */
void meta_req_finish(meta_req *r, const meta_result *res);

#endif /* META_INT_H */
