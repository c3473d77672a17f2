/*
 * collect_work - the fork/fault-heavy workload of bench/collect.sh.
 *
 * ITER rounds of: map four anonymous regions, write every page (first-write
 * faults: anon_vma + AVC allocations), mprotect a middle page (a split),
 * fork a child that writes to each region (COW faults) and exits, wait,
 * unmap.  Prints the wall time of the rounds alone, in nanoseconds, so the
 * tool's start-up (BPF load, perf set-up) is not counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define REGIONS 4
#define PAGES 16

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 1000;
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int it = 0; it < iters; it++) {
		char *m[REGIONS];
		pid_t pid;
		int st;

		for (int r = 0; r < REGIONS; r++) {
			m[r] = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m[r] == MAP_FAILED)
				return 1;
			for (unsigned long p = 0; p < PAGES; p++)
				m[r][p * PAGE] = (char)p;
		}
		if (mprotect(m[0] + 4 * PAGE, PAGE, PROT_READ))
			return 2;
		pid = fork();
		if (pid < 0)
			return 3;
		if (pid == 0) {
			for (int r = 1; r < REGIONS; r++)
				for (unsigned long p = 0; p < PAGES; p += 2)
					m[r][p * PAGE] = 1;
			_exit(0);
		}
		waitpid(pid, &st, 0);
		for (int r = 0; r < REGIONS; r++)
			munmap(m[r], PAGES * PAGE);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return 0;
}
