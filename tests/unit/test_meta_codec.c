/* tests/unit/test_meta_codec.c — the transaction codec and entry framing (raft/meta_codec.c):
 * round trips, 8-byte padding of every entry (deps.md R1), limits, and hostile/truncated input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "meta_int.h"

uint64_t meta_test_rand(uint64_t *state);

static const uint8_t RID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t bigkey[META_MAX_KEY];
	memset(bigkey, 'k', sizeof bigkey);
	meta_op ops[] = {
		{META_OP_PUT, "a/1", 3, "hello", 5, META_ANY},
		{META_OP_PUT, "a/2", 3, NULL, 0, META_ABSENT},
		{META_OP_DEL, "a/3", 3, NULL, 0, 42},
		{META_OP_CHECK, "a/4", 3, NULL, 0, INT64_MAX},
		{META_OP_DEL_PREFIX, "b/", 2, NULL, 0, META_ANY},
		{META_OP_PUT, bigkey, sizeof bigkey, "\0\1\2", 3, 7},
	};
	void *base;
	size_t len;
	assert_int_equal(meta_txn_encode(RID, ops, BB_ARRAY_LEN(ops), &base, &len), BB_OK);
	assert_int_equal(len % 8, 0);
	meta_txn t;
	assert_int_equal(meta_txn_decode(base, len, &t), BB_OK);
	assert_memory_equal(t.req_id, RID, 16);
	assert_int_equal(t.n_ops, BB_ARRAY_LEN(ops));
	for (size_t i = 0; i < t.n_ops; i++) {
		assert_int_equal(t.ops[i].kind, ops[i].kind);
		assert_int_equal(t.ops[i].key_len, ops[i].key_len);
		assert_memory_equal(t.ops[i].key, ops[i].key, ops[i].key_len);
		assert_int_equal(t.ops[i].val_len, ops[i].kind == META_OP_PUT ? ops[i].val_len : 0);
		if (ops[i].val_len)
			assert_memory_equal(t.ops[i].val, ops[i].val, ops[i].val_len);
		assert_true(t.ops[i].expect == ops[i].expect);
	}
	meta_txn_free(&t);
	raft_free(base);
}

/* Every encoded entry is a multiple of 8 bytes, the header carries the real length, padding is 0. */
static void test_padding(void **state)
{
	(void)state;
	uint8_t val[64];
	memset(val, 'v', sizeof val);
	for (size_t vl = 0; vl < sizeof val; vl++) {
		for (size_t kl = 1; kl < 12; kl++) {
			meta_op op = {META_OP_PUT, "kkkkkkkkkkkk", kl, val, vl, META_ANY};
			void *base;
			size_t len;
			assert_int_equal(meta_txn_encode(RID, &op, 1, &base, &len), BB_OK);
			assert_int_equal(len % 8, 0);
			const uint8_t *p = base;
			uint32_t plen = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
			assert_true(plen + META_FRAME_HDR <= len && len - plen - META_FRAME_HDR < 8);
			for (size_t i = META_FRAME_HDR + plen; i < len; i++)
				assert_int_equal(p[i], 0);
			raft_free(base);
		}
	}
}

static void test_validation(void **state)
{
	(void)state;
	void *base = NULL;
	size_t len;
	meta_op ok = {META_OP_PUT, "k", 1, "v", 1, META_ANY};
	assert_int_equal(meta_txn_encode(RID, &ok, 0, &base, &len), BB_EINVAL);
	meta_op bad = ok;
	bad.kind = 9;
	assert_int_equal(meta_txn_encode(RID, &bad, 1, &base, &len), BB_EINVAL);
	bad = ok;
	bad.key_len = 0;
	assert_int_equal(meta_txn_encode(RID, &bad, 1, &base, &len), BB_EINVAL);
	bad = ok;
	bad.key = NULL;
	assert_int_equal(meta_txn_encode(RID, &bad, 1, &base, &len), BB_EINVAL);
	bad = ok;
	bad.expect = -2;
	assert_int_equal(meta_txn_encode(RID, &bad, 1, &base, &len), BB_EINVAL);
	bad = ok;
	bad.val = NULL;
	assert_int_equal(meta_txn_encode(RID, &bad, 1, &base, &len), BB_EINVAL);
	uint8_t *big = calloc(1, META_MAX_VAL + 1);
	assert_non_null(big);
	bad = ok;
	bad.key = big;
	bad.key_len = META_MAX_KEY + 1;
	assert_int_equal(meta_txn_encode(RID, &bad, 1, &base, &len), BB_ETOOBIG);
	bad = ok;
	bad.val = big;
	bad.val_len = META_MAX_VAL + 1;
	assert_int_equal(meta_txn_encode(RID, &bad, 1, &base, &len), BB_ETOOBIG);
	bad.val_len = META_MAX_VAL; /* exactly the limit is fine */
	assert_int_equal(meta_txn_encode(RID, &bad, 1, &base, &len), BB_OK);
	raft_free(base);
	/* 4096 ops of 1 MiB would be 4 GiB: refused before packing */
	meta_op *many = calloc(META_MAX_OPS + 1, sizeof *many);
	assert_non_null(many);
	for (size_t i = 0; i <= META_MAX_OPS; i++)
		many[i] = (meta_op){META_OP_PUT, "k", 1, big, META_MAX_VAL, META_ANY};
	assert_int_equal(meta_txn_encode(RID, many, META_MAX_OPS + 1, &base, &len), BB_ETOOBIG);
	assert_int_equal(meta_txn_encode(RID, many, META_MAX_OPS, &base, &len), BB_ETOOBIG);
	for (size_t i = 0; i < META_MAX_OPS; i++)
		many[i].val_len = 1;
	assert_int_equal(meta_txn_encode(RID, many, META_MAX_OPS, &base, &len), BB_OK);
	meta_txn t;
	assert_int_equal(meta_txn_decode(base, len, &t), BB_OK);
	assert_int_equal(t.n_ops, META_MAX_OPS);
	meta_txn_free(&t);
	raft_free(base);
	free(many);
	free(big);
}

/* Frames an arbitrary msgpack payload built by fn. */
static void *frame_payload(void (*fn)(msgpack_packer *pk), size_t *len)
{
	meta_buf b = {0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, meta_buf_write);
	meta_frame_begin(&b);
	fn(&pk);
	assert_int_equal(meta_frame_end(&b, META_MAGIC_TXN, UINT32_MAX), BB_OK);
	*len = b.len;
	return b.data;
}

static void pack_rid(msgpack_packer *pk)
{
	msgpack_pack_bin(pk, 16);
	msgpack_pack_bin_body(pk, RID, 16);
}
static void p_not_array(msgpack_packer *pk) { msgpack_pack_map(pk, 0); }
static void p_bad_version(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint32(pk, 2);
	pack_rid(pk);
	msgpack_pack_array(pk, 0);
}
static void p_empty_ops(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint32(pk, 1);
	pack_rid(pk);
	msgpack_pack_array(pk, 0);
}
static void p_short_rid(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_bin(pk, 15);
	msgpack_pack_bin_body(pk, RID, 15);
	msgpack_pack_array(pk, 0);
}
static void p_huge_array(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint32(pk, 1);
	pack_rid(pk);
	msgpack_pack_array(pk, UINT32_MAX); /* claims 4 G ops, has none */
}
static void op_head(msgpack_packer *pk, int n_fields)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint32(pk, 1);
	pack_rid(pk);
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, (size_t)n_fields);
}
static void p_op_str_key(msgpack_packer *pk)
{
	op_head(pk, 4);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_str(pk, 1);
	msgpack_pack_str_body(pk, "k", 1);
	msgpack_pack_bin(pk, 0);
	msgpack_pack_int64(pk, -1);
}
static void p_op_bad_kind(msgpack_packer *pk)
{
	op_head(pk, 4);
	msgpack_pack_uint32(pk, 5);
	msgpack_pack_bin(pk, 1);
	msgpack_pack_bin_body(pk, "k", 1);
	msgpack_pack_nil(pk);
	msgpack_pack_int64(pk, -1);
}
static void p_op_bad_expect(msgpack_packer *pk)
{
	op_head(pk, 4);
	msgpack_pack_uint32(pk, 2);
	msgpack_pack_bin(pk, 1);
	msgpack_pack_bin_body(pk, "k", 1);
	msgpack_pack_nil(pk);
	msgpack_pack_int64(pk, -7);
}
static void p_op_float_expect(msgpack_packer *pk)
{
	op_head(pk, 4);
	msgpack_pack_uint32(pk, 2);
	msgpack_pack_bin(pk, 1);
	msgpack_pack_bin_body(pk, "k", 1);
	msgpack_pack_nil(pk);
	msgpack_pack_double(pk, 1.0);
}
static void p_op_three_fields(msgpack_packer *pk)
{
	op_head(pk, 3);
	msgpack_pack_uint32(pk, 2);
	msgpack_pack_bin(pk, 1);
	msgpack_pack_bin_body(pk, "k", 1);
	msgpack_pack_nil(pk);
}
static void p_put_nil_val(msgpack_packer *pk)
{
	op_head(pk, 4);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_bin(pk, 1);
	msgpack_pack_bin_body(pk, "k", 1);
	msgpack_pack_nil(pk);
	msgpack_pack_int64(pk, -1);
}
static void p_trailing(msgpack_packer *pk)
{
	p_op_str_key(pk); /* any object */
	msgpack_pack_nil(pk);
}
static void p_deep(msgpack_packer *pk)
{
	for (int i = 0; i < 200; i++)
		msgpack_pack_array(pk, 1);
	msgpack_pack_nil(pk);
}

static void test_hostile_payloads(void **state)
{
	(void)state;
	void (*cases[])(msgpack_packer *) = {p_not_array,   p_bad_version,  p_empty_ops,       p_short_rid,
					     p_huge_array,  p_op_str_key,   p_op_bad_kind,     p_op_bad_expect,
					     p_op_float_expect, p_op_three_fields, p_put_nil_val, p_trailing, p_deep};
	for (size_t i = 0; i < BB_ARRAY_LEN(cases); i++) {
		size_t len;
		void *buf = frame_payload(cases[i], &len);
		meta_txn t;
		assert_int_equal(meta_txn_decode(buf, len, &t), BB_ECORRUPT);
		assert_null(t.ops);
		raft_free(buf);
	}
}

static void test_bad_frames(void **state)
{
	(void)state;
	meta_op op = {META_OP_PUT, "key", 3, "value", 5, META_ANY};
	void *base;
	size_t len;
	assert_int_equal(meta_txn_encode(RID, &op, 1, &base, &len), BB_OK);
	uint8_t *p = base;
	meta_txn t;
	/* every truncation, aligned or not */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(meta_txn_decode(p, l, &t), BB_ECORRUPT);
	assert_int_equal(meta_txn_decode(NULL, 0, &t), BB_ECORRUPT);
	/* a copy with an extra 8 zero bytes: padding would be >= 8 */
	uint8_t *longer = calloc(1, len + 8);
	memcpy(longer, p, len);
	assert_int_equal(meta_txn_decode(longer, len + 8, &t), BB_ECORRUPT);
	free(longer);
	/* magic, length beyond the buffer, length too short (trailing payload bytes) */
	uint8_t *c = malloc(len);
	memcpy(c, p, len);
	c[0] ^= 0xff;
	assert_int_equal(meta_txn_decode(c, len, &t), BB_ECORRUPT);
	memcpy(c, p, len);
	c[4] = 0xff;
	c[5] = 0xff;
	assert_int_equal(meta_txn_decode(c, len, &t), BB_ECORRUPT);
	memcpy(c, p, len);
	c[4] = (uint8_t)(c[4] - 1);
	assert_int_equal(meta_txn_decode(c, len, &t), BB_ECORRUPT);
	/* non-zero padding */
	uint32_t plen = (uint32_t)p[4] | (uint32_t)p[5] << 8;
	if (META_FRAME_HDR + plen < len) {
		memcpy(c, p, len);
		c[len - 1] = 1;
		assert_int_equal(meta_txn_decode(c, len, &t), BB_ECORRUPT);
	}
	/* single-byte mutations of the payload: decode or reject, never read out of bounds */
	uint64_t rng = 0x1234567;
	for (int round = 0; round < 5000; round++) {
		memcpy(c, p, len);
		size_t at = META_FRAME_HDR + (size_t)(meta_test_rand(&rng) % plen);
		c[at] = (uint8_t)meta_test_rand(&rng);
		bb_err e = meta_txn_decode(c, len, &t);
		assert_true(e == BB_OK || e == BB_ECORRUPT);
		if (e == BB_OK) {
			assert_true(t.n_ops >= 1 && t.n_ops <= META_MAX_OPS);
			meta_txn_free(&t);
		}
	}
	/* random garbage inside a valid header */
	for (int round = 0; round < 2000; round++) {
		size_t gl = 8 + 8 * (size_t)(meta_test_rand(&rng) % 16);
		uint8_t *g = malloc(gl);
		for (size_t i = 0; i < gl; i++)
			g[i] = (uint8_t)meta_test_rand(&rng);
		uint32_t pl = (uint32_t)(gl - 8 - meta_test_rand(&rng) % 8);
		if (pl > gl - 8)
			pl = (uint32_t)(gl - 8);
		g[0] = 0x42, g[1] = 0x4d, g[2] = 0x54, g[3] = 0x31;
		g[4] = (uint8_t)pl, g[5] = (uint8_t)(pl >> 8), g[6] = 0, g[7] = 0;
		memset(g + 8 + pl, 0, gl - 8 - pl);
		bb_err e = meta_txn_decode(g, gl, &t);
		assert_true(e == BB_OK || e == BB_ECORRUPT);
		if (e == BB_OK)
			meta_txn_free(&t);
		free(g);
	}
	free(c);
	raft_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),	 cmocka_unit_test(test_padding),
		cmocka_unit_test(test_validation),	 cmocka_unit_test(test_hostile_payloads),
		cmocka_unit_test(test_bad_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
