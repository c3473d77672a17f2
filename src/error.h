/*
 * error.h - one way to carry an error message out of any module.
 *
 * Every fallible function in anonvma returns 0 on success and -1 on failure,
 * and fills a caller-supplied struct avm_err with one line that names the
 * problem (a file, a key, an event number).  The CLI prints that line once and
 * exits non-zero; nothing else prints errors.  Keeping the message in the
 * caller's struct (not a global) lets two worlds replay side by side.
 */
#ifndef ANONVMA_ERROR_H
#define ANONVMA_ERROR_H

#include <stddef.h>

struct avm_err {
	char msg[512];
};

/* Format the message into e (if e is non-NULL) and return -1. */
int avm_errf(struct avm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix an existing message: "prefix: old message".  Returns -1. */
int avm_err_prefix(struct avm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
