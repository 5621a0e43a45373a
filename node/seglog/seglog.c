/* node/seglog/seglog.c — segment files and the writer thread (group commit). Contract and on-disk
 * format in seglog.h.
 *
 * The writer loop: wait for queued appends (and until min_interval_us after the previous batch began:
 * each fdatasync of an appended file commits its size through the filesystem journal, and fewer,
 * larger commits are what keeps the journal from stalling — measured in bench/README.md); detach up to MAX_BATCH of them (at most MAX_BATCH_BYTES of
 * records, but always at least one append); start a new file if the batch would not fit in the current
 * one; assign seqs and LSNs; write the records with pwritev at the end of the file; fdatasync; only
 * then publish the new end to readers and run the completions in submission order. A failed write or
 * sync cuts the file back to where the batch began and fails the whole batch (the seqs are reused).
 *
 * The file table is guarded by its own mutex; readers pin a file (refs) for the time of a pread, so
 * dropping it (unlink) closes the descriptor only after the last reader.
 */
#include "seglog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x314c4242u
#define HDR 32
#define MAX_BATCH 4096
#define MAX_BATCH_BYTES (8u << 20)
#define IOV_CHUNK 1024

typedef struct seg {
	uint64_t base, first_seq;
	uint64_t size;       /* bytes of whole, durable records */
	int fd;
	unsigned refs;       /* readers in a pread */
	bool dropped;        /* unlinked; close when refs reach 0 */
} seg;

struct seglog {
	seglog_config cfg;
	char *dir;
	/* file table */
	pthread_mutex_t mu;
	seg **segs;
	size_t n_segs, cap_segs;
	uint64_t bytes;      /* sum of sizes */
	/* queue */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	seglog_append *head, *tail;
	size_t outstanding;
	bool stopping;
	int expected;        /* appends announced by seglog_expect, not submitted yet */
	bool idle;           /* the writer waits for work (a submit wakes it) */
	bool holding;        /* the writer waits for announced appends (the last of them wakes it) */
	pthread_t thread;
	/* writer thread only */
	int64_t batch_ns;    /* when the previous batch began (CLOCK_MONOTONIC) */
	uint64_t next_seq;
	uint8_t *hdrs;       /* MAX_BATCH... headers, grown on demand */
	size_t hdrs_cap;
	struct iovec *iov;
	size_t iov_cap;
	/* stats */
	_Atomic uint64_t appends, batches, sync_ns, next_seq_pub;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t rec_size(size_t len) { return (uint32_t)((HDR + len + 7) & ~(size_t)7); }

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bb_err io_err(int e) { return e == ENOSPC || e == EDQUOT ? BB_ENOSPC : e == ENOMEM ? BB_ENOMEM : BB_EIO; }

static void seg_path(const seglog *l, const seg *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%016" PRIx64 "-%016" PRIx64 ".seg", l->dir, s->base, s->first_seq);
}

/* CRC-32C (Castagnoli): the SSE 4.2 instruction when the CPU has it (8 bytes a step; zlib's CRC-32
 * took 7 % of an ingest profile), else a table. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_hw;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c64 = __builtin_ia32_crc32di(c64, v);
	}
	c = (uint32_t)c64;
	for (; n; n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

uint32_t seglog_crc32c(uint32_t crc, const void *data, size_t n)
{
	pthread_once(&crc_once, crc_init);
	const uint8_t *p = data;
	uint32_t c = ~crc;
#if defined(__x86_64__)
	if (crc_hw)
		return ~crc_sse42(c, p, n);
#endif
	for (; n; n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* Checks the header at h (HDR bytes) and the payload after it; returns the payload length or -1. */
static long check_rec(const uint8_t *h, const uint8_t *payload, size_t avail)
{
	if (get32(h) != MAGIC)
		return -1;
	uint32_t len = get32(h + 4);
	if ((size_t)len > avail)
		return -1;
	uint32_t crc = seglog_crc32c(seglog_crc32c(0, h + 16, 16), payload, len);
	return crc == get32(h + 8) ? (long)len : -1;
}

static bool sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

/* ---- the file table ------------------------------------------------------------------------ */

static bool table_add(seglog *l, seg *s)
{
	if (l->n_segs == l->cap_segs) {
		size_t nc = l->cap_segs ? l->cap_segs * 2 : 16;
		seg **ns = realloc(l->segs, nc * sizeof *ns);
		if (!ns)
			return false;
		l->segs = ns;
		l->cap_segs = nc;
	}
	l->segs[l->n_segs++] = s;
	return true;
}

/* The file holding lsn, pinned (mu held by the caller). */
static seg *find_pin(seglog *l, uint64_t lsn)
{
	size_t lo = 0, hi = l->n_segs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (l->segs[mid]->base <= lsn)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	seg *s = l->segs[lo - 1];
	if (lsn >= s->base + s->size)
		return NULL;
	s->refs++;
	return s;
}

static void unpin(seglog *l, seg *s)
{
	pthread_mutex_lock(&l->mu);
	bool gone = --s->refs == 0 && s->dropped;
	pthread_mutex_unlock(&l->mu);
	if (gone) {
		close(s->fd);
		free(s);
	}
}

/* Creates the file that starts at base (writer thread, or open). */
static seg *seg_create(seglog *l, uint64_t base, uint64_t first_seq)
{
	seg *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base = base;
	s->first_seq = first_seq;
	char path[4200];
	seg_path(l, s, path, sizeof path);
	s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0 || !sync_dir(l->dir)) {
		BB_LOGE("seglog", "msg=\"cannot create log file\" path=\"%s\" errno=%d", path, errno);
		if (s->fd >= 0) {
			close(s->fd);
			unlink(path);
		}
		free(s);
		return NULL;
	}
	return s;
}

/* ---- open ------------------------------------------------------------------------------------ */

static int cmp_seg(const void *a, const void *b)
{
	const seg *x = *(seg *const *)a, *y = *(seg *const *)b;
	return x->base < y->base ? -1 : x->base > y->base;
}

/* Scans the last file: its valid end and last seq. Cuts what follows the last whole record. */
static bb_err recover_tail(seg *s, uint64_t *last_seq, bool *any)
{
	struct stat st;
	if (fstat(s->fd, &st) != 0)
		return BB_EIO;
	uint64_t fsize = (uint64_t)st.st_size, off = 0;
	*any = false;
	uint8_t h[HDR];
	uint8_t *buf = NULL;
	size_t cap = 0;
	while (off + HDR <= fsize) {
		if (pread(s->fd, h, HDR, (off_t)off) != HDR)
			break;
		uint32_t len = get32(h + 4);
		uint64_t rs = rec_size(len);
		if (get32(h) != MAGIC || off + rs > fsize)
			break;
		if (len > cap) {
			uint8_t *nb = realloc(buf, len);
			if (!nb) {
				free(buf);
				return BB_ENOMEM;
			}
			buf = nb;
			cap = len;
		}
		if (len && pread(s->fd, buf, len, (off_t)(off + HDR)) != (ssize_t)len)
			break;
		if (check_rec(h, buf, len) < 0)
			break;
		*last_seq = get64(h + 16);
		*any = true;
		off += rs;
	}
	free(buf);
	if (off < fsize) {
		BB_LOGW("seglog", "msg=\"cut a torn end of the log\" base=%" PRIu64 " kept=%" PRIu64 " dropped=%" PRIu64,
			s->base, off, fsize - off);
		if (ftruncate(s->fd, (off_t)off) != 0 || fdatasync(s->fd) != 0)
			return BB_EIO;
	}
	s->size = off;
	return BB_OK;
}

static bb_err load_files(seglog *l)
{
	DIR *d = opendir(l->dir);
	if (!d)
		return BB_EIO;
	struct dirent *de;
	bb_err e = BB_OK;
	while ((de = readdir(d))) {
		uint64_t base, first;
		char tail[8];
		if (sscanf(de->d_name, "%16" SCNx64 "-%16" SCNx64 ".%4s", &base, &first, tail) != 3 ||
		    strcmp(tail, "seg") != 0 || strlen(de->d_name) != 37)
			continue;
		seg *s = calloc(1, sizeof *s);
		char path[4200];
		if (!s) {
			e = BB_ENOMEM;
			break;
		}
		s->base = base;
		s->first_seq = first;
		seg_path(l, s, path, sizeof path);
		s->fd = open(path, O_RDWR | O_CLOEXEC);
		struct stat st;
		if (s->fd < 0 || fstat(s->fd, &st) != 0 || !table_add(l, s)) {
			if (s->fd >= 0)
				close(s->fd);
			free(s);
			e = BB_EIO;
			break;
		}
		s->size = (uint64_t)st.st_size;
	}
	closedir(d);
	if (e == BB_OK && l->n_segs)
		qsort(l->segs, l->n_segs, sizeof *l->segs, cmp_seg);
	return e;
}

static void *writer_main(void *arg);

bb_err seglog_open(const seglog_config *cfg, seglog **out)
{
	seglog *l = calloc(1, sizeof *l);
	if (!l)
		return BB_ENOMEM;
	l->cfg = *cfg;
	if (!l->cfg.segment_bytes)
		l->cfg.segment_bytes = 64ull << 20;
	if (!l->cfg.max_queued)
		l->cfg.max_queued = 65536;
	l->dir = strdup(cfg->dir);
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->qmu, NULL);
	pthread_cond_init(&l->qcv, NULL);
	bb_err e = BB_ENOMEM;
	if (!l->dir)
		goto fail;
	if (mkdir(l->dir, 0700) != 0 && errno != EEXIST) {
		BB_LOGE("seglog", "msg=\"cannot create log directory\" dir=\"%s\" errno=%d", l->dir, errno);
		e = BB_EIO;
		goto fail;
	}
	if ((e = load_files(l)) != BB_OK)
		goto fail;
	uint64_t next_seq = cfg->min_next_seq ? cfg->min_next_seq : 1;
	if (l->n_segs) {
		seg *last = l->segs[l->n_segs - 1];
		uint64_t last_seq = 0;
		bool any;
		if ((e = recover_tail(last, &last_seq, &any)) != BB_OK)
			goto fail;
		uint64_t n = any ? last_seq + 1 : last->first_seq;
		if (n > next_seq)
			next_seq = n;
		for (size_t i = 0; i + 1 < l->n_segs; i++)
			if (l->segs[i]->base + l->segs[i]->size != l->segs[i + 1]->base)
				BB_LOGW("seglog", "msg=\"gap between log files\" base=%" PRIu64 " size=%" PRIu64 " next=%" PRIu64,
					l->segs[i]->base, l->segs[i]->size, l->segs[i + 1]->base);
	} else {
		seg *s = seg_create(l, 0, next_seq);
		if (!s || !table_add(l, s)) {
			e = BB_EIO;
			goto fail;
		}
	}
	for (size_t i = 0; i < l->n_segs; i++)
		l->bytes += l->segs[i]->size;
	l->next_seq = next_seq;
	atomic_store(&l->next_seq_pub, next_seq);
	if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
		e = BB_ENOMEM;
		goto fail;
	}
	*out = l;
	return BB_OK;
fail:
	for (size_t i = 0; i < l->n_segs; i++) {
		close(l->segs[i]->fd);
		free(l->segs[i]);
	}
	free(l->segs);
	pthread_cond_destroy(&l->qcv);
	pthread_mutex_destroy(&l->qmu);
	pthread_mutex_destroy(&l->mu);
	free(l->dir);
	free(l);
	return e;
}

void seglog_close(seglog *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->qmu);
	l->stopping = true;
	seglog_append *rest = l->head;
	l->head = l->tail = NULL;
	pthread_cond_signal(&l->qcv);
	pthread_mutex_unlock(&l->qmu);
	for (seglog_append *a = rest, *next; a; a = next) {
		next = a->next;
		a->done(a->arg, BB_ESHUTDOWN);
	}
	pthread_join(l->thread, NULL);
	for (size_t i = 0; i < l->n_segs; i++) {
		close(l->segs[i]->fd);
		free(l->segs[i]);
	}
	free(l->segs);
	free(l->hdrs);
	free(l->iov);
	pthread_cond_destroy(&l->qcv);
	pthread_mutex_destroy(&l->qmu);
	pthread_mutex_destroy(&l->mu);
	free(l->dir);
	free(l);
}

/* ---- appends ------------------------------------------------------------------------------- */

bb_err seglog_submit(seglog *l, seglog_append *a)
{
	a->next = NULL;
	if (l->cfg.max_bytes) {
		pthread_mutex_lock(&l->mu);
		bool full = l->bytes >= l->cfg.max_bytes;
		pthread_mutex_unlock(&l->mu);
		if (full)
			return BB_ENOSPC;
	}
	pthread_mutex_lock(&l->qmu);
	if (l->stopping) {
		pthread_mutex_unlock(&l->qmu);
		return BB_ESHUTDOWN;
	}
	if (l->outstanding >= l->cfg.max_queued) {
		pthread_mutex_unlock(&l->qmu);
		return BB_EBUSY;
	}
	l->outstanding++;
	if (l->tail)
		l->tail->next = a;
	else
		l->head = a;
	l->tail = a;
	if (l->idle)
		pthread_cond_signal(&l->qcv); /* while holding, only the last announced append wakes it */
	pthread_mutex_unlock(&l->qmu);
	return BB_OK;
}

void seglog_expect(seglog *l, int delta)
{
	pthread_mutex_lock(&l->qmu);
	l->expected += delta;
	if (l->expected < 0)
		l->expected = 0;
	if (delta < 0 && l->expected == 0 && l->holding)
		pthread_cond_signal(&l->qcv);
	pthread_mutex_unlock(&l->qmu);
}

/* Writes iov[0..n) at off, all of it (pwritev may write less). 0 or an errno. */
static int write_all(int fd, struct iovec *iov, int n, off_t off)
{
	while (n > 0) {
		int chunk = n < IOV_CHUNK ? n : IOV_CHUNK;
		ssize_t w = pwritev(fd, iov, chunk, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (w == 0)
			return EIO;
		off += w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0 && w > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, nc * elem);
	if (!np)
		return false;
	*p = np;
	*cap = nc;
	return true;
}

/* Writes one batch; BB_OK once durable. */
static bb_err write_batch(seglog *l, seglog_append *list, size_t n_recs, uint64_t bytes)
{
	static const uint8_t zeros[8];
	seg *s = l->segs[l->n_segs - 1];
	if (s->size > 0 && s->size + bytes > l->cfg.segment_bytes) {
		seg *ns = seg_create(l, s->base + s->size, l->next_seq);
		if (!ns)
			return BB_EIO;
		pthread_mutex_lock(&l->mu);
		bool ok = table_add(l, ns);
		pthread_mutex_unlock(&l->mu);
		if (!ok) {
			char path[4200];
			seg_path(l, ns, path, sizeof path);
			close(ns->fd);
			unlink(path);
			free(ns);
			return BB_ENOMEM;
		}
		s = ns;
	}
	if (!grow((void **)&l->hdrs, &l->hdrs_cap, n_recs * HDR, 1) ||
	    !grow((void **)&l->iov, &l->iov_cap, n_recs * 3, sizeof *l->iov))
		return BB_ENOMEM;
	uint64_t lsn = s->base + s->size, seq = l->next_seq;
	size_t k = 0, ni = 0;
	for (seglog_append *a = list; a; a = a->next) {
		for (size_t i = 0; i < a->n; i++, k++) {
			seglog_rec *r = &a->recs[i];
			uint8_t *h = l->hdrs + k * HDR;
			r->seq = seq++;
			r->lsn = lsn;
			r->size = rec_size(r->len);
			lsn += r->size;
			put32(h, MAGIC);
			put32(h + 4, (uint32_t)r->len);
			put32(h + 12, 0);
			put64(h + 16, r->seq);
			put64(h + 24, (uint64_t)a->ms);
			put32(h + 8, seglog_crc32c(seglog_crc32c(0, h + 16, 16), r->data, r->len));
			l->iov[ni++] = (struct iovec){h, HDR};
			if (r->len)
				l->iov[ni++] = (struct iovec){(void *)r->data, r->len};
			if (r->size - HDR - r->len)
				l->iov[ni++] = (struct iovec){(void *)zeros, r->size - HDR - r->len};
		}
	}
	int err = write_all(s->fd, l->iov, (int)ni, (off_t)s->size);
	int64_t t0 = mono_ns();
	if (!err && !l->cfg.no_sync && fdatasync(s->fd) != 0)
		err = errno;
	int64_t took = mono_ns() - t0;
	atomic_fetch_add(&l->sync_ns, (uint64_t)took);
	if (l->cfg.on_sync)
		l->cfg.on_sync(l->cfg.on_sync_ctx, took);
	if (err) {
		/* nothing of the batch counts: cut the file back; the seqs are handed out again */
		if (ftruncate(s->fd, (off_t)s->size) != 0)
			BB_LOGE("seglog", "msg=\"cannot cut back a failed write\" errno=%d", errno);
		BB_LOGW("seglog", "msg=\"append failed\" records=%zu errno=%d", n_recs, err);
		return io_err(err);
	}
	l->next_seq = seq;
	atomic_store(&l->next_seq_pub, seq);
	pthread_mutex_lock(&l->mu);
	s->size += bytes;
	l->bytes += bytes;
	pthread_mutex_unlock(&l->mu);
	return BB_OK;
}

static void *writer_main(void *arg)
{
	seglog *l = arg;
	pthread_setname_np(pthread_self(), "bb-log-writer");
	pthread_mutex_lock(&l->qmu);
	for (;;) {
		l->idle = true;
		while (!l->head && !l->stopping)
			pthread_cond_wait(&l->qcv, &l->qmu);
		l->idle = false;
		if (!l->head)
			break;
		/* appends announced on other threads: let them join this batch (bounded wait) */
		if (l->expected > 0 && l->cfg.hold_us && !l->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)l->cfg.hold_us * 1000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			l->holding = true;
			while (l->expected > 0 && !l->stopping &&
			       pthread_cond_timedwait(&l->qcv, &l->qmu, &until) != ETIMEDOUT)
				;
			l->holding = false;
		}
		/* the previous batch began less than min_interval_us ago: let appends gather until then */
		if (l->cfg.min_interval_us && !l->stopping) {
			int64_t due = l->batch_ns + (int64_t)l->cfg.min_interval_us * 1000, now = mono_ns();
			if (now < due) {
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				int64_t ns = until.tv_nsec + (due - now);
				until.tv_sec += ns / 1000000000;
				until.tv_nsec = ns % 1000000000;
				while (!l->stopping && pthread_cond_timedwait(&l->qcv, &l->qmu, &until) != ETIMEDOUT)
					;
			}
		}
		l->batch_ns = mono_ns();
		/* detach a batch: whole appends, within the limits (always at least one) */
		seglog_append *list = l->head, *last = NULL;
		size_t n_app = 0, n_recs = 0;
		uint64_t bytes = 0;
		for (seglog_append *a = l->head; a; a = a->next) {
			uint64_t ab = 0;
			for (size_t i = 0; i < a->n; i++)
				ab += rec_size(a->recs[i].len);
			if (n_app && (n_recs + a->n > MAX_BATCH || bytes + ab > MAX_BATCH_BYTES))
				break;
			n_recs += a->n;
			bytes += ab;
			n_app++;
			last = a;
		}
		l->head = last->next;
		if (!l->head)
			l->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&l->qmu);

		bb_err e = write_batch(l, list, n_recs, bytes);
		atomic_fetch_add(&l->batches, 1);
		atomic_fetch_add(&l->appends, n_app);
		for (seglog_append *a = list, *next; a; a = next) {
			next = a->next;
			a->next = NULL;
			a->done(a->arg, e);
		}
		pthread_mutex_lock(&l->qmu);
		l->outstanding -= n_app;
	}
	pthread_mutex_unlock(&l->qmu);
	return NULL;
}

/* ---- reads ------------------------------------------------------------------------------------ */

static bb_err read_at(seg *s, uint64_t lsn, uint32_t size, seglog_entry *out)
{
	off_t off = (off_t)(lsn - s->base);
	uint64_t avail = s->base + s->size - lsn;
	uint8_t h[HDR];
	if (size == 0 || size < HDR || size > avail) {
		if (avail < HDR || pread(s->fd, h, HDR, off) != HDR)
			return BB_ECORRUPT;
		size = rec_size(get32(h + 4));
		if (get32(h) != MAGIC || size > avail)
			return BB_ECORRUPT;
	}
	uint8_t *buf = malloc(size);
	if (!buf)
		return BB_ENOMEM;
	ssize_t got = pread(s->fd, buf, size, off);
	if (got != (ssize_t)size) {
		free(buf);
		return got < 0 ? BB_EIO : BB_ECORRUPT;
	}
	long len = check_rec(buf, buf + HDR, size - HDR);
	if (len < 0 || rec_size((size_t)len) != size) {
		free(buf);
		return BB_ECORRUPT;
	}
	out->buf = buf;
	out->payload = buf + HDR;
	out->len = (size_t)len;
	out->seq = get64(buf + 16);
	out->ms = (int64_t)get64(buf + 24);
	out->next_lsn = lsn + size;
	return BB_OK;
}

bb_err seglog_read(seglog *l, uint64_t lsn, uint32_t size, seglog_entry *out)
{
	pthread_mutex_lock(&l->mu);
	seg *s = find_pin(l, lsn);
	pthread_mutex_unlock(&l->mu);
	if (!s)
		return BB_ENOTFOUND;
	bb_err e = read_at(s, lsn, size, out);
	unpin(l, s);
	return e;
}

bb_err seglog_scan(seglog *l, uint64_t lsn, bool (*fn)(void *ctx, const seglog_entry *e, uint64_t lsn), void *ctx)
{
	pthread_mutex_lock(&l->mu);
	uint64_t start = l->n_segs ? l->segs[0]->base : 0;
	seg *last = l->n_segs ? l->segs[l->n_segs - 1] : NULL;
	uint64_t end = last ? last->base + last->size : 0;
	pthread_mutex_unlock(&l->mu);
	if (lsn < start)
		lsn = start;
	while (lsn < end) {
		pthread_mutex_lock(&l->mu);
		seg *s = find_pin(l, lsn);
		if (!s) {
			/* a gap (a file lost): go on at the next file */
			uint64_t next = end;
			for (size_t i = 0; i < l->n_segs; i++)
				if (l->segs[i]->base > lsn) {
					next = l->segs[i]->base;
					break;
				}
			pthread_mutex_unlock(&l->mu);
			lsn = next;
			continue;
		}
		pthread_mutex_unlock(&l->mu);
		seglog_entry e;
		bb_err err = read_at(s, lsn, 0, &e);
		unpin(l, s);
		if (err != BB_OK)
			return err;
		bool more = fn(ctx, &e, lsn);
		lsn = e.next_lsn;
		free(e.buf);
		if (!more)
			break;
	}
	return BB_OK;
}

/* ---- space ------------------------------------------------------------------------------------ */

void seglog_drop_before(seglog *l, uint64_t lsn)
{
	for (;;) {
		pthread_mutex_lock(&l->mu);
		if (l->n_segs < 2 || l->segs[0]->base + l->segs[0]->size > lsn) {
			pthread_mutex_unlock(&l->mu);
			return;
		}
		seg *s = l->segs[0];
		memmove(l->segs, l->segs + 1, (l->n_segs - 1) * sizeof *l->segs);
		l->n_segs--;
		l->bytes -= s->size;
		char path[4200];
		seg_path(l, s, path, sizeof path);
		s->dropped = true;
		bool close_now = s->refs == 0;
		pthread_mutex_unlock(&l->mu);
		unlink(path);
		BB_LOGI("seglog", "msg=\"dropped a log file\" base=%" PRIu64 " bytes=%" PRIu64, s->base, s->size);
		if (close_now) {
			close(s->fd);
			free(s);
		}
	}
}

void seglog_get_stats(seglog *l, seglog_stats *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&l->mu);
	if (l->n_segs) {
		out->start_lsn = l->segs[0]->base;
		seg *last = l->segs[l->n_segs - 1];
		out->end_lsn = last->base + last->size;
	}
	out->bytes = l->bytes;
	out->files = l->n_segs;
	pthread_mutex_unlock(&l->mu);
	out->next_seq = atomic_load(&l->next_seq_pub);
	out->appends = atomic_load(&l->appends);
	out->batches = atomic_load(&l->batches);
	out->sync_ns = atomic_load(&l->sync_ns);
}
