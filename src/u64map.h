/*
 * u64map.h - a small open-addressing hash map from non-zero uint64_t keys to
 * pointers, used by the simulator (mm ids, 2 MiB page chunks) and the models.
 *
 * Layout: one array of {key, value} slots, power-of-two capacity, linear
 * probing, load factor <= 1/2.  Key 0 marks an empty slot (every id in the
 * trace is >= 1; page-chunk keys are offset by one).  Deletion uses backward
 * shift, so there are no tombstones and lookups stay short.  Header-only
 * (static inline) because it sits on the replay's hot path.
 *
 * May depend on: hash.h (and the C library's allocator).
 */
#ifndef ANONVMA_U64MAP_H
#define ANONVMA_U64MAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct u64map_slot {
	uint64_t key;
	void *val;
};

struct u64map {
	struct u64map_slot *slot;
	uint64_t mask; /* capacity - 1; 0 with slot == NULL when empty */
	uint64_t n;
};

static inline void *u64map_get(const struct u64map *m, uint64_t key)
{
	uint64_t i;

	if (!m->slot)
		return NULL;
	for (i = hash_u64(key) & m->mask;; i = (i + 1) & m->mask) {
		if (m->slot[i].key == key)
			return m->slot[i].val;
		if (m->slot[i].key == 0)
			return NULL;
	}
}

static inline int u64map_grow(struct u64map *m)
{
	uint64_t cap = m->slot ? (m->mask + 1) * 2 : 16, i, j;
	struct u64map_slot *ns = calloc(cap, sizeof(*ns));

	if (!ns)
		return -1;
	for (i = 0; m->slot && i <= m->mask; i++) {
		if (!m->slot[i].key)
			continue;
		for (j = hash_u64(m->slot[i].key) & (cap - 1); ns[j].key; j = (j + 1) & (cap - 1))
			;
		ns[j] = m->slot[i];
	}
	free(m->slot);
	m->slot = ns;
	m->mask = cap - 1;
	return 0;
}

/* Insert or replace.  Returns 0, or -1 when out of memory. */
static inline int u64map_put(struct u64map *m, uint64_t key, void *val)
{
	uint64_t i;

	if ((!m->slot || (m->n + 1) * 2 > m->mask + 1) && u64map_grow(m))
		return -1;
	for (i = hash_u64(key) & m->mask; m->slot[i].key; i = (i + 1) & m->mask) {
		if (m->slot[i].key == key) {
			m->slot[i].val = val;
			return 0;
		}
	}
	m->slot[i].key = key;
	m->slot[i].val = val;
	m->n++;
	return 0;
}

static inline void u64map_del(struct u64map *m, uint64_t key)
{
	uint64_t i, j, home;

	if (!m->slot)
		return;
	for (i = hash_u64(key) & m->mask; m->slot[i].key != key; i = (i + 1) & m->mask)
		if (!m->slot[i].key)
			return;
	/* backward-shift deletion */
	for (j = (i + 1) & m->mask; m->slot[j].key; j = (j + 1) & m->mask) {
		home = hash_u64(m->slot[j].key) & m->mask;
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i].key = 0;
	m->slot[i].val = NULL;
	m->n--;
}

static inline void u64map_free(struct u64map *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

/* Iterate: for (i = 0; u64map_next(m, &i, &k, &v);) ... (no changes while iterating). */
static inline int u64map_next(const struct u64map *m, uint64_t *it, uint64_t *key, void **val)
{
	for (; m->slot && *it <= m->mask; (*it)++) {
		if (m->slot[*it].key) {
			*key = m->slot[*it].key;
			*val = m->slot[*it].val;
			(*it)++;
			return 1;
		}
	}
	return 0;
}

#endif
