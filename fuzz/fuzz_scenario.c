/*
 * fuzz_scenario.c - libFuzzer harness for the scenario loader and the
 * synthesiser (synth_load, then synth_run into a sink that keeps nothing).
 * A scenario that loads is generated for at most FUZZ_EVENTS events (the sink
 * then stops the run with an error), so the harness covers generation code
 * without turning a legitimately large scenario into a timeout; what the
 * documented limits (processes, mappings, simulated time) must catch is
 * caught within that budget or by the loader; steps that emit nothing are
 * bounded by max_steps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "synth.h"

#define FUZZ_EVENTS 20000

struct sink_ctx {
	uint64_t events;
	uint64_t last_t;
};

static int on_event(void *ctx, const struct avm_event *ev, struct avm_err *err)
{
	struct sink_ctx *c = ctx;

	if (ev->t < c->last_t)
		abort(); /* synth promises time never goes backwards */
	c->last_t = ev->t;
	if (++c->events > FUZZ_EVENTS)
		return avm_errf(err, "fuzz: event budget spent");
	return 0;
}

static int on_vma(void *ctx, const struct avm_snap_vma *v, struct avm_err *err)
{
	(void)ctx;
	(void)err;
	if (v->end <= v->start)
		abort(); /* an empty or inverted snapshot VMA */
	return 0;
}

static int on_av(void *ctx, const struct avm_snap_av *a, struct avm_err *err)
{
	(void)ctx;
	(void)a;
	(void)err;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct avm_err err = { "" };
	struct synth_scenario *s = NULL;
	struct sink_ctx ctx = { 0 };
	struct synth_sink sink = { &ctx, on_event, on_vma, on_av };
	struct synth_opts o = { .scale = 1.0, .max_steps = 200000 };
	struct synth_stats st;

	if (synth_load(fuzz_input_path(data, size), &s, &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	o.seed = synth_default_seed(s);
	synth_run(s, &o, &sink, &st, &err);
	synth_free(s);
	return 0;
}
