/* bench/bench_ingest.c — `busbar-bench ingest`: SigV4-signed PutEvents over keep-alive connections.
 *
 *   busbar-bench ingest [--endpoint 127.0.0.1:4010] [--clients 16] [--seconds 10] [--rate 0]
 *                       [--bus default] [--event-bytes 1024] [--batch 10]
 *
 * Each client is a thread with one persistent HTTP/1.1 connection (plain sockets, no library) that
 * sends AWSEvents.PutEvents requests of --batch entries with a --event-bytes Detail, signed with the
 * dev key (test/test, us-east-1) by policy/'s signer. Closed loop by default (next request when the
 * answer arrived); with --rate R (events/s over all clients) each client follows a fixed schedule and
 * latency counts from the scheduled send time, so a stall is not hidden (no coordinated omission).
 * An event counts as acknowledged when its entry in a 200 answer carries an EventId: PutEvents
 * answers only after fsync. Prints one line:
 *   mode=ingest clients=N seconds=S batch=B acked_events_per_s=X p50_ms= p99_ms= p999_ms= requests= errors=
 * Latencies are kept per request in a bounded array per client (at most 4M samples overall).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "policy/pol.h"

#define MAX_SAMPLES_PER_CLIENT (4u << 20)

typedef struct cfg {
	char host[64];
	int port;
	int clients;
	double seconds, rate;
	const char *bus;
	int event_bytes, batch;
} cfg;

typedef struct client {
	const cfg *c;
	int id;
	double *lat;
	size_t n_lat, cap_lat;
	uint64_t acked, requests, errors, throttled;
} client;

static int connect_to(const cfg *c)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
	inet_pton(AF_INET, c->host, &a.sin_addr);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static char *make_body(const cfg *c, int client_id, size_t *len)
{
	size_t cap = (size_t)c->batch * ((size_t)c->event_bytes + 256) + 64;
	char *b = malloc(cap);
	char *pad = malloc((size_t)c->event_bytes + 1);
	if (!b || !pad)
		exit(2);
	memset(pad, 'x', (size_t)c->event_bytes);
	pad[c->event_bytes > 40 ? c->event_bytes - 40 : 0] = '\0';
	size_t n = (size_t)snprintf(b, cap, "{\"Entries\":[");
	for (int i = 0; i < c->batch; i++)
		n += (size_t)snprintf(b + n, cap - n,
				      "%s{\"Source\":\"bench\",\"DetailType\":\"load\",\"EventBusName\":\"%s\","
				      "\"Detail\":\"{\\\"client\\\":%d,\\\"i\\\":%d,\\\"pad\\\":\\\"%s\\\"}\"}",
				      i ? "," : "", c->bus, client_id, i, pad);
	n += (size_t)snprintf(b + n, cap - n, "]}");
	free(pad);
	*len = n;
	return b;
}

/* Sends one signed request and reads the answer; returns acked entries, or -1 on a connection error,
 * -2 on an HTTP error (throttled etc.). */
static int one_request(int fd, const cfg *c, const char *body, size_t blen, char *resp, size_t rcap, bool *throttled)
{
	char amz_date[32], host[96];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(host, sizeof host, "%s:%d", c->host, c->port);
	pol_header h[4] = {
		{"content-type", 12, "application/x-amz-json-1.1", 26},
		{"host", 4, host, strlen(host)},
		{"x-amz-date", 10, amz_date, strlen(amz_date)},
		{"x-amz-target", 12, "AWSEvents.PutEvents", 19},
	};
	pol_request rq = {"POST", "/", "", h, 4, (const uint8_t *)body, blen};
	char auth[512];
	if (pol_sigv4_sign(&rq, "test", "test", "us-east-1", "events", amz_date, auth, sizeof auth) != BB_OK)
		return -1;
	char head[1024];
	int hl = snprintf(head, sizeof head,
			  "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Date: %s\r\n"
			  "X-Amz-Target: AWSEvents.PutEvents\r\nAuthorization: %s\r\nContent-Length: %zu\r\n\r\n",
			  host, amz_date, auth, blen);
	if (write(fd, head, (size_t)hl) != hl || write(fd, body, blen) != (ssize_t)blen)
		return -1;
	size_t got = 0;
	char *hdr_end = NULL;
	while (!hdr_end) {
		ssize_t r = read(fd, resp + got, rcap - 1 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
		resp[got] = '\0';
		hdr_end = strstr(resp, "\r\n\r\n");
		if (!hdr_end && got >= rcap - 1)
			return -1;
	}
	const char *cl = strcasestr(resp, "Content-Length:");
	size_t clen = cl && cl < hdr_end ? strtoul(cl + 15, NULL, 10) : 0;
	size_t total = (size_t)(hdr_end + 4 - resp) + clen;
	if (total >= rcap)
		return -1;
	while (got < total) {
		ssize_t r = read(fd, resp + got, total - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	resp[got] = '\0';
	int status = atoi(resp + 9);
	if (status != 200) {
		*throttled = strstr(hdr_end, "ThrottlingException") != NULL;
		return -2;
	}
	const char *f = strstr(hdr_end, "\"FailedEntryCount\":");
	int failed = f ? atoi(f + 19) : c->batch;
	return c->batch - failed;
}

static void *client_main(void *arg)
{
	client *cl = arg;
	const cfg *c = cl->c;
	size_t blen;
	char *body = make_body(c, cl->id, &blen);
	char *resp = malloc(1 << 16);
	int fd = connect_to(c);
	double start = bench_now(), end = start + c->seconds;
	double interval = c->rate > 0 ? (double)c->batch * c->clients / c->rate : 0;
	double next = start + (interval > 0 ? interval * cl->id / c->clients : 0);
	while (fd >= 0) {
		double t0 = bench_now();
		if (t0 >= end)
			break;
		if (interval > 0) {
			if (next > t0) {
				struct timespec ts = {0, (long)((next - t0) * 1e9)};
				nanosleep(&ts, NULL);
			}
			t0 = next; /* latency from the intended send time */
			next += interval;
		}
		bool throttled = false;
		int r = one_request(fd, c, body, blen, resp, 1 << 16, &throttled);
		double t1 = bench_now();
		cl->requests++;
		if (r >= 0) {
			cl->acked += (uint64_t)r;
			if (cl->n_lat < cl->cap_lat)
				cl->lat[cl->n_lat++] = (t1 - t0) * 1000.0;
		} else {
			cl->errors++;
			cl->throttled += throttled;
			if (r == -1) {
				close(fd);
				fd = connect_to(c);
			}
		}
	}
	if (fd >= 0)
		close(fd);
	free(resp);
	free(body);
	return NULL;
}

static double pct(double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1));
	return v[i];
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int bench_ingest(int argc, char **argv)
{
	cfg c = {.port = 4010, .clients = 16, .seconds = 10, .rate = 0, .bus = "default", .event_bytes = 1024, .batch = 10};
	snprintf(c.host, sizeof c.host, "127.0.0.1");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			goto usage;
		if (strcmp(a, "--endpoint") == 0) {
			const char *hp = strncmp(v, "http://", 7) == 0 ? v + 7 : v;
			if (sscanf(hp, "%63[^:]:%d", c.host, &c.port) != 2)
				goto usage;
		} else if (strcmp(a, "--clients") == 0)
			c.clients = atoi(v);
		else if (strcmp(a, "--seconds") == 0)
			c.seconds = atof(v);
		else if (strcmp(a, "--rate") == 0)
			c.rate = atof(v);
		else if (strcmp(a, "--bus") == 0)
			c.bus = v;
		else if (strcmp(a, "--event-bytes") == 0)
			c.event_bytes = atoi(v);
		else if (strcmp(a, "--batch") == 0)
			c.batch = atoi(v);
		else
			goto usage;
		i++;
	}
	if (c.clients < 1 || c.clients > 1024 || c.seconds <= 0 || c.batch < 1 || c.batch > 10 || c.event_bytes < 64 ||
	    c.event_bytes > 20000)
		goto usage;
	client *cl = calloc((size_t)c.clients, sizeof *cl);
	pthread_t *th = calloc((size_t)c.clients, sizeof *th);
	size_t per = MAX_SAMPLES_PER_CLIENT / (size_t)c.clients;
	for (int i = 0; i < c.clients; i++) {
		cl[i] = (client){.c = &c, .id = i, .cap_lat = per};
		cl[i].lat = malloc(per * sizeof(double));
		pthread_create(&th[i], NULL, client_main, &cl[i]);
	}
	double t0 = bench_now();
	uint64_t acked = 0, reqs = 0, errs = 0, thr = 0;
	size_t n = 0;
	for (int i = 0; i < c.clients; i++)
		pthread_join(th[i], NULL);
	double el = bench_now() - t0;
	for (int i = 0; i < c.clients; i++) {
		acked += cl[i].acked;
		reqs += cl[i].requests;
		errs += cl[i].errors;
		thr += cl[i].throttled;
		n += cl[i].n_lat;
	}
	double *all = malloc((n ? n : 1) * sizeof(double));
	size_t k = 0;
	for (int i = 0; i < c.clients; i++) {
		memcpy(all + k, cl[i].lat, cl[i].n_lat * sizeof(double));
		k += cl[i].n_lat;
		free(cl[i].lat);
	}
	qsort(all, n, sizeof(double), cmp);
	printf("mode=ingest clients=%d seconds=%.1f batch=%d event_bytes=%d rate=%.0f acked_events_per_s=%.0f "
	       "p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f requests=%llu errors=%llu throttled=%llu\n",
	       c.clients, el, c.batch, c.event_bytes, c.rate, (double)acked / el, pct(all, n, 0.5), pct(all, n, 0.99),
	       pct(all, n, 0.999), (unsigned long long)reqs, (unsigned long long)errs, (unsigned long long)thr);
	free(all);
	free(cl);
	free(th);
	return errs && !acked ? 1 : 0;
usage:
	fprintf(stderr, "usage: busbar-bench ingest [--endpoint host:port] [--clients N] [--seconds S] [--rate EVENTS_PER_S]\n"
			"                           [--bus NAME] [--event-bytes N] [--batch 1..10]\n");
	return 2;
}
