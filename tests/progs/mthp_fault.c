/*
 * mthp_fault.c - anonymous faults in a 64 KiB-aligned region, for the
 * folio-size end-to-end test (tests/e2e/folio_sizes.sh), run with 64 KiB
 * mTHP enabled ("always") and every other size below the PMD off.
 *
 * The region is 16 x 64 KiB (1 MiB), trimmed to 64 KiB alignment by munmap:
 *   blocks 0-11  one write in each: an order-4 folio each (alloc_anon_folio);
 *   block 12     a read of page 3 first (the zero page), then writes to
 *                pages 0 and 3: the 64 KiB range is not empty, so base pages;
 *   block 13     a write (order 4), MADV_DONTNEED of pages 4-7, a write to
 *                page 5: the range is not empty again, a base page;
 *   blocks 14-15 untouched.
 * Then a child writes page 0 of block 0 (a COW copy: a base page) and exits.
 *
 * The kernel's own view is written to argv[1]: "large N small M
 * process_large P", N the large folios the region maps (compound heads,
 * /proc/kpageflags via /proc/self/pagemap), M the base anon pages it maps,
 * P the large folios of all the process's private writable mappings.
 * Needs root.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define BLK (16 * PG)
#define NBLK 16
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_ZERO_PAGE 24

/* Large folio heads and base anon pages mapped in [lo, hi), from pagemap and kpageflags. */
static int count_range(int pm, int kf, uintptr_t lo, uintptr_t hi, unsigned long *large,
		       unsigned long *small)
{
	for (uintptr_t va = lo; va < hi; va += PG) {
		uint64_t ent, flags;

		if (pread(pm, &ent, 8, (off_t)(va / PG * 8)) != 8)
			return perror("pagemap"), 1;
		if (!(ent >> 63) || (ent >> 62 & 1))
			continue; /* not present, or swapped */
		if (pread(kf, &flags, 8, (off_t)((ent & ((1ULL << 55) - 1)) * 8)) != 8)
			return perror("kpageflags"), 1;
		if (flags & (1ULL << KPF_ZERO_PAGE))
			continue;
		if (flags & (1ULL << KPF_COMPOUND_HEAD))
			(*large)++;
		else if (!(flags & (1ULL << KPF_COMPOUND_TAIL)))
			(*small)++;
	}
	return 0;
}

/*
 * The kernel's view: the region's large folios and base pages, and the
 * large folios of every private writable mapping of the process (heap and
 * stack may take 64 KiB folios too, depending on where ASLR put them).
 */
static int kernel_view(volatile char *r, const char *out)
{
	int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
	unsigned long large = 0, small = 0, all_large = 0, all_small = 0;
	FILE *maps = fopen("/proc/self/maps", "r"), *f;
	char line[512];

	if (pm < 0 || kf < 0 || !maps) {
		perror("pagemap/kpageflags/maps");
		return 1;
	}
	if (count_range(pm, kf, (uintptr_t)r, (uintptr_t)r + NBLK * BLK, &large, &small))
		return 1;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[1] == 'w' &&
		    perms[3] == 'p' && count_range(pm, kf, lo, hi, &all_large, &all_small))
			return 1;
	}
	fclose(maps);
	f = fopen(out, "w");
	if (!f)
		return perror(out), 1;
	fprintf(f, "large %lu small %lu process_large %lu\n", large, small, all_large);
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	char *raw, *lo, *hi;
	volatile char *r;
	pid_t pid;
	int st;

	if (argc != 2) {
		fprintf(stderr, "usage: mthp_fault OUT\n");
		return 2;
	}
	raw = mmap(NULL, (NBLK + 1) * BLK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	if (raw == MAP_FAILED)
		return perror("mmap"), 1;
	lo = (char *)(((uintptr_t)raw + BLK - 1) & ~(BLK - 1));
	hi = lo + NBLK * BLK;
	if ((lo > raw && munmap(raw, (size_t)(lo - raw))) ||
	    (raw + (NBLK + 1) * BLK > hi && munmap(hi, (size_t)(raw + (NBLK + 1) * BLK - hi))))
		return perror("munmap"), 1;
	r = lo;
	for (int b = 0; b < 12; b++)
		r[b * BLK + 5 * PG] = 1;
	(void)r[12 * BLK + 3 * PG];
	r[12 * BLK] = 1;
	r[12 * BLK + 3 * PG] = 1;
	r[13 * BLK] = 1;
	if (madvise((char *)lo + 13 * BLK + 4 * PG, 4 * PG, MADV_DONTNEED))
		return perror("madvise"), 1;
	r[13 * BLK + 5 * PG] = 1;
	pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		r[0] = 2;
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return fprintf(stderr, "child failed\n"), 1;
	return kernel_view(r, argv[1]);
}
