/*
 * hash.h - the one hash function of the toolkit's hash tables (u64map.h,
 * the lock instance table, the validator's task tables, the collector's id
 * map): a 64-bit mixer (the first half of MurmurHash3's fmix64) whose low
 * bits depend on every key bit, so tables index with `hash & mask`.
 * Composite keys fold their parts into one uint64_t first (e.g.
 * id ^ (class << 56)).  Header-only: it sits on the replay's hot path.
 *
 * May depend on: nothing (the C library's <stdint.h> only).
 */
#ifndef ANONVMA_HASH_H
#define ANONVMA_HASH_H

#include <stdint.h>

static inline uint64_t hash_u64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

#endif
