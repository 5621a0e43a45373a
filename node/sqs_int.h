/* node/sqs_int.h — private declarations of the built-in queues (node/sqs_*.c). The node-wide API
 * (what api.c, node.c and the delivery engine call) is in node_int.h under "built-in queues".
 *
 * Files:
 *   sqs_api.c    routing (AWS JSON 1.0 `AmazonSQS.*` and the query protocol), auth, op table, errors
 *   sqs_query.c  the query protocol: form → canonical JSON input, JSON output → XML, XML errors
 *   sqs_queue.c  queue definitions in raft (q/<acct>/<name>): Create/GetUrl/List/Delete/SetAttributes,
 *                Purge, tags, URL and ARN resolution
 *   sqs_attr.c   queue attribute rules and defaults, GetQueueAttributes
 *   sqs_send.c   SendMessage(Batch): validation, attributes, MD5s; sqs_put_txn
 *   sqs_recv.c   ReceiveMessage (long polling), DeleteMessage(Batch), ChangeMessageVisibility(Batch)
 *   sqs_store.c  messages in the node-local LMDB store: writes (layout in docs/queues.md);
 *                sqs_store_scan.c reads, counts, sweeping; sqs_rec.c the body record format
 *   sqs_wait.c   long-poll waiters, notification, lifecycle; sqs_sweep.c retention/orphan sweeper
 *   sqs_md5.c    MD5 and the SQS digests
 *
 * Every handler works on the canonical request: the JSON 1.0 body (query requests are converted into
 * exactly that shape first), and produces the JSON 1.0 response object, which sqs_query.c turns into
 * XML for query clients. So one handler serves both protocols.
 */
#ifndef SQS_INT_H
#define SQS_INT_H

#include "node_int.h"

#define SQS_MAX_BATCH 10           /* entries per batch request, messages per receive */
#define SQS_MAX_MSG_ATTRS 10       /* message attributes per message */
#define SQS_MAX_VISIBILITY_S 43200 /* 12 hours */
#define SQS_MAX_WAIT_S 20
#define SQS_URL_MAX 512
#define SQS_ARN_MAX 256
#define SQS_XMLNS "http://queue.amazonaws.com/doc/2012-11-05/"

enum sqs_proto { SQS_PROTO_NONE = 0, SQS_PROTO_JSON = 1, SQS_PROTO_QUERY = 2 };

/* One SQS call: the shared api_call plus what SQS needs of the HTTP request. */
typedef struct sqs_call {
	int proto;
	const char *path; /* request path (query requests may address the queue by it) */
	char host[256];   /* Host header: queue URLs are http://<host>/<account>/<name> */
	api_call c;       /* last: its message buffer (32 KiB) needs clearing of its first byte only */
} sqs_call;

typedef int (*sqs_op_fn)(sqs_call *sc);

/* ---- errors (sqs_api.c) --------------------------------------------------------------------- */
/* Sets an SQS error by its JSON code (e.g. "QueueDoesNotExist"); the HTTP status and the legacy query
 * code come from the one table in sqs_api.c. Returns -1. */
int sqs_error(api_call *c, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
typedef struct sqs_errinfo {
	const char *code;       /* JSON __type short name */
	const char *query_code; /* legacy query code (x-amzn-query-error / XML <Code>) */
	int status;
} sqs_errinfo;
/* The table row of code, or NULL (then: status from the call, query code = code). */
const sqs_errinfo *sqs_errinfo_of(const char *code);
/* "The request must contain the parameter X." (MissingParameter) */
int sqs_missing(api_call *c, const char *member);

/* ---- query protocol (sqs_query.c) ------------------------------------------------------------ */
/* Decodes an application/x-www-form-urlencoded body (plus the URL query) into *action (the Action
 * parameter, copied into action[cap]) and *in, the canonical JSON input of that action (owned by the
 * caller). Returns 0, or -1 with the error set (InvalidAction for an unknown action, MissingAction,
 * InvalidParameterValue for malformed parameters). */
int sqs_query_decode(api_call *c, const api_request *rq, char *action, size_t cap, json_t **in);
/* The XML success document of op for its canonical JSON output (borrowed; NULL = no result). malloc'd. */
char *sqs_query_result(const char *op, json_t *out, const char *request_id);
/* The XML error document. malloc'd. */
char *sqs_query_error(const char *code, bool sender, const char *msg, const char *request_id);

/* ---- queues (sqs_queue.c) -------------------------------------------------------------------- */
typedef struct sqs_queue {
	sqs_ref ref;      /* account, name, qid, attributes as numbers */
	json_t *rec;      /* the raft record (owned) */
	uint64_t version; /* its version (CAS token) */
	char url[SQS_URL_MAX];
	char arn[SQS_ARN_MAX];
} sqs_queue;

/* Resolves the QueueUrl member of c->in against the call's snapshot. Returns 0, or -1 with
 * MissingParameter / InvalidAddress / QueueDoesNotExist set. Free q with sqs_queue_free. */
int sqs_queue_from_url(sqs_call *sc, sqs_queue *q);
void sqs_queue_free(sqs_queue *q);
void sqs_queue_url(sqs_call *sc, const char *account, const char *name, char *out, size_t cap);
void sqs_queue_arn(node *n, const char *account, const char *name, char *out, size_t cap);
/* Fills ref from a queue record. false if the record is malformed (logged). (sqs_attr.c) */
bool sqs_ref_from_record(json_t *rec, const char *account, sqs_ref *ref);
/* [A-Za-z0-9_-]{1,80} */
bool sqs_queue_name_ok(const char *s);
/* Validates an Attributes member (CreateQueue, SetQueueAttributes) into *out, a new object of
 * canonical strings ("" = remove an optional attribute). self: the queue's name (a RedrivePolicy may
 * not target it). Returns 0, or -1 with InvalidAttributeName / InvalidAttributeValue /
 * InvalidParameterValue set (*out is then still owned by the caller). (sqs_attr.c) */
int sqs_attrs_validate(sqs_call *sc, json_t *attrs, const char *self, json_t **out);
/* The settable attributes with their defaults, as stored on a new queue. New reference. */
json_t *sqs_attrs_defaults(void);

int sqs_op_create_queue(sqs_call *sc);
int sqs_op_get_queue_url(sqs_call *sc);
int sqs_op_list_queues(sqs_call *sc);
int sqs_op_delete_queue(sqs_call *sc);
int sqs_op_get_queue_attributes(sqs_call *sc);
int sqs_op_set_queue_attributes(sqs_call *sc);
int sqs_op_purge_queue(sqs_call *sc);
int sqs_op_tag_queue(sqs_call *sc);
int sqs_op_untag_queue(sqs_call *sc);
int sqs_op_list_queue_tags(sqs_call *sc);
int sqs_op_send_message(sqs_call *sc);
int sqs_op_send_message_batch(sqs_call *sc);
int sqs_op_receive_message(sqs_call *sc);
int sqs_op_delete_message(sqs_call *sc);
int sqs_op_delete_message_batch(sqs_call *sc);
int sqs_op_change_message_visibility(sqs_call *sc);
int sqs_op_change_message_visibility_batch(sqs_call *sc);

/* Batch request checks shared by the batch operations: Entries present, 1..10, ids valid and
 * distinct. Returns 0 or -1 with the AWS batch error set. */
int sqs_batch_check(api_call *c, json_t *entries, const char *entry_name);

/* ---- MD5 (sqs_md5.c) --------------------------------------------------------------------------- */
typedef struct sqs_md5_ctx {
	uint32_t s[4];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
} sqs_md5_ctx;
void sqs_md5_init(sqs_md5_ctx *x);
void sqs_md5_update(sqs_md5_ctx *x, const void *data, size_t len);
void sqs_md5_final(sqs_md5_ctx *x, uint8_t out[16]);
void sqs_md5(const void *data, size_t len, uint8_t out[16]);
/* Lowercase hex of n bytes into out[2n+1]. */
void sqs_hex(const uint8_t *d, size_t n, char *out);

/* A message attribute. Strings are borrowed. transport: 1 String/Number, 2 Binary. */
typedef struct sqs_mattr {
	const char *name, *type;
	size_t name_len, type_len;
	uint8_t transport;
	const uint8_t *val;
	size_t val_len;
} sqs_mattr;
/* qsort comparator: by name, bytewise. */
int sqs_mattr_cmp(const void *a, const void *b);
/* MD5OfMessageAttributes of a (sorted by name). */
void sqs_md5_attrs(const sqs_mattr *a, size_t n, uint8_t out[16]);

/* ---- message store (sqs_store.c) --------------------------------------------------------------- */
/* A message to append. Everything borrowed for the call. */
typedef struct sqs_msg_in {
	const char *body;
	size_t body_len;
	const sqs_mattr *attrs; /* sorted by name */
	size_t n_attrs;
	const char *sender;     /* SenderId (access key or account), <= 128 bytes */
	int64_t delay_s;        /* 0..900 */
	/* set when moving a message to its dead-letter queue (else NULL/0): kept from the source */
	const char *keep_msg_id;
	int64_t keep_sent_ms, keep_first_ms;
	uint32_t keep_rcount;
	const char *source_arn; /* DeadLetterQueueSourceArn */
	char msg_id[37];        /* out: the MessageId (new, or keep_msg_id) */
	uint8_t md5_body[16];   /* out */
} sqs_msg_in;

/* Appends m to queue qid inside txn (writer thread). BB_ENOSPC/BB_EIO from LMDB. */
bb_err sqs_store_put(db *d, MDB_txn *txn, const uint8_t qid[16], sqs_msg_in *m, int64_t now_ms);

/* A received message: header fields and a malloc'd copy of its body record. */
typedef struct sqs_got {
	uint64_t seq;
	uint32_t rcount;   /* receive count including this receive */
	int64_t sent_ms, first_ms;
	char msg_id[37];
	uint8_t *rec;
	size_t rec_len;
} sqs_got;

typedef struct sqs_recv {
	uint8_t qid[16];
	int max;              /* 1..10 */
	int64_t vis_ms;       /* visibility timeout for what is received */
	int64_t retention_ms; /* messages older than this are deleted instead of returned */
	int64_t now_ms;
	/* redrive: messages already received max_rcount times move to dlq_qid (0 = off) */
	uint32_t max_rcount;
	uint8_t dlq_qid[16];
	const char *src_arn;  /* this queue's ARN (recorded on moved messages) */
	sqs_got got[SQS_MAX_BATCH];
	int n_got;
	size_t moved;         /* out: messages moved to the dead-letter queue */
} sqs_recv;

/* Takes up to r->max visible messages of r->qid and makes them invisible for r->vis_ms (writer
 * thread, inside txn). On failure the caller's txn is discarded; r->got entries are owned by the
 * caller either way (sqs_recv_free). */
bb_err sqs_store_receive(db *d, MDB_txn *txn, sqs_recv *r);
void sqs_recv_free(sqs_recv *r);

/* Read-only: is a message of qid visible at now_ms (*ready), else the earliest time one becomes
 * visible (*next_ms, INT64_MAX if the queue is empty). */
bb_err sqs_store_peek(db *d, const uint8_t qid[16], int64_t now_ms, bool *ready, int64_t *next_ms);

enum sqs_outcome { SQS_DONE = 0, SQS_GONE, SQS_STALE, SQS_TOO_LONG };
/* Deletes message seq of qid (writer thread). *outcome: SQS_DONE, or SQS_GONE if absent. */
bb_err sqs_store_delete(db *d, MDB_txn *txn, const uint8_t qid[16], uint64_t seq, int *outcome);
/* Sets the visibility of message seq to now+vis_ms if rcount is its latest receive (SQS_STALE
 * otherwise) and the total since that receive stays within 12 h (SQS_TOO_LONG). SQS_GONE if absent. */
bb_err sqs_store_change_vis(db *d, MDB_txn *txn, const uint8_t qid[16], uint64_t seq, uint32_t rcount,
			    int64_t vis_ms, int64_t now_ms, int *outcome);

/* Approximate counts (read-only; each time-dependent count scans at most `cap` index entries). */
bb_err sqs_store_counts(db *d, const uint8_t qid[16], int64_t now_ms, uint64_t *visible, uint64_t *inflight,
			uint64_t *delayed);

/* Sweeper helpers (writer thread, inside txn): delete at most budget messages of qid that outlived
 * retention_ms (*more: some are left); delete at most budget entries of a queue that no longer exists
 * (*more: not finished). */
bb_err sqs_store_expire(db *d, MDB_txn *txn, const uint8_t qid[16], int64_t retention_ms, int64_t now_ms,
			size_t budget, bool *more);
bb_err sqs_store_drop(db *d, MDB_txn *txn, const uint8_t qid[16], size_t budget, bool *more);
/* Read-only: does qid have a message older than retention_ms? */
bool sqs_store_expire_due(db *d, const uint8_t qid[16], int64_t retention_ms, int64_t now_ms);
/* Read-only: the queue ids that have data on this node, in order, strictly after `after` (NULL: from
 * the start), at most cap. */
bb_err sqs_store_qids(db *d, const uint8_t *after, uint8_t (*out)[16], size_t cap, size_t *n);

/* A parsed body record (pointers into the record). */
typedef struct sqs_rec {
	const uint8_t *md5_body; /* 16 bytes */
	const char *body;
	size_t body_len;
	const char *sender;
	size_t sender_len;
	size_t n_attrs;
	const uint8_t *attrs, *attrs_end; /* encoded; walk with sqs_rec_attr_next */
	const char *source_arn;           /* DeadLetterQueueSourceArn, or NULL */
	size_t source_arn_len;
} sqs_rec;
bool sqs_rec_parse(const uint8_t *p, size_t len, sqs_rec *out);
/* Decodes the attribute at *p and advances; false at the end or on a malformed record. */
bool sqs_rec_attr_next(const uint8_t **p, const uint8_t *end, sqs_mattr *a);

/* ---- store internals (sqs_store.c, sqs_store_scan.c, sqs_rec.c only) --------------------------------- */
#define SQS_KEY_MSG_LEN 25 /* DB_T_QMSG: qid(16) seq(8) part(1) */
#define SQS_KEY_VIS_LEN 33 /* DB_T_QVIS: qid(16) kind(1) vis_ms(8) seq(8) */

static inline void sqs_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline uint32_t sqs_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void sqs_put_u16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline size_t sqs_get_u16(const uint8_t *p) { return (size_t)p[0] << 8 | p[1]; }

/* The per-queue state record (seq 0). */
typedef struct sqs_qstate {
	uint64_t next_seq, n_msgs;
	int64_t last_sent_ms;
} sqs_qstate;

/* A message header (seq >= 1, part 0). */
typedef struct sqs_hdr {
	uint8_t kind;     /* 0 never received, 1 received */
	uint32_t rcount;
	int64_t sent_ms, vis_ms, first_ms, last_ms;
	char msg_id[37];
} sqs_hdr;

void sqs_key_msg(uint8_t k[SQS_KEY_MSG_LEN], const uint8_t qid[16], uint64_t seq, uint8_t part);
void sqs_key_vis(uint8_t k[SQS_KEY_VIS_LEN], const uint8_t qid[16], uint8_t kind, int64_t t, uint64_t seq);
/* The smallest key greater than k (same length). */
void sqs_key_succ(uint8_t *k, size_t len);
/* Loads the state of qid (defaults when absent). */
bb_err sqs_state_load(MDB_txn *txn, MDB_dbi dbi, const uint8_t qid[16], sqs_qstate *st);
bool sqs_hdr_parse(const MDB_val *v, sqs_hdr *h);
/* Deletes key (absent is fine). */
bb_err sqs_del_key(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t len);
/* Deletes message seq: its index entry, header and body (the caller adjusts n_msgs). */
bb_err sqs_msg_remove(MDB_txn *txn, MDB_dbi mdbi, MDB_dbi vdbi, const uint8_t qid[16], uint64_t seq, const sqs_hdr *h);
/* Subtracts removed from n_msgs of qid. */
bb_err sqs_count_adjust(MDB_txn *txn, MDB_dbi mdbi, const uint8_t qid[16], uint64_t removed);
/* The first index entry of (qid, kind) at or after from_key (NULL: the first): its time, seq, and key. */
bool sqs_vis_first(MDB_cursor *cur, const uint8_t qid[16], uint8_t kind, const uint8_t *from_key, int64_t *t,
		   uint64_t *seq, uint8_t found_key[SQS_KEY_VIS_LEN]);
/* Body record size / encoding of m with its sender (sqs_rec.c). */
size_t sqs_rec_size(const sqs_msg_in *m, size_t sender_len);
void sqs_rec_write(uint8_t *p, const sqs_msg_in *m, const char *sender, size_t sender_len);

/* ---- waiters and background work (sqs_wait.c, sqs_sweep.c) -------------------------------------- */
typedef struct sqs_waiter sqs_waiter;
/* Registers a long-polling receiver of qid. NULL when the node's waiter bound is reached or the node
 * is stopping (answer RequestThrottled / return empty). Any HTTP thread; end with sqs_wait_end. */
sqs_waiter *sqs_wait_begin(node *n, const uint8_t qid[16]);
/* The queue's notification counter (read before checking for messages, to not miss a send). */
uint64_t sqs_wait_seq(sqs_waiter *w);
/* Blocks until the counter differs from seq, the monotonic deadline (CLOCK_MONOTONIC ns) passes, or
 * the node stops. false when stopping. */
bool sqs_wait_until(sqs_waiter *w, uint64_t seq, int64_t deadline_ns);
void sqs_wait_end(sqs_waiter *w);
/* CLOCK_MONOTONIC in ns (the long-poll clock). */
int64_t sqs_mono_ns(void);

typedef struct sqs_sweeper sqs_sweeper;
/* Starts / stops the sweeper thread (called by sqs_start / sqs_quiesce). */
bb_err sqs_sweep_start(node *n, sqs_sweeper **out);
void sqs_sweep_stop(sqs_sweeper *s);

/* Visits every queue record in snapshot s (all accounts): fn(ctx, account, name, ref). Returns false
 * from fn to stop. */
typedef bool (*sqs_queue_visit_fn)(void *ctx, const sqs_ref *ref);
void sqs_foreach_queue(meta_snap *s, sqs_queue_visit_fn fn, void *ctx);

#endif /* SQS_INT_H */
