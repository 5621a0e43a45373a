/* bench/bench_track.c — the receiving side of the end-to-end benchmark: the delivery tracker (which
 * stamped events arrived, how late, how often) and the queue readers.
 *
 * Design: every delivered body is searched for the publisher's stamps (bench_seq, bench_t_ns), which
 * may appear raw (an API-destination POST of the event) or JSON-escaped (the event as a string inside
 * a ReceiveMessage answer), so the parser skips any of `\":` and spaces between key and digits. A
 * bitmap with one bit per seq (atomic fetch_or, shared by every thread of one target kind) separates
 * first deliveries from duplicates; memory is bounded by the publisher's largest possible seq.
 * Latency = receive time - bench_t_ns, both CLOCK_MONOTONIC of this machine (the publisher and the
 * receivers are this process), so no clock sync is involved.
 *
 * Queue readers: each thread loops AmazonSQS.ReceiveMessage (JSON 1.0, long poll of 2 s, 10 messages)
 * and AmazonSQS.DeleteMessageBatch on its own connection; the receive time of a message is when its
 * ReceiveMessage answer arrived.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_net.h"
#include "common/bb.h"

#define QREADER_WAIT_S 2
#define QREADER_MAX 64

int bench_track_init(bench_track *t, uint64_t nbits)
{
	memset(t, 0, sizeof *t);
	t->nbits = nbits;
	t->seen = calloc((size_t)(nbits / 64 + 1), sizeof *t->seen);
	return t->seen ? 0 : -1;
}

void bench_track_free(bench_track *t)
{
	free(t->seen);
	t->seen = NULL;
}

/* Finds key in body and parses the unsigned integer after it (skipping `\":` and blanks). */
static bool find_num(const char *body, size_t len, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	const char *p = memmem(body, len, key, kl), *end = body + len;
	if (!p)
		return false;
	p += kl;
	while (p < end && (*p == '\\' || *p == '"' || *p == ':' || *p == ' '))
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return false;
	uint64_t x = 0;
	while (p < end && *p >= '0' && *p <= '9')
		x = x * 10 + (uint64_t)(*p++ - '0');
	*v = x;
	return true;
}

void bench_track_record(bench_track *t, bench_hist *h, const char *body, size_t len, int64_t now_ns)
{
	uint64_t seq, ts;
	if (!find_num(body, len, "bench_seq", &seq) || !find_num(body, len, "bench_t_ns", &ts)) {
		atomic_fetch_add(&t->foreign, 1);
		return;
	}
	if (seq < t->nbits) {
		uint64_t bit = 1ull << (seq % 64);
		if (atomic_fetch_or(&t->seen[seq / 64], bit) & bit) {
			atomic_fetch_add(&t->duplicates, 1);
			return;
		}
	} else {
		atomic_fetch_add(&t->unchecked, 1);
	}
	bench_hist_add(h, now_ns - (int64_t)ts);
	atomic_fetch_add(&t->delivered, 1);
	atomic_store(&t->last_ns, now_ns);
}

/* ---- queue readers --------------------------------------------------------------------------- */

typedef struct qthread {
	bench_qreader *q;
	pthread_t th;
	bench_hist h;
	bench_errs errs;
} qthread;

struct bench_qreader {
	const bench_endpoint *ep;
	const bench_creds *cr;
	char *queue_url;      /* copied */
	char *queue_url_json; /* the same as a JSON string literal, quotes included */
	bench_track *t;
	_Atomic bool stop;
	int n;
	qthread th[QREADER_MAX];
};

static void count_err(bench_errs *errs, const char *op, bench_net_err e, const bench_resp *r)
{
	char name[96];
	int n;
	if (e)
		n = snprintf(name, sizeof name, "%s:%s", op, bench_net_errname(e));
	else
		n = snprintf(name, sizeof name, "%s:%s", op, r->err_type[0] ? r->err_type : "http_error");
	bench_errs_add(errs, name, (size_t)n, 1);
}

static void *qreader_main(void *arg)
{
	qthread *me = arg;
	bench_qreader *q = me->q;
	bench_conn conn;
	bench_conn_init(&conn, q->ep, (QREADER_WAIT_S + 20) * 1000);
	char recv_body[2048];
	snprintf(recv_body, sizeof recv_body,
		 "{\"QueueUrl\":%s,\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":%d}", q->queue_url_json,
		 QREADER_WAIT_S);
	while (!atomic_load(&q->stop)) {
		bench_resp r;
		bench_net_err e = bench_aws_call(&conn, q->cr, "AmazonSQS.ReceiveMessage", recv_body, &r);
		int64_t now = bb_mono_ns(&bb_clock_system);
		if (e || r.status != 200) {
			count_err(&me->errs, "ReceiveMessage", e, &r);
			struct timespec ts = {0, 100 * 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
		json_t *msgs = json_object_get(j, "Messages");
		size_t nm = json_array_size(msgs);
		if (nm == 0) {
			json_decref(j);
			continue;
		}
		json_t *del = json_pack("{s:s, s:[]}", "QueueUrl", q->queue_url, "Entries");
		json_t *entries = json_object_get(del, "Entries");
		for (size_t i = 0; i < nm; i++) {
			json_t *m = json_array_get(msgs, i);
			json_t *b = json_object_get(m, "Body");
			const char *rh = json_string_value(json_object_get(m, "ReceiptHandle"));
			if (json_is_string(b))
				bench_track_record(q->t, &me->h, json_string_value(b), json_string_length(b), now);
			if (rh) {
				char id[24];
				snprintf(id, sizeof id, "m%zu", i);
				json_array_append_new(entries, json_pack("{s:s, s:s}", "Id", id, "ReceiptHandle", rh));
			}
		}
		json_decref(j);
		char *db = json_dumps(del, JSON_COMPACT);
		json_decref(del);
		if (!db)
			continue;
		e = bench_aws_call(&conn, q->cr, "AmazonSQS.DeleteMessageBatch", db, &r);
		free(db);
		if (e || r.status != 200) {
			count_err(&me->errs, "DeleteMessageBatch", e, &r);
			continue;
		}
		json_t *dr = json_loadb(r.body, r.body_len, 0, NULL);
		size_t failed = json_array_size(json_object_get(dr, "Failed"));
		if (failed)
			bench_errs_add(&me->errs, "DeleteMessageBatch:Failed", 25, failed);
		json_decref(dr);
	}
	bench_conn_free(&conn);
	return NULL;
}

int bench_qreader_start(const bench_endpoint *ep, const bench_creds *cr, const char *queue_url, int n,
			bench_track *t, bench_qreader **out)
{
	bench_qreader *q = calloc(1, sizeof *q);
	if (!q)
		return -1;
	json_t *s = json_string(queue_url);
	q->queue_url_json = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	q->queue_url = strdup(queue_url);
	if (!q->queue_url_json || !q->queue_url) {
		free(q->queue_url_json);
		free(q->queue_url);
		free(q);
		return -1;
	}
	q->ep = ep;
	q->cr = cr;
	q->t = t;
	q->n = n < 1 ? 1 : n > QREADER_MAX ? QREADER_MAX : n;
	for (int i = 0; i < q->n; i++) {
		q->th[i].q = q;
		bench_hist_init(&q->th[i].h);
		if (pthread_create(&q->th[i].th, NULL, qreader_main, &q->th[i]) != 0) {
			q->n = i;
			bench_qreader_stop(q, NULL, NULL);
			return -1;
		}
	}
	*out = q;
	return 0;
}

void bench_qreader_stop(bench_qreader *q, bench_hist *h, bench_errs *errs)
{
	atomic_store(&q->stop, true);
	for (int i = 0; i < q->n; i++) {
		pthread_join(q->th[i].th, NULL);
		if (h)
			bench_hist_merge(h, &q->th[i].h);
		if (errs)
			bench_errs_merge(errs, &q->th[i].errs);
	}
	free(q->queue_url_json);
	free(q->queue_url);
	free(q);
}
