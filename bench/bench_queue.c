/* bench/bench_queue.c — queue readers of the end-to-end benchmark: consume a built-in queue through
 * the public SQS JSON 1.0 API and record every message with the delivery tracker.
 *
 * Design: receiving and deleting are split. Receiver threads loop AmazonSQS.ReceiveMessage (long poll
 * of QREADER_WAIT_S, up to 10 messages) and record each Body the moment the answer arrived; the
 * receipt handles go into one bounded ring (QDEL_RING; a full ring blocks receivers, so memory stays
 * bounded). Deleter threads take up to 10 handles at a time and send AmazonSQS.DeleteMessageBatch.
 * A reader that deleted before receiving again would measure its own delete round trip (a durable
 * store write) rather than the queue; split, the figure is publish-to-receive.
 *
 * Answers are scanned, not parsed (a full JSON parse cost more CPU than everything else the reader
 * does): inside a JSON string every quote is escaped, so a raw `"ReceiptHandle"` or `"Body"` can only be
 * a key. Bodies are handed to the tracker still escaped; handles are copied escaped into the delete
 * request, which is valid JSON as is. Every thread has its own connection and statistics; the ring is
 * the only shared state (one mutex, two condition variables).
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
#define QDEL_RING 65536 /* receipt handles waiting for DeleteMessageBatch */
#define QDEL_BATCH 10

typedef struct qthread {
	bench_qreader *q;
	pthread_t th;
	bench_hist h;
	bench_errs errs;
} qthread;

struct bench_qreader {
	const bench_endpoint *ep;
	const bench_creds *cr;
	char *queue_url_json; /* the QueueUrl as a JSON string literal, quotes included */
	bench_track *t;
	_Atomic bool stop;
	/* the ring of receipt handles (strings in JSON-escaped form, owned by the ring) */
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	char **ring;
	size_t head, count;
	bool receivers_done;
	int n_recv, n_del;
	qthread recv[QREADER_MAX], del[QREADER_MAX];
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

/* The end of the JSON string whose body starts at p (the unescaped closing quote), or NULL. */
static const char *str_end(const char *p, const char *end)
{
	while (p < end && *p != '"')
		p += *p == '\\' ? 2 : 1;
	return p < end ? p : NULL;
}

/* Finds the next `"key":"` in [*p, end) and returns the string's raw (still escaped) body. */
static bool next_str(const char **p, const char *end, const char *key, const char **s, size_t *n)
{
	size_t kl = strlen(key);
	for (;;) {
		const char *k = memmem(*p, (size_t)(end - *p), key, kl);
		if (!k)
			return false;
		const char *v = k + kl;
		while (v < end && (*v == ' ' || *v == ':'))
			v++;
		if (v >= end || *v != '"') {
			*p = v;
			continue;
		}
		const char *e = str_end(v + 1, end);
		if (!e)
			return false;
		*s = v + 1;
		*n = (size_t)(e - *s);
		*p = e + 1;
		return true;
	}
}

static void *receiver_main(void *arg)
{
	qthread *me = arg;
	bench_qreader *q = me->q;
	bench_conn conn;
	bench_conn_init(&conn, q->ep, (QREADER_WAIT_S + 20) * 1000);
	char body[2048];
	snprintf(body, sizeof body, "{\"QueueUrl\":%s,\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":%d}",
		 q->queue_url_json, QREADER_WAIT_S);
	while (!atomic_load(&q->stop)) {
		bench_resp r;
		bench_net_err e = bench_aws_call(&conn, q->cr, "AmazonSQS.ReceiveMessage", body, &r);
		int64_t now = bb_mono_ns(&bb_clock_system);
		if (e || r.status != 200) {
			count_err(&me->errs, "ReceiveMessage", e, &r);
			struct timespec ts = {0, 100 * 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		const char *p = r.body, *end = r.body + r.body_len, *s;
		size_t n;
		while (next_str(&p, end, "\"Body\"", &s, &n))
			bench_track_record(q->t, &me->h, s, n, now);
		p = r.body;
		pthread_mutex_lock(&q->mu);
		while (next_str(&p, end, "\"ReceiptHandle\"", &s, &n)) {
			while (q->count == QDEL_RING)
				pthread_cond_wait(&q->not_full, &q->mu);
			char *h = strndup(s, n);
			if (!h) {
				bench_errs_add(&me->errs, "out_of_memory", 13, 1);
				continue;
			}
			q->ring[(q->head + q->count++) % QDEL_RING] = h;
			pthread_cond_signal(&q->not_empty);
		}
		pthread_mutex_unlock(&q->mu);
	}
	bench_conn_free(&conn);
	return NULL;
}

static void *deleter_main(void *arg)
{
	qthread *me = arg;
	bench_qreader *q = me->q;
	bench_conn conn;
	bench_conn_init(&conn, q->ep, 30000);
	size_t cap = 4096;
	char *body = malloc(cap);
	for (;;) {
		char *h[QDEL_BATCH];
		size_t n = 0;
		pthread_mutex_lock(&q->mu);
		while (q->count == 0 && !q->receivers_done)
			pthread_cond_wait(&q->not_empty, &q->mu);
		while (n < QDEL_BATCH && q->count) {
			h[n++] = q->ring[q->head];
			q->head = (q->head + 1) % QDEL_RING;
			q->count--;
		}
		if (n)
			pthread_cond_broadcast(&q->not_full);
		pthread_mutex_unlock(&q->mu);
		if (n == 0)
			break; /* receivers are done and the ring is empty */

		size_t need = 256 + strlen(q->queue_url_json);
		for (size_t i = 0; i < n; i++)
			need += strlen(h[i]) + 48;
		if (need > cap) {
			char *nb = realloc(body, need);
			if (nb) {
				body = nb;
				cap = need;
			}
		}
		if (body && need <= cap) {
			size_t used = (size_t)snprintf(body, cap, "{\"QueueUrl\":%s,\"Entries\":[", q->queue_url_json);
			for (size_t i = 0; i < n; i++)
				used += (size_t)snprintf(body + used, cap - used, "%s{\"Id\":\"m%zu\",\"ReceiptHandle\":\"%s\"}",
							 i ? "," : "", i, h[i]);
			snprintf(body + used, cap - used, "]}");
			bench_resp r;
			bench_net_err e = bench_aws_call(&conn, q->cr, "AmazonSQS.DeleteMessageBatch", body, &r);
			if (e || r.status != 200) {
				count_err(&me->errs, "DeleteMessageBatch", e, &r);
			} else {
				/* failed entries carry SenderFault; successful ones do not */
				const char *p = r.body, *end = r.body + r.body_len;
				uint64_t failed = 0;
				while ((p = memmem(p, (size_t)(end - p), "\"SenderFault\"", 13)) != NULL) {
					failed++;
					p += 13;
				}
				bench_errs_add(&me->errs, "DeleteMessageBatch:Failed", 25, failed);
			}
		} else {
			bench_errs_add(&me->errs, "out_of_memory", 13, n);
		}
		for (size_t i = 0; i < n; i++)
			free(h[i]);
	}
	free(body);
	bench_conn_free(&conn);
	return NULL;
}

/* Joins receivers, lets deleters drain the ring and joins them; merges what is asked for. */
static void stop_all(bench_qreader *q, bench_hist *h, bench_errs *errs)
{
	atomic_store(&q->stop, true);
	for (int i = 0; i < q->n_recv; i++)
		pthread_join(q->recv[i].th, NULL);
	pthread_mutex_lock(&q->mu);
	q->receivers_done = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->n_del; i++)
		pthread_join(q->del[i].th, NULL);
	for (int i = 0; i < q->n_recv; i++) {
		if (h)
			bench_hist_merge(h, &q->recv[i].h);
		if (errs)
			bench_errs_merge(errs, &q->recv[i].errs);
	}
	for (int i = 0; i < q->n_del && errs; i++)
		bench_errs_merge(errs, &q->del[i].errs);
	while (q->count) { /* only if a deleter could not start */
		free(q->ring[q->head]);
		q->head = (q->head + 1) % QDEL_RING;
		q->count--;
	}
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->mu);
	free(q->ring);
	free(q->queue_url_json);
	free(q);
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
	q->ring = calloc(QDEL_RING, sizeof *q->ring);
	if (!q->queue_url_json || !q->ring) {
		free(q->queue_url_json);
		free(q->ring);
		free(q);
		return -1;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	q->ep = ep;
	q->cr = cr;
	q->t = t;
	n = n < 1 ? 1 : n > QREADER_MAX ? QREADER_MAX : n;
	for (int i = 0; i < n; i++) {
		q->del[i].q = q;
		if (pthread_create(&q->del[i].th, NULL, deleter_main, &q->del[i]) != 0)
			goto fail;
		q->n_del++;
		q->recv[i].q = q;
		bench_hist_init(&q->recv[i].h);
		if (pthread_create(&q->recv[i].th, NULL, receiver_main, &q->recv[i]) != 0)
			goto fail;
		q->n_recv++;
	}
	*out = q;
	return 0;
fail:
	stop_all(q, NULL, NULL);
	return -1;
}

void bench_qreader_stop(bench_qreader *q, bench_hist *h, bench_errs *errs) { stop_all(q, h, errs); }
