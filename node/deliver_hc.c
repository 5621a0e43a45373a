/* node/deliver_hc.c — a small HTTP/1.1 client for plain-http API destinations at a literal address
 * (127.0.0.1, [::1], localhost): the local webhooks self-hosted users point Busbar at.
 *
 * Why not libcurl for these too: per delivery libcurl spent ~75k instructions (URL parsing, header
 * building and matching, connection-cache lookups, timers) — more than the rest of the delivery —
 * and a delivery is one small POST on a keep-alive connection. Everything else (https, host names,
 * proxies, user info in the URL) still goes through libcurl (deliver_http.c); the request is the same
 * either way: the prepared head (request line, Host, Accept, the connection's and target's headers,
 * Content-Type, User-Agent) plus Content-Length and the body.
 *
 * Connections: non-blocking sockets with TCP_NODELAY, kept alive per address in a pool (idle ones are
 * polled too, so one the server closes is dropped at once, and at most POOL_IDLE_MAX stay idle). A
 * request on a reused connection that dies before any byte of an answer is sent again once on a new
 * connection (the server closed it while idle). Answers: status line and headers (at most 64 KiB),
 * then a body by Content-Length, chunked, or up to the close; 1xx answers are skipped. Timeouts: the
 * connect and whole-request timeouts of the node (--http-connect-timeout-ms, --http-timeout-ms).
 *
 * Everything here runs on the delivery thread; its sockets are polled together with libcurl's
 * (curl_multi_poll's extra descriptors).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "deliver_int.h"

#define HEAD_MAX (64 * 1024)
#define POOL_IDLE_MAX 64
#define IDLE_CLOSE_NS (55ll * 1000000000) /* below common server keep-alive timeouts (60 s) */

enum { C_IDLE = 0, C_CONNECTING, C_SENDING, C_READING };

typedef struct hc_pool hc_pool;

struct hc_conn {
	hc_pool *pool;
	int fd;
	int state;
	job *j;
	bool reused;            /* served a request before this one */
	bool got_bytes;         /* some of the answer arrived */
	int conn_err;           /* connect failed at once with this errno */
	int64_t idle_since_ns, connect_deadline_ns, deadline_ns;
	/* request */
	char clen[64];
	struct iovec out[3];
	int out_i, out_n;
	/* answer */
	char *in;
	size_t in_len, in_cap;
	bool head_done, chunked, close_delim, keep_alive;
	int status;
	uint64_t body_left;     /* Content-Length bytes, or the current chunk's */
	int chunk_state;        /* 0 size line, 1 data, 2 CRLF after data, 3 trailers */
};

struct hc_pool {
	hc_pool *next;
	struct sockaddr_storage addr;
	socklen_t alen;
	hc_conn *idle[POOL_IDLE_MAX];
	unsigned n_idle;
};

struct hc_state {
	hc_pool *pools;
	hc_conn **conns;        /* every open connection (busy or idle): what is polled */
	size_t n, cap;
	struct curl_waitfd *fds;
	size_t fds_cap;
};

/* ---- the prepared request ------------------------------------------------------------------- */

bool hc_parse_url(const char *url, struct sockaddr_storage *addr, socklen_t *alen, char *host, size_t host_cap,
		  const char **path)
{
	if (strncmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + 7, *end = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(end - h)))
		return false; /* user info: libcurl's job */
	char name[256];
	unsigned port = 80;
	const char *colon;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb || (size_t)(rb - h - 1) >= sizeof name)
			return false;
		memcpy(name, h + 1, (size_t)(rb - h - 1));
		name[rb - h - 1] = '\0';
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (!colon && rb + 1 != end)
			return false;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		const char *ne = colon ? colon : end;
		if ((size_t)(ne - h) >= sizeof name || ne == h)
			return false;
		memcpy(name, h, (size_t)(ne - h));
		name[ne - h] = '\0';
	}
	if (colon) {
		char *pe;
		unsigned long p = strtoul(colon + 1, &pe, 10);
		if (pe != end || p == 0 || p > 65535)
			return false;
		port = (unsigned)p;
	}
	memset(addr, 0, sizeof *addr);
	struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
	if (strcasecmp(name, "localhost") == 0 || inet_pton(AF_INET, name, &a4->sin_addr) == 1) {
		if (strcasecmp(name, "localhost") == 0)
			inet_pton(AF_INET, "127.0.0.1", &a4->sin_addr);
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*alen = sizeof *a4;
	} else if (inet_pton(AF_INET6, name, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*alen = sizeof *a6;
	} else {
		return false; /* a host name: libcurl resolves it */
	}
	snprintf(host, host_cap, "%.*s", (int)(end - h), h);
	*path = end;
	return true;
}

/* ---- connections ------------------------------------------------------------------------------ */

static struct hc_state *state_of(deliver *d)
{
	if (!d->hc)
		d->hc = calloc(1, sizeof *d->hc);
	return d->hc;
}

static hc_pool *pool_of(deliver *d, const struct sockaddr_storage *addr, socklen_t alen)
{
	struct hc_state *st = state_of(d);
	if (!st)
		return NULL;
	for (hc_pool *p = st->pools; p; p = p->next)
		if (p->alen == alen && memcmp(&p->addr, addr, alen) == 0)
			return p;
	hc_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	memcpy(&p->addr, addr, alen);
	p->alen = alen;
	p->next = st->pools;
	st->pools = p;
	return p;
}

static bool track(struct hc_state *st, hc_conn *c)
{
	if (st->n == st->cap) {
		size_t nc = st->cap ? st->cap * 2 : 64;
		hc_conn **nv = realloc(st->conns, nc * sizeof *nv);
		if (!nv)
			return false;
		st->conns = nv;
		st->cap = nc;
	}
	st->conns[st->n++] = c;
	return true;
}

static void conn_close(deliver *d, hc_conn *c)
{
	struct hc_state *st = d->hc;
	for (size_t i = 0; i < st->n; i++)
		if (st->conns[i] == c) {
			st->conns[i] = st->conns[--st->n];
			break;
		}
	for (size_t i = 0; i < st->fds_cap; i++)
		if (st->fds[i].fd == c->fd)
			st->fds[i].revents = 0; /* this round's readiness was for this connection only */
	hc_pool *p = c->pool;
	for (unsigned i = 0; i < p->n_idle; i++)
		if (p->idle[i] == c) {
			p->idle[i] = p->idle[--p->n_idle];
			break;
		}
	close(c->fd);
	free(c->in);
	free(c);
}

static hc_conn *conn_open(deliver *d, hc_pool *p)
{
	int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	hc_conn *c = calloc(1, sizeof *c);
	if (!c || !track(d->hc, c)) {
		free(c);
		close(fd);
		return NULL;
	}
	c->pool = p;
	c->fd = fd;
	c->state = C_CONNECTING;
	if (connect(fd, (struct sockaddr *)&p->addr, p->alen) != 0 && errno != EINPROGRESS)
		c->conn_err = errno; /* refused at once: reported by the first poll round */
	return c;
}

/* ---- a request ----------------------------------------------------------------------------- */

static void start_on(deliver *d, hc_conn *c, job *j, int64_t now_ns)
{
	node *n = d->n;
	http_prep *p = j->prep;
	c->j = j;
	j->hc = c;
	c->got_bytes = false;
	c->in_len = 0;
	c->head_done = c->chunked = c->close_delim = false;
	c->keep_alive = true;
	c->status = 0;
	c->chunk_state = 0;
	c->deadline_ns = now_ns + (int64_t)n->cfg.http_timeout_ms * 1000000;
	if (c->state == C_CONNECTING)
		c->connect_deadline_ns = now_ns + (int64_t)n->cfg.http_connect_timeout_ms * 1000000;
	c->out_n = 0;
	c->out[c->out_n++] = (struct iovec){p->hc_head, p->hc_head_len};
	if (p->hc_body) {
		int l = snprintf(c->clen, sizeof c->clen, "Content-Length: %zu\r\n\r\n", j->payload_len);
		c->out[c->out_n++] = (struct iovec){c->clen, (size_t)l};
		if (j->payload_len)
			c->out[c->out_n++] = (struct iovec){j->payload, j->payload_len};
	} else {
		c->out[c->out_n++] = (struct iovec){(void *)"\r\n", 2};
	}
	c->out_i = 0;
	if (c->state == C_IDLE)
		c->state = C_SENDING;
}

int hc_start(deliver *d, job *j, int64_t now_ns)
{
	http_prep *p = j->prep;
	hc_pool *pool = pool_of(d, &p->hc_addr, p->hc_alen);
	if (!pool)
		return -1;
	hc_conn *c = NULL;
	while (pool->n_idle && !c) {
		c = pool->idle[--pool->n_idle];
		c->reused = true;
	}
	if (!c && !(c = conn_open(d, pool)))
		return -1;
	start_on(d, c, j, now_ns);
	return 0;
}

/* The request ended: hand the job back (status, or err with its message), keep or close c. */
static void finish(deliver *d, hc_conn *c, int status, int err, const char *why)
{
	job *j = c->j;
	c->j = NULL;
	j->hc = NULL;
	bool keep = err == 0 && c->keep_alive && !c->close_delim && c->pool->n_idle < POOL_IDLE_MAX;
	if (keep) {
		c->state = C_IDLE;
		c->idle_since_ns = bb_mono_ns(d->n->clock);
		c->pool->idle[c->pool->n_idle++] = c;
	} else {
		conn_close(d, c);
	}
	http_outcome(d, j, status, err, why);
	hc_job_ended(d, j);
}

/* The connection broke: send again once on a new one if nothing of the answer came and it was a
 * reused connection (the server closed it while idle); else fail the request. */
static void broken(deliver *d, hc_conn *c, const char *why)
{
	job *j = c->j;
	if (c->reused && !c->got_bytes) {
		hc_pool *pool = c->pool;
		c->j = NULL;
		j->hc = NULL;
		conn_close(d, c);
		hc_conn *nc = conn_open(d, pool);
		if (nc) {
			start_on(d, nc, j, bb_mono_ns(d->n->clock));
			return;
		}
		/* no new connection: fail below with the job detached */
		http_outcome(d, j, 0, HC_ERR_CONNECT, why);
		hc_job_ended(d, j);
		return;
	}
	finish(d, c, 0, c->got_bytes ? HC_ERR_RECV : HC_ERR_CONNECT, why);
}

/* Parses what is in c->in; returns 1 when the answer is complete, 0 for more, -1 if malformed. */
/* Drops the buffered bytes of the body (or chunk) still expected; true once none is expected. */
static bool drop_body(hc_conn *c)
{
	size_t take = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
	c->body_left -= take;
	memmove(c->in, c->in + take, c->in_len - take);
	c->in_len -= take;
	return c->body_left == 0;
}

static int parse(hc_conn *c)
{
	for (;;) {
		if (!c->head_done) {
			char *e = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
			if (!e)
				return c->in_len > HEAD_MAX ? -1 : 0;
			size_t hl = (size_t)(e - c->in) + 4;
			int major = 0, minor = 0, status = 0;
			if (sscanf(c->in, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100 || status > 999)
				return -1;
			if (status < 200) { /* 1xx: another head follows */
				memmove(c->in, c->in + hl, c->in_len - hl);
				c->in_len -= hl;
				continue;
			}
			c->status = status;
			c->keep_alive = major == 1 && minor >= 1;
			bool have_len = false;
			c->body_left = 0;
			/* header lines: after the status line, up to the empty line */
			size_t pos = (size_t)((char *)memchr(c->in, '\n', hl) - c->in) + 1;
			while (pos + 2 < hl) {
				char *h = c->in + pos;
				char *eol = memchr(h, '\n', hl - pos);
				size_t ll = (size_t)(eol - h); /* includes the '\r' */
				if (ll >= 15 && strncasecmp(h, "content-length:", 15) == 0) {
					c->body_left = strtoull(h + 15, NULL, 10);
					have_len = true;
				} else if (ll >= 18 && strncasecmp(h, "transfer-encoding:", 18) == 0) {
					c->chunked = memmem(h, ll, "chunked", 7) != NULL;
				} else if (ll >= 11 && strncasecmp(h, "connection:", 11) == 0) {
					if (memmem(h, ll, "close", 5) || memmem(h, ll, "Close", 5))
						c->keep_alive = false;
					else if (memmem(h, ll, "keep-alive", 10) || memmem(h, ll, "Keep-Alive", 10))
						c->keep_alive = true;
				}
				pos += ll + 1;
			}
			bool no_body = c->status == 204 || c->status == 304 || (c->j && strcmp(c->j->prep->method, "HEAD") == 0);
			if (no_body) {
				c->chunked = false;
				c->body_left = 0;
			} else if (!c->chunked && !have_len) {
				c->close_delim = true; /* the body ends when the server closes */
				c->keep_alive = false;
			}
			memmove(c->in, c->in + hl, c->in_len - hl);
			c->in_len -= hl;
			c->head_done = true;
		}
		if (c->close_delim) {
			c->in_len = 0; /* read to the end of the stream */
			return 0;
		}
		if (!c->chunked) {
			if (!drop_body(c))
				return 0;
			if (c->in_len)
				c->keep_alive = false; /* bytes after the answer: do not reuse */
			return 1;
		}
		/* chunked: size line, data, CRLF; a zero size, then trailers up to an empty line */
		for (;;) {
			if (c->chunk_state == 1) {
				if (!drop_body(c))
					return 0;
				c->chunk_state = 2;
			}
			char *e = memmem(c->in, c->in_len, "\r\n", 2);
			if (!e)
				return c->in_len > HEAD_MAX ? -1 : 0;
			size_t ll = (size_t)(e - c->in) + 2;
			if (c->chunk_state == 0) {
				char *pe;
				c->body_left = strtoull(c->in, &pe, 16);
				if (pe == c->in)
					return -1;
				c->chunk_state = c->body_left ? 1 : 3;
			} else if (c->chunk_state == 2) {
				if (ll != 2)
					return -1;
				c->chunk_state = 0;
			} else { /* trailers */
				if (ll == 2) {
					memmove(c->in, c->in + ll, c->in_len - ll);
					c->in_len -= ll;
					if (c->in_len)
						c->keep_alive = false;
					return 1;
				}
			}
			memmove(c->in, c->in + ll, c->in_len - ll);
			c->in_len -= ll;
		}
	}
}

int hc_test_parse(const char *bytes, size_t len, size_t step, bool head, int *status, bool *keep_alive)
{
	hc_conn c;
	memset(&c, 0, sizeof c);
	c.keep_alive = true;
	c.in_cap = len + 1;
	c.in = malloc(c.in_cap);
	job j;
	http_prep p;
	memset(&j, 0, sizeof j);
	memset(&p, 0, sizeof p);
	snprintf(p.method, sizeof p.method, "%s", head ? "HEAD" : "POST");
	j.prep = &p;
	c.j = &j;
	int r = 0;
	for (size_t off = 0; off < len && r == 0; off += step) {
		size_t n = len - off < step ? len - off : step;
		memcpy(c.in + c.in_len, bytes + off, n);
		c.in_len += n;
		r = parse(&c);
	}
	if (r == 0 && c.close_delim && c.head_done)
		r = 2; /* complete at the close */
	*status = c.status;
	*keep_alive = c.keep_alive && !c.close_delim;
	free(c.in);
	return r;
}

static void on_readable(deliver *d, hc_conn *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < 4096) {
			size_t nc = c->in_cap ? c->in_cap * 2 : 8192;
			if (nc > HEAD_MAX * 2 + 8192) {
				finish(d, c, 0, HC_ERR_RECV, "the answer's head is too large");
				return;
			}
			char *nb = realloc(c->in, nc);
			if (!nb) {
				finish(d, c, 0, HC_ERR_RECV, "out of memory");
				return;
			}
			c->in = nb;
			c->in_cap = nc;
		}
		ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			if (r == 0 && c->close_delim && c->head_done) {
				finish(d, c, c->status, 0, NULL);
				return;
			}
			broken(d, c, r == 0 ? "the server closed the connection" : strerror(errno));
			return;
		}
		c->got_bytes = true;
		c->in_len += (size_t)r;
		int pr = parse(c);
		if (pr < 0) {
			c->keep_alive = false;
			finish(d, c, 0, HC_ERR_RECV, "the answer is not HTTP/1.x");
			return;
		}
		if (pr > 0) {
			finish(d, c, c->status, 0, NULL);
			return;
		}
	}
}

static void on_writable(deliver *d, hc_conn *c)
{
	if (c->state == C_CONNECTING) {
		int err = c->conn_err;
		socklen_t el = sizeof err;
		if (!err && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
			err = errno;
		if (err) {
			finish(d, c, 0, HC_ERR_CONNECT, strerror(err));
			return;
		}
		c->state = C_SENDING;
	}
	while (c->out_i < c->out_n) {
		struct msghdr mh = {.msg_iov = c->out + c->out_i, .msg_iovlen = (size_t)(c->out_n - c->out_i)};
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w < 0) {
			broken(d, c, strerror(errno));
			return;
		}
		while (c->out_i < c->out_n && (size_t)w >= c->out[c->out_i].iov_len) {
			w -= (ssize_t)c->out[c->out_i].iov_len;
			c->out_i++;
		}
		if (c->out_i < c->out_n) {
			c->out[c->out_i].iov_base = (char *)c->out[c->out_i].iov_base + w;
			c->out[c->out_i].iov_len -= (size_t)w;
		}
	}
	c->state = C_READING;
}

/* ---- the delivery thread's loop ---------------------------------------------------------------- */

size_t hc_waitfds(deliver *d, struct curl_waitfd **out)
{
	struct hc_state *st = d->hc;
	*out = NULL;
	if (!st || !st->n)
		return 0;
	if (st->fds_cap < st->n) {
		struct curl_waitfd *nf = realloc(st->fds, st->n * sizeof *nf);
		if (!nf)
			return 0;
		st->fds = nf;
		st->fds_cap = st->n;
	}
	for (size_t i = 0; i < st->n; i++) {
		hc_conn *c = st->conns[i];
		short ev = c->state == C_CONNECTING || c->state == C_SENDING ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN;
		st->fds[i] = (struct curl_waitfd){c->fd, ev, 0};
	}
	*out = st->fds;
	return st->n;
}

void hc_service(deliver *d, struct curl_waitfd *fds, size_t n, int64_t now_ns)
{
	struct hc_state *st = d->hc;
	if (!st)
		return;
	/* connections may close while we go: look them up by descriptor */
	for (size_t i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		hc_conn *c = NULL;
		for (size_t k = 0; k < st->n; k++)
			if (st->conns[k]->fd == fds[i].fd) {
				c = st->conns[k];
				break;
			}
		if (!c)
			continue;
		if (c->state == C_IDLE) {
			conn_close(d, c); /* closed by the server, or junk: not reusable */
			continue;
		}
		if (fds[i].revents & (CURL_WAIT_POLLOUT | POLLERR | POLLHUP) && (c->state == C_CONNECTING || c->state == C_SENDING))
			on_writable(d, c);
		else if (c->state == C_READING)
			on_readable(d, c);
	}
	/* timeouts, and idle connections kept too long */
	for (size_t k = 0; k < st->n;) {
		hc_conn *c = st->conns[k];
		if (c->state == C_IDLE) {
			if (now_ns - c->idle_since_ns > IDLE_CLOSE_NS) {
				conn_close(d, c);
				continue;
			}
		} else if (c->state == C_CONNECTING && now_ns >= c->connect_deadline_ns) {
			finish(d, c, 0, HC_ERR_TIMEOUT, "connect timed out");
			continue;
		} else if (now_ns >= c->deadline_ns) {
			finish(d, c, 0, HC_ERR_TIMEOUT, "the request timed out");
			continue;
		}
		k++;
	}
}

int64_t hc_next_deadline_ns(deliver *d)
{
	struct hc_state *st = d->hc;
	int64_t next = INT64_MAX;
	for (size_t k = 0; st && k < st->n; k++) {
		const hc_conn *c = st->conns[k];
		int64_t t = c->state == C_IDLE ? c->idle_since_ns + IDLE_CLOSE_NS
			    : c->state == C_CONNECTING && c->connect_deadline_ns < c->deadline_ns ? c->connect_deadline_ns
										     : c->deadline_ns;
		if (t < next)
			next = t;
	}
	return next;
}

void hc_abandon(deliver *d, job *j)
{
	hc_conn *c = j->hc;
	if (!c)
		return;
	c->j = NULL;
	j->hc = NULL;
	conn_close(d, c);
}

void hc_free(deliver *d)
{
	struct hc_state *st = d->hc;
	if (!st)
		return;
	while (st->n) {
		hc_conn *c = st->conns[0];
		if (c->j)
			c->j->hc = NULL;
		conn_close(d, c);
	}
	for (hc_pool *p = st->pools, *next; p; p = next) {
		next = p->next;
		free(p);
	}
	free(st->conns);
	free(st->fds);
	free(st);
	d->hc = NULL;
}
