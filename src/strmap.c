/*
 * strmap.c - string-keyed open-addressing hash map; see strmap.h.
 *
 * FNV-1a over the key's bytes; capacity doubles when the map would pass
 * half full, so a probe sequence stays short and always ends at an empty slot.
 */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct strmap_slot *strmap_find(const struct strmap *m, const char *key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = (size_t)strmap_hash(key) & (m->cap - 1);
	while (m->slot[i].key && strcmp(m->slot[i].key, key))
		i = (i + 1) & (m->cap - 1);
	return &m->slot[i];
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key);

	return s && s->key ? s->val : NULL;
}

int strmap_has(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key);

	return s && s->key;
}

static int strmap_grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct strmap_slot *old = m->slot, *slot = calloc(cap, sizeof(*slot));
	size_t ocap = m->cap;

	if (!slot)
		return -1;
	m->slot = slot;
	m->cap = cap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key)
			*strmap_find(m, old[i].key) = old[i];
	free(old);
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *val)
{
	struct strmap_slot *s;

	if ((m->n + 1) * 2 > m->cap && strmap_grow(m))
		return -1;
	s = strmap_find(m, key);
	if (!s->key) {
		s->key = strdup(key);
		if (!s->key)
			return -1;
		m->n++;
	}
	s->val = val;
	return 0;
}

void strmap_each(const struct strmap *m, void (*fn)(void *ctx, const char *key, void *val), void *ctx)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i].key)
			fn(ctx, m->slot[i].key, m->slot[i].val);
}

void strmap_free(struct strmap *m, void (*free_val)(void *val))
{
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slot[i].key)
			continue;
		free(m->slot[i].key);
		if (free_val)
			free_val(m->slot[i].val);
	}
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}
