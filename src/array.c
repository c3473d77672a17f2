/* array.c - the doubling growth of dynamic arrays (array.h). */
#include "array.h"

#include <stdint.h>
#include <stdlib.h>

int array_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first_cap)
{
	size_t ncap = *cap ? *cap : (first_cap ? first_cap : 1);
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (elem && ncap > SIZE_MAX / elem)
		return -1;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}
