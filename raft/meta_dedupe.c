/* raft/meta_dedupe.c — the FSM's memory of recent request ids (idempotent transactions).
 *
 * A ring of `cap` entries in arrival order (FIFO eviction of the oldest) plus a chained hash index
 * (bucket heads and per-entry `next`, as ring positions; UINT32_MAX = end). Everything is allocated
 * once at init (calloc: untouched pages cost nothing), so adding never fails and an apply that
 * already changed the tree cannot fail afterwards.
 *
 * This table is FSM state: its contents are part of snapshots and every replica must use the same
 * capacity (meta_config.dedupe_capacity) or a retried id could be answered differently on
 * different nodes. Loop thread only.
 */
#include "meta_int.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

static size_t bucket_of(const meta_dedupe *d, const uint8_t id[16])
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
	h ^= h >> 29;
	return (size_t)(h & (d->n_buckets - 1));
}

bb_err meta_dedupe_init(meta_dedupe *d, size_t cap)
{
	memset(d, 0, sizeof *d);
	if (cap == 0 || cap > (1u << 31))
		return BB_EINVAL;
	size_t nb = 16;
	while (nb < cap)
		nb *= 2;
	d->ents = calloc(cap, sizeof *d->ents);
	d->buckets = malloc(nb * sizeof *d->buckets);
	if (!d->ents || !d->buckets) {
		meta_dedupe_free(d);
		return BB_ENOMEM;
	}
	d->cap = cap;
	d->n_buckets = nb;
	meta_dedupe_clear(d);
	return BB_OK;
}

void meta_dedupe_free(meta_dedupe *d)
{
	free(d->ents);
	free(d->buckets);
	memset(d, 0, sizeof *d);
}

void meta_dedupe_clear(meta_dedupe *d)
{
	for (size_t i = 0; i < d->n_buckets; i++)
		d->buckets[i] = NIL;
	d->n = 0;
	d->head = 0;
}

const meta_dd_ent *meta_dedupe_find(const meta_dedupe *d, const uint8_t id[16])
{
	for (uint32_t i = d->buckets[bucket_of(d, id)]; i != NIL; i = d->ents[i].next)
		if (memcmp(d->ents[i].id, id, 16) == 0)
			return &d->ents[i];
	return NULL;
}

/* Unlinks ring position pos from its hash chain. */
static void unlink_pos(meta_dedupe *d, uint32_t pos)
{
	uint32_t *link = &d->buckets[bucket_of(d, d->ents[pos].id)];
	while (*link != NIL) {
		if (*link == pos) {
			*link = d->ents[pos].next;
			return;
		}
		link = &d->ents[*link].next;
	}
}

void meta_dedupe_add(meta_dedupe *d, const uint8_t id[16], const meta_result *res)
{
	uint32_t pos;
	if (d->n == d->cap) {
		pos = (uint32_t)d->head;
		unlink_pos(d, pos);
		d->head = (d->head + 1) % d->cap;
	} else {
		pos = (uint32_t)((d->head + d->n) % d->cap);
		d->n++;
	}
	meta_dd_ent *e = &d->ents[pos];
	memcpy(e->id, id, 16);
	e->index = res->index;
	e->failed_op = (uint32_t)res->failed_op;
	e->err = (uint32_t)res->err;
	size_t b = bucket_of(d, id);
	e->next = d->buckets[b];
	d->buckets[b] = pos;
}

const meta_dd_ent *meta_dedupe_at(const meta_dedupe *d, size_t i)
{
	return &d->ents[(d->head + i) % d->cap];
}
