/*
 * replay.c - the replay loop; see replay.h.
 *
 * Algorithm.  The trace is streamed once and every event goes to every world
 * in the same order:
 *
 *   AVM_SNAPSHOT, reason start  the snapshot's rows, grouped by mm (they
 *                               arrive in (mm, start) order), are adopted by
 *                               the world with the snapshot's anon_vma rows
 *                               (pre-existing state);
 *   AVM_EXEC                    the exec snapshot's rows (ev->b, 0 = none) go
 *                               to world_exec, which builds the new mm;
 *   AVM_SNAPSHOT, reason exit   (--validate only) the rows of an mm at the end
 *                               of its life are compared with the eager
 *                               world's VMAs of that mm; no world applies them;
 *   anything else               world_apply (worlds ignore what they do not
 *                               model, e.g. the kernel's own AVM_SLAB records).
 *
 * Threads.  Reading SQLite costs about as much as one world, and worlds
 * share nothing, so the work is a pipeline:
 *
 *   reader thread ──batches──▶ ring of REPLAY_SLOTS ──▶ one thread per world
 *
 * The reader fills a batch with up to REPLAY_BATCH events and, for the
 * events that need them, the snapshot rows (so only the reader touches the
 * trace connection); it publishes the batch with the number of worlds that
 * must consume it.  Each world thread takes batches in order, applies every
 * event to its world, and releases the batch; the last release frees the slot
 * for the reader.  One mutex and two condition variables guard the ring; a
 * hand-off costs nothing next to a 4096-event batch.  Memory: the worlds'
 * live state plus REPLAY_SLOTS batches (snapshot rows included).
 *
 * With --validate the eager world's thread also drives validate.c: it sees
 * every event before the eager world does, the eager stats after, and the
 * kernel's and the world's VMA layout after every snapshot was applied.
 *
 * Segments.  Several segments of one rotated collection (replay.h) are read
 * one after the other by the reader as one stream: a later segment's start
 * snapshot is not applied (the worlds already hold that state: the
 * collector gave the earlier segment every event older than the snapshot),
 * its times are shifted by meta segment_offset_ns, and the earlier segment's
 * last events - those past the later one's start, which the collector wrote
 * while the new snapshot was read - are merged with the later segment's by
 * time, so the stream is the collector's own order again (a fork after its
 * parent was read but before its child was goes to the earlier segment, yet
 * comes after the parent's later events).  Seqs are counted across the
 * segments.  The report's trace.segments lists them.
 *
 * Names.  Processes named in the report (top_processes, validation) get the
 * comm and exe of the last processes row of their pid (schema version 3 on;
 * older traces: pid only).
 *
 * The main thread waits, prints progress about once a second, and turns the
 * stop flag (SIGINT) into an abort of every thread.  The first error of any
 * thread aborts the others; replay_run then returns -1 with that error and no
 * report, so the caller never sees a partial result.
 */
#include "replay.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch.h"
#include "array.h"
#include "locks.h"
#include "model.h"
#include "report.h"
#include "rmap_walk.h"
#include "trace.h"
#include "track.h"
#include "translate.h"
#include "u64map.h"
#include "verdict.h"
#include "world.h"

#define REPLAY_BATCH 4096
#define REPLAY_SLOTS 4
/* --calibrate: a cost is fitted only from at least this many holds that exercised it. */
#define REPLAY_CALIB_MIN_HOLDS 10

/* Growable arrays of snapshot rows. */
struct replay_rows {
	struct avm_snap_vma *v;
	size_t n, cap;
	struct avm_snap_av *a;
	size_t na, capa;
};

/* The snapshot rows of one event of a batch (slices of the batch's rows). */
struct replay_snapref {
	uint32_t ev;            /* index of the event in the batch */
	size_t v, nv, a, na;    /* offsets and counts in the batch's rows */
};

struct replay_batch {
	uint64_t no;            /* batch number; slot = no % REPLAY_SLOTS */
	int pending;            /* world threads that still have to consume it; 0: free */
	bool filled, last;
	uint32_t n;
	struct avm_event ev[REPLAY_BATCH];
	struct replay_rows rows;
	struct replay_snapref *refs;
	size_t nrefs, caprefs;
};

/* The trace's meta rows, kept for the report. */
struct replay_meta {
	struct report_meta *rows;
	size_t n, cap;
};

struct replay;

/* One world and the thread that feeds it. */
struct replay_worker {
	struct replay *r;
	struct world *w;
	bool validated;               /* drives r->val (the eager world with --validate) */
	pthread_t th;
	bool started;
	uint64_t done;                /* events applied (read under r->mu) */
	double cpu;                   /* CPU seconds of the thread, set when it ends */
	struct validate_vma *wvmas;   /* one mm's layout, for validate_snapshot */
	size_t nwvmas, capwvmas;
	struct avm_err err;
};

/* One combination of swept values: its config and its world per model (report order). */
struct replay_combo {
	struct config cfg;
	struct replay_worker *w[REPLAY_MAX_MODELS];
	size_t n;
};

/* An event of segment seg held back until the next segment's events pass its time. */
struct replay_held {
	struct avm_event ev;
	size_t seg;
};

/* A process's name for the report (table processes, the latest row of its pid). */
struct replay_name {
	char *comm, *exe;
};

struct replay {
	const struct replay_opts *o;
	struct trace *t;
	/* segments: segs[0] is t; the reader reads segs[cur] (only it touches them) */
	struct trace **segs;
	size_t nsegs, cur;
	int64_t *seg_offset;          /* meta segment_offset_ns of each */
	uint64_t seq_run;             /* seqs given across the segments */
	struct avm_event look;        /* the next event of segs[cur] (look_valid) */
	bool look_valid, look_eof;
	struct replay_held *held;     /* events held back to merge with the next segment */
	size_t nheld, heldpos, capheld;
	uint64_t lost_sum;            /* meta lost_events, summed */
	bool complete_all;            /* every segment closed by its writer */
	bool recovered_any;
	struct u64map names;          /* pid -> struct replay_name */
	struct replay_worker workers[REPLAY_MAX_WORLDS];
	size_t nworkers;
	struct replay_combo combos[REPLAY_SWEEP_MAX]; /* one without --sweep */
	size_t ncombos;
	struct world *eager;          /* the validated world, NULL without --validate */
	struct validate *val;
	struct replay_meta meta;
	struct arch arch;             /* page tables and lock costs of every world */
	bool have_arch;
	struct xlate *xl;             /* the arch has other pages or fewer VA bits (translate.h) */
	struct avm_event *pend;       /* translated events that did not fit the last batch */
	size_t npend, ipend, cappend;
	char note[256];
	/* the pipeline */
	struct replay_batch *slots;   /* REPLAY_SLOTS */
	pthread_t reader;
	bool reader_started;
	pthread_mutex_t mu;
	pthread_cond_t filled, freed, progress;
	bool abort;                   /* stop every thread */
	bool failed;                  /* err holds the first error */
	int running;                  /* threads not finished */
	uint64_t read;                /* events read */
	uint64_t t_first, t_last;     /* event times seen by the reader (trace.duration_ns) */
	double reader_cpu;            /* CPU seconds of the reader thread */
	struct avm_err err;
};

static double replay_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double replay_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int replay_grow(void **p, size_t *cap, size_t need, size_t size, struct avm_err *err)
{
	if (array_grow(p, cap, need, size, 64))
		return avm_errf(err, "replay: out of memory");
	return 0;
}

/* ---- options ------------------------------------------------------------ */

size_t replay_default_models(const char **names, size_t max)
{
	static const char *const wanted[] = { "eager", "lazy", "cowctx" };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]) && n < max; i++)
		if (model_find(wanted[i]))
			names[n++] = wanted[i];
	return n;
}

void replay_opts_default(struct replay_opts *o)
{
	memset(o, 0, sizeof(*o));
	validate_params_default(&o->vparams);
	o->nmodels = replay_default_models(o->models, REPLAY_MAX_MODELS);
}

static void replay_known_models(char *buf, size_t len)
{
	static const char *const all[] = { "eager", "lazy", "cowctx" };
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (model_find(all[i]) && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", all[i]);
}

int replay_parse_models(struct replay_opts *o, char *list, struct avm_err *err)
{
	char known[64], *save = NULL, *name;

	replay_known_models(known, sizeof(known));
	o->nmodels = 0;
	for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if (!model_find(name))
			return avm_errf(err, "unknown model '%s' (this build has: %s)", name, known);
		for (size_t i = 0; i < o->nmodels; i++)
			if (!strcmp(o->models[i], name))
				return avm_errf(err, "model '%s' named twice", name);
		if (o->nmodels == REPLAY_MAX_MODELS)
			return avm_errf(err, "at most %d models", REPLAY_MAX_MODELS);
		o->models[o->nmodels++] = name;
	}
	if (o->nmodels == 0)
		return avm_errf(err, "no model named (this build has: %s)", known);
	return 0;
}

/* ---- trace meta ------------------------------------------------------------- */

static int replay_meta_row(void *ctx, const char *key, const char *value, struct avm_err *err)
{
	struct replay_meta *m = ctx;
	struct report_meta *r;

	if (replay_grow((void **)&m->rows, &m->cap, m->n + 1, sizeof(*m->rows), err))
		return -1;
	r = &m->rows[m->n];
	r->key = strdup(key);
	r->value = strdup(value);
	if (!r->key || !r->value) {
		free((char *)r->key);
		free((char *)r->value);
		return avm_errf(err, "replay: out of memory");
	}
	m->n++;
	return 0;
}

static void replay_meta_free(struct replay_meta *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free((char *)m->rows[i].key);
		free((char *)m->rows[i].value);
	}
	free(m->rows);
}

static const char *replay_meta_lookup(const struct replay_meta *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->rows[i].key, key))
			return m->rows[i].value;
	return NULL;
}

/* The name the trace is reported by. */
static const char *replay_name(const struct replay_opts *o)
{
	return o->trace_name ? o->trace_name : o->trace_path;
}

/* A meta integer, or 0 when absent; a malformed one is an error naming the key. */
static int replay_meta_u64(const struct replay *r, const char *key, uint64_t *out,
			   struct avm_err *err)
{
	const char *v = replay_meta_lookup(&r->meta, key);
	char *end;

	*out = 0;
	if (!v)
		return 0;
	*out = strtoull(v, &end, 10);
	if (end == v || *end)
		return avm_errf(err, "%s: meta %s = '%s' is not a number", replay_name(r->o), key, v);
	return 0;
}

/* sysfs style "always [madvise] never" or a bare word. */
static int replay_thp_mode(const char *v)
{
	static const char *const modes[] = { "never", "madvise", "always" };
	char sel[16];

	if (!v)
		return -1;
	for (int i = 0; i < 3; i++) {
		snprintf(sel, sizeof(sel), "[%s]", modes[i]);
		if (strstr(v, sel) || !strcmp(v, modes[i]))
			return i;
	}
	return -1;
}

/*
 * The trace's addresses are in its own pages and address space: an arch with
 * larger pages or fewer VA bits replays them through translate.h.
 */
static int replay_translate(struct replay *r, const char *isa, uint64_t page, unsigned va_bits,
			    struct avm_err *err)
{
	const char *aisa = r->arch.isa == ARCH_ISA_X86_64 ? "x86_64" : "arm64";
	struct xlate_params p = {
		.src_page = page ? page : r->arch.page_size, .dst_page = r->arch.page_size,
		.src_va_bits = va_bits, .dst_va_bits = r->arch.va_bits,
		.src_top = xlate_user_top(isa && *isa ? isa : aisa, va_bits ? va_bits :
					  r->arch.va_bits),
		.dst_top = xlate_user_top(aisa, r->arch.va_bits),
		.dst_name = r->arch.name,
	};

	if (!xlate_needed(p.src_page, p.src_top, p.dst_page, p.dst_top))
		return 0;
	if (p.src_page > p.dst_page)
		return avm_errf(err, "arch %s has %llu-byte pages but %s was recorded with %llu-byte "
				     "pages: only translating to larger pages is modelled",
				r->arch.name, (unsigned long long)r->arch.page_size,
				r->o->trace_path, (unsigned long long)page);
	if (r->o->validate)
		return avm_errf(err, "--validate: arch %s is translated from the trace's %llu-byte "
				     "pages and %u-bit VA: there is no kernel to compare with",
				r->arch.name, (unsigned long long)p.src_page, va_bits);
	if (r->o->calibrate_path)
		return avm_errf(err, "--calibrate: arch %s is translated from the trace's %llu-byte "
				     "pages and %u-bit VA: the holds were measured on another layout",
				r->arch.name, (unsigned long long)p.src_page, va_bits);
	if (!p.src_va_bits)
		p.src_va_bits = r->arch.va_bits;
	snprintf(r->note, sizeof(r->note), "%s replays a translation of the trace (%llu-byte pages, "
		 "%u-bit VA) to its %llu-byte pages and %u-bit VA: arch.translated_from counts what "
		 "changed (docs/arch.md)", r->arch.name, (unsigned long long)p.src_page,
		 p.src_va_bits, (unsigned long long)p.dst_page, r->arch.va_bits);
	return xlate_create(&p, &r->xl, err);
}

/*
 * The arch model: --arch, else the config's arch, else the one the trace's
 * meta (ISA, page size, VA bits, levels) names.  A trace that does not name
 * its ISA replays without one (no page tables, no lock holds), with a note.
 */
static int replay_arch(struct replay *r, const struct config *cfg, uint64_t page,
		       struct avm_err *err)
{
	const char *requested = r->o->arch ? r->o->arch : cfg->arch;
	const char *isa = replay_meta_lookup(&r->meta, "arch");
	uint64_t va_bits, levels;

	if (replay_meta_u64(r, "va_bits", &va_bits, err) ||
	    replay_meta_u64(r, "pgtable_levels", &levels, err))
		return -1;
	if ((!requested || !*requested) && (!isa || !*isa)) {
		snprintf(r->note, sizeof(r->note), "the trace does not name its ISA: page tables and "
			 "lock holds are not modelled (choose an arch with --arch)");
		return 0;
	}
	if (arch_select(requested, isa, page, (unsigned)va_bits, (unsigned)levels, NULL, &r->arch,
			err))
		return -1;
	r->have_arch = true;
	return replay_translate(r, isa, page, (unsigned)va_bits, err);
}

static int replay_world_meta(struct replay *r, const struct config *cfg, struct world_meta *wm,
			     struct avm_err *err)
{
	uint64_t av, avc, vma, page;

	world_meta_defaults(wm);
	wm->skip_unknown_mm = true; /* a trace: events on an mm it never made are skipped */
	if (replay_meta_u64(r, "size_anon_vma", &av, err) ||
	    replay_meta_u64(r, "size_anon_vma_chain", &avc, err) ||
	    replay_meta_u64(r, "size_vm_area_struct", &vma, err) ||
	    replay_meta_u64(r, "page_size", &page, err))
		return -1;
	if (av)
		wm->size_anon_vma = (uint32_t)av;
	if (avc)
		wm->size_avc = (uint32_t)avc;
	if (vma)
		wm->size_vma = (uint32_t)vma;
	if (page)
		wm->page_size = page;
	wm->thp_enabled = replay_thp_mode(replay_meta_lookup(&r->meta, "thp_enabled"));
	/* schema 3: anon folio sizes and PT_RECLAIM (absent from older traces) */
	wm->thp_anon_sizes = replay_meta_lookup(&r->meta, "thp_anon_sizes");
	{
		const char *ptr = replay_meta_lookup(&r->meta, "pt_reclaim");

		wm->pt_reclaim = !ptr || !strcmp(ptr, "unknown") ? -1 : !strcmp(ptr, "y");
	}
	if (replay_arch(r, cfg, page, err))
		return -1;
	if (r->have_arch) {
		wm->arch = &r->arch;
		wm->page_size = r->arch.page_size;
	}
	return 0;
}

/* ---- the reader thread --------------------------------------------------------- */

static int replay_take_vma(void *ctx, const struct avm_snap_vma *v, struct avm_err *err)
{
	struct replay_rows *rows = ctx;

	if (replay_grow((void **)&rows->v, &rows->cap, rows->n + 1, sizeof(*rows->v), err))
		return -1;
	rows->v[rows->n++] = *v;
	return 0;
}

static int replay_take_av(void *ctx, const struct avm_snap_av *a, struct avm_err *err)
{
	struct replay_rows *rows = ctx;

	if (replay_grow((void **)&rows->a, &rows->capa, rows->na + 1, sizeof(*rows->a), err))
		return -1;
	rows->a[rows->na++] = *a;
	return 0;
}

/* Attach the rows of snapshot `snap` (and its anon_vmas if avs) to event i of b. */
static int replay_attach_snapshot(struct trace *t, struct replay_batch *b, uint32_t i,
				  uint64_t snap, bool avs, struct avm_err *err)
{
	struct replay_snapref *ref;

	if (replay_grow((void **)&b->refs, &b->caprefs, b->nrefs + 1, sizeof(*b->refs), err))
		return -1;
	ref = &b->refs[b->nrefs];
	ref->ev = i;
	ref->v = b->rows.n;
	ref->a = b->rows.na;
	if (trace_snapshot_vmas(t, snap, replay_take_vma, &b->rows, err))
		return -1;
	if (avs && trace_snapshot_avs(t, snap, replay_take_av, &b->rows, err))
		return -1;
	ref->nv = b->rows.n - ref->v;
	ref->na = b->rows.na - ref->a;
	b->nrefs++;
	return 0;
}

/* Combinations of the swept values (1 without --sweep). */
static size_t replay_ncombos(const struct replay_opts *o)
{
	size_t n = 1;

	for (size_t k = 0; k < o->nsweep; k++)
		n *= o->sweep[k].nvalues;
	return n;
}

int replay_parse_sweep(struct replay_opts *o, char *arg, struct avm_err *err)
{
	struct replay_sweep *sw;
	char *eq = strchr(arg, '='), *save = NULL, *v;
	struct config probe;
	size_t n;

	if (!eq || eq == arg || !eq[1])
		return avm_errf(err, "'%s' is not KEY=V1,V2,...", arg);
	*eq = '\0';
	if (!config_has_key(arg))
		return avm_errf(err, "unknown config key '%s' (docs/config.md lists them)", arg);
	if (!strcmp(arg, "arch.name"))
		return avm_errf(err, "arch.name cannot be swept: every world of a replay shares one "
				     "arch (replay once per --arch)");
	for (size_t k = 0; k < o->nsweep; k++)
		if (!strcmp(o->sweep[k].key, arg))
			return avm_errf(err, "%s swept twice", arg);
	if (o->nsweep == REPLAY_SWEEP_KEYS)
		return avm_errf(err, "at most %d keys can be swept", REPLAY_SWEEP_KEYS);
	sw = &o->sweep[o->nsweep];
	memset(sw, 0, sizeof(*sw));
	sw->key = arg;
	for (v = strtok_r(eq + 1, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
		if (sw->nvalues == REPLAY_SWEEP_VALUES)
			return avm_errf(err, "%s: at most %d values", arg, REPLAY_SWEEP_VALUES);
		config_defaults(&probe);
		if (config_set(&probe, arg, v, err))
			return -1;
		sw->values[sw->nvalues++] = v;
	}
	if (sw->nvalues == 0)
		return avm_errf(err, "%s: no value", arg);
	o->nsweep++;
	n = replay_ncombos(o);
	if (n > REPLAY_SWEEP_MAX) {
		o->nsweep--;
		return avm_errf(err, "%zu combinations, at most %d in one replay (each is a world "
				     "per model in memory): sweep fewer values", n, REPLAY_SWEEP_MAX);
	}
	return 0;
}

/* Does swept key `key` change what a world of `model` does? */
static bool replay_sweep_touches(const char *key, const char *model)
{
	if (!strncmp(key, "verdict.", 8))
		return false; /* judged from the same worlds */
	if (!strncmp(key, "lazy.", 5))
		return !strcmp(model, "lazy");
	if (!strncmp(key, "cowctx.", 7))
		return !strcmp(model, "cowctx");
	return true;
}

/* Value index of sweep key k in combination c (the first key varies slowest). */
static size_t replay_combo_value(const struct replay_opts *o, size_t c, size_t k)
{
	for (size_t j = o->nsweep; j-- > k + 1;)
		c /= o->sweep[j].nvalues;
	return c % o->sweep[k].nvalues;
}

/*
 * Translate b->ev[b->n] (just read, its snapshot rows attached) in place:
 * the rows of the snapshot it carries, then the event itself, which becomes
 * zero or more events (a snapshot or exec always exactly one, so its rows
 * stay attached to it); what does not fit the batch waits in r->pend.
 */
static int replay_translate_event(struct replay *r, struct replay_batch *b,
				  struct avm_err *err)
{
	struct avm_event in = b->ev[b->n];
	const struct avm_event *out;
	size_t n, k = 0;

	if (b->nrefs && b->refs[b->nrefs - 1].ev == b->n) {
		const struct replay_snapref *ref = &b->refs[b->nrefs - 1];

		if (xlate_snap_vmas(r->xl, b->rows.v + ref->v, ref->nv, err))
			return -1;
	}
	if (xlate_event(r->xl, &in, &out, &n, err))
		return -1;
	for (; k < n && b->n < REPLAY_BATCH; k++)
		b->ev[b->n++] = out[k];
	if (k < n) {
		if (replay_grow((void **)&r->pend, &r->cappend, n - k, sizeof(*r->pend), err))
			return -1;
		memcpy(r->pend, out + k, (n - k) * sizeof(*out));
		r->npend = n - k;
		r->ipend = 0;
	}
	return 0;
}

/*
 * The next event of the stream and the segment it comes from: 1, or 0 at the
 * end.  One segment: trace_next.  Several: see "Segments" above.
 */
static int replay_next(struct replay *r, struct avm_event *ev, size_t *seg, struct avm_err *err)
{
	if (r->nsegs == 1) {
		*seg = 0;
		return trace_next(r->t, ev, err);
	}
	for (;;) {
		if (!r->look_valid && !r->look_eof) {
			int rc = trace_next(r->segs[r->cur], &r->look, err);

			if (rc < 0)
				return -1;
			r->look_eof = rc == 0;
			r->look_valid = rc == 1;
			/* a later segment's start snapshot: the worlds hold that state already */
			if (rc == 1 && r->cur > 0 && r->look.kind == AVM_SNAPSHOT &&
			    r->look.b == AVM_SNAP_START)
				r->look_valid = false;
			if (r->look_valid)
				r->look.t += (uint64_t)r->seg_offset[r->cur];
			continue;
		}
		if (r->look_valid && r->cur + 1 < r->nsegs &&
		    r->look.t >= (uint64_t)r->seg_offset[r->cur + 1]) {
			if (replay_grow((void **)&r->held, &r->capheld, r->nheld + 1, sizeof(*r->held),
					err))
				return -1;
			r->held[r->nheld++] = (struct replay_held){ r->look, r->cur };
			r->look_valid = false;
			continue;
		}
		if (r->look_eof && r->cur + 1 < r->nsegs) {
			r->cur++;
			r->look_eof = false;
			continue;
		}
		if (r->heldpos < r->nheld && (!r->look_valid || r->held[r->heldpos].ev.t <= r->look.t)) {
			*ev = r->held[r->heldpos].ev;
			*seg = r->held[r->heldpos++].seg;
		} else if (r->look_valid) {
			*ev = r->look;
			*seg = r->cur;
			r->look_valid = false;
			if (r->heldpos == r->nheld)
				r->nheld = r->heldpos = 0;
		} else {
			return 0;
		}
		ev->seq = ++r->seq_run;
		return 1;
	}
}

/* Read up to REPLAY_BATCH events (and their snapshot rows) into b; 1 at the end. */
static int replay_fill(struct replay *r, struct replay_batch *b, struct avm_err *err)
{
	b->n = 0;
	b->rows.n = 0;
	b->rows.na = 0;
	b->nrefs = 0;
	while (b->n < REPLAY_BATCH) {
		struct avm_event *ev = &b->ev[b->n];
		size_t seg;
		struct trace *t;
		int rc;

		if (r->ipend < r->npend) { /* what a split range left over */
			*ev = r->pend[r->ipend++];
			b->n++;
			continue;
		}
		rc = replay_next(r, ev, &seg, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return 1;
		t = r->segs[seg];
		if (ev->t && (!r->t_first || ev->t < r->t_first))
			r->t_first = ev->t;
		if (ev->t > r->t_last)
			r->t_last = ev->t;
		if (ev->kind == AVM_SNAPSHOT && ev->b == AVM_SNAP_START &&
		    replay_attach_snapshot(t, b, b->n, (uint64_t)ev->a, true, err))
			return -1;
		if (ev->kind == AVM_EXEC && ev->b &&
		    replay_attach_snapshot(t, b, b->n, (uint64_t)ev->b, false, err))
			return -1;
		if (ev->kind == AVM_SNAPSHOT && ev->b == AVM_SNAP_EXIT && r->val &&
		    replay_attach_snapshot(t, b, b->n, (uint64_t)ev->a, false, err))
			return -1;
		if (r->xl) {
			rc = replay_translate_event(r, b, err);
			if (rc < 0)
				return -1;
			continue;
		}
		b->n++;
	}
	return 0;
}

/* Record the first error and stop every thread.  Called with r->mu held. */
static void replay_fail_locked(struct replay *r, const struct avm_err *err)
{
	if (!r->failed) {
		r->failed = true;
		r->err = *err;
	}
	r->abort = true;
	pthread_cond_broadcast(&r->filled);
	pthread_cond_broadcast(&r->freed);
	pthread_cond_broadcast(&r->progress);
}

static void replay_thread_done(struct replay *r)
{
	pthread_mutex_lock(&r->mu);
	r->running--;
	pthread_cond_broadcast(&r->progress);
	pthread_mutex_unlock(&r->mu);
}

static void *replay_reader(void *arg)
{
	struct replay *r = arg;
	struct avm_err err = { "" };

	for (uint64_t no = 0;; no++) {
		struct replay_batch *b = &r->slots[no % REPLAY_SLOTS];
		bool stop;
		int rc;

		pthread_mutex_lock(&r->mu);
		while (b->pending && !r->abort)
			pthread_cond_wait(&r->freed, &r->mu);
		stop = r->abort;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		/* the slot is ours until published: no lock while reading SQLite */
		rc = replay_fill(r, b, &err);
		pthread_mutex_lock(&r->mu);
		if (rc < 0) {
			replay_fail_locked(r, &err);
			pthread_mutex_unlock(&r->mu);
			break;
		}
		b->no = no;
		b->last = rc == 1;
		b->filled = true;
		b->pending = (int)r->nworkers;
		r->read += b->n;
		pthread_cond_broadcast(&r->filled);
		pthread_mutex_unlock(&r->mu);
		if (rc == 1)
			break;
	}
	r->reader_cpu = replay_thread_cpu(); /* read after the join */
	replay_thread_done(r);
	return NULL;
}

/* ---- the world threads --------------------------------------------------------- */

struct replay_layout {
	struct replay_worker *wk;
	struct avm_err *err;
	int failed;
};

static struct validate_vma replay_validate_vma(const struct world_vma *v)
{
	return (struct validate_vma){
		.start = v->start, .end = v->end, .flags = v->flags, .anon = v->anon,
		.pgoff = v->pgoff, .file = v->file,
		.chain_len = v->chain_len, .chain_known = v->chain_known,
	};
}

static int replay_layout_vma(void *ctx, const struct world_vma *v)
{
	struct replay_layout *l = ctx;
	struct replay_worker *wk = l->wk;

	if (replay_grow((void **)&wk->wvmas, &wk->capwvmas, wk->nwvmas + 1, sizeof(*wk->wvmas),
			l->err)) {
		l->failed = 1;
		return 1;
	}
	wk->wvmas[wk->nwvmas++] = replay_validate_vma(v);
	return 0;
}

/* The world's VMAs of mm into wk->wvmas, and whether the world really modelled mm. */
static int replay_world_layout(struct replay_worker *wk, uint64_t mm, enum validate_world_mm *wm,
			       struct avm_err *err)
{
	struct replay_layout l = { .wk = wk, .err = err };
	enum world_mm_state state;

	wk->nwvmas = 0;
	world_layout(wk->w, mm, &state, replay_layout_vma, &l);
	*wm = state == WORLD_MM_NONE ? VALIDATE_MM_NONE :
	      state == WORLD_MM_OPAQUE ? VALIDATE_MM_OPAQUE : VALIDATE_MM_MODELLED;
	return l.failed ? -1 : 0;
}

/* After a snapshot was applied: the kernel's layout of mm against the world's. */
static int replay_validate_snapshot(struct replay_worker *wk, const struct avm_event *ev,
				    const struct avm_snap_vma *rows, size_t n, uint64_t mm,
				    struct avm_err *err)
{
	enum validate_world_mm wm;

	if (!wk->validated)
		return 0;
	if (replay_world_layout(wk, mm, &wm, err))
		return -1;
	return validate_snapshot(wk->r->val, ev, rows, n, wk->wvmas, wk->nwvmas, err);
}

/* The VMA rows of a snapshot reference (NULL when the batch has none: no arithmetic on NULL). */
static const struct avm_snap_vma *replay_ref_vmas(const struct replay_batch *b,
						  const struct replay_snapref *ref)
{
	return b->rows.v ? b->rows.v + ref->v : NULL;
}

/* An exit snapshot: the kernel's last layout of ev->mm against the world's, not applied. */
static int replay_validate_exit(struct replay_worker *wk, const struct avm_event *ev,
				const struct replay_batch *b, const struct replay_snapref *ref,
				struct avm_err *err)
{
	enum validate_world_mm wm;

	if (!wk->validated || !ref)
		return 0;
	if (replay_world_layout(wk, ev->mm, &wm, err))
		return -1;
	return validate_exit_layout(wk->r->val, ev, replay_ref_vmas(b, ref), ref->nv, wk->wvmas,
				    wk->nwvmas, wm, err);
}

/* Start snapshot: the world adopts every mm of it, one mm at a time. */
static int replay_adopt_start(struct replay_worker *wk, const struct avm_event *ev,
			      const struct replay_batch *b, const struct replay_snapref *ref,
			      struct avm_err *err)
{
	const struct avm_snap_vma *v = replay_ref_vmas(b, ref);
	const struct avm_snap_av *a = b->rows.a ? b->rows.a + ref->a : NULL; /* none: NULL, 0 */
	size_t i = 0;

	while (i < ref->nv) {
		uint64_t mm = v[i].mm;
		size_t j = i;

		while (j < ref->nv && v[j].mm == mm)
			j++;
		if (world_adopt_start(wk->w, mm, &v[i], j - i, a, ref->na, err))
			return avm_err_prefix(err, "start snapshot %" PRId64 ", mm %" PRIu64, ev->a, mm);
		if (replay_validate_snapshot(wk, ev, &v[i], j - i, mm, err))
			return -1;
		i = j;
	}
	return 0;
}

static int replay_event(struct replay_worker *wk, const struct avm_event *ev,
			const struct replay_batch *b, const struct replay_snapref *ref,
			struct avm_err *err)
{
	struct validate *val = wk->validated ? wk->r->val : NULL;

	if (val && validate_event(val, ev, err))
		return -1;
	if (ev->kind == AVM_SNAPSHOT && ev->b == AVM_SNAP_START) {
		world_tick(wk->w, ev->t);
		if (replay_adopt_start(wk, ev, b, ref, err))
			return -1;
	} else if (ev->kind == AVM_EXEC) {
		const struct avm_snap_vma *rows = ref ? replay_ref_vmas(b, ref) : NULL;
		size_t n = ref ? ref->nv : 0;

		if (world_exec(wk->w, ev, rows, n, err))
			return avm_err_prefix(err, "exec");
		if (ref && replay_validate_snapshot(wk, ev, rows, n, (uint64_t)ev->a, err))
			return -1;
	} else {
		if (ev->kind == AVM_SNAPSHOT && ev->b == AVM_SNAP_EXIT &&
		    replay_validate_exit(wk, ev, b, ref, err))
			return -1;
		if (world_apply(wk->w, ev, err))
			return -1;
	}
	if (val && validate_world_delta(val, ev, world_stats(wk->w), err))
		return -1;
	return 0;
}

/* Apply every event of b to this worker's world. */
static int replay_consume(struct replay_worker *wk, const struct replay_batch *b,
			  struct avm_err *err)
{
	size_t next_ref = 0;

	for (uint32_t i = 0; i < b->n; i++) {
		const struct avm_event *ev = &b->ev[i];
		const struct replay_snapref *ref = NULL;

		if (next_ref < b->nrefs && b->refs[next_ref].ev == i)
			ref = &b->refs[next_ref++];
		if (replay_event(wk, ev, b, ref, err))
			return avm_err_prefix(err, "%s: event %" PRIu64 " (kind %u, pid %u) in the %s world",
					      replay_name(wk->r->o), ev->seq, ev->kind, ev->pid,
					      world_model_name(wk->w));
	}
	return 0;
}

static void *replay_worker_main(void *arg)
{
	struct replay_worker *wk = arg;
	struct replay *r = wk->r;

	for (uint64_t no = 0;; no++) {
		struct replay_batch *b = &r->slots[no % REPLAY_SLOTS];
		bool last, stop;
		int rc;

		pthread_mutex_lock(&r->mu);
		while (!(b->filled && b->no == no) && !r->abort)
			pthread_cond_wait(&r->filled, &r->mu);
		stop = r->abort;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		rc = replay_consume(wk, b, &wk->err);
		last = b->last;
		pthread_mutex_lock(&r->mu);
		if (rc) {
			replay_fail_locked(r, &wk->err);
			pthread_mutex_unlock(&r->mu);
			break;
		}
		wk->done += b->n;
		if (--b->pending == 0) {
			b->filled = false;
			pthread_cond_broadcast(&r->freed);
		}
		pthread_mutex_unlock(&r->mu);
		if (last)
			break;
	}
	wk->cpu = replay_thread_cpu(); /* read after the join */
	replay_thread_done(r);
	return NULL;
}

/* ---- setup, run, report ---------------------------------------------------------- */

static int replay_upgrade_figure(struct world *w, cJSON *fork_cost, struct avm_err *err);
static const cJSON *report_at_verdict(const cJSON *report);

static int replay_vma_lookup(void *ctx, uint64_t mm, uint64_t addr, struct validate_vma *out)
{
	struct world_vma v;

	if (!world_vma_at(ctx, mm, addr, &v))
		return 0;
	*out = replay_validate_vma(&v);
	return 1;
}

/* ---- segments and names ---------------------------------------------------------- */

/* A segment's meta text value ("" when absent). */
static int replay_seg_meta(struct trace *t, const char *key, char *buf, size_t len,
			   struct avm_err *err)
{
	int rc = trace_meta_get(t, key, buf, len, err);

	if (rc == 0)
		buf[0] = '\0';
	return rc < 0 ? -1 : 0;
}

static const char *replay_seg_name(const struct replay_opts *o, size_t i)
{
	if (i == 0)
		return replay_name(o);
	return o->segment_names && o->segment_names[i] ? o->segment_names[i] : o->segment_files[i];
}

/*
 * Open every segment after the first and check that they are consecutive
 * segments of one collection; sum their lost events and completeness.
 */
static int replay_open_segments(struct replay *r, struct avm_err *err)
{
	const struct replay_opts *o = r->o;
	size_t n = o->nsegments >= 2 ? o->nsegments : 1;
	char cid0[64], cid[64];
	int64_t seg0 = 0, seg, v;

	r->segs = calloc(n, sizeof(*r->segs));
	r->seg_offset = calloc(n, sizeof(*r->seg_offset));
	if (!r->segs || !r->seg_offset)
		return avm_errf(err, "replay: out of memory");
	r->segs[0] = r->t;
	r->nsegs = 1;
	r->complete_all = true;
	for (size_t i = 0; i < n; i++) {
		struct trace *t;
		int rc;

		if (i > 0) {
			if (trace_open(o->segment_files[i], &t, err))
				return avm_err_prefix(err, "%s", replay_seg_name(o, i));
			r->segs[r->nsegs++] = t;
		}
		t = r->segs[i];
		rc = trace_meta_get_int(t, "lost_events", &v, err);
		if (rc < 0)
			return -1;
		r->lost_sum += rc == 1 ? (uint64_t)v : 0;
		rc = trace_meta_get_int(t, "complete", &v, err);
		if (rc < 0)
			return -1;
		r->complete_all &= rc == 1 && v == 1;
		r->recovered_any |= trace_recovered(t);
		if (n == 1)
			break;
		if (replay_seg_meta(t, "collection_id", cid, sizeof(cid), err) ||
		    (rc = trace_meta_get_int(t, "segment", &seg, err)) < 0 ||
		    trace_meta_get_int(t, "segment_offset_ns", &r->seg_offset[i], err) < 0)
			return -1;
		if (!cid[0] || rc != 1)
			return avm_errf(err, "%s is not a segment of a rotated collection (no "
				       "collection_id: written before schema version 3, or not by "
				       "anonvma-collect): replay it alone", replay_seg_name(o, i));
		if (i == 0) {
			snprintf(cid0, sizeof(cid0), "%s", cid);
			seg0 = seg;
			r->seg_offset[0] = 0;
			continue;
		}
		if (strcmp(cid, cid0))
			return avm_errf(err, "%s belongs to collection %s, not %s (%s): give segments "
				       "of one collection", replay_seg_name(o, i), cid, cid0,
				       replay_seg_name(o, 0));
		if (seg != seg0 + (int64_t)i)
			return avm_errf(err, "%s is segment %" PRId64 " of its collection, but segment %"
				       PRId64 " must follow %s: give consecutive segments in order",
				       replay_seg_name(o, i), seg, seg0 + (int64_t)i,
				       replay_seg_name(o, i - 1));
	}
	/* offsets relative to the first segment given */
	for (size_t i = n; i-- > 0;)
		r->seg_offset[i] -= r->seg_offset[0];
	return 0;
}

static int replay_name_row(void *ctx, uint32_t pid, int64_t t_ns, const char *comm,
			   const char *exe, struct avm_err *err)
{
	struct u64map *m = ctx;
	struct replay_name *nm = pid ? u64map_get(m, pid) : NULL;
	char *c = strdup(comm), *e = strdup(exe);

	(void)t_ns;
	if (!pid) {
		free(c);
		free(e);
		return 0;
	}
	if (!c || !e || (!nm && !(nm = calloc(1, sizeof(*nm))))) {
		free(c);
		free(e);
		return avm_errf(err, "replay: out of memory (process names)");
	}
	free(nm->comm);
	free(nm->exe);
	nm->comm = c;
	nm->exe = e;
	if (u64map_put(m, pid, nm))
		return avm_errf(err, "replay: out of memory (process names)");
	return 0;
}

static void replay_names_free(struct u64map *m)
{
	uint64_t it = 0, key;
	void *val;

	while (u64map_next(m, &it, &key, &val)) {
		struct replay_name *nm = val;

		free(nm->comm);
		free(nm->exe);
		free(nm);
	}
	u64map_free(m);
}

/* Every object under node with a "pid" gets that process's "comm" and "exe". */
static int replay_name_pids(const struct replay *r, cJSON *node, struct avm_err *err)
{
	cJSON *pid = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, "pid") : NULL;
	cJSON *c;

	if (pid && cJSON_IsNumber(pid) && pid->valuedouble >= 1 &&
	    !cJSON_GetObjectItemCaseSensitive(node, "comm")) {
		const struct replay_name *nm = u64map_get(&r->names, (uint64_t)pid->valuedouble);

		if (nm && (!cJSON_AddStringToObject(node, "comm", nm->comm) ||
			   !cJSON_AddStringToObject(node, "exe", nm->exe)))
			return avm_errf(err, "replay: out of memory (report)");
	}
	cJSON_ArrayForEach(c, node)
		if (replay_name_pids(r, c, err))
			return -1;
	return 0;
}

/*
 * trace.id, hostname, boot_id, collection_id (absent when the trace has none:
 * before schema version 3) and trace.segments: every file replayed, in order.
 * One file: id is its trace_id; several segments: collection_id:first-last.
 */
static int replay_trace_identity(struct replay *r, cJSON *report, struct avm_err *err)
{
	cJSON *tr = cJSON_GetObjectItemCaseSensitive(report, "trace"), *segs, *e;
	static const char *const keys[][2] = {
		{ "hostname", "hostname" }, { "boot_id", "boot_id" },
		{ "collection_id", "collection_id" },
	};
	char v[256], id[320];
	int64_t first = 0, last = 0;

	if (replay_seg_meta(r->t, "trace_id", id, sizeof(id), err))
		return -1;
	if (r->nsegs > 1 && (replay_seg_meta(r->t, "collection_id", v, sizeof(v), err) ||
			     trace_meta_get_int(r->t, "segment", &first, err) < 0 ||
			     trace_meta_get_int(r->segs[r->nsegs - 1], "segment", &last, err) < 0))
		return -1;
	if (r->nsegs > 1)
		snprintf(id, sizeof(id), "%s:%" PRId64 "-%" PRId64, v, first, last);
	if (id[0] && !cJSON_AddStringToObject(tr, "id", id))
		return avm_errf(err, "replay: out of memory (report)");
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (replay_seg_meta(r->t, keys[k][0], v, sizeof(v), err))
			return -1;
		if (v[0] && !cJSON_AddStringToObject(tr, keys[k][1], v))
			return avm_errf(err, "replay: out of memory (report)");
	}
	segs = cJSON_AddArrayToObject(tr, "segments");
	if (!segs)
		return avm_errf(err, "replay: out of memory (report)");
	for (size_t i = 0; i < r->nsegs; i++) {
		int64_t seg;
		int rc;

		e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(segs, e) ||
		    !cJSON_AddStringToObject(e, "file", replay_seg_name(r->o, i)))
			return avm_errf(err, "replay: out of memory (report)");
		if (replay_seg_meta(r->segs[i], "trace_id", v, sizeof(v), err))
			return -1;
		if (v[0] && !cJSON_AddStringToObject(e, "id", v))
			return avm_errf(err, "replay: out of memory (report)");
		rc = trace_meta_get_int(r->segs[i], "segment", &seg, err);
		if (rc < 0)
			return -1;
		if (rc == 1 && !cJSON_AddNumberToObject(e, "segment", (double)seg))
			return avm_errf(err, "replay: out of memory (report)");
	}
	return 0;
}

static int replay_setup(struct replay *r, struct avm_err *err)
{
	const struct replay_opts *o = r->o;
	struct config defaults;
	const struct config *cfg = o->cfg;
	struct world_meta wm;

	if (o->nmodels == 0)
		return avm_errf(err, "no model to replay");
	if (!cfg) {
		config_defaults(&defaults);
		cfg = &defaults;
	}
	if ((o->trace_mem ? trace_open_memory(o->trace_mem, o->trace_mem_len, o->trace_path,
					      &r->t, err) :
			    trace_open(o->trace_path, &r->t, err)) ||
	    trace_meta_each(r->t, replay_meta_row, &r->meta, err) ||
	    replay_open_segments(r, err) || replay_world_meta(r, cfg, &wm, err))
		return -1;
	for (size_t i = 0; i < r->nsegs; i++)
		if (trace_procs(r->segs[i], replay_name_row, &r->names, err))
			return -1;
	wm.no_recost = o->no_sensitivity;
	r->ncombos = replay_ncombos(o);
	if (r->ncombos > REPLAY_SWEEP_MAX)
		return avm_errf(err, "--sweep: %zu combinations, at most %d", r->ncombos,
				REPLAY_SWEEP_MAX);
	for (size_t c = 0; c < r->ncombos; c++) {
		struct replay_combo *cb = &r->combos[c];

		cb->cfg = *cfg;
		for (size_t k = 0; k < o->nsweep; k++)
			if (config_set(&cb->cfg, o->sweep[k].key,
				       o->sweep[k].values[replay_combo_value(o, c, k)], err))
				return avm_err_prefix(err, "--sweep");
	}
	for (size_t c = 0; c < r->ncombos; c++)
	for (size_t i = 0; i < o->nmodels; i++) {
		const struct model_ops *ops = model_find(o->models[i]);
		struct replay_combo *cb = &r->combos[c];
		struct replay_worker *wk = NULL;

		if (!ops)
			return avm_errf(err, "unknown model '%s'", o->models[i]);
		/* a world an earlier combination has with the same values of every key it depends on */
		for (size_t e = 0; e < c && !wk; e++) {
			bool same = true;

			for (size_t k = 0; k < o->nsweep; k++)
				same &= !replay_sweep_touches(o->sweep[k].key, o->models[i]) ||
					replay_combo_value(o, c, k) == replay_combo_value(o, e, k);
			if (same)
				wk = r->combos[e].w[i];
		}
		if (!wk) {
			wk = &r->workers[r->nworkers];
			wk->r = r;
			if (world_create(&cb->cfg, ops, &wm, &wk->w, err))
				return avm_err_prefix(err, "%s world", o->models[i]);
			r->nworkers++;
			world_set_check(wk->w, o->check_invariants);
			world_set_check_rmap(wk->w, o->check_rmap);
			/* --calibrate: the eager world is the kernel that recorded the holds */
			if (c == 0 && o->calibrate_path && !strcmp(o->models[i], "eager") &&
			    world_set_calibrate(wk->w, true, err))
				return -1;
			/* schema version 2 on: FORK e is a measured latency (0: not measured) */
			if (c == 0 && o->calibrate_path && !strcmp(o->models[i], "eager") &&
			    trace_version(r->t) >= 2 && world_set_fork_latencies(wk->w, true, err))
				return -1;
			if (c == 0 && o->validate && !strcmp(o->models[i], "eager")) {
				wk->validated = true;
				r->eager = wk->w;
			}
		}
		cb->w[cb->n++] = wk;
	}
	if (o->calibrate_path) {
		bool eager = false;

		for (size_t i = 0; i < o->nmodels; i++)
			eager |= !strcmp(o->models[i], "eager");
		if (!r->have_arch)
			return avm_errf(err, "--calibrate needs an arch model: the trace names no "
					     "ISA, give --arch");
		if (!eager)
			return avm_errf(err, "--calibrate fits the costs with the eager model: "
					     "add eager to --model");
	}
	if (o->validate) {
		if (!r->eager)
			return avm_errf(err, "--validate compares the eager model with the kernel: "
					     "add eager to --model");
		if (validate_create(&o->vparams, &r->val, err))
			return -1;
		validate_set_vma_lookup(r->val, replay_vma_lookup, r->eager);
	}
	r->slots = calloc(REPLAY_SLOTS, sizeof(*r->slots));
	if (!r->slots)
		return avm_errf(err, "replay: out of memory");
	return 0;
}

/*
 * --calibrate: fit the fork costs to the measured fork latencies (forkfit.h)
 * and build the report's `costs` block.  A trace older than schema version 2
 * has none: the fit is refused with that reason, never run on zeros.
 */
static int replay_fork_fit(struct replay *r, struct world *w, struct replay_result *res,
			   struct avm_err *err)
{
	const struct forkfit *f = world_forkfit(w);
	struct forkfit_rule rule;

	forkfit_rule_default(&rule);
	const char *how = replay_meta_lookup(&r->meta, "fork_latency");

	if (f && (!how || !strcmp(how, "none"))) {
		/* a synthesised trace, or a collector on a kernel without sched_process_fork */
		memset(&res->fork_fit, 0, sizeof(res->fork_fit));
		snprintf(res->fork_fit.why, sizeof(res->fork_fit.why),
			 "the trace has no fork latencies (meta fork_latency: %s)",
			 how ? how : "absent");
	} else if (f) {
		forkfit_solve(f, &rule, &res->fork_fit);
		res->fork_forks_switched = f->switched;
		res->fork_forks_threads = f->threads;
		res->fork_forks_unmodelled = f->unmodelled;
	} else {
		memset(&res->fork_fit, 0, sizeof(res->fork_fit));
		snprintf(res->fork_fit.why, sizeof(res->fork_fit.why),
			 "the trace (schema version %d) has no fork latencies: they are recorded "
			 "from version 2 on", trace_version(r->t));
	}
	res->fork_fit_ran = true;
	res->costs = arch_calibrated_costs_json(&r->arch, world_calib(w), REPLAY_CALIB_MIN_HOLDS,
						&res->fork_fit, err);
	return res->costs ? 0 : -1;
}

/* --calibrate: fit the eager world's holds and write the arch YAML (docs/arch.md). */
static int replay_calibrate(struct replay *r, struct replay_result *res, struct avm_err *err)
{
	for (size_t i = 0; i < r->nworkers; i++) {
		const struct locks_calib *c = world_calib(r->workers[i].w);

		if (!c)
			continue;
		res->calibration_holds = c->samples;
		if (c->samples == 0)
			return avm_errf(err, "--calibrate: the trace has no mmap_lock write holds "
					     "before VMA-changing syscalls (collected without the "
					     "mmap_lock tracepoints?)");
		if (replay_fork_fit(r, r->workers[i].w, res, err))
			return -1;
		return arch_write_calibrated_fork(&r->arch, c, REPLAY_CALIB_MIN_HOLDS, &res->fork_fit,
						  r->o->trace_path, r->o->calibrate_path, err);
	}
	return avm_errf(err, "--calibrate: no calibrating world");
}

/* The arch sections: `arch`, and per model `page_tables` and `locks` (docs/arch.md). */
static int replay_arch_sections(struct replay *r, const struct replay_combo *cb, cJSON *report,
				struct avm_err *err)
{
	cJSON *models = cJSON_GetObjectItemCaseSensitive(report, "models");

	if (report_add_section(report, "arch", arch_json(&r->arch, err), err))
		return -1;
	if (r->xl &&
	    report_add_section(cJSON_GetObjectItemCaseSensitive(report, "arch"), "translated_from",
			       xlate_json(r->xl, err), err))
		return -1;
	for (size_t i = 0; i < cb->n; i++) {
		struct world *w = cb->w[i]->w;
		cJSON *m = cJSON_GetObjectItemCaseSensitive(models, world_model_name(w));

		if (world_pt_stats(w) &&
		    report_add_section(m, "page_tables",
				       arch_pt_stats_json(&r->arch, world_pt_stats(w), err), err))
			return -1;
		if (world_locks(w) &&
		    report_add_section(m, "locks", locks_json(world_locks(w), err), err))
			return -1;
		if (report_add_section(m, "rmap_walks", rmap_walk_json(world_rmap_walks(w), err),
				       err))
			return -1;
	}
	return 0;
}

/*
 * track.h sections: per model `series` and, with an arch, `fork_cost`; the
 * top-level `top_processes` when eager and lazy both ran (docs/report.md).
 */
static int replay_track_sections(const struct replay_combo *cb, cJSON *report,
				 struct avm_err *err)
{
	cJSON *models = cJSON_GetObjectItemCaseSensitive(report, "models");
	struct track *eager = NULL, *lazy = NULL;

	for (size_t i = 0; i < cb->n; i++) {
		struct world *w = cb->w[i]->w;
		const char *name = world_model_name(w);
		cJSON *m = cJSON_GetObjectItemCaseSensitive(models, name);

		if (world_locks(w) &&
		    (report_add_section(m, "fork_cost", track_fork_cost_json(world_track(w), err),
					err) ||
		     replay_upgrade_figure(w, cJSON_GetObjectItemCaseSensitive(m, "fork_cost"), err)))
			return -1;
		if (report_add_section(m, "series",
				       track_series_json(world_track(w), world_stats(w), err), err))
			return -1;
		if (!strcmp(name, "eager"))
			eager = world_track(w);
		else if (!strcmp(name, "lazy"))
			lazy = world_track(w);
	}
	if (eager && lazy &&
	    report_add_section(report, "top_processes",
			       track_top_processes_json(eager, lazy, TRACK_TOP_PROCESSES, err), err))
		return -1;
	return 0;
}

/*
 * verdict.sensitivity and verdict.robust: the verdict re-judged under the
 * arch's cost ranges from the worlds' section logs and fork records
 * (verdict.h), never from the trace again.
 */
static int replay_sensitivity(struct replay *r, const struct replay_combo *cb, cJSON *report,
			      struct replay_result *res, struct avm_err *err)
{
	struct verdict_const k[ARCH_KEYS_MAX + LOCKS_OP_NR];
	struct verdict_world w[2] = { { 0 } };
	struct verdict_input in;
	struct report_thresholds t;
	struct locks_recost base;
	const struct config *cfg = &cb->cfg;
	struct timespec t0, t1;
	cJSON *sens = NULL;
	size_t nk;
	int robust, found = 0;

	if (!cJSON_GetObjectItemCaseSensitive(report, "verdict"))
		return 0;
	for (size_t i = 0; i < cb->n; i++) {
		struct world *wd = cb->w[i]->w;
		int slot = !strcmp(world_model_name(wd), "eager") ? 0 :
			   !strcmp(world_model_name(wd), "lazy") ? 1 : -1;

		if (slot < 0 || !world_locks(wd))
			continue;
		w[slot].locks = world_locks(wd);
		w[slot].forks = world_forks(wd);
		found |= 1 << slot;
	}
	if (found != 3)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	report_thresholds_from_config(cfg, &t);
	if (report_verdict_input(report, &in, err))
		return -1;
	arch_recost(&r->arch, &base);
	nk = arch_cost_consts(&r->arch, k, sizeof(k) / sizeof(k[0]));
	if (verdict_sensitivity(&in, &t, &base, k, nk, &w[0], &w[1], &sens, &robust, err))
		return -1;
	{
		/*
		 * The re-costed baseline should give the report's answer; it may not
		 * when the report's p99 (a histogram quantile, within 3.1 %) and the
		 * exact one fall on two sides of a threshold: then it is not robust.
		 */
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(sens, "baseline");
		const cJSON *p = report_at_verdict(report);

		if (robust >= 0 && cJSON_IsBool(b) && cJSON_IsBool(p) &&
		    cJSON_IsTrue(b) != cJSON_IsTrue(p))
			robust = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->sensitivity_seconds += (double)(t1.tv_sec - t0.tv_sec) +
				    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return report_set_sensitivity(report, sens, robust, err);
}

/*
 * verdict.lazy_vs_cowctx.sensitivity: the comparison re-decided under the
 * arch's cost ranges from the lazy and cowctx worlds' section logs and fork
 * records (verdict_vs_sensitivity), as the verdict's own sensitivity is.
 */
static int replay_vs_sensitivity(struct replay *r, const struct replay_combo *cb, cJSON *report,
				 struct replay_result *res, struct avm_err *err)
{
	struct verdict_const k[ARCH_KEYS_MAX + LOCKS_OP_NR];
	struct verdict_world w[2] = { { 0 } };
	struct verdict_vs_input in;
	struct report_thresholds t;
	struct locks_recost base;
	struct timespec t0, t1;
	cJSON *sens = NULL;
	int found = 0;

	for (size_t i = 0; i < cb->n; i++) {
		struct world *wd = cb->w[i]->w;
		int slot = !strcmp(world_model_name(wd), "lazy") ? 0 :
			   !strcmp(world_model_name(wd), "cowctx") ? 1 : -1;

		if (slot < 0 || !world_locks(wd))
			continue;
		w[slot].locks = world_locks(wd);
		w[slot].forks = world_forks(wd);
		found |= 1 << slot;
	}
	report_thresholds_from_config(&cb->cfg, &t);
	if (found != 3 || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(
				  cJSON_GetObjectItemCaseSensitive(report, "verdict"), "lazy_vs_cowctx")) ||
	    report_vs_input(report, &t, &in))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	arch_recost(&r->arch, &base);
	if (verdict_vs_sensitivity(&in, &base, k,
				   arch_cost_consts(&r->arch, k, sizeof(k) / sizeof(k[0])), &w[0],
				   &w[1], &sens, err))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->sensitivity_seconds += (double)(t1.tv_sec - t0.tv_sec) +
				    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return report_set_vs_sensitivity(report, sens, err);
}

static const cJSON *report_at_verdict(const cJSON *report)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(report, "verdict"),
						"lazy_pays_off");
}

/* models.<m>.fork_cost.upgrade: the upgrades forks paid for (lazy; 0 for eager). */
static int replay_upgrade_figure(struct world *w, cJSON *fork_cost, struct avm_err *err)
{
	uint64_t forks, total, max;
	cJSON *u;

	world_fork_upgrades(w, &forks, &total, &max);
	u = cJSON_AddObjectToObject(fork_cost, "upgrade");
	if (!u || !cJSON_AddNumberToObject(u, "forks", (double)forks) ||
	    !cJSON_AddNumberToObject(u, "total_ns", (double)total) ||
	    !cJSON_AddNumberToObject(u, "max_ns", (double)max) ||
	    !cJSON_AddNumberToObject(u, "mean_ns", forks ? (double)total / (double)forks : 0))
		return avm_errf(err, "replay: out of memory");
	return 0;
}

/*
 * folios: where the anon folio sizes came from (order_source: "model" when
 * the trace's meta lists the mTHP sizes and the simulator applied the
 * kernel's order choice, "base-pages" when it does not - older traces -
 * and only PMD THPs are large), the folios faults and COW allocated by
 * order, and PT_RECLAIM as the trace says it (with its source) and the PTE
 * tables MADV_DONTNEED freed.  The first world's simulator: every world
 * sees the same layout.
 */
static int replay_folios(struct replay *r, cJSON *report, struct avm_err *err)
{
	struct world_folio_stats fs = {0}, *st = NULL;
	const char *sizes = replay_meta_lookup(&r->meta, "thp_anon_sizes");
	const char *ptr = replay_meta_lookup(&r->meta, "pt_reclaim");
	const char *src = replay_meta_lookup(&r->meta, "pt_reclaim_source");
	cJSON *f = cJSON_AddObjectToObject(report, "folios"), *by;
	char key[24];

	if (r->nworkers) {
		world_folio_stats(r->workers[0].w, &fs);
		st = &fs;
	}

	if (!f || !cJSON_AddStringToObject(f, "order_source", sizes ? "model" : "base-pages") ||
	    !cJSON_AddStringToObject(f, "anon_sizes", sizes ? sizes : "unknown") ||
	    !cJSON_AddStringToObject(f, "pt_reclaim", ptr ? ptr : "unknown") ||
	    !cJSON_AddStringToObject(f, "pt_reclaim_source", src ? src : "none") ||
	    !cJSON_AddNumberToObject(f, "pte_tables_reclaimed",
				     st ? (double)st->pte_tables_reclaimed : 0) ||
	    !cJSON_AddNumberToObject(f, "thp_collapses", st ? (double)st->thp_collapses : 0) ||
	    !cJSON_AddNumberToObject(f, "ksm_items_end", st ? (double)st->ksm_items : 0) ||
	    !(by = cJSON_AddObjectToObject(f, "allocated_by_order")))
		return avm_errf(err, "replay: out of memory (report)");
	for (unsigned o = 0; st && o < WORLD_FOLIO_ORDERS; o++) {
		if (!st->by_order[o])
			continue;
		snprintf(key, sizeof(key), "%u", o);
		if (!cJSON_AddNumberToObject(by, key, (double)st->by_order[o]))
			return avm_errf(err, "replay: out of memory (report)");
	}
	return 0;
}

/*
 * trace.skipped (events not applied, by reason: skip.h; res->skipped, merged
 * before the report is built so the verdict can judge it) and trace.recovered
 * (read with the -wal of a writer that did not finish), plus the one-line
 * warning the CLI prints about either or an incomplete trace.
 */
static int replay_trace_flags(struct replay *r, struct replay_result *res, cJSON *report,
			      struct avm_err *err)
{
	cJSON *tr = cJSON_GetObjectItemCaseSensitive(report, "trace"), *sk;
	char by[160] = "";
	size_t off = 0;

	res->recovered = r->recovered_any;
	sk = cJSON_CreateObject();
	if (!sk || !cJSON_AddItemToObject(tr, "skipped", sk) ||
	    !cJSON_AddNumberToObject(sk, "total", (double)res->skipped.total) ||
	    !cJSON_AddBoolToObject(tr, "recovered", res->recovered))
		return avm_errf(err, "replay: out of memory (report)");
	for (int i = 0; i < SKIP_NR; i++) {
		if (!cJSON_AddNumberToObject(sk, skip_reason_name(i), (double)res->skipped.n[i]))
			return avm_errf(err, "replay: out of memory (report)");
		if (res->skipped.n[i] && off < sizeof(by))
			off += (size_t)snprintf(by + off, sizeof(by) - off, "%s%s %" PRIu64,
						off ? ", " : "", skip_reason_name(i),
						res->skipped.n[i]);
	}
	off = 0;
	if (!res->complete)
		off += (size_t)snprintf(res->warning + off, sizeof(res->warning) - off,
					"the trace is incomplete (its writer did not close it): "
					"replayed the %" PRIu64 " events it holds", res->events);
	if (res->recovered && off < sizeof(res->warning))
		off += (size_t)snprintf(res->warning + off, sizeof(res->warning) - off,
					"%sread with the -wal its writer left", off ? "; " : "");
	if (res->skipped.total && off < sizeof(res->warning))
		snprintf(res->warning + off, sizeof(res->warning) - off, "%sskipped %" PRIu64
			 " of %" PRIu64 " events the simulator cannot use (%s; report "
			 "trace.skipped)", off ? "; " : "", res->skipped.total, res->events, by);
	return 0;
}

static int replay_report(struct replay *r, const struct replay_combo *cb, bool main_report,
			 struct replay_result *res, cJSON **out, struct avm_err *err)
{
	struct report_model models[REPLAY_MAX_MODELS];
	struct report_input in = { 0 };
	uint64_t lost, complete;
	cJSON *report = NULL;

	if (replay_meta_u64(r, "lost_events", &lost, err) ||
	    replay_meta_u64(r, "complete", &complete, err))
		return -1;
	*out = NULL;
	for (size_t i = 0; i < cb->n; i++) {
		struct world *w = cb->w[i]->w;

		models[i] = (struct report_model){
			.name = world_model_name(w),
			.stats = world_stats(w),
			.lazy_figures = !strcmp(world_model_name(w), "lazy"),
			.cowctx_figures = !strcmp(world_model_name(w), "cowctx"),
			.cfg = &cb->cfg, /* the lazy policies the report echoes (this combination's) */
		};
	}
	in.trace_path = replay_name(r->o);
	in.meta = r->meta.rows;
	in.nmeta = r->meta.n;
	in.events = res->events;
	in.lost_events = r->nsegs > 1 ? r->lost_sum : lost;
	in.complete = r->nsegs > 1 ? r->complete_all : complete == 1;
	in.duration_ns = r->t_last > r->t_first ? r->t_last - r->t_first : 0;
	res->complete = in.complete;
	/* the largest skip count of any world (each world skips the same events) */
	for (size_t i = 0; i < r->nworkers; i++)
		skip_merge_max(&res->skipped, world_skipped(r->workers[i].w));
	res->skipped_events = res->skipped.total;
	in.skipped_events = res->skipped.total;
	in.models = models;
	in.nmodels = cb->n;
	if (report_build(&in, &report, err))
		return -1;
	if (replay_trace_flags(r, res, report, err) || replay_folios(r, report, err)) {
		cJSON_Delete(report);
		return -1;
	}
	if ((r->have_arch && replay_arch_sections(r, cb, report, err)) ||
	    replay_track_sections(cb, report, err) || replay_trace_identity(r, report, err) ||
	    replay_name_pids(r, cJSON_GetObjectItemCaseSensitive(report, "top_processes"), err)) {
		cJSON_Delete(report);
		return -1;
	}
	/* --calibrate: which costs were fitted and which are estimates (docs/arch.md) */
	if (main_report && res->costs) {
		cJSON *costs = res->costs;

		res->costs = NULL;
		if (report_add_section(report, "costs", costs, err)) {
			cJSON_Delete(report);
			return -1;
		}
	}
	if (r->val && main_report) {
		if (report_add_section(report, "validation", validate_to_json(r->val), err) ||
		    replay_name_pids(r, cJSON_GetObjectItemCaseSensitive(report, "validation"), err)) {
			cJSON_Delete(report);
			return -1;
		}
		res->validated = true;
		res->validation_passed = validate_passed(r->val);
	}
	/* last, once every section is attached: savings in context and the verdict */
	if (report_finish(report, &cb->cfg, err) ||
	    (r->have_arch && !r->o->no_sensitivity &&
	     (replay_sensitivity(r, cb, report, res, err) ||
	      replay_vs_sensitivity(r, cb, report, res, err)))) {
		cJSON_Delete(report);
		return -1;
	}
	*out = report;
	return 0;
}

/* One entry of `sweep`: the combination's values, its savings and its verdict. */
static cJSON *replay_sweep_entry(const struct replay *r, size_t c, const cJSON *rep,
				 struct avm_err *err)
{
	const struct replay_opts *o = r->o;
	cJSON *e = cJSON_CreateObject(), *cfg, *sv, *v;

	if (!e || !(cfg = cJSON_AddObjectToObject(e, "config")))
		goto oom;
	for (size_t k = 0; k < o->nsweep; k++)
		if (!cJSON_AddStringToObject(cfg, o->sweep[k].key,
					     o->sweep[k].values[replay_combo_value(o, c, k)]))
			goto oom;
	sv = cJSON_GetObjectItemCaseSensitive(rep, "savings");
	v = cJSON_GetObjectItemCaseSensitive(rep, "verdict");
	if (!cJSON_AddItemToObject(e, "savings", sv ? cJSON_Duplicate(sv, 1) : cJSON_CreateNull()) ||
	    !cJSON_AddItemToObject(e, "verdict", v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull()))
		goto oom;
	return e;
oom:
	cJSON_Delete(e);
	avm_errf(err, "replay: out of memory (sweep)");
	return NULL;
}

/* The report of the first combination, with `sweep` when more were replayed. */
static int replay_reports(struct replay *r, struct replay_result *res, struct avm_err *err)
{
	cJSON *report = NULL, *sweep;

	if (replay_report(r, &r->combos[0], true, res, &report, err))
		return -1;
	if (r->o->nsweep) {
		if (!(sweep = cJSON_AddArrayToObject(report, "sweep"))) {
			avm_errf(err, "replay: out of memory (sweep)");
			goto fail;
		}
		for (size_t c = 0; c < r->ncombos; c++) {
			cJSON *one = NULL, *e;

			if (c > 0 && replay_report(r, &r->combos[c], false, res, &one, err))
				goto fail;
			e = replay_sweep_entry(r, c, c ? one : report, err);
			cJSON_Delete(one);
			if (!e)
				goto fail;
			cJSON_AddItemToArray(sweep, e);
		}
		if (!cJSON_AddNumberToObject(report, "sweep_worlds", (double)r->nworkers)) {
			avm_errf(err, "replay: out of memory (sweep)");
			goto fail;
		}
	}
	res->report = report;
	return 0;
fail:
	cJSON_Delete(report);
	return -1;
}

/* Events every world has applied. */
static uint64_t replay_done_locked(const struct replay *r)
{
	uint64_t done = UINT64_MAX;

	for (size_t i = 0; i < r->nworkers; i++)
		if (r->workers[i].done < done)
			done = r->workers[i].done;
	return done;
}

/* Start the threads, wait for them with progress and the stop flag, join them. */
static int replay_pipeline(struct replay *r, int64_t total, struct avm_err *err)
{
	const struct replay_opts *o = r->o;
	double start = replay_now(), last = start;
	int rc;

	pthread_mutex_lock(&r->mu);
	rc = pthread_create(&r->reader, NULL, replay_reader, r);
	r->reader_started = rc == 0;
	r->running += rc == 0;
	for (size_t i = 0; i < r->nworkers && rc == 0; i++) {
		rc = pthread_create(&r->workers[i].th, NULL, replay_worker_main, &r->workers[i]);
		r->workers[i].started = rc == 0;
		r->running += rc == 0;
	}
	if (rc) {
		struct avm_err e;

		avm_errf(&e, "replay: cannot start a thread: %s", strerror(rc));
		replay_fail_locked(r, &e);
	}
	while (r->running > 0) {
		struct timespec until;
		double now;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000; /* 0.1 s: Ctrl-C is noticed quickly */
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->progress, &r->mu, &until);
		if (o->stop && *o->stop && !r->abort) {
			struct avm_err e;

			avm_errf(&e, "interrupted after %" PRIu64 " of %" PRId64
				     " events; no report written", replay_done_locked(r), total);
			replay_fail_locked(r, &e);
		}
		now = replay_now();
		if (o->progress && !r->abort && now - last >= 1.0) {
			uint64_t done = replay_done_locked(r);

			pthread_mutex_unlock(&r->mu);
			o->progress(o->progress_ctx, done, (uint64_t)total, now - start);
			pthread_mutex_lock(&r->mu);
			last = now;
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (r->reader_started)
		pthread_join(r->reader, NULL);
	for (size_t i = 0; i < r->nworkers; i++)
		if (r->workers[i].started)
			pthread_join(r->workers[i].th, NULL);
	if (r->failed) {
		*err = r->err;
		return -1;
	}
	return 0;
}

int replay_run(const struct replay_opts *o, struct replay_result *res, struct avm_err *err)
{
	struct replay r = { .o = o };
	double start;
	int64_t total;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.filled, NULL);
	pthread_cond_init(&r.freed, NULL);
	pthread_cond_init(&r.progress, NULL);
	if (replay_setup(&r, err))
		goto out;
	total = 0;
	for (size_t i = 0; i < r.nsegs; i++) {
		int64_t n = trace_event_count(r.segs[i], err);

		if (n < 0)
			goto out;
		total += n;
	}
	start = replay_now();
	if (replay_pipeline(&r, total, err))
		goto out;
	/* the trace's events (a translation may drop or split some: arch.translated_from) */
	res->events = r.xl ? xlate_stats(r.xl)->events_in : r.read;
	memcpy(res->note, r.note, sizeof(res->note));
	res->reader_cpu = r.reader_cpu;
	for (size_t i = 0; i < r.nworkers && i < REPLAY_MAX_MODELS; i++)
		res->world_cpu[i] = r.workers[i].cpu;
	res->seconds = replay_now() - start;
	if (r.val && validate_finish(r.val, err))
		goto out;
	if (o->calibrate_path && replay_calibrate(&r, res, err))
		goto out;
	if (replay_reports(&r, res, err))
		goto out;
	ret = 0;
out:
	cJSON_Delete(res->costs); /* taken by the report, unless it failed first */
	res->costs = NULL;
	validate_destroy(r.val);
	for (size_t i = 0; i < r.nworkers; i++) {
		world_destroy(r.workers[i].w);
		free(r.workers[i].wvmas);
	}
	for (size_t i = 1; i < r.nsegs; i++)
		trace_close(r.segs[i], NULL);
	trace_close(r.t, NULL);
	free(r.segs);
	free(r.seg_offset);
	free(r.held);
	replay_names_free(&r.names);
	replay_meta_free(&r.meta);
	for (size_t i = 0; r.slots && i < REPLAY_SLOTS; i++) {
		free(r.slots[i].rows.v);
		free(r.slots[i].rows.a);
		free(r.slots[i].refs);
	}
	free(r.slots);
	xlate_destroy(r.xl);
	free(r.pend);
	pthread_cond_destroy(&r.progress);
	pthread_cond_destroy(&r.freed);
	pthread_cond_destroy(&r.filled);
	pthread_mutex_destroy(&r.mu);
	return ret;
}
