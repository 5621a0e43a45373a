/* policy/pol_signature.c — SigV4 steps 2 to 5 in one place, shared by verification and signing:
 * canonical request (streamed into SHA-256), string to sign, signing key, HMAC, hex.
 *
 * Everything lives on the caller's stack; the derived signing key is wiped before returning.
 */
#include <string.h>

#include "pol_int.h"

bb_err pol_compute_signature(const pol_request *req, const pol_canon_in *in, const char *amz_date, pol_span scope,
			     pol_span region, pol_span service, const char *secret, char out[65], size_t *missing)
{
	crypto_hash_sha256_state h;
	uint8_t digest[crypto_hash_sha256_BYTES];
	uint8_t key[32], mac[32];
	char creq_hex[65];
	char sts[sizeof(POL_ALGORITHM) + 17 + 8 + 2 * POL_MAX_SCOPE_PART + sizeof(POL_TERMINATOR) + 4 + 65];

	pol_crypto_init();
	crypto_hash_sha256_init(&h);
	pol_sink cs = {&h, NULL, 0, 0, false};
	bb_err e = pol_canonical_request(&cs, req, in, missing);
	if (e != BB_OK)
		return e;
	crypto_hash_sha256_final(&h, digest);
	pol_hex(digest, sizeof digest, creq_hex);

	pol_sink ss = {NULL, sts, sizeof sts, 0, false};
	pol_string_to_sign(&ss, amz_date, scope.p, scope.n, creq_hex);
	if (ss.overflow)
		return BB_EAUTHINCOMPLETE; /* scope longer than the parser allows: cannot happen */

	pol_signing_key(secret, scope.p, region.p, region.n, service.p, service.n, key);
	pol_hmac(key, sizeof key, sts, ss.len, mac);
	pol_hex(mac, sizeof mac, out);
	sodium_memzero(key, sizeof key);
	sodium_memzero(mac, sizeof mac);
	return BB_OK;
}
