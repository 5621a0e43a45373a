/* raft/meta_codec.c — the on-log format of a metadata transaction.
 *
 * Every raft entry (and every FSM snapshot) is a frame: an 8-byte header {u32 LE magic, u32 LE payload
 * length}, a msgpack payload, and zero padding up to a multiple of 8 bytes. libraft 0.15 silently
 * corrupts logs holding entries whose length is not a multiple of 8 (deps.md R1), so the padding is
 * not optional; the length prefix lets the decoder ignore it.
 *
 * Transaction payload (msgpack):
 *   [ version:uint (=1), req_id:bin(16), ops:array(1..META_MAX_OPS) ]
 *   op = [ kind:uint(1..4), key:bin(1..META_MAX_KEY), val:bin(0..META_MAX_VAL) | nil, expect:int(>= -1) ]
 *
 * Decoding treats its input as hostile: wrong types, counts, sizes, truncation and trailing bytes are
 * all BB_ECORRUPT, and nothing is read outside the buffer. Buffers are raft_malloc'd so raft_apply can
 * take them (R8).
 */
#include "meta_int.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ------------------------------------------------------------------------------------ */

static bool buf_reserve(meta_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	size_t need = b->len + extra;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	uint8_t *p = raft_realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

int meta_buf_write(void *data, const char *buf, size_t len)
{
	meta_buf *b = data;
	if (!buf_reserve(b, len))
		return -1;
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	return 0;
}

void meta_buf_zero(meta_buf *b, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memset(b->data + b->len, 0, n);
	b->len += n;
}

void meta_buf_reset(meta_buf *b)
{
	raft_free(b->data);
	memset(b, 0, sizeof *b);
}

/* ---- framing ----------------------------------------------------------------------------------- */

static void put_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void meta_frame_begin(meta_buf *b) { meta_buf_zero(b, META_FRAME_HDR); }

bb_err meta_frame_end(meta_buf *b, uint32_t magic, size_t max_payload)
{
	if (b->failed || b->len < META_FRAME_HDR)
		return BB_ENOMEM;
	size_t payload = b->len - META_FRAME_HDR;
	if (payload > max_payload || payload > UINT32_MAX)
		return BB_ETOOBIG;
	put_u32le(b->data, magic);
	put_u32le(b->data + 4, (uint32_t)payload);
	meta_buf_zero(b, (8 - b->len % 8) % 8);
	return b->failed ? BB_ENOMEM : BB_OK;
}

bb_err meta_frame_open(const void *buf, size_t len, uint32_t magic, const uint8_t **payload, size_t *payload_len)
{
	const uint8_t *p = buf;
	if (!p || len < META_FRAME_HDR || len % 8 != 0)
		return BB_ECORRUPT;
	if (get_u32le(p) != magic)
		return BB_ECORRUPT;
	size_t pl = get_u32le(p + 4);
	if (pl > len - META_FRAME_HDR || len - META_FRAME_HDR - pl >= 8)
		return BB_ECORRUPT;
	for (size_t i = META_FRAME_HDR + pl; i < len; i++)
		if (p[i] != 0)
			return BB_ECORRUPT;
	*payload = p + META_FRAME_HDR;
	*payload_len = pl;
	return BB_OK;
}

/* ---- validation -------------------------------------------------------------------------------- */

bb_err meta_ops_validate(const meta_op *ops, size_t n_ops)
{
	if (n_ops == 0 || !ops)
		return BB_EINVAL;
	if (n_ops > META_MAX_OPS)
		return BB_ETOOBIG;
	for (size_t i = 0; i < n_ops; i++) {
		const meta_op *op = &ops[i];
		if (op->kind < META_OP_PUT || op->kind > META_OP_DEL_PREFIX)
			return BB_EINVAL;
		if (!op->key || op->key_len == 0)
			return BB_EINVAL;
		if (op->key_len > META_MAX_KEY)
			return BB_ETOOBIG;
		if (op->expect < META_ANY)
			return BB_EINVAL;
		if (op->kind == META_OP_PUT) {
			if (op->val_len > META_MAX_VAL)
				return BB_ETOOBIG;
			if (op->val_len > 0 && !op->val)
				return BB_EINVAL;
		}
	}
	return BB_OK;
}

/* ---- encoding ---------------------------------------------------------------------------------- */

bb_err meta_txn_encode(const uint8_t req_id[16], const meta_op *ops, size_t n_ops, void **out_base,
		       size_t *out_len)
{
	if (!req_id || !out_base || !out_len)
		return BB_EINVAL;
	bb_err e = meta_ops_validate(ops, n_ops);
	if (e != BB_OK)
		return e;
	/* Upper bound of the payload size (per op at most 24 bytes of msgpack overhead), checked before
	 * packing anything big; meta_frame_end checks the exact size. */
	uint64_t estimate = 32;
	for (size_t i = 0; i < n_ops; i++)
		estimate += 24 + (uint64_t)ops[i].key_len + (ops[i].kind == META_OP_PUT ? ops[i].val_len : 0);
	if (estimate > META_MAX_TXN_BYTES)
		return BB_ETOOBIG;

	meta_buf b = {0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, meta_buf_write);
	meta_frame_begin(&b);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, META_TXN_VERSION);
	msgpack_pack_bin(&pk, 16);
	msgpack_pack_bin_body(&pk, req_id, 16);
	msgpack_pack_array(&pk, n_ops);
	for (size_t i = 0; i < n_ops; i++) {
		const meta_op *op = &ops[i];
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint32(&pk, (uint32_t)op->kind);
		msgpack_pack_bin(&pk, op->key_len);
		msgpack_pack_bin_body(&pk, op->key, op->key_len);
		if (op->kind == META_OP_PUT) {
			msgpack_pack_bin(&pk, op->val_len);
			if (op->val_len)
				msgpack_pack_bin_body(&pk, op->val, op->val_len);
		} else {
			msgpack_pack_nil(&pk);
		}
		msgpack_pack_int64(&pk, op->expect);
	}
	e = meta_frame_end(&b, META_MAGIC_TXN, META_MAX_TXN_BYTES);
	if (e != BB_OK) {
		meta_buf_reset(&b);
		return e;
	}
	*out_base = b.data;
	*out_len = b.len;
	return BB_OK;
}

/* ---- structural pre-check ---------------------------------------------------------------------- */

static uint64_t get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* msgpack_unpack_next allocates a container's element array as soon as it reads the header, so a
 * 5-byte "array of 4 G elements" asks for 128 GiB (and a plausible 64 M costs 2 GiB). This walk
 * allocates nothing: it counts the objects still owed and rejects input where that count exceeds the
 * bytes left (every object takes at least one byte), bounding unpack memory to ~24x the input. It
 * also checks that exactly one object spans the whole buffer. */
bb_err meta_mp_check(const uint8_t *p, size_t len)
{
	size_t off = 0;
	uint64_t owed = 1;
	while (owed > 0) {
		if (off >= len)
			return BB_ECORRUPT;
		uint8_t b = p[off++];
		owed--;
		uint64_t skip = 0, count = 0; /* payload bytes to skip, child objects added */
		size_t hdr = 0;                /* size of a length field that follows b */
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			/* fixint, nil, bool */
		} else if (b <= 0x8f) {
			count = 2u * (b & 0x0f);
		} else if (b <= 0x9f) {
			count = b & 0x0f;
		} else if (b <= 0xbf) {
			skip = b & 0x1f;
		} else {
			switch (b) {
			case 0xc4: case 0xd9: hdr = 1; break;
			case 0xc5: case 0xda: hdr = 2; break;
			case 0xc6: case 0xdb: hdr = 4; break;
			case 0xc7: hdr = 1; skip = 1; break;
			case 0xc8: hdr = 2; skip = 1; break;
			case 0xc9: hdr = 4; skip = 1; break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: case 0xdd: case 0xde: case 0xdf: {
				size_t n = (b == 0xdc || b == 0xde) ? 2 : 4;
				if (len - off < n)
					return BB_ECORRUPT;
				count = get_be(p + off, n) * (b >= 0xde ? 2 : 1);
				off += n;
				break;
			}
			default: /* 0xc1: never used */
				return BB_ECORRUPT;
			}
		}
		if (hdr) {
			if (len - off < hdr)
				return BB_ECORRUPT;
			skip += get_be(p + off, hdr);
			off += hdr;
		}
		if (skip > len - off)
			return BB_ECORRUPT;
		off += (size_t)skip;
		owed += count;
		if (owed > len - off)
			return BB_ECORRUPT;
	}
	return off == len ? BB_OK : BB_ECORRUPT;
}

/* ---- decoding ---------------------------------------------------------------------------------- */

static bool obj_uint(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*out = o->via.u64;
	return true;
}

static bool obj_int(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)o->via.u64;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return true;
	}
	return false;
}

static bb_err decode_op(const msgpack_object *o, meta_op *op)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
		return BB_ECORRUPT;
	const msgpack_object *f = o->via.array.ptr;
	uint64_t kind;
	if (!obj_uint(&f[0], &kind) || kind < META_OP_PUT || kind > META_OP_DEL_PREFIX)
		return BB_ECORRUPT;
	op->kind = (meta_op_kind)kind;
	if (f[1].type != MSGPACK_OBJECT_BIN || f[1].via.bin.size == 0 || f[1].via.bin.size > META_MAX_KEY)
		return BB_ECORRUPT;
	op->key = f[1].via.bin.ptr;
	op->key_len = f[1].via.bin.size;
	op->val = NULL;
	op->val_len = 0;
	if (op->kind == META_OP_PUT) {
		if (f[2].type != MSGPACK_OBJECT_BIN || f[2].via.bin.size > META_MAX_VAL)
			return BB_ECORRUPT;
		op->val = f[2].via.bin.ptr;
		op->val_len = f[2].via.bin.size;
	} else if (f[2].type != MSGPACK_OBJECT_NIL) {
		return BB_ECORRUPT;
	}
	if (!obj_int(&f[3], &op->expect) || op->expect < META_ANY)
		return BB_ECORRUPT;
	return BB_OK;
}

bb_err meta_txn_decode(const void *buf, size_t len, meta_txn *out)
{
	const uint8_t *payload;
	size_t plen;
	memset(out, 0, sizeof *out);
	bb_err e = meta_frame_open(buf, len, META_MAGIC_TXN, &payload, &plen);
	if (e == BB_OK)
		e = meta_mp_check(payload, plen);
	if (e != BB_OK)
		return e;

	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack_next(&up, (const char *)payload, plen, &off);
	/* msgpack reports absurd container sizes and deep nesting as NOMEM: treat every failure (and
	 * trailing bytes inside the payload) as malformed input. */
	if (r != MSGPACK_UNPACK_SUCCESS || off != plen) {
		e = BB_ECORRUPT;
		goto out_unpacked;
	}
	const msgpack_object *root = &up.data;
	if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 3) {
		e = BB_ECORRUPT;
		goto out_unpacked;
	}
	const msgpack_object *f = root->via.array.ptr;
	uint64_t version;
	if (!obj_uint(&f[0], &version) || version != META_TXN_VERSION || f[1].type != MSGPACK_OBJECT_BIN ||
	    f[1].via.bin.size != 16 || f[2].type != MSGPACK_OBJECT_ARRAY || f[2].via.array.size == 0 ||
	    f[2].via.array.size > META_MAX_OPS) {
		e = BB_ECORRUPT;
		goto out_unpacked;
	}
	memcpy(out->req_id, f[1].via.bin.ptr, 16);
	size_t n = f[2].via.array.size;
	out->ops = calloc(n, sizeof *out->ops);
	if (!out->ops) {
		e = BB_ENOMEM;
		goto out_unpacked;
	}
	for (size_t i = 0; i < n; i++) {
		e = decode_op(&f[2].via.array.ptr[i], &out->ops[i]);
		if (e != BB_OK)
			goto out_ops;
	}
	out->n_ops = n;
	/* bin objects point into payload (not into the zone), so the zone can go now. */
	msgpack_unpacked_destroy(&up);
	return BB_OK;

out_ops:
	free(out->ops);
	out->ops = NULL;
out_unpacked:
	msgpack_unpacked_destroy(&up);
	return e;
}

void meta_txn_free(meta_txn *t)
{
	free(t->ops);
	t->ops = NULL;
	t->n_ops = 0;
}
