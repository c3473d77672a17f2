/* html.c - see html.h */
#include "html.h"

int html_write(const cJSON *report, const char *path, struct avm_err *err)
{
	(void)report;
	return avm_errf(err, "%s: --html not built", path);
}
