/*
 * collect_procs.c - the collector's pid -> (comm, exe) map and the /proc
 * reader for it; see collect_procs.h.
 *
 * The map holds one malloc'd entry per live recorded process (u64map, key =
 * pid, which is never 0 for a user process); entries are replaced at exec and
 * dropped when the thread group exits, so it stays as large as the set of
 * live processes.
 */
#include "collect_procs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int collect_procs_set(struct collect_procs *p, uint32_t pid, const char *comm, const char *exe,
		      struct avm_err *err)
{
	struct collect_proc *e, *old;

	if (!pid)
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->exe = strdup(exe))) {
		free(e);
		return avm_errf(err, "out of memory (process names)");
	}
	snprintf(e->comm, sizeof(e->comm), "%s", comm);
	old = u64map_get(&p->map, pid);
	if (u64map_put(&p->map, pid, e)) {
		free(e->exe);
		free(e);
		return avm_errf(err, "out of memory (process names)");
	}
	if (old) {
		free(old->exe);
		free(old);
	}
	return 0;
}

const struct collect_proc *collect_procs_get(const struct collect_procs *p, uint32_t pid)
{
	return pid ? u64map_get(&p->map, pid) : NULL;
}

void collect_procs_drop(struct collect_procs *p, uint32_t pid)
{
	struct collect_proc *e = pid ? u64map_get(&p->map, pid) : NULL;

	if (!e)
		return;
	u64map_del(&p->map, pid);
	free(e->exe);
	free(e);
}

void collect_procs_free(struct collect_procs *p)
{
	uint64_t it = 0, key;
	void *val;

	while (u64map_next(&p->map, &it, &key, &val)) {
		struct collect_proc *e = val;

		free(e->exe);
		free(e);
	}
	u64map_free(&p->map);
}

int collect_procs_read(uint32_t pid, char comm[16], char *exe, size_t len)
{
	char path[64];
	FILE *f;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(comm, 16, f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, exe, len - 1);
	exe[n > 0 ? n : 0] = '\0';
	return 0;
}
