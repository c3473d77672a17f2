#include <ctype.h>
#include "demo.h"

size_t text_words(const char *s)
{
	size_t n = 0;
	int in = 0;

	for (; *s; s++) {
		if (isspace((unsigned char)*s))
			in = 0;
		else if (!in && ++n)
			in = 1;
	}
	return n;
}
