/*
 * collect_ioctl_work - the workload of bench/collect_ioctl.sh: the cost of an
 * ioctl under the collector, for ioctls it filters out and for the
 * userfaultfd ioctls it records.
 *
 *   collect_ioctl_work other N   N x ioctl(FIONREAD) on a pipe (not recorded)
 *   collect_ioctl_work uffd N    N x UFFDIO_ZEROPAGE onto a mapped page of a
 *                                registered VMA (fails with EEXIST after the
 *                                kernel's work: recorded, one event each)
 *   collect_ioctl_work madvise N N x madvise(MADV_NORMAL) on a mapped page: a
 *                                syscall recorded before, for comparison
 *
 * Prints the wall time of the N calls alone, in nanoseconds, so the tool's
 * start-up is not counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL

struct uffdio_api_ { uint64_t api, features, ioctls; };
struct uffdio_register_ { uint64_t start, len, mode, ioctls; };
struct uffdio_zeropage_ { uint64_t start, len, mode; int64_t zeropage; };

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "other";
	long n = argc > 2 ? atol(argv[2]) : 100000;
	struct timespec a, b;
	int fds[2], v, uffd = -1;
	struct uffdio_zeropage_ z = { 0, PG, 0, 0 };

	if (!strcmp(mode, "uffd")) {
		struct uffdio_api_ api = { 0xAA, 0, 0 };
		char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct uffdio_register_ r = { (uint64_t)(uintptr_t)p, PG, 1, 0 };

		if (p == MAP_FAILED)
			return 1;
		p[0] = 1; /* mapped (before registering: a missing fault would wait for a handler) */
		uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (uffd < 0 || ioctl(uffd, _IOWR(0xAA, 0x3F, struct uffdio_api_), &api) ||
		    ioctl(uffd, _IOWR(0xAA, 0x00, struct uffdio_register_), &r))
			return 1;
		z.start = (uint64_t)(uintptr_t)p;
	} else if (!strcmp(mode, "madvise")) {
		z.start = (uint64_t)(uintptr_t)mmap(NULL, PG, PROT_READ | PROT_WRITE,
						    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else if (pipe(fds)) {
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		if (!strcmp(mode, "madvise")) {
			if (madvise((void *)(uintptr_t)z.start, PG, MADV_NORMAL))
				return 1;
		} else if (uffd >= 0) {
			if (ioctl(uffd, _IOWR(0xAA, 0x04, struct uffdio_zeropage_), &z) == 0 ||
			    errno != EEXIST)
				return 1;
		} else if (ioctl(fds[0], FIONREAD, &v)) {
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return 0;
}
