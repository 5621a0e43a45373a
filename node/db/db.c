/* node/db/db.c — LMDB environment and the writer thread (group commit). Contract in db.h.
 *
 * The writer loop (a "window" per batch): wait for a queued write; begin one write transaction; apply
 * every write as it arrives, each in a nested transaction (committed or aborted on its own), and
 * answer the early ones at once; keep the window open until min_interval_us after the previous
 * commit began (fewer, larger commits keep the filesystem journal from stalling every fsync on the
 * disk, the bus log's included — bench/README.md) or max_batch writes; commit (LMDB fsyncs the data
 * and then the meta page unless no_sync); call every done with its outcome. A failed batch commit
 * fails every write in it. A page flush that hits ENOSPC aborts the transaction and leaves the
 * environment usable, so a disk that was cleaned needs no restart; only a failed meta-page write
 * (MDB_PANIC) does, and then every write fails with BB_EIO.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static const char *const table_names[DB_T__COUNT] = {"log", "tidx", "task", "state", "qmsg", "qvis"};

struct db {
	db_config cfg;
	char *dir;
	MDB_env *env;
	MDB_dbi dbi[DB_T__COUNT];

	pthread_mutex_t mu;
	pthread_cond_t cv;        /* writer waits for work */
	db_write *head, *tail;    /* queued writes (FIFO) */
	size_t outstanding;       /* queued + in the running batch */
	uint64_t submitted;       /* writes ever submitted (ticket of the latest) */
	uint64_t completed;       /* every write with a ticket <= this has completed */
	pthread_cond_t done_cv;   /* completed moved (db_barrier waits on it) */
	bool stopping;
	pthread_t thread;
	int64_t commit_began_ns;  /* writer only: when the previous commit began (CLOCK_MONOTONIC) */

	_Atomic uint64_t commits, writes, failed_writes;
	_Atomic uint64_t apply_ns, commit_ns; /* writer time in applies / in commits (writes + fsync) */
	void *map_addr; /* the data file's mapping (read-only, shared) */
	size_t map_len;
	int statm_fd;                     /* /proc/self/statm, or -1 */
	uint64_t page_size;
	_Atomic int64_t resident_check_ns; /* when db_trim_if_over last read it */
};

static void find_map(db *d);

bb_err db_err(int rc)
{
	switch (rc) {
	case 0:
		return BB_OK;
	case MDB_NOTFOUND:
		return BB_ENOTFOUND;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return BB_ENOSPC;
	case ENOMEM:
		return BB_ENOMEM;
	default:
		return BB_EIO;
	}
}

static int env_open(db *d)
{
	int rc = mdb_env_create(&d->env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(d->env, DB_T__COUNT + 2);
	mdb_env_set_mapsize(d->env, (size_t)d->cfg.map_bytes);
	mdb_env_set_maxreaders(d->env, 1024);
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
	if (d->cfg.no_sync)
		flags |= MDB_NOSYNC;
	rc = mdb_env_open(d->env, d->dir, flags, 0600);
	if (rc)
		goto fail_env;
	MDB_txn *txn;
	rc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (rc)
		goto fail_env;
	for (int i = 0; i < DB_T__COUNT; i++) {
		rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &d->dbi[i]);
		if (rc) {
			mdb_txn_abort(txn);
			goto fail_env;
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		goto fail_env;
	return 0;
fail_env:
	mdb_env_close(d->env);
	d->env = NULL;
	return rc;
}

/* The writes of one batch, detached from the queue (writer thread only). A write whose done already
 * ran (early) is never touched again: its owner may have freed it. */
typedef struct batch {
	db_write **w;
	bb_err *errs;
	bool *done; /* done already ran */
	size_t n;
	size_t applied; /* w[0..applied) have run their apply */
	size_t kept;    /* of those, how many kept their changes */
} batch;

static void complete(batch *b, bb_err err_all)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->done[i])
			continue;
		db_write *w = b->w[i];
		bb_err e = err_all != BB_OK ? err_all : b->errs[i];
		w->next = NULL;
		if (w->done)
			w->done(w->arg, e);
	}
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs the applies of the writes detached since the last call, each in its own nested transaction
 * of txn, and answers the early ones. Returns BB_OK, or the error of a nested begin (then the batch
 * transaction is lost: the caller aborts it). */
static bb_err apply_new(db *d, MDB_txn *txn, batch *b)
{
	int64_t t0 = mono_ns();
	bb_err err = BB_OK;
	for (; b->applied < b->n; b->applied++) {
		size_t i = b->applied;
		db_write *w = b->w[i];
		MDB_txn *sub;
		int rc = mdb_txn_begin(d->env, txn, 0, &sub);
		if (rc) {
			err = db_err(rc);
			break;
		}
		bb_err e = w->apply(d, sub, w->arg);
		if (e == BB_OK) {
			rc = mdb_txn_commit(sub);
			e = db_err(rc);
		} else {
			mdb_txn_abort(sub);
		}
		b->errs[i] = e;
		if (e == BB_OK)
			b->kept++;
		if (w->early && (!w->early_if || w->early_if(w->arg))) {
			b->done[i] = true;
			w->next = NULL;
			if (w->done)
				w->done(w->arg, e); /* before the commit, by request (db_write.early) */
		}
	}
	atomic_fetch_add(&d->apply_ns, (uint64_t)(mono_ns() - t0));
	return err;
}

/* Commits the batch transaction (or aborts it when nothing in it kept changes); returns the error of
 * the commit. */
static bb_err commit_batch(db *d, MDB_txn *txn, batch *b)
{
	if (b->kept == 0) {
		mdb_txn_abort(txn);
		return BB_OK;
	}
	int64_t t1 = mono_ns();
	d->commit_began_ns = t1;
	int rc = mdb_txn_commit(txn);
	int64_t took = mono_ns() - t1;
	atomic_fetch_add(&d->commit_ns, (uint64_t)took);
	if (d->cfg.on_commit)
		d->cfg.on_commit(d->cfg.on_commit_ctx, took);
	if (rc)
		return db_err(rc);
	atomic_fetch_add(&d->commits, 1);
	return BB_OK;
}

/* Moves queued writes into b, up to cap (mu held). */
static void detach(db *d, batch *b, size_t cap)
{
	while (d->head && b->n < cap) {
		db_write *w = d->head;
		d->head = w->next;
		b->w[b->n] = w;
		b->done[b->n] = false;
		b->errs[b->n] = BB_OK;
		b->n++;
	}
	if (!d->head)
		d->tail = NULL;
}

/* Waits on d->cv (mu held) until a write is queued, the node stops, or the monotonic time at_ns. */
static void wait_until(db *d, int64_t at_ns)
{
	int64_t left = at_ns - mono_ns();
	if (left <= 0)
		return;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until); /* d->cv waits on the realtime clock */
	int64_t ns = until.tv_nsec + left;
	until.tv_sec += ns / 1000000000;
	until.tv_nsec = ns % 1000000000;
	pthread_cond_timedwait(&d->cv, &d->mu, &until);
}

/* One batch (mu held on entry and exit; at least one write queued). The batch transaction opens at
 * once and every write is applied as it arrives — an early write (a queue receive) is answered
 * within microseconds, and sees what was applied before it — while the commit waits until
 * min_interval_us after the previous commit began, so the writes arriving meanwhile share its fsync. */
static void run_window(db *d, batch *b, size_t cap)
{
	int64_t commit_at = d->commit_began_ns + (int64_t)d->cfg.min_interval_us * 1000;
	b->n = b->applied = b->kept = 0;
	pthread_mutex_unlock(&d->mu);
	MDB_txn *txn = NULL;
	bb_err e = db_err(mdb_txn_begin(d->env, NULL, 0, &txn));
	pthread_mutex_lock(&d->mu);
	for (;;) {
		detach(d, b, cap);
		if (e != BB_OK)
			break; /* the detached writes fail with e */
		pthread_mutex_unlock(&d->mu);
		e = apply_new(d, txn, b);
		pthread_mutex_lock(&d->mu);
		if (e != BB_OK || b->n >= cap || d->stopping)
			break;
		if (!d->head) {
			wait_until(d, commit_at);
			if (!d->head && mono_ns() >= commit_at)
				break;
		}
	}
	pthread_mutex_unlock(&d->mu);
	if (e == BB_OK) {
		e = commit_batch(d, txn, b);
	} else if (txn) {
		mdb_txn_abort(txn);
	}
	size_t n = b->n;
	if (e != BB_OK)
		BB_LOGW("db", "msg=\"batch failed\" writes=%zu err=%s", n, bb_errname(e));
	atomic_fetch_add(&d->writes, n);
	size_t failed = 0;
	for (size_t i = 0; i < n; i++)
		failed += (e != BB_OK || b->errs[i] != BB_OK);
	atomic_fetch_add(&d->failed_writes, failed);
	complete(b, e);
	db_trim_if_over(d); /* the batch's B-tree pages were read through the map */
	pthread_mutex_lock(&d->mu);
	d->outstanding -= n;
	d->completed += n; /* batches run in submission order */
	pthread_cond_broadcast(&d->done_cv);
}

static void *writer_main(void *arg)
{
	pthread_setname_np(pthread_self(), "bb-store-writer");
	db *d = arg;
	size_t cap = d->cfg.max_batch;
	batch b = {calloc(cap, sizeof *b.w), calloc(cap, sizeof *b.errs), calloc(cap, sizeof *b.done), 0, 0, 0};
	bool ok = b.w && b.errs && b.done;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->head && !d->stopping)
			pthread_cond_wait(&d->cv, &d->mu);
		if (!d->head && d->stopping)
			break;
		if (ok) {
			run_window(d, &b, cap);
			continue;
		}
		/* the batch arrays could not be allocated: each write fails alone */
		db_write *one = d->head;
		d->head = one->next;
		if (!d->head)
			d->tail = NULL;
		pthread_mutex_unlock(&d->mu);
		one->next = NULL;
		if (one->done)
			one->done(one->arg, BB_ENOMEM);
		atomic_fetch_add(&d->writes, 1);
		atomic_fetch_add(&d->failed_writes, 1);
		pthread_mutex_lock(&d->mu);
		d->outstanding--;
		d->completed++;
		pthread_cond_broadcast(&d->done_cv);
	}
	pthread_mutex_unlock(&d->mu);
	free(b.w);
	free(b.errs);
	free(b.done);
	return NULL;
}

bb_err db_open(const db_config *cfg, db **out)
{
	db *d = calloc(1, sizeof *d);
	if (!d)
		return BB_ENOMEM;
	d->cfg = *cfg;
	if (!d->cfg.map_bytes)
		d->cfg.map_bytes = 64ull << 30;
	if (!d->cfg.max_queued)
		d->cfg.max_queued = 65536;
	if (!d->cfg.max_batch)
		d->cfg.max_batch = 4096;
	d->dir = strdup(cfg->dir);
	if (!d->dir)
		goto fail_alloc;
	if (mkdir(d->dir, 0700) != 0 && errno != EEXIST) {
		BB_LOGE("db", "msg=\"cannot create store directory\" dir=%s errno=%d", d->dir, errno);
		goto fail_dir;
	}
	int rc = env_open(d);
	if (rc) {
		BB_LOGE("db", "msg=\"cannot open store\" dir=%s err=\"%s\"", d->dir, mdb_strerror(rc));
		goto fail_dir;
	}
	find_map(d);
	d->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	d->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	pthread_cond_init(&d->done_cv, NULL);
	if (pthread_create(&d->thread, NULL, writer_main, d) != 0)
		goto fail_thread;
	*out = d;
	return BB_OK;
fail_thread:
	if (d->statm_fd >= 0)
		close(d->statm_fd);
	pthread_cond_destroy(&d->done_cv);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	mdb_env_close(d->env);
fail_dir:
	free(d->dir);
fail_alloc:
	free(d);
	return BB_EIO;
}

void db_close(db *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stopping = true;
	db_write *rest = d->head;
	d->head = d->tail = NULL;
	pthread_cond_signal(&d->cv);
	pthread_cond_broadcast(&d->done_cv);
	pthread_mutex_unlock(&d->mu);
	while (rest) {
		db_write *next = rest->next;
		rest->next = NULL;
		if (rest->done)
			rest->done(rest->arg, BB_ESHUTDOWN);
		rest = next;
	}
	pthread_join(d->thread, NULL);
	mdb_env_close(d->env);
	if (d->statm_fd >= 0)
		close(d->statm_fd);
	pthread_cond_destroy(&d->done_cv);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d->dir);
	free(d);
}

bool db_busy(db *d)
{
	pthread_mutex_lock(&d->mu);
	bool busy = d->outstanding >= d->cfg.max_queued;
	pthread_mutex_unlock(&d->mu);
	return busy;
}

void db_barrier(db *d)
{
	pthread_mutex_lock(&d->mu);
	uint64_t ticket = d->submitted;
	while (d->completed < ticket && !d->stopping)
		pthread_cond_wait(&d->done_cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
}

MDB_dbi db_dbi(db *d, db_table t) { return d->dbi[t]; }

bb_err db_submit(db *d, db_write *w)
{
	w->next = NULL;
	pthread_mutex_lock(&d->mu);
	if (d->stopping) {
		pthread_mutex_unlock(&d->mu);
		return BB_ESHUTDOWN;
	}
	if (d->outstanding >= d->cfg.max_queued && !w->must) {
		pthread_mutex_unlock(&d->mu);
		return BB_EBUSY;
	}
	d->outstanding++;
	d->submitted++;
	if (d->tail)
		d->tail->next = w;
	else
		d->head = w;
	d->tail = w;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return BB_OK;
}

typedef struct run_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	bb_err err;
} run_wait;

static void run_done(void *arg, bb_err err)
{
	run_wait *rw = arg;
	pthread_mutex_lock(&rw->mu);
	rw->done = true;
	rw->err = err;
	pthread_cond_signal(&rw->cv);
	pthread_mutex_unlock(&rw->mu);
}

typedef struct run_call {
	db_apply_fn apply;
	void *arg;
	bool (*early_if)(void *arg);
	run_wait wait;
} run_call;

static bb_err run_apply(db *d, MDB_txn *txn, void *arg)
{
	run_call *rc = arg;
	return rc->apply(d, txn, rc->arg);
}

static void run_call_done(void *arg, bb_err err) { run_done(&((run_call *)arg)->wait, err); }

static bool run_early_if(void *arg)
{
	run_call *rc = arg;
	return !rc->early_if || rc->early_if(rc->arg);
}

static bb_err run_wait_for(db *d, db_apply_fn apply, void *arg, bool early, bool (*early_if)(void *arg))
{
	run_call rc = {.apply = apply, .arg = arg, .early_if = early_if};
	pthread_mutex_init(&rc.wait.mu, NULL);
	pthread_cond_init(&rc.wait.cv, NULL);
	db_write w = {.apply = run_apply, .done = run_call_done, .arg = &rc, .early = early, .early_if = run_early_if};
	bb_err e = db_submit(d, &w);
	if (e == BB_OK) {
		pthread_mutex_lock(&rc.wait.mu);
		while (!rc.wait.done)
			pthread_cond_wait(&rc.wait.cv, &rc.wait.mu);
		pthread_mutex_unlock(&rc.wait.mu);
		e = rc.wait.err;
	}
	pthread_cond_destroy(&rc.wait.cv);
	pthread_mutex_destroy(&rc.wait.mu);
	return e;
}

bb_err db_run(db *d, db_apply_fn apply, void *arg) { return run_wait_for(d, apply, arg, false, NULL); }

bb_err db_run_early(db *d, db_apply_fn apply, void *arg, bool (*early_if)(void *arg))
{
	return run_wait_for(d, apply, arg, true, early_if);
}

bb_err db_read_begin(db *d, MDB_txn **txn)
{
	return db_err(mdb_txn_begin(d->env, NULL, MDB_RDONLY, txn));
}

void db_read_end(MDB_txn *txn)
{
	if (txn)
		mdb_txn_abort(txn);
}

void db_get_stats(db *d, db_stats *out)
{
	memset(out, 0, sizeof *out);
	out->commits = atomic_load(&d->commits);
	out->writes = atomic_load(&d->writes);
	out->failed_writes = atomic_load(&d->failed_writes);
	out->apply_ns = atomic_load(&d->apply_ns);
	out->commit_ns = atomic_load(&d->commit_ns);
	pthread_mutex_lock(&d->mu);
	out->queued = d->outstanding;
	pthread_mutex_unlock(&d->mu);
	out->map_bytes = d->cfg.map_bytes;
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(d->env, &info) == 0 && mdb_env_stat(d->env, &st) == 0)
		out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
}

/* LMDB does not expose where it mapped the data file (me_mapaddr is only set with MDB_FIXEDMAP), so
 * the mapping is found once in /proc/self/maps by the file's device and inode. */
static void find_map(db *d)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/data.mdb", d->dir);
	if (stat(path, &st) != 0)
		return;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return;
	char line[4600];
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi, ino;
		unsigned maj, min;
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &min, &ino) == 5 && ino == st.st_ino &&
		    makedev(maj, min) == st.st_dev && hi - lo > d->map_len) {
			d->map_addr = (void *)lo;
			d->map_len = hi - lo;
		}
	}
	fclose(f);
}

void db_trim_resident(db *d)
{
	if (d->map_addr)
		madvise(d->map_addr, d->map_len, MADV_DONTNEED);
}

void db_trim_if_over(db *d)
{
	int64_t now = mono_ns(), last = atomic_load(&d->resident_check_ns);
	if (d->statm_fd < 0 || !d->map_addr || now - last < DB_RESIDENT_CHECK_NS ||
	    !atomic_compare_exchange_strong(&d->resident_check_ns, &last, now))
		return;
	char buf[128];
	ssize_t n = pread(d->statm_fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return;
	buf[n] = 0;
	unsigned long size, resident, shared; /* pages; shared = file-backed resident pages */
	if (sscanf(buf, "%lu %lu %lu", &size, &resident, &shared) == 3 &&
	    (uint64_t)shared * d->page_size > DB_RESIDENT_MAX)
		db_trim_resident(d);
}

