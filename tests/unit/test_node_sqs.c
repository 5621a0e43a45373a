/* tests/unit/test_node_sqs.c — the built-in queues below the HTTP layer.
 *
 * Store (node/sqs_store.c) on a real LMDB environment with synthetic times: visibility index and
 * receive order, delays, counts, receipt-count staleness and the 12-hour limit, delete, retention
 * expiry and dropping a queue id in bounded chunks, the queue-id listing, dead-letter moves.
 * MD5 (node/sqs_md5.c) against RFC 1321's vectors and an AWS-recorded attribute digest.
 * The internal API the delivery engine uses (sqs_resolve_arn, sqs_put_txn, sqs_notify,
 * sqs_foreach_depth) on a real one-node node, with requests handed straight to sqs_handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/sqs_int.h"

static char dir[256];

static void fresh_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/bb-sqstest-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_dir(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- MD5 ------------------------------------------------------------------------------------------- */

static void md5_hex(const char *s, char out[33])
{
	uint8_t d[16];
	sqs_md5(s, strlen(s), d);
	sqs_hex(d, 16, out);
}

static void test_md5_vectors(void **state)
{
	(void)state;
	static const char *const v[][2] = {
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"a", "0cc175b9c0f1b6a831c399e269772661"},
		{"abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		 "57edf4a22be3c955ac49da2e2107b67a"},
	};
	char hex[33];
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		md5_hex(v[i][0], hex);
		assert_string_equal(hex, v[i][1]);
	}
	/* incremental updates across block boundaries equal the one-shot digest */
	char buf[300];
	memset(buf, 'x', sizeof buf);
	uint8_t one[16], inc[16];
	sqs_md5(buf, sizeof buf, one);
	sqs_md5_ctx x;
	sqs_md5_init(&x);
	for (size_t i = 0; i < sizeof buf; i += 7)
		sqs_md5_update(&x, buf + i, sizeof buf - i < 7 ? sizeof buf - i : 7);
	sqs_md5_final(&x, inc);
	assert_memory_equal(one, inc, 16);
}

static void test_md5_attributes(void **state)
{
	(void)state;
	/* AWS-recorded (LocalStack snapshot test_receive_message_attribute_names_filters): {"Foo": String "Bar"} */
	sqs_mattr a = {.name = "Foo", .name_len = 3, .type = "String", .type_len = 6, .transport = 1,
		       .val = (const uint8_t *)"Bar", .val_len = 3};
	uint8_t d[16];
	char hex[33];
	sqs_md5_attrs(&a, 1, d);
	sqs_hex(d, 16, hex);
	assert_string_equal(hex, "ae7155c6026991b6d54b11589678bf9c");
}

/* ---- store ----------------------------------------------------------------------------------------- */

typedef struct put_job {
	const uint8_t *qid;
	const char *body;
	int64_t delay_s, now;
	char id[37];
} put_job;

static bb_err put_apply(db *d, MDB_txn *txn, void *arg)
{
	put_job *j = arg;
	sqs_mattr a = {.name = "k", .name_len = 1, .type = "String", .type_len = 6, .transport = 1,
		       .val = (const uint8_t *)"v", .val_len = 1};
	sqs_msg_in m = {.body = j->body, .body_len = strlen(j->body), .attrs = &a, .n_attrs = 1, .sender = "me",
			.delay_s = j->delay_s};
	bb_err e = sqs_store_put(d, txn, j->qid, &m, j->now);
	memcpy(j->id, m.msg_id, 37);
	return e;
}

static void put(db *d, const uint8_t *qid, const char *body, int64_t delay_s, int64_t now)
{
	put_job j = {qid, body, delay_s, now, ""};
	assert_int_equal(db_run(d, put_apply, &j), BB_OK);
}

static bb_err recv_apply(db *d, MDB_txn *txn, void *arg) { return sqs_store_receive(d, txn, arg); }

static int take(db *d, sqs_recv *r, const uint8_t *qid, int max, int64_t vis_ms, int64_t now)
{
	sqs_recv_free(r);
	memcpy(r->qid, qid, 16);
	r->max = max;
	r->vis_ms = vis_ms;
	r->retention_ms = 3600 * 1000;
	r->now_ms = now;
	r->max_rcount = 0;
	assert_int_equal(db_run(d, recv_apply, r), BB_OK);
	return r->n_got;
}

static void body_of(const sqs_got *g, char *out, size_t cap)
{
	sqs_rec rec;
	assert_true(sqs_rec_parse(g->rec, g->rec_len, &rec));
	snprintf(out, cap, "%.*s", (int)rec.body_len, rec.body);
	assert_int_equal(rec.n_attrs, 1);
}

static void counts(db *d, const uint8_t *qid, int64_t now, uint64_t v, uint64_t inf, uint64_t del)
{
	uint64_t a, b, c;
	assert_int_equal(sqs_store_counts(d, qid, now, &a, &b, &c), BB_OK);
	assert_int_equal(a, v);
	assert_int_equal(b, inf);
	assert_int_equal(c, del);
}

typedef struct hop {
	const uint8_t *qid;
	uint64_t seq;
	uint32_t rcount;
	int64_t vis, now;
	int outcome;
	bool del;
} hop;

static bb_err hop_apply(db *d, MDB_txn *txn, void *arg)
{
	hop *h = arg;
	if (h->del)
		return sqs_store_delete(d, txn, h->qid, h->seq, &h->outcome);
	return sqs_store_change_vis(d, txn, h->qid, h->seq, h->rcount, h->vis, h->now, &h->outcome);
}

static int change_vis(db *d, const uint8_t *qid, uint64_t seq, uint32_t rcount, int64_t vis, int64_t now)
{
	hop h = {qid, seq, rcount, vis, now, -1, false};
	assert_int_equal(db_run(d, hop_apply, &h), BB_OK);
	return h.outcome;
}

static int del(db *d, const uint8_t *qid, uint64_t seq)
{
	hop h = {.qid = qid, .seq = seq, .del = true};
	assert_int_equal(db_run(d, hop_apply, &h), BB_OK);
	return h.outcome;
}

static void test_store_visibility(void **state)
{
	(void)state;
	fresh_dir();
	db *d;
	db_config cfg = {.dir = dir, .map_bytes = 64 << 20, .no_sync = true};
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	uint8_t q[16] = {1, 2, 3};
	sqs_recv *r = calloc(1, sizeof *r);
	char b[64];
	const int64_t t0 = 1000000;

	put(d, q, "m1", 0, t0);
	put(d, q, "m2", 0, t0);
	put(d, q, "m3", 0, t0);
	put(d, q, "late", 5, t0);
	counts(d, q, t0, 3, 0, 1);
	assert_int_equal(take(d, r, q, 2, 10000, t0), 2);
	body_of(&r->got[0], b, sizeof b);
	assert_string_equal(b, "m1"); /* oldest first */
	assert_int_equal(r->got[0].rcount, 1);
	assert_int_equal(r->got[0].sent_ms, t0);
	assert_int_equal(r->got[0].first_ms, t0);
	uint64_t seq1 = r->got[0].seq, seq2 = r->got[1].seq;
	counts(d, q, t0, 1, 2, 1);
	assert_int_equal(take(d, r, q, 10, 20000, t0), 1);
	body_of(&r->got[0], b, sizeof b);
	assert_string_equal(b, "m3");
	uint64_t seq3 = r->got[0].seq;
	bool ready;
	int64_t next;
	assert_int_equal(sqs_store_peek(d, q, t0, &ready, &next), BB_OK);
	assert_false(ready);
	assert_int_equal(next, t0 + 5000); /* the delayed message is due first */
	assert_int_equal(take(d, r, q, 10, 10000, t0 + 4999), 0);
	assert_int_equal(take(d, r, q, 10, 10000, t0 + 5000), 1);
	body_of(&r->got[0], b, sizeof b);
	assert_string_equal(b, "late");
	/* visibility of m1, m2 ends at t0+10000: received again, count 2 */
	assert_int_equal(take(d, r, q, 10, 1000, t0 + 10000), 2);
	assert_int_equal(r->got[0].rcount, 2);
	assert_int_equal(r->got[0].first_ms, t0);
	/* ChangeMessageVisibility: only the latest receive; at most 12 h after it */
	assert_int_equal(change_vis(d, q, seq1, 1, 0, t0 + 10000), SQS_STALE);
	assert_int_equal(change_vis(d, q, seq1, 2, 43200 * 1000LL + 1, t0 + 10000), SQS_TOO_LONG);
	assert_int_equal(change_vis(d, q, seq1, 2, 0, t0 + 10000), SQS_DONE);
	assert_int_equal(take(d, r, q, 1, 0, t0 + 10000), 1); /* visible again at once */
	assert_int_equal(r->got[0].seq, seq1);
	/* VisibilityTimeout 0 does not return the same message twice in one call */
	assert_int_equal(take(d, r, q, 10, 0, t0 + 10000), 1);
	assert_int_equal(del(d, q, seq2), SQS_DONE);
	assert_int_equal(del(d, q, seq2), SQS_GONE);
	assert_int_equal(change_vis(d, q, seq2, 2, 0, t0), SQS_GONE);
	assert_int_equal(del(d, q, seq3), SQS_DONE);
	counts(d, q, t0 + 10000, 1, 1, 0); /* m1 visible (timeout 0), late in flight until t0+15000 */
	sqs_recv_free(r);
	free(r);
	db_close(d);
	rm_dir();
}

typedef struct sweep_job {
	const uint8_t *qid;
	int64_t retention, now;
	size_t budget;
	bool drop, more;
} sweep_job;

static bb_err sweep_apply(db *d, MDB_txn *txn, void *arg)
{
	sweep_job *j = arg;
	if (j->drop)
		return sqs_store_drop(d, txn, j->qid, j->budget, &j->more);
	return sqs_store_expire(d, txn, j->qid, j->retention, j->now, j->budget, &j->more);
}

static void test_store_expire_drop_qids(void **state)
{
	(void)state;
	fresh_dir();
	db *d;
	db_config cfg = {.dir = dir, .map_bytes = 64 << 20, .no_sync = true};
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	uint8_t qa[16] = {0xaa}, qb[16] = {0xbb};
	for (int i = 0; i < 10; i++)
		put(d, qa, "old", 0, 1000 + i);
	for (int i = 0; i < 5; i++)
		put(d, qa, "new", 0, 50000);
	for (int i = 0; i < 25; i++)
		put(d, qb, "x", i % 2, 1000);
	/* retention 60 s: at t=61005 the first 6 (sent 1000..1005) are expired */
	assert_true(sqs_store_expire_due(d, qa, 60000, 61005));
	assert_false(sqs_store_expire_due(d, qa, 60000, 60999));
	sweep_job j = {qa, 60000, 61005, 4, false, false};
	assert_int_equal(db_run(d, sweep_apply, &j), BB_OK);
	assert_true(j.more); /* budget 4 < 6 */
	assert_int_equal(db_run(d, sweep_apply, &j), BB_OK);
	assert_false(j.more);
	counts(d, qa, 61005, 9, 0, 0);
	/* a receive never returns an expired message */
	sqs_recv *r = calloc(1, sizeof *r);
	memcpy(r->qid, qa, 16);
	r->max = 10;
	r->vis_ms = 1000;
	r->retention_ms = 60000;
	r->now_ms = 62000;
	assert_int_equal(db_run(d, recv_apply, r), BB_OK);
	assert_int_equal(r->n_got, 5); /* the 4 remaining old ones were deleted on sight */
	char b[16];
	for (int i = 0; i < r->n_got; i++) {
		body_of(&r->got[i], b, sizeof b);
		assert_string_equal(b, "new");
	}
	counts(d, qa, 62000, 0, 5, 0);
	sqs_recv_free(r);
	free(r);

	uint8_t ids[4][16];
	size_t n;
	assert_int_equal(sqs_store_qids(d, NULL, ids, 4, &n), BB_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(ids[0], qa, 16);
	assert_memory_equal(ids[1], qb, 16);
	assert_int_equal(sqs_store_qids(d, qa, ids, 4, &n), BB_OK);
	assert_int_equal(n, 1);
	/* drop qb in chunks: the id stays listed until its last entry is gone */
	sweep_job dj = {.qid = qb, .budget = 16, .drop = true};
	int rounds = 0;
	do {
		assert_int_equal(db_run(d, sweep_apply, &dj), BB_OK);
		rounds++;
		assert_int_equal(sqs_store_qids(d, qa, ids, 4, &n), BB_OK);
		assert_int_equal(n, dj.more ? 1 : 0);
	} while (dj.more && rounds < 100);
	assert_true(rounds > 2); /* 25 index + 50 message entries + state, 16 at a time */
	counts(d, qb, 1000, 0, 0, 0);
	counts(d, qa, 62000, 0, 5, 0);
	db_close(d);
	rm_dir();
}

static void test_store_redrive(void **state)
{
	(void)state;
	fresh_dir();
	db *d;
	db_config cfg = {.dir = dir, .map_bytes = 64 << 20, .no_sync = true};
	assert_int_equal(db_open(&cfg, &d), BB_OK);
	uint8_t src[16] = {5}, dlq[16] = {6};
	put_job j = {src, "poison", 0, 1000, ""};
	assert_int_equal(db_run(d, put_apply, &j), BB_OK);
	sqs_recv *r = calloc(1, sizeof *r);
	for (int round = 0; round < 2; round++) {
		sqs_recv_free(r);
		memcpy(r->qid, src, 16);
		r->max = 1;
		r->vis_ms = 0;
		r->retention_ms = 3600000;
		r->now_ms = 2000 + round;
		r->max_rcount = 1;
		memcpy(r->dlq_qid, dlq, 16);
		r->src_arn = "arn:aws:sqs:us-east-1:000000000000:src";
		assert_int_equal(db_run(d, recv_apply, r), BB_OK);
		assert_int_equal(r->n_got, round == 0 ? 1 : 0);
	}
	assert_int_equal(r->moved, 1);
	counts(d, src, 3000, 0, 0, 0);
	assert_int_equal(take(d, r, dlq, 10, 1000, 3000), 1);
	assert_string_equal(r->got[0].msg_id, j.id); /* the message keeps its id, sent time and count */
	assert_int_equal(r->got[0].sent_ms, 1000);
	assert_int_equal(r->got[0].rcount, 2);
	sqs_rec rec;
	assert_true(sqs_rec_parse(r->got[0].rec, r->got[0].rec_len, &rec));
	assert_int_equal(rec.n_attrs, 1);
	assert_non_null(rec.source_arn);
	assert_int_equal(rec.source_arn_len, strlen("arn:aws:sqs:us-east-1:000000000000:src"));
	sqs_recv_free(r);
	free(r);
	db_close(d);
	rm_dir();
}

/* ---- the internal API on a real node --------------------------------------------------------------- */

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

/* One JSON 1.0 call through sqs_handle (the node allows anonymous requests). */
static json_t *call(node *n, const char *op, const char *body, int *status)
{
	char target[64];
	snprintf(target, sizeof target, "AmazonSQS.%s", op);
	pol_header h[] = {{"Host", 4, "localhost:1", 11}};
	api_request rq = {"POST", "/", "", target, h, 1, (const uint8_t *)body, strlen(body)};
	char *resp, rid[37];
	const char *ctype, *etype, *qerr;
	*status = sqs_handle(n, &rq, SQS_PROTO_JSON, &resp, &ctype, rid, &etype, &qerr);
	json_error_t err;
	json_t *j = json_loads(resp, 0, &err);
	free(resp);
	assert_non_null(j);
	return j;
}

typedef struct internal_put {
	node *n;
	sqs_ref *q;
	const char *body;
	size_t n_attrs;
	char id[37];
} internal_put;

static bb_err internal_apply(db *d, MDB_txn *txn, void *arg)
{
	(void)d;
	internal_put *p = arg;
	sqs_attr attrs[] = {{"RULE_ARN", "arn:aws:events:us-east-1:000000000000:rule/r"}, {"ERROR_CODE", "TIMEOUT"}};
	return sqs_put_txn(p->n, txn, p->q, p->body, strlen(p->body), attrs, p->n_attrs, bb_wall_ms(p->n->clock), p->id);
}

typedef struct depth_seen {
	int queues;
	uint64_t visible;
} depth_seen;

static void on_depth(void *ctx, const char *account, const char *name, uint64_t visible, uint64_t inflight,
		     uint64_t delayed)
{
	depth_seen *s = ctx;
	(void)inflight;
	(void)delayed;
	assert_string_equal(account, "000000000000");
	if (strcmp(name, "dlq") == 0) {
		s->queues++;
		s->visible = visible;
	}
}

/* A wall clock the test moves forward; monotonic time is the system's. */
static _Atomic int64_t clock_offset_ms;
static int64_t test_wall_ms(void *ctx)
{
	(void)ctx;
	return bb_wall_ms(&bb_clock_system) + clock_offset_ms;
}
static int64_t test_mono_ns(void *ctx)
{
	(void)ctx;
	return bb_mono_ns(&bb_clock_system);
}
static const bb_clock test_clock = {test_wall_ms, test_mono_ns, NULL};

static node *start_node(void)
{
	static char listen[64], raft[64], data[300];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", free_port());
	snprintf(raft, sizeof raft, "127.0.0.1:%d", free_port());
	snprintf(data, sizeof data, "%s/data", dir);
	node_config cfg;
	node_config_defaults(&cfg);
	cfg.data_dir = data;
	cfg.listen = listen;
	cfg.raft_listen = raft;
	cfg.allow_anonymous = true;
	cfg.raft_election_ms = 100;
	cfg.raft_heartbeat_ms = 20;
	cfg.store_no_sync = true;
	cfg.clock = &test_clock;
	node *n;
	assert_int_equal(node_start(&cfg, &n), BB_OK);
	return n;
}

static void test_internal_api(void **state)
{
	(void)state;
	fresh_dir();
	node *n = start_node();
	int status;
	json_t *r = call(n, "CreateQueue", "{\"QueueName\":\"dlq\",\"Attributes\":{\"MaximumMessageSize\":\"1024\"}}", &status);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(r, "QueueUrl")), "http://localhost:1/000000000000/dlq");
	json_decref(r);

	sqs_ref q;
	meta_snap *s = meta_snap_acquire(n->meta);
	assert_int_equal(sqs_resolve_arn(n, s, "arn:aws:sqs:us-east-1:000000000000:dlq", &q), BB_OK);
	assert_string_equal(q.name, "dlq");
	assert_int_equal(q.max_bytes, 1024);
	assert_int_equal(sqs_resolve_arn(n, s, "arn:aws:sqs:eu-west-1:000000000000:dlq", &q), BB_ENOTFOUND);
	assert_int_equal(sqs_resolve_arn(n, s, "arn:aws:sqs:us-east-1:000000000000:nope", &q), BB_ENOTFOUND);
	assert_int_equal(sqs_resolve_arn(n, s, "arn:aws:sqs:us-east-1:000000000000", &q), BB_ENOTFOUND);
	assert_int_equal(sqs_resolve_arn(n, s, "arn:aws:sqs:us-east-1:000000000000:dlq", &q), BB_OK);
	meta_snap_release(s);

	internal_put p = {n, &q, "{\"detail\":{}}", 2, ""};
	assert_int_equal(db_run(n->db, internal_apply, &p), BB_OK);
	sqs_notify(n, &q);
	assert_int_equal(strlen(p.id), 36);
	char big[1100];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	internal_put toobig = {n, &q, big, 0, ""};
	assert_int_equal(db_run(n->db, internal_apply, &toobig), BB_ETOOBIG);
	internal_put ctrl = {n, &q, "bad\x01body", 0, ""};
	assert_int_equal(db_run(n->db, internal_apply, &ctrl), BB_EINVAL); /* could never be returned to a client */

	depth_seen seen = {0};
	sqs_foreach_depth(n, on_depth, &seen);
	assert_int_equal(seen.queues, 1);
	assert_int_equal(seen.visible, 1);

	r = call(n, "ReceiveMessage",
		 "{\"QueueUrl\":\"http://x/000000000000/dlq\",\"MessageAttributeNames\":[\"All\"],\"WaitTimeSeconds\":1}",
		 &status);
	assert_int_equal(status, 200);
	json_t *m = json_array_get(json_object_get(r, "Messages"), 0);
	assert_string_equal(json_string_value(json_object_get(m, "MessageId")), p.id);
	assert_string_equal(json_string_value(json_object_get(m, "Body")), "{\"detail\":{}}");
	json_t *ma = json_object_get(m, "MessageAttributes");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ma, "ERROR_CODE"), "StringValue")), "TIMEOUT");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ma, "RULE_ARN"), "DataType")), "String");
	json_decref(r);

	r = call(n, "GetQueueUrl", "{\"QueueName\":\"missing\"}", &status);
	assert_int_equal(status, 400);
	assert_string_equal(json_string_value(json_object_get(r, "__type")), "com.amazonaws.sqs#QueueDoesNotExist");
	json_decref(r);
	node_stop(n);
	rm_dir();
}

static size_t qid_count(node *n)
{
	uint8_t ids[8][16];
	size_t k;
	assert_int_equal(sqs_store_qids(n->db, NULL, ids, 8, &k), BB_OK);
	return k;
}

static void put_n(node *n, sqs_ref *q, int count)
{
	for (int i = 0; i < count; i++) {
		internal_put p = {n, q, "m", 0, ""};
		assert_int_equal(db_run(n->db, internal_apply, &p), BB_OK);
	}
}

/* The sweeper thread: retention expiry without any receive, and the data of a deleted and of a purged
 * queue removed from the store. */
static void test_sweeper(void **state)
{
	(void)state;
	fresh_dir();
	clock_offset_ms = 0;
	node *n = start_node();
	int status;
	json_t *r = call(n, "CreateQueue", "{\"QueueName\":\"keep\",\"Attributes\":{\"MessageRetentionPeriod\":\"60\"}}",
			 &status);
	json_decref(r);
	r = call(n, "CreateQueue", "{\"QueueName\":\"gone\"}", &status);
	json_decref(r);
	r = call(n, "CreateQueue", "{\"QueueName\":\"purged\"}", &status);
	json_decref(r);
	sqs_ref keep, gone, purged;
	meta_snap *s = meta_snap_acquire(n->meta);
	assert_int_equal(sqs_resolve_arn(n, s, "arn:aws:sqs:us-east-1:000000000000:keep", &keep), BB_OK);
	assert_int_equal(sqs_resolve_arn(n, s, "arn:aws:sqs:us-east-1:000000000000:gone", &gone), BB_OK);
	assert_int_equal(sqs_resolve_arn(n, s, "arn:aws:sqs:us-east-1:000000000000:purged", &purged), BB_OK);
	meta_snap_release(s);
	put_n(n, &keep, 5);
	put_n(n, &gone, 7);
	put_n(n, &purged, 3);
	assert_int_equal(qid_count(n), 3);
	r = call(n, "DeleteQueue", "{\"QueueUrl\":\"http://x/000000000000/gone\"}", &status);
	assert_int_equal(status, 200);
	json_decref(r);
	r = call(n, "PurgeQueue", "{\"QueueUrl\":\"http://x/000000000000/purged\"}", &status);
	assert_int_equal(status, 200);
	json_decref(r);
	for (int i = 0; i < 100 && qid_count(n) > 1; i++)
		usleep(100 * 1000);
	assert_int_equal(qid_count(n), 1); /* only "keep" has data left */
	uint64_t v, inf, del;
	assert_int_equal(sqs_store_counts(n->db, keep.qid, test_wall_ms(NULL), &v, &inf, &del), BB_OK);
	assert_int_equal(v, 5);
	clock_offset_ms = 61 * 1000; /* past the 60 s retention */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(sqs_store_counts(n->db, keep.qid, test_wall_ms(NULL), &v, &inf, &del), BB_OK);
		if (v == 0)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(v, 0);
	assert_false(sqs_store_expire_due(n->db, keep.qid, 60000, test_wall_ms(NULL)));
	node_stop(n);
	rm_dir();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	bb_log_set_level(BB_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_vectors),
		cmocka_unit_test(test_md5_attributes),
		cmocka_unit_test(test_store_visibility),
		cmocka_unit_test(test_store_expire_drop_qids),
		cmocka_unit_test(test_store_redrive),
		cmocka_unit_test(test_internal_api),
		cmocka_unit_test(test_sweeper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
