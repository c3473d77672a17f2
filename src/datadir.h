/*
 * datadir.h - where the tools find their data (arch models, scenarios, the
 * default config) wherever they run from.
 *
 * Owns: the search order of data directories.  A data directory holds the
 * same layout as configs/ in the source tree: arch/<name>.yaml,
 * scenarios/<name>.yaml, default.yaml.  In order:
 *   1. $ANONVMA_DATADIR, when set and non-empty;
 *   2. the source tree, when the tool runs from it: <exe>/../configs and
 *      <exe>/../../configs (build/anonvma-x, build/asan/anonvma-x);
 *   3. the installed data, relative to the executable: <exe>/AVM_DATADIR_REL
 *      (../share/anonvma by default, set by the Makefile from BINDIR and
 *      DATADIR), so an install under any PREFIX, a DESTDIR tree and an
 *      extracted .deb all work without a path compiled in;
 *   4. ./configs (the source tree as the current directory).
 * <exe> is the directory of /proc/self/exe (symbolic links resolved).
 * docs/install.md documents the same order.
 */
#ifndef ANONVMA_DATADIR_H
#define ANONVMA_DATADIR_H

#include <stddef.h>

#define DATADIR_PATH_MAX 4096
#define DATADIR_MAX      5

/* How the search order reads in error messages. */
#define DATADIR_SEARCH \
	"$ANONVMA_DATADIR, the source tree's configs/, <bindir>/../share/anonvma, ./configs"

/* The candidate data directories in search order; returns how many were filled. */
int datadir_candidates(char out[][DATADIR_PATH_MAX], int max);

/*
 * The first candidate that holds `entry` (a file or directory relative to
 * the data directory: "arch", "scenarios/build.yaml"): its full path in out.
 * Returns 0, or -1 when no candidate has it (out is then "").
 */
int datadir_find(const char *entry, char *out, size_t len);

/*
 * A data file named on the command line: `arg` itself when it names a path
 * (has a '/') or an existing file that is not a directory, else <sub>/<arg>[.yaml] from the first
 * data directory that has it ("android-24-apps" -> .../scenarios/
 * android-24-apps.yaml).  Copies the path to use into out; returns 1 when
 * it came from a data directory, 0 when out is `arg` unchanged (so the
 * caller's open names what the user typed).
 */
int datadir_resolve(const char *sub, const char *arg, char *out, size_t len);

#endif
