/*
 * version.c - the version string (see version.h).
 *
 * AVM_VERSION comes from the VERSION file: the Makefile passes it to this
 * file only, so a new version rebuilds one object.  A build without it (an
 * out-of-tree compile) says "unknown" rather than a made-up number.
 */
#include "version.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "datadir.h"
#include "trace.h"

#ifndef AVM_VERSION
#define AVM_VERSION "unknown"
#endif

const char *avm_version(void)
{
	return AVM_VERSION;
}

void avm_version_print(FILE *out, const char *tool)
{
	char dir[DATADIR_PATH_MAX], real[PATH_MAX];
	const char *data = "not found (set ANONVMA_DATADIR)";
	size_t n;

	if (datadir_find("arch", dir, sizeof(dir)) == 0) {
		n = strlen(dir);
		dir[n - strlen("/arch")] = '\0'; /* the data directory, not its arch/ */
		data = realpath(dir, real) ? real : dir;
	}
	fprintf(out, "%s %s\n", tool, AVM_VERSION);
	fprintf(out, "trace schema %d; data directory: %s\n", TRACE_SCHEMA_VERSION, data);
}
