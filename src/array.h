/*
 * array.h - the one growth rule of the toolkit's dynamic arrays: a
 * capacity that doubles (from a first capacity the caller picks) until
 * the wanted element count fits, so n appends cost O(n) copying.
 *
 *   if (array_grow((void **)&v->items, &v->cap, v->n + 1, sizeof(*v->items), 64))
 *           return avm_errf(err, "out of memory (items)");
 *   v->items[v->n++] = item;
 *
 * array_grow reports nothing itself: the caller names what ran out (one
 * message per site, error.h).  New elements are not initialised.
 *
 * May depend on: nothing (the C library only; no project header).
 */
#ifndef ANONVMA_ARRAY_H
#define ANONVMA_ARRAY_H

#include <stddef.h>

/*
 * Make room for need elements of elem bytes in *p, whose capacity is *cap
 * elements: nothing when need <= *cap, else *cap (or first_cap when 0)
 * doubled until need fits.  0, or -1 when out of memory or the size would
 * overflow (*p and *cap unchanged).
 */
int array_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first_cap);

#endif
