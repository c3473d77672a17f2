/*
 * collect_order.h - the collector's bounded reorder window (collector only).
 *
 * Owns: putting ring-buffer records back into time order.  Records reach user
 * space in reservation order, which can disagree with their timestamps by a
 * few microseconds across CPUs (the time is read after the reserve, and a
 * task can be interrupted in between).  Records wait in a sorted ring of
 * (time, arrival) keys and leave once they are older than the newest time
 * minus a window, or when the window is full; at the end everything leaves in
 * order.
 * Event-sized records are recycled through a free list, so a steady stream
 * costs no allocation once the window has filled.
 */
#ifndef ANONVMA_COLLECT_ORDER_H
#define ANONVMA_COLLECT_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct collect_order_item {
	uint64_t t, arrival;
	void *rec;
	uint32_t size;
};

struct collect_order {
	struct collect_order_item *ring; /* sorted from ring[head], cap a power of two */
	size_t head, n, cap, max;  /* max: records held before the oldest is forced out */
	uint64_t arrivals;
	void *free_small;    /* recycled event-sized blocks, linked through their first word */
};

int collect_order_init(struct collect_order *q, size_t max, struct avm_err *err);
/* Frees the held records too. */
void collect_order_free(struct collect_order *q);
/* Copy a record (its struct avm_event header says when it happened). */
int collect_order_push(struct collect_order *q, const void *rec, size_t size,
		       struct avm_err *err);
/* 1 and the oldest record if it is older than before_t (or the window is over its
 * limit); 0 otherwise.  The caller hands *rec back with collect_order_done(). */
int collect_order_pop(struct collect_order *q, uint64_t before_t, void **rec, uint32_t *size);
void collect_order_done(struct collect_order *q, void *rec, uint32_t size);
size_t collect_order_len(const struct collect_order *q);

#endif
