/*
 * world_test.h - the world's insides, for tests and world.c only: the
 * simulator (mm.h), the model and its ops, the simulator's statistics.
 *
 * The tools (replay, validate, report, synth, collect) never include it:
 * they see a world through world.h's layout queries, so the simulator can
 * change shape behind that face without touching them.
 *
 * May depend on: world.h, mm.h, model.h.
 */
#ifndef ANONVMA_WORLD_TEST_H
#define ANONVMA_WORLD_TEST_H

#include "mm.h"
#include "model.h"
#include "world.h"

struct mm_sim *world_sim(struct world *w);
struct model *world_model(struct world *w);
const struct model_ops *world_ops(const struct world *w);
const struct mm_sim_stats *world_sim_stats(const struct world *w);

#endif
