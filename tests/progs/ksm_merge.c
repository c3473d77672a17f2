/*
 * ksm_merge.c - 64 identical anonymous pages in one MADV_MERGEABLE VMA, for
 * tests/e2e/ksm_collect.sh (run while /sys/kernel/mm/ksm/run is 1): waits
 * until ksmd has merged them (/proc/self/ksm_merging_pages, up to 10 s),
 * prints "region ADDR merged N", unmaps the VMA and waits half a second so
 * ksmd's next scan can drop the stale items while the collector runs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NPG 64
#define PG 4096UL

static long merging(void)
{
	char b[64];
	int fd = open("/proc/self/ksm_merging_pages", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof(b) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	b[n] = 0;
	return atol(b);
}

int main(void)
{
	char *p = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || madvise(p, NPG * PG, MADV_MERGEABLE))
		return perror("mmap/madvise"), 1;
	for (int i = 0; i < NPG; i++)
		memset(p + i * PG, 0x5a, PG);
	for (int t = 0; t < 200 && merging() < NPG; t++)
		usleep(50000);
	printf("region %#lx merged %ld\n", (unsigned long)p, merging());
	fflush(stdout);
	if (munmap(p, NPG * PG))
		return perror("munmap"), 1;
	usleep(500000);
	return 0;
}
