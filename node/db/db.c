/* node/db/db.c — LMDB environment and the writer thread (group commit). Contract in db.h.
 *
 * The writer loop: wait for queued writes; detach the whole queue (at most max_batch); begin one
 * write transaction; for each write begin a nested transaction, run apply, commit or abort the
 * nested one; commit the batch (LMDB fsyncs the data and then the meta page unless no_sync); call
 * every done with its outcome. A failed batch commit fails every write in it. A page flush that hits
 * ENOSPC aborts the transaction and leaves the environment usable, so a disk that was cleaned needs
 * no restart; only a failed meta-page write (MDB_PANIC) does, and then every write fails with BB_EIO.
 */
#include "db.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	bool stopping;
	pthread_t thread;

	_Atomic uint64_t commits, writes, failed_writes;
	void *map_addr; /* the data file's mapping (read-only, shared) */
	size_t map_len;
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

static void complete(db_write *list, bb_err err_all, bb_err *errs, size_t n)
{
	size_t i = 0;
	while (list) {
		db_write *next = list->next;
		bb_err e = err_all != BB_OK ? err_all : (errs && i < n ? errs[i] : BB_OK);
		list->next = NULL;
		if (list->done)
			list->done(list->arg, e);
		list = next;
		i++;
	}
}

/* Runs one batch; returns the error of the commit (per-write errors in errs). */
static bb_err run_batch(db *d, db_write *list, bb_err *errs, size_t n)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (rc)
		return db_err(rc);
	size_t i = 0, kept = 0;
	for (db_write *w = list; w && i < n; w = w->next, i++) {
		MDB_txn *sub;
		rc = mdb_txn_begin(d->env, txn, 0, &sub);
		if (rc) {
			mdb_txn_abort(txn);
			return db_err(rc);
		}
		bb_err e = w->apply(d, sub, w->arg);
		if (e == BB_OK) {
			rc = mdb_txn_commit(sub);
			e = db_err(rc);
		} else {
			mdb_txn_abort(sub);
		}
		errs[i] = e;
		if (e == BB_OK)
			kept++;
	}
	if (kept == 0) {
		mdb_txn_abort(txn);
		return BB_OK;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return db_err(rc);
	atomic_fetch_add(&d->commits, 1);
	return BB_OK;
}

static void *writer_main(void *arg)
{
	db *d = arg;
	size_t cap = d->cfg.max_batch;
	bb_err *errs = calloc(cap, sizeof *errs);
	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->head && !d->stopping)
			pthread_cond_wait(&d->cv, &d->mu);
		if (!d->head && d->stopping)
			break;
		/* Detach up to cap writes. */
		db_write *list = d->head, *last = d->head;
		size_t n = 1;
		while (last->next && n < cap) {
			last = last->next;
			n++;
		}
		d->head = last->next;
		if (!d->head)
			d->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&d->mu);

		bb_err e = errs ? run_batch(d, list, errs, n) : BB_ENOMEM;
		if (e != BB_OK)
			BB_LOGW("db", "msg=\"batch failed\" writes=%zu err=%s", n, bb_errname(e));
		atomic_fetch_add(&d->writes, n);
		size_t failed = 0;
		for (size_t i = 0; i < n; i++)
			failed += (e != BB_OK || errs[i] != BB_OK);
		atomic_fetch_add(&d->failed_writes, failed);
		complete(list, e, errs, n);

		pthread_mutex_lock(&d->mu);
		d->outstanding -= n;
	}
	pthread_mutex_unlock(&d->mu);
	free(errs);
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
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (pthread_create(&d->thread, NULL, writer_main, d) != 0)
		goto fail_thread;
	*out = d;
	return BB_OK;
fail_thread:
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
	pthread_mutex_unlock(&d->mu);
	complete(rest, BB_ESHUTDOWN, NULL, 0);
	pthread_join(d->thread, NULL);
	mdb_env_close(d->env);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d->dir);
	free(d);
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
	if (d->outstanding >= d->cfg.max_queued) {
		pthread_mutex_unlock(&d->mu);
		return BB_EBUSY;
	}
	d->outstanding++;
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
	run_wait wait;
} run_call;

static bb_err run_apply(db *d, MDB_txn *txn, void *arg)
{
	run_call *rc = arg;
	return rc->apply(d, txn, rc->arg);
}

static void run_call_done(void *arg, bb_err err) { run_done(&((run_call *)arg)->wait, err); }

bb_err db_run(db *d, db_apply_fn apply, void *arg)
{
	run_call rc = {.apply = apply, .arg = arg};
	pthread_mutex_init(&rc.wait.mu, NULL);
	pthread_cond_init(&rc.wait.cv, NULL);
	db_write w = {.apply = run_apply, .done = run_call_done, .arg = &rc};
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
