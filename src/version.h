/*
 * version.h - the one version string of every anonvma tool.
 *
 * Owns: the release version (the VERSION file at the top of the source tree,
 * compiled into version.o by the Makefile; the .deb takes the same file) and
 * the `--version` text every tool prints.
 */
#ifndef ANONVMA_VERSION_H
#define ANONVMA_VERSION_H

#include <stdio.h>

/* "0.1.0": the release version (VERSION). */
const char *avm_version(void);

/*
 * The `--version` text of one tool: "anonvma-replay 0.1.0" and, on a second
 * line, the trace schema version it writes and where it finds its data.
 */
void avm_version_print(FILE *out, const char *tool);

#endif
