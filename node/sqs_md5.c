/* node/sqs_md5.c — MD5 (RFC 1321) and the two digests SQS returns: MD5OfMessageBody and
 * MD5OfMessageAttributes.
 *
 * Why MD5 here: SQS clients compare these digests with their own (the Java SDK and others reject a
 * response whose digest differs), so they must be bit-exact. libsodium has no MD5, so this is a small
 * implementation written from the RFC; message bodies use libcrypto's (linked for SigV4's SHA-256,
 * docs/building.md) because every queue delivery hashes one.
 *
 * MD5OfMessageAttributes (AWS "Calculating the MD5 message digest for message attributes"): for each
 * attribute in ascending byte order of its name: u32be(len(name)) name, u32be(len(type)) type, one
 * transport byte (1 = String/Number, 2 = Binary), u32be(len(value)) value — all concatenated, then
 * MD5 of the whole. Names compare as UTF-8 bytes, which is code-point order.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "sqs_int.h"

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
	0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
	0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
	0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
	0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* Left-rotation amounts, four per round. */
static const uint8_t md5_r[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

static uint32_t rotl(uint32_t x, unsigned c) { return (x << c) | (x >> (32 - c)); }

static void md5_block(uint32_t s[4], const uint8_t *p)
{
	uint32_t m[16];
	for (int i = 0; i < 16; i++)
		m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
		       (uint32_t)p[4 * i + 3] << 24;
	uint32_t a = s[0], b = s[1], c = s[2], d = s[3];
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g, round = i / 16;
		switch (round) {
		case 0:
			f = (b & c) | (~b & d);
			g = i;
			break;
		case 1:
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
			break;
		case 2:
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
			break;
		default:
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
			break;
		}
		uint32_t t = d;
		d = c;
		c = b;
		b = b + rotl(a + f + md5_k[i] + m[g], md5_r[round][i % 4]);
		a = t;
	}
	s[0] += a;
	s[1] += b;
	s[2] += c;
	s[3] += d;
}

void sqs_md5_init(sqs_md5_ctx *x)
{
	x->s[0] = 0x67452301;
	x->s[1] = 0xefcdab89;
	x->s[2] = 0x98badcfe;
	x->s[3] = 0x10325476;
	x->len = 0;
	x->n = 0;
}

void sqs_md5_update(sqs_md5_ctx *x, const void *data, size_t len)
{
	const uint8_t *p = data;
	x->len += len;
	if (x->n) {
		size_t take = 64 - x->n < len ? 64 - x->n : len;
		memcpy(x->buf + x->n, p, take);
		x->n += take;
		p += take;
		len -= take;
		if (x->n < 64)
			return;
		md5_block(x->s, x->buf);
		x->n = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		md5_block(x->s, p);
	memcpy(x->buf, p, len);
	x->n = len;
}

void sqs_md5_final(sqs_md5_ctx *x, uint8_t out[16])
{
	uint64_t bits = x->len * 8;
	static const uint8_t pad0 = 0x80, zero[64] = {0};
	sqs_md5_update(x, &pad0, 1);
	sqs_md5_update(x, zero, (x->n <= 56 ? 56 - x->n : 120 - x->n));
	uint8_t lenb[8];
	for (int i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (8 * i));
	sqs_md5_update(x, lenb, 8);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(x->s[i] >> (8 * j));
}

void sqs_md5(const void *data, size_t len, uint8_t out[16])
{
	/* Whole bodies (every queue delivery hashes one on the store writer): libcrypto's MD5 is ~6x
	 * faster than the portable one below, which stays for the attribute digests and as a fallback. */
	unsigned ol = 0;
	if (EVP_Digest(data, len, out, &ol, EVP_md5(), NULL) && ol == 16)
		return;
	sqs_md5_ctx x;
	sqs_md5_init(&x);
	sqs_md5_update(&x, data, len);
	sqs_md5_final(&x, out);
}

void sqs_hex(const uint8_t *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void md5_lv(sqs_md5_ctx *x, const void *p, size_t len)
{
	uint8_t l[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	sqs_md5_update(x, l, 4);
	sqs_md5_update(x, p, len);
}

void sqs_md5_attrs(const sqs_mattr *a, size_t n, uint8_t out[16])
{
	sqs_md5_ctx x;
	sqs_md5_init(&x);
	for (size_t i = 0; i < n; i++) {
		md5_lv(&x, a[i].name, a[i].name_len);
		md5_lv(&x, a[i].type, a[i].type_len);
		sqs_md5_update(&x, &a[i].transport, 1);
		md5_lv(&x, a[i].val, a[i].val_len);
	}
	sqs_md5_final(&x, out);
}

int sqs_mattr_cmp(const void *pa, const void *pb)
{
	const sqs_mattr *a = pa, *b = pb;
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, n);
	if (c)
		return c;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}
