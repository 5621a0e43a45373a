/* policy/pol_why.c — building the human-readable reason that accompanies every auth error.
 *
 * Reasons are assembled from literal AWS wording plus echoes of what the client sent (so the text
 * matches what AWS would say, e.g. "...not 'eu-west-9'. "). Echoed bytes are made printable ASCII and
 * shortened, because the reason is returned inside a JSON error body that jansson requires to be
 * valid UTF-8, and a hostile header must not produce an unbounded or unprintable message.
 */
#include <string.h>

#include "pol_int.h"

#define POL_WHY_ECHO_MAX 256

void pol_why_clear(char *why, size_t cap)
{
	if (why && cap)
		why[0] = '\0';
}

static void add_bytes(char *why, size_t cap, const char *p, size_t n)
{
	if (!why || !cap)
		return;
	size_t len = strnlen(why, cap - 1);
	size_t room = cap - 1 - len;
	if (n > room)
		n = room;
	memcpy(why + len, p, n);
	why[len + n] = '\0';
}

void pol_why_add(char *why, size_t cap, const char *text)
{
	add_bytes(why, cap, text, strlen(text));
}

void pol_why_echo(char *why, size_t cap, const char *p, size_t n)
{
	char buf[POL_WHY_ECHO_MAX + 3];
	size_t k = 0;
	if (!p)
		n = 0;
	for (size_t i = 0; i < n && i < POL_WHY_ECHO_MAX; i++) {
		unsigned char c = (unsigned char)p[i];
		buf[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (n > POL_WHY_ECHO_MAX) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	add_bytes(why, cap, buf, k);
}
