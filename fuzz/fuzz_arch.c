/*
 * fuzz_arch.c - libFuzzer harness for the arch YAML loader (arch_load of a
 * path: every key, value and range check, then the ISA's geometry checks).
 * An arch that loads is then used as replay would: a page-table tree is built
 * at a few addresses derived from the input, copied (fork), zapped, unmapped,
 * flushed and checked, so a geometry the loader accepts must also be one the
 * page-table model can run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "fuzz_input.h"

static void exercise(const struct arch *a, const uint8_t *data, size_t size)
{
	struct arch_pt_stats world;
	struct arch_pt *pt = NULL, *child = NULL;
	struct arch_fork_copy fc;
	struct arch_flush fl;
	struct avm_err err = { "" };
	uint64_t top = a->va_bits >= 64 ? UINT64_MAX : (1ULL << a->va_bits) - 1;
	uint64_t addr[4];
	size_t i;

	memset(&world, 0, sizeof(world));
	for (i = 0; i < 4; i++) {
		uint64_t h = 0xcbf29ce484222325ULL ^ i;

		for (size_t j = 0; j < size; j += 7)
			h = (h ^ data[j]) * 0x100000001b3ULL;
		addr[i] = (h & top) & ~(a->page_size - 1);
	}
	if (arch_pt_create(a, &world, &pt, &err) || arch_pt_create(a, &world, &child, &err))
		goto out;
	for (i = 0; i < 4; i++) {
		if (arch_pt_touch(pt, addr[i], &err))
			goto out;
		if (a->pmd_size && arch_pt_touch_pmd(pt, addr[i] & ~(a->pmd_size - 1), &err))
			goto out;
	}
	if (arch_pt_copy(child, pt, 0, top, &fc, &err))
		goto out;
	arch_pt_ran_on(pt, 3);
	arch_pt_flush(pt, 1 + (addr[0] & 1023), 0, &fl);
	arch_pt_zap(pt, addr[1], addr[1] + a->page_size);
	arch_pt_unmap(pt, addr[2] & ~(a->page_size - 1), (addr[2] & ~(a->page_size - 1)) +
		      a->page_size, 0, 0);
	if (arch_pt_check(pt, &err) || arch_pt_check(child, &err))
		abort(); /* the model broke its own invariants */
out:
	arch_pt_destroy(child);
	arch_pt_destroy(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct avm_err err = { "" };
	struct arch a;

	if (arch_load(fuzz_input_path(data, size), NULL, &a, &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	exercise(&a, data, size);
	return 0;
}
