/*
 * datadir.c - the data directory search order (see datadir.h).
 *
 * Nothing here is an absolute path: the installed location is found from
 * the executable's own directory, so the same binaries serve `make install`
 * under any PREFIX, a DESTDIR staging tree and the .deb (which installs them
 * to /usr).  A binary copied alone somewhere else finds its data through
 * $ANONVMA_DATADIR, and every lookup that fails says where it looked.
 */
#include "datadir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AVM_DATADIR_REL
#define AVM_DATADIR_REL "../share/anonvma"
#endif

static int add(char out[][DATADIR_PATH_MAX], int k, int max, const char *a, const char *b)
{
	int n;

	if (k >= max)
		return k;
	n = snprintf(out[k], DATADIR_PATH_MAX, "%s%s", a, b);
	return n > 0 && n < DATADIR_PATH_MAX ? k + 1 : k;
}

int datadir_candidates(char out[][DATADIR_PATH_MAX], int max)
{
	char exe[DATADIR_PATH_MAX];
	const char *env = getenv("ANONVMA_DATADIR");
	char *slash;
	ssize_t n;
	int k = 0;

	if (env && *env)
		k = add(out, k, max, env, "");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			k = add(out, k, max, exe, "/../configs");
			k = add(out, k, max, exe, "/../../configs");
			k = add(out, k, max, exe, "/" AVM_DATADIR_REL);
		}
	}
	return add(out, k, max, "configs", "");
}

int datadir_find(const char *entry, char *out, size_t len)
{
	char dirs[DATADIR_MAX][DATADIR_PATH_MAX];
	char path[DATADIR_PATH_MAX + 256];
	int n = datadir_candidates(dirs, DATADIR_MAX), i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%.4000s/%.200s", dirs[i], entry);
		if (access(path, R_OK) != 0)
			continue;
		if (snprintf(out, len, "%s", path) >= (int)len)
			break;
		return 0;
	}
	if (len)
		*out = '\0';
	return -1;
}

int datadir_resolve(const char *sub, const char *arg, char *out, size_t len)
{
	char entry[512];
	struct stat st;
	size_t n = strlen(arg);
	int yaml = n > 5 && strcmp(arg + n - 5, ".yaml") == 0;

	if (strchr(arg, '/') || (stat(arg, &st) == 0 && !S_ISDIR(st.st_mode)) || n == 0 ||
	    snprintf(entry, sizeof(entry), "%s/%s%s", sub, arg, yaml ? "" : ".yaml") >=
		    (int)sizeof(entry) ||
	    datadir_find(entry, out, len) != 0) {
		snprintf(out, len, "%s", arg);
		return 0;
	}
	return 1;
}
