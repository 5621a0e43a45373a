/* node/pattern/pat_map.c — the open-addressing hash maps of a pattern set: byte strings → u32
 * (pat_smap), double bits → u32 (pat_nmap), and (parent node, segment) → child node (pat_kmap).
 *
 * Linear probing, power-of-two capacity, load factor at most 1/2 for strings and 3/4 for the others.
 * String entries carry the key's first
 * 16 bytes, so the common short keys (field names, enum-like values) compare with two word compares
 * and no access to the blob; the blob holds the full key bytes for longer keys and for rehashing.
 * Lookups (any thread, read-only) and build-time inserts (the publishing thread) live here together
 * because they must agree on hashing and layout.
 */
#include <stdlib.h>
#include <string.h>

#include "pat_set.h"

/* The entry of key k in m, or NULL (pat_smap_get's arguments). */
static inline __attribute__((always_inline)) const pat_smap_ent *
smap_find(const pat_core *s, const pat_smap *m, const char *k, size_t n, uint64_t w0, uint64_t w1, uint64_t hh)
{
	if (!m->e)
		return NULL;
	uint32_t h = pat_h32(hh);
	for (uint32_t i = pat_home(hh, m->mask);; i = (i + 1) & m->mask) {
		const pat_smap_ent *e = &m->e[i];
		if (!e->hash)
			return NULL;
		if (e->hash == h && e->len == n && e->w0 == w0 && e->w1 == w1 &&
		    (n <= 16 || memcmp(s->blob + e->off + 16, k + 16, n - 16) == 0))
			return e;
	}
}

uint32_t pat_smap_get(const pat_core *s, const pat_smap *m, const char *k, size_t n, uint64_t w0, uint64_t w1,
		      uint64_t hh)
{
	const pat_smap_ent *e = smap_find(s, m, k, n, w0, w1, hh);
	return e ? e->val : PAT_NONE;
}

uint32_t pat_smap_get3_slow(const pat_core *s, const pat_smap *m, const char *k, size_t n, uint64_t w0, uint64_t w1,
			    uint64_t hh, uint32_t *id)
{
	const pat_smap_ent *e = smap_find(s, m, k, n, w0, w1, hh);
	*id = e && n <= 16 ? e->id : 0;
	return e ? e->val : PAT_NONE;
}

static uint64_t nmap_hash(uint64_t key)
{
	return pat_mix(key * 0x9E3779B97F4A7C15ULL);
}

uint32_t pat_nmap_get(const pat_nmap *m, uint64_t key)
{
	if (!m->e)
		return PAT_NONE;
	for (uint32_t i = pat_home(nmap_hash(key), m->mask);; i = (i + 1) & m->mask) {
		const pat_nmap_ent *e = &m->e[i];
		if (!e->used)
			return PAT_NONE;
		if (e->key == key)
			return e->val;
	}
}

uint32_t pat_kmap_get(const pat_core *s, uint32_t parent, const char *seg, size_t n, uint64_t w0, uint64_t w1)
{
	const pat_kmap *m = &s->kids;
	if (!m->e)
		return PAT_NONE;
	uint64_t hh = n <= 16 ? pat_hash16(w0, w1, n, PAT_SEED_KID(parent)) : pat_hash(seg, n, PAT_SEED_KID(parent));
	for (uint32_t i = pat_home(hh, m->mask);; i = (i + 1) & m->mask) {
		const pat_kid *e = &m->e[i];
		if (!e->node)
			return PAT_NONE;
		if (e->parent == parent && e->len == n && e->w0 == w0 && e->w1 == w1 &&
		    (n <= 16 || memcmp(s->blob + e->off + 16, seg + 16, n - 16) == 0))
			return e->node;
	}
}

uint32_t pat_set_child(const pat_core *s, uint32_t parent, const char *seg, size_t n)
{
	uint64_t w0, w1;
	pat_words(seg, n, &w0, &w1);
	return pat_child(s, parent, seg, n, w0, w1);
}

/* ---- build-time inserts ----------------------------------------------------------------------- */

static bool smap_grow(pat_smap *m, const char *blob, uint64_t seed)
{
	uint32_t cap = m->e ? (m->mask + 1) * 2 : 16;
	pat_smap_ent *ne = pat_table_calloc(cap, sizeof(pat_smap_ent));
	if (!ne)
		return false;
	for (uint32_t i = 0; m->e && i <= m->mask; i++) {
		const pat_smap_ent *e = &m->e[i];
		if (!e->hash)
			continue;
		uint64_t hh = e->len <= 16 ? pat_hash16(e->w0, e->w1, e->len, seed) : pat_hash(blob + e->off, e->len, seed);
		uint32_t j = pat_home(hh, cap - 1);
		while (ne[j].hash)
			j = (j + 1) & (cap - 1);
		ne[j] = *e;
	}
	free(m->e);
	m->e = ne;
	m->mask = cap - 1;
	return true;
}

uint32_t pat_smap_put(pat_smap *m, const char *blob, uint32_t off, uint32_t len, uint64_t seed, uint32_t val,
		      uint32_t id, bool *oom)
{
	/* at most half full: a value that is not in the map (most values) then ends its probe within a
	 * cache line or two, which matters once the map no longer fits in cache */
	if ((!m->e || (m->n + 1) * 2 > m->mask + 1) && !smap_grow(m, blob, seed)) {
		*oom = true;
		return PAT_NONE;
	}
	const char *k = blob + off;
	uint64_t hh = pat_hash(k, len, seed), w0, w1;
	pat_words(k, len, &w0, &w1);
	uint32_t h = pat_h32(hh), i = pat_home(hh, m->mask);
	for (;; i = (i + 1) & m->mask) {
		pat_smap_ent *e = &m->e[i];
		if (!e->hash)
			break;
		if (e->hash == h && e->len == len && e->w0 == w0 && e->w1 == w1 &&
		    (len <= 16 || memcmp(blob + e->off + 16, k + 16, len - 16) == 0))
			return e->val;
	}
	m->e[i] = (pat_smap_ent){.w0 = w0, .w1 = w1, .hash = h, .len = len, .val = val};
	if (len <= 16)
		m->e[i].id = id;
	else
		m->e[i].off = off;
	m->n++;
	return val;
}

void pat_nmap_put(pat_nmap *m, uint64_t key, uint32_t val, bool *oom)
{
	if (!m->e || (m->n + 1) * 4 > (m->mask + 1) * 3) {
		uint32_t cap = m->e ? (m->mask + 1) * 2 : 16;
		pat_nmap_ent *ne = pat_table_calloc(cap, sizeof(pat_nmap_ent));
		if (!ne) {
			*oom = true;
			return;
		}
		for (uint32_t i = 0; m->e && i <= m->mask; i++) {
			if (!m->e[i].used)
				continue;
			uint32_t j = pat_home(nmap_hash(m->e[i].key), cap - 1);
			while (ne[j].used)
				j = (j + 1) & (cap - 1);
			ne[j] = m->e[i];
		}
		free(m->e);
		m->e = ne;
		m->mask = cap - 1;
	}
	uint32_t i = pat_home(nmap_hash(key), m->mask);
	while (m->e[i].used) {
		if (m->e[i].key == key)
			return;
		i = (i + 1) & m->mask;
	}
	m->e[i] = (pat_nmap_ent){.key = key, .val = val, .used = 1};
	m->n++;
}

static uint64_t kid_hash(const char *blob, const pat_kid *k)
{
	return pat_hash(blob + k->off, k->len, PAT_SEED_KID(k->parent));
}

uint32_t pat_kmap_put(pat_kmap *m, const char *blob, uint32_t parent, uint32_t off, uint32_t len, uint32_t node,
		      bool *oom)
{
	if (!m->e || (m->n + 1) * 4 > (m->mask + 1) * 3) {
		uint32_t cap = m->e ? (m->mask + 1) * 2 : 16;
		pat_kid *ne = pat_table_calloc(cap, sizeof(pat_kid));
		if (!ne) {
			*oom = true;
			return PAT_NONE;
		}
		for (uint32_t i = 0; m->e && i <= m->mask; i++) {
			if (!m->e[i].node)
				continue;
			uint32_t j = pat_home(kid_hash(blob, &m->e[i]), cap - 1);
			while (ne[j].node)
				j = (j + 1) & (cap - 1);
			ne[j] = m->e[i];
		}
		free(m->e);
		m->e = ne;
		m->mask = cap - 1;
	}
	pat_kid k = {.len = len, .off = off, .parent = parent, .node = node};
	pat_words(blob + off, len, &k.w0, &k.w1);
	uint32_t i = pat_home(kid_hash(blob, &k), m->mask);
	for (;; i = (i + 1) & m->mask) {
		const pat_kid *e = &m->e[i];
		if (!e->node)
			break;
		if (e->parent == parent && e->len == len && memcmp(blob + e->off, blob + off, len) == 0)
			return e->node;
	}
	m->e[i] = k;
	m->n++;
	return node;
}
