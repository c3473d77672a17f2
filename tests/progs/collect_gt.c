/*
 * collect_gt - the steps of observed.md's micro-test table, one per marker
 * interval, for tests/e2e/collect_truth.sh, which counts the kernel's own
 * anon_vma / anon_vma_chain slab events between markers in the trace.
 *
 * Markers are madvise(NULL, 0, 1000 + k) (EINVAL, recorded with c = 1000 + k).
 * The VMAs under test are kept apart by PROT_NONE pages so that nothing
 * merges and prepare never reuses a neighbour's anon_vma (eager.md §2.3):
 *
 *   R:  | V0 | -- | V1 | -- | V2 | -- | V3 | -- | V4 | -- | V5 | -- |
 *   C:  | -- | C0 C1 C2 | -- |            (3 pages, split and merged)
 *   D:  | -- | destination of C's move | -- |
 *
 *   1..2  read V0                              0 AV, 0 AVC
 *   2..3  fork (V0 unfaulted), child exits     baseline F0
 *   3..4  write V0                             +1 AV, +1 AVC (prepare)
 *   4..5  fork again                           F0 + 1 AV, + 2 AVC
 *   5..6  write V1..V5                         +5, +5
 *   6..7  fork again                           F0 + 6 AV, + 12 AVC; the child
 *         forks once more between its own markers 50..51: every faulted VMA
 *         has a chain of 2 there, so 1 AV and 3 AVCs each
 *   7..8  write C                              +1, +1
 *   8..9  mprotect(C1, PROT_READ): split in 3  0 AV, +2 AVC
 *   9..10 mprotect(C1, RW): merge back         no allocs, 2 AVC frees
 *   10..11 mremap C into D (move)              +1 AVC, 1 AVC free
 * A warm-up fork before marker 1 faults whatever libc's fork path touches.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL

static void mark(int k)
{
	syscall(SYS_madvise, 0UL, 0UL, 1000UL + (unsigned long)k);
}

static void fork_and_wait(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		exit(3);
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0);
}

static char *reserve(size_t pages)
{
	char *p = mmap(NULL, pages * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(4);
	return p;
}

static void rw(char *p, size_t pages)
{
	if (mprotect(p, pages * PAGE, PROT_READ | PROT_WRITE))
		exit(5);
}

int main(int argc, char **argv)
{
	char *r, *c, *d, *moved;
	volatile char sink;
	pid_t child;
	int i, status, fd;
	char line[128];

	if (argc < 2) {
		fprintf(stderr, "usage: collect_gt OUTFILE\n");
		return 1;
	}
	r = reserve(12);
	for (i = 0; i < 6; i++)
		rw(r + 2 * i * PAGE, 1);
	c = reserve(5);
	rw(c + PAGE, 3);
	d = reserve(5);
	fork_and_wait(); /* warm-up */

	mark(1);
	sink = r[0];
	(void)sink;
	mark(2);
	fork_and_wait();
	mark(3);
	r[0] = 1;
	mark(4);
	fork_and_wait();
	mark(5);
	for (i = 1; i < 6; i++)
		r[2 * i * PAGE] = 1;
	mark(6);
	child = fork();
	if (child < 0)
		return 6;
	if (child == 0) {
		mark(50);
		fork_and_wait();
		mark(51);
		_exit(0);
	}
	waitpid(child, &status, 0);
	mark(7);
	c[PAGE] = 1;
	mark(8);
	if (mprotect(c + 2 * PAGE, PAGE, PROT_READ))
		return 7;
	mark(9);
	rw(c + 2 * PAGE, 1);
	mark(10);
	moved = mremap(c + PAGE, 3 * PAGE, 3 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, d + PAGE);
	if (moved == MAP_FAILED)
		return 8;
	mark(11);

	snprintf(line, sizeof(line), "pid %d child %d\n", (int)getpid(), (int)child);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return 9;
	close(fd);
	return 0;
}
