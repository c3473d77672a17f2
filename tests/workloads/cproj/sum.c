#include "demo.h"

long sum_list(const struct node *n)
{
	long s = 0;

	for (; n; n = n->next)
		s += n->v;
	return s;
}
