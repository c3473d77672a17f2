/*
 * collect_ids.c - kernel addresses to small trace ids; see collect_ids.h.
 *
 * Linear probing over a power-of-two table kept at most half full.  Deletion
 * shifts later members of the probe run back into the hole (no tombstones),
 * so a table that sees millions of alloc/free pairs never degrades.
 */
#include "collect_ids.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define COLLECT_IDS_CAP0 4096

static size_t collect_ids_hash(uint64_t key, uint32_t ns, size_t mask)
{
	return (size_t)hash_u64(key ^ ((uint64_t)ns << 56)) & mask;
}

/* Index of (ns, key), or of the empty slot where it would go. */
static size_t collect_ids_find(const struct collect_ids *m, uint32_t ns, uint64_t key)
{
	size_t mask = m->cap - 1;
	size_t i = collect_ids_hash(key, ns, mask);

	while (m->slots[i].id && (m->slots[i].key != key || m->slots[i].ns != ns))
		i = (i + 1) & mask;
	return i;
}

int collect_ids_init(struct collect_ids *m, struct avm_err *err)
{
	memset(m, 0, sizeof(*m));
	m->slots = calloc(COLLECT_IDS_CAP0, sizeof(*m->slots));
	if (!m->slots)
		return avm_errf(err, "out of memory for the id map");
	m->cap = COLLECT_IDS_CAP0;
	return 0;
}

void collect_ids_free(struct collect_ids *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->used = 0;
}

static int collect_ids_grow(struct collect_ids *m, struct avm_err *err)
{
	struct collect_ids bigger = *m;
	size_t i;

	bigger.cap = m->cap * 2;
	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return avm_errf(err, "out of memory growing the id map to %zu entries", bigger.cap);
	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].id)
			bigger.slots[collect_ids_find(&bigger, m->slots[i].ns, m->slots[i].key)] =
				m->slots[i];
	}
	free(m->slots);
	*m = bigger;
	return 0;
}

/* Set (ns, key) to id (0: the next id of ns), replacing any earlier one. */
static int collect_ids_set(struct collect_ids *m, int ns, uint64_t key, uint64_t id,
			   struct avm_err *err)
{
	size_t i;

	if ((m->used + 1) * 2 > m->cap && collect_ids_grow(m, err))
		return -1;
	i = collect_ids_find(m, (uint32_t)ns, key);
	if (!m->slots[i].id)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].ns = (uint32_t)ns;
	m->slots[i].id = id ? id : ++m->next[ns];
	return 0;
}

static int collect_ids_assign(struct collect_ids *m, int ns, uint64_t key, uint64_t *id,
			      struct avm_err *err)
{
	if (collect_ids_set(m, ns, key, 0, err))
		return -1;
	*id = m->next[ns];
	return 0;
}

int collect_ids_get(struct collect_ids *m, int ns, uint64_t addr, uint64_t *id,
		    struct avm_err *err)
{
	size_t i;

	*id = 0;
	if (!addr)
		return 0;
	i = collect_ids_find(m, (uint32_t)ns, addr);
	if (m->slots[i].id) {
		*id = m->slots[i].id;
		return 0;
	}
	return collect_ids_assign(m, ns, addr, id, err);
}

int collect_ids_fresh(struct collect_ids *m, int ns, uint64_t addr, uint64_t *id,
		      struct avm_err *err)
{
	*id = 0;
	if (!addr)
		return 0;
	return collect_ids_assign(m, ns, addr, id, err);
}

int collect_ids_known(const struct collect_ids *m, int ns, uint64_t addr)
{
	return addr && m->slots[collect_ids_find(m, (uint32_t)ns, addr)].id != 0;
}

int collect_ids_release(struct collect_ids *m, int ns, uint64_t addr, uint64_t *id,
			struct avm_err *err)
{
	size_t mask = m->cap - 1;
	size_t hole, j;

	if (collect_ids_get(m, ns, addr, id, err))
		return -1;
	if (!addr)
		return 0;
	/* Backward-shift deletion: pull later members of the run into the hole. */
	hole = collect_ids_find(m, (uint32_t)ns, addr);
	m->slots[hole].id = 0;
	m->used--;
	for (j = (hole + 1) & mask; m->slots[j].id; j = (j + 1) & mask) {
		size_t home = collect_ids_hash(m->slots[j].key, m->slots[j].ns, mask);

		/* Move j into the hole unless its home lies cyclically in (hole, j]. */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			m->slots[hole] = m->slots[j];
			m->slots[j].id = 0;
			hole = j;
		}
	}
	return 0;
}

int collect_ids_alias(struct collect_ids *m, int ns, uint64_t from, uint64_t addr, int *moved,
		      struct avm_err *err)
{
	uint64_t id;

	*moved = 0;
	if (!collect_ids_known(m, ns, from))
		return 0;
	if (collect_ids_release(m, ns, from, &id, err) || collect_ids_set(m, ns, addr, id, err))
		return -1;
	*moved = 1;
	return 0;
}
