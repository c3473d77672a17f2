#ifndef DEMO_H
#define DEMO_H
#include <stddef.h>
struct node { struct node *next; int v; };
struct node *list_push(struct node *head, int v);
void list_free(struct node *head);
unsigned hash_str(const char *s);
size_t text_words(const char *s);
long sum_list(const struct node *n);
#endif
