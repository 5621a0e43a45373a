/* common/bb_log.c — structured one-line logging to stderr. One write(2) per line so concurrent
 * threads never interleave within a line. Never pass payloads or secrets. */
#include "bb.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int bb_log_min = BB_LOG_INFO;

void bb_log_set_level(bb_log_level lvl) { atomic_store(&bb_log_min, (int)lvl); }

bb_err bb_log_parse_level(const char *s, bb_log_level *out)
{
	static const char *names[] = {"debug", "info", "warn", "error", "off"};
	for (size_t i = 0; i < BB_ARRAY_LEN(names); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (bb_log_level)i;
			return BB_OK;
		}
	}
	return BB_EINVAL;
}

void bb_log(bb_log_level lvl, const char *component, const char *fmt, ...)
{
	static const char *lvl_names[] = {"debug", "info", "warn", "error", "off"};
	if ((int)lvl < atomic_load(&bb_log_min) || lvl >= BB_LOG_OFF)
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 ts.tv_nsec / 1000000, lvl_names[lvl], component);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
