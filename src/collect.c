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
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
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
#include "collect_procs.h"
#include "cliopt.h"
#include "error.h"
#include "event.h"
#include "outfile.h"
#include "trace.h"
#include "version.h"
#include "zstdfile.h"

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
#define COLLECT_STATUS_S 10.0                      /* status line period off a terminal */
#define COLLECT_ROTATE_MIN_S 1.0                   /* --rotate DURATION at least */
#define COLLECT_ROTATE_MIN_BYTES (1ULL << 20)      /* --rotate SIZE at least */
#define COLLECT_MAX_FILES 1000000

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
	double rotate_s;      /* --rotate DURATION: seconds (0: not by time) */
	uint64_t rotate_bytes; /* --rotate SIZE: bytes (0: not by size) */
	unsigned max_files;   /* --max-files: segments kept (0: all) */
	int compress;         /* --compress: zstd closed segments */
	const char *cgroup;   /* --cgroup PATH */
	double status_s;      /* --status-interval: seconds between status lines off a tty */
	char outbuf[PATH_MAX]; /* -o with strftime %-sequences expanded */
};

/* Closed segments of this collection, oldest first (for --max-files). */
struct collect_closed {
	char **path;
	size_t n, cap;
};

/* --compress: one closed segment compressed by a thread while recording goes on. */
struct collect_zst {
	pthread_t th;
	int running;
	char path[PATH_MAX], out[PATH_MAX + 8];
	int rc;
	struct avm_err err;
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
	/* identity and segments (--rotate) */
	char collection_id[33];
	unsigned segment;           /* index of the segment being written */
	char seg_path[PATH_MAX];    /* its file */
	uint64_t first_mono;        /* the first segment's time 0 */
	struct trace *out;          /* where the record collect_out handles goes */
	struct trace *prev;         /* the segment before: takes what precedes the new snapshot */
	char prev_path[PATH_MAX];
	uint64_t prev_mono;         /* its time 0 */
	uint64_t *prev_snaps;       /* snapshot ids whose event went to prev (their rows follow) */
	size_t nprev_snaps, capprev_snaps;
	struct collect_closed closed;
	struct collect_zst zst;
	uint64_t bytes_closed;      /* bytes of the closed segments (compressed when so) */
	char missing_tp[1024];      /* meta missing_tracepoints (every segment) */
	int sites_known;
	struct collect_procs procs;
	uint64_t cgroup_id;
	unsigned cgroup_level;
};

static volatile sig_atomic_t collect_stop_signal;

static void collect_on_signal(int sig)
{
	collect_stop_signal = sig;
}

static int collect_verbose;

static int collect_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* -v: libbpf's warnings and notes (a refused program's verifier log); -vv: its debug log */
	if (!collect_verbose || (level == LIBBPF_DEBUG && collect_verbose < 2))
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
		"  -o, --output FILE       trace to create (mode 0600); strftime sequences\n"
		"                          in FILE are expanded (host-%%Y%%m%%d.db)\n"
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
		"      --cgroup PATH       only processes in this cgroup v2 directory or below\n"
		"                          it (one container: /sys/fs/cgroup/...)\n"
		"      --rotate SIZE|DURATION\n"
		"                          close the trace and open the next segment when it\n"
		"                          reaches SIZE (e.g. 512M, 2G) or after DURATION\n"
		"                          (e.g. 30s, 10min, 1h); segments are FILE with\n"
		"                          .0000, .0001, ... before its extension, each a\n"
		"                          complete trace with its own start snapshot\n"
		"      --max-files N       keep the newest N segments, delete older ones\n"
		"      --compress          zstd-compress each closed segment to FILE.zst\n"
		"                          (anonvma-replay decompresses it to a temporary file)\n"
		"      --status-interval SECONDS\n"
		"                          a status line every SECONDS when stderr is not a\n"
		"                          terminal (default %.0f; 0: none)\n"
		"  -v, --verbose           more messages, libbpf's warnings and the verifier\n"
		"                          log; -vv adds libbpf's debug log\n"
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
		"  sudo anonvma-collect -o host.db --rotate 1h --max-files 24 --compress\n"
		"  anonvma-replay host.0000.db.zst host.0001.db.zst -o day.json  # as one\n"
		"  sudo anonvma-collect -o app.db --cgroup /sys/fs/cgroup/system.slice/app.service\n"
		"\n"
		"man anonvma-collect; kernel requirements: docs/install.md\n",
		COLLECT_RINGBUF_DEFAULT >> 20, COLLECT_STATUS_S);
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

static int collect_rotating(const struct collect_opts *o)
{
	return o->rotate_s > 0 || o->rotate_bytes > 0;
}

/*
 * --rotate SIZE|DURATION: a number and a unit.  Sizes in K, M, G, T (binary:
 * 1M = 2^20 bytes; KiB/MiB/... and KB/MB/... mean the same), durations in s,
 * min, h, d.  A bare number or "m" is refused: 10m could be either.
 */
static int collect_parse_rotate(const char *arg, struct collect_opts *o, struct avm_err *err)
{
	static const struct {
		const char *unit;
		double mult;
		int size;
	} units[] = {
		{ "K", 1024.0, 1 }, { "KiB", 1024.0, 1 }, { "KB", 1024.0, 1 },
		{ "M", 1048576.0, 1 }, { "MiB", 1048576.0, 1 }, { "MB", 1048576.0, 1 },
		{ "G", 1073741824.0, 1 }, { "GiB", 1073741824.0, 1 }, { "GB", 1073741824.0, 1 },
		{ "T", 1099511627776.0, 1 }, { "TiB", 1099511627776.0, 1 },
		{ "TB", 1099511627776.0, 1 },
		{ "s", 1, 0 }, { "sec", 1, 0 }, { "min", 60, 0 }, { "h", 3600, 0 }, { "d", 86400, 0 },
	};
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || errno || !(v > 0) || v > 1e15)
		return avm_errf(err, "--rotate: '%s' is not a size (512M, 2G) or a duration "
				"(30s, 10min, 1h)", arg);
	if (!*end)
		return avm_errf(err, "--rotate: '%s' has no unit: give a size (512M, 2G) or a "
				"duration (30s, 10min, 1h)", arg);
	if (!strcmp(end, "m"))
		return avm_errf(err, "--rotate: '%s' is ambiguous: write %gmin (minutes) or %gM "
				"(MiB)", arg, v, v);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (units[i].size) {
			if (v * units[i].mult < (double)COLLECT_ROTATE_MIN_BYTES)
				return avm_errf(err, "--rotate: %s is too small (at least 1M)", arg);
			o->rotate_bytes = (uint64_t)(v * units[i].mult);
		} else {
			if (v * units[i].mult < COLLECT_ROTATE_MIN_S ||
			    v * units[i].mult > COLLECT_DURATION_MAX)
				return avm_errf(err, "--rotate: %s is out of range (1s to 365d)", arg);
			o->rotate_s = v * units[i].mult;
		}
		return 0;
	}
	return avm_errf(err, "--rotate: unknown unit '%s' in '%s' (sizes: K, M, G, T; "
			"durations: s, min, h, d)", end, arg);
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
		{ "rotate", required_argument, NULL, 259 },
		{ "max-files", required_argument, NULL, 260 },
		{ "compress", no_argument, NULL, 261 },
		{ "cgroup", required_argument, NULL, 262 },
		{ "status-interval", required_argument, NULL, 263 },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *lastarg = NULL;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->ringbuf = COLLECT_RINGBUF_DEFAULT;
	o->status_s = COLLECT_STATUS_S;
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
			o->verbose++;
			break;
		case 259:
			if (collect_parse_rotate(optarg, o, err))
				return -1;
			break;
		case 260:
			/* at least the segment being written and the one closed last */
			if (cliopt_u64("--max-files", optarg, 2, COLLECT_MAX_FILES, "a number of files",
				       &v, err))
				return -1;
			o->max_files = (unsigned)v;
			break;
		case 261:
			o->compress = 1;
			break;
		case 262:
			o->cgroup = optarg;
			break;
		case 263:
			if (cliopt_double("--status-interval", optarg, 0, 86400, "a number of seconds",
					  &o->status_s, err))
				return -1;
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
	if (strchr(o->out, '%')) {
		/* -o host-%Y%m%d.db: one name per run (services, timers) */
		time_t now = time(NULL);
		struct tm tm;

		if (!localtime_r(&now, &tm) ||
		    !strftime(o->outbuf, sizeof(o->outbuf), o->out, &tm) || !o->outbuf[0])
			return avm_errf(err, "-o %s: cannot expand its %%-sequences", o->out);
		o->out = o->outbuf;
	}
	if (o->cmd && o->pid)
		return avm_errf(err, "--pid and a command exclude each other");
	if (o->user && !o->cmd)
		return avm_errf(err, "-u/--user runs a command as USER: give -- CMD (see --help)");
	if (o->user && collect_user_lookup(o, err))
		return -1;
	if ((o->max_files || o->compress) && !collect_rotating(o))
		return avm_errf(err, "%s works on the segments of --rotate: give --rotate SIZE|DURATION",
				o->max_files ? "--max-files" : "--compress");
	if (collect_rotating(o) && o->procmaps)
		return avm_errf(err, "--rotate needs the BPF start snapshot of every segment: not "
				"with --proc-maps");
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
	return trace_append_snap_vma(r->out, s, err);
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
	/* every segment's start snapshot is snapshot 1: tell them apart */
	if (collect_seen_mark(&r->av_seen, a->id,
			      a->snap == 1 ? a->snap | (uint64_t)r->segment << 40 : a->snap, &dup, err))
		return -1;
	if (dup)
		return 0;
	if (ID(COLLECT_NS_AV, a->root))
		return -1;
	a->root = v;
	if (ID(COLLECT_NS_AV, a->parent))
		return -1;
	a->parent = v;
	return trace_append_snap_av(r->out, a, err);
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

/* Did the event of snapshot snap go to the previous segment (--rotate)? */
static int collect_prev_snap(const struct collect_run *r, uint64_t snap)
{
	for (size_t i = 0; r->prev && i < r->nprev_snaps; i++)
		if (r->prev_snaps[i] == snap)
			return 1;
	return 0;
}

/* --rotate: an event that goes to the previous segment and names a snapshot. */
static int collect_prev_snap_add(struct collect_run *r, const struct avm_event *e,
				 struct avm_err *err)
{
	uint64_t snap = e->kind == AVM_SNAPSHOT ? (uint64_t)e->a :
			e->kind == AVM_EXEC	 ? (uint64_t)e->b : 0;

	if (!snap)
		return 0;
	if (array_grow((void **)&r->prev_snaps, &r->capprev_snaps, r->nprev_snaps + 1,
		       sizeof(*r->prev_snaps), 64))
		return avm_errf(err, "out of memory (segment snapshots)");
	r->prev_snaps[r->nprev_snaps++] = snap;
	return 0;
}

/*
 * A process's identity (table processes): at exec from the BPF side, at fork
 * the parent's for the child; written to the segment being written (and to
 * the previous one while it is still open, so both name it).
 */
static int collect_out_proc(struct collect_run *r, uint32_t pid, int64_t t, const char *comm,
			    const char *exe, struct avm_err *err)
{
	int64_t tp = (int64_t)(r->start_mono - r->prev_mono) + t;

	if (collect_procs_set(&r->procs, pid, comm, exe, err) ||
	    trace_append_proc(r->out, pid, t, comm, exe, err))
		return -1;
	if (r->prev && r->out != r->prev && trace_append_proc(r->prev, pid, tp, comm, exe, err))
		return -1;
	return 0;
}

static int collect_out(struct collect_run *r, void *rec, uint32_t size, struct avm_err *err)
{
	struct avm_event *e = rec;
	uint64_t v, mono = r->start_mono;

	r->out = r->trace;
	/*
	 * The probes attach before the iterator reads every mm, so events older
	 * than the start snapshot are already in its state: replayed too, they
	 * would count twice and reach mms the replay has not adopted yet.  After
	 * a rotation they belong to the previous segment, which is closed once
	 * they are all out: the two segments replayed one after the other see
	 * every event once.
	 */
	if (r->snap_t0 && e->t < r->snap_t_max && e->kind < 1000 && e->kind != AVM_LOST) {
		if (collect_before_snapshot(r, e)) {
			if (r->prev) {
				r->out = r->prev;
				mono = r->prev_mono;
				if (collect_prev_snap_add(r, e, err))
					return -1;
			} else {
				r->before_snapshot++;
				/* an exit snapshot's rows follow its event: drop them with it */
				if (e->kind == AVM_SNAPSHOT && e->b == AVM_SNAP_EXIT &&
				    r->ndropped_snap < COLLECT_DROPPED_SNAPS)
					r->dropped_snap[r->ndropped_snap++] = (uint64_t)e->a;
				return 0;
			}
		}
	}
	e->t = e->t > mono ? e->t - mono : 0;
	if (e->kind == COLLECT_REC_SNAP_VMA && size >= sizeof(struct collect_snap_vma_rec)) {
		uint64_t snap = ((struct collect_snap_vma_rec *)rec)->v.snap;

		for (size_t i = 0; i < r->ndropped_snap; i++)
			if (r->dropped_snap[i] == snap)
				return 0;
		if (snap != 1 && collect_prev_snap(r, snap))
			r->out = r->prev;
		return collect_out_snap_vma(r, rec, err);
	}
	if (e->kind == COLLECT_REC_SNAP_AV && size >= sizeof(struct collect_snap_av_rec)) {
		if (((struct collect_snap_av_rec *)rec)->a.snap != 1 &&
		    collect_prev_snap(r, ((struct collect_snap_av_rec *)rec)->a.snap))
			r->out = r->prev;
		return collect_out_snap_av(r, rec, err);
	}
	if (e->kind == COLLECT_REC_PROC && size >= sizeof(struct collect_proc_rec)) {
		struct collect_proc_rec *p = rec;

		p->comm[sizeof(p->comm) - 1] = '\0';
		p->exe[sizeof(p->exe) - 1] = '\0';
		if (!strcmp(p->exe, "/proc/self/exe")) {
			/* gone before it was resolved: it re-ran the file it ran before */
			const struct collect_proc *old = collect_procs_get(&r->procs, e->pid);

			if (old && old->exe[0])
				snprintf(p->exe, sizeof(p->exe), "%s", old->exe);
		}
		return collect_out_proc(r, e->pid, (int64_t)e->t, p->comm, p->exe, err);
	}
	if (size != sizeof(*e) || e->kind >= 1000)
		return 0; /* not a record this build knows */
	/* a forked child runs its parent's image: its parent's name until it execs */
	if (e->kind == AVM_FORK && e->d && (uint32_t)e->d != e->pid) {
		const struct collect_proc *pp = collect_procs_get(&r->procs, e->pid);

		if (pp && (collect_procs_set(&r->procs, (uint32_t)e->d, pp->comm, pp->exe, err) ||
			   trace_append_proc(r->out, (uint32_t)e->d, (int64_t)e->t, pp->comm,
					     pp->exe, err)))
			return -1;
	}
	if (e->kind == AVM_EXIT && e->a)
		collect_procs_drop(&r->procs, e->pid);

	if (e->kind == AVM_MM_RELEASE) {
		/* Filtered runs see every exit_mmap; keep only known address spaces. */
		if ((r->o.cmd || r->o.pid || r->o.comm || r->o.cgroup) &&
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
	if (trace_append(r->out, e, err))
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

/*
 * An exec's path as execve got it may be relative or /proc/self/exe: resolve
 * it now, while the process most likely still runs - through its exe link,
 * else against its working directory; the collector's own command by the
 * file it found on PATH.  What cannot be resolved stays as given.
 */
static void collect_resolve_exe(const struct collect_run *r, struct collect_proc_rec *p)
{
	char link[64], buf[PATH_MAX], cwd[PATH_MAX];
	ssize_t n;

	p->exe[sizeof(p->exe) - 1] = '\0';
	if (p->exe[0] == '/' && strncmp(p->exe, "/proc/", 6))
		return;
	snprintf(link, sizeof(link), "/proc/%u/exe", p->h.pid);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n > 0 && (size_t)n < sizeof(p->exe)) {
		memcpy(p->exe, buf, (size_t)n);
		p->exe[n] = '\0';
		return;
	}
	if (p->exe[0] == '/')
		return;
	if ((pid_t)p->h.pid == r->child && r->o.exe[0] && realpath(r->o.exe, buf) &&
	    strlen(buf) < sizeof(p->exe)) {
		memcpy(p->exe, buf, strlen(buf) + 1);
		return;
	}
	snprintf(link, sizeof(link), "/proc/%u/cwd", p->h.pid);
	n = readlink(link, cwd, sizeof(cwd) - 1);
	if (n > 0) {
		cwd[n] = '\0';
		if (snprintf(buf, sizeof(buf), "%s/%s", cwd, p->exe) < (int)sizeof(p->exe))
			memcpy(p->exe, buf, strlen(buf) + 1);
	}
}

static int collect_on_record(void *ctx, void *data, size_t size)
{
	struct collect_run *r = ctx;
	const struct avm_event *e = data;
	struct avm_event copy;
	struct collect_proc_rec proc;

	if (size < sizeof(struct avm_event))
		return 0;
	r->received++;
	if (e->kind == COLLECT_REC_PROC && size >= sizeof(proc)) {
		/* the ring is read-only: resolve the path in a copy */
		memcpy(&proc, data, sizeof(proc));
		collect_resolve_exe(r, &proc);
		data = &proc;
		size = sizeof(proc);
	}
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

static int collect_meta_bpf(struct collect_run *r, struct avm_err *err);

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
	snprintf(r->missing_tp, sizeof(r->missing_tp), "%s", missing);
	r->sites_known = sites_known;
	if (r->o.cgroup) {
		r->skel->rodata->cgroup_on = 1;
		r->skel->rodata->cgroup_id = r->cgroup_id;
		r->skel->rodata->cgroup_level = r->cgroup_level;
	}
	return collect_meta_bpf(r, err);
}

/* What the BPF set-up found, in the meta of every segment. */
static int collect_meta_bpf(struct collect_run *r, struct avm_err *err)
{
	/* FORK argument e: the measured fork latency (docs/collect.md), or 0 without it */
	if (trace_meta_set(r->trace, "fork_latency",
			   r->skel->rodata->have_fork_tp ? "syscall_entry_to_sched_process_fork" :
							   "none", err) ||
	    trace_meta_set(r->trace, "missing_tracepoints", r->missing_tp, err) ||
	    trace_meta_set_int(r->trace, "slab_sites_resolved", r->sites_known, err))
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

/* A process a start snapshot lists: its identity from /proc (gone: none). */
static int collect_snapshot_proc(struct collect_run *r, uint32_t pid, uint64_t t,
				 struct avm_err *err)
{
	char comm[16], exe[TRACE_EXE_MAX + 1];

	if (collect_procs_get(&r->procs, pid) && r->segment == 0)
		return 0;
	if (collect_procs_read(pid, comm, exe, sizeof(exe)))
		return 0;
	if (collect_procs_set(&r->procs, pid, comm, exe, err))
		return -1;
	return trace_append_proc(r->trace, pid, (int64_t)(t > r->start_mono ? t - r->start_mono : 0),
				 comm, exe, err);
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
					  r->host.page_shift, collect_maps_push, &c, err) < 0 ||
		    collect_snapshot_proc(r, (uint32_t)pid, c.t, err))
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
	uint32_t cur_tid = 0, cur_pid = 0;
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

			if (h->pid != cur_pid && collect_snapshot_proc(r, h->pid, t0, err))
				goto out;
			cur_pid = h->pid;
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

/* Bytes written so far: the closed segments and the one being written. */
static uint64_t collect_bytes(const struct collect_run *r)
{
	return r->bytes_closed + (r->trace ? collect_trace_bytes(r->seg_path) : 0) +
	       (r->prev ? collect_trace_bytes(r->prev_path) : 0) +
	       (r->zst.running ? collect_trace_bytes(r->zst.path) : 0); /* counted once done */
}

/*
 * Progress: on a terminal one line rewritten every second; otherwise (a
 * service, a log file) one whole line every --status-interval seconds.
 */
static void collect_progress(struct collect_run *r, uint64_t now, uint64_t *last_t,
			     uint64_t *last_n, int *shown)
{
	double dt = (double)(now - *last_t) / 1e9;
	int tty = isatty(STDERR_FILENO);
	char seg[64] = "";

	if (tty ? dt < 1.0 : (r->o.status_s <= 0 || dt < r->o.status_s))
		return;
	if (collect_rotating(&r->o))
		snprintf(seg, sizeof(seg), " in %u segment%s", r->segment + 1, r->segment ? "s" : "");
	if (tty) {
		fprintf(stderr, "\ranonvma-collect: %" PRIu64 " events (%.0f/s), lost %" PRIu64
			", trace %.1f MiB%s   ", r->received, (double)(r->received - *last_n) / dt,
			r->lost_total, (double)collect_bytes(r) / (1 << 20), seg);
		*shown = 1;
	} else {
		fprintf(stderr, "anonvma-collect: status: %.0f s, %" PRIu64 " events (%.0f/s), lost %"
			PRIu64 ", %.1f MiB%s\n", (double)(now - r->first_mono) / 1e9, r->received,
			(double)(r->received - *last_n) / dt, r->lost_total,
			(double)collect_bytes(r) / (1 << 20), seg);
		fflush(stderr);
	}
	*last_t = now;
	*last_n = r->received;
}

/* --- segments (--rotate), compression, retention ------------------------------ */

/* Segment seg of -o FILE: FILE.NNNN before its extension (host.db -> host.0002.db). */
static void collect_seg_path(const struct collect_opts *o, unsigned seg, char *buf, size_t len)
{
	const char *dot = strrchr(o->out, '.'), *slash = strrchr(o->out, '/');

	if (!collect_rotating(o))
		snprintf(buf, len, "%s", o->out);
	else if (dot && dot != o->out && (!slash || dot > slash + 1))
		snprintf(buf, len, "%.*s.%04u%s", (int)(dot - o->out), o->out, seg, dot);
	else
		snprintf(buf, len, "%s.%04u", o->out, seg);
}

/* Who recorded what: host, boot, collection and this segment's place in it. */
static int collect_meta_identity(struct collect_run *r, struct avm_err *err)
{
	char host[256] = "", boot[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	if (f) {
		if (!fgets(boot, sizeof(boot), f))
			boot[0] = '\0';
		fclose(f);
		boot[strcspn(boot, "\n")] = '\0';
	}
	if (gethostname(host, sizeof(host) - 1))
		host[0] = '\0';
	if ((host[0] && trace_meta_set(r->trace, "hostname", host, err)) ||
	    (boot[0] && trace_meta_set(r->trace, "boot_id", boot, err)) ||
	    trace_meta_set(r->trace, "collection_id", r->collection_id, err) ||
	    trace_meta_set_int(r->trace, "segment", r->segment, err) ||
	    trace_meta_set_int(r->trace, "segment_offset_ns",
			       (int64_t)(r->start_mono - r->first_mono), err))
		return -1;
	return 0;
}

static void *collect_zst_main(void *arg)
{
	struct collect_zst *z = arg;

	z->rc = zstdfile_compress(z->path, z->out, ZSTDFILE_LEVEL, NULL, &z->err);
	return NULL;
}

/* Delete the oldest closed segments beyond --max-files (open: one is being written). */
static void collect_prune(struct collect_run *r, int open)
{
	size_t keep = r->o.max_files ? r->o.max_files - (open ? 1 : 0) : 0;

	while (keep && r->closed.n > keep) {
		char *oldest = r->closed.path[0];

		if (r->zst.running && !strcmp(oldest, r->zst.path))
			return; /* still being compressed: pruned when it is done */
		if (unlink(oldest) && errno != ENOENT)
			fprintf(stderr, "anonvma-collect: warning: cannot remove old segment %s: %s\n",
				oldest, strerror(errno));
		else if (r->o.verbose)
			fprintf(stderr, "anonvma-collect: removed old segment %s (--max-files %u)\n",
				oldest, r->o.max_files);
		free(oldest);
		memmove(r->closed.path, r->closed.path + 1, --r->closed.n * sizeof(char *));
	}
}

/* Wait for the segment being compressed; it replaces its uncompressed file. */
static void collect_zst_wait(struct collect_run *r)
{
	struct collect_zst *z = &r->zst;
	struct stat st;

	if (!z->running)
		return;
	pthread_join(z->th, NULL);
	z->running = 0;
	if (z->rc) {
		fprintf(stderr, "anonvma-collect: warning: %s; %s kept uncompressed\n", z->err.msg,
			z->path);
		if (!stat(z->path, &st))
			r->bytes_closed += (uint64_t)st.st_size;
		return;
	}
	unlink(z->path);
	if (!stat(z->out, &st))
		r->bytes_closed += (uint64_t)st.st_size;
	for (size_t i = 0; i < r->closed.n; i++) {
		if (strcmp(r->closed.path[i], z->path))
			continue;
		char *n = strdup(z->out);

		if (n) {
			free(r->closed.path[i]);
			r->closed.path[i] = n;
		}
	}
	if (r->o.verbose)
		fprintf(stderr, "anonvma-collect: compressed %s\n", z->out);
}

/* A segment was closed: list it, compress it (--compress), apply --max-files. */
static int collect_segment_closed(struct collect_run *r, const char *path, int open,
				  struct avm_err *err)
{
	struct collect_zst *z = &r->zst;
	struct stat st;
	char *copy;
	int rc;

	collect_zst_wait(r);
	if (array_grow((void **)&r->closed.path, &r->closed.cap, r->closed.n + 1,
		       sizeof(*r->closed.path), 16))
		return avm_errf(err, "out of memory (segment list)");
	copy = strdup(path);
	if (!copy)
		return avm_errf(err, "out of memory (segment list)");
	r->closed.path[r->closed.n++] = copy;
	if (r->o.compress) {
		snprintf(z->path, sizeof(z->path), "%s", path);
		snprintf(z->out, sizeof(z->out), "%s%s", path, ZSTDFILE_SUFFIX);
		z->rc = 0;
		rc = pthread_create(&z->th, NULL, collect_zst_main, z);
		if (rc)
			return avm_errf(err, "cannot start the compression thread: %s", strerror(rc));
		z->running = 1;
	} else if (!stat(path, &st)) {
		r->bytes_closed += (uint64_t)st.st_size;
	}
	collect_prune(r, open);
	return 0;
}

static int collect_meta_start(struct collect_run *r, struct avm_err *err);
static int collect_meta_end(struct collect_run *r, struct trace *t, uint64_t mono,
			    struct avm_err *err);
static int collect_start_snapshot(struct collect_run *r, struct avm_err *err);

/* The previous segment has every record older than the new snapshot: close it. */
static int collect_close_prev(struct collect_run *r, struct avm_err *err)
{
	struct trace *t = r->prev;

	r->prev = NULL;
	if (collect_meta_end(r, t, r->prev_mono, err)) {
		trace_abort(t, NULL);
		return -1;
	}
	if (trace_close(t, err))
		return -1;
	r->nprev_snaps = 0;
	return collect_segment_closed(r, r->prev_path, 1, err);
}


/*
 * Open the next segment and take its start snapshot.  The segment being
 * written becomes the previous one: it still takes every record older than
 * the new snapshot (collect_out), and is closed once they are all out.
 */
static int collect_rotate(struct collect_run *r, struct avm_err *err)
{
	char path[PATH_MAX];
	struct trace *t = NULL;

	collect_seg_path(&r->o, r->segment + 1, path, sizeof(path));
	if (trace_create(path, r->o.force, &t, err))
		return -1;
	r->prev = r->trace;
	r->prev_mono = r->start_mono;
	snprintf(r->prev_path, sizeof(r->prev_path), "%s", r->seg_path);
	r->trace = t;
	r->segment++;
	snprintf(r->seg_path, sizeof(r->seg_path), "%s", path);
	r->start_mono = collect_now(CLOCK_MONOTONIC);
	r->nprev_snaps = 0;
	free(r->snap_mm);
	r->snap_mm = NULL;
	r->nsnap_mm = 0;
	r->snap_t_max = 0;
	if (collect_meta_start(r, err) || collect_meta_bpf(r, err) ||
	    trace_meta_set_int(r->trace, "start_ns", (int64_t)collect_now(CLOCK_REALTIME), err) ||
	    collect_start_snapshot(r, err))
		return -1;
	if (r->o.verbose)
		fprintf(stderr, "anonvma-collect: segment %u: %s\n", r->segment, path);
	return 0;
}

/* Is it time for the next segment? */
static int collect_rotate_due(const struct collect_run *r, uint64_t now)
{
	if (r->prev || !collect_rotating(&r->o) ||
	    now - r->start_mono < (uint64_t)(COLLECT_ROTATE_MIN_S * 1e9))
		return 0;
	if (r->o.rotate_s > 0 && now - r->start_mono >= (uint64_t)(r->o.rotate_s * 1e9))
		return 1;
	return r->o.rotate_bytes && collect_trace_bytes(r->seg_path) >= r->o.rotate_bytes;
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
		/* every record older than the new snapshot is out: the old segment is done */
		if ((r->prev && now > COLLECT_WINDOW_NS && now - COLLECT_WINDOW_NS > r->snap_t_max &&
		     collect_close_prev(r, err)) ||
		    (collect_rotate_due(r, now) && collect_rotate(r, err))) {
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
			   r->o.cmd ? "command" : r->o.pid ? "pid" : r->o.comm ? "comm" :
			   r->o.cgroup ? "cgroup" : "host",
			   err) ||
	    (r->o.cmd && trace_meta_set(r->trace, "collect_command", cmd, err)) ||
	    (r->o.pid && trace_meta_set_int(r->trace, "collect_pid", r->o.pid, err)) ||
	    (r->o.comm && trace_meta_set(r->trace, "collect_comm", r->o.comm, err)) ||
	    (r->o.cgroup && trace_meta_set(r->trace, "collect_cgroup", r->o.cgroup, err)) ||
	    collect_meta_identity(r, err))
		return -1;
	return collect_host_meta(r->trace, &r->host, r->vmlinux, err);
}

static int collect_meta_end(struct collect_run *r, struct trace *t, uint64_t mono,
			    struct avm_err *err)
{
	uint64_t end = collect_now(CLOCK_MONOTONIC);

	if (trace_meta_set(t, "collection_mode", r->mode ? r->mode : "tracepoint", err) ||
	    trace_meta_set(t, "snapshot_source",
			   r->snapshot_source ? r->snapshot_source : "none", err) ||
	    trace_meta_set_int(t, "end_ns", (int64_t)collect_now(CLOCK_REALTIME), err) ||
	    trace_meta_set_int(t, "duration_ns", (int64_t)(end - mono), err) ||
	    trace_meta_set_int(t, "interrupted", collect_stop_signal ? 1 : 0, err) ||
	    trace_meta_set_int(t, "records_received", (int64_t)r->received, err) ||
	    trace_meta_set_int(t, "events_before_snapshot", (int64_t)r->before_snapshot, err))
		return -1;
	if (r->skel && r->skel->maps.stats && bpf_map__fd(r->skel->maps.stats) >= 0) {
		if (trace_meta_set_int(t, "slab_other_events",
				       (int64_t)collect_stat_sum(r, COLLECT_STAT_SLAB_OTHER), err) ||
		    trace_meta_set_int(t, "slab_failed_allocs",
				       (int64_t)collect_stat_sum(r, COLLECT_STAT_SLAB_FAILED), err) ||
		    trace_meta_set_int(t, "snapshot_chains_truncated",
				       (int64_t)collect_stat_sum(r, COLLECT_STAT_SNAP_TRUNC), err) ||
		    trace_meta_set_int(t, "exit_snapshots",
				       r->skel->rodata->snap_at_exit, err) ||
		    trace_meta_set_int(t, "exit_snapshots_missed",
				       (int64_t)collect_stat_sum(r, COLLECT_STAT_SNAP_MISSED), err))
			return -1;
	}
	if (r->child > 0 && r->child_done)
		return trace_meta_set_int(t, "command_status",
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

/* The closing line of every recording that ended normally (-d, the command,
 * Ctrl-C), with or without -v; a failure ends with its one error line instead. */
static void collect_summary(const struct collect_run *r)
{
	char seg[96] = "";

	if (collect_rotating(&r->o))
		snprintf(seg, sizeof(seg), ", %u segments (%zu kept)", r->segment + 1, r->closed.n);
	fprintf(stderr, "anonvma-collect: done: %" PRIu64 " events, %" PRIu64 " lost, %" PRIu64
		" bytes, %.1f s%s\n", r->written, r->lost_total, r->bytes_closed,
		(double)(collect_now(CLOCK_MONOTONIC) - r->first_mono) / 1e9, seg);
}

/*
 * --cgroup PATH: the cgroup v2 directory's id (its inode number, which is
 * the kernfs id bpf sees) and its depth below the hierarchy's root (the
 * parents on the same cgroup2 mount).  Anything but a cgroup v2 directory is
 * refused in one line, saying so when the host mounts cgroup v1 (hybrid).
 */
static int collect_cgroup(struct collect_run *r, struct avm_err *err)
{
	const char *v1 = "";
	char path[PATH_MAX], *slash;
	struct statfs sf;
	struct stat st;
	dev_t dev;

	if (!statfs("/sys/fs/cgroup", &sf) && sf.f_type != CGROUP2_SUPER_MAGIC)
		v1 = " (this host mounts cgroup v1 at /sys/fs/cgroup: a hybrid or legacy "
		     "hierarchy; --cgroup needs cgroup v2)";
	if (!realpath(r->o.cgroup, path))
		return avm_errf(err, "--cgroup %s: %s%s", r->o.cgroup, strerror(errno), v1);
	if (statfs(path, &sf) || stat(path, &st))
		return avm_errf(err, "--cgroup %s: %s", r->o.cgroup, strerror(errno));
	if (sf.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
		return avm_errf(err, "--cgroup %s: not a cgroup v2 directory%s", r->o.cgroup, v1);
	if (*v1)
		fprintf(stderr, "anonvma-collect: note: hybrid cgroup host: --cgroup follows the "
			"cgroup v2 hierarchy only\n");
	r->cgroup_id = (uint64_t)st.st_ino;
	dev = st.st_dev;
	for (;;) {
		slash = strrchr(path, '/');
		if (!slash || slash == path)
			break;
		*slash = '\0';
		if (stat(path, &st) || st.st_dev != dev)
			break;
		r->cgroup_level++;
	}
	return 0;
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
	if (trace_new_id(r.collection_id, &err) || (r.o.cgroup && collect_cgroup(&r, &err)))
		goto out;
	collect_seg_path(&r.o, 0, r.seg_path, sizeof(r.seg_path));
	if (trace_create(r.seg_path, r.o.force, &r.trace, &err))
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
	r.first_mono = r.start_mono;
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
	if (collect_rotating(&r.o) && (r.procmaps_start || r.procmaps_exec)) {
		avm_errf(&err, "--rotate needs the BPF task_vma iterator and kfuncs for every "
			 "segment's start snapshot; this kernel has only /proc snapshots");
		goto out;
	}
	if (!r.o.cmd)
		fprintf(stderr, "anonvma-collect: recording %s into %s%s\n",
			r.o.pid ? "one process" : r.o.comm ? "processes by name" :
			r.o.cgroup ? "one cgroup" : "the whole host",
			r.seg_path, r.o.duration > 0 ? "" : " (Ctrl-C to stop)");
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
	if (collect_loop(&r, &err) || collect_finish(&r, &err) ||
	    (r.prev && collect_close_prev(&r, &err)) ||
	    collect_meta_end(&r, r.trace, r.start_mono, &err))
		goto out;
	if (trace_close(r.trace, &err)) {
		r.trace = NULL;
		goto out;
	}
	r.trace = NULL;
	if (collect_rotating(&r.o)) {
		if (collect_segment_closed(&r, r.seg_path, 0, &err))
			goto out;
		collect_zst_wait(&r);
		collect_prune(&r, 0);
	} else {
		r.bytes_closed = collect_trace_bytes(r.seg_path);
	}
	collect_summary(&r);
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
	if (r.prev) {
		trace_abort(r.prev, &err2); /* keeps what it holds; complete = 0 */
		r.prev = NULL;
	}
	collect_zst_wait(&r);
	if (r.trace) {
		/* Keep what was recorded: drain what can be drained, then close. */
		if (r.rb && exec_failed)
			collect_finish(&r, &err2);
		if (r.skel && exec_failed)
			collect_meta_end(&r, r.trace, r.start_mono, &err2);
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
	free(r.prev_snaps);
	for (size_t i = 0; i < r.closed.n; i++)
		free(r.closed.path[i]);
	free(r.closed.path);
	collect_procs_free(&r.procs);
	if (exec_failed)
		return 127;
	return rc;
}
