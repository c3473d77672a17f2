/*
 * collect_order.c - the reorder window; see collect_order.h.
 *
 * The window is a ring of small items (time, arrival number, record pointer)
 * kept sorted by (time, arrival); the arrival number breaks ties so records
 * with equal times keep ring order.  Records come nearly sorted (a few
 * microseconds of disorder across CPUs), so a push walks back from the tail
 * over the few newer items and shifts them up one slot (a binary search when
 * the walk gets long), and a pop takes the head: O(1) per record for the
 * usual stream, where the min-heap this replaced paid a sift-down of
 * log2(window) cache-missing levels per pop.  The order written is the same:
 * (time, arrival) is a total order.
 */
#include "collect_order.h"

#include <stdlib.h>
#include <string.h>

#include "event.h"

static int collect_order_less(const struct collect_order_item *a,
			      const struct collect_order_item *b)
{
	return a->t < b->t || (a->t == b->t && a->arrival < b->arrival);
}

int collect_order_init(struct collect_order *q, size_t max, struct avm_err *err)
{
	memset(q, 0, sizeof(*q));
	q->cap = 4096;
	q->max = max;
	q->ring = malloc(q->cap * sizeof(*q->ring));
	if (!q->ring)
		return avm_errf(err, "out of memory for the reorder window");
	return 0;
}

#define COLLECT_ORDER_SMALL sizeof(struct avm_event)

void collect_order_done(struct collect_order *q, void *rec, uint32_t size)
{
	if (size <= COLLECT_ORDER_SMALL) {
		*(void **)rec = q->free_small;
		q->free_small = rec;
		return;
	}
	free(rec);
}

void collect_order_free(struct collect_order *q)
{
	for (size_t i = 0; i < q->n; i++) {
		struct collect_order_item *it = &q->ring[(q->head + i) & (q->cap - 1)];

		collect_order_done(q, it->rec, it->size);
	}
	while (q->free_small) {
		void *next = *(void **)q->free_small;

		free(q->free_small);
		q->free_small = next;
	}
	free(q->ring);
	memset(q, 0, sizeof(*q));
}

/* Double the ring, unwrapping it to start at index 0. */
static int collect_order_grow(struct collect_order *q, struct avm_err *err)
{
	struct collect_order_item *r = malloc(2 * q->cap * sizeof(*r));

	if (!r)
		return avm_errf(err, "out of memory growing the reorder window");
	for (size_t i = 0; i < q->n; i++)
		r[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = r;
	q->head = 0;
	q->cap *= 2;
	return 0;
}

#define COLLECT_ORDER_WALK 16 /* items walked back before a binary search */

/* Position (0 = head) where it goes: after every item not greater than it. */
static size_t collect_order_where(const struct collect_order *q,
				  const struct collect_order_item *it)
{
	size_t mask = q->cap - 1, pos = q->n, lo = 0, hi;

	while (pos > 0 && q->n - pos < COLLECT_ORDER_WALK &&
	       collect_order_less(it, &q->ring[(q->head + pos - 1) & mask]))
		pos--;
	if (pos == 0 || !collect_order_less(it, &q->ring[(q->head + pos - 1) & mask]))
		return pos;
	/* Far out of order: the first item greater than it, in [0, pos). */
	for (hi = pos - 1; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (collect_order_less(it, &q->ring[(q->head + mid) & mask]))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int collect_order_push(struct collect_order *q, const void *rec, size_t size,
		       struct avm_err *err)
{
	struct collect_order_item it;
	size_t mask, pos, i;

	if (q->n == q->cap && collect_order_grow(q, err))
		return -1;
	if (size <= COLLECT_ORDER_SMALL && q->free_small) {
		it.rec = q->free_small;
		q->free_small = *(void **)it.rec;
	} else {
		it.rec = malloc(size <= COLLECT_ORDER_SMALL ? COLLECT_ORDER_SMALL : size);
	}
	if (!it.rec)
		return avm_errf(err, "out of memory for a %zu-byte record", size);
	memcpy(it.rec, rec, size);
	it.size = (uint32_t)size;
	it.t = ((const struct avm_event *)rec)->t;
	it.arrival = q->arrivals++;
	mask = q->cap - 1;
	pos = collect_order_where(q, &it);
	/* Shift the newer items up one slot and put it in the gap. */
	for (i = q->n; i > pos; i--)
		q->ring[(q->head + i) & mask] = q->ring[(q->head + i - 1) & mask];
	q->ring[(q->head + pos) & mask] = it;
	q->n++;
	return 0;
}

int collect_order_pop(struct collect_order *q, uint64_t before_t, void **rec, uint32_t *size)
{
	const struct collect_order_item *oldest = &q->ring[q->head];

	if (!q->n || (oldest->t >= before_t && q->n <= q->max))
		return 0;
	*rec = oldest->rec;
	*size = oldest->size;
	q->head = (q->head + 1) & (q->cap - 1);
	q->n--;
	return 1;
}

size_t collect_order_len(const struct collect_order *q)
{
	return q->n;
}
