/* tests/unit/test_node_hc.c — the small HTTP client of API deliveries (node/deliver_hc.c): which URLs
 * it takes (plain http to a literal address), and its answer parser on Content-Length, chunked,
 * close-delimited and head-only answers, 1xx heads, keep-alive rules and malformed input, fed in
 * every split (one byte at a time up to all at once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "node/deliver_int.h"

static void test_urls(void **state)
{
	(void)state;
	struct sockaddr_storage a;
	socklen_t al;
	char host[300];
	const char *path;
	assert_true(hc_parse_url("http://127.0.0.1:9000/orders?x=1", &a, &al, host, sizeof host, &path));
	assert_string_equal(host, "127.0.0.1:9000");
	assert_string_equal(path, "/orders?x=1");
	assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 9000);
	assert_true(hc_parse_url("http://localhost/", &a, &al, host, sizeof host, &path));
	assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 80);
	assert_true(hc_parse_url("http://[::1]:8080", &a, &al, host, sizeof host, &path));
	assert_string_equal(host, "[::1]:8080");
	assert_string_equal(path, "");
	assert_int_equal(a.ss_family, AF_INET6);
	assert_false(hc_parse_url("https://127.0.0.1/", &a, &al, host, sizeof host, &path));
	assert_false(hc_parse_url("http://example.com/", &a, &al, host, sizeof host, &path));
	assert_false(hc_parse_url("http://u:p@127.0.0.1/", &a, &al, host, sizeof host, &path));
	assert_false(hc_parse_url("http://127.0.0.1:0/", &a, &al, host, sizeof host, &path));
	assert_false(hc_parse_url("http://127.0.0.1:99999/", &a, &al, host, sizeof host, &path));
	assert_false(hc_parse_url("http://127.0.0.1:80x/", &a, &al, host, sizeof host, &path));
}

static void expect(const char *answer, bool head, int want_r, int want_status, bool want_keep)
{
	size_t len = strlen(answer);
	for (size_t step = 1; step <= len; step++) {
		int status = -1;
		bool keep = false;
		int r = hc_test_parse(answer, len, step, head, &status, &keep);
		if (r != want_r || (want_r > 0 && (status != want_status || keep != want_keep)))
			fail_msg("step %zu: r=%d status=%d keep=%d for %s", step, r, status, keep, answer);
	}
}

static void test_answers(void **state)
{
	(void)state;
	expect("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false, 1, 200, true);
	expect("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false, 1, 200, true);
	expect("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy", false, 1, 503, false);
	expect("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 1, 200, false);
	expect("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok", false, 1, 200, true);
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
	       false, 1, 200, true);
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n", false, 1, 200, true);
	expect("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", false, 1, 201, true);
	expect("HTTP/1.1 204 No Content\r\n\r\n", false, 1, 204, true);
	expect("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, 1, 200, true); /* HEAD: no body */
	expect("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nsome body", false, 2, 200, false); /* ends at the close */
	expect("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", false, 0, 0, false);
	expect("garbage\r\n\r\n", false, -1, 0, false);
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, -1, 0, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
