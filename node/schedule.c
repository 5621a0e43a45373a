/* node/schedule.c — validation of PutRule ScheduleExpression: `rate(N unit)` and `cron(6 fields)`
 * as EventBridge accepts them (AWS-recorded cases in tests/integration/test_rules.py).
 *
 * rate: N a positive integer without sign or padding spaces; unit minute|hour|day, singular when
 *       N is 1 and plural otherwise; exactly one space between them.
 * cron: minutes hours day-of-month month day-of-week year, separated by single spaces.
 *       minutes 0-59, hours 0-23, day-of-month 1-31 (also ? L W), month 1-12 or JAN-DEC,
 *       day-of-week 1-7 or SUN-SAT (also ? L #), year 1970-2199; lists (,), ranges (-), steps (/),
 *       and * everywhere; exactly one of day-of-month and day-of-week must be `?`.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "node_int.h"

static bool parse_uint(const char **p, const char *end, unsigned long *out)
{
	const char *s = *p;
	if (s >= end || !isdigit((unsigned char)*s))
		return false;
	unsigned long v = 0;
	while (s < end && isdigit((unsigned char)*s)) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 100000)
			return false;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

static bool rate_ok(const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	unsigned long n;
	if (!parse_uint(&p, end, &n) || n == 0 || p >= end || *p != ' ')
		return false;
	p++;
	static const char *units[] = {"minute", "hour", "day"};
	for (size_t i = 0; i < BB_ARRAY_LEN(units); i++) {
		size_t ul = strlen(units[i]);
		size_t rest = (size_t)(end - p);
		if (rest < ul || strncmp(p, units[i], ul) != 0)
			continue;
		if (n == 1)
			return rest == ul;
		return rest == ul + 1 && p[ul] == 's';
	}
	return false;
}

typedef struct cron_field {
	unsigned long lo, hi;
	const char *const *names; /* optional 3-letter names, index 0 = lo */
	const char *extra;        /* allowed special characters besides , - * / */
} cron_field;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					  "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

/* One value: a number in range or a name. */
static bool cron_value(const char **p, const char *end, const cron_field *f)
{
	unsigned long v;
	if (parse_uint(p, end, &v))
		return v >= f->lo && v <= f->hi;
	if (f->names && end - *p >= 3) {
		for (size_t i = 0; f->names[i]; i++)
			if (strncasecmp(*p, f->names[i], 3) == 0) {
				*p += 3;
				return true;
			}
	}
	return false;
}

/* One comma-separated item: *, ?, L, value, value-value, with optional /step, W/L/# suffixes. */
static bool cron_item(const char *s, const char *end, const cron_field *f)
{
	const char *p = s;
	if (p == end)
		return false;
	if (*p == '?')
		return strchr(f->extra, '?') && p + 1 == end;
	if (*p == 'L' && p + 1 == end)
		return strchr(f->extra, 'L') != NULL;
	if (*p == '*') {
		p++;
	} else {
		if (!cron_value(&p, end, f))
			return false;
		if (p < end && *p == '-') {
			p++;
			if (!cron_value(&p, end, f))
				return false;
		}
		if (p < end && (*p == 'W' || *p == 'L') && strchr(f->extra, *p))
			p++;
		if (p < end && *p == '#' && strchr(f->extra, '#')) {
			p++;
			unsigned long nth;
			if (!parse_uint(&p, end, &nth) || nth < 1 || nth > 5)
				return false;
		}
	}
	if (p < end && *p == '/') {
		p++;
		unsigned long step;
		if (!parse_uint(&p, end, &step) || step == 0)
			return false;
	}
	return p == end;
}

static bool cron_field_ok(const char *s, size_t len, const cron_field *f)
{
	const char *end = s + len, *p = s;
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *item_end = comma ? comma : end;
		if (!cron_item(p, item_end, f))
			return false;
		if (!comma)
			break;
		p = comma + 1;
	}
	return true;
}

static bool cron_ok(const char *s, size_t len)
{
	static const cron_field fields[6] = {
		{0, 59, NULL, ""},          {0, 23, NULL, ""},       {1, 31, NULL, "?LW"},
		{1, 12, month_names, ""},   {1, 7, dow_names, "?L#"}, {1970, 2199, NULL, ""},
	};
	const char *start[6];
	size_t flen[6];
	size_t n = 0;
	const char *p = s, *end = s + len;
	while (p < end) {
		if (n == 6)
			return false;
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *fe = sp ? sp : end;
		if (fe == p)
			return false; /* empty field: double or edge space */
		start[n] = p;
		flen[n++] = (size_t)(fe - p);
		p = sp ? sp + 1 : end;
		if (sp && p == end)
			return false;
	}
	if (n != 6)
		return false;
	for (size_t i = 0; i < 6; i++)
		if (!cron_field_ok(start[i], flen[i], &fields[i]))
			return false;
	bool dom_q = flen[2] == 1 && start[2][0] == '?';
	bool dow_q = flen[4] == 1 && start[4][0] == '?';
	return dom_q != dow_q;
}

bool schedule_expression_ok(const char *s)
{
	size_t len = strlen(s);
	if (len > 6 && strncmp(s, "rate(", 5) == 0 && s[len - 1] == ')')
		return rate_ok(s + 5, len - 6);
	if (len > 6 && strncmp(s, "cron(", 5) == 0 && s[len - 1] == ')')
		return cron_ok(s + 5, len - 6);
	return false;
}
