/*
 * collect_order.c - min-heap reorder window; see collect_order.h.
 *
 * The heap holds small items (time, arrival number, record pointer); the
 * arrival number breaks ties so records with equal times keep ring order.
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
	q->heap = malloc(q->cap * sizeof(*q->heap));
	if (!q->heap)
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
	for (size_t i = 0; i < q->n; i++)
		collect_order_done(q, q->heap[i].rec, q->heap[i].size);
	while (q->free_small) {
		void *next = *(void **)q->free_small;

		free(q->free_small);
		q->free_small = next;
	}
	free(q->heap);
	memset(q, 0, sizeof(*q));
}

int collect_order_push(struct collect_order *q, const void *rec, size_t size,
		       struct avm_err *err)
{
	struct collect_order_item it;
	size_t i;

	if (q->n == q->cap) {
		struct collect_order_item *h = realloc(q->heap, 2 * q->cap * sizeof(*h));

		if (!h)
			return avm_errf(err, "out of memory growing the reorder window");
		q->heap = h;
		q->cap *= 2;
	}
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
	/* Sift up. */
	for (i = q->n++; i > 0; i = (i - 1) / 2) {
		size_t up = (i - 1) / 2;

		if (!collect_order_less(&it, &q->heap[up]))
			break;
		q->heap[i] = q->heap[up];
	}
	q->heap[i] = it;
	return 0;
}

int collect_order_pop(struct collect_order *q, uint64_t before_t, void **rec, uint32_t *size)
{
	struct collect_order_item last;
	size_t i = 0;

	if (!q->n || (q->heap[0].t >= before_t && q->n <= q->max))
		return 0;
	*rec = q->heap[0].rec;
	*size = q->heap[0].size;
	last = q->heap[--q->n];
	/* Sift the last item down from the root. */
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && collect_order_less(&q->heap[c + 1], &q->heap[c]))
			c++;
		if (!collect_order_less(&q->heap[c], &last))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (q->n)
		q->heap[i] = last;
	return 1;
}

size_t collect_order_len(const struct collect_order *q)
{
	return q->n;
}
