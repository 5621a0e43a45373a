/* node/node_int.h — private declarations shared by the files of node/ (not a public header).
 *
 * Request path: http.c (libmicrohttpd, a few epoll threads) collects a bounded body and calls
 * api_handle_async() (PutEvents) or, on a worker thread (http_work.c), api_handle(); api.c
 * authenticates (policy/), finds the operation in its table and runs the handler; handlers read an immutable metadata snapshot (raft/) and, for writes, build a
 * transaction of compare-and-set ops that api_write() submits through raft, retrying on conflict.
 * Records are stored as compact JSON objects under the keys built by store.c.
 */
#ifndef NODE_INT_H
#define NODE_INT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../policy/pol.h"
#include "../raft/meta.h"
#include "node.h"
#include "db/db.h"
#include "seglog/seglog.h"
#include "pattern/pat.h"

struct MHD_Daemon;
typedef struct metrics metrics;
typedef struct route route;
typedef struct evlog evlog;
typedef struct http_work http_work;
typedef struct deliver deliver;
typedef struct conn_tokens conn_tokens;
struct sqs_state;

struct node {
	node_config cfg;       /* strings below are owned copies */
	char *data_dir, *listen, *raft_listen, *region, *account, *access_key, *secret_key;
	const bb_clock *clock;
	meta_node *meta;
	db *db;                /* node-local store: bus logs, deliveries, queues */
	metrics *metrics;      /* counters for /metrics (metrics.c) */
	route *route;          /* compiled routing tables, rebuilt on metadata change (route.c) */
	evlog *evlog;          /* bus log state: sequence numbers, retention (evlog.c) */
	deliver *deliver;      /* delivery engine (deliver.c) */
	deliver *deliver_dead; /* stopped engine, freed after the store closed */
	conn_tokens *tokens;   /* OAuth tokens, fetched on their own thread (conn_token.c) */
	struct MHD_Daemon *mhd;
	unsigned port;
	_Atomic unsigned inflight;
	_Atomic unsigned http_pending; /* requests suspended while they run elsewhere (http.c) */
	_Atomic bool http_draining;    /* stopping: new requests are refused */
	http_work *work;               /* blocking requests (http_work.c) */
	struct sqs_state *sqs; /* built-in queues: long-poll waiters, sweeper (sqs_wait.c) */
};

/* ---- one API call ------------------------------------------------------------------------- */
typedef struct api_call {
	node *n;
	const char *op;        /* operation name, e.g. "PutRule" */
	json_t *in;            /* request body (a JSON object), owned; NULL for raw-body operations */
	const char *body;      /* the raw request body (borrowed for the call) and its length */
	size_t body_len;
	json_t *out;           /* response body on success, owned */
	char *out_raw;         /* or the response body as JSON text (malloc'd, owned), preferred over out */
	pol_identity who;      /* verified caller */
	char request_id[37];
	int status;            /* HTTP status of an error */
	char err_type[64];     /* AWS error code; empty on success */
	meta_snap *snap;       /* read snapshot, acquired by api_snap() and released by the dispatcher */
	char err_msg[32768];   /* last: api_call_init clears only its first byte */
} api_call;

/* Parses c->body as the operation's JSON object into c->in with AWS's SerializationException for
 * bad JSON (what the dispatcher does for every operation but the raw-body ones). 0 or -1. */
int api_parse_body(api_call *c);

/* Sets the call's error (first one wins) and returns -1 so handlers can `return api_error(...)`. */
int api_error(api_call *c, int status, const char *type, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The current snapshot for this call (acquired on first use). */
meta_snap *api_snap(api_call *c);
/* Current wall time in seconds with millisecond precision (for CreationTime etc.). */
double api_now_s(api_call *c);

/* A transaction under construction: ops with owned key/value buffers. */
#define TXN_MAX_OPS 64
typedef struct txn {
	meta_op ops[TXN_MAX_OPS];
	char *owned[2 * TXN_MAX_OPS];
	size_t n_ops, n_owned;
	bool overflow;
} txn;

/* Adds a PUT of json (dumped compact; json is borrowed) / DEL / CHECK / DEL_PREFIX. */
void txn_put(txn *t, const char *key, json_t *val, int64_t expect);
void txn_del(txn *t, const char *key, int64_t expect);
void txn_check(txn *t, const char *key, int64_t expect);
void txn_del_prefix(txn *t, const char *prefix);
void txn_reset(txn *t);

/* Plans a write against c->snap: validates, fills t, and may set c->out. Returns 0, or -1 after
 * api_error (then nothing is written). */
typedef int (*api_plan_fn)(api_call *c, txn *t, void *arg);
/* Runs plan against a fresh snapshot, submits the transaction through raft, and retries from a new
 * snapshot when a precondition failed (a concurrent writer). When plan leaves t empty nothing is
 * submitted. Returns 0 on success (the write is visible to reads on this node), -1 with the error
 * set (ThrottlingException when raft's queue is full, ConcurrentModificationException after too many
 * conflicts, InternalException on I/O failures). */
int api_write(api_call *c, api_plan_fn plan, void *arg);

/* Entry from http.c: handles one request and fills the response. body is borrowed. Returns the HTTP
 * status; *resp_body is malloc'd JSON text the caller frees; *content_type is static. */
typedef struct api_request {
	const char *method, *path, *query, *target; /* target = X-Amz-Target or NULL */
	const pol_header *headers;
	size_t n_headers;
	const uint8_t *body;
	size_t body_len;
} api_request;
/* An answer, for calls that complete away from the HTTP thread. */
typedef struct api_resp {
	int status;
	char *body;                /* malloc'd; the receiver frees it */
	const char *ctype;         /* static */
	char request_id[37];
	char err_type[64];         /* x-amzn-ErrorType, "" for none */
	char query_error[128];     /* x-amzn-query-error, "" for none */
} api_resp;
/* Whether rq is answered by api_handle_async (PutEvents) rather than the blocking api_handle. */
bool api_is_async(const api_request *rq);
/* Handles rq (one api_is_async accepts) without blocking: returns true when done(arg, resp) will
 * deliver the answer later from another thread (resp borrowed for that call; rq borrowed until then),
 * or false with *resp filled now. */
bool api_handle_async(node *n, const api_request *rq, api_resp *resp, void (*done)(void *arg, api_resp *resp),
		      void *arg);
/* The AWS JSON error body {"__type": type, "message": msg}; malloc'd (NULL only if out of memory). */
char *api_error_body(const char *type, const char *msg);
/* *query_error is the x-amzn-query-error header value to send ("<LegacyCode>;Sender"), or NULL. */
int api_handle(node *n, const api_request *rq, char **resp_body, const char **content_type, char request_id[37],
	       const char **err_type, const char **query_error);
/* Verifies rq's SigV4 signature for service ("events", "sqs") and fills c->who. Returns 0, or -1 with
 * the AWS authentication error set. */
int api_authenticate(api_call *c, const api_request *rq, const char *service);

/* ---- operation handlers (op_*.c) ---------------------------------------------------------- */
typedef int (*api_op_fn)(api_call *c);
int op_create_event_bus(api_call *c);
int op_describe_event_bus(api_call *c);
int op_list_event_buses(api_call *c);
int op_update_event_bus(api_call *c);
int op_delete_event_bus(api_call *c);
int op_put_rule(api_call *c);
int op_describe_rule(api_call *c);
int op_list_rules(api_call *c);
int op_delete_rule(api_call *c);
int op_enable_rule(api_call *c);
int op_disable_rule(api_call *c);
int op_put_targets(api_call *c);
int op_remove_targets(api_call *c);
int op_list_targets_by_rule(api_call *c);
int op_list_rule_names_by_target(api_call *c);
int op_tag_resource(api_call *c);
int op_untag_resource(api_call *c);
int op_list_tags_for_resource(api_call *c);
int op_test_event_pattern(api_call *c);
int op_put_events(api_call *c);
/* PutEvents without blocking (http.c): returns 1 when the answer comes later — done(arg, rc) runs on
 * the store writer with c filled as op_put_events would leave it (rc 0, or -1 with the error) — else
 * the op_put_events result now (done is not called). c is borrowed until done. */
typedef struct pe_call pe_call;
int op_put_events_async(api_call *c, void (*done)(void *arg, int rc), void *arg);
int op_create_connection(api_call *c);
int op_describe_connection(api_call *c);
int op_update_connection(api_call *c);
int op_delete_connection(api_call *c);
int op_list_connections(api_call *c);
int op_deauthorize_connection(api_call *c);
int op_create_api_destination(api_call *c);
int op_describe_api_destination(api_call *c);
int op_update_api_destination(api_call *c);
int op_delete_api_destination(api_call *c);
int op_list_api_destinations(api_call *c);

/* ---- JSON access with AWS-shaped errors (jv.c) -------------------------------------------- */
/* Each reads member key of obj. Absent or null → *present=false (or *out=NULL), returns 0. Present
 * with the wrong JSON type → SerializationException, returns -1. */
int jv_str(api_call *c, json_t *obj, const char *key, const char **out);
int jv_int(api_call *c, json_t *obj, const char *key, bool *present, long long *out);
int jv_bool(api_call *c, json_t *obj, const char *key, bool *present, bool *out);
int jv_arr(api_call *c, json_t *obj, const char *key, json_t **out);
int jv_obj(api_call *c, json_t *obj, const char *key, json_t **out);

/* Collects Coral-style constraint violations: "N validation error(s) detected: Value '<v>' at
 * '<path>' failed to satisfy constraint: Member must ...; ...". */
typedef struct vcheck {
	int count;
	bool redact;           /* set by v_secret while it checks a sensitive member */
	size_t len;
	char msg[32768];
} vcheck;
void v_init(vcheck *v);
/* Adds one violation. value NULL prints `Value null`. */
void v_add(vcheck *v, const char *value, const char *path, const char *constraint_fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* String member checks. regex is the pattern text shown in the message, ok() the matcher (NULL: no
 * pattern). Returns true when s is valid (or absent and not required). */
bool v_string(vcheck *v, const char *path, const char *s, bool required, size_t min, size_t max, const char *regex,
	      bool (*ok)(const char *s));
/* v_string for a sensitive member (passwords, keys, client secrets): violations name the member but
 * never echo its value. */
bool v_secret(vcheck *v, const char *path, const char *s, bool required, size_t min, size_t max);
void v_int_range(vcheck *v, const char *path, bool present, long long val, long long min, long long max);
void v_list_len(vcheck *v, const char *path, json_t *arr, bool required, size_t min, size_t max);
void v_enum(vcheck *v, const char *path, const char *s, const char *const *values, const char *shown);
/* If any violation was collected sets ValidationException and returns -1, else 0. */
int v_finish(api_call *c, vcheck *v);

/* Character-class checks for AWS's name regexes. */
bool name_ok(const char *s);          /* [\.\-_A-Za-z0-9]+ */
bool bus_name_ok(const char *s);      /* [/\.\-_A-Za-z0-9]+ */
bool bus_name_or_arn_ok(const char *s); /* (arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+ */
bool kms_key_ok(const char *s);           /* ^[a-zA-Z0-9_\-/:]*$ */
bool event_source_name_ok(const char *s); /* aws\.partner(/[\.\-_A-Za-z0-9]+){2,} */
/* rate(N unit) (singular unit for 1) or cron(six fields). */
bool schedule_expression_ok(const char *s);

#define RE_NAME "[\\.\\-_A-Za-z0-9]+"
#define RE_BUS "[/\\.\\-_A-Za-z0-9]+"
#define RE_BUS_OR_ARN "(arn:aws[\\w-]*:events:[a-z]+-[a-z]+-[\\w-]+:[0-9]{12}:event-bus\\/)?[/\\.\\-_A-Za-z0-9]+"

/* ---- keys and records (store.c) ----------------------------------------------------------- */
#define KEY_MAX 1024
/* "a/<acct>" account, "k/<akid>" access key, "b/<acct>/<bus>" bus, "r/<acct>/<bus>|<rule>" rule
 * (targets and tags live inside the rule / bus records), "c/", "d/", "q/" connections, API
 * destinations, queues (see store.c). '|' cannot occur in bus names. */
void key_account(char *k, const char *acct);
void key_access(char *k, const char *akid);
void key_bus(char *k, const char *acct, const char *bus);
void key_bus_prefix(char *k, const char *acct);
void key_rule(char *k, const char *acct, const char *bus, const char *rule);
void key_rule_prefix(char *k, const char *acct, const char *bus);
void key_queue(char *k, const char *acct, const char *name);
void key_queue_prefix(char *k, const char *acct);

/* Loads the record at key from s: a new json_t reference (caller decrefs), or NULL if absent (or
 * corrupt, which is logged). *version gets its version (0 if absent). */
json_t *store_get(meta_snap *s, const char *key, uint64_t *version);

/* Resolves an EventBusName member (name or ARN, absent = "default") into the bus name. Returns 0,
 * or -1 with ResourceNotFoundException/ValidationException set. */
int bus_resolve(api_call *c, const char *name_or_arn, char *bus, size_t cap);
/* Splits an EventBusName member: a name (region and account left empty) or
 * "arn:aws:events:<region>:<account>:event-bus/<name>". false for an ARN of another shape. *name
 * points into name_or_arn (or at "default" when it is NULL). */
bool bus_arn_split(const char *name_or_arn, char region[64], char account[16], const char **name);
/* Builds ARNs (the _of forms for code without an api_call: routing, delivery). */
void arn_bus_of(const char *region, const char *account, const char *bus, char *out, size_t cap);
void arn_rule_of(const char *region, const char *account, const char *bus, const char *rule, char *out, size_t cap);
void arn_bus(api_call *c, const char *bus, char *out, size_t cap);
void arn_rule(api_call *c, const char *bus, const char *rule, char *out, size_t cap);

/* Pagination tokens: opaque, stable (they encode the last key returned). */
char *token_make(const char *last);               /* malloc'd */
int token_parse(api_call *c, const char *tok, char *last, size_t cap); /* -1 with ValidationException */

/* ---- HTTP server (http.c, http_work.c) --------------------------------------------------- */
struct sockaddr;
/* Starts serving on addr; sets n->mhd and n->port. BB_EIO if the port cannot be bound. */
bb_err http_start(node *n, const struct sockaddr *addr);
/* Stops the server; in-flight requests finish first. */
void http_stop(node *n);
/* The workers that run blocking requests (everything but PutEvents) off the HTTP threads: threads
 * are started on demand, at most max of them (one per request in flight, which max_inflight bounds),
 * and leave after a while idle. http_work_submit queues fn(arg) (never blocks); BB_ENOMEM when no
 * thread could be started for it. http_work_stop waits for queued work and joins every thread. */
bb_err http_work_start(unsigned max, http_work **out);
bb_err http_work_submit(http_work *w, void (*fn)(void *arg), void *arg);
void http_work_stop(http_work *w);

/* A meta_scan_fn that visits everything (for counting with meta_snap_scan's return value). */
bool scan_count_all(void *ctx, const meta_val *v);
/* Validates a Tags member list into v (op_bus.c). -1 with SerializationException on wrong shapes. */
int tags_validate(api_call *c, vcheck *v, json_t *tags, const char *path);
/* Compiles pattern with the engine (op_pattern.c): 0 with *out owned by the caller, or -1 with
 * InvalidEventPatternException (AWS's reason text). pattern_check only validates. */
int pattern_compile(api_call *c, const char *pattern, pat_rule **out);
int pattern_check(api_call *c, const char *pattern);

/* Rule helpers shared by op_rule.c and op_target.c. rule_load sets ResourceNotFoundException when
 * the rule is absent; rule_request_name reads <member> (the rule name), rule_request_bus the
 * EventBusName member. */
json_t *rule_load(api_call *c, const char *bus, const char *name, uint64_t *ver);
int rule_request_name(api_call *c, vcheck *v, const char *member, const char **name);
int rule_request_bus(api_call *c, vcheck *v, const char **bus_in);
int rule_bus_exists(api_call *c, const char *bus);

/* Lists the records whose keys start with key_prefix + name_prefix (name_prefix may be NULL), in key
 * order, resuming after the position a NextToken names, at most limit items: c->out becomes
 * {items_key: [view(record)...], "NextToken"?}. view returns a new reference, or NULL to skip the
 * record (a filter). Returns 0, or -1 with ValidationException for a bad token. */
typedef json_t *(*page_view_fn)(api_call *c, json_t *rec, void *arg);
int store_page(api_call *c, const char *key_prefix, const char *name_prefix, const char *token, size_t limit,
	       const char *items_key, page_view_fn view, void *arg);

/* ---- metrics (metrics.c) ------------------------------------------------------------------ */
#define HIST_BUCKETS 15
typedef struct histogram {
	_Atomic uint64_t buckets[HIST_BUCKETS + 1]; /* last = +Inf */
	_Atomic uint64_t sum_us;
} histogram;
/* Per rule, named after EventBridge's CloudWatch metrics. */
typedef struct rule_metrics {
	_Atomic uint64_t matched, triggered, invocations, failed, dead_letter, sent_to_dlq, failed_to_dlq, attempts,
		throttled;
} rule_metrics;
typedef struct target_metrics {
	_Atomic uint64_t retries;
	_Atomic int64_t inflight, backlog;
	histogram delivery_latency;
} target_metrics;
typedef struct bus_metrics {
	_Atomic uint64_t put_entries, put_failed;
	histogram ingest_latency;
} bus_metrics;
metrics *metrics_new(void);
void metrics_free(metrics *m);
/* Series handles: stable addresses for the node's lifetime; any thread. */
rule_metrics *metrics_rule(metrics *m, const char *account, const char *bus, const char *rule);
target_metrics *metrics_target(metrics *m, const char *account, const char *bus, const char *rule, const char *target);
bus_metrics *metrics_bus(metrics *m, const char *account, const char *bus);
void hist_observe(histogram *h, double ms);
void metrics_count_unknown_bus(metrics *m, uint64_t n);
void metrics_observe_log_sync(metrics *m, double ms);
void metrics_observe_store_commit(metrics *m, double ms);
void metrics_count_dropped(metrics *m);
/* The Prometheus text exposition; malloc'd, NULL if out of memory. */
char *metrics_render(node *n, size_t *len);
#define M_INC(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)
#define M_ADD(field, v) atomic_fetch_add_explicit(&(field), (v), memory_order_relaxed)

/* ---- routing tables (route.c) -------------------------------------------------------------- */
/* What PutEvents and the delivery engine need of the metadata, compiled: per bus the enabled rules
 * with event patterns as one pattern set, and each rule's targets. A table is immutable once
 * published and refcounted; the router thread rebuilds only the buses whose records changed and
 * publishes a new table after every metadata apply. */
typedef enum tgt_kind { TGT_APIDEST = 1, TGT_QUEUE, TGT_BUS } tgt_kind;
/* What a target ARN delivers to in this region; 0 for a kind Busbar cannot deliver to. */
tgt_kind target_kind(const char *arn, const char *region);
typedef struct route_target {
	char *id, *arn;
	char *key;                 /* task-table key: "<acct>/<bus>|<rule>|<id>" */
	tgt_kind kind;
	json_t *spec;              /* the target as stored (PutTargets shape), owned */
	struct xform *xf;          /* compiled Input/InputPath/InputTransformer; NULL = the event as is */
	long long max_retries;     /* RetryPolicy.MaximumRetryAttempts (default 185) */
	long long max_age_s;       /* RetryPolicy.MaximumEventAgeInSeconds (default 86400) */
	const char *dlq_arn;       /* DeadLetterConfig.Arn (points into spec) or NULL */
	target_metrics *m;
} route_target;
typedef struct route_rule {
	_Atomic int refs;
	char *name, *arn;
	uint64_t version;          /* raft version of the rule record */
	bool active;               /* enabled and has an event pattern */
	uint32_t id;               /* id in its bus's pattern set */
	size_t n_targets;
	route_target *targets;
	rule_metrics *m;
} route_rule;
typedef struct route_bus {
	_Atomic int refs;
	char *account, *name, *key; /* key "<acct>/<bus>" */
	char *arn;
	pat_set *set;
	route_rule **rules;        /* active rules sorted by name */
	size_t n_rules;
	route_rule **by_id;        /* pattern id -> rule (NULL holes) */
	size_t id_cap;
	bus_metrics *m;
} route_bus;
typedef struct route_table {
	_Atomic int refs;
	uint64_t index;            /* metadata index it reflects */
	route_bus **buses;         /* sorted by key */
	size_t n_buses;
} route_table;

bb_err route_start(node *n);
void route_stop(node *n);
/* The current table with a reference; never NULL after route_start. Any thread. */
route_table *route_acquire(node *n);
/* Another reference to t (which the caller holds). */
route_table *route_hold(route_table *t);
void route_release(route_table *t);
const route_bus *route_find_bus(const route_table *t, const char *account, const char *bus);
/* Finds a target by its task-table key; NULL when the bus, rule or target is gone. */
const route_target *route_find_target(const route_table *t, const char *key, const route_rule **rule,
				      const route_bus **bus);
/* Waits until the published table reflects metadata index (so a rule change is effective for the next
 * event after the API call that made it returns). BB_ETIMEDOUT after timeout_ms. */
bb_err route_wait(node *n, uint64_t index, int timeout_ms);

/* ---- bus log (evlog.c; bytes in node/seglog) ---------------------------------------------- */
/* One event to append: the delivered envelope plus the targets it matched (one delivery task each). */
typedef struct ev_entry {
	const char *bus_key;            /* "<acct>/<bus>", borrowed */
	const char *envelope;           /* compact JSON, borrowed */
	size_t len;
	uint8_t hops;                   /* 0 = published here; 1 = forwarded from another bus */
	const route_target **targets;   /* borrowed, n_targets of them */
	size_t n_targets;
	uint64_t seq;                   /* out: its sequence number */
} ev_entry;
/* A stored event, read back. Pointers into owned (free with evlog_record_free) or, for an event of
 * the older format, into the read transaction's pages. */
typedef struct ev_record {
	uint8_t hops;
	int64_t ingest_ms;
	const char *bus_key;
	size_t bus_key_len;
	const char *envelope;
	size_t len;
	void *owned;
} ev_record;
/* Task values: attempts so far, the ingest time (the event's age counts from it) and where the event
 * is in the log (rec_size 0: an older-format task, whose event is in the store's log table). */
typedef struct ev_task {
	uint32_t attempts;
	int64_t ingest_ms;
	uint64_t lsn;
	uint32_t rec_size;
} ev_task;
#define TASK_KEY_MAX 512

/* Opens the bus log (<data-dir>/store/log), indexes records acknowledged but not yet indexed before
 * a crash, and starts retention. After db_open, before deliver_start. */
bb_err evlog_start(node *n);
void evlog_stop(node *n);

/* An append: fill e, n_entries, rt (the routing table the targets belong to; borrowed for the call,
 * a reference is kept as long as needed), done and arg, then evlog_append_submit. done(arg, err) runs
 * on the log's writer once the events are durable (e[i].seq set) or failed; a and e are borrowed
 * until then. Their delivery tasks are then written to the store, off the answer's path, and the
 * delivery engine is told when they are there. extra_apply, if set, runs in that same store write
 * (after the tasks) and extra_done(extra_arg, err) after it: a bus-to-bus forward deletes its own
 * task there. Returns BB_OK, or BB_EBUSY (queues full: throttle), BB_ENOSPC, BB_ENOMEM, BB_ESHUTDOWN —
 * then nothing is called. */
typedef struct ev_append {
	ev_entry *e;
	size_t n_entries;
	route_table *rt;
	void (*done)(void *arg, bb_err err);
	void *arg;
	bb_err (*extra_apply)(db *d, MDB_txn *txn, void *arg);
	void (*extra_done)(void *arg, bb_err err);
	void *extra_arg;
	/* private */
	node *n;
	int64_t now_ms;
	struct seglog_rec *recs;
	struct ix_job *ix;
	struct seglog_append app;
} ev_append;
bb_err evlog_append_submit(node *n, ev_append *a);
/* The same, blocking until durable. Not on a writer thread. */
bb_err evlog_append(node *n, route_table *rt, ev_entry *e, size_t n_entries);
/* Reads event seq, whose task value is t (NULL: an older-format event). BB_ENOTFOUND if it is gone
 * (retention), BB_ECORRUPT, BB_EIO. txn is a read transaction (older-format events only). */
bb_err evlog_read(node *n, MDB_txn *txn, uint64_t seq, const ev_task *t, ev_record *out);
void evlog_record_free(ev_record *r);
/* Task keys: target_key '\0' due_ms(8, big endian) seq(8). Returns the key length (0 if too long). */
size_t task_key(uint8_t *out, const char *target_key, int64_t due_ms, uint64_t seq);
void task_key_parse(const uint8_t *k, size_t len, size_t *prefix_len, int64_t *due_ms, uint64_t *seq);
bb_err task_put(node *n, MDB_txn *txn, const uint8_t *key, size_t klen, const ev_task *t);
/* Encodes a task value into v; returns its length (24, or 16 for an older-format task). */
size_t task_value(uint8_t v[24], const ev_task *t);
/* Decodes a task value (a malformed one reads as zero attempts, ingested at 0: it expires at once). */
void task_decode(const void *val, size_t len, ev_task *t);
/* A PutEvents is being read (+1) / has been submitted or answered (-1): lets the log's group commit
 * wait a moment (300 µs at most) for requests already in the node (seglog_expect). Any thread. */
void evlog_expect(node *n, int delta);
/* For /metrics. */
typedef struct evlog_stats {
	uint64_t bytes, files, appends, batches, sync_ns;
} evlog_stats;
void evlog_get_stats(node *n, evlog_stats *out);

/* ---- delivery engine (deliver*.c) ---------------------------------------------------------- */
bb_err deliver_start(node *n);
void deliver_stop(node *n);
void deliver_free(node *n);
/* A first attempt to make: the task (target, ingest ms, seq) whose event is at lsn (size bytes). */
typedef struct fresh_item {
	uint64_t seq, lsn;
	int64_t ingest_ms;
	uint32_t size;
	void *ix;                 /* a reference on the index write holding cell (evlog_fresh_release) */
	_Atomic uint8_t *cell;    /* evlog_fresh_cancel: the task need not be put any more */
} fresh_item;
/* A fresh first attempt ended for good (delivered, or dropped) before its task was put: returns true
 * if the task will not be put at all (then there is nothing to delete either). Any thread. */
bool evlog_fresh_cancel(_Atomic uint8_t *cell);
/* Returns once the index write holding ix is submitted to the store (or failed to be): a write
 * submitted after this follows it in the store's FIFO order. */
void evlog_fresh_wait(void *ix);
void evlog_fresh_release(void *ix);
/* New first attempts, posted when their events' log commit is done and before their tasks' store
 * write is submitted: the engine starts them without waiting for that commit (deliver_fresh.c).
 * targets[i] goes with items[i]; runs of one target are grouped. Any thread; borrowed for the call.
 * Returns false when none was posted (over the bound): the items' references stay the caller's. */
bool deliver_fresh_post(node *n, const route_target *const *targets, const fresh_item *items, size_t count);
/* New tasks for t were committed: wake the engine. Any thread. */
void deliver_notify(node *n, const route_target *t);
/* The same for count targets at once (one lock, one wake-up); t borrowed for the call. */
void deliver_notify_many(node *n, const route_target *const *t, size_t count);

/* ---- direct JSON output (jout.c) ----------------------------------------------------------- */
/* A growable buffer of JSON text; zero-initialize. Strings are escaped exactly as jansson's compact
 * json_dumps escapes them. jo_finish returns the malloc'd, NUL-terminated text (NULL if an
 * allocation failed) and resets o. */
typedef struct jout {
	char *p;
	size_t len, cap;
	bool oom;
} jout;
void jo_raw(jout *o, const char *s, size_t n);
void jo_lit(jout *o, const char *s);           /* raw text, strlen(s) bytes */
void jo_str(jout *o, const char *s, size_t n); /* a JSON string literal of n bytes */
void jo_cstr(jout *o, const char *s);
char *jo_finish(jout *o);

/* ---- PutEvents request reader (pe_parse.c) ------------------------------------------------- */
#define PE_MAX_ENTRIES 10
#define PE_MAX_RESOURCES 256
/* One entry's members (NULL when absent). Strings are NUL-terminated, borrowed from the pe_parsed
 * arena or from the jansson tree of the general reader. */
typedef struct pe_fields {
	const char *source, *detail_type, *detail, *bus_in, *trace;
	size_t detail_len;
	const char **resources;
	size_t n_resources;
	bool has_time;
	double time_s;
} pe_fields;
typedef struct pe_parsed {
	pe_fields f[PE_MAX_ENTRIES];
	size_t n;
	const char *res[PE_MAX_RESOURCES];
	size_t n_res;
	char *arena;       /* decoded strings (fast reader) or resource pointers (general reader), owned */
} pe_parsed;
enum { PE_PARSED = 0, PE_GENERAL = 1 };
/* Reads a PutEvents body of the ordinary shape (see pe_parse.c) into out: PE_PARSED (1..10
 * entries; free with pe_parsed_free), or PE_GENERAL when the body must go through jansson (nothing
 * to free). body is borrowed for the call; the strings live in out. Any thread. */
int pe_parse_fast(const char *body, size_t len, pe_parsed *out);
void pe_parsed_free(pe_parsed *p);

/* JSON validation + minification (jmin.c): writes at most len bytes to out. */
bool json_minify(const char *in, size_t len, char *out, size_t *out_len, bool object_only);

/* ---- connections and API destinations (op_connection.c, op_apidest.c, conn_auth.c) ---------- */
/* Keys "c/<acct>/<name>" (connection) and "d/<acct>/<name>" (API destination). */
void key_connection(char *k, const char *acct, const char *name);
void key_apidest(char *k, const char *acct, const char *name);
/* The connection or API destination an ARN names (new reference), or NULL if there is none — or only a
 * newer one of the same name. account non-NULL: only that account's (store.c). */
json_t *store_get_by_arn(meta_snap *s, const char *arn, const char *account);
/* Headers ("Name: value", malloc'd array of malloc'd lines) and a query string (malloc'd or NULL) that
 * connection record conn adds to a request; oauth_token for OAUTH_CLIENT_CREDENTIALS. Pure, any
 * thread. BB_EINVAL when the record lacks what its type needs. */
bb_err conn_auth_decorate(const json_t *conn, const char *oauth_token, char ***headers, size_t *n_headers, char **query);
/* Fetches a client-credentials token (blocking; 5 s connect / 10 s total, or until *cancel turns
 * true — cancel may be NULL): BB_OK with *token malloc'd and its expiry, or an error with a reason
 * (no secrets) in err. */
bb_err conn_oauth_fetch(const json_t *conn, int64_t now_ms, const _Atomic bool *cancel, char **token,
			int64_t *expires_ms, char *err, size_t cap);

/* One metadata write outside an API call (node.c): puts key = val (borrowed; written as compact JSON)
 * if the key's version is expect (META_ANY, META_ABSENT or a version), then waits until this node
 * applied it. Blocking (raft round trip, --write-timeout-ms); never on the raft loop thread.
 * BB_ECONFLICT when the precondition failed. */
bb_err node_meta_put(node *n, const char *key, json_t *val, int64_t expect);

/* OAuth tokens (conn_token.c). Any thread; never blocks on the network. */
typedef enum conn_tok_state {
	CONN_TOK_READY,   /* *token (malloc'd copy), *expires_ms and *gen are set */
	CONN_TOK_PENDING, /* a fetch is queued or running: ask again shortly */
	CONN_TOK_FAILED,  /* the last fetch failed (reason in err, no secrets); retried after a backoff */
} conn_tok_state;
/* The token for connection record conn (borrowed) named conn_arn. */
conn_tok_state conn_tokens_get(conn_tokens *t, const char *conn_arn, const json_t *conn, int64_t now_ms, char **token,
			       int64_t *expires_ms, uint64_t *gen, char *err, size_t cap);
/* Forgets the token of generation gen (the endpoint answered 401); a newer one is kept. */
void conn_tokens_drop(conn_tokens *t, const char *conn_arn, uint64_t gen);
/* Starts a fetch for the connection now (after Create/UpdateConnection); t may be NULL. */
void conn_tokens_authorize(conn_tokens *t, const char *conn_arn);
/* Starts the fetch thread (n->tokens) and kicks every connection still AUTHORIZING; stop joins it
 * (a running fetch is cancelled). Start after the metadata, stop before it. */
bb_err conn_tokens_start(node *n);
void conn_tokens_stop(node *n);
/* ---- built-in queues (sqs_*.c; docs/queues.md) ---------------------------------------------- */
/* A resolved queue: identity plus the attributes a writer needs. qid names the queue's current
 * incarnation (a new one on create and on PurgeQueue), so messages of a deleted, recreated or purged
 * queue never show up again. */
typedef struct sqs_ref {
	char account[13];
	char name[81];
	uint8_t qid[16];
	int64_t delay_s;      /* DelaySeconds: applied to every message put by sqs_put_txn */
	int64_t max_bytes;    /* MaximumMessageSize: body + attribute names, types and values */
	int64_t retention_s;  /* MessageRetentionPeriod */
	int64_t visibility_s; /* VisibilityTimeout */
	int64_t wait_s;       /* ReceiveMessageWaitTimeSeconds */
} sqs_ref;

/* Resolves a queue ARN (arn:aws:sqs:<region>:<account>:<name>) against snapshot s (borrowed). Any
 * thread. BB_ENOTFOUND if there is no such queue, the region is not this node's, or the ARN is
 * malformed. */
bb_err sqs_resolve_arn(node *n, meta_snap *s, const char *arn, sqs_ref *out);

typedef struct sqs_attr {
	const char *name, *value; /* a String message attribute; both borrowed for the call */
} sqs_attr;
/* Inside a store write (writer thread, txn from a db_apply_fn): appends one message with String
 * attributes to q (DelaySeconds of q applies), fills msg_id (a uuid). body and attrs are borrowed for
 * the call; attrs need not be sorted, names must be distinct (at most 10). Body and values must be
 * non-empty UTF-8 of SQS's characters (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF, so no
 * other control characters), names [A-Za-z0-9_.-] (not "AWS."/"Amazon."). Errors: BB_ETOOBIG (larger
 * than the queue's MaximumMessageSize), BB_EINVAL (any rule above), BB_ENOSPC / BB_EIO from LMDB. The
 * message is durable when the batch commits; then call sqs_notify. It may also be called right after
 * the put (still on the writer): a woken receive's own store write, applied after this one, sees the
 * message before its commit — for puts whose loss in a failed commit is recovered elsewhere (a
 * delivery task that stays). */
bb_err sqs_put_txn(node *n, MDB_txn *txn, const sqs_ref *q, const char *body, size_t len, const sqs_attr *attrs,
		   size_t n_attrs, int64_t now_ms, char msg_id[37]);
/* After the commit (or, see sqs_put_txn, the apply) that put messages into q: wakes its
 * long-polling receivers; a receiver woken goes straight to its store write. Any thread; O(1).
 * Not after sqs_stop (stop whatever calls it first). */
void sqs_notify(node *n, const sqs_ref *q);
/* For /metrics: visits every queue of this node with its approximate visible / in-flight / delayed
 * counts. Any thread (reads a snapshot and the store); fn must not call back into sqs. */
void sqs_foreach_depth(node *n,
		       void (*fn)(void *ctx, const char *account, const char *name, uint64_t visible,
				  uint64_t inflight, uint64_t delayed),
		       void *ctx);

/* Lifecycle (node.c): sqs_start after the store is open and before HTTP starts; sqs_quiesce before
 * http_stop (wakes long polls so HTTP can drain, stops the sweeper); sqs_stop after http_stop. */
bb_err sqs_start(node *n);
void sqs_quiesce(node *n);
void sqs_stop(node *n);

/* Routing (api.c): SQS_PROTO_JSON for X-Amz-Target AmazonSQS.*, SQS_PROTO_QUERY for a form-encoded
 * or Action= request without a target, else 0. sqs_handle answers it like api_handle. */
int sqs_route(const api_request *rq);
int sqs_handle(node *n, const api_request *rq, int proto, char **resp_body, const char **content_type,
	       char request_id[37], const char **err_type, const char **query_error);

/* ---- misc ----------------------------------------------------------------------------------- */
/* Copies the tag list of rec["Tags"] (or an empty array). New reference. */
json_t *tags_of(json_t *rec);

#endif /* NODE_INT_H */
