/*
 * cfgecho.c - the report's `config` section; see cfgecho.h.
 *
 * cfgecho_value() renders each config key from struct config the way the
 * config file spells it (enum names, numbers, "start" for lazy.switch_on);
 * test_config checks that every key config_key_name() lists has a
 * rendering, so a key added to config.c without one fails a test instead
 * of vanishing from reports.  The provenance is rebuilt from the inputs:
 * the config file's own scalars (config_yaml_scalars, with their lines),
 * then --set, then --sweep, each overriding the one before, as replay
 * applied them.
 */
#include "cfgecho.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cfgecho_enum(int v, const char *const *names, int n)
{
	return v >= 0 && v < n ? names[v] : "?";
}

int cfgecho_value(const struct config *c, const char *k, char *buf, size_t len)
{
	static const char *const profiles[] = { "P1", "P2", "P3", "P4" };
	static const char *const thp[] = { "never", "madvise", "always" };
#define ECHO_NUM(name, v) else if (!strcmp(k, name)) snprintf(buf, len, "%.17g", (double)(v))
#define ECHO_STR(name, v) else if (!strcmp(k, name)) snprintf(buf, len, "%s", v)

	if (!strcmp(k, "kernel.profile"))
		snprintf(buf, len, "%s", cfgecho_enum(c->profile - 1, profiles, 4));
	else if (!strcmp(k, "kernel.thp_enabled"))
		snprintf(buf, len, "%s", c->thp_from_trace ? "from trace" :
					 cfgecho_enum(c->thp_enabled, thp, 3));
	ECHO_STR("kernel.overcommit_never", c->overcommit_never ? "true" : "false");
	ECHO_STR("kernel.ksm", c->ksm ? "true" : "false");
	else if (!strcmp(k, "sizes.anon_vma") || !strcmp(k, "sizes.anon_vma_chain") ||
		 !strcmp(k, "sizes.vm_area_struct")) {
		uint32_t v = !strcmp(k, "sizes.anon_vma") ? c->size_anon_vma :
			     !strcmp(k, "sizes.anon_vma_chain") ? c->size_avc : c->size_vma;

		if (v)
			snprintf(buf, len, "%" PRIu32, v);
		else
			snprintf(buf, len, "from trace");
	}
	ECHO_STR("lazy.mremap", config_lazy_mremap_name(c->lazy_mremap));
	ECHO_STR("lazy.cow_owner", config_lazy_cow_owner_name(c->lazy_cow_owner));
	ECHO_STR("lazy.pin", config_lazy_pin_name(c->lazy_pin));
	ECHO_STR("lazy.walk_lock", config_lazy_walk_lock_name(c->lazy_walk_lock));
	ECHO_NUM("lazy.vma_growth_bytes", c->lazy_vma_growth_bytes);
	else if (!strcmp(k, "lazy.switch_on")) {
		if (c->lazy_switch_on_ns < 0)
			snprintf(buf, len, "start");
		else
			snprintf(buf, len, "%" PRId64, c->lazy_switch_on_ns);
	}
	ECHO_STR("lazy.rewrite_lock", config_lazy_rewrite_lock_name(c->lazy_rewrite_lock));
	ECHO_STR("lazy.adopt", config_lazy_adopt_name(c->lazy_adopt));
	ECHO_STR("lazy.merge_roots", config_lazy_merge_roots_name(c->lazy_merge_roots));
	ECHO_STR("lazy.tree_parent_reuse", config_lazy_tree_parent_reuse_name(c->lazy_tree_parent_reuse));
	ECHO_STR("lazy.ksm", config_lazy_ksm_name(c->lazy_ksm));
	ECHO_STR("arch.name", c->arch[0] ? c->arch : "from trace");
	ECHO_NUM("verdict.min_saving_percent", c->min_saving_percent);
	ECHO_NUM("verdict.max_lock_wait_regression_percent", c->max_lock_wait_regression_percent);
	ECHO_NUM("verdict.max_lock_hold_regression_percent", c->max_lock_wait_regression_percent);
	ECHO_NUM("verdict.max_fork_cost_regression_percent", c->max_fork_cost_regression_percent);
	ECHO_NUM("verdict.lock_wait_floor_ns_per_s", c->lock_wait_floor_ns_per_s);
	ECHO_NUM("verdict.trylock_floor_per_s", c->trylock_floor_per_s);
	ECHO_NUM("verdict.fork_cost_floor_ns", c->fork_cost_floor_ns);
	ECHO_NUM("verdict.min_forks_mean", c->min_forks_mean);
	ECHO_NUM("verdict.min_forks_p99", c->min_forks_p99);
	ECHO_NUM("verdict.max_lost_share", c->max_lost_share);
	ECHO_NUM("verdict.max_skipped_share", c->max_skipped_share);
	ECHO_NUM("pressure.reclaim_share_per_s", c->reclaim_share_per_s);
	ECHO_NUM("pressure.compaction_share_per_s", c->compaction_share_per_s);
	ECHO_NUM("pressure.page_idle_sweep_s", c->page_idle_sweep_s);
	else
		return -1;
	return 0;
#undef ECHO_NUM
#undef ECHO_STR
}

/* A rendered value as JSON: a number when it is one, else the string. */
static cJSON *cfgecho_json_value(const char *v)
{
	char *end;
	double d;

	if (!strcmp(v, "true") || !strcmp(v, "false"))
		return cJSON_CreateBool(!strcmp(v, "true"));
	errno = 0;
	d = strtod(v, &end);
	if (*v && !*end && !errno)
		return cJSON_CreateNumber(d);
	return cJSON_CreateString(v);
}

/* keys.<key> = {value, from[, line]} (replacing an earlier source); old names map to new ones. */
static int cfgecho_put(cJSON *keys, const struct config *c, const char *key, const char *from,
		       int line)
{
	char buf[128];
	cJSON *o;

	if (!strcmp(key, "verdict.max_lock_hold_regression_percent"))
		key = "verdict.max_lock_wait_regression_percent";
	if (cfgecho_value(c, key, buf, sizeof(buf)))
		return 0; /* a key the config file holds but config.c reads elsewhere (none today) */
	cJSON_DeleteItemFromObjectCaseSensitive(keys, key);
	o = cJSON_AddObjectToObject(keys, key);
	if (!o || !cJSON_AddItemToObject(o, "value", cfgecho_json_value(buf)) ||
	    !cJSON_AddStringToObject(o, "from", from))
		return -1;
	if (line > 0 && !cJSON_AddNumberToObject(o, "line", line))
		return -1;
	return 0;
}

struct cfgecho_file {
	cJSON *keys;
	const struct config *cfg;
};

static int cfgecho_file_key(void *ctx, const char *key, const char *value, int line,
			    struct avm_err *err)
{
	struct cfgecho_file *f = ctx;

	(void)value;
	if (!config_has_key(key))
		return 0;
	return cfgecho_put(f->keys, f->cfg, key, "config file", line) ? avm_errf(err, "config: out of memory") : 0;
}

/* costs.<key> = {value, from}: the arch's constants (fitted ones say so). */
static int cfgecho_costs(cJSON *sec, const cJSON *arch)
{
	const cJSON *costs = cJSON_GetObjectItemCaseSensitive(arch, "costs"), *k;
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(arch, "source");
	cJSON *out;

	if (!cJSON_IsObject(costs))
		return 0;
	if (!cJSON_AddItemToObject(sec, "arch_file", cJSON_IsString(src) ? cJSON_CreateString(src->valuestring)
									   : cJSON_CreateNull()) ||
	    !(out = cJSON_AddObjectToObject(sec, "costs")))
		return -1;
	cJSON_ArrayForEach(k, costs) {
		const cJSON *v = k;
		const char *from = "arch file";
		cJSON *o;

		if (cJSON_IsObject(k)) { /* a calibrated block: {value, source: fitted|estimate} */
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(k, "source");

			v = cJSON_GetObjectItemCaseSensitive(k, "value");
			if (cJSON_IsString(s) && !strcmp(s->valuestring, "fitted"))
				from = "fitted";
		}
		if (!cJSON_IsNumber(v))
			continue;
		o = cJSON_AddObjectToObject(out, k->string);
		if (!o || !cJSON_AddNumberToObject(o, "value", v->valuedouble) ||
		    !cJSON_AddStringToObject(o, "from", from))
			return -1;
	}
	return 0;
}

cJSON *cfgecho_json(const struct cfgecho_input *in, struct avm_err *err)
{
	cJSON *sec = cJSON_CreateObject(), *keys;
	const char *k;

	if (!sec || !cJSON_AddItemToObject(sec, "file", in->config_path ? cJSON_CreateString(in->config_path)
									 : cJSON_CreateNull()) ||
	    !(keys = cJSON_AddObjectToObject(sec, "keys")))
		goto oom;
	for (size_t i = 0; (k = config_key_name(i)); i++) {
		char buf[128];
		const char *from = "default";

		cfgecho_value(in->cfg, k, buf, sizeof(buf));
		if (!strcmp(buf, "from trace"))
			from = "trace";
		if (!strcmp(k, "verdict.max_lock_hold_regression_percent"))
			continue; /* the old name of max_lock_wait_regression_percent */
		if (cfgecho_put(keys, in->cfg, k, from, 0))
			goto oom;
	}
	if (in->config_path) {
		struct cfgecho_file f = { keys, in->cfg };

		if (config_yaml_scalars(in->config_path, cfgecho_file_key, &f, err)) {
			cJSON_Delete(sec);
			return NULL;
		}
	}
	for (size_t i = 0; i < in->nsets; i++)
		if (cfgecho_put(keys, in->cfg, in->set_keys[i], "--set", 0))
			goto oom;
	for (size_t i = 0; i < in->nsweeps; i++)
		if (cfgecho_put(keys, in->cfg, in->sweep_keys[i], "--sweep", 0))
			goto oom;
	if (cfgecho_costs(sec, in->arch))
		goto oom;
	return sec;
oom:
	cJSON_Delete(sec);
	avm_errf(err, "config: out of memory");
	return NULL;
}
