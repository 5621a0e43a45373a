/* node/sqs_rec.c — the body record of a queue message: what sqs_store.c writes once per message and
 * ReceiveMessage reads back. Layout (all integers big-endian; docs/queues.md):
 *
 *   md5(16) body_len(4) body  sender_len(1) sender  n_attrs(2)
 *   { name_len(2) name  type_len(2) type  transport(1)  value_len(4) value } * n_attrs   (names sorted)
 *   [ src_len(2) source queue ARN ]                                                     (dead-lettered only)
 *
 * The parser checks every length against the record's size, so a damaged record is rejected rather
 * than read past its end.
 */
#include <string.h>

#include "sqs_int.h"

static size_t src_len(const sqs_msg_in *m)
{
	size_t n = m->source_arn ? strlen(m->source_arn) : 0;
	return n > 1024 ? 1024 : n;
}

size_t sqs_rec_size(const sqs_msg_in *m, size_t sender_len)
{
	size_t n = 16 + 4 + m->body_len + 1 + sender_len + 2 + (src_len(m) ? 2 + src_len(m) : 0);
	for (size_t i = 0; i < m->n_attrs; i++)
		n += 2 + m->attrs[i].name_len + 2 + m->attrs[i].type_len + 1 + 4 + m->attrs[i].val_len;
	return n;
}

void sqs_rec_write(uint8_t *p, const sqs_msg_in *m, const char *sender, size_t sender_len)
{
	memcpy(p, m->md5_body, 16);
	sqs_put_u32(p + 16, (uint32_t)m->body_len);
	p += 20;
	memcpy(p, m->body, m->body_len);
	p += m->body_len;
	*p++ = (uint8_t)sender_len;
	memcpy(p, sender, sender_len);
	p += sender_len;
	sqs_put_u16(p, m->n_attrs);
	p += 2;
	for (size_t i = 0; i < m->n_attrs; i++) {
		const sqs_mattr *a = &m->attrs[i];
		sqs_put_u16(p, a->name_len);
		memcpy(p + 2, a->name, a->name_len);
		p += 2 + a->name_len;
		sqs_put_u16(p, a->type_len);
		memcpy(p + 2, a->type, a->type_len);
		p += 2 + a->type_len;
		*p++ = a->transport;
		sqs_put_u32(p, (uint32_t)a->val_len);
		memcpy(p + 4, a->val, a->val_len);
		p += 4 + a->val_len;
	}
	if (src_len(m)) {
		sqs_put_u16(p, src_len(m));
		memcpy(p + 2, m->source_arn, src_len(m));
	}
}

bool sqs_rec_parse(const uint8_t *p, size_t len, sqs_rec *out)
{
	const uint8_t *end = p + len;
	if (len < 20)
		return false;
	out->md5_body = p;
	out->body_len = sqs_get_u32(p + 16);
	p += 20;
	if ((size_t)(end - p) < out->body_len + 1)
		return false;
	out->body = (const char *)p;
	p += out->body_len;
	out->sender_len = *p++;
	if ((size_t)(end - p) < out->sender_len + 2)
		return false;
	out->sender = (const char *)p;
	p += out->sender_len;
	out->n_attrs = sqs_get_u16(p);
	out->attrs = p + 2;
	const uint8_t *q = out->attrs;
	sqs_mattr a;
	for (size_t i = 0; i < out->n_attrs; i++)
		if (!sqs_rec_attr_next(&q, end, &a))
			return false;
	out->attrs_end = q;
	out->source_arn = NULL;
	out->source_arn_len = 0;
	if (end - q >= 2 && (size_t)(end - q) >= 2 + sqs_get_u16(q)) {
		out->source_arn = (const char *)q + 2;
		out->source_arn_len = sqs_get_u16(q);
	}
	return true;
}

bool sqs_rec_attr_next(const uint8_t **pp, const uint8_t *end, sqs_mattr *a)
{
	const uint8_t *p = *pp;
	if (end - p < 2)
		return false;
	a->name_len = sqs_get_u16(p);
	if ((size_t)(end - p) < 2 + a->name_len + 2)
		return false;
	a->name = (const char *)p + 2;
	p += 2 + a->name_len;
	a->type_len = sqs_get_u16(p);
	if ((size_t)(end - p) < 2 + a->type_len + 5)
		return false;
	a->type = (const char *)p + 2;
	p += 2 + a->type_len;
	a->transport = *p++;
	a->val_len = sqs_get_u32(p);
	if ((size_t)(end - p) < 4 + a->val_len)
		return false;
	a->val = p + 4;
	*pp = p + 4 + a->val_len;
	return true;
}
