#include <stdio.h>
#include <stdlib.h>
#include "demo.h"

int main(void)
{
	struct node *l = NULL;
	char *buf = malloc(1 << 20); /* a large malloc: its own mmap */

	for (int i = 0; i < 1000; i++)
		l = list_push(l, i);
	for (int i = 0; i < (1 << 20); i += 4096)
		buf[i] = (char)i;
	printf("%ld %u %zu\n", sum_list(l), hash_str("anon_vma"), text_words("a b c"));
	list_free(l);
	free(buf);
	return 0;
}
