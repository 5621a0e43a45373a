/* node/http_work.c — threads for the requests that block: control-plane writes wait for raft, SQS
 * long polls wait up to 20 s. The HTTP threads (http.c) suspend such
 * a request's connection, queue it here and go on serving other connections; a worker runs it and
 * resumes the connection.
 *
 * Bounds: a thread is started only when no worker is idle, at most `max` in all (http.c passes the
 * node's max_inflight, which already bounds the requests in progress, so the queue is bounded by it
 * too). A worker idle for IDLE_EXIT_S leaves unless it is one of the first KEEP_WARM. Threads are
 * detached; stop waits until every one has left.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "node_int.h"

#define IDLE_EXIT_S 30
#define KEEP_WARM 4
#define WORKER_STACK (512 * 1024)

typedef struct work_item {
	void (*fn)(void *arg);
	void *arg;
	struct work_item *next;
} work_item;

struct http_work {
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* work queued, or stopping */
	pthread_cond_t gone;    /* a thread left (stop waits on it) */
	work_item *head, *tail;
	unsigned threads, idle, max, queued;
	bool stopping;
};

static void *worker_main(void *arg)
{
	http_work *w = arg;
	pthread_setname_np(pthread_self(), "bb-http-work");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += IDLE_EXIT_S;
			w->idle++;
			int rc = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
			w->idle--;
			if (rc == ETIMEDOUT && !w->head && w->threads > KEEP_WARM)
				goto leave;
		}
		if (!w->head)
			break; /* stopping and nothing left */
		work_item *it = w->head;
		w->head = it->next;
		w->queued--;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->mu);
		it->fn(it->arg);
		free(it);
		pthread_mutex_lock(&w->mu);
	}
leave:
	w->threads--;
	pthread_cond_broadcast(&w->gone);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

bb_err http_work_start(unsigned max, http_work **out)
{
	http_work *w = calloc(1, sizeof *w);
	if (!w)
		return BB_ENOMEM;
	w->max = max ? max : 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->gone, NULL);
	*out = w;
	return BB_OK;
}

bb_err http_work_submit(http_work *w, void (*fn)(void *arg), void *arg)
{
	work_item *it = malloc(sizeof *it);
	if (!it)
		return BB_ENOMEM;
	*it = (work_item){fn, arg, NULL};
	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mu);
		free(it);
		return BB_ESHUTDOWN;
	}
	/* idle workers are spoken for by items already queued ahead of this one */
	if (w->idle <= w->queued && w->threads < w->max) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, WORKER_STACK);
		pthread_t t;
		if (pthread_create(&t, &attr, worker_main, w) == 0)
			w->threads++;
		pthread_attr_destroy(&attr);
		if (w->threads == 0) {
			pthread_mutex_unlock(&w->mu);
			free(it);
			return BB_ENOMEM;
		}
	}
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return BB_OK;
}

void http_work_stop(http_work *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	while (w->threads)
		pthread_cond_wait(&w->gone, &w->mu);
	pthread_mutex_unlock(&w->mu);
	pthread_cond_destroy(&w->gone);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
