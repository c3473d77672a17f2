/*
 * mprotect_storm - keep this process's mmap_lock write-held most of the time,
 * for tests/e2e/mmap_trylock.sh.
 *
 *   mprotect_storm [MIB] [MS]     (default 64 MiB for 1000 ms)
 *
 * A private anonymous region of MIB MiB is written page by page (every page
 * an anon folio of one VMA), then mprotect flips the whole region between
 * read-only and read-write until MS ms have passed.  mprotect holds
 * mmap_lock for write over the whole of change_protection (no downgrade,
 * unlike munmap), so the trace's mmap_lock events show this mm write-held
 * for most of the run: a lazy rmap walk of these folios under
 * `lazy.walk_lock: mmap_trylock` at a random instant mostly finds it held.
 * Prints the number of mprotect calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096UL

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atol(argv[1]) : 64) << 20;
	double ms = argc > 2 ? atof(argv[2]) : 1000, end;
	unsigned long calls = 0;
	char *p;

	if (!len || ms <= 0) {
		fprintf(stderr, "usage: mprotect_storm [MIB] [MS]\n");
		return 2;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mprotect_storm: mmap");
		return 1;
	}
	for (size_t off = 0; off < len; off += PAGE)
		p[off] = 1;
	end = now_ms() + ms;
	while (now_ms() < end) {
		if (mprotect(p, len, calls & 1 ? PROT_READ | PROT_WRITE : PROT_READ)) {
			perror("mprotect_storm: mprotect");
			return 1;
		}
		calls++;
	}
	printf("%lu\n", calls);
	return 0;
}
