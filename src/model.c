/* model.c - the registry of anon rmap models (model.h): look a design up by name. */
#include "model.h"

#include <stddef.h>
#include <string.h>

static const struct model_ops *const model_registry[] = {
	&model_eager_ops,
	&model_lazy_ops,
	&model_cowctx_ops,
};

const struct model_ops *model_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(model_registry) / sizeof(model_registry[0]); i++)
		if (name && strcmp(model_registry[i]->name, name) == 0)
			return model_registry[i];
	return NULL;
}
