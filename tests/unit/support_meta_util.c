/* tests/unit/support_meta_util.c — fixtures shared by the test_meta_* programs: temp dirs, a free
 * loopback port, request ids and a deterministic PRNG. Each test declares the helpers it uses. */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A fresh directory under /tmp (malloc'd path), or NULL. */
char *meta_test_tmpdir(void)
{
	char *p = strdup("/tmp/bbmeta-XXXXXX");
	if (p && !mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf path, then frees it. */
void meta_test_rmdir(char *path)
{
	if (!path)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

/* A port that was free on 127.0.0.1 a moment ago (bind to port 0, read it back). */
int meta_test_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A request id derived from (tag, seq): distinct inputs give distinct ids. */
void meta_test_rid(uint8_t id[16], uint64_t tag, uint64_t seq)
{
	memcpy(id, &tag, 8);
	memcpy(id + 8, &seq, 8);
}

/* xorshift64*: deterministic pseudo-random numbers for tests. */
uint64_t meta_test_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}
