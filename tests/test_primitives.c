/*
 * test_primitives.c - the low-level primitives every module shares: the
 * intrusive list (list.h), the array growth rule (array.h), the hash of
 * the hash tables (hash.h), and the kernel ABI values (kabi.h) against the
 * C library's where both define one.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "array.h"
#include "hash.h"
#include "kabi.h"
#include "list.h"

struct item {
	int v;
	struct item *prev, *next;   /* one list */
	struct item *aprev, *anext; /* a second list through the same element */
};

static void expect_order(struct item *head, const int *want, size_t n)
{
	size_t i = 0;

	for (struct item *x = head; x; x = x->next, i++) {
		assert_true(i < n);
		assert_int_equal(x->v, want[i]);
		if (x->next)
			assert_ptr_equal(x->next->prev, x); /* back links agree */
	}
	assert_int_equal(i, n);
}

static void test_list(void **state)
{
	struct item it[4] = { { .v = 0 }, { .v = 1 }, { .v = 2 }, { .v = 3 } };
	struct item *head = NULL, *other = NULL;
	const int all[] = { 3, 2, 1, 0 }, mid[] = { 3, 1, 0 }, ends[] = { 1 };

	(void)state;
	for (int i = 0; i < 4; i++) {
		LIST_PUSH_FRONT(&head, &it[i], prev, next);
		LIST_PUSH_FRONT(&other, &it[i], aprev, anext);
	}
	expect_order(head, all, 4); /* front insertion: newest first */
	assert_null(head->prev);
	assert_ptr_equal(it[0].prev, &it[1]);
	LIST_UNLINK(&head, &it[2], prev, next); /* middle */
	expect_order(head, mid, 3);
	assert_ptr_equal(it[3].next, &it[1]);
	assert_ptr_equal(it[1].prev, &it[3]);
	LIST_UNLINK(&head, &it[3], prev, next); /* head */
	LIST_UNLINK(&head, &it[0], prev, next); /* tail */
	expect_order(head, ends, 1);
	assert_null(head->prev);
	assert_null(head->next);
	LIST_UNLINK(&head, &it[1], prev, next); /* the last one */
	assert_null(head);
	/* the second list never moved */
	assert_ptr_equal(other, &it[3]);
	assert_ptr_equal(it[3].anext, &it[2]);
	assert_ptr_equal(it[0].aprev, &it[1]);
	assert_null(it[0].anext);
}

static void test_array_grow(void **state)
{
	uint32_t *a = NULL;
	size_t cap = 0;

	(void)state;
	assert_int_equal(array_grow((void **)&a, &cap, 0, sizeof(*a), 16), 0);
	assert_null(a); /* nothing wanted: nothing allocated */
	assert_int_equal(cap, 0);
	assert_int_equal(array_grow((void **)&a, &cap, 1, sizeof(*a), 16), 0);
	assert_int_equal(cap, 16); /* the first capacity */
	for (uint32_t i = 0; i < 16; i++)
		a[i] = i;
	assert_int_equal(array_grow((void **)&a, &cap, 16, sizeof(*a), 16), 0);
	assert_int_equal(cap, 16); /* fits: unchanged */
	assert_int_equal(array_grow((void **)&a, &cap, 17, sizeof(*a), 16), 0);
	assert_int_equal(cap, 32); /* doubled */
	assert_int_equal(array_grow((void **)&a, &cap, 200, sizeof(*a), 16), 0);
	assert_int_equal(cap, 256); /* doubled until it fits: 64, 128, 256 */
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(a[i], i); /* contents kept */
	/* a size that cannot be represented: refused, nothing changed */
	assert_int_equal(array_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof(*a), 16), -1);
	assert_int_equal(cap, 256);
	assert_int_equal(a[15], 15);
	free(a);
}

static void test_hash(void **state)
{
	unsigned seen[64] = { 0 };

	(void)state;
	assert_int_equal(hash_u64(0), 0);
	assert_true(hash_u64(1) != hash_u64(2));
	/* consecutive ids (the trace's) spread over the low bits tables index with */
	for (uint64_t k = 1; k <= 64 * 64; k++)
		seen[hash_u64(k) & 63]++;
	for (int i = 0; i < 64; i++)
		assert_true(seen[i] > 32 && seen[i] < 96);
}

static void test_kabi_matches_libc(void **state)
{
	(void)state;
	assert_int_equal(KABI_PROT_READ, PROT_READ);
	assert_int_equal(KABI_PROT_WRITE, PROT_WRITE);
	assert_int_equal(KABI_PROT_EXEC, PROT_EXEC);
	assert_int_equal(KABI_MAP_SHARED, MAP_SHARED);
	assert_int_equal(KABI_MAP_PRIVATE, MAP_PRIVATE);
	assert_int_equal(KABI_MAP_FIXED, MAP_FIXED);
	assert_int_equal(KABI_MAP_ANONYMOUS, MAP_ANONYMOUS);
	assert_int_equal(KABI_MAP_NORESERVE, MAP_NORESERVE);
	assert_int_equal(KABI_MAP_POPULATE, MAP_POPULATE);
	assert_int_equal(KABI_MAP_STACK, MAP_STACK);
	assert_int_equal(KABI_MAP_HUGETLB, MAP_HUGETLB);
	assert_int_equal(KABI_MAP_LOCKED, MAP_LOCKED);
	assert_int_equal(KABI_MAP_GROWSDOWN, MAP_GROWSDOWN);
	assert_int_equal(KABI_MREMAP_MAYMOVE, MREMAP_MAYMOVE);
	assert_int_equal(KABI_MREMAP_FIXED, MREMAP_FIXED);
	assert_int_equal(KABI_MADV_DONTNEED, MADV_DONTNEED);
	assert_int_equal(KABI_MADV_DONTFORK, MADV_DONTFORK);
	assert_int_equal(KABI_MADV_MERGEABLE, MADV_MERGEABLE);
	assert_int_equal(KABI_MADV_HUGEPAGE, MADV_HUGEPAGE);
	assert_int_equal(KABI_MADV_WIPEONFORK, MADV_WIPEONFORK);
	assert_int_equal(KABI_MCL_CURRENT, MCL_CURRENT);
	assert_int_equal(KABI_MCL_FUTURE, MCL_FUTURE);
	assert_int_equal(KABI_CLONE_VM, CLONE_VM);
	assert_int_equal(KABI_CLONE_VFORK, CLONE_VFORK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_array_grow),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_kabi_matches_libc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
