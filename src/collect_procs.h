/*
 * collect_procs.h - who each recorded process is: its comm and executable
 * (collector only; the trace's table processes).
 *
 * Owns: the pid -> (comm, exe) map the collector keeps while it records, so a
 * forked child can be given its parent's identity (a child runs its parent's
 * image until it execs), and reading a process's identity from /proc for the
 * processes a start snapshot lists.  An exec's identity comes from the BPF
 * side (COLLECT_REC_PROC); a process leaves the map when its group exits.
 */
#ifndef ANONVMA_COLLECT_PROCS_H
#define ANONVMA_COLLECT_PROCS_H

#include <stdint.h>

#include "error.h"
#include "u64map.h"

struct collect_procs {
	struct u64map map; /* pid -> struct collect_proc * */
};

struct collect_proc {
	char comm[16];
	char *exe;
};

/* Remember pid's identity (replacing an older one). */
int collect_procs_set(struct collect_procs *p, uint32_t pid, const char *comm, const char *exe,
		      struct avm_err *err);
/* pid's identity, or NULL when unknown. */
const struct collect_proc *collect_procs_get(const struct collect_procs *p, uint32_t pid);
/* The group of pid exited: forget it. */
void collect_procs_drop(struct collect_procs *p, uint32_t pid);
void collect_procs_free(struct collect_procs *p);

/*
 * pid's comm (/proc/PID/comm) and executable (/proc/PID/exe; "" when it
 * cannot be read: a kernel thread, no permission).  -1 if the process is gone.
 */
int collect_procs_read(uint32_t pid, char comm[16], char *exe, size_t len);

#endif
