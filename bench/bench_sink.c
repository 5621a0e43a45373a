/* bench/bench_sink.c — the in-process HTTP sink the end-to-end benchmark points its API destination at.
 *
 * Design: one thread, one epoll set, non-blocking sockets, HTTP/1.1 keep-alive. Every complete
 * request (Content-Length or chunked body) is answered `200 {}` and its body handed to the delivery
 * tracker with the time it was complete; `Expect: 100-continue` gets its interim answer. The thread
 * owns every connection and its buffers; a connection whose request exceeds SINK_MAX_REQUEST or is
 * malformed is closed. Answers are tiny, so the output buffer is bounded too (a peer that never reads
 * is dropped). The sink is not the measured system: it does nothing but parse and answer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_net.h"
#include "common/bb.h"

#define SINK_MAX_REQUEST (4u << 20)
#define SINK_MAX_OUT 65536
#define SINK_EVENTS 64

static const char sink_ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
static const char sink_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

typedef struct sconn {
	struct sconn *prev, *next; /* every open connection, for the stop */
	int fd;
	char *in;
	size_t in_len, in_cap;
	char out[SINK_MAX_OUT];
	size_t out_len;
	bool continued; /* 100 Continue sent for the current request */
	bool want_out;  /* EPOLLOUT is armed */
	bool close_after;
} sconn;

struct bench_sink {
	int lfd, epfd;
	pthread_t th;
	_Atomic bool stop;
	bench_track *t;
	sconn *conns; /* list of open connections */
	bench_hist h;
	uint64_t requests;
	char *scratch; /* de-chunked body */
	size_t scratch_cap;
};

static void sconn_free(bench_sink *s, sconn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c);
}

/* Header value of name within head[0..len) (case-insensitive), or NULL. */
static const char *hval(const char *head, size_t len, const char *name, size_t *vl)
{
	size_t nl = strlen(name);
	const char *p = head, *end = head + len;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p++;
		if ((size_t)(end - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1, *e = memchr(v, '\r', (size_t)(end - v));
			while (v < end && *v == ' ')
				v++;
			*vl = e ? (size_t)(e - v) : 0;
			return v;
		}
	}
	return NULL;
}

/* De-chunks from in[off..len). 1 = complete (*consumed, body in s->scratch[*blen]), 0 = need more, -1 bad. */
static int sink_dechunk(bench_sink *s, const char *in, size_t off, size_t len, size_t *blen, size_t *consumed)
{
	size_t p = off, o = 0;
	for (;;) {
		const char *eol = memmem(in + p, len - p, "\r\n", 2);
		if (!eol)
			return 0;
		char *endp;
		unsigned long long sz = strtoull(in + p, &endp, 16);
		if (endp == in + p || sz > SINK_MAX_REQUEST)
			return -1;
		p = (size_t)(eol - in) + 2;
		if (sz == 0) {
			const char *fin = memmem(in + p - 2, len - (p - 2), "\r\n\r\n", 4);
			if (!fin)
				return 0;
			*consumed = (size_t)(fin - in) + 4;
			*blen = o;
			return 1;
		}
		if (len - p < sz + 2)
			return 0;
		if (o + sz > s->scratch_cap) {
			size_t ncap = (o + sz) * 2;
			char *nb = realloc(s->scratch, ncap);
			if (!nb)
				return -1;
			s->scratch = nb;
			s->scratch_cap = ncap;
		}
		memcpy(s->scratch + o, in + p, sz);
		o += sz;
		p += sz + 2;
	}
}

static bool out_add(sconn *c, const char *b, size_t n)
{
	if (c->out_len + n > sizeof c->out)
		return false;
	memcpy(c->out + c->out_len, b, n);
	c->out_len += n;
	return true;
}

/* Parses every complete request in c->in. Returns false when the connection must be closed. */
static bool sink_parse(bench_sink *s, sconn *c)
{
	size_t off = 0;
	bool ok = true;
	while (ok && off < c->in_len) {
		const char *in = c->in + off;
		size_t len = c->in_len - off;
		const char *hend = memmem(in, len, "\r\n\r\n", 4);
		if (!hend) {
			ok = len <= 65536;
			break;
		}
		size_t hl = (size_t)(hend - in) + 4, vl, blen = 0, used;
		const char *body = in + hl;
		const char *v = hval(in, hl, "transfer-encoding", &vl);
		if (v && vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0) {
			int d = sink_dechunk(s, in, hl, len, &blen, &used);
			if (d < 0) {
				ok = false;
				break;
			}
			if (d == 0)
				goto incomplete;
			body = s->scratch;
		} else {
			v = hval(in, hl, "content-length", &vl);
			unsigned long long cl = v ? strtoull(v, NULL, 10) : 0;
			if (cl > SINK_MAX_REQUEST) {
				ok = false;
				break;
			}
			if (len < hl + cl)
				goto incomplete;
			blen = (size_t)cl;
			used = hl + blen;
		}
		bench_track_record(s->t, &s->h, body ? body : "", blen, bb_mono_ns(&bb_clock_system));
		s->requests++;
		v = hval(in, hl, "connection", &vl);
		if (v && vl == 5 && strncasecmp(v, "close", 5) == 0)
			c->close_after = true;
		ok = out_add(c, sink_ok, sizeof sink_ok - 1);
		c->continued = false;
		off += used;
		continue;
	incomplete:
		v = hval(in, hl, "expect", &vl);
		if (v && !c->continued && vl == 12 && strncasecmp(v, "100-continue", 12) == 0) {
			ok = out_add(c, sink_continue, sizeof sink_continue - 1);
			c->continued = true;
		}
		break;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return ok;
}

/* Writes what is pending; arms EPOLLOUT if the socket is full. Returns false on error. */
static bool sink_flush(bench_sink *s, sconn *c)
{
	size_t w = 0;
	while (w < c->out_len) {
		ssize_t n = send(c->fd, c->out + w, c->out_len - w, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return false;
		}
		w += (size_t)n;
	}
	memmove(c->out, c->out + w, c->out_len - w);
	c->out_len -= w;
	if (c->want_out != (c->out_len > 0)) { /* change the interest only when it changes */
		c->want_out = c->out_len > 0;
		struct epoll_event ev = {.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0), .data.ptr = c};
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	}
	return c->out_len || !c->close_after;
}

/* Reads what is available: 0 ok, 1 the peer closed (after what was read), -1 error. A read that did
 * not fill the buffer ends the loop (epoll is level-triggered: anything left wakes us again), which
 * saves the EAGAIN read per request. */
static int sink_read(sconn *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < 16384) {
			size_t ncap = c->in_cap ? c->in_cap * 2 : 32768;
			if (ncap > SINK_MAX_REQUEST + 65536 * 2)
				return -1;
			char *nb = realloc(c->in, ncap);
			if (!nb)
				return -1;
			c->in = nb;
			c->in_cap = ncap;
		}
		size_t room = c->in_cap - c->in_len;
		ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			if ((size_t)n < room)
				return 0;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
}

static void sink_accept(bench_sink *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		sconn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
	}
}

static void *sink_main(void *arg)
{
	bench_sink *s = arg;
	struct epoll_event evs[SINK_EVENTS];
	while (!atomic_load(&s->stop)) {
		int n = epoll_wait(s->epfd, evs, SINK_EVENTS, 100);
		for (int i = 0; i < n; i++) {
			sconn *c = evs[i].data.ptr;
			if (!c) {
				sink_accept(s);
				continue;
			}
			bool alive = true;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				int r = sink_read(c);
				alive = r >= 0 && sink_parse(s, c);
				if (r == 1)
					c->close_after = true;
			}
			if (alive)
				alive = sink_flush(s, c);
			if (!alive)
				sconn_free(s, c);
		}
	}
	while (s->conns)
		sconn_free(s, s->conns);
	return NULL;
}

int bench_sink_start(const char *host, int port, bench_track *t, bench_sink **out, int *port_out)
{
	bench_sink *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	s->t = t;
	bench_hist_init(&s->h);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "busbar-bench: sink address must be an IPv4 address: %s\n", host);
		goto out_free;
	}
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		goto out_free;
	int one = 1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	socklen_t al = sizeof a;
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 512) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0) {
		perror("busbar-bench: sink");
		goto out_close;
	}
	*port_out = ntohs(a.sin_port);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) != 0)
		goto out_epoll;
	if (pthread_create(&s->th, NULL, sink_main, s) != 0)
		goto out_epoll;
	*out = s;
	return 0;
out_epoll:
	if (s->epfd >= 0)
		close(s->epfd);
out_close:
	close(s->lfd);
out_free:
	free(s);
	return -1;
}

void bench_sink_stop(bench_sink *s, bench_hist *h, uint64_t *requests)
{
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
	if (h)
		bench_hist_merge(h, &s->h);
	if (requests)
		*requests = s->requests;
	close(s->epfd);
	close(s->lfd);
	free(s->scratch);
	free(s);
}
