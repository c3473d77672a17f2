/*
 * outfile.h - how every tool writes a file it was asked to write, and how
 * text that came from a trace or a report reaches a terminal.
 *
 * The tools run as root (the collector must; replay and report often do), so
 * an output path is treated as a place another user may have prepared:
 *
 *   - a regular file, or a name that does not exist yet: the text goes to a
 *     new temporary file created in the same folder with O_CREAT|O_EXCL
 *     (mkstemp: never through a symlink, never onto an existing file), is
 *     fsync'd, and renamed over the name only once it is complete;
 *   - a character device, FIFO or socket (/dev/null, /dev/stdout, a pipe): the
 *     text is written through it, never renamed or unlinked over it; a write
 *     error (/dev/full) is an error;
 *   - a block device or a directory: refused;
 *   - a symlink: followed only when it belongs to the user running the tool or
 *     to root (/dev/stdout is root's); the object it leads to is then treated
 *     as above, a regular target replaced in its own folder so the link stays.
 *     A symlink of anyone else is refused.
 *
 * outfile_escape() is the one filter for text from a trace or a report on its
 * way to a terminal or a text file: every byte a terminal could act on (C0
 * controls, DEL, C1 controls, bytes that are not UTF-8) becomes \xHH.
 */
#ifndef ANONVMA_OUTFILE_H
#define ANONVMA_OUTFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"

/* One output being written: write to f, then outfile_commit or outfile_abort. */
struct outfile {
	FILE *f;                /* the stream to write to */
	char name[PATH_MAX];    /* the path as given (for messages) */
	char target[PATH_MAX];  /* what the temporary file is renamed to */
	char tmp[PATH_MAX];     /* the temporary file; "" when writing through */
};

/* Open path for writing as described above; o->f is ready on success. */
int outfile_open(struct outfile *o, const char *path, struct avm_err *err);

/* Flush and sync; rename the temporary file into place.  Closes o either way. */
int outfile_commit(struct outfile *o, struct avm_err *err);

/* Close o and remove its temporary file (nothing is left half-written). */
void outfile_abort(struct outfile *o);

/* outfile_open + len bytes of text + outfile_commit. */
int outfile_write(const char *path, const char *text, size_t len, struct avm_err *err);

/*
 * For tools that remove a file before creating it (--force): 0 when path is
 * absent or a regular file, else -1 with one line (a device node, a FIFO, a
 * symlink or a directory is never removed).
 */
int outfile_check_removable(const char *path, struct avm_err *err);

/* How outfile_escape treats line ends and what it escapes into. */
enum outfile_esc {
	OUTFILE_ESC_LINE,   /* one line: a newline or tab is escaped too (error lines) */
	OUTFILE_ESC_TEXT,   /* text: newline and tab kept */
	OUTFILE_ESC_JSON,   /* JSON text: DEL and C1 become \u00HH, bytes that are
			     * not UTF-8 become \ufffd (the rest is cJSON's own output) */
};

/*
 * Write s to f with every byte a terminal could act on escaped as \xHH (see
 * enum outfile_esc).  Printable ASCII and valid UTF-8 other than C1 controls
 * pass unchanged.  Returns 0, or -1 if the stream has an error.
 */
int outfile_escape(FILE *f, const char *s, enum outfile_esc how);

/* The same into a buffer of size n (always terminated; cut when too small). */
void outfile_escape_buf(char *dst, size_t n, const char *s, enum outfile_esc how);

#endif
