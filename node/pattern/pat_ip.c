/* node/pattern/pat_ip.c — IP literal parsing as event-ruler does it: the text must match its IPv4
 * regex ([0-9]+ four times, dot-separated) or IPv6 regex (only hex digits and colons, at least one
 * colon), then java.net.InetAddress rules apply: IPv4 parts 0..255 without ambiguous leading zeros;
 * IPv6 1-4 hex digits per group, at most one "::", eight groups in all; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d written in hex) becomes the IPv4 address.
 */
#include <string.h>

#include "pat_int.h"

static int parse_v4(const char *s, size_t n, uint8_t out[16])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		size_t st = i;
		unsigned v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (unsigned)(s[i] - '0');
			if (v > 255)
				return 0;
			i++;
		}
		if (i == st)
			return 0;
		if (i - st > 1 && s[st] == '0')
			return 0; /* ambiguous (octal-looking) literal: rejected by current JDKs */
		out[part] = (uint8_t)v;
		if (part < 3) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i == n ? 4 : 0;
}


static int parse_v6(const char *s, size_t n, uint8_t out[16])
{
	bool colon = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':')
			colon = true;
		else if (bb_hexval(s[i]) < 0)
			return 0;
	}
	if (!colon || n < 2)
		return 0;
	uint16_t g[8];
	int ng = 0, gap = -1;
	size_t i = 0;
	if (s[0] == ':') {
		if (s[1] != ':')
			return 0;
		gap = 0;
		i = 2;
		if (i == n)
			goto done;
	}
	for (;;) {
		size_t st = i;
		unsigned v = 0;
		while (i < n && s[i] != ':') {
			v = (v << 4) | (unsigned)bb_hexval(s[i]);
			i++;
		}
		if (i - st == 0 || i - st > 4 || ng >= 8)
			return 0;
		g[ng++] = (uint16_t)v;
		if (i == n)
			break;
		i++; /* ':' */
		if (i < n && s[i] == ':') {
			if (gap >= 0)
				return 0;
			gap = ng;
			i++;
			if (i == n)
				break;
		} else if (i == n) {
			return 0; /* trailing single colon */
		}
	}
done:
	if (gap < 0 && ng != 8)
		return 0;
	if (gap >= 0 && ng > 7)
		return 0;
	memset(out, 0, 16);
	int tail = gap >= 0 ? ng - gap : 0;
	int head = gap >= 0 ? gap : ng;
	for (int k = 0; k < head; k++) {
		out[2 * k] = (uint8_t)(g[k] >> 8);
		out[2 * k + 1] = (uint8_t)g[k];
	}
	for (int k = 0; k < tail; k++) {
		int pos = 8 - tail + k;
		out[2 * pos] = (uint8_t)(g[head + k] >> 8);
		out[2 * pos + 1] = (uint8_t)g[head + k];
	}
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(out, mapped, 12) == 0) {
		memmove(out, out + 12, 4);
		return 4;
	}
	return 16;
}

int pat_ip_parse(const char *s, size_t n, uint8_t out[16])
{
	memset(out, 0, 16); /* an IPv4 address fills 4 bytes; the rest is compared and hashed too */
	if (n == 0 || n > 64)
		return 0;
	if (memchr(s, ':', n))
		return parse_v6(s, n, out);
	return parse_v4(s, n, out);
}
