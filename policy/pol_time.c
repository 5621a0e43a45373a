/* policy/pol_time.c — SigV4 timestamps: parse "YYYYMMDDTHHMMSSZ" (X-Amz-Date) and HTTP Date headers,
 * format epoch seconds back.
 *
 * Pure arithmetic on the proleptic Gregorian calendar (days-from-civil), no timegm()/gmtime_r(), no
 * locale and no TZ: reentrant and identical on every host. Seconds 0..60 are accepted (a leap second
 * counts as the next minute's :00, which is within any skew window).
 */
#include <string.h>

#include "pol_int.h"

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Reads n decimal digits; false on anything else. */
static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool make_time(int y, int mo, int d, int h, int mi, int s, int64_t *out)
{
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
		return false;
	*out = bb_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return true;
}

bool pol_parse_amz_date(const char *s, size_t len, int64_t *out)
{
	int y, mo, d, h, mi, sec;
	if (!s || len != 16 || s[8] != 'T' || s[15] != 'Z')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) || !digits(s + 9, 2, &h) ||
	    !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &sec))
		return false;
	return make_time(y, mo, d, h, mi, sec, out);
}

bool pol_parse_http_date(const char *s, size_t len, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int y, d, h, mi, sec, mo = 0;

	if (pol_parse_amz_date(s, len, out))
		return true;
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" — 29 bytes. */
	if (!s || len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
	    s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
		return false;
	for (int i = 0; i < 12; i++) {
		if (memcmp(s + 8, months + 3 * i, 3) == 0) {
			mo = i + 1;
			break;
		}
	}
	if (!mo || !digits(s + 5, 2, &d) || !digits(s + 12, 4, &y) || !digits(s + 17, 2, &h) ||
	    !digits(s + 20, 2, &mi) || !digits(s + 23, 2, &sec))
		return false;
	return make_time(y, mo, d, h, mi, sec, out);
}

void pol_format_amz_date(int64_t t, char out[17])
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t rem = t - days * 86400;
	int64_t y;
	int m, d;
	bb_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) { /* outside what the format can say; clamp, never overflow out[] */
		memcpy(out, y < 0 ? "00000101T000000Z" : "99991231T235959Z", 17);
		return;
	}
	int h = (int)(rem / 3600), mi = (int)(rem / 60 % 60), s = (int)(rem % 60);
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = (char)('0' + m / 10);
	out[5] = (char)('0' + m % 10);
	out[6] = (char)('0' + d / 10);
	out[7] = (char)('0' + d % 10);
	out[8] = 'T';
	out[9] = (char)('0' + h / 10);
	out[10] = (char)('0' + h % 10);
	out[11] = (char)('0' + mi / 10);
	out[12] = (char)('0' + mi % 10);
	out[13] = (char)('0' + s / 10);
	out[14] = (char)('0' + s % 10);
	out[15] = 'Z';
	out[16] = '\0';
}
