/* tests/unit/test_bench_net.c — the benchmark machinery of bench/bench_net.h: histogram, error tally,
 * endpoint parsing, signed request heads (checked with policy/'s verifier), the HTTP client against a
 * canned server (Content-Length, chunked, 100 Continue, Connection: close), the delivery tracker, and
 * the HTTP sink driven by the client (keep-alive, chunked upload, Expect: 100-continue).
 *
 * Everything runs on loopback in this process; nothing here measures or asserts on time.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench_net.h"
#include "policy/pol.h"

/* ---- histogram and tally ------------------------------------------------------------------------ */

static void test_hist_quantiles(void **state)
{
	(void)state;
	bench_hist h;
	bench_hist_init(&h);
	assert_true(bench_hist_ms(&h, 0.5) == 0);
	for (int64_t v = 1; v <= 100000; v++)
		bench_hist_add(&h, v * 1000); /* 1 us .. 100 ms, uniform */
	assert_int_equal(h.count, 100000);
	double checks[][2] = {{0.5, 50.0}, {0.99, 99.0}, {0.999, 99.9}, {0.1, 10.0}};
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		double got = bench_hist_ms(&h, checks[i][0]), want = checks[i][1];
		assert_true(got > want * (1 - 1.0 / 32) && got < want * (1 + 1.0 / 32));
	}
	assert_true(bench_hist_ms(&h, 1) == 100.0);

	/* small values are exact, negative ones count as 0, huge ones land in the last bucket */
	bench_hist s;
	bench_hist_init(&s);
	bench_hist_add(&s, -5);
	bench_hist_add(&s, 7);
	bench_hist_add(&s, INT64_MAX);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.min_ns, 0);
	assert_int_equal(s.b[0], 1);
	assert_int_equal(s.b[7], 1);
	assert_int_equal(s.b[BENCH_HIST_BUCKETS - 1], 1);

	bench_hist_merge(&h, &s);
	assert_int_equal(h.count, 100003);
	assert_int_equal(h.max_ns, (uint64_t)INT64_MAX);
	assert_int_equal(h.min_ns, 0);
}

static void test_errs(void **state)
{
	(void)state;
	bench_errs a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	char out[2048];
	bench_errs_format(&a, out, sizeof out);
	assert_string_equal(out, "none");
	bench_errs_add(&a, "ThrottlingException", 19, 2);
	bench_errs_add(&a, "ThrottlingExceptionXYZ", 19, 1); /* len counts, not the NUL */
	bench_errs_add(&a, "timeout", 7, 0);                 /* zero adds nothing */
	bench_errs_add(&b, "io_error", 8, 4);
	bench_errs_merge(&a, &b);
	bench_errs_format(&a, out, sizeof out);
	assert_string_equal(out, "ThrottlingException:3,io_error:4");
	assert_int_equal(a.total, 7);
	for (int i = 0; i < BENCH_ERR_KINDS + 3; i++) {
		char name[16];
		int n = snprintf(name, sizeof name, "E%d", i);
		bench_errs_add(&b, name, (size_t)n, 1);
	}
	assert_int_equal(b.kinds, BENCH_ERR_KINDS);
	assert_int_equal(b.other, 4); /* io_error took one of the slots */
	assert_int_equal(b.total, 4 + BENCH_ERR_KINDS + 3);
	bench_errs_format(&b, out, sizeof out);
	assert_non_null(strstr(out, ",other:4"));
}

/* ---- endpoint and signing ----------------------------------------------------------------------- */

static void test_endpoint_parse(void **state)
{
	(void)state;
	bench_endpoint ep;
	char err[256];
	assert_int_equal(bench_endpoint_parse("http://127.0.0.1:4010", &ep, err, sizeof err), 0);
	assert_string_equal(ep.hostport, "127.0.0.1:4010");
	assert_string_equal(ep.host, "127.0.0.1");
	assert_string_equal(ep.url, "http://127.0.0.1:4010");
	assert_int_equal(ntohs(((struct sockaddr_in *)&ep.addr)->sin_port), 4010);
	assert_int_equal(bench_endpoint_parse("127.0.0.1:9/", &ep, err, sizeof err), 0);
	assert_string_equal(ep.hostport, "127.0.0.1:9");
	assert_int_equal(bench_endpoint_parse("http://localhost", &ep, err, sizeof err), 0);
	assert_string_equal(ep.hostport, "localhost");
	assert_int_equal(ntohs(((struct sockaddr_in *)&ep.addr)->sin_port), 80);
	assert_int_equal(bench_endpoint_parse("http://[::1]:4010", &ep, err, sizeof err), 0);
	assert_string_equal(ep.host, "::1");
	assert_int_equal(bench_endpoint_parse("https://127.0.0.1:443", &ep, err, sizeof err), -1);
	assert_int_equal(bench_endpoint_parse("http:///", &ep, err, sizeof err), -1);
}

static bb_err lookup_test(void *ctx, const char *akid, char *secret, size_t cap, char account[13])
{
	(void)ctx;
	(void)cap;
	if (strcmp(akid, "test") != 0)
		return BB_ENOTFOUND;
	strcpy(secret, "test");
	memcpy(account, "000000000000", 13);
	return BB_OK;
}

/* Splits a request head into pol_headers (pointers into a modified copy). */
static size_t split_head(char *head, pol_header *h, size_t max)
{
	size_t n = 0;
	char *line = strstr(head, "\r\n") + 2;
	while (n < max && line[0] != '\r') {
		char *eol = strstr(line, "\r\n"), *colon = strchr(line, ':');
		*eol = '\0';
		h[n].name = line;
		h[n].name_len = (size_t)(colon - line);
		h[n].value = colon + 2;
		h[n].value_len = strlen(colon + 2);
		n++;
		line = eol + 2;
	}
	return n;
}

static void test_aws_head_verifies(void **state)
{
	(void)state;
	bench_endpoint ep;
	char err[256], head[BENCH_HEAD_MAX];
	assert_int_equal(bench_endpoint_parse("http://127.0.0.1:4010", &ep, err, sizeof err), 0);
	const char *body = "{\"Entries\":[]}";
	int64_t now = 1795328421000LL;
	int n = bench_aws_head(&ep, &bench_dev_creds, "events", "AWSEvents.PutEvents", "application/x-amz-json-1.1", body,
			       strlen(body), now, head, sizeof head);
	assert_true(n > 0 && (size_t)n == strlen(head));
	assert_non_null(strstr(head, "POST / HTTP/1.1\r\n"));
	assert_non_null(strstr(head, "X-Amz-Target: AWSEvents.PutEvents\r\n"));
	assert_non_null(strstr(head, "Content-Length: 14\r\n"));
	assert_non_null(strstr(head, "Credential=test/20261122/us-east-1/events/aws4_request"));

	pol_header h[16];
	size_t nh = split_head(head, h, 16);
	pol_request rq = {"POST", "/", "", h, nh, (const uint8_t *)body, strlen(body)};
	pol_verify_opts o = {now, 900, lookup_test, NULL};
	pol_identity who;
	char why[512];
	assert_int_equal(pol_sigv4_verify(&rq, &o, &who, why, sizeof why), BB_OK);
	assert_string_equal(who.service, "events");
	/* a changed body no longer verifies */
	rq.body = (const uint8_t *)"{\"Entries\":[1]}";
	rq.body_len = 15;
	assert_int_equal(pol_sigv4_verify(&rq, &o, &who, why, sizeof why), BB_EAUTHSIG);
	/* a head that does not fit is refused */
	assert_int_equal(bench_aws_head(&ep, &bench_dev_creds, "sqs", "AmazonSQS.ReceiveMessage", "application/x-amz-json-1.0",
					body, strlen(body), now, head, 100),
			 -1);
}

/* ---- the client against a canned server ----------------------------------------------------------- */

typedef struct canned {
	int lfd;
	const char *const *answers; /* one per request, NULL-terminated; written in small pieces */
	int requests;
} canned;

static void *canned_main(void *arg)
{
	canned *c = arg;
	int fd = accept(c->lfd, NULL, NULL);
	char buf[65536];
	size_t len = 0;
	for (const char *const *a = c->answers; *a && fd >= 0; a++) {
		/* read one request (head + Content-Length body) */
		for (;;) {
			char *he = memmem(buf, len, "\r\n\r\n", 4);
			if (he) {
				size_t hl = (size_t)(he - buf) + 4, cl = 0;
				char *p = strcasestr(buf, "content-length:");
				if (p && p < he)
					cl = strtoul(p + 15, NULL, 10);
				if (len >= hl + cl) {
					memmove(buf, buf + hl + cl, len - hl - cl);
					len -= hl + cl;
					break;
				}
			}
			ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
			if (r <= 0)
				goto out;
			len += (size_t)r;
			buf[len] = '\0';
		}
		c->requests++;
		size_t al = strlen(*a);
		for (size_t off = 0; off < al; off += 7) /* small writes: the client must reassemble */
			send(fd, *a + off, al - off < 7 ? al - off : 7, MSG_NOSIGNAL);
	}
out:
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_client_responses(void **state)
{
	(void)state;
	static const char *const answers[] = {
		"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 22\r\n\r\n"
		"{\"FailedEntryCount\":0}",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ThrottlingException:http://x\r\n"
		"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
		NULL};
	int port;
	canned cs = {listen_any(&port), answers, 0};
	pthread_t th;
	pthread_create(&th, NULL, canned_main, &cs);
	char url[64], err[128];
	snprintf(url, sizeof url, "127.0.0.1:%d", port);
	bench_endpoint ep;
	assert_int_equal(bench_endpoint_parse(url, &ep, err, sizeof err), 0);
	bench_conn c;
	bench_conn_init(&c, &ep, 10000);
	bench_resp r;
	const char *head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n";

	assert_int_equal(bench_conn_exchange(&c, head, strlen(head), "abc", 3, &r), BENCH_NET_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 22);
	assert_memory_equal(r.body, "{\"FailedEntryCount\":0}", 22);
	assert_false(r.close);

	assert_int_equal(bench_conn_exchange(&c, head, strlen(head), "abc", 3, &r), BENCH_NET_OK);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.err_type, "ThrottlingException");
	assert_int_equal(r.body_len, 11);
	assert_memory_equal(r.body, "hello world", 11);

	assert_int_equal(bench_conn_exchange(&c, head, strlen(head), "abc", 3, &r), BENCH_NET_OK);
	assert_int_equal(r.status, 200);
	assert_true(r.close);
	assert_memory_equal(r.body, "{}", 2);
	assert_int_equal(c.fd, -1); /* closed as asked */

	pthread_join(th, NULL);
	assert_int_equal(cs.requests, 3);
	/* the server is gone: the next exchange fails to connect and says so */
	close(cs.lfd);
	assert_int_equal(bench_conn_exchange(&c, head, strlen(head), "abc", 3, &r), BENCH_NET_CONNECT);
	bench_conn_free(&c);
}

/* ---- tracker and sink ---------------------------------------------------------------------------- */

static void test_track(void **state)
{
	(void)state;
	bench_track t;
	bench_hist h;
	bench_hist_init(&h);
	assert_int_equal(bench_track_init(&t, 100), 0);
	const char *raw = "{\"detail\":{\"bench_seq\":5,\"bench_t_ns\":1000,\"pad\":\"x\"}}";
	const char *esc = "{\\\"bench_seq\\\": 6,\\\"bench_t_ns\\\":1500}";
	bench_track_record(&t, &h, raw, strlen(raw), 3000);
	bench_track_record(&t, &h, esc, strlen(esc), 3000);
	bench_track_record(&t, &h, raw, strlen(raw), 4000); /* duplicate */
	bench_track_record(&t, &h, "{\"other\":1}", 11, 4000);
	const char *big = "{\"bench_seq\":100,\"bench_t_ns\":0}"; /* beyond the bitmap */
	bench_track_record(&t, &h, big, strlen(big), 10);
	assert_int_equal(atomic_load(&t.delivered), 3);
	assert_int_equal(atomic_load(&t.duplicates), 1);
	assert_int_equal(atomic_load(&t.foreign), 1);
	assert_int_equal(atomic_load(&t.unchecked), 1);
	assert_int_equal(h.count, 3);
	assert_int_equal(h.max_ns, 2000);
	assert_int_equal(h.min_ns, 10);
	bench_track_free(&t);
}

static void test_sink(void **state)
{
	(void)state;
	bench_track t;
	assert_int_equal(bench_track_init(&t, 64), 0);
	bench_sink *s;
	int port;
	assert_int_equal(bench_sink_start("127.0.0.1", 0, &t, &s, &port), 0);
	char url[64], err[128];
	snprintf(url, sizeof url, "127.0.0.1:%d", port);
	bench_endpoint ep;
	assert_int_equal(bench_endpoint_parse(url, &ep, err, sizeof err), 0);
	bench_conn c;
	bench_conn_init(&c, &ep, 10000);
	bench_resp r;

	char head[256], body[128];
	for (int i = 0; i < 3; i++) { /* keep-alive: one connection, several requests */
		int bl = snprintf(body, sizeof body, "{\"bench_seq\":%d,\"bench_t_ns\":1}", i);
		int hl = snprintf(head, sizeof head, "POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", bl);
		assert_int_equal(bench_conn_exchange(&c, head, (size_t)hl, body, (size_t)bl, &r), BENCH_NET_OK);
		assert_int_equal(r.status, 200);
		assert_memory_equal(r.body, "{}", 2);
	}
	int fd = c.fd;
	/* chunked upload with Expect: 100-continue (the client skips the interim answer) */
	const char *ch = "POST /sink HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n";
	const char *cb = "d\r\n{\"bench_seq\":\r\n12\r\n 7,\"bench_t_ns\":1}\r\n0\r\n\r\n";
	assert_int_equal(bench_conn_exchange(&c, ch, strlen(ch), cb, strlen(cb), &r), BENCH_NET_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(c.fd, fd);
	/* a duplicate, then Connection: close */
	const char *cl = "POST /sink HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 30\r\n\r\n";
	assert_int_equal(bench_conn_exchange(&c, cl, strlen(cl), "{\"bench_seq\":1,\"bench_t_ns\":1}", 30, &r), BENCH_NET_OK);
	assert_int_equal(r.status, 200);
	/* the sink closes after answering: the next exchange on that socket must fail or reconnect */
	bench_conn_free(&c);

	bench_hist h;
	bench_hist_init(&h);
	uint64_t requests = 0;
	bench_sink_stop(s, &h, &requests);
	assert_int_equal(requests, 5);
	assert_int_equal(atomic_load(&t.delivered), 4);
	assert_int_equal(atomic_load(&t.duplicates), 1);
	assert_int_equal(h.count, 4);
	bench_track_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_quantiles), cmocka_unit_test(test_errs),
		cmocka_unit_test(test_endpoint_parse), cmocka_unit_test(test_aws_head_verifies),
		cmocka_unit_test(test_client_responses), cmocka_unit_test(test_track),
		cmocka_unit_test(test_sink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
