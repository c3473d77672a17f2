/*
 * arch.c - the arch registry (loading configs/arch/<name>.yaml) and the
 * per-mm page-table model shared by every ISA (see arch.h).
 *
 * Loading.  config_yaml_scalars() hands every scalar of the file with its
 * dotted key; a table maps each key to a field and a parser.  All keys are
 * required (the YAML is the one place a cost and its source live), unknown
 * keys fail with file:line, and the ISA's geometry() then derives the levels
 * and checks the stated sizes against the architecture's rules.
 *
 * Page tables.  One radix tree per mm mirrors the kernel's: level 0 is the
 * pgd, level levels-1 the PTE tables.  An upper-level table is a `pt_dir`
 * holding one child pointer per entry (the same 8 bytes per entry the kernel
 * spends, so the model costs about what the tables it models cost, and only
 * for tables above the leaves).  A leaf table is a `pt_leaf`: a bitmap of
 * present entries and their count, 1/64 of the real table's size.  Touch is
 * a walk of `levels` pointers (or one compare for the last leaf used); unmap
 * and copy recurse only into tables that exist and overlap the range.
 *
 * Freeing follows free_pgd_range() in mm/memory.c: a table is freed when its
 * whole span lies inside [floor, ceiling) - the gap between the neighbouring
 * VMAs - and overlaps the unmapped range; the kernel does not look at whether
 * a table is empty, so an empty table shared with a neighbour VMA stays.
 */
#include "arch.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "datadir.h"
#include "forkfit.h"
#include "outfile.h"
#include "verdict.h"

/* ---- registry and YAML --------------------------------------------------------- */

static const struct arch_isa_ops *const isa_table[] = { &arch_x86_64_ops, &arch_arm64_ops };

enum key_kind { K_NAME, K_ISA, K_SIZE, K_UINT, K_NS, K_BOOL };

struct arch_key {
	const char *key;
	enum key_kind kind;
	size_t off;
};

#define F(field) offsetof(struct arch, field)
static const struct arch_key keys[] = {
	{ "name", K_NAME, F(name) },
	{ "isa", K_ISA, 0 },
	{ "page_size", K_SIZE, F(page_size) },
	{ "va_bits", K_UINT, F(va_bits) },
	{ "levels", K_UINT, F(levels) },
	{ "pmd_size", K_SIZE, F(pmd_size) },
	{ "cont_pte_size", K_SIZE, F(cont_pte_size) },
	{ "cont_pmd_size", K_SIZE, F(cont_pmd_size) },
	{ "walk.level_ns", K_NS, F(cost.walk_level_ns) },
	{ "tlb.flush_ceiling_pages", K_UINT, F(cost.tlb_flush_ceiling) },
	{ "tlb.single_flush_ns", K_NS, F(cost.tlb_single_ns) },
	{ "tlb.full_flush_ns", K_NS, F(cost.tlb_full_ns) },
	{ "tlb.sync_ns", K_NS, F(cost.tlb_sync_ns) },
	{ "tlb.ipi_ns", K_NS, F(cost.ipi_ns) },
	{ "tlb.ipi_extra_cpu_ns", K_NS, F(cost.ipi_extra_cpu_ns) },
	{ "tlb.range", K_BOOL, F(cost.tlbi_range) },
	{ "fork.pte_copy_ns", K_NS, F(cost.fork_pte_ns) },
	{ "fork.table_ns", K_NS, F(cost.fork_table_ns) },
};
#undef F
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= ARCH_KEYS_MAX, "arch: raise ARCH_KEYS_MAX");

struct load_ctx {
	struct arch *a;
	const char *path;
	bool seen[NKEYS];
	int line[NKEYS];
	bool seen_op[LOCKS_OP_NR];
	unsigned va_bits, levels; /* parsed as u64, stored narrow */
	/* range ends given (bit 0 low, bit 1 high) per key and per rmap op */
	uint8_t ends[NKEYS], ends_op[LOCKS_OP_NR];
};

/*
 * Ranges of the numeric keys (docs/arch.md "Ranges"): what a page table can
 * be, and costs small enough that sums over a whole trace cannot wrap.
 * Every cost (walk, tlb, fork, rmap) is ARCH_COST_MAX_NS at most.
 */
#define ARCH_COST_MAX_NS 10000000ULL /* 10 ms per operation */

static void key_range(const char *key, enum key_kind kind, uint64_t *lo, uint64_t *hi)
{
	static const struct {
		const char *key;
		uint64_t lo, hi;
	} ranges[] = {
		{ "page_size", 4096, 65536 },
		{ "va_bits", 32, 57 },
		{ "levels", 0, ARCH_MAX_LEVELS },      /* 0: derived from the geometry */
		{ "pmd_size", 0, 1ULL << 40 },
		{ "cont_pte_size", 0, 1ULL << 40 },
		{ "cont_pmd_size", 0, 1ULL << 40 },
		{ "tlb.flush_ceiling_pages", 0, 1ULL << 20 },
	};
	size_t i;

	*lo = 0;
	*hi = kind == K_NS ? ARCH_COST_MAX_NS : UINT64_MAX;
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		if (strcmp(ranges[i].key, key) == 0) {
			*lo = ranges[i].lo;
			*hi = ranges[i].hi;
		}
	}
}

static int set_key(struct load_ctx *lc, size_t k, const char *value, int line,
		   struct avm_err *err)
{
	uint64_t lo, hi;
	const struct arch_key *key = &keys[k];
	char *field = (char *)lc->a + key->off;
	uint64_t u;
	bool b;
	size_t i;

	switch (key->kind) {
	case K_NAME:
		if (!*value || strlen(value) >= sizeof(lc->a->name))
			return avm_errf(err, "%s:%d: 'name' must be 1 to %zu characters",
					lc->path, line, sizeof(lc->a->name) - 1);
		snprintf(lc->a->name, sizeof(lc->a->name), "%s", value);
		return 0;
	case K_ISA:
		for (i = 0; i < sizeof(isa_table) / sizeof(isa_table[0]); i++) {
			if (strcmp(value, isa_table[i]->isa) == 0) {
				lc->a->ops = isa_table[i];
				lc->a->isa = (enum arch_isa)i;
				return 0;
			}
		}
		return avm_errf(err, "%s:%d: 'isa' must be one of x86_64, arm64 (got '%s')",
				lc->path, line, value);
	case K_SIZE:
		key_range(key->key, key->kind, &lo, &hi);
		if (config_u64_in_range(lc->path, line, key->key, value, CONFIG_UNIT_SIZE, lo, hi,
					&u, err))
			return -1;
		memcpy(field, &u, sizeof(u));
		return 0;
	case K_NS:
		key_range(key->key, key->kind, &lo, &hi);
		if (config_u64_in_range(lc->path, line, key->key, value, CONFIG_UNIT_DURATION, lo,
					hi, &u, err))
			return -1;
		memcpy(field, &u, sizeof(u));
		return 0;
	case K_UINT:
		key_range(key->key, key->kind, &lo, &hi);
		if (config_u64_in_range(lc->path, line, key->key, value, CONFIG_UNIT_NONE, lo, hi,
					&u, err))
			return -1;
		if (key->off == offsetof(struct arch, va_bits) ||
		    key->off == offsetof(struct arch, levels)) {
			unsigned narrow = (unsigned)u;

			memcpy(field, &narrow, sizeof(narrow));
			return 0;
		}
		memcpy(field, &u, sizeof(u));
		return 0;
	case K_BOOL:
		if (config_parse_bool(lc->path, line, key->key, value, &b, err))
			return -1;
		memcpy(field, &b, sizeof(b));
		return 0;
	}
	return avm_errf(err, "%s:%d: internal: bad key kind", lc->path, line);
}

/*
 * `key.low` / `key.high` of a cost constant in mapping form: the range end.
 * Returns 1 when key_path was one (handled), 0 when not, -1 on a bad value.
 */
static int load_range(struct load_ctx *lc, const char *key_path, const char *value, int line,
		      struct avm_err *err)
{
	const char *dot = strrchr(key_path, '.');
	char base[96];
	size_t k, n;
	int end, op;

	if (!dot || (strcmp(dot, ".low") && strcmp(dot, ".high")))
		return 0;
	end = strcmp(dot, ".low") ? 1 : 0;
	n = (size_t)(dot - key_path);
	if (n >= sizeof(base))
		return 0;
	memcpy(base, key_path, n);
	base[n] = '\0';
	for (k = 0; k < NKEYS; k++) {
		if (keys[k].kind != K_NS || strcmp(base, keys[k].key))
			continue;
		if (lc->ends[k] & (1u << end))
			return avm_errf(err, "%s:%d: key '%s' given twice", lc->path, line, key_path);
		lc->ends[k] |= (uint8_t)(1u << end);
		if (config_u64_in_range(lc->path, line, key_path, value, CONFIG_UNIT_DURATION, 0,
					ARCH_COST_MAX_NS,
					end ? &lc->a->key_range[k].high : &lc->a->key_range[k].low,
					err))
			return -1;
		return 1;
	}
	if (strncmp(base, "rmap.", 5))
		return 0;
	for (op = 0; op < LOCKS_OP_NR; op++) {
		if (strcmp(base + 5, locks_op_key((enum locks_op)op)))
			continue;
		if (lc->ends_op[op] & (1u << end))
			return avm_errf(err, "%s:%d: key '%s' given twice", lc->path, line, key_path);
		lc->ends_op[op] |= (uint8_t)(1u << end);
		if (config_u64_in_range(lc->path, line, key_path, value, CONFIG_UNIT_DURATION, 0,
					ARCH_COST_MAX_NS,
					end ? &lc->a->rmap_range[op].high : &lc->a->rmap_range[op].low,
					err))
			return -1;
		return 1;
	}
	return 0;
}

/* A range needs both ends around the value; a scalar key has none (unranged). */
static int check_range(const struct load_ctx *lc, const char *key, uint8_t ends, uint64_t value,
		       struct arch_range *r, struct avm_err *err)
{
	if (ends == 0) {
		r->low = r->high = value;
		r->ranged = false;
		return 0;
	}
	if (ends != 3)
		return avm_errf(err, "%s: '%s' has a %s but no %s: a range needs both", lc->path, key,
				ends & 1 ? "low" : "high", ends & 1 ? "high" : "low");
	if (r->low > value || r->high < value)
		return avm_errf(err, "%s: '%s' must have low <= value <= high (got %llu <= %llu <= "
				     "%llu)", lc->path, key, (unsigned long long)r->low,
				(unsigned long long)value, (unsigned long long)r->high);
	r->ranged = true;
	return 0;
}

static int load_scalar(void *ctx, const char *key_path, const char *value, int line,
		       struct avm_err *err)
{
	struct load_ctx *lc = ctx;
	char plain[96];
	size_t k, n = strlen(key_path);
	int op, rc;

	rc = load_range(lc, key_path, value, line, err);
	if (rc)
		return rc < 0 ? -1 : 0;
	/* `key.value` of the mapping form is the key itself */
	if (n > 6 && n - 6 < sizeof(plain) && !strcmp(key_path + n - 6, ".value")) {
		memcpy(plain, key_path, n - 6);
		plain[n - 6] = '\0';
		key_path = plain;
	}
	for (k = 0; k < NKEYS; k++) {
		if (strcmp(key_path, keys[k].key) == 0) {
			if (lc->seen[k])
				return avm_errf(err, "%s:%d: key '%s' given twice", lc->path,
						line, key_path);
			lc->seen[k] = true;
			lc->line[k] = line;
			return set_key(lc, k, value, line, err);
		}
	}
	if (strncmp(key_path, "rmap.", 5) == 0) {
		for (op = 0; op < LOCKS_OP_NR; op++) {
			if (strcmp(key_path + 5, locks_op_key((enum locks_op)op)) != 0)
				continue;
			if (lc->seen_op[op])
				return avm_errf(err, "%s:%d: key '%s' given twice", lc->path,
						line, key_path);
			lc->seen_op[op] = true;
			return config_u64_in_range(lc->path, line, key_path, value,
						   CONFIG_UNIT_DURATION, 0, ARCH_COST_MAX_NS,
						   &lc->a->rmap.ns[op], err);
		}
	}
	return avm_errf(err, "%s:%d: unknown key '%s'", lc->path, line, key_path);
}

static int load_file(const char *path, struct arch *a, struct avm_err *err)
{
	struct load_ctx lc = { .a = a, .path = path };
	size_t k;
	int op;

	memset(a, 0, sizeof(*a));
	if (strlen(path) >= sizeof(a->path))
		return avm_errf(err, "%s: path too long", path);
	snprintf(a->path, sizeof(a->path), "%s", path);
	if (config_yaml_scalars(path, load_scalar, &lc, err))
		return -1;
	for (k = 0; k < NKEYS; k++) {
		if (!lc.seen[k])
			return avm_errf(err, "%s: missing key '%s'", path, keys[k].key);
	}
	for (op = 0; op < LOCKS_OP_NR; op++) {
		char key[64];

		if (!lc.seen_op[op])
			return avm_errf(err, "%s: missing key 'rmap.%s'", path,
					locks_op_key((enum locks_op)op));
		snprintf(key, sizeof(key), "rmap.%s", locks_op_key((enum locks_op)op));
		if (check_range(&lc, key, lc.ends_op[op], a->rmap.ns[op], &a->rmap_range[op], err))
			return -1;
	}
	for (k = 0; k < NKEYS; k++) {
		uint64_t v;

		if (keys[k].kind != K_NS)
			continue;
		memcpy(&v, (const char *)a + keys[k].off, sizeof(v));
		if (check_range(&lc, keys[k].key, lc.ends[k], v, &a->key_range[k], err))
			return -1;
	}
	if (a->page_size == 0 || (a->page_size & (a->page_size - 1)))
		return avm_errf(err, "%s: page_size %llu is not a power of two", path,
				(unsigned long long)a->page_size);
	a->page_shift = (unsigned)__builtin_ctzll(a->page_size);
	if (a->ops->geometry(a, err)) {
		if (!err)
			return -1;
		/* Point at the line of the key the message names, if it names one. */
		for (k = 0; k < NKEYS; k++) {
			char quoted[64];

			snprintf(quoted, sizeof(quoted), "'%s'", keys[k].key);
			if (strstr(err->msg, quoted))
				return avm_err_prefix(err, "%s:%d", path, lc.line[k]);
		}
		return avm_err_prefix(err, "%s", path);
	}
	return 0;
}

static bool is_path(const char *name)
{
	size_t n = strlen(name);

	return strchr(name, '/') || (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

/*
 * Candidate directories for a name, in order; returns how many were filled:
 * dir, $ANONVMA_ARCH_DIR, then arch/ of every data directory (datadir.h).
 */
static int arch_dirs(const char *dir, char out[][PATH_MAX], int max)
{
	char data[DATADIR_MAX][DATADIR_PATH_MAX];
	const char *env = getenv("ANONVMA_ARCH_DIR");
	int k = 0, n, i;

	if (dir && k < max)
		snprintf(out[k++], PATH_MAX, "%s", dir);
	if (env && *env && k < max)
		snprintf(out[k++], PATH_MAX, "%s", env);
	n = datadir_candidates(data, DATADIR_MAX);
	for (i = 0; i < n && k < max; i++)
		snprintf(out[k++], PATH_MAX, "%.*s/arch", PATH_MAX - 8, data[i]);
	return k;
}

int arch_load(const char *name, const char *dir, struct arch *out, struct avm_err *err)
{
	char dirs[DATADIR_MAX + 2][PATH_MAX];
	char path[PATH_MAX + 64];
	struct arch a; /* *out changes only on success */
	int n, i;

	if (!name || !*name)
		return avm_errf(err, "arch: no name given");
	if (is_path(name)) {
		if (load_file(name, &a, err))
			return -1;
		*out = a;
		return 0;
	}
	if (strlen(name) >= sizeof(out->name))
		return avm_errf(err, "arch: name '%s' is too long", name);
	n = arch_dirs(dir, dirs, DATADIR_MAX + 2);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%.4000s/%.47s.yaml", dirs[i], name);
		if (access(path, R_OK) != 0)
			continue;
		if (load_file(path, &a, err))
			return -1;
		if (strcmp(a.name, name) != 0)
			return avm_errf(err, "%s: 'name' is '%s', expected '%s' (the file name)",
					path, a.name, name);
		*out = a;
		return 0;
	}
	return avm_errf(err,
			"arch: unknown arch '%s' (no %s.yaml in %s%s$ANONVMA_ARCH_DIR or arch/ of the "
			"data directories: " DATADIR_SEARCH "; see docs/arch.md and docs/install.md)",
			name, name, dir ? dir : "", dir ? ", " : "");
}

int arch_name_for(const char *isa, uint64_t page_size, unsigned va_bits, unsigned levels,
		  char *buf, size_t len, struct avm_err *err)
{
	int n;

	if (strcmp(isa, "x86_64") == 0) {
		if (levels == 5 || va_bits == 57)
			n = snprintf(buf, len, "x86_64-5level");
		else
			n = snprintf(buf, len, "x86_64-4level");
	} else if (strcmp(isa, "arm64") == 0 || strcmp(isa, "aarch64") == 0) {
		/*
		 * The shipped arm64 files by granule: levels pick the VA size
		 * (§C2: 4K 3/4 levels = 39/48 bits, 16K 3/4 = 47/48, 64K 2/3 =
		 * 42/48); without levels, the smallest shipped VA size that holds
		 * va_bits (a collector may record 47 user bits for a 48-bit VA).
		 */
		static const struct { uint64_t page; unsigned small_va, small_levels; } g[] = {
			{ 4096, 39, 3 }, { 16384, 47, 3 }, { 65536, 42, 2 },
		};
		unsigned i, va = 0;

		for (i = 0; i < 3; i++) {
			if (g[i].page != page_size)
				continue;
			if (levels)
				va = levels == g[i].small_levels ? g[i].small_va :
				     levels == g[i].small_levels + 1 ? 48 : 0;
			else if (va_bits)
				va = va_bits <= g[i].small_va ? g[i].small_va : va_bits <= 48 ? 48 : 0;
		}
		if (!va)
			return avm_errf(err, "arch: no shipped arm64 model for %llu-byte pages with "
					"%u VA bits and %u levels (write one: docs/arch.md)",
					(unsigned long long)page_size, va_bits, levels);
		n = snprintf(buf, len, "arm64-%lluk-%ubit", (unsigned long long)(page_size >> 10),
			     va);
	} else {
		return avm_errf(err, "arch: no model for ISA '%s' (x86_64 and arm64 are known)",
				isa);
	}
	if (n < 0 || (size_t)n >= len)
		return avm_errf(err, "arch: name buffer too small");
	return 0;
}

int arch_set_levels(struct arch *a, const char *const *const names_by_levels[ARCH_MAX_LEVELS + 1],
		    bool small_top, struct avm_err *err)
{
	unsigned b = a->page_shift - 3, n, i, derived_pmd_shift;
	uint64_t pmd;

	if (a->page_shift < 12 || a->va_bits <= a->page_shift || a->va_bits > 64)
		return avm_errf(err, "page size %llu with %u VA bits is not a page-table geometry",
				(unsigned long long)a->page_size, a->va_bits);
	/* every level indexes b bits of the VA above the page offset */
	n = (a->va_bits - a->page_shift + b - 1) / b;
	if (n < 2 || n > ARCH_MAX_LEVELS || !names_by_levels[n])
		return avm_errf(err, "%u VA bits with %llu-byte pages need %u levels: not supported",
				a->va_bits, (unsigned long long)a->page_size, n);
	if (a->levels && a->levels != n)
		return avm_errf(err, "'levels' is %u but %u VA bits with %llu-byte pages give %u",
				a->levels, a->va_bits, (unsigned long long)a->page_size, n);
	a->levels = n;
	for (i = 0; i < n; i++) {
		struct arch_level *l = &a->level[n - 1 - i];

		l->name = names_by_levels[n][n - 1 - i];
		l->shift = a->page_shift + i * b;
		l->bits = (i == n - 1) ? a->va_bits - l->shift : b;
		l->table_bytes = a->page_size;
	}
	if (small_top)
		a->level[0].table_bytes = (1ULL << a->level[0].bits) * 8;
	derived_pmd_shift = a->level[n - 2].shift;
	pmd = 1ULL << derived_pmd_shift;
	if (a->pmd_size && a->pmd_size != pmd)
		return avm_errf(err, "'pmd_size' is %llu but one %s entry maps %llu bytes",
				(unsigned long long)a->pmd_size, a->level[n - 2].name,
				(unsigned long long)pmd);
	a->pmd_size = pmd;
	a->pud_size = n >= 3 ? 1ULL << a->level[n - 3].shift : 0;
	return 0;
}

int arch_select(const char *requested, const char *isa, uint64_t page_size, unsigned va_bits,
		unsigned levels, const char *dir, struct arch *out, struct avm_err *err)
{
	char name[48];

	if (requested && *requested)
		return arch_load(requested, dir, out, err);
	if (!isa || !*isa)
		return avm_errf(err, "arch: the trace does not name its ISA; choose one with --arch "
				"(see docs/arch.md)");
	if (arch_name_for(isa, page_size, va_bits, levels, name, sizeof(name), err))
		return -1;
	if (arch_load(name, dir, out, err))
		return -1;
	if (page_size && out->page_size != page_size)
		return avm_errf(err, "arch %s has %llu-byte pages but the trace has %llu", name,
				(unsigned long long)out->page_size, (unsigned long long)page_size);
	return 0;
}

void arch_tlb_flush(const struct arch *a, uint64_t nr_pages, unsigned remote,
		    struct arch_flush *out)
{
	memset(out, 0, sizeof(*out));
	if (nr_pages == 0)
		return;
	a->ops->tlb_flush(a, nr_pages, remote, out);
}

/* ---- page tables ----------------------------------------------------------------- */

#define PT_CPU_WORDS 16 /* mm_cpumask of up to 1024 CPUs; higher ids fold onto these */

struct pt_dir {
	uint32_t used; /* non-NULL children */
	void *child[];
};

struct pt_leaf {
	uint32_t present; /* set bits */
	uint64_t bits[];
};

struct arch_pt {
	const struct arch *a;
	struct arch_pt_stats *world;
	struct arch_pt_mm mm;
	struct pt_dir *top;
	unsigned leaf;          /* index of the PTE level: levels - 1 */
	unsigned leaf_shift;    /* page shift: the PTE level's index starts here */
	uint64_t leaf_mask;     /* entries per PTE table - 1 */
	uint64_t base_mask;     /* clears the offset inside one PTE table's span */
	uint64_t va_limit;      /* first address beyond the VA space (0: none) */
	uint64_t cache_base;    /* base address of cache_leaf */
	struct pt_leaf *cache_leaf;
	uint64_t cpumask[PT_CPU_WORDS];
};

static uint64_t entries(const struct arch *a, unsigned lvl)
{
	return 1ULL << a->level[lvl].bits;
}

static uint64_t level_index(const struct arch *a, unsigned lvl, uint64_t addr)
{
	return (addr >> a->level[lvl].shift) & (entries(a, lvl) - 1);
}

static void count_alloc(struct arch_pt *pt, unsigned lvl)
{
	struct arch_pt_stats *w = pt->world;
	uint64_t bytes = pt->a->level[lvl].table_bytes;

	if (++pt->mm.tables[lvl] > pt->mm.tables_peak[lvl])
		pt->mm.tables_peak[lvl] = pt->mm.tables[lvl];
	pt->mm.bytes += bytes;
	if (pt->mm.bytes > pt->mm.bytes_peak)
		pt->mm.bytes_peak = pt->mm.bytes;
	w->allocs[lvl]++;
	if (++w->tables[lvl] > w->tables_peak[lvl])
		w->tables_peak[lvl] = w->tables[lvl];
	w->bytes += bytes;
	if (w->bytes > w->bytes_peak)
		w->bytes_peak = w->bytes;
}

static void count_free(struct arch_pt *pt, unsigned lvl)
{
	uint64_t bytes = pt->a->level[lvl].table_bytes;

	pt->mm.tables[lvl]--;
	pt->mm.bytes -= bytes;
	pt->world->frees[lvl]++;
	pt->world->tables[lvl]--;
	pt->world->bytes -= bytes;
}

static void *table_new(struct arch_pt *pt, unsigned lvl)
{
	uint64_t n = entries(pt->a, lvl);
	void *t;

	if (lvl == pt->leaf)
		t = calloc(1, sizeof(struct pt_leaf) + ((n + 63) / 64) * sizeof(uint64_t));
	else
		t = calloc(1, sizeof(struct pt_dir) + n * sizeof(void *));
	if (t)
		count_alloc(pt, lvl);
	return t;
}

static void leaf_drop_ptes(struct arch_pt *pt, uint64_t n)
{
	pt->mm.ptes -= n;
	pt->world->ptes -= n;
}

/* Free a table and everything below it (its entries are gone with it). */
static void subtree_free(struct arch_pt *pt, void *t, unsigned lvl)
{
	if (lvl == pt->leaf) {
		struct pt_leaf *l = t;

		leaf_drop_ptes(pt, l->present);
		if (l == pt->cache_leaf)
			pt->cache_leaf = NULL;
	} else {
		struct pt_dir *d = t;
		uint64_t i, n = entries(pt->a, lvl);

		for (i = 0; i < n && d->used; i++) {
			if (d->child[i]) {
				subtree_free(pt, d->child[i], lvl + 1);
				d->used--;
			}
		}
	}
	free(t);
	count_free(pt, lvl);
}

int arch_pt_create(const struct arch *a, struct arch_pt_stats *world, struct arch_pt **out,
		   struct avm_err *err)
{
	struct arch_pt *pt;

	*out = NULL;
	if (a->levels < 2 || a->levels > ARCH_MAX_LEVELS)
		return avm_errf(err, "arch %s: %u levels is not supported", a->name, a->levels);
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return avm_errf(err, "arch: out of memory for a page-table model");
	pt->a = a;
	pt->world = world;
	pt->leaf = a->levels - 1;
	pt->leaf_shift = a->level[pt->leaf].shift;
	pt->leaf_mask = entries(a, pt->leaf) - 1;
	pt->base_mask = ~(arch_level_span(a, pt->leaf) - 1);
	pt->va_limit = a->va_bits < 64 ? 1ULL << a->va_bits : 0;
	pt->top = table_new(pt, 0); /* mm_alloc_pgd: the pgd lives as long as the mm */
	if (!pt->top) {
		free(pt);
		return avm_errf(err, "arch: out of memory for a pgd");
	}
	*out = pt;
	return 0;
}

void arch_pt_destroy(struct arch_pt *pt)
{
	if (!pt)
		return;
	subtree_free(pt, pt->top, 0);
	free(pt);
}

static int check_addr(const struct arch_pt *pt, uint64_t addr, struct avm_err *err)
{
	if (pt->va_limit && addr >= pt->va_limit)
		return avm_errf(err, "arch %s: address 0x%llx is beyond the %u-bit address space",
				pt->a->name, (unsigned long long)addr, pt->a->va_bits);
	return 0;
}

/* The leaf table covering addr, allocating missing tables if create. */
static struct pt_leaf *leaf_get(struct arch_pt *pt, uint64_t addr, bool create)
{
	const struct arch *a = pt->a;
	uint64_t base = addr & pt->base_mask;
	struct pt_dir *d = pt->top;
	unsigned lvl;
	void *child = NULL;

	if (pt->cache_leaf && pt->cache_base == base)
		return pt->cache_leaf;
	for (lvl = 0; lvl < pt->leaf; lvl++) {
		uint64_t i = level_index(a, lvl, addr);

		child = d->child[i];
		if (!child) {
			if (!create)
				return NULL;
			child = table_new(pt, lvl + 1);
			if (!child)
				return NULL;
			d->child[i] = child;
			d->used++;
		}
		d = child;
	}
	pt->cache_base = base;
	pt->cache_leaf = child;
	return child;
}

/* Set entries [first, first + n) of a leaf; returns how many were newly set. */
static uint64_t leaf_set(struct arch_pt *pt, struct pt_leaf *l, uint64_t first, uint64_t n)
{
	uint64_t i, added = 0;

	for (i = first; i < first + n; i++) {
		uint64_t bit = 1ULL << (i & 63);

		if (!(l->bits[i >> 6] & bit)) {
			l->bits[i >> 6] |= bit;
			added++;
		}
	}
	l->present += (uint32_t)added;
	pt->mm.ptes += added;
	pt->world->ptes += added;
	return added;
}

int arch_pt_touch(struct arch_pt *pt, uint64_t addr, struct avm_err *err)
{
	struct pt_leaf *l;

	/* The hot path: the PTE table of the last touch, the entry already set. */
	if (pt->cache_leaf && (addr & pt->base_mask) == pt->cache_base) {
		uint64_t i = (addr >> pt->leaf_shift) & pt->leaf_mask;

		if ((pt->cache_leaf->bits[i >> 6] >> (i & 63)) & 1)
			return 0;
	}
	if (check_addr(pt, addr, err))
		return -1;
	l = leaf_get(pt, addr, true);
	if (!l)
		return avm_errf(err, "arch: out of memory for page tables");
	leaf_set(pt, l, level_index(pt->a, pt->leaf, addr), 1);
	return 0;
}

int arch_pt_touch_pmd(struct arch_pt *pt, uint64_t addr, struct avm_err *err)
{
	struct pt_leaf *l;

	if (check_addr(pt, addr, err))
		return -1;
	l = leaf_get(pt, addr, true);
	if (!l)
		return avm_errf(err, "arch: out of memory for page tables");
	leaf_set(pt, l, 0, entries(pt->a, pt->leaf));
	return 0;
}

bool arch_pt_present(const struct arch_pt *pt, uint64_t addr)
{
	struct pt_leaf *l;
	uint64_t i;

	if (pt->a->va_bits < 64 && (addr >> pt->a->va_bits) != 0)
		return false;
	/* leaf_get without create never allocates; the cache update is harmless. */
	l = leaf_get((struct arch_pt *)pt, addr, false);
	if (!l)
		return false;
	i = level_index(pt->a, pt->leaf, addr);
	return (l->bits[i >> 6] >> (i & 63)) & 1;
}

/* Clear the entries of leaf l (based at base) that lie in [start, end). */
static void leaf_zap(struct arch_pt *pt, struct pt_leaf *l, uint64_t base, uint64_t start,
		     uint64_t end)
{
	const struct arch *a = pt->a;
	uint64_t n = entries(a, pt->leaf), first = 0, last = n, i, cleared = 0;
	unsigned shift = a->level[pt->leaf].shift;

	if (start > base)
		first = (start - base) >> shift;
	if (end - base < (n << shift))
		last = (end - base + (1ULL << shift) - 1) >> shift;
	for (i = first; i < last && l->present; i++) {
		uint64_t bit = 1ULL << (i & 63);

		if (l->bits[i >> 6] & bit) {
			l->bits[i >> 6] &= ~bit;
			l->present--;
			cleared++;
		}
	}
	leaf_drop_ptes(pt, cleared);
}

/*
 * free_pgd_range()'s test for one table spanning [base, base + span): it lies
 * at or above floor, and ends at or below ceiling rounded down to its span
 * (ceiling 0 = no upper limit; a ceiling that rounds down to 0 frees nothing).
 */
static bool table_freeable(uint64_t base, uint64_t span, uint64_t floor, uint64_t ceiling)
{
	uint64_t c;

	if (base < floor)
		return false;
	if (ceiling == 0)
		return true;
	c = ceiling & ~(span - 1);
	return c != 0 && base + span <= c;
}

struct pt_range {
	uint64_t start, end, floor, ceiling;
	bool free_tables;
};

static void dir_unmap(struct arch_pt *pt, struct pt_dir *d, unsigned lvl, uint64_t base,
		      const struct pt_range *r)
{
	const struct arch *a = pt->a;
	unsigned shift = a->level[lvl].shift;
	uint64_t es = 1ULL << shift, n = entries(a, lvl);
	uint64_t first = 0, last = n - 1, i;

	if (r->start > base)
		first = (r->start - base) >> shift;
	/* The caller only descends into tables the range overlaps: end > base. */
	if ((r->end - 1 - base) >> shift < last)
		last = (r->end - 1 - base) >> shift;
	for (i = first; i <= last && d->used; i++) {
		void *c = d->child[i];
		uint64_t cb = base + i * es;

		if (!c)
			continue;
		if (r->free_tables && table_freeable(cb, es, r->floor, r->ceiling)) {
			subtree_free(pt, c, lvl + 1);
			d->child[i] = NULL;
			d->used--;
		} else if (lvl + 1 == pt->leaf) {
			leaf_zap(pt, c, cb, r->start, r->end);
		} else {
			dir_unmap(pt, c, lvl + 1, cb, r);
		}
	}
}

static void pt_unmap(struct arch_pt *pt, const struct pt_range *r)
{
	uint64_t top = pt->a->va_bits < 64 ? 1ULL << pt->a->va_bits : 0;
	struct pt_range c = *r;

	if (top && c.end > top)
		c.end = top;
	if (c.start >= c.end)
		return;
	pt->cache_leaf = NULL;
	dir_unmap(pt, pt->top, 0, 0, &c);
}

void arch_pt_zap(struct arch_pt *pt, uint64_t start, uint64_t end)
{
	struct pt_range r = { .start = start, .end = end };

	pt_unmap(pt, &r);
}

void arch_pt_unmap(struct arch_pt *pt, uint64_t start, uint64_t end, uint64_t floor,
		   uint64_t ceiling)
{
	struct pt_range r = { start, end, floor, ceiling, true };

	pt_unmap(pt, &r);
}

/* Copy the present entries of src's leaf (based at base) in [start, end) into dst. */
static int leaf_copy(struct arch_pt *dst, const struct pt_leaf *l, uint64_t base,
		     uint64_t start, uint64_t end, struct arch_fork_copy *fc)
{
	const struct arch *a = dst->a;
	uint64_t n = entries(a, dst->leaf), first = 0, last = n, i;
	unsigned shift = a->level[dst->leaf].shift;
	struct pt_leaf *d = NULL;

	if (start > base)
		first = (start - base) >> shift;
	if (end - base < (n << shift))
		last = (end - base + (1ULL << shift) - 1) >> shift;
	for (i = first; i < last; i++) {
		if (!((l->bits[i >> 6] >> (i & 63)) & 1))
			continue;
		if (!d) {
			d = leaf_get(dst, base, true);
			if (!d)
				return -1;
		}
		fc->ptes++;
		leaf_set(dst, d, i, 1);
	}
	return 0;
}

static int dir_copy(struct arch_pt *dst, const struct pt_dir *d, unsigned lvl, uint64_t base,
		    uint64_t start, uint64_t end, struct arch_fork_copy *fc)
{
	const struct arch *a = dst->a;
	unsigned shift = a->level[lvl].shift;
	uint64_t es = 1ULL << shift, n = entries(a, lvl), first = 0, last = n - 1, i;

	if (start > base)
		first = (start - base) >> shift;
	if ((end - 1 - base) >> shift < last)
		last = (end - 1 - base) >> shift;
	for (i = first; i <= last; i++) {
		const void *c = d->child[i];
		uint64_t cb = base + i * es;
		int rc;

		if (!c)
			continue;
		if (lvl + 1 == dst->leaf)
			rc = leaf_copy(dst, c, cb, start, end, fc);
		else
			rc = dir_copy(dst, c, lvl + 1, cb, start, end, fc);
		if (rc)
			return -1;
	}
	return 0;
}

int arch_pt_copy(struct arch_pt *dst, const struct arch_pt *src, uint64_t start, uint64_t end,
		 struct arch_fork_copy *out, struct avm_err *err)
{
	const struct arch *a = dst->a;
	struct arch_fork_copy fc = { 0 };
	uint64_t top = a->va_bits < 64 ? 1ULL << a->va_bits : 0, allocs_before = 0, allocs = 0;
	unsigned lvl;
	int rc = 0;

	if (src->a != dst->a)
		return avm_errf(err, "arch: fork copy between two different arch models");
	if (top && end > top)
		end = top;
	for (lvl = 0; lvl < a->levels; lvl++)
		allocs_before += dst->world->allocs[lvl];
	if (start < end)
		rc = dir_copy(dst, src->top, 0, 0, start, end, &fc);
	for (lvl = 0; lvl < a->levels; lvl++)
		allocs += dst->world->allocs[lvl];
	fc.tables = allocs - allocs_before;
	fc.ns = fc.ptes * a->cost.fork_pte_ns + fc.tables * a->cost.fork_table_ns;
	dst->world->fork_copies++;
	dst->world->fork_ptes += fc.ptes;
	dst->world->fork_tables += fc.tables;
	dst->world->fork_ns += fc.ns;
	if (out) {
		out->ptes += fc.ptes;
		out->tables += fc.tables;
		out->ns += fc.ns;
	}
	if (rc)
		return avm_errf(err, "arch: out of memory for page tables");
	return 0;
}

void arch_pt_ran_on(struct arch_pt *pt, uint32_t cpu)
{
	unsigned w = (cpu / 64) % PT_CPU_WORDS;

	pt->cpumask[w] |= 1ULL << (cpu % 64);
}

void arch_pt_flush(struct arch_pt *pt, uint64_t nr_pages, uint32_t cpu, struct arch_flush *out)
{
	struct arch_pt_stats *w = pt->world;
	unsigned remote = 0, i, self = (cpu / 64) % PT_CPU_WORDS;

	for (i = 0; i < PT_CPU_WORDS; i++) {
		uint64_t m = pt->cpumask[i];

		if (i == self)
			m &= ~(1ULL << (cpu % 64));
		remote += (unsigned)__builtin_popcountll(m);
	}
	arch_tlb_flush(pt->a, nr_pages, remote, out);
	if (nr_pages == 0)
		return;
	w->flushes++;
	w->full_flushes += out->full;
	w->flush_ops += out->ops;
	w->ipis += out->ipis;
	w->flush_ns += out->ns;
}

const struct arch_pt_mm *arch_pt_mm_stats(const struct arch_pt *pt)
{
	return &pt->mm;
}

/* Recount a subtree: tables per level and present entries. */
static int subtree_check(const struct arch_pt *pt, const void *t, unsigned lvl,
			 uint64_t *tables, uint64_t *ptes, struct avm_err *err)
{
	uint64_t i, n = entries(pt->a, lvl), cnt = 0;

	tables[lvl]++;
	if (lvl == pt->leaf) {
		const struct pt_leaf *l = t;

		for (i = 0; i < (n + 63) / 64; i++)
			cnt += (uint64_t)__builtin_popcountll(l->bits[i]);
		if (cnt != l->present)
			return avm_errf(err, "arch: leaf table counts %u entries, has %llu",
					l->present, (unsigned long long)cnt);
		*ptes += cnt;
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct pt_dir *d = t;

		if (!d->child[i])
			continue;
		cnt++;
		if (subtree_check(pt, d->child[i], lvl + 1, tables, ptes, err))
			return -1;
	}
	if (cnt != ((const struct pt_dir *)t)->used)
		return avm_errf(err, "arch: %s table counts %u children, has %llu",
				pt->a->level[lvl].name, ((const struct pt_dir *)t)->used,
				(unsigned long long)cnt);
	return 0;
}

int arch_pt_check(const struct arch_pt *pt, struct avm_err *err)
{
	uint64_t tables[ARCH_MAX_LEVELS] = { 0 }, ptes = 0, bytes = 0;
	unsigned lvl;

	if (subtree_check(pt, pt->top, 0, tables, &ptes, err))
		return -1;
	for (lvl = 0; lvl < pt->a->levels; lvl++) {
		if (tables[lvl] != pt->mm.tables[lvl])
			return avm_errf(err, "arch: %s tables: counted %llu, recorded %llu",
					pt->a->level[lvl].name, (unsigned long long)tables[lvl],
					(unsigned long long)pt->mm.tables[lvl]);
		bytes += tables[lvl] * pt->a->level[lvl].table_bytes;
	}
	if (ptes != pt->mm.ptes || bytes != pt->mm.bytes)
		return avm_errf(err, "arch: entries/bytes: counted %llu/%llu, recorded %llu/%llu",
				(unsigned long long)ptes, (unsigned long long)bytes,
				(unsigned long long)pt->mm.ptes, (unsigned long long)pt->mm.bytes);
	return 0;
}

/* ---- report sections ------------------------------------------------------------- */

static bool add_num(cJSON *o, const char *key, double v)
{
	return cJSON_AddNumberToObject(o, key, v) != NULL;
}

cJSON *arch_json(const struct arch *a, struct avm_err *err)
{
	const struct arch_costs *c = &a->cost;
	cJSON *o = cJSON_CreateObject(), *levels, *costs, *rmap;
	unsigned i;
	int op;

	if (!o || !cJSON_AddStringToObject(o, "name", a->name) ||
	    !cJSON_AddStringToObject(o, "isa", a->ops->isa) ||
	    !cJSON_AddStringToObject(o, "source", a->path) ||
	    !add_num(o, "page_size", (double)a->page_size) || !add_num(o, "va_bits", a->va_bits) ||
	    !(levels = cJSON_AddArrayToObject(o, "levels")))
		goto oom;
	for (i = 0; i < a->levels; i++) {
		cJSON *l = cJSON_CreateObject();

		if (!l || !cJSON_AddItemToArray(levels, l)) {
			cJSON_Delete(l);
			goto oom;
		}
		if (!cJSON_AddStringToObject(l, "name", a->level[i].name) ||
		    !add_num(l, "entries", (double)(1ULL << a->level[i].bits)) ||
		    !add_num(l, "table_bytes", (double)a->level[i].table_bytes) ||
		    !add_num(l, "entry_maps", (double)(1ULL << a->level[i].shift)))
			goto oom;
	}
	if (!add_num(o, "pmd_size", (double)a->pmd_size) ||
	    !add_num(o, "pud_size", (double)a->pud_size) ||
	    !add_num(o, "cont_pte_size", (double)a->cont_pte_size) ||
	    !add_num(o, "cont_pmd_size", (double)a->cont_pmd_size) ||
	    !(costs = cJSON_AddObjectToObject(o, "costs")) ||
	    !add_num(costs, "walk_level_ns", (double)c->walk_level_ns) ||
	    !add_num(costs, "walk_ns", (double)arch_walk_ns(a)) ||
	    !add_num(costs, "tlb_flush_ceiling_pages", (double)c->tlb_flush_ceiling) ||
	    !add_num(costs, "tlb_single_flush_ns", (double)c->tlb_single_ns) ||
	    !add_num(costs, "tlb_full_flush_ns", (double)c->tlb_full_ns) ||
	    !add_num(costs, "tlb_sync_ns", (double)c->tlb_sync_ns) ||
	    !add_num(costs, "ipi_ns", (double)c->ipi_ns) ||
	    !add_num(costs, "ipi_extra_cpu_ns", (double)c->ipi_extra_cpu_ns) ||
	    !cJSON_AddBoolToObject(costs, "tlbi_range", c->tlbi_range) ||
	    !add_num(costs, "fork_pte_copy_ns", (double)c->fork_pte_ns) ||
	    !add_num(costs, "fork_table_ns", (double)c->fork_table_ns) ||
	    !(rmap = cJSON_AddObjectToObject(costs, "rmap")))
		goto oom;
	for (op = 0; op < LOCKS_OP_NR; op++)
		if (!add_num(rmap, locks_op_key((enum locks_op)op), (double)a->rmap.ns[op]))
			goto oom;
	return o;
oom:
	cJSON_Delete(o);
	avm_errf(err, "arch: out of memory building the report section");
	return NULL;
}

cJSON *arch_pt_stats_json(const struct arch *a, const struct arch_pt_stats *s,
			  struct avm_err *err)
{
	cJSON *o = cJSON_CreateObject(), *levels, *tlb, *fork;
	unsigned i;

	if (!o || !(levels = cJSON_AddObjectToObject(o, "levels")))
		goto oom;
	for (i = 0; i < a->levels; i++) {
		cJSON *l = cJSON_AddObjectToObject(levels, a->level[i].name);
		double tb = (double)a->level[i].table_bytes;

		if (!l || !add_num(l, "tables_end", (double)s->tables[i]) ||
		    !add_num(l, "tables_peak", (double)s->tables_peak[i]) ||
		    !add_num(l, "allocs", (double)s->allocs[i]) ||
		    !add_num(l, "frees", (double)s->frees[i]) ||
		    !add_num(l, "bytes_end", (double)s->tables[i] * tb) ||
		    !add_num(l, "bytes_peak", (double)s->tables_peak[i] * tb))
			goto oom;
	}
	if (!add_num(o, "bytes_end", (double)s->bytes) ||
	    !add_num(o, "bytes_peak", (double)s->bytes_peak) ||
	    !add_num(o, "ptes_end", (double)s->ptes) || !(tlb = cJSON_AddObjectToObject(o, "tlb")) ||
	    !add_num(tlb, "flushes", (double)s->flushes) ||
	    !add_num(tlb, "full_flushes", (double)s->full_flushes) ||
	    !add_num(tlb, "ops", (double)s->flush_ops) || !add_num(tlb, "ipis", (double)s->ipis) ||
	    !add_num(tlb, "ns", (double)s->flush_ns) ||
	    !(fork = cJSON_AddObjectToObject(o, "fork_copy")) ||
	    !add_num(fork, "copies", (double)s->fork_copies) ||
	    !add_num(fork, "ptes", (double)s->fork_ptes) ||
	    !add_num(fork, "tables", (double)s->fork_tables) ||
	    !add_num(fork, "ns", (double)s->fork_ns))
		goto oom;
	return o;
oom:
	cJSON_Delete(o);
	avm_errf(err, "arch: out of memory building the report section");
	return NULL;
}

/* into += add, key by key; numbers summed, objects recursed, the rest kept from into. */
static int json_sum_into(cJSON *into, const cJSON *add, struct avm_err *err)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, add) {
		cJSON *mine = cJSON_GetObjectItemCaseSensitive(into, item->string);

		if (!mine) {
			cJSON *copy = cJSON_Duplicate(item, 1);

			if (!copy || !cJSON_AddItemToObject(into, item->string, copy)) {
				cJSON_Delete(copy);
				return avm_errf(err, "arch: out of memory merging page_tables");
			}
		} else if (cJSON_IsNumber(mine) && cJSON_IsNumber(item)) {
			cJSON_SetNumberValue(mine, mine->valuedouble + item->valuedouble);
		} else if (cJSON_IsObject(mine) && cJSON_IsObject(item)) {
			if (json_sum_into(mine, item, err))
				return -1;
		} else if (mine->type != item->type) {
			return avm_errf(err, "page_tables: '%s' differs in type between reports",
					item->string);
		}
	}
	return 0;
}

int arch_pt_json_merge(const cJSON *a, const cJSON *b, cJSON **out, struct avm_err *err)
{
	cJSON *m;

	*out = NULL;
	if (!cJSON_IsObject(a) || !cJSON_IsObject(b))
		return avm_errf(err, "page_tables: block is not an object");
	m = cJSON_Duplicate(a, 1);
	if (!m)
		return avm_errf(err, "arch: out of memory merging page_tables");
	if (json_sum_into(m, b, err)) {
		cJSON_Delete(m);
		return -1;
	}
	*out = m;
	return 0;
}

/* ---- calibrated YAML ------------------------------------------------------------------ */

static void yaml_cost(FILE *f, const char *indent, const char *key, double v, bool fitted,
		      uint64_t seen, uint64_t prior)
{
	if (fitted)
		fprintf(f, "%s%s: %.0f  # [fit] %llu holds\n", indent, key, v,
			(unsigned long long)seen);
	else
		fprintf(f, "%s%s: %llu  # [prior] kept: seen in %llu holds, too few or not "
			   "separable from other work\n", indent, key, (unsigned long long)prior,
			(unsigned long long)seen);
}

/* The fork fit's term behind a hold-fit feature (-1: none). */
static int calib_fork_term(int feature)
{
	return feature == LOCKS_CF_PTE_COPY ? FORKFIT_PTE :
	       feature == LOCKS_CF_PT_TABLE ? FORKFIT_TABLE :
	       feature == LOCKS_CF_AVC_LINK ? FORKFIT_AVC : -1;
}

/*
 * The fork fit, when its rule accepted it, replaces the hold fit's per-PTE,
 * per-table and AVC-link costs where it resolved them (their +-2 sigma range
 * above 0): fork latencies measure the fork as a whole, the holds only the
 * part under mmap_lock.  forked[i] says which it replaced.
 */
static void calib_fork_override(const struct forkfit_result *ff, double fit[LOCKS_CF_NR],
				bool fitted[LOCKS_CF_NR], bool forked[LOCKS_CF_NR])
{
	static const int features[] = { LOCKS_CF_PTE_COPY, LOCKS_CF_PT_TABLE, LOCKS_CF_AVC_LINK };

	memset(forked, 0, LOCKS_CF_NR * sizeof(*forked));
	if (!ff || !ff->accepted)
		return;
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		int f = features[i], t = calib_fork_term(f);

		if (!ff->resolved[t])
			continue;
		fit[f] = ff->coef[t];
		forked[f] = fitted[f] = true;
	}
}

/* yaml_cost for a cost the fork fit may have replaced; share = this key's part of it. */
static void yaml_cost_fork(FILE *f, const char *key, double v, const bool fitted[LOCKS_CF_NR],
			   const bool forked[LOCKS_CF_NR], int feature, double share,
			   const struct forkfit_result *ff, const struct locks_calib *c,
			   uint64_t prior)
{
	int t = calib_fork_term(feature);

	if (!forked[feature]) {
		yaml_cost(f, "  ", key, v, fitted[feature], c->seen[feature], prior);
		return;
	}
	fprintf(f, "  %s: %.0f  # [fit] fork latencies, %zu forks, R^2 %.3f, +-2 sigma "
		   "[%.1f, %.1f]\n", key, v, ff->used, ff->r2,
		share * (ff->coef[t] - 2 * ff->se[t]), share * (ff->coef[t] + 2 * ff->se[t]));
}

/*
 * The calibration both outputs share: the priors from the arch's costs, the
 * fit of the measured holds, the fork-latency fit over it where it resolved a
 * term, and the ratio by which each AVC pair's fit scales its two parts
 * (a pair's fit is split in the ratio of its prior parts).
 */
static void calib_solve(const struct arch *a, const struct locks_calib *c, uint64_t min_samples,
			const struct forkfit_result *ff, double prior[LOCKS_CF_NR],
			double fit[LOCKS_CF_NR], bool fitted[LOCKS_CF_NR], bool forked[LOCKS_CF_NR],
			double *link, double *unlink)
{
	const struct locks_costs *r = &a->rmap;

	for (int i = 0; i < LOCKS_CF_NR; i++)
		prior[i] = 0;
	prior[LOCKS_CF_LOCK] = (double)r->ns[LOCKS_OP_LOCK];
	prior[LOCKS_CF_AV_ALLOC] = (double)r->ns[LOCKS_OP_AV_ALLOC];
	prior[LOCKS_CF_AV_FREE] = (double)r->ns[LOCKS_OP_AV_FREE];
	prior[LOCKS_CF_AVC_LINK] = (double)(r->ns[LOCKS_OP_AVC_ALLOC] + r->ns[LOCKS_OP_TREE_INSERT]);
	prior[LOCKS_CF_AVC_UNLINK] = (double)(r->ns[LOCKS_OP_TREE_REMOVE] + r->ns[LOCKS_OP_AVC_FREE]);
	prior[LOCKS_CF_FOLIO_REWRITE] = (double)r->ns[LOCKS_OP_FOLIO_REWRITE];
	prior[LOCKS_CF_PTE_COPY] = (double)a->cost.fork_pte_ns;
	prior[LOCKS_CF_PT_TABLE] = (double)a->cost.fork_table_ns;
	locks_calib_fit(c, prior, min_samples, fit, fitted);
	calib_fork_override(ff, fit, fitted, forked);
	*link = prior[LOCKS_CF_AVC_LINK] > 0 ? fit[LOCKS_CF_AVC_LINK] / prior[LOCKS_CF_AVC_LINK] : 0;
	*unlink = prior[LOCKS_CF_AVC_UNLINK] > 0 ?
			  fit[LOCKS_CF_AVC_UNLINK] / prior[LOCKS_CF_AVC_UNLINK] : 0;
}

int arch_write_calibrated(const struct arch *a, const struct locks_calib *c,
			  uint64_t min_samples, const char *source, const char *path,
			  struct avm_err *err)
{
	return arch_write_calibrated_fork(a, c, min_samples, NULL, source, path, err);
}

int arch_write_calibrated_fork(const struct arch *a, const struct locks_calib *c,
			       uint64_t min_samples, const struct forkfit_result *ff,
			       const char *source, const char *path, struct avm_err *err)
{
	const struct locks_costs *r = &a->rmap;
	double prior[LOCKS_CF_NR] = { 0 }, fit[LOCKS_CF_NR], link, unlink;
	bool fitted[LOCKS_CF_NR], forked[LOCKS_CF_NR];
	char name[48], src_esc[PATH_MAX], from_esc[PATH_MAX];
	const char *base = strrchr(path, '/');
	size_t n;
	struct outfile o;
	FILE *f;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	if (n == 0 || n >= sizeof(name))
		return avm_errf(err, "%s: the file name must be NAME.yaml (1-47 characters)", path);
	memcpy(name, base, n);
	name[n] = '\0';
	calib_solve(a, c, min_samples, ff, prior, fit, fitted, forked, &link, &unlink);

	/* the comments name files; a newline there would end the comment */
	outfile_escape_buf(src_esc, sizeof(src_esc), source ? source : "a trace", OUTFILE_ESC_LINE);
	outfile_escape_buf(from_esc, sizeof(from_esc), a->path, OUTFILE_ESC_LINE);
	if (outfile_open(&o, path, err))
		return -1;
	f = o.f;
	fprintf(f, "# %s.yaml - %s with costs fitted by anonvma-replay --calibrate\n", name,
		a->name);
	fprintf(f, "# to %llu measured mmap_lock write holds of %s.\n",
		(unsigned long long)c->samples, src_esc);
	fprintf(f, "# Geometry and TLB costs: as in %s (see its sources).\n", from_esc);
	fprintf(f, "# Work the models do not see, per hold: %.0f ns; per VMA copied at fork: %.0f ns.\n",
		fit[LOCKS_CF_BASE], fit[LOCKS_CF_VMA_COPY]);
	if (!ff)
		fprintf(f, "# Fork latencies: none in the trace (schema version 1 or not measured).\n");
	else if (ff->accepted)
		fprintf(f, "# Fork latencies: %zu forks (%zu outliers dropped), R^2 %.3f, |residual| "
			   "median %.0f ns, p90 %.0f ns;\n#   per fork %.0f ns, per VMA copied %.0f ns "
			   "(both designs copy every VMA: no arch key).\n",
			ff->used, ff->outliers, ff->r2, ff->resid_median, ff->resid_p90,
			ff->coef[FORKFIT_BASE], ff->coef[FORKFIT_VMA]);
	else
		fprintf(f, "# Fork latencies: fit refused, fork costs not replaced by it: %s.\n",
			ff->why);
	fprintf(f, "name: %s\nisa: %s\npage_size: %llu\nva_bits: %u\nlevels: %u\n", name,
		a->ops->isa, (unsigned long long)a->page_size, a->va_bits, a->levels);
	fprintf(f, "pmd_size: %llu\ncont_pte_size: %llu\ncont_pmd_size: %llu\n",
		(unsigned long long)a->pmd_size, (unsigned long long)a->cont_pte_size,
		(unsigned long long)a->cont_pmd_size);
	fprintf(f, "walk:\n  level_ns: %llu\n", (unsigned long long)a->cost.walk_level_ns);
	fprintf(f, "tlb:\n  flush_ceiling_pages: %llu\n  single_flush_ns: %llu\n"
		   "  full_flush_ns: %llu\n  sync_ns: %llu\n  ipi_ns: %llu\n"
		   "  ipi_extra_cpu_ns: %llu\n  range: %s\n",
		(unsigned long long)a->cost.tlb_flush_ceiling,
		(unsigned long long)a->cost.tlb_single_ns, (unsigned long long)a->cost.tlb_full_ns,
		(unsigned long long)a->cost.tlb_sync_ns, (unsigned long long)a->cost.ipi_ns,
		(unsigned long long)a->cost.ipi_extra_cpu_ns, a->cost.tlbi_range ? "true" : "false");
	fprintf(f, "fork:\n");
	yaml_cost_fork(f, "pte_copy_ns", fit[LOCKS_CF_PTE_COPY], fitted, forked,
		       LOCKS_CF_PTE_COPY, 1, ff, c, a->cost.fork_pte_ns);
	yaml_cost_fork(f, "table_ns", fit[LOCKS_CF_PT_TABLE], fitted, forked, LOCKS_CF_PT_TABLE,
		       1, ff, c, a->cost.fork_table_ns);
	fprintf(f, "rmap:\n");
	yaml_cost(f, "  ", "lock_ns", fit[LOCKS_CF_LOCK], fitted[LOCKS_CF_LOCK],
		  c->seen[LOCKS_CF_LOCK], r->ns[LOCKS_OP_LOCK]);
	yaml_cost(f, "  ", "anon_vma_alloc_ns", fit[LOCKS_CF_AV_ALLOC], fitted[LOCKS_CF_AV_ALLOC],
		  c->seen[LOCKS_CF_AV_ALLOC], r->ns[LOCKS_OP_AV_ALLOC]);
	yaml_cost(f, "  ", "anon_vma_free_ns", fit[LOCKS_CF_AV_FREE], fitted[LOCKS_CF_AV_FREE],
		  c->seen[LOCKS_CF_AV_FREE], r->ns[LOCKS_OP_AV_FREE]);
	yaml_cost_fork(f, "avc_alloc_ns", link * (double)r->ns[LOCKS_OP_AVC_ALLOC], fitted,
		       forked, LOCKS_CF_AVC_LINK,
		       prior[LOCKS_CF_AVC_LINK] > 0 ?
			       (double)r->ns[LOCKS_OP_AVC_ALLOC] / prior[LOCKS_CF_AVC_LINK] : 0,
		       ff, c, r->ns[LOCKS_OP_AVC_ALLOC]);
	yaml_cost_fork(f, "interval_tree_insert_ns", link * (double)r->ns[LOCKS_OP_TREE_INSERT],
		       fitted, forked, LOCKS_CF_AVC_LINK,
		       prior[LOCKS_CF_AVC_LINK] > 0 ?
			       (double)r->ns[LOCKS_OP_TREE_INSERT] / prior[LOCKS_CF_AVC_LINK] : 0,
		       ff, c, r->ns[LOCKS_OP_TREE_INSERT]);
	yaml_cost(f, "  ", "avc_free_ns", unlink * (double)r->ns[LOCKS_OP_AVC_FREE],
		  fitted[LOCKS_CF_AVC_UNLINK], c->seen[LOCKS_CF_AVC_UNLINK],
		  r->ns[LOCKS_OP_AVC_FREE]);
	yaml_cost(f, "  ", "interval_tree_remove_ns", unlink * (double)r->ns[LOCKS_OP_TREE_REMOVE],
		  fitted[LOCKS_CF_AVC_UNLINK], c->seen[LOCKS_CF_AVC_UNLINK],
		  r->ns[LOCKS_OP_TREE_REMOVE]);
	fprintf(f, "  folio_rewrite_ns: %llu  # [estimate] kept: no mainline kernel rewrites "
		   "folio->mapping at fork\n", (unsigned long long)r->ns[LOCKS_OP_FOLIO_REWRITE]);
	fprintf(f, "  rmap_vma_ns: %llu  # [prior] not measurable from mmap_lock holds\n",
		(unsigned long long)r->ns[LOCKS_OP_RMAP_VMA]);
	fprintf(f, "  vma_lookup_ns: %llu  # [prior] not measurable from mmap_lock holds\n",
		(unsigned long long)r->ns[LOCKS_OP_VMA_LOOKUP]);
	for (int op = LOCKS_OP_VMA_WRITE; op < LOCKS_OP_NR; op++)
		fprintf(f, "  %s: %llu  # [prior] not fitted\n", locks_op_key((enum locks_op)op),
			(unsigned long long)r->ns[op]);
	return outfile_commit(&o, err); /* never leaves a half-written file */
}

/* ---- cost constants for re-costing (verdict.h) ------------------------------------------ */

void arch_recost(const struct arch *a, struct locks_recost *out)
{
	out->rmap = a->rmap;
	out->walk_ns = arch_walk_ns(a);
}

size_t arch_cost_consts(const struct arch *a, struct verdict_const *out, size_t max)
{
	size_t n = 0, k;
	int op;

	for (k = 0; k < NKEYS && n < max; k++) {
		uint64_t v;

		if (keys[k].kind != K_NS)
			continue;
		memcpy(&v, (const char *)a + keys[k].off, sizeof(v));
		out[n] = (struct verdict_const){
			.key = keys[k].key, .value = (double)v, .low = (double)a->key_range[k].low,
			.high = (double)a->key_range[k].high, .ranged = a->key_range[k].ranged,
			.op = -1, .mult = 1,
		};
		/* the page-table walk of every rmap walk's section: levels x level_ns */
		if (keys[k].off == offsetof(struct arch, cost.walk_level_ns)) {
			out[n].op = LOCKS_OP_NR;
			out[n].mult = a->levels;
		}
		n++;
	}
	for (op = 0; op < LOCKS_OP_NR && n < max; op++) {
		static char names[LOCKS_OP_NR][48];

		snprintf(names[op], sizeof(names[op]), "rmap.%s", locks_op_key((enum locks_op)op));
		out[n++] = (struct verdict_const){
			.key = names[op], .value = (double)a->rmap.ns[op],
			.low = (double)a->rmap_range[op].low, .high = (double)a->rmap_range[op].high,
			.ranged = a->rmap_range[op].ranged, .op = op, .mult = 1,
		};
	}
	return n;
}

/* One `constants` entry of the costs block. */
static bool cost_entry(cJSON *consts, const char *key, double v, bool fitted, bool forked,
		       int feature, double share, const struct forkfit_result *ff,
		       const struct locks_calib *c, const struct arch *a, const char *why)
{
	cJSON *e = cJSON_AddObjectToObject(consts, key);
	int t = calib_fork_term(feature);
	bool ok = e && cJSON_AddNumberToObject(e, "value", round(v)) &&
		  cJSON_AddStringToObject(e, "source", fitted ? "fitted" : "estimate");

	if (!ok)
		return false;
	if (forked && t >= 0)
		return cJSON_AddStringToObject(e, "from", "fork_latencies") &&
		       cJSON_AddNumberToObject(e, "n", (double)ff->used) &&
		       cJSON_AddNumberToObject(e, "r2", ff->r2) &&
		       cJSON_AddNumberToObject(e, "low", share * (ff->coef[t] - 2 * ff->se[t])) &&
		       cJSON_AddNumberToObject(e, "high", share * (ff->coef[t] + 2 * ff->se[t]));
	if (fitted)
		return cJSON_AddStringToObject(e, "from", "mmap_lock_holds") &&
		       cJSON_AddNumberToObject(e, "n", (double)c->seen[feature]);
	return cJSON_AddStringToObject(e, "from", a->path) &&
	       (!why || cJSON_AddStringToObject(e, "why", why));
}

cJSON *arch_calibrated_costs_json(const struct arch *a, const struct locks_calib *c,
				  uint64_t min_samples, const struct forkfit_result *ff,
				  struct avm_err *err)
{
	const struct locks_costs *r = &a->rmap;
	double prior[LOCKS_CF_NR] = { 0 }, fit[LOCKS_CF_NR], link, unlink, ins;
	bool fitted[LOCKS_CF_NR], forked[LOCKS_CF_NR];
	cJSON *o = cJSON_CreateObject(), *consts = NULL, *fj = NULL;
	bool ok;

	calib_solve(a, c, min_samples, ff, prior, fit, fitted, forked, &link, &unlink);
	ins = prior[LOCKS_CF_AVC_LINK] > 0 ?
		      (double)r->ns[LOCKS_OP_AVC_ALLOC] / prior[LOCKS_CF_AVC_LINK] : 0;
	if (o && ff) {
		fj = forkfit_json(ff, err);
		if (!fj) {
			cJSON_Delete(o);
			return NULL;
		}
		cJSON_AddItemToObject(o, "fork_fit", fj);
	}
	ok = o && (ff || cJSON_AddNullToObject(o, "fork_fit"));
	consts = ok ? cJSON_AddObjectToObject(o, "constants") : NULL;
	ok = consts &&
	     cost_entry(consts, "fork.pte_copy_ns", fit[LOCKS_CF_PTE_COPY],
			fitted[LOCKS_CF_PTE_COPY], forked[LOCKS_CF_PTE_COPY], LOCKS_CF_PTE_COPY, 1,
			ff, c, a, NULL) &&
	     cost_entry(consts, "fork.table_ns", fit[LOCKS_CF_PT_TABLE], fitted[LOCKS_CF_PT_TABLE],
			forked[LOCKS_CF_PT_TABLE], LOCKS_CF_PT_TABLE, 1, ff, c, a, NULL) &&
	     cost_entry(consts, "rmap.lock_ns", fit[LOCKS_CF_LOCK], fitted[LOCKS_CF_LOCK], false,
			LOCKS_CF_LOCK, 1, ff, c, a, NULL) &&
	     cost_entry(consts, "rmap.anon_vma_alloc_ns", fit[LOCKS_CF_AV_ALLOC],
			fitted[LOCKS_CF_AV_ALLOC], false, LOCKS_CF_AV_ALLOC, 1, ff, c, a, NULL) &&
	     cost_entry(consts, "rmap.anon_vma_free_ns", fit[LOCKS_CF_AV_FREE],
			fitted[LOCKS_CF_AV_FREE], false, LOCKS_CF_AV_FREE, 1, ff, c, a, NULL) &&
	     cost_entry(consts, "rmap.avc_alloc_ns", link * (double)r->ns[LOCKS_OP_AVC_ALLOC],
			fitted[LOCKS_CF_AVC_LINK], forked[LOCKS_CF_AVC_LINK], LOCKS_CF_AVC_LINK,
			ins, ff, c, a, NULL) &&
	     cost_entry(consts, "rmap.interval_tree_insert_ns",
			link * (double)r->ns[LOCKS_OP_TREE_INSERT], fitted[LOCKS_CF_AVC_LINK],
			forked[LOCKS_CF_AVC_LINK], LOCKS_CF_AVC_LINK, 1 - ins, ff, c, a, NULL) &&
	     cost_entry(consts, "rmap.avc_free_ns", unlink * (double)r->ns[LOCKS_OP_AVC_FREE],
			fitted[LOCKS_CF_AVC_UNLINK], false, LOCKS_CF_AVC_UNLINK, 1, ff, c, a, NULL) &&
	     cost_entry(consts, "rmap.interval_tree_remove_ns",
			unlink * (double)r->ns[LOCKS_OP_TREE_REMOVE], fitted[LOCKS_CF_AVC_UNLINK],
			false, LOCKS_CF_AVC_UNLINK, 1, ff, c, a, NULL) &&
	     cost_entry(consts, "rmap.folio_rewrite_ns", prior[LOCKS_CF_FOLIO_REWRITE], false,
			false, LOCKS_CF_FOLIO_REWRITE, 1, ff, c, a,
			"no mainline kernel rewrites folio->mapping at fork") &&
	     cost_entry(consts, "rmap.rmap_vma_ns", (double)r->ns[LOCKS_OP_RMAP_VMA], false, false,
			-1, 1, ff, c, a, "rmap walks take no mmap_lock and no fork latency shows them") &&
	     cost_entry(consts, "rmap.vma_lookup_ns", (double)r->ns[LOCKS_OP_VMA_LOOKUP], false,
			false, -1, 1, ff, c, a, "a lazy walk step: no mainline kernel does it");
	if (!ok) {
		cJSON_Delete(o);
		avm_errf(err, "out of memory (costs block)");
		return NULL;
	}
	return o;
}
