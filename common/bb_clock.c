/* common/bb_clock.c — the process clock and random source, UUID generation, and calendar arithmetic. Tests inject their
 * own bb_clock / bb_rng instead of these (DESIGN.md §5.7). */
#include "bb.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t sys_wall_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t sys_mono_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const bb_clock bb_clock_system = {sys_wall_ms, sys_mono_ns, NULL};

/* Small requests (UUIDs: 16 bytes, several per request) are served from a per-thread buffer filled
 * 256 bytes at a time, one getrandom instead of one per UUID; served bytes are wiped. The process
 * never forks, so no two processes share a buffer. */
static _Thread_local struct {
	uint8_t buf[256];
	size_t left;
} tl_rand;

static void sys_fill(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	if (len > 64) {
		randombytes_buf(buf, len);
		return;
	}
	if (tl_rand.left < len) {
		randombytes_buf(tl_rand.buf, sizeof tl_rand.buf);
		tl_rand.left = sizeof tl_rand.buf;
	}
	uint8_t *p = tl_rand.buf + sizeof tl_rand.buf - tl_rand.left;
	memcpy(buf, p, len);
	sodium_memzero(p, len);
	tl_rand.left -= len;
}

const bb_rng bb_rng_system = {sys_fill, NULL};

void bb_uuid4(const bb_rng *r, char out[37])
{
	uint8_t b[16];
	bb_random(r, b, sizeof b);
	static const char hex[] = "0123456789abcdef";
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	*o = '\0';
}

/* Howard Hinnant's days-from-civil algorithms (eras of 400 years, March-based years). */
int64_t bb_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void bb_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = era * 400 + yoe + (*m <= 2);
}
