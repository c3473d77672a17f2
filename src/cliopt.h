/*
 * cliopt.h - strict parsing of the numbers given on a command line.
 *
 * strtod() alone accepts "inf", "nan", "0x1p4", leading blanks and values
 * that overflow to infinity, and strtoul() turns "-1" into a huge number:
 * each of those once slipped through as a "valid" option.  Here a number is
 * plain decimal ("12", "0.5", "2e3"; no sign, no blanks, no hex, no inf/nan),
 * must be finite and lie in the option's documented range, or the option is
 * refused with one line naming it, what it takes and the range.
 */
#ifndef ANONVMA_CLIOPT_H
#define ANONVMA_CLIOPT_H

#include <stdint.h>

#include "error.h"

/* A decimal number from lo to hi (inclusive); what says what it counts. */
int cliopt_double(const char *opt, const char *text, double lo, double hi, const char *what,
		  double *out, struct avm_err *err);

/* A decimal integer (digits only) from lo to hi (inclusive). */
int cliopt_u64(const char *opt, const char *text, uint64_t lo, uint64_t hi, const char *what,
	       uint64_t *out, struct avm_err *err);

#endif
