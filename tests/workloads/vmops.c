/*
 * vmops.c - a static workload that drives every anon rmap path the eager
 * model implements, one scenario per subcommand, so each can be collected
 * and validated on its own (anonvma-collect -- vmops SCENARIO).
 *
 * Static (no dynamic loader): the only anon_vma activity is the exec, the
 * libc's own brk/TLS setup and what each scenario does, so the single-
 * threaded scenarios are deterministic and must validate exactly.
 *
 *   mprotect   splits and merges (eager.md §7.4 micro-tests 4 and 6)
 *   mremap     grow in place, grow by move, shrink, FIXED move, DONTUNMAP
 *   mapfixed   MAP_FIXED over faulted and unfaulted mappings (§2.7)
 *   dontfork   MADV_DONTFORK / WIPEONFORK, fork, DOFORK / KEEPONFORK
 *   thp        MADV_HUGEPAGE read faults on 2 MiB aligned ranges (§2.8)
 *   forktree   a fork tree five levels deep with exits in between (§2.5 reuse)
 *   vfork      vfork + exec, vfork + _exit (no dup_mmap)
 *   threads    threads first-touching one VMA at once (§2.2 step 4 races)
 *   execstorm  fork+exec of itself, and a chain of self-execs
 *   all        every deterministic scenario in turn
 *   noop       exit at once (the exec target)
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define HUGE (2UL << 20)

static const char *self_path = "/proc/self/exe";

static void die(const char *what)
{
	fprintf(stderr, "vmops: %s: %s\n", what, strerror(errno));
	exit(2);
}

static char *map(size_t len, int prot, int extra)
{
	char *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void touch(char *p)
{
	*(volatile char *)p = 1;
}

static char peek(const char *p)
{
	return *(const volatile char *)p;
}

static void prot(char *p, size_t len, int pr)
{
	if (mprotect(p, len, pr))
		die("mprotect");
}

static void wait_all(void)
{
	int st;

	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "vmops: child failed (status %d)\n", st);
			exit(2);
		}
}

/* A hole reserved with PROT_NONE so later mappings land where we say. */
static char *reserve(size_t len)
{
	return map(len, PROT_NONE, MAP_NORESERVE);
}

static char *fixed(char *at, size_t len, int pr)
{
	char *p = mmap(at, len, pr, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		die("mmap fixed");
	return p;
}

static void sc_mprotect(void)
{
	char *p;
	int i;

	/* micro-test 4: split a faulted VMA in three, then merge it back */
	p = map(16 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	touch(p);
	prot(p + 4 * PG, PG, PROT_READ);
	prot(p + 4 * PG, PG, PROT_READ | PROT_WRITE);
	/* micro-test 6: faulted left, unfaulted right, merges on >= 6.16 */
	p = map(9 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	prot(p + 6 * PG, 3 * PG, PROT_READ);
	touch(p);
	prot(p, 3 * PG, PROT_READ);
	prot(p + 3 * PG, 3 * PG, PROT_READ);
	/* one mprotect across several VMAs, some faulted */
	p = map(32 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	for (i = 0; i < 32; i += 8)
		prot(p + (size_t)i * PG, 4 * PG, PROT_READ);
	for (i = 0; i < 32; i += 8)
		touch(p + (size_t)(i + 4) * PG);
	prot(p + 2 * PG, 28 * PG, PROT_READ | PROT_WRITE);
	touch(p + 2 * PG);
	prot(p, 32 * PG, PROT_READ);
	/* without MAP_NORESERVE: the VM_ACCOUNT rule of mprotect (§2.7) */
	p = map(8 * PG, PROT_READ | PROT_WRITE, 0);
	prot(p + 2 * PG, 2 * PG, PROT_READ);
	touch(p + 2 * PG - PG);
	prot(p + 2 * PG, 2 * PG, PROT_READ | PROT_WRITE);
	touch(p + 2 * PG);
	if (munmap(p + PG, 2 * PG))
		die("munmap");
}

static void sc_mremap(void)
{
	char *p, *q, *hole;

	/* grow in place into free space */
	hole = reserve(64 * PG);
	if (munmap(hole, 64 * PG))
		die("munmap");
	p = fixed(hole, 4 * PG, PROT_READ | PROT_WRITE);
	touch(p);
	q = mremap(p, 4 * PG, 8 * PG, 0);
	if (q != p)
		die("mremap grow in place");
	touch(p + 6 * PG);
	/* grow where a neighbour blocks: move (the faulted VMA keeps its pgoff) */
	fixed(p + 8 * PG, PG, PROT_READ);
	q = mremap(p, 8 * PG, 16 * PG, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		die("mremap move");
	touch(q + 12 * PG);
	/* shrink */
	q = mremap(q, 16 * PG, 4 * PG, 0);
	if (q == MAP_FAILED)
		die("mremap shrink");
	/* FIXED move onto a reserved hole */
	hole = reserve(8 * PG);
	q = mremap(q, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	if (q != hole)
		die("mremap fixed");
	touch(q + PG);
	/* DONTUNMAP: the source stays, unfaulted; write it again */
	p = mremap(q, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL); /* new_addr: a hint, must be aligned */
	if (p == MAP_FAILED)
		die("mremap dontunmap");
	touch(q);
	touch(p);
	/* an unfaulted VMA moved next to its twin, then faulted */
	p = map(4 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	q = mremap(p, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, reserve(4 * PG));
	if (q == MAP_FAILED)
		die("mremap unfaulted");
	touch(q);
	/* a moved middle piece of a faulted VMA */
	p = map(12 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	touch(p);
	touch(p + 8 * PG);
	q = mremap(p + 4 * PG, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, reserve(4 * PG));
	if (q == MAP_FAILED)
		die("mremap middle");
	touch(q);
}

static void sc_mapfixed(void)
{
	char *p;

	/* over the middle of a faulted VMA: split both edges, unlink, new VMA */
	p = map(12 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	touch(p);
	fixed(p + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE);
	touch(p + 5 * PG);
	/* over two VMAs at once, one faulted and one not */
	p = map(16 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	prot(p + 8 * PG, 8 * PG, PROT_READ);
	touch(p);
	fixed(p + 4 * PG, 8 * PG, PROT_READ | PROT_WRITE);
	touch(p + 11 * PG);
	/* over a whole faulted VMA: the old anon_vma is freed before the merge */
	p = map(4 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	touch(p);
	fixed(p, 4 * PG, PROT_READ | PROT_WRITE);
	touch(p + PG);
	/* with MAP_POPULATE: prepared at mmap time, no fault */
	p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap populate");
}

static void sc_dontfork(void)
{
	char *a, *b, *c;
	pid_t pid;

	a = map(8 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	b = map(8 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	c = map(8 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	touch(a);
	touch(b);
	touch(c);
	if (madvise(a, 8 * PG, MADV_DONTFORK) || madvise(b + 4 * PG, 4 * PG, MADV_WIPEONFORK))
		die("madvise");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		touch(b);          /* copied, faulted: COW in the child's anon_vma */
		touch(b + 5 * PG); /* wiped: a fresh first fault */
		touch(c + PG);
		_exit(0);
	}
	wait_all();
	if (madvise(a, 8 * PG, MADV_DOFORK) || madvise(b + 4 * PG, 4 * PG, MADV_KEEPONFORK))
		die("madvise back");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		touch(a + PG);
		_exit(0);
	}
	wait_all();
}

static void sc_thp(void)
{
	char *raw, *p;

	/* 2 MiB aligned 4 MiB ranges; read faults only */
	raw = map(10 * HUGE, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	p = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	if (madvise(p, 2 * HUGE, MADV_HUGEPAGE))
		die("madvise hugepage");
	(void)peek(p);                   /* PMD path: prepare on a read (§2.2) */
	(void)peek(p + HUGE + 4096);
	if (madvise(p + 4 * HUGE, 2 * HUGE, MADV_NOHUGEPAGE))
		die("madvise nohugepage");
	(void)peek(p + 4 * HUGE);        /* zero page: no prepare */
	(void)peek(p + 7 * HUGE);        /* plain VMA: depends on the global mode */
	touch(p + 7 * HUGE + PG);
	/* a read-only mapping of its own, only read: an anon_vma only under "always" */
	raw = map(6 * HUGE, PROT_READ, MAP_NORESERVE);
	p = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	(void)peek(p + HUGE);
}

/*
 * Five levels: each node forks two children; the first exits at once, the
 * second forks on after its parent has exited (the daemonise pattern that
 * makes anon_vma reuse happen, eager.md §2.5).
 */
/* pid has finished exit_mm: it is a zombie, or already reaped. */
static int exited(pid_t pid)
{
	char path[64], buf[256], *close_paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	close_paren = strrchr(buf, ')');
	return !close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' ||
	       close_paren[2] == 'X';
}

/*
 * Every exit happens before the next fork that could see it (exit_mm runs
 * before a zombie is visible or waitpid returns), so the kernel's reuse
 * decisions (eager.md §2.5) are the same on every run and the workload is
 * exact: a leaf child is waited for before the next fork, and the next
 * level starts only once its parent and grandparent are gone.
 */
static void tree(int level, char *mem)
{
	pid_t a, b;
	int st;

	touch(mem + (size_t)level * PG);
	if (level == 5)
		return;
	a = fork();
	if (a < 0)
		die("fork");
	if (!a) {
		touch(mem);
		_exit(0);
	}
	if (waitpid(a, &st, 0) != a)
		die("waitpid");
	b = fork();
	if (b < 0)
		die("fork");
	if (!b) {
		pid_t middle = getpid(), grand = getppid(), c;

		/* the middle process forks the next level and exits first */
		c = fork();
		if (c < 0)
			die("fork");
		if (!c) {
			while (!exited(middle) || !exited(grand))
				usleep(1000);
			tree(level + 1, mem);
			wait_all();
			_exit(0);
		}
		_exit(0);
	}
	wait_all();
}

static void sc_forktree(void)
{
	char *mem = map(16 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	char *other = map(4 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	pid_t root;

	/* orphans re-parent to us, so wait_all() sees the whole tree end */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		die("prctl subreaper");
	touch(other);
	root = fork();
	if (root < 0)
		die("fork");
	if (!root) {
		tree(0, mem);
		wait_all();
		_exit(0);
	}
	wait_all();
}

static void sc_vfork(void)
{
	pid_t pid;
	char *p = map(4 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);

	touch(p);
	pid = vfork();
	if (pid < 0)
		die("vfork");
	if (!pid) {
		execl(self_path, "vmops", "noop", (char *)NULL);
		_exit(3);
	}
	wait_all();
	pid = vfork();
	if (pid < 0)
		die("vfork");
	if (!pid)
		_exit(0);
	wait_all();
}

#define NTHREADS 2
#define ROUNDS 1000
static char *volatile shared_vma;
static volatile int gen, done;

/* Spin (no sleeping barrier) so both threads write the fresh VMA at once. */
static void *toucher(void *arg)
{
	long i = (long)arg;
	int seen = 0;

	for (int round = 0; round < ROUNDS; round++) {
		while (__atomic_load_n(&gen, __ATOMIC_ACQUIRE) == seen)
			sched_yield();
		seen++;
		touch(shared_vma + (size_t)i * PG);
		__atomic_add_fetch(&done, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void sc_threads(void)
{
	pthread_t t[NTHREADS];
	long i;

	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, toucher, (void *)i))
			die("pthread_create");
	for (int round = 0; round < ROUNDS; round++) {
		/* a fresh unfaulted VMA each round, both threads write it at once */
		shared_vma = map(NTHREADS * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE);
		__atomic_store_n(&done, 0, __ATOMIC_RELEASE);
		__atomic_add_fetch(&gen, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < NTHREADS)
			sched_yield();
		if (munmap(shared_vma, NTHREADS * PG))
			die("munmap");
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
}

static void sc_execstorm(int chain)
{
	char n[16];

	for (int i = 0; chain == 0 && i < 20; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			execl(self_path, "vmops", "noop", (char *)NULL);
			_exit(3);
		}
		wait_all();
	}
	if (chain >= 8)
		return;
	/* a chain of self-execs: each replaces the mm, the last one returns */
	snprintf(n, sizeof(n), "%d", chain + 1);
	touch(map(PG, PROT_READ | PROT_WRITE, 0));
	execl(self_path, "vmops", "execchain", n, (char *)NULL);
	die("exec");
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "all";

	if (!strcmp(s, "noop"))
		return 0;
	if (!strcmp(s, "execchain")) {
		sc_execstorm(argc > 2 ? atoi(argv[2]) : 1);
		return 0;
	}
	if (!strcmp(s, "mprotect") || !strcmp(s, "all"))
		sc_mprotect();
	if (!strcmp(s, "mremap") || !strcmp(s, "all"))
		sc_mremap();
	if (!strcmp(s, "mapfixed") || !strcmp(s, "all"))
		sc_mapfixed();
	if (!strcmp(s, "dontfork") || !strcmp(s, "all"))
		sc_dontfork();
	if (!strcmp(s, "thp") || !strcmp(s, "all"))
		sc_thp();
	if (!strcmp(s, "forktree") || !strcmp(s, "all"))
		sc_forktree();
	if (!strcmp(s, "vfork") || !strcmp(s, "all"))
		sc_vfork();
	if (!strcmp(s, "threads"))
		sc_threads();
	if (!strcmp(s, "execstorm") || !strcmp(s, "all"))
		sc_execstorm(0);
	return 0;
}
