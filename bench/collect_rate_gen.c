/*
 * collect_rate_gen - the event source of bench/collect_rate.sh.
 *
 * usage: collect_rate_gen RATE SECONDS [THREADS]
 *
 * THREADS threads (default 2, one per CPU here) each call
 * madvise(page, 4096, MADV_NORMAL) on a private pre-mapped page: a cheap
 * syscall that anonvma-collect records as one AVM_MADVISE event (plus
 * whatever mmap_lock events the kernel's path produces).  RATE is the total
 * number of madvise calls per second over all threads (0: flat out).  Each
 * thread paces itself against an absolute schedule: it issues a batch of
 * calls, then sleeps until the time the next batch is due, so a late thread
 * catches up and the average rate holds even with coarse sleeps.
 *
 * Output (one line, stdout):
 *   calls=N elapsed_ns=T collector_cpu_ticks_at_start=C cpu_ns=U
 * C is utime+stime of the parent process (anonvma-collect when run as its
 * command) from /proc/PPID/stat when generation starts, so the collector's
 * set-up (BPF load, start snapshot) can be taken out of its CPU time.  U is
 * this process's own user+sys CPU: the syscalls and, inside them, the
 * collector's BPF programs that record them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define GEN_BATCH 64 /* calls between clock checks */

struct gen_thread {
	pthread_t th;
	double rate;      /* calls per second of this thread, 0: flat out */
	uint64_t t0, t_end;
	uint64_t calls;
	int failed;
};

static uint64_t gen_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void gen_sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ULL), (long)(t % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void *gen_run(void *arg)
{
	struct gen_thread *g = arg;
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t now;

	if (page == MAP_FAILED) {
		g->failed = 1;
		return NULL;
	}
	page[0] = 1; /* fault it in before the measured phase */
	for (now = gen_now(); now < g->t_end; now = gen_now()) {
		if (g->rate > 0) {
			/* When the next batch is due on the absolute schedule. */
			uint64_t due = g->t0 + (uint64_t)((double)g->calls * 1e9 / g->rate);

			if (due > now) {
				gen_sleep_until(due < g->t_end ? due : g->t_end);
				continue;
			}
		}
		for (int i = 0; i < GEN_BATCH; i++) {
			if (madvise(page, 4096, MADV_NORMAL)) {
				g->failed = 1;
				return NULL;
			}
		}
		g->calls += GEN_BATCH;
	}
	munmap(page, 4096);
	return NULL;
}

/* utime + stime of the parent in clock ticks, -1 if unreadable. */
static long long gen_parent_ticks(void)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)getppid());
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After ") ": state(3) ... utime(14) stime(15). */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (long long)(ut + st);
}

int main(int argc, char **argv)
{
	struct gen_thread g[64];
	double rate, secs;
	int nth = 2, rc = 0;
	uint64_t t0, t1, calls = 0;
	long long ticks;
	struct rusage ru;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: collect_rate_gen RATE SECONDS [THREADS]\n");
		return 2;
	}
	rate = atof(argv[1]);
	secs = atof(argv[2]);
	if (argc == 4)
		nth = atoi(argv[3]);
	if (rate < 0 || secs <= 0 || nth < 1 || nth > 64) {
		fprintf(stderr, "collect_rate_gen: bad arguments\n");
		return 2;
	}
	ticks = gen_parent_ticks();
	t0 = gen_now();
	for (int i = 0; i < nth; i++) {
		g[i] = (struct gen_thread){ .rate = rate / nth, .t0 = t0,
					    .t_end = t0 + (uint64_t)(secs * 1e9) };
		if (pthread_create(&g[i].th, NULL, gen_run, &g[i])) {
			fprintf(stderr, "collect_rate_gen: pthread_create failed\n");
			return 1;
		}
	}
	for (int i = 0; i < nth; i++) {
		pthread_join(g[i].th, NULL);
		calls += g[i].calls;
		rc |= g[i].failed;
	}
	t1 = gen_now();
	if (rc) {
		fprintf(stderr, "collect_rate_gen: madvise failed: %s\n", strerror(errno));
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("calls=%llu elapsed_ns=%llu collector_cpu_ticks_at_start=%lld cpu_ns=%lld\n",
	       (unsigned long long)calls, (unsigned long long)(t1 - t0), ticks,
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
		       (long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL);
	return 0;
}
