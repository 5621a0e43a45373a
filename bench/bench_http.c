/* bench/bench_http.c — the benchmarks' HTTP/1.1 client: endpoint parsing, one blocking keep-alive
 * connection per thread, SigV4-signed AWS JSON requests (policy/pol.h's signer), and a small call
 * helper with jansson for setup code.
 *
 * Design: no HTTP library, so the client's cost is visible and small: a request is one sendmsg of
 * head + body, a response is read into a reusable buffer and parsed in place (Content-Length or
 * chunked). Timeouts are SO_SNDTIMEO/SO_RCVTIMEO per connection. Any error closes the socket; the next
 * exchange reconnects, so callers just count the error and go on.
 */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench_net.h"
#include "policy/pol.h"

const bench_creds bench_dev_creds = {"test", "test", "us-east-1"};

const char *bench_net_errname(bench_net_err e)
{
	switch (e) {
	case BENCH_NET_OK: return "ok";
	case BENCH_NET_CONNECT: return "connect_error";
	case BENCH_NET_IO: return "io_error";
	case BENCH_NET_TIMEOUT: return "timeout";
	case BENCH_NET_PROTO: return "bad_response";
	}
	return "?";
}

int bench_endpoint_parse(const char *url, bench_endpoint *ep, char *err, size_t cap)
{
	memset(ep, 0, sizeof *ep);
	const char *p = url;
	const char *def_port = "80";
	if (strncasecmp(p, "https://", 8) == 0) {
		snprintf(err, cap, "https endpoints are not supported: %s", url);
		return -1;
	}
	if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= sizeof ep->hostport) {
		snprintf(err, cap, "bad endpoint: %s", url);
		return -1;
	}
	memcpy(ep->hostport, p, n);
	char port[16];
	const char *hp = ep->hostport, *colon;
	if (hp[0] == '[') { /* [v6]:port */
		const char *rb = strchr(hp, ']');
		if (!rb) {
			snprintf(err, cap, "bad endpoint: %s", url);
			return -1;
		}
		snprintf(ep->host, sizeof ep->host, "%.*s", (int)(rb - hp - 1), hp + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strrchr(hp, ':');
		snprintf(ep->host, sizeof ep->host, "%.*s", colon ? (int)(colon - hp) : (int)strlen(hp), hp);
	}
	snprintf(port, sizeof port, "%s", colon ? colon + 1 : def_port);
	snprintf(ep->url, sizeof ep->url, "http://%s", ep->hostport);

	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(ep->host, port, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, cap, "cannot resolve %s: %s", ep->hostport, gai_strerror(rc));
		return -1;
	}
	memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
	ep->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- connection ------------------------------------------------------------------------------- */

void bench_conn_init(bench_conn *c, const bench_endpoint *ep, int timeout_ms)
{
	memset(c, 0, sizeof *c);
	c->ep = ep;
	c->fd = -1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
}

void bench_conn_close(bench_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reused = false;
	c->in_len = c->in_off = 0;
}

void bench_conn_free(bench_conn *c)
{
	bench_conn_close(c);
	free(c->in);
	free(c->body);
	c->in = c->body = NULL;
	c->in_cap = c->body_cap = 0;
}

bench_net_err bench_conn_connect(bench_conn *c)
{
	if (c->fd >= 0)
		return BENCH_NET_OK;
	int fd = socket(c->ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return BENCH_NET_CONNECT;
	struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (const struct sockaddr *)&c->ep->addr, c->ep->addrlen) != 0) {
		close(fd);
		return BENCH_NET_CONNECT;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	c->reused = false;
	c->in_len = c->in_off = 0;
	return BENCH_NET_OK;
}

static bench_net_err send_all(int fd, const char *head, size_t hl, const void *body, size_t bl)
{
	struct iovec iov[2] = {{(void *)head, hl}, {(void *)body, bl}};
	int iovcnt = bl ? 2 : 1;
	struct iovec *v = iov;
	while (iovcnt > 0) {
		struct msghdr m;
		memset(&m, 0, sizeof m);
		m.msg_iov = v;
		m.msg_iovlen = (size_t)iovcnt;
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? BENCH_NET_TIMEOUT : BENCH_NET_IO;
		}
		size_t left = (size_t)w;
		while (iovcnt > 0 && left >= v->iov_len) {
			left -= v->iov_len;
			v++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			v->iov_base = (char *)v->iov_base + left;
			v->iov_len -= left;
		}
	}
	return BENCH_NET_OK;
}

/* Reads more bytes into c->in (growing it up to the bound). */
static bench_net_err fill(bench_conn *c)
{
	if (c->in_cap - c->in_len < 16384) {
		size_t ncap = c->in_cap ? c->in_cap * 2 : 65536;
		if (ncap > BENCH_HTTP_MAX_RESPONSE + 65536)
			return BENCH_NET_PROTO;
		char *nb = realloc(c->in, ncap);
		if (!nb)
			return BENCH_NET_PROTO;
		c->in = nb;
		c->in_cap = ncap;
	}
	for (;;) {
		ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
		if (r > 0) {
			c->in_len += (size_t)r;
			c->in[c->in_len] = '\0';
			return BENCH_NET_OK;
		}
		if (r == 0)
			return BENCH_NET_IO;
		if (errno == EINTR)
			continue;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? BENCH_NET_TIMEOUT : BENCH_NET_IO;
	}
}

/* Case-insensitive header lookup within head[0..len): value span of the first `name:` line. */
static bool header_value(const char *head, size_t len, const char *name, const char **v, size_t *vl)
{
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;
	while (p && p + 1 < end) {
		const char *line = p + 1;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *s = line + nl + 1, *e = eol;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*v = s;
			*vl = (size_t)(e - s);
			return true;
		}
		p = eol < end ? eol : NULL;
	}
	return false;
}

/* De-chunks the body starting at c->in + off into c->body. Returns 1 complete (sets *consumed past the
 * last chunk's trailer), 0 need more bytes, -1 malformed. */
static int dechunk(bench_conn *c, size_t off, size_t *body_len, size_t *consumed)
{
	size_t p = off, out = 0;
	for (;;) {
		char *eol = memmem(c->in + p, c->in_len - p, "\r\n", 2);
		if (!eol)
			return 0;
		char *endp;
		unsigned long long sz = strtoull(c->in + p, &endp, 16);
		if (endp == c->in + p || sz > BENCH_HTTP_MAX_RESPONSE)
			return -1;
		p = (size_t)(eol - c->in) + 2;
		if (sz == 0) {
			char *fin = memmem(c->in + p - 2, c->in_len - (p - 2), "\r\n\r\n", 4);
			if (!fin)
				return 0;
			*consumed = (size_t)(fin - c->in) + 4;
			*body_len = out;
			return 1;
		}
		if (c->in_len - p < sz + 2)
			return 0;
		if (out + sz + 1 > c->body_cap) {
			size_t ncap = (out + sz + 1) * 2;
			char *nb = realloc(c->body, ncap);
			if (!nb)
				return -1;
			c->body = nb;
			c->body_cap = ncap;
		}
		memcpy(c->body + out, c->in + p, sz);
		out += sz;
		c->body[out] = '\0';
		p += sz + 2;
	}
}

static bench_net_err read_response(bench_conn *c, bench_resp *r)
{
	/* Drop the previous response's bytes (pipelining is never used, but keep any surplus). */
	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	for (;;) {
		char *hend = c->in_len ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
		if (!hend) {
			if (c->in_len > 65536)
				return BENCH_NET_PROTO;
			bench_net_err e = fill(c);
			if (e)
				return e;
			continue;
		}
		size_t hlen = (size_t)(hend - c->in) + 4;
		if (c->in_len < 12 || strncmp(c->in, "HTTP/1.", 7) != 0)
			return BENCH_NET_PROTO;
		int status = atoi(c->in + 9);
		if (status >= 100 && status < 200) { /* 100 Continue and friends: skip */
			memmove(c->in, c->in + hlen, c->in_len - hlen);
			c->in_len -= hlen;
			continue;
		}
		const char *v;
		size_t vl;
		memset(r, 0, sizeof *r);
		r->status = status;
		if (header_value(c->in, hlen, "connection", &v, &vl) && vl == 5 && strncasecmp(v, "close", 5) == 0)
			r->close = true;
		if (header_value(c->in, hlen, "x-amzn-errortype", &v, &vl)) {
			size_t k = 0;
			while (k < vl && v[k] != ':' && k + 1 < sizeof r->err_type) {
				r->err_type[k] = v[k];
				k++;
			}
			r->err_type[k] = '\0';
		}
		if (header_value(c->in, hlen, "transfer-encoding", &v, &vl) && vl >= 7 &&
		    strncasecmp(v + vl - 7, "chunked", 7) == 0) {
			for (;;) {
				size_t blen, consumed;
				int d = dechunk(c, hlen, &blen, &consumed);
				if (d < 0)
					return BENCH_NET_PROTO;
				if (d > 0) {
					if (!c->body) { /* empty chunked body */
						c->body = malloc(1);
						if (!c->body)
							return BENCH_NET_PROTO;
						c->body_cap = 1;
						c->body[0] = '\0';
					}
					r->body = c->body;
					r->body_len = blen;
					c->in_off = consumed;
					return BENCH_NET_OK;
				}
				bench_net_err e = fill(c);
				if (e)
					return e;
			}
		}
		size_t clen = 0;
		if (header_value(c->in, hlen, "content-length", &v, &vl)) {
			clen = strtoull(v, NULL, 10);
			if (clen > BENCH_HTTP_MAX_RESPONSE)
				return BENCH_NET_PROTO;
		} else if (status != 204 && status != 304) {
			r->close = true; /* body until close: not supported, treat as empty and reconnect */
		}
		while (c->in_len < hlen + clen) {
			bench_net_err e = fill(c);
			if (e)
				return e;
		}
		r->body = c->in + hlen;
		r->body_len = clen;
		c->in_off = hlen + clen;
		return BENCH_NET_OK;
	}
}

bench_net_err bench_conn_exchange(bench_conn *c, const char *head, size_t head_len, const void *body, size_t body_len,
				  bench_resp *r)
{
	bench_net_err e = bench_conn_connect(c);
	if (e)
		return e;
	e = send_all(c->fd, head, head_len, body, body_len);
	if (!e)
		e = read_response(c, r);
	if (e) {
		bench_conn_close(c);
		return e;
	}
	c->reused = true;
	if (r->close) {
		/* The body stays readable: close only the socket. */
		close(c->fd);
		c->fd = -1;
		c->reused = false;
	}
	return BENCH_NET_OK;
}

/* ---- signed AWS JSON requests ---------------------------------------------------------------- */

int bench_aws_head(const bench_endpoint *ep, const bench_creds *cr, const char *service, const char *target,
		   const char *ctype, const void *body, size_t body_len, int64_t wall_ms, char *out, size_t cap)
{
	char date[17], clen[24], auth[512];
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(clen, sizeof clen, "%zu", body_len);
	pol_header h[5] = {
		{"Host", 4, ep->hostport, strlen(ep->hostport)},
		{"X-Amz-Date", 10, date, 16},
		{"X-Amz-Target", 12, target, strlen(target)},
		{"Content-Type", 12, ctype, strlen(ctype)},
		{"Content-Length", 14, clen, strlen(clen)},
	};
	pol_request rq = {"POST", "/", "", h, 5, body, body_len};
	if (pol_sigv4_sign(&rq, cr->access_key, cr->secret, cr->region, service, date, auth, sizeof auth) != BB_OK)
		return -1;
	int n = snprintf(out, cap,
			 "POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nX-Amz-Target: %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %s\r\nAuthorization: %s\r\n\r\n",
			 ep->hostport, date, target, ctype, clen, auth);
	return n > 0 && (size_t)n < cap ? n : -1;
}

static int64_t wall_ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bench_net_err bench_aws_call(bench_conn *c, const bench_creds *cr, const char *op, const char *body, bench_resp *r)
{
	bool sqs = strncmp(op, "AmazonSQS.", 10) == 0;
	char head[BENCH_HEAD_MAX];
	size_t bl = strlen(body);
	int hl = bench_aws_head(c->ep, cr, sqs ? "sqs" : "events", op,
				sqs ? "application/x-amz-json-1.0" : "application/x-amz-json-1.1", body, bl, wall_ms_now(),
				head, sizeof head);
	if (hl < 0)
		return BENCH_NET_PROTO;
	bool was_reused = c->fd >= 0 && c->reused;
	bench_net_err e = bench_conn_exchange(c, head, (size_t)hl, body, bl, r);
	if (e == BENCH_NET_IO && was_reused) /* the server closed an idle keep-alive connection */
		e = bench_conn_exchange(c, head, (size_t)hl, body, bl, r);
	return e;
}

json_t *bench_aws_json(bench_conn *c, const bench_creds *cr, const char *op, const char *body, const char *ok_error,
		       char *err, size_t cap)
{
	bench_resp r;
	bench_net_err e = bench_aws_call(c, cr, op, body, &r);
	if (e) {
		snprintf(err, cap, "%s: %s", op, bench_net_errname(e));
		return NULL;
	}
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
	if (r.status == 200 && j)
		return j;
	const char *type = r.err_type[0] ? r.err_type : NULL;
	const char *msg = "";
	if (j) {
		if (!type)
			type = json_string_value(json_object_get(j, "__type"));
		msg = json_string_value(json_object_get(j, "message"));
		if (!msg)
			msg = json_string_value(json_object_get(j, "Message"));
		if (!msg)
			msg = "";
	}
	if (type && strchr(type, '#'))
		type = strchr(type, '#') + 1;
	if (type && ok_error && strcmp(type, ok_error) == 0) {
		json_decref(j);
		return json_object();
	}
	snprintf(err, cap, "%s: HTTP %d %s: %s", op, r.status, type ? type : "?", msg);
	json_decref(j);
	return NULL;
}

int bench_http_get(bench_conn *c, const char *path, bench_resp *r)
{
	char head[512];
	int hl = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, c->ep->hostport);
	if (hl < 0 || (size_t)hl >= sizeof head)
		return -1;
	bool was_reused = c->fd >= 0 && c->reused;
	bench_net_err e = bench_conn_exchange(c, head, (size_t)hl, NULL, 0, r);
	if (e == BENCH_NET_IO && was_reused)
		e = bench_conn_exchange(c, head, (size_t)hl, NULL, 0, r);
	return e ? -1 : r->status;
}
