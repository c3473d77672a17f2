/*
 * cliopt.c - strict numbers for command-line options (see cliopt.h).
 *
 * The text is checked against a small grammar first (digits, at most one
 * '.', an optional exponent "e[+-]digits"), then converted by strtod/strtoull
 * with errno watched, then compared with the range.  Every refusal is the same
 * one line: "OPT 'TEXT' is not WHAT from LO to HI".
 */
#include "cliopt.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* digits [ . digits ] [ e [+-] digits ], with at least one mantissa digit */
static bool cliopt_is_decimal(const char *s)
{
	size_t digits = 0;

	while (isdigit((unsigned char)*s)) {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			s++;
			digits++;
		}
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

int cliopt_double(const char *opt, const char *text, double lo, double hi, const char *what,
		  double *out, struct avm_err *err)
{
	double v;

	if (!cliopt_is_decimal(text))
		goto bad;
	errno = 0;
	v = strtod(text, NULL);
	if (errno || !isfinite(v) || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	return avm_errf(err, "%s '%s' is not %s from %.15g to %.15g", opt, text, what, lo, hi);
}

int cliopt_u64(const char *opt, const char *text, uint64_t lo, uint64_t hi, const char *what,
	       uint64_t *out, struct avm_err *err)
{
	const char *p = text;
	unsigned long long v;

	while (isdigit((unsigned char)*p))
		p++;
	if (p == text || *p)
		goto bad;
	errno = 0;
	v = strtoull(text, NULL, 10);
	if (errno || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	return avm_errf(err, "%s '%s' is not %s from %" PRIu64 " to %" PRIu64, opt, text, what,
			lo, hi);
}
