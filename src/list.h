/*
 * list.h - the intrusive doubly-linked list every object registry uses
 * (the live anon_vmas and VMA states of a model, an anon_vma's chain
 * tree, a lazy root's family).
 *
 * The list is a head pointer (NULL: empty) plus a prev and a next pointer
 * in each element; the element type names its own fields, so one element
 * can sit on several lists (e.g. prev_live/next_live and tprev/tnext).
 * Elements go in at the front; walking from the head is a plain loop:
 *   for (x = head; x; x = x->next)
 * Unlinking is O(1) and leaves the element's own pointers as they were.
 * The macros evaluate their arguments more than once: pass plain lvalues.
 *
 * May depend on: nothing (macros only; no allocation).
 */
#ifndef ANONVMA_LIST_H
#define ANONVMA_LIST_H

#include <stddef.h>

/* Put node at the front of the list whose head pointer is *headp. */
#define LIST_PUSH_FRONT(headp, node, prev, next)        \
	do {                                            \
		(node)->prev = NULL;                    \
		(node)->next = *(headp);                \
		if (*(headp))                           \
			(*(headp))->prev = (node);      \
		*(headp) = (node);                      \
	} while (0)

/* Take node (on the list whose head pointer is *headp) off it. */
#define LIST_UNLINK(headp, node, prev, next)                    \
	do {                                                    \
		if ((node)->prev)                               \
			(node)->prev->next = (node)->next;      \
		else                                            \
			*(headp) = (node)->next;                \
		if ((node)->next)                               \
			(node)->next->prev = (node)->prev;      \
	} while (0)

#endif
