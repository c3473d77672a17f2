/*
 * collect_seq - a known sequence of address-space operations for the
 * collector's end-to-end test (tests/e2e/collect_seq.sh).
 *
 * Steps are fenced by marker syscalls madvise(NULL, 0, 1000 + k), which fail
 * with EINVAL and appear in the trace as MADVISE events with c = 1000 + k, so
 * the test can cut the trace into steps.  Everything the test must find is
 * written to the file named by argv[1], one "what values..." line each; no
 * stdio or malloc runs between markers (they would add brk/mmap calls).
 *
 *   1..2  four 16-page anonymous private RW mmaps
 *   2..3  mprotect(PROT_READ) of the middle page of the first (a split)
 *   3..4  a write fault and a read fault on the second mapping
 *   4..5  mremap of the third from 16 to 32 pages, MREMAP_MAYMOVE
 *   5..6  munmap of the fourth
 *   6..7  fork; the child writes one page and exits
 *   7..8  vfork; the child exits at once
 *   8..9  a thread that maps and unmaps one page
 *   9     exec of this program (stage 2: marker 90, one mmap, exit 0)
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define NMAP 4
#define MAPLEN (16 * PAGE)

static char out[8192];
static size_t outlen;

static void mark(int k)
{
	syscall(SYS_madvise, 0UL, 0UL, 1000UL + (unsigned long)k);
}

static void say(const char *fmt, unsigned long a, unsigned long b, unsigned long c,
		unsigned long d)
{
	outlen += (size_t)snprintf(out + outlen, sizeof(out) - outlen, fmt, a, b, c, d);
}

static void flush_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if (fd < 0 || write(fd, out, outlen) != (ssize_t)outlen)
		exit(2);
	close(fd);
	outlen = 0;
}

static volatile long thread_tid;
static volatile unsigned long thread_map;

static void *thread_main(void *arg)
{
	void *p;

	(void)arg;
	thread_tid = syscall(SYS_gettid);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		exit(3);
	thread_map = (unsigned long)p;
	munmap(p, PAGE);
	return NULL;
}

static int stage2(const char *path)
{
	char *p;

	mark(90);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 4;
	p[0] = 1;
	mark(91);
	say("exec2 %lx %lu %lu %lu\n", (unsigned long)p, PAGE, (unsigned long)getpid(), 0);
	flush_out(path);
	return 0;
}

int main(int argc, char **argv)
{
	char *m[NMAP], *r;
	volatile char sink;
	pthread_t th;
	pid_t pid;
	int i, status;

	if (argc < 2) {
		fprintf(stderr, "usage: collect_seq OUTFILE\n");
		return 1;
	}
	if (argc > 2 && !strcmp(argv[2], "exec2"))
		return stage2(argv[1]);
	say("pid %lu %lu %lu %lu\n", (unsigned long)getpid(), 0, 0, 0);

	mark(1);
	for (i = 0; i < NMAP; i++) {
		m[i] = mmap(NULL, MAPLEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m[i] == MAP_FAILED)
			return 5;
		say("mmap %lx %lu %lu %lu\n", (unsigned long)m[i], MAPLEN, 3, 0x22);
	}
	mark(2);
	if (mprotect(m[0] + 8 * PAGE, PAGE, PROT_READ))
		return 6;
	say("mprotect %lx %lu %lu %lu\n", (unsigned long)(m[0] + 8 * PAGE), PAGE, PROT_READ, 0);
	mark(3);
	m[1][0] = 1;
	sink = m[1][PAGE];
	(void)sink;
	say("fault %lx %lx %lu %lu\n", (unsigned long)m[1], (unsigned long)(m[1] + PAGE), 0, 0);
	mark(4);
	r = mremap(m[2], MAPLEN, 2 * MAPLEN, MREMAP_MAYMOVE);
	if (r == MAP_FAILED)
		return 7;
	say("mremap %lx %lu %lu %lx\n", (unsigned long)m[2], MAPLEN, 2 * MAPLEN, (unsigned long)r);
	mark(5);
	if (munmap(m[3], MAPLEN))
		return 8;
	say("munmap %lx %lu %lu %lu\n", (unsigned long)m[3], MAPLEN, 0, 0);
	mark(6);
	pid = fork();
	if (pid < 0)
		return 9;
	if (pid == 0) {
		m[1][2 * PAGE] = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	say("fork %lu %lu %lu %lu\n", (unsigned long)pid, 0, 0, 0);
	mark(7);
	pid = vfork();
	if (pid < 0)
		return 10;
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0);
	say("vfork %lu %lu %lu %lu\n", (unsigned long)pid, 0, 0, 0);
	mark(8);
	if (pthread_create(&th, NULL, thread_main, NULL) || pthread_join(th, NULL))
		return 11;
	say("thread %lu %lx %lu %lu\n", (unsigned long)thread_tid, thread_map, 0, 0);
	mark(9);
	flush_out(argv[1]);
	{
		char *args[] = { argv[0], argv[1], "exec2", NULL };

		execv("/proc/self/exe", args);
	}
	return 12;
}
