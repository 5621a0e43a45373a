/* tests/unit/test_seglog_log.c — the segment log (node/seglog): appends from many threads get
 * consecutive seqs and readable LSNs; files roll at the size limit and reads cross them; reopening
 * continues the seqs; a torn or garbled end is cut (and only the end); dropping old files keeps the
 * rest readable; the byte cap answers BB_ENOSPC; a scan visits everything in order; appends during
 * the commit interval share one batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/seglog/seglog.h"

static char dir[256];

static void fresh_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/bb-logtest-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_dir(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

typedef struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	bb_err err;
} waiter;

static void wake(void *arg, bb_err err)
{
	waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	w->err = err;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Appends n payloads (borrowed) and waits; fills recs. */
static bb_err append_wait(seglog *l, seglog_rec *recs, size_t n)
{
	waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, BB_OK};
	seglog_append a = {.recs = recs, .n = n, .ms = 1234, .done = wake, .arg = &w};
	bb_err e = seglog_submit(l, &a);
	if (e != BB_OK)
		return e;
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	return w.err;
}

static void payload(char *buf, size_t cap, uint64_t i)
{
	snprintf(buf, cap, "event-%llu-%.*s", (unsigned long long)i, (int)(i % 97), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static void expect_read(seglog *l, const seglog_rec *r, const char *want)
{
	seglog_entry e;
	assert_int_equal(seglog_read(l, r->lsn, r->size, &e), BB_OK);
	assert_int_equal(e.len, strlen(want));
	assert_memory_equal(e.payload, want, e.len);
	assert_int_equal(e.seq, r->seq);
	assert_int_equal(e.ms, 1234);
	free(e.buf);
	/* without the size hint too */
	assert_int_equal(seglog_read(l, r->lsn, 0, &e), BB_OK);
	assert_int_equal(e.len, strlen(want));
	free(e.buf);
}

typedef struct thr {
	seglog *l;
	uint64_t id;
	seglog_rec recs[50];
	char data[50][160];
} thr;

static void *appender(void *arg)
{
	thr *t = arg;
	for (int i = 0; i < 50; i++) {
		payload(t->data[i], sizeof t->data[i], t->id * 1000 + (uint64_t)i);
		t->recs[i] = (seglog_rec){.data = t->data[i], .len = strlen(t->data[i])};
		assert_int_equal(append_wait(t->l, &t->recs[i], 1), BB_OK);
	}
	return NULL;
}

static int count_files(void)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".seg") != NULL;
	closedir(d);
	return n;
}

static void test_append_read_roll_reopen(void **state)
{
	(void)state;
	fresh_dir();
	seglog_config cfg = {.dir = dir, .segment_bytes = 4096};
	seglog *l;
	assert_int_equal(seglog_open(&cfg, &l), BB_OK);
	thr t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		t[i].l = l;
		t[i].id = (uint64_t)i;
		pthread_create(&th[i], NULL, appender, &t[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* 200 distinct seqs 1..200 */
	bool seen[201] = {false};
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 50; k++) {
			assert_true(t[i].recs[k].seq >= 1 && t[i].recs[k].seq <= 200);
			assert_false(seen[t[i].recs[k].seq]);
			seen[t[i].recs[k].seq] = true;
			expect_read(l, &t[i].recs[k], t[i].data[k]);
		}
	assert_true(count_files() > 2);
	seglog_stats st;
	seglog_get_stats(l, &st);
	assert_int_equal(st.next_seq, 201);
	seglog_close(l);

	/* reopen: everything is there, seqs continue */
	assert_int_equal(seglog_open(&cfg, &l), BB_OK);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 50; k++)
			expect_read(l, &t[i].recs[k], t[i].data[k]);
	seglog_rec r = {.data = "after", .len = 5};
	assert_int_equal(append_wait(l, &r, 1), BB_OK);
	assert_int_equal(r.seq, 201);
	expect_read(l, &r, "after");
	seglog_close(l);
	rm_dir();
}

static bool count_cb(void *ctx, const seglog_entry *e, uint64_t lsn)
{
	(void)lsn;
	uint64_t *expect = ctx;
	assert_int_equal(e->seq, *expect);
	(*expect)++;
	return true;
}

static void last_file(char *out, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[300] = "";
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".seg") && strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof best, "%s", de->d_name);
	closedir(d);
	snprintf(out, cap, "%s/%s", dir, best);
}

static void test_torn_tail_is_cut(void **state)
{
	(void)state;
	fresh_dir();
	seglog_config cfg = {.dir = dir};
	seglog *l;
	assert_int_equal(seglog_open(&cfg, &l), BB_OK);
	seglog_rec r[10];
	char data[10][32];
	for (int i = 0; i < 10; i++) {
		snprintf(data[i], sizeof data[i], "payload %d", i);
		r[i] = (seglog_rec){.data = data[i], .len = strlen(data[i])};
	}
	assert_int_equal(append_wait(l, r, 10), BB_OK);
	seglog_close(l);
	char path[700];
	last_file(path, sizeof path);
	/* a torn record: half a header appended */
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "BBL1\x10\0\0\0abc", 11), 11);
	close(fd);
	assert_int_equal(seglog_open(&cfg, &l), BB_OK);
	for (int i = 0; i < 10; i++)
		expect_read(l, &r[i], data[i]);
	uint64_t expect = 1;
	assert_int_equal(seglog_scan(l, 0, count_cb, &expect), BB_OK);
	assert_int_equal(expect, 11);
	seglog_close(l);
	/* a garbled last record: the log ends before it */
	fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, "X", 1, (off_t)r[9].lsn + 40), 1);
	close(fd);
	assert_int_equal(seglog_open(&cfg, &l), BB_OK);
	for (int i = 0; i < 9; i++)
		expect_read(l, &r[i], data[i]);
	seglog_entry e;
	assert_int_equal(seglog_read(l, r[9].lsn, r[9].size, &e), BB_ENOTFOUND);
	seglog_rec again = {.data = "new", .len = 3};
	assert_int_equal(append_wait(l, &again, 1), BB_OK);
	assert_int_equal(again.seq, 10); /* the cut record's seq is handed out again */
	assert_int_equal(again.lsn, r[9].lsn);
	seglog_close(l);
	rm_dir();
}

static void test_drop_and_cap(void **state)
{
	(void)state;
	fresh_dir();
	seglog_config cfg = {.dir = dir, .segment_bytes = 1024, .max_bytes = 8000};
	seglog *l;
	assert_int_equal(seglog_open(&cfg, &l), BB_OK);
	seglog_rec r[60];
	char data[60][200];
	size_t ok = 0;
	bb_err e = BB_OK;
	for (int i = 0; i < 60 && e == BB_OK; i++) {
		memset(data[i], 'a' + i % 26, 190);
		data[i][190] = '\0';
		r[i] = (seglog_rec){.data = data[i], .len = 190};
		e = append_wait(l, &r[i], 1);
		ok += e == BB_OK;
	}
	assert_int_equal(e, BB_ENOSPC); /* the cap */
	assert_true(ok > 20 && ok < 60);
	int files = count_files();
	seglog_drop_before(l, r[20].lsn);
	assert_true(count_files() < files);
	seglog_entry en;
	assert_int_equal(seglog_read(l, r[0].lsn, r[0].size, &en), BB_ENOTFOUND);
	for (size_t i = 20; i < ok; i++)
		expect_read(l, &r[i], data[i]);
	/* space came back: appends work again */
	seglog_rec more = {.data = "more", .len = 4};
	assert_int_equal(append_wait(l, &more, 1), BB_OK);
	uint64_t expect = r[20].seq;
	seglog_stats st;
	seglog_get_stats(l, &st);
	/* scan from the start of the oldest kept file: in order, without gaps, to the end */
	uint64_t first = 0;
	for (size_t i = 0; i < ok; i++)
		if (r[i].lsn == st.start_lsn)
			first = r[i].seq;
	assert_true(first > 0 && first <= expect);
	expect = first;
	assert_int_equal(seglog_scan(l, 0, count_cb, &expect), BB_OK);
	assert_int_equal(expect, more.seq + 1);
	seglog_close(l);
	rm_dir();
}

/* CRC-32C: the published check value, and the hardware path against a bytewise reference. */
static uint32_t crc_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(seglog_crc32c(0, "123456789", 9), 0xE3069283u);
	uint8_t buf[1000];
	uint64_t r = 99;
	for (size_t i = 0; i < sizeof buf; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (uint8_t)(r >> 56);
	}
	for (size_t n = 0; n < sizeof buf; n += 37) {
		assert_int_equal(seglog_crc32c(0, buf, n), crc_ref(buf, n));
		/* in two pieces */
		assert_int_equal(seglog_crc32c(seglog_crc32c(0, buf, n / 3), buf + n / 3, n - n / 3), crc_ref(buf, n));
	}
}

/* With min_interval_us, appends that arrive while the interval since the previous batch runs are
 * gathered into one batch (one fdatasync), and each completes durable, in order. */
static void test_commit_interval_gathers(void **state)
{
	(void)state;
	fresh_dir();
	seglog_config cfg = {.dir = dir, .min_interval_us = 300000};
	seglog *l;
	assert_int_equal(seglog_open(&cfg, &l), BB_OK);
	seglog_rec first = {.data = "first", .len = 5};
	assert_int_equal(append_wait(l, &first, 1), BB_OK); /* batch 1 starts the interval */
	enum { N = 20 };
	static waiter w[N];
	static seglog_rec r[N];
	static seglog_append a[N];
	static char text[N][16];
	for (int i = 0; i < N; i++) {
		w[i] = (waiter){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, BB_OK};
		snprintf(text[i], sizeof text[i], "gathered-%d", i);
		r[i] = (seglog_rec){.data = text[i], .len = strlen(text[i])};
		a[i] = (seglog_append){.recs = &r[i], .n = 1, .ms = 1234, .done = wake, .arg = &w[i]};
		assert_int_equal(seglog_submit(l, &a[i]), BB_OK);
	}
	for (int i = 0; i < N; i++) {
		pthread_mutex_lock(&w[i].mu);
		while (!w[i].done)
			pthread_cond_wait(&w[i].cv, &w[i].mu);
		pthread_mutex_unlock(&w[i].mu);
		assert_int_equal(w[i].err, BB_OK);
		assert_int_equal(r[i].seq, first.seq + 1 + (uint64_t)i);
		expect_read(l, &r[i], text[i]);
	}
	seglog_stats st;
	seglog_get_stats(l, &st);
	assert_int_equal(st.batches, 2); /* all twenty in the second batch */
	seglog_close(l);
	rm_dir();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_read_roll_reopen),
		cmocka_unit_test(test_torn_tail_is_cut),
		cmocka_unit_test(test_drop_and_cap),
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_commit_interval_gathers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
