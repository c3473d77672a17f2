/*
 * forkcal - forks whose dup_mmap work varies, for the fork-cost calibration
 * end-to-end test (tests/e2e/fork_calibrate.sh).
 *
 * Round i (of argv[1], default 80) sets up, with counts drawn from a fixed
 * seed so that no two of them move together (t, u <= 400, P <= 12288,
 * S <= 400: each term's share of a fork is then well above the ~0.1 ms noise
 * of a loaded 2-CPU VM, so the fit can resolve it):
 *   t  touched one-page RW VMAs, each followed by an untouched PROT_NONE one
 *      (so they do not merge): each has an anon_vma, so the fork clones its
 *      AVC and makes one more - AVCs = 2t;
 *   u  untouched PROT_READ / PROT_NONE VMA pairs: copied, but no AVC, no PTE;
 *   P  pages written in one dense region (MADV_NOHUGEPAGE): P PTEs in about
 *      P / 512 PTE tables;
 *   S  pages written 2 MiB apart in another region: S PTEs in S PTE tables;
 * then forks once (the child exits at once), waits, and unmaps everything.
 * So VMAs copied, AVCs, PTEs and page-table pages vary independently and a
 * least-squares fit can tell their costs apart.
 *
 * Last, one vfork whose child sleeps 100 ms before _exit: its measured fork
 * latency must end when the child is made (sched_process_fork), not when the
 * parent resumes after the child's 100 ms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL
#define PMD (2UL << 20)

static uint64_t seed = 12345;

static unsigned draw(unsigned max)
{
	seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((seed >> 33) % (max + 1));
}

static char *map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(2);
	return p;
}

static void one_round(void)
{
	unsigned t = draw(400), u = draw(400), np = draw(12288), ns = draw(400);
	size_t lt = 2 * (t + 1) * PG, lu = 2 * (u + 1) * PG, ld = (np + 1) * PG;
	size_t ls = (ns + 1) * PMD;
	char *vt = map(lt, PROT_NONE), *vu = map(lu, PROT_NONE), *vd = map(ld, PROT_READ | PROT_WRITE);
	char *vs = map(ls, PROT_READ | PROT_WRITE);
	pid_t pid;
	int st;

	for (unsigned i = 0; i < t; i++) {
		if (mprotect(vt + 2 * i * PG, PG, PROT_READ | PROT_WRITE))
			exit(2);
		vt[2 * i * PG] = 1;
	}
	for (unsigned i = 0; i < u; i++)
		if (mprotect(vu + 2 * i * PG, PG, PROT_READ))
			exit(2);
	madvise(vd, ld, MADV_NOHUGEPAGE);
	madvise(vs, ls, MADV_NOHUGEPAGE);
	for (unsigned i = 0; i < np; i++)
		vd[i * PG] = 1;
	for (unsigned i = 0; i < ns; i++)
		vs[i * PMD] = 1;
	pid = fork();
	if (pid < 0)
		exit(2);
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		exit(2);
	munmap(vt, lt);
	munmap(vu, lu);
	munmap(vd, ld);
	munmap(vs, ls);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 80;
	pid_t pid;
	int st;

	for (int i = 0; i < rounds; i++)
		one_round();
	pid = vfork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return 2;
	return 0;
}
