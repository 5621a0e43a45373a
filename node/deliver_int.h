/* node/deliver_int.h — private to the delivery engine (deliver.c, deliver_http.c, deliver_write.c).
 *
 * One delivery thread owns everything here: the per-target states, the in-flight jobs, the libcurl
 * multi handle, rate limiters and OAuth tokens. Other threads reach it only through deliver_notify
 * and the store's completion callbacks, which post to its mailbox and wake curl_multi_poll.
 *
 * A job is one attempt of one task (event, rule, target). Its life: dispatched (event read, payload
 * built) → performed (HTTP request, or directly a store write for queue and bus targets) → its
 * outcome written to the store (task deleted, rescheduled, or moved to the DLQ) → the write's
 * completion returns it to the delivery thread, which frees it. Until then the task counts as in
 * flight and is skipped by the scheduler, so an attempt is never started twice at once.
 */
#ifndef DELIVER_INT_H
#define DELIVER_INT_H

#include <curl/curl.h>
#include <sys/socket.h>

#include "node_int.h"

typedef struct tstate tstate;
#define OUTQ_MAX 512 /* outcomes per group write */
typedef struct http_prep http_prep; /* deliver_http.c: a target's request minus the body */
typedef struct hc_conn hc_conn;     /* deliver_hc.c: a connection of the small HTTP client */
struct oauth_tok;

/* An API destination's request, prepared once per target and metadata index (and OAuth token), shared
 * by that target's jobs (refcounted; delivery thread only). */
struct http_prep {
	unsigned refs;
	uint64_t index;        /* metadata index of the records it was built from */
	uint64_t token_gen;    /* generation of the OAuth token in its headers (0: not OAuth) */
	struct oauth_tok *tok; /* OAuth: the connection's token slot */
	int fail;              /* job_outcome: OUT_OK = usable; else every job of this target gets it */
	char fail_code[32], fail_msg[256];
	char *dest_arn, *conn_arn, *url;
	struct curl_slist *hdrs;
	char method[16];
	double rate;           /* InvocationRateLimitPerSecond; 0 = none */
	/* plain http:// to a literal address: deliver_hc.c sends it (else libcurl) */
	char *hc_head;         /* request line and headers, each line ending in CRLF; NULL = libcurl */
	size_t hc_head_len;
	bool hc_body;          /* the method carries a body */
	bool wait_token;       /* OAuth token being fetched (conn_token.c): jobs wait, spending no attempt */
	struct sockaddr_storage hc_addr;
	socklen_t hc_alen;
};

static inline unsigned bb_max_u(unsigned a, unsigned b) { return a > b ? a : b; }

/* The body of one delivery: the event, or what the target's input settings make of it. malloc'd. */
bb_err deliver_payload(const route_target *t, const route_rule *rr, const ev_record *rec, char **out, size_t *len);

typedef enum job_outcome {
	OUT_OK = 0,   /* delivered: delete the task */
	OUT_RETRY,    /* retryable failure: reschedule (or exhaust) */
	OUT_FATAL,    /* non-retryable failure: straight to the DLQ (or dropped) */
	OUT_DROP,     /* rule/target gone: delete the task, count */
} job_outcome;

typedef struct job {
	deliver *d;
	struct job *next;          /* mailbox link */
	struct job *tnext, *tprev; /* running transfers (deliver->transfers) */
	tstate *ts;
	uint8_t tkey[TASK_KEY_MAX];
	size_t tkey_len;
	uint64_t seq;
	ev_task task;
	int64_t started_ns;
	/* copied from the routing table at dispatch (the table may change meanwhile) */
	char rule_arn[600], target_arn[1700], dlq_arn[1700];
	long long max_retries, max_age_s;
	rule_metrics *rm;
	target_metrics *tm;
	tgt_kind kind;
	char *payload;
	size_t payload_len;
	/* HTTP */
	CURL *easy;
	hc_conn *hc;               /* or the small client's connection carrying it */
	/* a fresh first attempt (deliver_fresh.c): its index write's cell, and a reference on it */
	void *fresh_ix;
	_Atomic uint8_t *fresh_cell;
	bool cancelled;            /* its task was never put: no outcome write, no backlog count */
	int64_t delivered_ms;      /* when the target answered 2xx (HTTP); 0 = at the outcome's commit */
	http_prep *prep;           /* the request's URL and headers (a reference) */
	bool waits_token;          /* not started: its OAuth token is being fetched (not a throttle) */
	char conn_arn[1700];
	/* outcome */
	job_outcome outcome;
	char err_code[32];
	char err_msg[256];
	const char *exhausted;     /* "MaximumRetryAttempts" / "MaximumEventAgeInSeconds" / NULL */
	int64_t next_due_ms;       /* OUT_RETRY */
	int act;                   /* deliver_write.c's decided action */
	bool rescheduled;          /* the task stays (with a later due time) */
	bb_err write_err;
	/* bus targets: the forwarded entry */
	ev_entry fwd;
	const route_target **fwd_targets;
	route_table *fwd_rt;       /* keeps fwd_targets alive until the write is done */
	ev_append fwd_app;         /* its log append */
	/* queue targets / DLQ */
	void *queue_ref;           /* sqs_ref, malloc'd */
	db_write w;
} job;

/* Seqs of a target's jobs not yet retired (open addressing, linear probing, backward-shift delete). */
#define SEQSET_CAP 4096 /* > per-target attempts + pending outcome writes (bounded below it) */
typedef struct seqset {
	uint64_t *slot; /* 0 = empty (seqs start at 1) */
	unsigned n;
} seqset;

struct tstate {
	tstate *hnext;
	char *key;
	size_t key_len;
	unsigned inflight;         /* attempts running (HTTP transfers, or queue/bus writes) */
	unsigned pending;          /* jobs not yet retired (attempts + outcome writes in the store queue) */
	seqset seqs;               /* their seqs: the scheduler skips these tasks */
	int64_t next_due_ms;       /* 0 = look now; INT64_MAX = nothing pending known */
	http_prep *prep;           /* API destinations: the prepared request (deliver_http.c) */
	/* first attempts posted at log commit (deliver_fresh.c): a ring, and the seq range it owns */
	fresh_item *fresh;
	size_t fresh_head, fresh_n, fresh_cap;
	uint64_t fresh_epoch, fresh_closed, fresh_lo, fresh_hi;
	sqs_ref *qref;             /* queue targets: the resolved queue, for metadata index qref_index */
	uint64_t qref_index;
	bool qref_missing;         /* the queue did not exist at qref_index */
};

struct deliver {
	node *n;
	pthread_t thread;
	CURLM *multi;
	_Atomic bool stopping;
	/* mailbox (any thread → delivery thread) */
	pthread_mutex_t mu;
	job *done_head;            /* jobs whose outcome write completed */
	char **dirty;              /* target keys with new tasks */
	size_t n_dirty, cap_dirty;
	bool rescan;               /* too many notifications: rescan every target */
	struct fresh_post *fresh_head, *fresh_tail; /* posted first attempts (deliver_fresh.c) */
	size_t fresh_total;        /* items posted and not yet popped (mailbox and rings) */
	bool fresh_suspended;      /* over the bound: no posting until everything is drained */
	uint64_t fresh_epoch;
	/* delivery thread only */
	tstate **tab;              /* hash table of targets */
	size_t tab_cap, n_ts;
	unsigned inflight;
	unsigned pending;
	pat_scratch *scratch;
	struct ratelim *limits;
	struct oauth_tok *tokens;
	struct dest_cache *dcache;
	job *transfers;            /* jobs whose HTTP transfer runs in the multi handle */
	CURL **easy_pool;          /* idle easy handles for reuse (at most EASY_POOL_MAX) */
	size_t n_easy;
	struct hc_state *hc;       /* the small HTTP client's pools and connections (deliver_hc.c) */
	job *outq[OUTQ_MAX];       /* outcomes decided in this loop, written together by write_flush */
	size_t n_outq;
};

/* deliver.c: the state of target key (created if asked). */
tstate *deliver_ts_get(deliver *d, const char *key, size_t len, bool create);

/* deliver_fresh.c (delivery thread): move posted first attempts onto their targets; the head of a
 * target's list, dropping it; whether a task the store scan found belongs to the fresh list. */
void deliver_fresh_drain(deliver *d);
const fresh_item *deliver_fresh_head(const tstate *ts);
void deliver_fresh_pop(deliver *d, tstate *ts);
bool deliver_fresh_owns(const tstate *ts, uint64_t seq, const MDB_val *v);
void deliver_fresh_free(deliver *d);
void deliver_fresh_ring_free(tstate *ts);

/* deliver_http.c */
/* Prepares the HTTP request of an API-destination job (URL, method, headers, auth, body) and adds it
 * to the multi handle. Returns 0, or -1 with the job's outcome set (missing destination, ...). *wait_ms
 * > 0 means the destination's rate limit has no token now: try again after that many ms. */
int http_start_job(deliver *d, job *j, const route_target *t, meta_snap *s, int64_t now_ms, int64_t *wait_ms);
/* Classifies a finished transfer into the job's outcome. */
void http_finish_job(deliver *d, job *j, CURLcode rc);
/* The same from an HTTP status (err 0) or a transport error (HC_ERR_*, with why). */
enum { HC_ERR_CONNECT = 1, HC_ERR_RECV, HC_ERR_TIMEOUT };
void http_outcome(deliver *d, job *j, int status, int err, const char *why);

/* deliver_hc.c: the small client (see there). hc_parse_url accepts http:// URLs to a literal address
 * (or localhost): its address, "host[:port]" for the Host header, and the path (with the query).
 * hc_start sends j's request (j->prep has hc_head) on a pooled or new connection: 0, or -1 (no
 * socket). Its end calls http_outcome and hc_job_ended. hc_waitfds/hc_service plug into the loop's
 * curl_multi_poll; hc_abandon drops a job's connection (stop); hc_free closes everything. */
bool hc_parse_url(const char *url, struct sockaddr_storage *addr, socklen_t *alen, char *host, size_t host_cap,
		  const char **path);
int hc_start(deliver *d, job *j, int64_t now_ns);
size_t hc_waitfds(deliver *d, struct curl_waitfd **out);
void hc_service(deliver *d, struct curl_waitfd *fds, size_t n, int64_t now_ns);
int64_t hc_next_deadline_ns(deliver *d);
void hc_abandon(deliver *d, job *j);
void hc_free(deliver *d);
/* For tests: feeds an answer to the parser step bytes at a time. 1 complete, 0 incomplete, 2
 * complete when the server closes, -1 malformed; the status and whether the connection is reusable. */
int hc_test_parse(const char *bytes, size_t len, size_t step, bool head, int *status, bool *keep_alive);
/* deliver.c: a transfer of j ended (outcome set): free its slot and write the outcome. */
void hc_job_ended(deliver *d, job *j);
void http_cleanup_job(job *j);
void http_state_free(deliver *d);
void http_prep_release(http_prep *p);
/* Returns an easy handle to the pool (reset) or frees it. */
void http_easy_put(deliver *d, CURL *e);

/* deliver_write.c */
/* Decides j's outcome and queues the store write that records it (or, for queue and bus targets,
 * performs the delivery itself); write_flush submits what was queued as one write. Its completion
 * posts the jobs back to the mailbox. Delivery thread. */
void write_outcome(deliver *d, job *j);
void write_flush(deliver *d);
/* Queue and bus targets: resolve and prepare; -1 with the outcome set when impossible. */
int queue_prepare(deliver *d, job *j, const route_target *t, meta_snap *s);
int bus_prepare(deliver *d, job *j, const route_target *t, const ev_record *rec);
void job_post_done(deliver *d, job *j);
void job_post_done_many(deliver *d, job *const *jobs, size_t n);
int64_t backoff_ms(node *n, uint32_t attempt);

#endif /* DELIVER_INT_H */
