/* policy/pol_hash.c — the hashing primitives SigV4 is made of, on libsodium, except the SHA-256 of
 * request bodies: libsodium's is portable C (~170 MB/s here), OpenSSL's libcrypto uses the CPU's SHA
 * extensions when present (~1.2 GB/s, docs/building.md), and a 10 KiB PutEvents body is hashed on
 * every request.
 *
 * sodium_init() runs once per process behind pthread_once; that is the only global state in policy/.
 * HMAC uses crypto_auth_hmacsha256_init/update/final because the one-shot crypto_auth_hmacsha256()
 * accepts only 32-byte keys and SigV4's first key ("AWS4" + secret) is 44 bytes (reference/deps.md §4).
 * Key material is wiped with sodium_memzero() before returning, except the one signing key per thread
 * that pol_signing_key keeps for the next request of the same day, region and service (and secret).
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "pol_int.h"

static pthread_once_t pol_sodium_once = PTHREAD_ONCE_INIT;

static void pol_sodium_init_once(void)
{
	/* Returns -1 only if the system has no usable randomness source; SHA-256 and HMAC do not need
	 * one, so the hash functions below remain correct either way. */
	int rc = sodium_init();
	(void)rc;
}

void pol_crypto_init(void)
{
	pthread_once(&pol_sodium_once, pol_sodium_init_once);
}

void pol_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void pol_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	unsigned hl = 0;
	pol_crypto_init();
	if (!EVP_Digest(data ? data : (const void *)"", len, h, &hl, EVP_sha256(), NULL) || hl != sizeof h)
		crypto_hash_sha256(h, data ? data : (const void *)"", len); /* only if libcrypto cannot (no memory) */
	pol_hex(h, sizeof h, out);
}

void pol_hmac(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, msg, msg_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

/* The last signing key this thread derived. SigV4's key depends only on (secret, day, region,
 * service), so clients sign every request of a day with the same one and AWS's SDKs cache it too;
 * deriving it costs four HMACs per request. The cache holds the secret to compare (constant time) —
 * the secret is in the caller's metadata anyway — and is wiped when replaced. */
static _Thread_local struct {
	bool valid;
	char secret[POL_MAX_SECRET];
	char date8[8];
	char region[POL_MAX_SCOPE_PART], service[POL_MAX_SCOPE_PART];
	size_t region_len, service_len;
	uint8_t key[32];
} key_cache;

static void derive(const char *secret, const char *date8, const char *region, size_t region_len,
		   const char *service, size_t service_len, uint8_t out[32]);

void pol_signing_key(const char *secret, const char *date8, const char *region, size_t region_len,
		     const char *service, size_t service_len, uint8_t out[32])
{
	size_t slen = strnlen(secret, POL_MAX_SECRET - 1);
	if (key_cache.valid && region_len == key_cache.region_len && service_len == key_cache.service_len &&
	    memcmp(date8, key_cache.date8, 8) == 0 && memcmp(region, key_cache.region, region_len) == 0 &&
	    memcmp(service, key_cache.service, service_len) == 0 && strnlen(key_cache.secret, POL_MAX_SECRET) == slen &&
	    sodium_memcmp(key_cache.secret, secret, slen) == 0) {
		memcpy(out, key_cache.key, 32);
		return;
	}
	derive(secret, date8, region, region_len, service, service_len, out);
	if (region_len > sizeof key_cache.region || service_len > sizeof key_cache.service) {
		key_cache.valid = false;
		return;
	}
	sodium_memzero(&key_cache, sizeof key_cache);
	memcpy(key_cache.secret, secret, slen);
	memcpy(key_cache.date8, date8, 8);
	memcpy(key_cache.region, region, region_len);
	memcpy(key_cache.service, service, service_len);
	key_cache.region_len = region_len;
	key_cache.service_len = service_len;
	memcpy(key_cache.key, out, 32);
	key_cache.valid = true;
}

static void derive(const char *secret, const char *date8, const char *region, size_t region_len,
		   const char *service, size_t service_len, uint8_t out[32])
{
	uint8_t first[4 + POL_MAX_SECRET];
	size_t slen = strnlen(secret, POL_MAX_SECRET - 1);
	uint8_t k[32];

	pol_crypto_init();
	memcpy(first, "AWS4", 4);
	memcpy(first + 4, secret, slen);
	pol_hmac(first, 4 + slen, date8, 8, k);
	pol_hmac(k, sizeof k, region, region_len, k);
	pol_hmac(k, sizeof k, service, service_len, k);
	pol_hmac(k, sizeof k, POL_TERMINATOR, strlen(POL_TERMINATOR), out);
	sodium_memzero(first, sizeof first);
	sodium_memzero(k, sizeof k);
}
