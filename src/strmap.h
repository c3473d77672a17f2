/*
 * strmap.h - a small open-addressing hash map from strings to pointers, for
 * the report tool's sets (trace ids already merged, redaction pseudonyms).
 *
 * Layout: one array of {key, value} slots, power-of-two capacity, linear
 * probing, load factor <= 1/2; the map owns a copy of every key.  Entries
 * are never removed.  Memory: one slot (16 B) x 2-4 per entry plus the keys.
 * Depends on libc only.
 */
#ifndef ANONVMA_STRMAP_H
#define ANONVMA_STRMAP_H

#include <stddef.h>

struct strmap_slot {
	char *key;
	void *val;
};

struct strmap {
	struct strmap_slot *slot;
	size_t cap, n;
};

/* The value stored under key, or NULL (absent, or stored as NULL: use strmap_has). */
void *strmap_get(const struct strmap *m, const char *key);
int strmap_has(const struct strmap *m, const char *key);
/* Store val under key (replacing an earlier value).  -1 on out of memory. */
int strmap_put(struct strmap *m, const char *key, void *val);
/* Call fn for every entry (in slot order); free_val (may be NULL) on every value by strmap_free. */
void strmap_each(const struct strmap *m, void (*fn)(void *ctx, const char *key, void *val), void *ctx);
void strmap_free(struct strmap *m, void (*free_val)(void *val));

#endif
