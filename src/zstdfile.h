/*
 * zstdfile.h - zstd-compressed trace files (closed segments of a collection).
 *
 * Owns: recognising a zstd file by its magic, compressing a closed trace
 * into PATH.zst (written beside it under a temporary name, then renamed, so
 * a crash never leaves a half file under the final name), and decompressing
 * one into an open file descriptor.  SQLite cannot read a compressed file in
 * place, so readers decompress into a temporary file first (replay_main.c).
 */
#ifndef ANONVMA_ZSTDFILE_H
#define ANONVMA_ZSTDFILE_H

#include <signal.h>

#include "error.h"

#define ZSTDFILE_SUFFIX ".zst"
#define ZSTDFILE_LEVEL 3 /* zstd's default: fast, about 4-8x on traces (docs/collect.md) */

/* 1 if path starts with the zstd frame magic, 0 if not, -1 (err) if it cannot be read. */
int zstdfile_is_zstd(const char *path, struct avm_err *err);

/*
 * Compress path into out (mode 0600; fails if out exists).  stop, when set
 * (a signal), abandons the work: out is not left behind.  path is kept.
 */
int zstdfile_compress(const char *path, const char *out, int level,
		      const volatile sig_atomic_t *stop, struct avm_err *err);

/* Decompress path into fd (from its current offset); stop as above. */
int zstdfile_decompress_fd(const char *path, int fd, const volatile sig_atomic_t *stop,
			   struct avm_err *err);

#endif
