/*
 * collect_procmaps.c - snapshots from /proc/PID/maps; see collect_procmaps.h.
 *
 * A line is "start-end perms offset major:minor inode [path]".  A process
 * that exits while it is read simply yields fewer rows (or none).
 */
#include "collect_procmaps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kabi.h"

int collect_procmaps_read(pid_t pid, uint64_t snap, uint64_t mm, unsigned page_shift,
			  collect_procmaps_cb cb, void *ctx, struct avm_err *err)
{
	char path[64], line[4096];
	FILE *f;
	int n = 0, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return (errno == ENOENT || errno == ESRCH) ? 0 :
		       avm_errf(err, "cannot read %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		struct avm_snap_vma v;
		unsigned long long start, end, off, ino;
		unsigned maj, min;
		char perms[8];
		int used = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj,
			   &min, &ino, &used) < 7)
			continue;
		memset(&v, 0, sizeof(v));
		v.snap = snap;
		v.mm = mm;
		v.start = start;
		v.end = end;
		v.pgoff = off >> page_shift;
		v.flags = (perms[0] == 'r' ? VM_READ : 0) | (perms[1] == 'w' ? VM_WRITE : 0) |
			  (perms[2] == 'x' ? VM_EXEC : 0) | (perms[3] == 's' ? VM_SHARED : 0);
		if (used && !strncmp(line + used, "[stack]", 7))
			v.flags |= VM_GROWSDOWN;
		if (ino)
			v.file = COLLECT_PROCMAPS_FILE_TAG | ((uint64_t)(maj & 0xfff) << 48) |
				 ((uint64_t)(min & 0xfff) << 36) | (ino & 0xfffffffffULL);
		rc = cb(ctx, &v, err);
		if (rc)
			break;
		n++;
	}
	fclose(f);
	return rc ? -1 : n;
}
