/*
 * collect_host.h - what the collector learns about the host (collector only).
 *
 * Owns: the privilege check (root or CAP_BPF + CAP_PERFMON), the call-site
 * ranges of the anon rmap functions from /proc/kallsyms, and the host facts
 * written to the trace's meta table (kernel, arch, page size, VA bits and
 * page-table levels, THP settings, CPUs, memory, struct sizes from BTF and
 * slab object sizes from /proc/slabinfo).
 */
#ifndef ANONVMA_COLLECT_HOST_H
#define ANONVMA_COLLECT_HOST_H

#include <stdint.h>

#include "collect.h"
#include "error.h"

struct trace;
struct btf;

struct collect_host {
	unsigned va_bits;        /* user virtual address bits */
	unsigned pgtable_levels;
	uint64_t user_addr_max;  /* first address above user space */
	unsigned page_shift;
};

/* 0 if we may load and attach tracing BPF; else one line naming what is missing. */
int collect_host_check_privileges(struct avm_err *err);

/* Fill h (VA bits, levels, user address limit, page shift). */
int collect_host_probe(struct collect_host *h, struct avm_err *err);

/*
 * Address ranges of __anon_vma_prepare, anon_vma_clone, anon_vma_fork,
 * unlink_anon_vmas, __put_anon_vma (and anon_vma_chain_free when it exists)
 * from /proc/kallsyms.  *known is 1 when the five required functions were
 * found with non-zero addresses (kptr_restrict can hide them).
 */
int collect_host_sites(struct collect_site_range out[COLLECT_FN_MAX], int *known,
		       struct avm_err *err);

/* Write the host facts into meta. */
int collect_host_meta(struct trace *t, const struct collect_host *h, const struct btf *vmlinux,
		      struct avm_err *err);

#endif
