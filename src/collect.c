/*
 * collect.c - anonvma-collect: record a host (or one command) into trace.db.
 *
 * Flow: parse options -> check privileges and BTF -> create the trace ->
 * (command mode: fork the command, held on a pipe before exec) -> open the
 * BPF skeleton, set its read-only parameters (filter, call-site ranges, what
 * this kernel has), load, seed the tracked-tgid map, attach -> start snapshot
 * (iter/task_vma, read here) -> release the command -> poll the ring buffer
 * until the command ends, -d expires, the --pid process goes, or a signal ->
 * drain, write the closing meta, close the trace.
 *
 * Record path: the BPF side does not wake us per record; the loop sleeps
 * COLLECT_POLL_MS (woken early when the ring is a quarter full) and drains
 * the ring -> collect_order (reorder window keyed by time) -> collect_out(),
 * which maps every kernel address to an id (collect_ids, in stream order so
 * the generation of an address follows its slab alloc/free events) and
 * appends to the trace.  Lost records are counted per CPU by the BPF side and
 * turned into AVM_LOST events here.
 *
 * Snapshots: rows carry the raw VMA and anon_vma state; a VMA row is dropped
 * when another task of the same snapshot already gave that mm (vfork children
 * and CLONE_VM processes share one; done while reading the iterator), an
 * anon_vma row when the snapshot already has it (several VMAs link the same
 * anon_vmas).  Without the BPF iterator or kfuncs (or with --proc-maps) the
 * rows come from /proc/PID/maps (collect_procmaps.h): the start snapshot names
 * an mm by its process until the process's first event gives the address,
 * and an exec's rows are read when sched_process_exec wakes us.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "array.h"
#include "collect.skel.h"
#include "collect_host.h"
#include "collect_ids.h"
#include "collect_order.h"
#include "collect_procmaps.h"
#include "cliopt.h"
#include "error.h"
#include "event.h"
#include "outfile.h"
#include "trace.h"
#include "version.h"

#define COLLECT_WINDOW_NS (30ULL * 1000 * 1000)    /* reorder window */
#define COLLECT_ORDER_MAX (4u << 20)                /* records held at most */
#define COLLECT_RINGBUF_DEFAULT (32u << 20)
#define COLLECT_POLL_MS 20                          /* drain period */
#define COLLECT_EXEC_PENDING 64                     /* concurrent /proc exec snapshots */
#define COLLECT_NICE (-10)                          /* the reader's priority */
#define COLLECT_DROPPED_SNAPS 256                   /* exit snapshots dropped with their rows */
#define COLLECT_DURATION_MAX 31536000.0             /* -d at most: 365 days */
#define COLLECT_PID_MAX 4194304ULL                  /* the kernel's PID_MAX_LIMIT */
#define COLLECT_PATH_DEFAULT "/usr/local/bin:/usr/bin:/bin" /* no PATH in the environment */

struct collect_opts {
	const char *out;
	int force;
	double duration;      /* seconds, 0: until the command/pid ends or a signal */
	char **cmd;
	pid_t pid;
	const char *comm;
	unsigned long ringbuf;
	int verbose;
	int procmaps;         /* --proc-maps: snapshots from /proc/PID/maps */
	int no_exit_snaps;    /* --no-exit-snapshots */
	const char *user;     /* -u: run the command as this user */
	uid_t uid;
	gid_t gid;
	gid_t *groups;        /* the user's supplementary groups (getgrouplist) */
	int ngroups;
	char exe[PATH_MAX];   /* the command's file, found on PATH here ("" if none) */
};

/* Which snapshot last listed each anon_vma id (index = id), to list it once. */
struct collect_seen {
	uint64_t *snap;
	size_t cap;
};

/* When the start snapshot read one mm's VMAs (raw kernel time). */
struct collect_snap_mm {
	uint64_t mm, t;
};

struct collect_run {
	struct collect_opts o;
	struct collect_host host;
	struct btf *vmlinux;
	struct collect_bpf *skel;
	struct ring_buffer *rb;
	struct trace *trace;
	struct collect_ids ids;
	struct collect_order order;
	struct collect_seen av_seen;
	uint64_t start_mono;
	uint64_t snap_t0;           /* raw time the start snapshot began (0: none) */
	struct collect_snap_mm *snap_mm; /* raw mm -> when its rows were read, by mm */
	size_t nsnap_mm;
	uint64_t snap_t_max;        /* the last row's read time */
	uint64_t before_snapshot;   /* events dropped: older than the start snapshot */
	uint64_t dropped_snap[COLLECT_DROPPED_SNAPS]; /* exit snapshots older than the start's */
	size_t ndropped_snap;
	uint64_t *lost_prev;  /* per possible CPU */
	uint64_t lost_total;
	int ncpus;
	uint64_t received, written;
	int callback_failed;
	struct avm_err cb_err;
	const char *mode;
	const char *snapshot_source;
	int procmaps_start;   /* the start snapshot came from /proc: mms known by tgid */
	int procmaps_exec;    /* exec snapshots from /proc at the EXEC event */
	uint64_t user_snap;   /* next snapshot id given here (procmaps_exec) */
	struct {
		uint32_t pid;
		uint64_t snap;
	} exec_pending[COLLECT_EXEC_PENDING]; /* execs waiting for their maps */
	pid_t child;
	int child_status;
	int child_done;
};

static volatile sig_atomic_t collect_stop_signal;

static void collect_on_signal(int sig)
{
	collect_stop_signal = sig;
}

static int collect_verbose;

static int collect_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!collect_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static uint64_t collect_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void collect_usage(FILE *f)
{
	fprintf(f,
		"usage: anonvma-collect -o TRACE.db [options] [-- CMD [ARGS...]]\n"
		"\n"
		"Record what the kernel does with anonymous memory (processes, VMA-changing\n"
		"syscalls, page faults, anon_vma/anon_vma_chain/vm_area_struct slab events,\n"
		"mmap_lock, migration, KSM, THP, reclaim) into a SQLite trace for\n"
		"anonvma-replay.  Needs root or CAP_BPF+CAP_PERFMON and a kernel with BTF.\n"
		"\n"
		"  -o, --output FILE       trace to create (mode 0600)\n"
		"  -f, --force             overwrite FILE if it exists\n"
		"  -d, --duration SECONDS  stop after SECONDS (whole host unless filtered)\n"
		"  -p, --pid PID           only this process and its descendants\n"
		"  -c, --comm NAME         only processes named NAME and their descendants\n"
		"      --ringbuf-size MIB  ring buffer size in MiB (default %u)\n"
		"      --proc-maps         take snapshots from /proc/PID/maps (no anon_vma\n"
		"                          state; what kernels without the BPF task_vma\n"
		"                          iterator get)\n"
		"      --no-exit-snapshots do not list an mm's VMAs when its last user exits\n"
		"                          or execs (the layouts --validate compares)\n"
		"  -u, --user USER         run CMD as USER (its uid, gid and groups)\n"
		"  -v, --verbose           libbpf and verifier messages\n"
		"  -h, --help              this help\n"
		"      --version           the version, the trace schema it writes, its data\n"
		"  -- CMD [ARGS...]        run CMD and record it and its descendants only;\n"
		"                          exit with CMD's status.  CMD is an executable\n"
		"                          file (found on PATH) or a script with '#!': no\n"
		"                          shell is involved\n"
		"\n"
		"Without -d, --pid or CMD it records the whole host until Ctrl-C.\n"
		"\n"
		"examples:\n"
		"  sudo anonvma-collect -o build.db -- make -j2     # a command and its children\n"
		"  sudo anonvma-collect -o host.db -d 60            # the whole host for 60 s\n"
		"  sudo anonvma-collect -o nginx.db -c nginx -d 300 # processes named nginx\n"
		"  anonvma-replay build.db -o build.json            # then replay the trace\n"
		"\n"
		"man anonvma-collect; kernel requirements: docs/install.md\n",
		COLLECT_RINGBUF_DEFAULT >> 20);
}

/* -u USER: uid, gid and supplementary groups, looked up before anything starts. */
static int collect_user_lookup(struct collect_opts *o, struct avm_err *err)
{
	struct passwd *pw;
	int n = 0;

	errno = 0;
	pw = getpwnam(o->user);
	if (!pw)
		return avm_errf(err, "-u: no user named '%s'%s%s", o->user, errno ? ": " : "",
				errno ? strerror(errno) : "");
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	getgrouplist(pw->pw_name, pw->pw_gid, NULL, &n); /* -1: n is the count needed */
	o->groups = calloc((size_t)n + 1, sizeof(*o->groups));
	if (!o->groups)
		return avm_errf(err, "out of memory");
	o->ngroups = n + 1;
	if (getgrouplist(pw->pw_name, pw->pw_gid, o->groups, &o->ngroups) < 0)
		return avm_errf(err, "-u: cannot list the groups of '%s'", o->user);
	return 0;
}

/*
 * The command's file, searched on PATH as execvp would, but the command is
 * then run with execv: execvp hands a file the kernel cannot execute (a
 * script without '#!') to /bin/sh, and the collector runs no shell.  exe
 * stays "" when nothing is found (the exec then fails with ENOENT).
 */
static void collect_find_command(struct collect_opts *o)
{
	const char *path = getenv("PATH"), *p, *colon;
	char cand[PATH_MAX];
	struct stat st;
	int len;

	o->exe[0] = '\0';
	if (strchr(o->cmd[0], '/')) {
		snprintf(o->exe, sizeof(o->exe), "%s", o->cmd[0]);
		return;
	}
	if (!*o->cmd[0])
		return;
	if (!path)
		path = COLLECT_PATH_DEFAULT;
	for (p = path;; p = colon + 1) {
		colon = strchrnul(p, ':');
		len = colon == p ? snprintf(cand, sizeof(cand), "%s", o->cmd[0]) :
				   snprintf(cand, sizeof(cand), "%.*s/%s", (int)(colon - p), p,
					    o->cmd[0]);
		if (len < (int)sizeof(cand) && !stat(cand, &st) && S_ISREG(st.st_mode) &&
		    (st.st_mode & 0111)) {
			snprintf(o->exe, sizeof(o->exe), "%s", cand);
			return;
		}
		if (!*colon)
			return;
	}
}

static int collect_parse(int argc, char **argv, struct collect_opts *o, struct avm_err *err)
{
	static const struct option longs[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "duration", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' },
		{ "ringbuf-size", required_argument, NULL, 256 },
		{ "verbose", no_argument, NULL, 'v' },
		{ "proc-maps", no_argument, NULL, 257 },
		{ "no-exit-snapshots", no_argument, NULL, 258 },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *lastarg = NULL;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->ringbuf = COLLECT_RINGBUF_DEFAULT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:o:fd:p:c:u:vh", longs, NULL)) != -1) {
		lastarg = optarg;
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 'f':
			o->force = 1;
			break;
		case 'd':
			if (cliopt_double("--duration", optarg, 0.001, COLLECT_DURATION_MAX,
					  "a number of seconds", &o->duration, err))
				return -1;
			break;
		case 'p':
			if (cliopt_u64("--pid", optarg, 1, COLLECT_PID_MAX, "a process id", &v, err))
				return -1;
			o->pid = (pid_t)v;
			if (kill(o->pid, 0) && errno == ESRCH)
				return avm_errf(err, "no process with pid %" PRIu64, v);
			break;
		case 'c':
			if (!*optarg || strlen(optarg) > 15)
				return avm_errf(err, "bad comm '%s' (1 to 15 characters)", optarg);
			o->comm = optarg;
			break;
		case 256:
			if (cliopt_u64("--ringbuf-size", optarg, 1, 4096, "a size in MiB", &v, err))
				return -1;
			o->ringbuf = (unsigned long)v << 20;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 257:
			o->procmaps = 1;
			break;
		case 258:
			o->no_exit_snaps = 1;
			break;
		case 'h':
			collect_usage(stdout);
			exit(0);
		case 'V':
			avm_version_print(stdout, "anonvma-collect");
			exit(0);
		case ':':
			if (optopt > 0 && optopt < 256)
				return avm_errf(err, "option '-%c' needs a value (see --help)", optopt);
			return avm_errf(err, "option '%s' needs a value (see --help)",
					argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 256)
				return avm_errf(err, "unknown option '-%c' (see --help)", optopt);
			return avm_errf(err, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->cmd = &argv[optind];
	/* "--" ends the options and announces a command: without one, refuse
	 * rather than fall back to recording the whole host */
	if (!o->cmd && optind > 1 && !strcmp(argv[optind - 1], "--") &&
	    argv[optind - 1] != lastarg)
		return avm_errf(err, "'--' must be followed by a command to run (see --help)");
	if (!o->out)
		return avm_errf(err, "no output file: give -o TRACE.db (see --help)");
	if (o->cmd && o->pid)
		return avm_errf(err, "--pid and a command exclude each other");
	if (o->user && !o->cmd)
		return avm_errf(err, "-u/--user runs a command as USER: give -- CMD (see --help)");
	if (o->user && collect_user_lookup(o, err))
		return -1;
	if (o->cmd)
		collect_find_command(o);
	return 0;
}

/* --- output: addresses to ids, then the trace ------------------------------ */
static int collect_seen_mark(struct collect_seen *s, uint64_t id, uint64_t snap, int *dup,
			     struct avm_err *err)
{
	*dup = 0;
	if (!id)
		return 0;
	if (id >= s->cap) {
		size_t old = s->cap;

		if (array_grow((void **)&s->snap, &s->cap, (size_t)id + 1, sizeof(*s->snap), 1024))
			return avm_errf(err, "out of memory (snapshot bookkeeping)");
		memset(s->snap + old, 0, (s->cap - old) * sizeof(*s->snap));
	}
	*dup = s->snap[id] == snap;
	s->snap[id] = snap;
	return 0;
}

static int collect_cache_ns(int64_t cache)
{
	switch (cache) {
	case AVM_CACHE_ANON_VMA:
		return COLLECT_NS_AV;
	case AVM_CACHE_AVC:
		return COLLECT_NS_AVC;
	default:
		return COLLECT_NS_VMA;
	}
}

#define ID(ns, field) collect_ids_get(&r->ids, (ns), (uint64_t)(field), &v, err)

static int collect_out_snap_vma(struct collect_run *r, struct collect_snap_vma_rec *rec,
				struct avm_err *err)
{
	struct avm_snap_vma *s = &rec->v;
	uint64_t v;
	int i;

	if (ID(COLLECT_NS_MM, s->mm))
		return -1;
	s->mm = v;
	if (ID(COLLECT_NS_FILE, s->file))
		return -1;
	s->file = v;
	if (ID(COLLECT_NS_AV, s->anon_vma))
		return -1;
	s->anon_vma = v;
	if (ID(COLLECT_NS_AV, s->av_root))
		return -1;
	s->av_root = v;
	if (ID(COLLECT_NS_AV, s->av_parent))
		return -1;
	s->av_parent = v;
	for (i = 0; i < AVM_CHAIN_MAX; i++) {
		if (ID(COLLECT_NS_AV, s->chain[i]))
			return -1;
		s->chain[i] = v;
	}
	return trace_append_snap_vma(r->trace, s, err);
}

static int collect_out_snap_av(struct collect_run *r, struct collect_snap_av_rec *rec,
			       struct avm_err *err)
{
	struct avm_snap_av *a = &rec->a;
	uint64_t v;
	int dup;

	if (ID(COLLECT_NS_AV, a->id))
		return -1;
	a->id = v;
	if (collect_seen_mark(&r->av_seen, a->id, a->snap, &dup, err))
		return -1;
	if (dup)
		return 0;
	if (ID(COLLECT_NS_AV, a->root))
		return -1;
	a->root = v;
	if (ID(COLLECT_NS_AV, a->parent))
		return -1;
	a->parent = v;
	return trace_append_snap_av(r->trace, a, err);
}

/*
 * A start snapshot from /proc knows an mm only by its process: the first
 * event of that process with an mm address not seen before names it.
 */
static int collect_out_claim_mm(struct collect_run *r, struct avm_event *e, struct avm_err *err)
{
	int moved;

	if (!e->mm || collect_ids_known(&r->ids, COLLECT_NS_MM, e->mm))
		return 0;
	return collect_ids_alias(&r->ids, COLLECT_NS_MM, COLLECT_PROCMAPS_MM_TAG | e->pid, e->mm,
				 &moved, err);
}

/* Map one ordered record and write it. */
static int collect_snap_mm_cmp(const void *a, const void *b)
{
	const struct collect_snap_mm *x = a, *y = b;

	return x->mm < y->mm ? -1 : x->mm > y->mm;
}

/*
 * Is this event already part of the start snapshot's state?  Everything
 * before the snapshot began is; on an mm the snapshot read, so is whatever
 * happened to it before its rows were read (the iterator walks mm after mm
 * while the probes already fire).
 */
static const struct collect_snap_mm *collect_snap_mm_find(const struct collect_run *r,
							   uint64_t mm)
{
	struct collect_snap_mm key = { .mm = mm };

	if (!mm || !r->nsnap_mm)
		return NULL;
	return bsearch(&key, r->snap_mm, r->nsnap_mm, sizeof(key), collect_snap_mm_cmp);
}

static int collect_before_snapshot(const struct collect_run *r, const struct avm_event *e)
{
	const struct collect_snap_mm *hit;
	int births = (e->kind == AVM_FORK && e->a != (int64_t)e->mm) || e->kind == AVM_EXEC;

	/*
	 * An address space born while the iterator ran (a vfork child's exec, a
	 * fork after the iterator passed the parent's pid) may be missing from
	 * the snapshot: its birth stays in the stream, or its later events would
	 * reach an mm nobody made.  One the snapshot has is born already.  One
	 * born before the iterator began that it does not list was gone by then
	 * (the child exited or exec'd): its birth, like the slab allocations of
	 * its dup_mmap, is older than the snapshot and dropped, or the replay
	 * would build an mm whose objects the trace never shows.
	 */
	if (births && e->a) {
		if (collect_snap_mm_find(r, (uint64_t)e->a))
			return 1;
		if (collect_snap_mm_find(r, e->mm))
			return e->t < r->snap_t0;
	}
	if (e->t < r->snap_t0)
		return 1;
	hit = collect_snap_mm_find(r, e->mm);
	return hit && e->t < hit->t;
}

static int collect_out(struct collect_run *r, void *rec, uint32_t size, struct avm_err *err)
{
	struct avm_event *e = rec;
	uint64_t v;

	/*
	 * The probes attach before the iterator reads every mm, so events older
	 * than the start snapshot are already in its state: replayed too, they
	 * would count twice and reach mms the replay has not adopted yet.
	 */
	if (r->snap_t0 && e->t < r->snap_t_max && e->kind < 1000 && e->kind != AVM_LOST) {
		if (collect_before_snapshot(r, e)) {
			r->before_snapshot++;
			/* an exit snapshot's rows follow its event: drop them with it */
			if (e->kind == AVM_SNAPSHOT && e->b == AVM_SNAP_EXIT &&
			    r->ndropped_snap < COLLECT_DROPPED_SNAPS)
				r->dropped_snap[r->ndropped_snap++] = (uint64_t)e->a;
			return 0;
		}
	}
	e->t = e->t > r->start_mono ? e->t - r->start_mono : 0;
	if (e->kind == COLLECT_REC_SNAP_VMA && size >= sizeof(struct collect_snap_vma_rec)) {
		for (size_t i = 0; i < r->ndropped_snap; i++)
			if (r->dropped_snap[i] == ((struct collect_snap_vma_rec *)rec)->v.snap)
				return 0;
		return collect_out_snap_vma(r, rec, err);
	}
	if (e->kind == COLLECT_REC_SNAP_AV && size >= sizeof(struct collect_snap_av_rec))
		return collect_out_snap_av(r, rec, err);
	if (size != sizeof(*e) || e->kind >= 1000)
		return 0; /* not a record this build knows */

	if (e->kind == AVM_MM_RELEASE) {
		/* Filtered runs see every exit_mmap; keep only known address spaces. */
		if ((r->o.cmd || r->o.pid || r->o.comm) &&
		    !collect_ids_known(&r->ids, COLLECT_NS_MM, e->mm))
			return 0;
		if (collect_ids_release(&r->ids, COLLECT_NS_MM, e->mm, &v, err))
			return -1;
		e->mm = v;
	} else {
		if (r->procmaps_start && collect_out_claim_mm(r, e, err))
			return -1;
		if (ID(COLLECT_NS_MM, e->mm))
			return -1;
		e->mm = v;
	}
	switch (e->kind) {
	case AVM_FORK:
		if (ID(COLLECT_NS_MM, e->a))
			return -1;
		e->a = (int64_t)v;
		break;
	case AVM_EXEC:
		if (ID(COLLECT_NS_MM, e->a))
			return -1;
		e->a = (int64_t)v;
		break;
	case AVM_MMAP:
	case AVM_SHMAT:
	case AVM_UFFD_REGISTER: case AVM_UFFD_UNREGISTER: case AVM_UFFD_COPY:
	case AVM_UFFD_ZEROPAGE: case AVM_UFFD_MOVE: case AVM_UFFD_CONTINUE: case AVM_UFFD_POISON:
		/* e: the fd's struct file (for uffd ioctls the uffd, its ctx identity) */
		if (ID(COLLECT_NS_FILE, e->e))
			return -1;
		e->e = (int64_t)v;
		break;
	case AVM_VMA_NAME:
		if (ID(COLLECT_NS_NAME, e->c))
			return -1;
		e->c = (int64_t)v;
		break;
	case AVM_SLAB: {
		int ns = collect_cache_ns(e->a);
		uint64_t ptr = (uint64_t)e->d;

		if (e->b == AVM_SLAB_ALLOC) {
			if (collect_ids_fresh(&r->ids, ns, ptr, &v, err))
				return -1;
		} else if (collect_ids_release(&r->ids, ns, ptr, &v, err)) {
			return -1;
		}
		e->d = (int64_t)v;
		break;
	}
	default:
		break;
	}
	e->seq = 0;
	if (trace_append(r->trace, e, err))
		return -1;
	r->written++;
	return 0;
}

#undef ID

/* Write every record older than before_t (UINT64_MAX: all of them). */
static int collect_release(struct collect_run *r, uint64_t before_t, struct avm_err *err)
{
	void *rec;
	uint32_t size;
	int rc = 0;

	while (!rc && collect_order_pop(&r->order, before_t, &rec, &size)) {
		rc = collect_out(r, rec, size, err);
		collect_order_done(&r->order, rec, size);
	}
	return rc;
}

/* /proc/PID/maps rows of one process into the window (start and exec snapshots). */
struct collect_maps_ctx {
	struct collect_run *r;
	uint64_t t;
	pid_t pid;
	uint64_t rows;
};

static int collect_maps_push(void *ctx, const struct avm_snap_vma *v, struct avm_err *err)
{
	struct collect_maps_ctx *c = ctx;
	struct collect_snap_vma_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.h.t = c->t;
	rec.h.kind = COLLECT_REC_SNAP_VMA;
	rec.h.pid = rec.h.tid = (uint32_t)c->pid;
	rec.h.mm = v->mm;
	rec.v = *v;
	c->rows++;
	return collect_order_push(&c->r->order, &rec, sizeof(rec), err);
}

/*
 * Exec snapshots from /proc (no task_vma kfuncs, or --proc-maps): the EXEC
 * (at the point of no return) gets a snapshot id here, on arrival; when the
 * new image is loaded (COLLECT_REC_EXEC_DONE, which wakes us at once) the
 * process's maps are read into rows with that id.  The process runs on
 * meanwhile, so the rows may show a little more than the exec made, or
 * nothing if it is already gone.
 */
static int collect_exec_maps(struct collect_run *r, struct avm_event *e, struct avm_err *err)
{
	size_t i;

	if (e->kind == AVM_EXEC) {
		if (e->b || !e->a)
			return 0;
		e->b = (int64_t)r->user_snap++;
		for (i = 0; i < COLLECT_EXEC_PENDING; i++) {
			if (!r->exec_pending[i].pid || r->exec_pending[i].pid == e->pid) {
				r->exec_pending[i].pid = e->pid;
				r->exec_pending[i].snap = (uint64_t)e->b;
				return 0;
			}
		}
		return 0; /* more concurrent execs than slots: this one has no rows */
	}
	for (i = 0; i < COLLECT_EXEC_PENDING; i++) {
		struct collect_maps_ctx c = { r, e->t, (pid_t)e->pid, 0 };
		uint64_t snap = r->exec_pending[i].snap;

		if (r->exec_pending[i].pid != e->pid)
			continue;
		r->exec_pending[i].pid = 0;
		return collect_procmaps_read(c.pid, snap, e->mm, r->host.page_shift,
					     collect_maps_push, &c, err) < 0 ? -1 : 0;
	}
	return 0;
}

static int collect_on_record(void *ctx, void *data, size_t size)
{
	struct collect_run *r = ctx;
	const struct avm_event *e = data;
	struct avm_event copy;

	if (size < sizeof(struct avm_event))
		return 0;
	r->received++;
	if (r->procmaps_exec && (e->kind == AVM_EXEC || e->kind == COLLECT_REC_EXEC_DONE)) {
		/* The ring is mapped read-only: give the snapshot id to a copy. */
		copy = *e;
		if (collect_exec_maps(r, &copy, &r->cb_err)) {
			r->callback_failed = 1;
			return -1;
		}
		if (e->kind == COLLECT_REC_EXEC_DONE)
			return 0;
		data = &copy;
		size = sizeof(copy);
	}
	if (collect_order_push(&r->order, data, size, &r->cb_err)) {
		r->callback_failed = 1;
		return -1;
	}
	return 0;
}

/* Turn new per-CPU reserve failures into AVM_LOST events. */
static int collect_drain_lost(struct collect_run *r, struct avm_err *err)
{
	uint64_t vals[r->ncpus];
	uint32_t key = COLLECT_STAT_LOST;
	uint64_t now = collect_now(CLOCK_MONOTONIC);
	int cpu;

	if (bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.stats), &key, vals))
		return avm_errf(err, "cannot read the lost-event counters: %s", strerror(errno));
	for (cpu = 0; cpu < r->ncpus; cpu++) {
		struct avm_event e;

		if (vals[cpu] <= r->lost_prev[cpu])
			continue;
		memset(&e, 0, sizeof(e));
		e.t = now;
		e.cpu = (uint32_t)cpu;
		e.kind = AVM_LOST;
		e.a = cpu;
		e.b = (int64_t)(vals[cpu] - r->lost_prev[cpu]);
		r->lost_total += vals[cpu] - r->lost_prev[cpu];
		r->lost_prev[cpu] = vals[cpu];
		if (collect_order_push(&r->order, &e, sizeof(e), err))
			return -1;
	}
	return 0;
}

static uint64_t collect_stat_sum(struct collect_run *r, uint32_t key)
{
	uint64_t vals[r->ncpus], sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.stats), &key, vals))
		return 0;
	for (int cpu = 0; cpu < r->ncpus; cpu++)
		sum += vals[cpu];
	return sum;
}

/* --- BPF set-up ----------------------------------------------------------- */

/* Does the running kernel have tracepoint name (as a BTF-typed tracepoint)? */
static int collect_have_tp(const struct btf *btf, const char *name)
{
	char tn[128];

	snprintf(tn, sizeof(tn), "btf_trace_%s", name);
	return btf__find_by_name_kind(btf, tn, BTF_KIND_TYPEDEF) > 0;
}

/* Number of arguments of tracepoint name (without the leading void *), -1 if unknown. */
static int collect_tp_nargs(const struct btf *btf, const char *name)
{
	char tn[128];
	const struct btf_type *t;
	int id;

	snprintf(tn, sizeof(tn), "btf_trace_%s", name);
	id = btf__find_by_name_kind(btf, tn, BTF_KIND_TYPEDEF);
	if (id <= 0)
		return -1;
	t = btf__type_by_id(btf, id);            /* typedef */
	t = t ? btf__type_by_id(btf, t->type) : NULL; /* pointer */
	t = t ? btf__type_by_id(btf, t->type) : NULL; /* func proto */
	if (!t || !btf_is_func_proto(t))
		return -1;
	return btf_vlen(t) - 1;
}

/*
 * The mmap_lock programs read (mm, write[, success]).  Kernels whose
 * tracepoints still pass memcg_path before write (up to at least 6.8) would
 * hand them a pointer as the write flag: such a tracepoint counts as missing
 * rather than recording wrong lock kinds.  Other tracepoints: always ok.
 */
static int collect_lock_args_ok(const struct btf *btf, const char *name)
{
	if (!strncmp(name, "mmap_lock_", 10))
		return collect_tp_nargs(btf, name) ==
		       (!strcmp(name, "mmap_lock_acquire_returned") ? 3 : 2);
	return 1;
}

/*
 * Can this kernel attach fentry programs to the rmap functions?  Load a
 * two-instruction fentry program on anon_vma_fork; EPERM/EINVAL/ENOENT mean
 * no (lockdown, no BTF for the function, no trampolines).
 */
static int collect_probe_fentry(const struct btf *btf)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	int id = btf__find_by_name_kind(btf, "anon_vma_fork", BTF_KIND_FUNC);
	int fd;

	if (id <= 0)
		return 0;
	opts.attach_btf_id = (unsigned)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "avm_probe", "GPL", insns, 2, &opts);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int collect_bpf_open(struct collect_run *r, struct avm_err *err)
{
	struct collect_site_range sites[COLLECT_FN_MAX];
	struct bpf_program *prog;
	char missing[1024] = "";
	int sites_known, fentry, kfuncs, nargs;
	unsigned long rb = 4096;

	r->skel = collect_bpf__open();
	if (!r->skel)
		return avm_errf(err, "cannot open the BPF object: %s", strerror(errno));
	if (collect_host_sites(sites, &sites_known, err))
		return -1;
	if (!sites_known)
		fprintf(stderr, "anonvma-collect: warning: anon rmap functions not found in "
			"/proc/kallsyms (kptr_restrict?): slab events stay unclassified\n");
	memcpy((void *)r->skel->rodata->sites, sites, sizeof(sites));
	r->skel->rodata->sites_known = (unsigned)sites_known;
	r->skel->rodata->self_tgid = (unsigned)getpid();
	r->skel->rodata->filter_on = r->o.cmd || r->o.pid || r->o.comm;
	if (r->o.comm) {
		r->skel->rodata->comm_on = 1;
		strncpy((char *)r->skel->rodata->comm_want, r->o.comm, 15);
	}
	r->skel->rodata->user_addr_max = r->host.user_addr_max;
	r->skel->rodata->page_shift = r->host.page_shift;
	nargs = collect_tp_nargs(r->vmlinux, "sched_process_exit");
	r->skel->rodata->exit_has_group_dead = nargs >= 2;
	r->skel->rodata->have_prepare_exec = collect_have_tp(r->vmlinux, "sched_prepare_exec");
	r->skel->rodata->have_fork_tp = collect_have_tp(r->vmlinux, "sched_process_fork");

	while (rb < r->o.ringbuf)
		rb <<= 1;
	if (bpf_map__set_max_entries(r->skel->maps.events, (unsigned)rb))
		return avm_errf(err, "cannot size the ring buffer to %lu bytes", rb);
	r->skel->rodata->wake_bytes = rb / 4;

	fentry = collect_probe_fentry(r->vmlinux);
	kfuncs = !r->o.procmaps &&
		 btf__find_by_name_kind(r->vmlinux, "bpf_iter_task_vma_new", BTF_KIND_FUNC) > 0;
	r->procmaps_exec = !kfuncs;
	r->user_snap = 2;
	r->skel->rodata->snap_at_exec = (unsigned)kfuncs;
	r->skel->rodata->snap_at_exit = (unsigned)(kfuncs && !r->o.no_exit_snaps);
	r->mode = fentry ? "fentry" : "tracepoint";
	r->snapshot_source = kfuncs ? "bpf_task_vma" : "proc_maps";

	bpf_object__for_each_program(prog, r->skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		const char *name = bpf_program__name(prog);
		int load = 1;

		if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6))
			load = fentry;
		else if (!strncmp(sec, "tp_btf/", 7) && (!collect_have_tp(r->vmlinux, sec + 7) ||
							  !collect_lock_args_ok(r->vmlinux, sec + 7))) {
			load = 0;
			if (strlen(missing) + strlen(sec + 7) + 2 < sizeof(missing)) {
				strcat(missing, *missing ? "," : "");
				strcat(missing, sec + 7);
			}
		}
		if (!strcmp(name, "on_exec_snap"))
			load = load && kfuncs;
		else if (!strcmp(name, "on_exec_plain"))
			load = load && !kfuncs;
		bpf_program__set_autoload(prog, load);
	}
	/* FORK argument e: the measured fork latency (docs/collect.md), or 0 without it */
	if (trace_meta_set(r->trace, "fork_latency",
			   r->skel->rodata->have_fork_tp ? "syscall_entry_to_sched_process_fork" :
							   "none", err) ||
	    trace_meta_set(r->trace, "missing_tracepoints", missing, err) ||
	    trace_meta_set_int(r->trace, "slab_sites_resolved", sites_known, err))
		return -1;
	return 0;
}

static int collect_bpf_load(struct collect_run *r, struct avm_err *err)
{
	int rc = collect_bpf__load(r->skel);

	if (rc)
		return avm_errf(err, "the kernel refused the BPF programs: %s%s", strerror(-rc),
				r->o.verbose ? "" : " (run with -v for the verifier log)");
	return 0;
}

static int collect_track(struct collect_run *r, pid_t pid, struct avm_err *err)
{
	uint32_t key = (uint32_t)pid;
	uint8_t one = 1;

	if (bpf_map_update_elem(bpf_map__fd(r->skel->maps.tracked), &key, &one, BPF_ANY))
		return avm_errf(err, "cannot seed the tracked-process map: %s", strerror(errno));
	return 0;
}

/* Is process pid one the start snapshot lists (the BPF filter's rule)? */
static int collect_maps_wanted(struct collect_run *r, pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (pid == getpid())
		return 0;
	if (r->o.cmd)
		return pid == r->child;
	if (r->o.pid)
		return pid == r->o.pid;
	if (!r->o.comm)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, r->o.comm);
}

/*
 * The reduced start snapshot: every wanted process's /proc/PID/maps, its mm
 * named by COLLECT_PROCMAPS_MM_TAG | pid until its first event gives the
 * address (collect_out_claim_mm).  vfork children appear as their own mm.
 */
static int collect_start_snapshot_procmaps(struct collect_run *r, struct avm_err *err)
{
	struct collect_maps_ctx c = { r, collect_now(CLOCK_MONOTONIC), 0, 0 };
	struct avm_event ev;
	struct dirent *de;
	DIR *d = opendir("/proc");
	int rc = 0;

	if (!d)
		return avm_errf(err, "cannot list /proc: %s", strerror(errno));
	while (!rc && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || !collect_maps_wanted(r, (pid_t)pid))
			continue;
		c.pid = (pid_t)pid;
		if (collect_procmaps_read(c.pid, 1, COLLECT_PROCMAPS_MM_TAG | (uint64_t)pid,
					  r->host.page_shift, collect_maps_push, &c, err) < 0)
			rc = -1;
	}
	closedir(d);
	if (rc)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.t = c.t - 1;
	ev.kind = AVM_SNAPSHOT;
	ev.a = 1;
	ev.b = AVM_SNAP_START;
	ev.c = (int64_t)c.rows;
	r->procmaps_start = 1;
	r->snapshot_source = "proc_maps";
	return collect_order_push(&r->order, &ev, sizeof(ev), err);
}

/* The start snapshot: every VMA of every recorded process, via iter/task_vma. */
static int collect_start_snapshot(struct collect_run *r, struct avm_err *err)
{
	struct bpf_link *link = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, off;
	uint64_t mms[4096], snap_t[4096];
	size_t nmm = 0, skipmm = 0;
	uint64_t t0 = collect_now(CLOCK_MONOTONIC), vmas = 0;
	uint32_t cur_tid = 0;
	int fd = -1, rc = -1, skip = 0;
	struct avm_event ev;

	r->snap_t0 = t0;
	link = bpf_program__attach_iter(r->skel->progs.snap_iter, NULL);
	fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	if (fd < 0) {
		/* No task_vma iterator here: the reduced snapshot from /proc. */
		rc = collect_start_snapshot_procmaps(r, err);
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (array_grow((void **)&buf, &cap, len + 65536, 1, 1 << 20)) {
			avm_errf(err, "out of memory reading the start snapshot");
			goto out;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			avm_errf(err, "reading the task_vma iterator: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* Records: a VMA row follows the anon_vma rows of its chain. */
	for (off = 0; off + sizeof(struct avm_event) <= len;) {
		struct avm_event *h = (struct avm_event *)(buf + off);
		size_t sz = h->kind == COLLECT_REC_SNAP_VMA ? sizeof(struct collect_snap_vma_rec) :
			    h->kind == COLLECT_REC_SNAP_AV ? sizeof(struct collect_snap_av_rec) : 0;

		if (!sz || off + sz > len) {
			avm_errf(err, "malformed start-snapshot record at byte %zu", off);
			goto out;
		}
		if (h->tid != cur_tid) {
			/* A new task: skip it if an earlier task gave the same mm. */
			size_t i;

			cur_tid = h->tid;
			skip = 0;
			for (i = 0; i < nmm; i++)
				if (mms[i] == h->mm)
					skip = 1;
			if (!skip && nmm < sizeof(mms) / sizeof(mms[0])) {
				snap_t[nmm] = h->t;
				mms[nmm++] = h->mm;
			}
			skipmm += skip;
		}
		if (!skip && nmm && mms[nmm - 1] == h->mm && h->t > snap_t[nmm - 1])
			snap_t[nmm - 1] = h->t; /* when this mm's last row was read */
		if (!skip) {
			h->t = t0 + 1;
			if (h->kind == COLLECT_REC_SNAP_VMA)
				vmas++;
			if (collect_order_push(&r->order, h, sz, err))
				goto out;
		}
		off += sz;
	}
	r->snap_mm = calloc(nmm ? nmm : 1, sizeof(*r->snap_mm));
	if (!r->snap_mm) {
		avm_errf(err, "out of memory reading the start snapshot");
		goto out;
	}
	for (r->nsnap_mm = 0; r->nsnap_mm < nmm; r->nsnap_mm++) {
		r->snap_mm[r->nsnap_mm] = (struct collect_snap_mm){ mms[r->nsnap_mm], snap_t[r->nsnap_mm] };
		if (snap_t[r->nsnap_mm] > r->snap_t_max)
			r->snap_t_max = snap_t[r->nsnap_mm];
	}
	qsort(r->snap_mm, r->nsnap_mm, sizeof(*r->snap_mm), collect_snap_mm_cmp);
	if (r->snap_t_max < t0)
		r->snap_t_max = t0;
	memset(&ev, 0, sizeof(ev));
	ev.t = t0;
	ev.kind = AVM_SNAPSHOT;
	ev.a = 1;
	ev.b = AVM_SNAP_START;
	ev.c = (int64_t)vmas;
	if (collect_order_push(&r->order, &ev, sizeof(ev), err))
		goto out;
	if (r->o.verbose)
		fprintf(stderr, "anonvma-collect: start snapshot: %" PRIu64 " VMAs of %zu mms\n",
			vmas, nmm);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	free(buf);
	return rc;
}

/* --- the command ------------------------------------------------------------ */

/* What the held command was doing when it failed (reported on the error pipe). */
enum { COLLECT_STEP_EXEC, COLLECT_STEP_GROUPS, COLLECT_STEP_GID, COLLECT_STEP_UID };

/* Fork the command, held before exec until *go_fd is written; errors come
 * back on *err_fd as { step, errno } (close-on-exec, so EOF means the exec
 * happened). */
static int collect_fork_command(struct collect_run *r, int *go_fd, int *err_fd,
				struct avm_err *err)
{
	int go[2], ef[2];

	if (pipe2(go, O_CLOEXEC))
		return avm_errf(err, "pipe: %s", strerror(errno));
	if (pipe2(ef, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return avm_errf(err, "pipe: %s", strerror(errno));
	}
	r->child = fork();
	if (r->child < 0) {
		close(go[0]);
		close(go[1]);
		close(ef[0]);
		close(ef[1]);
		return avm_errf(err, "fork: %s", strerror(errno));
	}
	if (r->child == 0) {
		const struct collect_opts *o = &r->o;
		char c;
		int e[2] = { COLLECT_STEP_EXEC, ENOENT };

		close(go[1]);
		close(ef[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127); /* the collector gave up */
		/* -u: groups, then gid, then uid (the order setuid leaves possible) */
		if (o->user && setgroups((size_t)o->ngroups, o->groups))
			e[0] = COLLECT_STEP_GROUPS;
		else if (o->user && setgid(o->gid))
			e[0] = COLLECT_STEP_GID;
		else if (o->user && setuid(o->uid))
			e[0] = COLLECT_STEP_UID;
		else if (o->exe[0])
			execv(o->exe, o->cmd);
		if (e[0] != COLLECT_STEP_EXEC || o->exe[0])
			e[1] = errno;
		if (write(ef[1], e, sizeof(e)) != sizeof(e))
			_exit(126);
		_exit(127);
	}
	close(go[0]);
	close(ef[1]);
	*go_fd = go[1];
	*err_fd = ef[0];
	return 0;
}

/* Let the command exec; 0 if it did, -1 with the reason if it could not. */
static int collect_release_command(struct collect_run *r, int go_fd, int err_fd,
				   struct avm_err *err)
{
	static const char *const steps[] = {
		[COLLECT_STEP_GROUPS] = "setgroups", [COLLECT_STEP_GID] = "setgid",
		[COLLECT_STEP_UID] = "setuid",
	};
	int e[2] = { 0, 0 };
	ssize_t n;

	if (write(go_fd, "g", 1) != 1)
		return avm_errf(err, "cannot start '%s': %s", r->o.cmd[0], strerror(errno));
	do
		n = read(err_fd, e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(e))
		return 0;
	if (e[0] != COLLECT_STEP_EXEC)
		return avm_errf(err, "cannot run '%s' as %s: %s: %s", r->o.cmd[0], r->o.user,
				steps[e[0]], strerror(e[1]));
	if (e[1] == ENOEXEC)
		return avm_errf(err, "cannot run '%s': %s (not a binary, and a script needs a "
				"'#!' line: commands run without a shell)", r->o.cmd[0],
				strerror(e[1]));
	return avm_errf(err, "cannot run '%s': %s", r->o.cmd[0], strerror(e[1]));
}

static void collect_reap(struct collect_run *r, int flags)
{
	int status;
	pid_t p;

	if (r->child <= 0 || r->child_done)
		return;
	p = waitpid(r->child, &status, flags);
	if (p == r->child) {
		r->child_done = 1;
		r->child_status = status;
	}
}

/* --- main loop ---------------------------------------------------------------- */
static uint64_t collect_trace_bytes(const char *path)
{
	char wal[4096];
	struct stat st;
	uint64_t total = 0;

	if (!stat(path, &st))
		total += (uint64_t)st.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (!stat(wal, &st))
		total += (uint64_t)st.st_size;
	return total;
}

static void collect_progress(struct collect_run *r, uint64_t now, uint64_t *last_t,
			     uint64_t *last_n, int *shown)
{
	double dt = (double)(now - *last_t) / 1e9;

	if (dt < 1.0 || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\ranonvma-collect: %" PRIu64 " events (%.0f/s), lost %" PRIu64
		", trace %.1f MiB   ", r->received, (double)(r->received - *last_n) / dt,
		r->lost_total, (double)collect_trace_bytes(r->o.out) / (1 << 20));
	*last_t = now;
	*last_n = r->received;
	*shown = 1;
}

/* Is pid still running (a zombie has left its address space behind)? */
static int collect_pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the state follows the parenthesised comm */
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static int collect_loop(struct collect_run *r, struct avm_err *err)
{
	uint64_t t0 = collect_now(CLOCK_MONOTONIC);
	uint64_t deadline = r->o.duration > 0 ? t0 + (uint64_t)(r->o.duration * 1e9) : 0;
	uint64_t last_t = t0, last_n = 0;
	int shown = 0, rc = 0;

	while (!collect_stop_signal) {
		uint64_t now;
		/* Records come without wake-ups (collect.bpf.c wake_flags()):
		 * sleep a little, woken early only when the ring fills, then drain. */
		int n = ring_buffer__poll(r->rb, COLLECT_POLL_MS);

		if (n >= 0)
			n = ring_buffer__consume(r->rb);
		if (n < 0 && n != -EINTR) {
			rc = avm_errf(err, "reading the ring buffer: %s", strerror(-n));
			break;
		}
		if (r->callback_failed) {
			*err = r->cb_err;
			rc = -1;
			break;
		}
		now = collect_now(CLOCK_MONOTONIC);
		if (collect_drain_lost(r, err) ||
		    collect_release(r, now > COLLECT_WINDOW_NS ? now - COLLECT_WINDOW_NS : 0, err)) {
			rc = -1;
			break;
		}
		collect_progress(r, now, &last_t, &last_n, &shown);
		if (deadline && now >= deadline)
			break;
		if (r->child > 0) {
			collect_reap(r, WNOHANG);
			if (r->child_done)
				break;
		}
		if (r->o.pid && !collect_pid_alive(r->o.pid))
			break;
	}
	if (shown)
		fputc('\n', stderr);
	return rc;
}

/* Final drain: everything still in the ring buffer, then the whole window. */
static int collect_finish(struct collect_run *r, struct avm_err *err)
{
	int n = ring_buffer__consume(r->rb);

	if (n < 0)
		return avm_errf(err, "reading the ring buffer: %s", strerror(-n));
	if (r->callback_failed) {
		*err = r->cb_err;
		return -1;
	}
	if (collect_drain_lost(r, err))
		return -1;
	return collect_release(r, UINT64_MAX, err);
}

static int collect_meta_start(struct collect_run *r, struct avm_err *err)
{
	char cmd[1024] = "";

	for (char **a = r->o.cmd; a && *a; a++) {
		if (strlen(cmd) + strlen(*a) + 2 >= sizeof(cmd))
			break;
		strcat(cmd, cmd[0] ? " " : "");
		strcat(cmd, *a);
	}
	if (trace_meta_set(r->trace, "writer", "collect", err) ||
	    trace_meta_set(r->trace, "tool_version", avm_version(), err) ||
	    trace_meta_set(r->trace, "collect_scope",
			   r->o.cmd ? "command" : r->o.pid ? "pid" : r->o.comm ? "comm" : "host",
			   err) ||
	    (r->o.cmd && trace_meta_set(r->trace, "collect_command", cmd, err)) ||
	    (r->o.pid && trace_meta_set_int(r->trace, "collect_pid", r->o.pid, err)) ||
	    (r->o.comm && trace_meta_set(r->trace, "collect_comm", r->o.comm, err)))
		return -1;
	return collect_host_meta(r->trace, &r->host, r->vmlinux, err);
}

static int collect_meta_end(struct collect_run *r, struct avm_err *err)
{
	uint64_t end = collect_now(CLOCK_MONOTONIC);

	if (trace_meta_set(r->trace, "collection_mode", r->mode ? r->mode : "tracepoint", err) ||
	    trace_meta_set(r->trace, "snapshot_source",
			   r->snapshot_source ? r->snapshot_source : "none", err) ||
	    trace_meta_set_int(r->trace, "end_ns", (int64_t)collect_now(CLOCK_REALTIME), err) ||
	    trace_meta_set_int(r->trace, "duration_ns", (int64_t)(end - r->start_mono), err) ||
	    trace_meta_set_int(r->trace, "interrupted", collect_stop_signal ? 1 : 0, err) ||
	    trace_meta_set_int(r->trace, "records_received", (int64_t)r->received, err) ||
	    trace_meta_set_int(r->trace, "events_before_snapshot", (int64_t)r->before_snapshot, err))
		return -1;
	if (r->skel && r->skel->maps.stats && bpf_map__fd(r->skel->maps.stats) >= 0) {
		if (trace_meta_set_int(r->trace, "slab_other_events",
				       (int64_t)collect_stat_sum(r, COLLECT_STAT_SLAB_OTHER), err) ||
		    trace_meta_set_int(r->trace, "slab_failed_allocs",
				       (int64_t)collect_stat_sum(r, COLLECT_STAT_SLAB_FAILED), err) ||
		    trace_meta_set_int(r->trace, "snapshot_chains_truncated",
				       (int64_t)collect_stat_sum(r, COLLECT_STAT_SNAP_TRUNC), err) ||
		    trace_meta_set_int(r->trace, "exit_snapshots",
				       r->skel->rodata->snap_at_exit, err) ||
		    trace_meta_set_int(r->trace, "exit_snapshots_missed",
				       (int64_t)collect_stat_sum(r, COLLECT_STAT_SNAP_MISSED), err))
			return -1;
	}
	if (r->child > 0 && r->child_done)
		return trace_meta_set_int(r->trace, "command_status",
					  WIFEXITED(r->child_status) ?
						  WEXITSTATUS(r->child_status) :
						  128 + WTERMSIG(r->child_status), err);
	return 0;
}

/*
 * Run at COLLECT_NICE (after the command is forked, which keeps the default):
 * the reader sleeps between drains and must win the CPU back from the
 * workload it records when it wakes, or a workload that keeps every CPU busy
 * fills the ring (bench/collect_rate.sh, docs/collect.md "Throughput").
 * Without CAP_SYS_NICE it stays at its nice value, named with -v.
 */
static void collect_priority(const struct collect_run *r)
{
	if (setpriority(PRIO_PROCESS, 0, COLLECT_NICE) && r->o.verbose)
		fprintf(stderr, "anonvma-collect: cannot raise the reader's priority (nice %d): %s\n",
			COLLECT_NICE, strerror(errno));
}

static void collect_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = collect_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int main(int argc, char **argv)
{
	struct collect_run r;
	struct avm_err err = { "" }, err2;
	int go_fd = -1, err_fd = -1, rc = 1, exec_failed = 0, released = 0;

	memset(&r, 0, sizeof(r));
	if (collect_parse(argc, argv, &r.o, &err))
		goto out;
	collect_verbose = r.o.verbose;
	libbpf_set_print(collect_libbpf_print);
	if (collect_host_check_privileges(&err))
		goto out;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		avm_errf(&err, "no kernel BTF (/sys/kernel/btf/vmlinux): a kernel built with "
			 "CONFIG_DEBUG_INFO_BTF is required");
		goto out;
	}
	r.vmlinux = btf__load_vmlinux_btf();
	if (!r.vmlinux) {
		avm_errf(&err, "cannot read the kernel BTF: %s", strerror(errno));
		goto out;
	}
	r.ncpus = libbpf_num_possible_cpus();
	if (r.ncpus <= 0) {
		avm_errf(&err, "cannot count the possible CPUs");
		goto out;
	}
	r.lost_prev = calloc((size_t)r.ncpus, sizeof(*r.lost_prev));
	if (!r.lost_prev) {
		avm_errf(&err, "out of memory");
		goto out;
	}
	if (collect_host_probe(&r.host, &err) || collect_ids_init(&r.ids, &err) ||
	    collect_order_init(&r.order, COLLECT_ORDER_MAX, &err))
		goto out;
	if (trace_create(r.o.out, r.o.force, &r.trace, &err))
		goto out;
	if (collect_meta_start(&r, &err))
		goto out;
	if (r.o.cmd && collect_fork_command(&r, &go_fd, &err_fd, &err))
		goto out;
	collect_priority(&r);
	collect_signals();
	if (collect_bpf_open(&r, &err) || collect_bpf_load(&r, &err))
		goto out;
	if ((r.child > 0 && collect_track(&r, r.child, &err)) ||
	    (r.o.pid && collect_track(&r, r.o.pid, &err)))
		goto out;
	r.start_mono = collect_now(CLOCK_MONOTONIC); /* t = 0: tracing starts */
	if (trace_meta_set_int(r.trace, "start_ns", (int64_t)collect_now(CLOCK_REALTIME), &err))
		goto out;
	if (collect_bpf__attach(r.skel)) {
		avm_errf(&err, "cannot attach the BPF programs: %s", strerror(errno));
		goto out;
	}
	r.rb = ring_buffer__new(bpf_map__fd(r.skel->maps.events), collect_on_record, &r, NULL);
	if (!r.rb) {
		avm_errf(&err, "cannot open the ring buffer: %s", strerror(errno));
		goto out;
	}
	if (r.o.procmaps ? collect_start_snapshot_procmaps(&r, &err) :
			   collect_start_snapshot(&r, &err))
		goto out;
	if (!r.o.cmd)
		fprintf(stderr, "anonvma-collect: recording %s into %s%s\n",
			r.o.pid ? "one process" : r.o.comm ? "processes by name" : "the whole host",
			r.o.out, r.o.duration > 0 ? "" : " (Ctrl-C to stop)");
	if (r.child > 0) {
		int e = collect_release_command(&r, go_fd, err_fd, &err);

		close(go_fd);
		close(err_fd);
		go_fd = err_fd = -1;
		released = 1;
		if (e) {
			exec_failed = 1;
			collect_reap(&r, 0);
			goto out;
		}
	}
	if (collect_loop(&r, &err) || collect_finish(&r, &err) || collect_meta_end(&r, &err))
		goto out;
	if (trace_close(r.trace, &err)) {
		r.trace = NULL;
		goto out;
	}
	r.trace = NULL;
	if (r.o.verbose) {
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "anonvma-collect: %" PRIu64 " records, %" PRIu64
			" events written, %" PRIu64 " lost; cpu %.2f s user %.2f s system\n",
			r.received, r.written, r.lost_total,
			ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	if (collect_stop_signal && r.child > 0 && !r.child_done)
		rc = 128 + collect_stop_signal;
	else if (r.child > 0)
		rc = WIFEXITED(r.child_status) ? WEXITSTATUS(r.child_status) :
						 128 + WTERMSIG(r.child_status);
	else
		rc = 0;
out:
	if (rc != 0 && err.msg[0]) {
		fprintf(stderr, "anonvma-collect: ");
		outfile_escape(stderr, err.msg, OUTFILE_ESC_LINE);
		fputc('\n', stderr);
	}
	if (go_fd >= 0)
		close(go_fd); /* a held command sees EOF and exits 127 */
	if (err_fd >= 0)
		close(err_fd);
	/*
	 * A command still held before its exec ends at once (EOF above): reap
	 * it.  One that runs on past -d or a signal is left running.
	 */
	if (r.child > 0 && !r.child_done && !released)
		collect_reap(&r, 0);
	if (r.trace) {
		/* Keep what was recorded: drain what can be drained, then close. */
		if (r.rb && exec_failed)
			collect_finish(&r, &err2);
		if (r.skel && exec_failed)
			collect_meta_end(&r, &err2);
		if (exec_failed)
			trace_close(r.trace, &err2);
		else
			trace_abort(r.trace, &err2);
	}
	ring_buffer__free(r.rb);
	collect_bpf__destroy(r.skel);
	btf__free(r.vmlinux);
	collect_ids_free(&r.ids);
	collect_order_free(&r.order);
	free(r.av_seen.snap);
	free(r.lost_prev);
	free(r.snap_mm);
	free(r.o.groups);
	if (exec_failed)
		return 127;
	return rc;
}
