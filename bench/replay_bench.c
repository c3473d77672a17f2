/*
 * replay_bench.c - replay speed as a ratio to a bare SQLite scan of the same
 * trace, measured side by side in one run (target: >= 0.8 with eager + lazy,
 * >= 0.6 with three designs).
 *
 *   replay_bench trace.db [RUNS] [MODELS]
 *
 * Each run times, alternately, (1) the bare scan: open the file, step
 * "SELECT * FROM events ORDER BY rowid" over every row, close; and (2) the
 * whole replay (replay_run with the default or given models: open, checks,
 * every event through every world, report built in memory).  The medians of
 * RUNS (default 5) runs give events/s for each and their ratio.  The scan
 * reads no columns, so the ratio is a lower bound of what the replay adds.
 *
 * The replay is a pipeline (a reader thread and one thread per world), so
 * its wall time depends on free cores: the CPU seconds of both are printed
 * too, and the load average, since other work on the machine skews a
 * wall-clock ratio between a one-thread scan and a multi-thread replay.
 * With as many free cores as pipeline threads the replay's wall time is its
 * busiest thread's CPU time, so "critical path" (scan CPU / busiest thread
 * CPU) is the ratio such a machine measures; it is printed as a second
 * figure, never instead of the measured one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sqlite3.h>

#include "replay.h"

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int scan(const char *path, double *secs, uint64_t *rows)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double t0 = now();
	int rc;

	*rows = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT * FROM events ORDER BY rowid", -1, &st, NULL) !=
		    SQLITE_OK) {
		fprintf(stderr, "replay_bench: %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		(*rows)++;
	sqlite3_finalize(st);
	sqlite3_close(db);
	*secs = now() - t0;
	return rc == SQLITE_DONE ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct replay_opts o;
	struct avm_err err = { "" };
	double scan_s[16], replay_s[16], scan_c[16], replay_c[16], crit[16], reader[16], ms, mr;
	double worlds[REPLAY_MAX_MODELS][16];
	double load[3] = { 0 };
	FILE *la;
	uint64_t rows = 0, events = 0;
	struct rusage ru;
	int runs = 5;
	char *models = NULL;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: replay_bench trace.db [RUNS] [MODELS]\n");
		return 2;
	}
	if (argc >= 3)
		runs = atoi(argv[2]);
	if (runs < 1 || runs > 16)
		runs = 5;
	replay_opts_default(&o);
	o.trace_path = argv[1];
	if (argc == 4) {
		models = strdup(argv[3]);
		if (!models || replay_parse_models(&o, models, &err)) {
			fprintf(stderr, "replay_bench: %s\n", err.msg);
			return 1;
		}
	}
	for (int i = 0; i < runs; i++) {
		struct replay_result res;
		double t0, c0;

		c0 = cpu();
		if (scan(argv[1], &scan_s[i], &rows))
			return 1;
		scan_c[i] = cpu() - c0;
		t0 = now();
		c0 = cpu();
		if (replay_run(&o, &res, &err)) {
			fprintf(stderr, "replay_bench: %s\n", err.msg);
			return 1;
		}
		replay_s[i] = now() - t0;
		replay_c[i] = cpu() - c0;
		reader[i] = crit[i] = res.reader_cpu;
		for (size_t w = 0; w < o.nmodels; w++) {
			worlds[w][i] = res.world_cpu[w];
			if (res.world_cpu[w] > crit[i])
				crit[i] = res.world_cpu[w];
		}
		events = res.events;
		cJSON_Delete(res.report);
	}
	if (rows != events) {
		fprintf(stderr, "replay_bench: scan saw %" PRIu64 " rows, replay %" PRIu64 " events\n",
			rows, events);
		return 1;
	}
	ms = median(scan_s, runs);
	mr = median(replay_s, runs);
	getrusage(RUSAGE_SELF, &ru);
	printf("replay_bench: %s, %" PRIu64 " events, models", argv[1], events);
	for (size_t i = 0; i < o.nmodels; i++)
		printf("%s%s", i ? "," : " ", o.models[i]);
	printf(", median of %d runs\n", runs);
	la = fopen("/proc/loadavg", "r");
	if (la) {
		if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
			load[0] = -1;
		fclose(la);
	}
	printf("  bare SQLite scan  %8.3f s  %10.0f events/s  (%.3f s CPU)\n", ms,
	       (double)rows / ms, median(scan_c, runs));
	printf("  anonvma replay    %8.3f s  %10.0f events/s  (%.3f s CPU, all threads)\n", mr,
	       (double)events / mr, median(replay_c, runs));
	printf("  ratio replay/scan %.2f (target >= %.2f with %zu models), load average %.2f\n",
	       ms / mr, o.nmodels <= 2 ? 0.8 : 0.6, o.nmodels, load[0]);
	printf("  replay threads (CPU s): reader %.3f", median(reader, runs));
	for (size_t w = 0; w < o.nmodels; w++)
		printf(", %s world %.3f", o.models[w], median(worlds[w], runs));
	printf("\n  critical path: scan CPU / busiest replay thread CPU = %.2f "
	       "(the ratio with a free core per thread)\n", median(scan_c, runs) / median(crit, runs));
	printf("  max RSS %ld MiB\n", ru.ru_maxrss / 1024);
	free(models);
	return 0;
}
