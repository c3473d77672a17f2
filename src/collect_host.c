/*
 * collect_host.c - host facts, privileges and call-site ranges; see
 * collect_host.h.
 *
 * Every fact comes from a file the kernel exports (procfs, sysfs, BTF); a
 * fact that cannot be read is left out of meta rather than guessed, except
 * the privilege check and the kallsyms ranges, whose absence changes what the
 * collector can do and is reported by the caller.
 */
#include "collect_host.h"

#include <bpf/btf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include "trace.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

int collect_host_check_privileges(struct avm_err *err)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int bpf, perfmon, sysadmin;

	if (geteuid() == 0)
		return 0;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return avm_errf(err, "cannot read capabilities: %s", strerror(errno));
#define HAS(cap) ((data[(cap) / 32].effective >> ((cap) % 32)) & 1)
	bpf = HAS(CAP_BPF);
	perfmon = HAS(CAP_PERFMON);
	sysadmin = HAS(CAP_SYS_ADMIN);
#undef HAS
	if (sysadmin || (bpf && perfmon))
		return 0;
	if (!bpf && !perfmon)
		return avm_errf(err, "not root and missing CAP_BPF and CAP_PERFMON "
			       "(run as root or grant both)");
	return avm_errf(err, "not root and missing %s (CAP_BPF and CAP_PERFMON are both needed)",
			bpf ? "CAP_PERFMON" : "CAP_BPF");
}

/* VA bits from /proc/cpuinfo "address sizes : 46 bits physical, 48 bits virtual". */
static unsigned collect_host_cpuinfo_va_bits(int *la57)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	unsigned bits = 0;

	*la57 = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "bits virtual");

		if (!strncmp(line, "flags", 5) && strstr(line, " la57"))
			*la57 = 1;
		if (p && !bits) {
			while (p > line && !isdigit((unsigned char)p[-1]))
				p--;
			while (p > line && isdigit((unsigned char)p[-1]))
				p--;
			bits = (unsigned)strtoul(p, NULL, 10);
		}
	}
	fclose(f);
	return bits;
}

int collect_host_probe(struct collect_host *h, struct avm_err *err)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned cpu_va = 0;
	int la57 = 0;

	memset(h, 0, sizeof(*h));
	if (page <= 0)
		return avm_errf(err, "cannot read the page size");
	while ((1L << h->page_shift) < page)
		h->page_shift++;
	cpu_va = collect_host_cpuinfo_va_bits(&la57);
#if defined(__x86_64__)
	/*
	 * User space gets half of the CPU's virtual range: 47 bits with 4-level
	 * tables, 56 with 5-level ones (only if the kernel enabled LA57: then
	 * cpuinfo reports 57 virtual bits).
	 */
	if (la57 && cpu_va >= 57) {
		h->va_bits = 56;
		h->pgtable_levels = 5;
	} else {
		h->va_bits = 47;
		h->pgtable_levels = 4;
	}
	h->user_addr_max = (1ULL << h->va_bits) - (uint64_t)page;
#elif defined(__aarch64__)
	(void)cpu_va;
	h->va_bits = 48;
	h->pgtable_levels = 4;
	h->user_addr_max = 1ULL << 48;
#else
	(void)cpu_va;
	h->va_bits = 47;
	h->pgtable_levels = 4;
	h->user_addr_max = 1ULL << 47;
#endif
	return 0;
}

static const char *const collect_site_names[COLLECT_FN_MAX] = {
	[COLLECT_FN_PREPARE] = "__anon_vma_prepare",
	[COLLECT_FN_CLONE] = "anon_vma_clone",
	[COLLECT_FN_FORK] = "anon_vma_fork",
	[COLLECT_FN_UNLINK] = "unlink_anon_vmas",
	[COLLECT_FN_PUT] = "__put_anon_vma",
	[COLLECT_FN_AVC_FREE] = "anon_vma_chain_free",
};

/* name, or name with a compiler suffix (".isra.0", ".constprop.0"), but not ".cold". */
static int collect_site_match(const char *sym, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(sym, name, n))
		return 0;
	return sym[n] == '\0' || (sym[n] == '.' && strncmp(sym + n, ".cold", 5));
}

/*
 * One pass over /proc/kallsyms (about 120k lines, parsed by hand: sscanf
 * would dominate the collector's start-up).  The core kernel's symbols are
 * listed in address order, so a function ends where the next listed symbol
 * with a higher address begins.
 */
int collect_host_sites(struct collect_site_range out[COLLECT_FN_MAX], int *known,
		       struct avm_err *err)
{
	FILE *f;
	char line[512];
	int i;

	memset(out, 0, COLLECT_FN_MAX * sizeof(*out));
	*known = 0;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return avm_errf(err, "cannot read /proc/kallsyms: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *sym;
		unsigned long long addr = strtoull(line, &p, 16);
		char type;

		if (!addr || p[0] != ' ' || !p[1] || p[2] != ' ')
			continue;
		type = p[1];
		sym = p + 3;
		sym[strcspn(sym, " \t\n")] = '\0';
		for (i = 0; i < COLLECT_FN_MAX; i++) {
			if (out[i].start && !out[i].end && addr > out[i].start)
				out[i].end = addr;
			else if (!out[i].start && (type == 't' || type == 'T') &&
				 collect_site_match(sym, collect_site_names[i]))
				out[i].start = addr;
		}
	}
	fclose(f);
	*known = 1;
	for (i = 0; i < COLLECT_FN_MAX; i++) {
		if (!out[i].end)
			out[i].start = 0;
		if (i != COLLECT_FN_AVC_FREE && !out[i].start)
			*known = 0;
	}
	return 0;
}

/* The first line of a small sysfs/procfs file, newline stripped; NULL if unreadable. */
static char *collect_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char *r;

	if (!f)
		return NULL;
	r = fgets(buf, (int)len, f);
	fclose(f);
	if (!r)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* "always [madvise] never" -> "madvise"; a value without brackets as is. */
static const char *collect_selected(char *s)
{
	char *l = strchr(s, '['), *r;

	if (!l)
		return s;
	r = strchr(l, ']');
	if (r)
		*r = '\0';
	return l + 1;
}

static int collect_meta_file(struct trace *t, const char *key, const char *path, int selected,
			     struct avm_err *err)
{
	char buf[256];

	if (!collect_read_line(path, buf, sizeof(buf)))
		return 0;
	return trace_meta_set(t, key, selected ? collect_selected(buf) : buf, err);
}

static int collect_kb_cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * meta thp_anon_sizes: every hugepages-<size>kB/enabled under thp, ascending,
 * as "16kB=never,...,2048kB=inherit" (the bracketed selection).  Absent when
 * the kernel has no per-size controls (before 6.8).
 */
static int collect_meta_thp_sizes(struct trace *t, const char *thp, struct avm_err *err)
{
	DIR *d = opendir(thp);
	struct dirent *e;
	unsigned long kb[64];
	size_t n = 0, i, off = 0;
	char out[1024] = "", path[512], buf[256];

	if (!d)
		return 0;
	for (e = readdir(d); e && n < 64; e = readdir(d))
		if (sscanf(e->d_name, "hugepages-%lukB", &kb[n]) == 1)
			n++;
	closedir(d);
	qsort(kb, n, sizeof(kb[0]), collect_kb_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/hugepages-%lukB/enabled", thp, kb[i]);
		if (!collect_read_line(path, buf, sizeof(buf)))
			continue;
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%lukB=%s", off ? "," : "",
					kb[i], collect_selected(buf));
		if (off >= sizeof(out))
			return 0; /* cannot happen with sysfs' sizes: leave it out rather than cut */
	}
	return n ? trace_meta_set(t, "thp_anon_sizes", out, err) : 0;
}

/* CONFIG_PT_RECLAIM from a kernel config file (gzip or plain): 'y', 'n', or 0 if unreadable. */
static char collect_config_pt_reclaim(const char *path)
{
	gzFile f = gzopen(path, "rb");
	char line[256], v = 0;

	if (!f)
		return 0;
	v = 'n'; /* a readable config without the line: not set */
	while (gzgets(f, line, sizeof(line))) {
		if (!strncmp(line, "CONFIG_PT_RECLAIM=y", 19)) {
			v = 'y';
			break;
		}
	}
	gzclose(f);
	return v;
}

/*
 * meta pt_reclaim ("y", "n", "unknown") and pt_reclaim_source: whether
 * MADV_DONTNEED frees the page tables it empties.  From /proc/config.gz,
 * else /boot/config-<release>, else the BTF of a function only that option
 * builds (try_to_free_pte, mm/pt_reclaim.c: present means y; absent is only
 * a hint, so "unknown").
 */
static int collect_meta_pt_reclaim(struct trace *t, const struct btf *vmlinux, struct avm_err *err)
{
	struct utsname u;
	char boot[300] = "", v = collect_config_pt_reclaim("/proc/config.gz");
	const char *src = "/proc/config.gz", *val;

	if (!v && !uname(&u)) {
		snprintf(boot, sizeof(boot), "/boot/config-%s", u.release);
		v = collect_config_pt_reclaim(boot);
		src = boot;
	}
	if (v) {
		val = v == 'y' ? "y" : "n";
	} else if (vmlinux && btf__find_by_name_kind(vmlinux, "try_to_free_pte", BTF_KIND_FUNC) > 0) {
		val = "y";
		src = "btf";
	} else {
		val = "unknown";
		src = vmlinux ? "btf" : "none";
	}
	return trace_meta_set(t, "pt_reclaim", val, err) ||
	       trace_meta_set(t, "pt_reclaim_source", src, err);
}

/* objsize column of /proc/slabinfo for cache name; 0 if absent. */
static long collect_slab_objsize(const char *name)
{
	FILE *f = fopen("/proc/slabinfo", "r");
	char line[512], n[64];
	long active, num, objsize, found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld %ld %ld", n, &active, &num, &objsize) == 4 &&
		    !strcmp(n, name)) {
			found = objsize;
			break;
		}
	}
	fclose(f);
	return found;
}

static long collect_mem_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

int collect_host_meta(struct trace *t, const struct collect_host *h, const struct btf *vmlinux,
		      struct avm_err *err)
{
	static const char *const structs[] = { "anon_vma", "anon_vma_chain", "vm_area_struct" };
	static const char *const thp = "/sys/kernel/mm/transparent_hugepage";
	struct utsname u;
	char key[64], path[256];
	size_t i;

	if (uname(&u))
		return avm_errf(err, "uname: %s", strerror(errno));
	if (trace_meta_set(t, "kernel_release", u.release, err) ||
	    trace_meta_set(t, "arch", u.machine, err) ||
	    trace_meta_set_int(t, "page_size", 1L << h->page_shift, err) ||
	    trace_meta_set_int(t, "va_bits", h->va_bits, err) ||
	    trace_meta_set_int(t, "pgtable_levels", h->pgtable_levels, err) ||
	    trace_meta_set_int(t, "cpus", sysconf(_SC_NPROCESSORS_ONLN), err) ||
	    trace_meta_set_int(t, "mem_bytes", collect_mem_bytes(), err))
		return -1;
	snprintf(path, sizeof(path), "%s/enabled", thp);
	if (collect_meta_file(t, "thp_enabled", path, 1, err))
		return -1;
	snprintf(path, sizeof(path), "%s/defrag", thp);
	if (collect_meta_file(t, "thp_defrag", path, 1, err))
		return -1;
	snprintf(path, sizeof(path), "%s/hugepages-2048kB/enabled", thp);
	if (collect_meta_file(t, "thp_pmd_enabled", path, 1, err))
		return -1;
	if (collect_meta_thp_sizes(t, thp, err) || collect_meta_pt_reclaim(t, vmlinux, err))
		return -1;
	snprintf(path, sizeof(path), "%s/shmem_enabled", thp);
	if (collect_meta_file(t, "thp_shmem_enabled", path, 1, err))
		return -1;
	snprintf(path, sizeof(path), "%s/use_zero_page", thp);
	if (collect_meta_file(t, "thp_use_zero_page", path, 0, err))
		return -1;
	if (collect_meta_file(t, "overcommit_memory", "/proc/sys/vm/overcommit_memory", 0, err) ||
	    collect_meta_file(t, "ksm_run", "/sys/kernel/mm/ksm/run", 0, err) ||
	    collect_meta_file(t, "slab_aliases_anon_vma_chain",
			      "/sys/kernel/slab/anon_vma_chain/aliases", 0, err))
		return -1;
	for (i = 0; i < sizeof(structs) / sizeof(structs[0]); i++) {
		long slab = collect_slab_objsize(structs[i]);

		if (vmlinux) {
			int id = btf__find_by_name_kind(vmlinux, structs[i], BTF_KIND_STRUCT);
			long sz = id > 0 ? btf__resolve_size(vmlinux, id) : -1;

			if (sz > 0) {
				snprintf(key, sizeof(key), "size_%s", structs[i]);
				if (trace_meta_set_int(t, key, sz, err))
					return -1;
			}
		}
		if (slab > 0) {
			snprintf(key, sizeof(key), "slab_size_%s", structs[i]);
			if (trace_meta_set_int(t, key, slab, err))
				return -1;
		}
	}
	return 0;
}
