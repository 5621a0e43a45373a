/* bench/bench_net.h — private header of the data-plane benchmarks (ingest, e2e, backlog): a minimal
 * HTTP/1.1 client on raw sockets with SigV4-signed AWS JSON calls, a log-bucket latency histogram, an
 * error tally, the load generator that publishes PutEvents, the delivery tracker used by the HTTP sink
 * and the queue reader, and starting/stopping a throwaway `busbar dev` node.
 *
 * Design: everything here is bounded — response buffers have a maximum, histograms are fixed arrays,
 * the error tally keeps at most BENCH_ERR_KINDS names — so a long run never grows memory. Each object
 * is owned by one thread (a client, the sink, a queue reader) and merged by the main thread after that
 * thread was joined; the only shared mutable state is the tracker's atomics.
 * Implementations: bench_http.c (endpoint, connection, signing), bench_stats.c (histogram, tally,
 * options), bench_load.c (publisher), bench_track.c (tracker), bench_sink.c (HTTP sink), bench_queue.c
 * (queue readers), bench_node.c (node process, shared target options).
 */
#ifndef BENCH_NET_H
#define BENCH_NET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/types.h>

/* ---- endpoint and credentials ---------------------------------------------------------------- */

typedef struct bench_endpoint {
	char host[256];          /* host name or address, without brackets */
	char hostport[300];      /* the Host header value ("127.0.0.1:4010") */
	char url[320];           /* "http://" + hostport */
	struct sockaddr_storage addr;
	socklen_t addrlen;
} bench_endpoint;

/* Parses "http://host:port[/]" or "host:port" (port defaults to 80 with http://) and resolves it.
 * Returns 0, or -1 with a message in err[cap]. https is refused (this client speaks plain TCP). */
int bench_endpoint_parse(const char *url, bench_endpoint *ep, char *err, size_t cap);

/* The signing identity: access key, secret, region (the dev defaults are test/test/us-east-1). */
typedef struct bench_creds {
	const char *access_key, *secret, *region;
} bench_creds;

extern const bench_creds bench_dev_creds;

/* ---- HTTP/1.1 client connection ---------------------------------------------------------------- */

#define BENCH_HTTP_MAX_RESPONSE (8u << 20) /* larger answers are a protocol error */

/* Transport outcome of one exchange (0 = a complete response was read). */
typedef enum bench_net_err {
	BENCH_NET_OK = 0,
	BENCH_NET_CONNECT, /* connect(2) failed */
	BENCH_NET_IO,      /* send/recv failed or the peer closed mid-exchange */
	BENCH_NET_TIMEOUT, /* no complete response within the connection's timeout */
	BENCH_NET_PROTO,   /* malformed or oversized response */
} bench_net_err;

/* A short name for e ("connect_error", "io_error", "timeout", "bad_response"). */
const char *bench_net_errname(bench_net_err e);

/* One persistent client connection. Owned by one thread. */
typedef struct bench_conn {
	const bench_endpoint *ep; /* borrowed for the connection's life */
	int fd;                   /* -1 when not connected */
	int timeout_ms;           /* per exchange (send + receive) */
	bool reused;              /* at least one exchange completed on this fd */
	char *in;                 /* receive buffer (grows up to BENCH_HTTP_MAX_RESPONSE + head) */
	size_t in_len, in_cap, in_off;
	char *body;               /* de-chunked body (only for chunked responses) */
	size_t body_cap;
} bench_conn;

/* A response; body points into the connection and is valid until its next exchange. */
typedef struct bench_resp {
	int status;
	const char *body;
	size_t body_len;
	char err_type[64]; /* x-amzn-ErrorType up to ':' (AWS error code), or "" */
	bool close;        /* the server asked to close the connection */
} bench_resp;

void bench_conn_init(bench_conn *c, const bench_endpoint *ep, int timeout_ms);
/* Closes the socket and frees the buffers; the struct may be re-initialised afterwards. */
void bench_conn_free(bench_conn *c);
/* Closes the socket (keeps buffers); the next exchange reconnects. */
void bench_conn_close(bench_conn *c);
/* Connects if not connected (TCP_NODELAY). Returns BENCH_NET_OK or BENCH_NET_CONNECT. */
bench_net_err bench_conn_connect(bench_conn *c);
/* Sends head (request line + headers + blank line) and body, reads one response into *r. Connects
 * first if needed. On any error the connection is closed (the next call reconnects). */
bench_net_err bench_conn_exchange(bench_conn *c, const char *head, size_t head_len, const void *body, size_t body_len,
				  bench_resp *r);

/* ---- AWS JSON requests --------------------------------------------------------------------------- */

#define BENCH_HEAD_MAX 2048

/* Writes the head of a signed `POST /` AWS JSON request into out[cap]: Host, X-Amz-Date (from wall_ms),
 * X-Amz-Target (target, e.g. "AWSEvents.PutEvents"), Content-Type (ctype), Content-Length and the SigV4
 * Authorization for service ("events", "sqs") computed over body. Returns the head length, or -1 if
 * signing failed or out is too small. Thread-safe. */
int bench_aws_head(const bench_endpoint *ep, const bench_creds *cr, const char *service, const char *target,
		   const char *ctype, const void *body, size_t body_len, int64_t wall_ms, char *out, size_t cap);

/* One signed call (with one retry on a reused connection that turned out to be closed by the server).
 * op is e.g. "AWSEvents.PutRule" (service events, JSON 1.1) or "AmazonSQS.CreateQueue" (service sqs,
 * JSON 1.0): the prefix chooses service and content type. */
bench_net_err bench_aws_call(bench_conn *c, const bench_creds *cr, const char *op, const char *body, bench_resp *r);

/* Convenience for setup code: calls op with body and, on HTTP 200, returns the parsed JSON answer
 * (a jansson json_t *, caller decrefs). Otherwise returns NULL and writes "<ErrorCode>: <message>" (or
 * the transport error) into err[cap]; if ok_error names the error code, returns an empty object
 * instead (e.g. "ResourceAlreadyExistsException"). */
struct json_t;
struct json_t *bench_aws_json(bench_conn *c, const bench_creds *cr, const char *op, const char *body,
			      const char *ok_error, char *err, size_t cap);

/* Plain GET of path; returns the status (body in *r) or -1 on a transport error. */
int bench_http_get(bench_conn *c, const char *path, bench_resp *r);

/* ---- statistics ---------------------------------------------------------------------------------- */

/* Latency histogram in nanoseconds with log buckets: exact below 32 ns, then 32 sub-buckets per power
 * of two (relative error <= 1/32, ~3 %), up to 2^41 ns (~37 min; larger values land in the last
 * bucket). Fixed size (~9.5 KB); not thread-safe: one owner, merged after. */
#define BENCH_HIST_SUB 32
#define BENCH_HIST_MAX_EXP 41
#define BENCH_HIST_BUCKETS (BENCH_HIST_SUB + (BENCH_HIST_MAX_EXP - 5) * BENCH_HIST_SUB)

typedef struct bench_hist {
	uint64_t count, max_ns, min_ns;
	double sum_ns;
	uint64_t b[BENCH_HIST_BUCKETS];
} bench_hist;

void bench_hist_init(bench_hist *h);
void bench_hist_add(bench_hist *h, int64_t ns); /* negative values count as 0 */
void bench_hist_merge(bench_hist *into, const bench_hist *from);
/* The q-quantile (0 < q <= 1) in milliseconds: the midpoint of the bucket holding it (exact max for
 * q = 1). 0 if the histogram is empty. */
double bench_hist_ms(const bench_hist *h, double q);

/* Error tally by name (AWS error code, entry ErrorCode, or a transport error name). At most
 * BENCH_ERR_KINDS distinct names; later names count under "other". One owner; merged after. */
#define BENCH_ERR_KINDS 16
typedef struct bench_errs {
	struct {
		char name[48];
		uint64_t n;
	} e[BENCH_ERR_KINDS];
	size_t kinds;
	uint64_t other;
	uint64_t total;
} bench_errs;

void bench_errs_add(bench_errs *t, const char *name, size_t len, uint64_t n);
void bench_errs_merge(bench_errs *into, const bench_errs *from);
/* Writes "Name:n,Name:n" (or "none") into out[cap]. */
void bench_errs_format(const bench_errs *t, char *out, size_t cap);

/* CPU seconds (user + system) this process used so far. */
double bench_self_cpu_s(void);

/* ---- the publisher (bench_load.c) ---------------------------------------------------------------- */

typedef struct bench_load_cfg {
	const bench_endpoint *ep;
	const bench_creds *cr;
	int clients;         /* threads, one keep-alive connection each */
	double seconds;      /* publishing time; requests are started only before it ends */
	double rate;         /* events/s over all clients (open loop); 0 = closed loop */
	int batch;           /* entries per PutEvents (1..10) */
	int event_bytes;     /* approximate Detail size */
	const char *bus;     /* EventBusName, or NULL for the default bus */
	const char *source;  /* Source of every entry */
	bool stamp;          /* Detail carries bench_seq and bench_t_ns (then every request is built and signed
			      * anew; otherwise one body per client, signed once per second) */
	uint64_t max_acked;  /* stop once this many events were acknowledged (0 = no limit) */
	double progress_s;   /* > 0: a progress line on stderr this often */
	int timeout_ms;      /* per request */
} bench_load_cfg;

typedef struct bench_load_result {
	int64_t t0_ns;           /* monotonic time publishing started */
	double elapsed_s;        /* from the start to the last response */
	uint64_t requests;       /* requests answered or failed */
	uint64_t events_sent;    /* entries in requests that were sent */
	uint64_t acked;          /* entries without ErrorCode in HTTP 200 answers */
	uint64_t late;           /* open loop: requests sent more than 1 ms after their slot */
	uint64_t unsent;         /* open loop: slots dropped because the run was BENCH_LOAD_GRACE_S past its end */
	uint64_t max_seq;        /* stamp: one past the largest bench_seq used */
	bench_hist lat;          /* per request answered with HTTP 200: answer time - intended send time (closed
				  * loop: actual send time) */
	bench_errs errs;         /* per failed request (AWS code / transport) and per failed entry (ErrorCode) */
	double cpu_s;            /* this process's CPU time during the run */
} bench_load_result;

#define BENCH_LOAD_GRACE_S 5 /* open loop: a client this far behind its schedule after the end stops */

/* Upper bound of the bench_seq values a stamped run with cfg can use (for sizing trackers); 0 if it
 * cannot be bounded (closed loop). */
uint64_t bench_load_max_seq(const bench_load_cfg *cfg);

/* Runs the load: connects every client, then publishes for cfg->seconds. Returns 0, or -1 if no client
 * could connect (message on stderr). Thread: the caller's; starts and joins cfg->clients threads. */
int bench_load_run(const bench_load_cfg *cfg, bench_load_result *out);

/* ---- delivery tracking (bench_track.c, bench_sink.c, bench_queue.c) ------------------------------ */

/* Shared by the threads that receive one kind of delivery. A delivery is a body holding bench_seq and
 * bench_t_ns (raw or JSON-escaped); the first sighting of a seq counts as delivered, later ones as
 * duplicates (seqs beyond the bitmap are counted without the duplicate check). */
typedef struct bench_track {
	_Atomic uint64_t *seen; /* bitmap of nbits */
	uint64_t nbits;
	_Atomic uint64_t delivered, duplicates, unchecked, foreign;
	_Atomic int64_t last_ns; /* monotonic time of the last first-sighting */
} bench_track;

int bench_track_init(bench_track *t, uint64_t nbits);
void bench_track_free(bench_track *t);
/* Records one delivered body at monotonic time now_ns; latency goes into h (the calling thread's). */
void bench_track_record(bench_track *t, bench_hist *h, const char *body, size_t len, int64_t now_ns);

/* The in-process HTTP sink: one epoll thread, keep-alive, answers 200 "{}" to every request (and
 * 100 Continue when asked), records each request body with the tracker. */
typedef struct bench_sink bench_sink;
/* Listens on host:port (port 0 = any); the chosen port is in *port_out. Borrows t until stopped. */
int bench_sink_start(const char *host, int port, bench_track *t, bench_sink **out, int *port_out);
/* Stops the thread, merges its histogram into h, frees everything. */
void bench_sink_stop(bench_sink *s, bench_hist *h, uint64_t *requests);

/* Queue readers (bench_queue.c): n receiver threads doing AmazonSQS.ReceiveMessage (long poll) on
 * queue_url, recording each message body with the tracker, and n deleter threads sending
 * DeleteMessageBatch for what was received. Copies queue_url; borrows ep, cr, t until stopped. */
typedef struct bench_qreader bench_qreader;
int bench_qreader_start(const bench_endpoint *ep, const bench_creds *cr, const char *queue_url, int n,
			bench_track *t, bench_qreader **out);
/* Stops (each thread finishes its current long poll), merges histograms and errors, frees. */
void bench_qreader_stop(bench_qreader *q, bench_hist *h, bench_errs *errs);

/* ---- a throwaway node (bench_node.c) ------------------------------------------------------------ */

typedef struct bench_node {
	pid_t pid;
	char dir[256];       /* temporary directory (data dir + node.log), removed by stop */
	char endpoint[64];   /* "http://127.0.0.1:<port>" */
} bench_node;

/* The busbar binary next to this executable (build dir), or the --busbar override. */
const char *bench_default_busbar(void);

/* Starts `busbar dev` on a fresh temporary data dir and free loopback ports, with extra args (may be
 * NULL/0), and waits until GET /ready answers 200 (30 s). Returns 0, or -1 (message on stderr; the
 * node is stopped and its directory kept for inspection). */
int bench_node_start(const char *busbar, char **extra, int n_extra, bench_node *n);
/* SIGTERM, wait (30 s, then SIGKILL), remove the directory. */
void bench_node_stop(bench_node *n);

/* Reads VmRSS, RssAnon, RssFile, VmHWM (KiB) of pid from /proc; -1 where unavailable. */
typedef struct bench_rss {
	long vm_rss_kb, rss_anon_kb, rss_file_kb, vm_hwm_kb;
} bench_rss;
int bench_proc_rss(pid_t pid, bench_rss *r);
/* CPU seconds (utime + stime) of pid from /proc/<pid>/stat, or -1. */
double bench_proc_cpu_s(pid_t pid);
/* A currently free TCP port on 127.0.0.1 (bound then closed), or -1. */
int bench_free_port(void);

/* ---- options every data-plane mode takes (bench_node.c) ----------------------------------------- */

#define BENCH_MAX_NODE_ARGS 32

/* --endpoint URL, --start-node, --busbar PATH, --node-arg ARG (repeatable), --access-key, --secret-key,
 * --region, --timeout-ms. */
typedef struct bench_target {
	const char *endpoint; /* default http://127.0.0.1:4010 */
	bool start_node;
	const char *busbar;
	char *node_args[BENCH_MAX_NODE_ARGS];
	int n_node_args;
	bench_creds cr;
	int timeout_ms;
	/* set by bench_target_open */
	bench_node node; /* pid > 0 when started here */
	bench_endpoint ep;
} bench_target;

#define BENCH_TARGET_HELP                                                                                  \
	"  --endpoint URL      node to drive (default http://127.0.0.1:4010)\n"                                \
	"  --start-node        start a fresh build/busbar on a temporary dir instead, stop it after\n"         \
	"  --busbar PATH       binary for --start-node (default: busbar next to busbar-bench)\n"               \
	"  --node-arg ARG      extra argument for the started node (repeatable), e.g. --node-arg=--store-no-sync\n" \
	"  --access-key K --secret-key S --region R   signing identity (default test/test/us-east-1)\n"         \
	"  --timeout-ms N      per-request timeout (default 30000)\n"

/* Set by SIGINT/SIGTERM once bench_target_open ran: the publisher stops early and the mode goes on
 * to print what it has and to clean up (stop the node it started, remove what it created). */
extern volatile sig_atomic_t bench_interrupted;

void bench_target_defaults(bench_target *t);
/* Consumes argv[*i] (and its value) if it is one of the options above; returns true if it was. */
bool bench_target_opt(bench_target *t, int argc, char **argv, int *i);
/* Installs the SIGINT/SIGTERM handler, starts the node if asked and resolves the endpoint. Returns 0
 * or -1 (message on stderr). */
int bench_target_open(bench_target *t);
/* Stops a node started by bench_target_open. */
void bench_target_close(bench_target *t);

/* ---- option parsing helpers --------------------------------------------------------------------- */

/* If argv[*i] is name (or name=value), sets *val to the value (consuming the next argument when needed)
 * and returns true. Exits with status 2 on a missing value. */
bool bench_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* Parses a number or exits with status 2 naming the option. */
double bench_num(const char *name, const char *s, double min, double max);

#endif /* BENCH_NET_H */
