/*
 * fuzz_config.c - libFuzzer harness for the replay config loader
 * (config_load: libyaml document, dotted-key walk, every value parser and
 * range check).  A load either succeeds or fails with one message; either way
 * nothing may leak, crash or read out of bounds, and a failed load must leave
 * the config as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct avm_err err = { "" };
	struct config c, before;

	config_defaults(&c);
	before = c;
	if (config_load(&c, fuzz_input_path(data, size), &err)) {
		if (memcmp(&c, &before, sizeof(c)) != 0 || !err.msg[0])
			abort(); /* a failed load changed the config, or gave no message */
	}
	return 0;
}
