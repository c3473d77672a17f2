/*
 * collect_ids.h - kernel addresses to small trace ids (collector only).
 *
 * Owns: the mapping from (namespace, kernel address) to the ids the trace
 * carries.  Ids start at 1 per namespace; 0 stands for "none" (address 0).
 * SLUB hands a freed address out again at once, so an address names an object
 * only between its allocation and its free: collect_ids_fresh() gives the
 * address a new id (a new generation) and collect_ids_release() forgets it,
 * after which the next sighting gets a new id too.
 *
 * Layout: one open-addressing table (linear probing, backward-shift deletion,
 * power-of-two capacity, at most half full) keyed by address and namespace.
 */
#ifndef ANONVMA_COLLECT_IDS_H
#define ANONVMA_COLLECT_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum collect_ns {
	COLLECT_NS_MM = 0,
	COLLECT_NS_AV,   /* anon_vma */
	COLLECT_NS_AVC,  /* anon_vma_chain */
	COLLECT_NS_VMA,  /* vm_area_struct */
	COLLECT_NS_FILE, /* struct file (open file description) */
	COLLECT_NS_NAME, /* anon VMA name (hash of the string) */
	COLLECT_NS_MAX,
};

struct collect_id_slot {
	uint64_t key;  /* kernel address (never 0 in a used slot) */
	uint64_t id;   /* 0: empty slot */
	uint32_t ns;
};

struct collect_ids {
	struct collect_id_slot *slots;
	size_t cap, used;
	uint64_t next[COLLECT_NS_MAX];
};

int collect_ids_init(struct collect_ids *m, struct avm_err *err);
void collect_ids_free(struct collect_ids *m);

/* The id of addr (assigning the next id on first sight); 0 for addr 0. */
int collect_ids_get(struct collect_ids *m, int ns, uint64_t addr, uint64_t *id,
		    struct avm_err *err);
/* A new id for addr (an allocation): any earlier generation is forgotten. */
int collect_ids_fresh(struct collect_ids *m, int ns, uint64_t addr, uint64_t *id,
		      struct avm_err *err);
/* The id of addr (assigned if never seen), then forget addr (a free). */
int collect_ids_release(struct collect_ids *m, int ns, uint64_t addr, uint64_t *id,
			struct avm_err *err);
/*
 * Give addr the id that the stand-in address from currently has, and forget
 * from (an mm first known by its process, later by its address).  *moved is
 * 1 if from had an id.
 */
int collect_ids_alias(struct collect_ids *m, int ns, uint64_t from, uint64_t addr, int *moved,
		      struct avm_err *err);
/* 1 if addr currently has an id in ns. */
int collect_ids_known(const struct collect_ids *m, int ns, uint64_t addr);

#endif
