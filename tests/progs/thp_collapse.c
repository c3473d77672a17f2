/*
 * thp_collapse.c - MADV_COLLAPSE of a 2 MiB-aligned anonymous range filled
 * with base pages, for tests/e2e/folio_sizes.sh.  The collapse runs in this
 * process (collapse_huge_page), so its tracepoints are this process's.
 * Writes "collapse RC large N" to argv[1]: the madvise result (0 or -errno)
 * and the large folios the range maps afterwards (/proc/kpageflags).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define PG 4096UL
#define PMD (2UL << 20)
#define KPF_COMPOUND_HEAD 15

int main(int argc, char **argv)
{
	char *raw, *r;
	int pm, kf, rc;
	unsigned long large = 0;
	FILE *f;

	if (argc != 2)
		return fprintf(stderr, "usage: thp_collapse OUT\n"), 2;
	raw = mmap(NULL, 2 * PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return perror("mmap"), 1;
	r = (char *)(((uintptr_t)raw + PMD - 1) & ~(PMD - 1));
	if (madvise(r, PMD, MADV_NOHUGEPAGE)) /* base pages while filling, whatever sysfs says */
		return perror("madvise"), 1;
	for (unsigned long i = 0; i < PMD / PG; i++)
		r[i * PG] = (char)i;
	if (madvise(r, PMD, MADV_HUGEPAGE))
		return perror("madvise"), 1;
	rc = madvise(r, PMD, MADV_COLLAPSE) ? -errno : 0;
	pm = open("/proc/self/pagemap", O_RDONLY);
	kf = open("/proc/kpageflags", O_RDONLY);
	if (pm < 0 || kf < 0)
		return perror("pagemap/kpageflags"), 1;
	for (unsigned long i = 0; i < PMD / PG; i++) {
		uint64_t ent, flags;

		if (pread(pm, &ent, 8, (off_t)(((uintptr_t)r / PG + i) * 8)) != 8)
			return perror("pagemap"), 1;
		if (!(ent >> 63))
			continue;
		if (pread(kf, &flags, 8, (off_t)((ent & ((1ULL << 55) - 1)) * 8)) != 8)
			return perror("kpageflags"), 1;
		large += !!(flags & (1ULL << KPF_COMPOUND_HEAD));
	}
	f = fopen(argv[1], "w");
	if (!f)
		return perror(argv[1]), 1;
	fprintf(f, "collapse %d large %lu\n", rc, large);
	return fclose(f) != 0;
}
