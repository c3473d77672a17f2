#include <stdlib.h>
#include "demo.h"

struct node *list_push(struct node *head, int v)
{
	struct node *n = malloc(sizeof(*n));

	if (!n)
		abort();
	n->next = head;
	n->v = v;
	return n;
}

void list_free(struct node *head)
{
	while (head) {
		struct node *n = head->next;

		free(head);
		head = n;
	}
}
