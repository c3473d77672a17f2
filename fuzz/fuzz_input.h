/*
 * fuzz_input.h - hand a libFuzzer input to a loader that reads a file path.
 *
 * The YAML and JSON loaders open a path, as the tools do.  The input goes
 * into one memfd per process (rewritten for every input, never on disk) and
 * the loader opens it as /proc/self/fd/N, so the harness exercises the same
 * open/read path as the tools.  Header-only: each harness is one program.
 */
#ifndef ANONVMA_FUZZ_INPUT_H
#define ANONVMA_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Path of a file holding exactly data[0..size); aborts if the memfd cannot be written. */
static inline const char *fuzz_input_path(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	size_t off = 0;
	ssize_t n;

	if (fd < 0) {
		fd = memfd_create("anonvma-fuzz", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0))
		abort();
	while (off < size) {
		n = pwrite(fd, data + off, size - off, (off_t)off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	return path;
}

#endif
