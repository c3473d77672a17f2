-- schema.sql - the anonvma trace (trace.db), schema version 2 (docs/trace-versions.md).
--
-- One SQLite file per recording (anonvma-collect) or scenario (anonvma-synth).
-- It is compiled into the binaries (src/trace.c), so the tools never need this
-- file at run time; it is also the documentation of every column.
--
-- Size: the design target is <= 32 bytes per event on disk.  SQLite stores an
-- integer in 0 (values 0 and 1, and NULL), 1, 2, 3, 4, 6 or 8 bytes, plus one
-- record-header byte per column and about 6 bytes of cell overhead per row, so
-- the events table keeps both the values and the column count small:
--   * seq is the implicit rowid: a declared INTEGER PRIMARY KEY would cost a
--     header byte per row for a NULL placeholder (read it as rowid or via the
--     view below);
--   * time is stored as the difference to the previous event (dt), usually
--     2 bytes instead of 6 for an absolute nanosecond count;
--   * tid is NULL when it equals pid (every single-threaded task);
--   * arguments e and f, which only mmap, mremap, shmat and failed slab
--     allocations use, live in events_ef, one row per event that has them;
--   * arguments a kind does not use are 0 (no payload byte);
--   * mm and object fields hold small ids (1, 2, ...), never kernel addresses.
-- Measured on a 2M-event fork/fault-heavy trace (bench/gentrace.c): 30 bytes
-- per event.  No secondary index exists on events: the replay reads it once in
-- rowid order.
--
-- To read events with seq, absolute times, tids and all six arguments in plain
-- sqlite3, use the view:
--   sqlite3 trace.db 'SELECT * FROM event_view LIMIT 20'
--
-- Every integer that names a kernel object (mm, file, anon_vma, object ids) is
-- a small stable id assigned by the collector: ids start at 1, 0 means none.

-- Key/value facts about the recording.  Integers are stored as decimal text.
--   schema_version   layout version (src/trace.h TRACE_SCHEMA_VERSION); readers read
--                    every version from TRACE_SCHEMA_MIN_VERSION on, refuse newer ones
--   tool_version     version of the anonvma tool that wrote the file
--   writer           "collect" or "synth" (plus the scenario name for synth)
--   kernel_release   uname -r of the recorded host
--   arch             uname -m of the recorded host (x86_64, aarch64)
--   page_size        bytes per base page
--   va_bits          virtual address bits of user space (47, 48, 57, ...)
--   pgtable_levels   page-table levels (4 or 5 on x86_64)
--   thp_enabled      /sys/kernel/mm/transparent_hugepage/enabled: always|madvise|never
--   thp_defrag       /sys/kernel/mm/transparent_hugepage/defrag
--   cpus             online CPUs
--   mem_bytes        physical memory (MemTotal) in bytes
--   size_anon_vma, size_anon_vma_chain, size_vm_area_struct
--                    sizeof() of each struct from the kernel's BTF (bytes)
--   collection_mode  "tracepoint" or "fentry" (collector), "synth" (synthesiser)
--   fork_latency     (version 2 on, collector) "syscall_entry_to_sched_process_fork" when
--                    FORK argument e holds measured latencies, "none" when this kernel
--                    has no sched_process_fork tracepoint; absent: no latencies
--   start_ns, end_ns wall-clock start and end (CLOCK_REALTIME, ns since the epoch)
--   duration_ns      end - start of the event stream (ns)
--   events           number of events (written when the trace is closed)
--   lost_events      events the ring buffer dropped, summed over CPUs (table lost)
--   complete         1 once the writer closed the trace normally (also after a
--                    Ctrl-C'd collection); 0 while writing or after a failure,
--                    in which case the file holds every batch committed before it
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT
);

-- The ordered event stream: one row per struct avm_event (src/event.h).
-- The meaning of a..f depends on kind; see src/event.h, repeated here:
--   kind  1 FORK        mm=parent mm, a=child mm (== mm for CLONE_VM), b=child tid,
--                       c=clone flags, d=child tgid,
--                       e=(version 2 on) measured latency in ns from the fork, vfork,
--                       clone or clone3 syscall's entry to sched_process_fork (the
--                       child is made, not yet woken: a vfork parent's wait is not
--                       in it); 0 = not measured (a fork outside those syscalls, a
--                       synthesised trace, or a version-1 trace);
--                       f=(version 2 on, with e) context switches of the forking
--                       thread in that interval: 0 = it ran throughout, so e is the
--                       fork's own time (plus interrupts)
--         2 EXEC        mm=old mm, a=new mm, b=snapshot id of the new mm (0 none),
--                       c=old pid
--         3 EXIT        mm=mm the task leaves, a=group_dead
--         4 MM_RELEASE  mm=mm whose exit_mmap just finished
--        10 MMAP        a=result addr or -errno, b=len, c=prot, d=MAP_* flags,
--                       e=file id (0 anonymous), f=pgoff (pages)
--        11 MUNMAP      a=addr, b=len, c=result
--        12 MPROTECT    a=addr, b=len, c=prot, d=result (also pkey_mprotect)
--        13 MREMAP      a=old addr, b=old len, c=new len, d=MREMAP_* flags,
--                       e=result (new addr or -errno), f=requested new addr
--        14 BRK         a=requested brk, b=result (the brk after the call)
--        15 MADVISE     a=addr, b=len, c=advice, d=result (also process_madvise)
--        16 MLOCK       a=addr, b=len, c=flags (MLOCK_ONFAULT), d=result
--        17 MUNLOCK     a=addr, b=len, d=result
--        18 MLOCKALL    c=MCL_* flags, d=result
--        19 MUNLOCKALL  d=result
--        20 VMA_NAME    a=addr, b=len, c=name id (0 clears), d=result
--        21 MSEAL       a=addr, b=len, c=flags, d=result
--        22 SHMAT       a=result addr or -errno, b=size, c=shmflg, e=shm file id
--        23 SHMDT       a=addr, d=result
--        24 PRCTL_THP   a=value, d=result
--        30 FAULT       a=address, b=x86 error code (1 P, 2 W, 4 U, 16 I),
--                       c=1 if taken in kernel mode
--        31 POPULATE    a=addr, b=len, c=1 write
--        40 SLAB        a=cache (1 anon_vma, 2 anon_vma_chain, 3 vm_area_struct),
--                       b=op (1 alloc, 2 free), c=call site (0 unknown, 1 prepare,
--                       2 clone, 3 fork, 4 unlink, 5 put, 6 vma, 7 other),
--                       d=object id, e=1 if the allocation failed
--        50 MMAP_LOCK   a=1 write, b=phase (0 start, 1 acquired, 2 released),
--                       c=success
--        60 SNAPSHOT    a=snapshot id, b=reason (1 start, 2 exec, 3 exit), c=VMA count;
--                       the VMAs are in snap_vmas, their anon_vmas in snap_anon_vmas;
--                       reason 3: mm=the mm whose last user leaves it (exit or
--                       exec), listed before exit_mmap; no snap_anon_vmas rows
--                       (compared by --validate, never adopted)
--        70 MIGRATE     a=op (1 set pte, 2 remove pte, 3 set pmd, 4 remove pmd,
--                       5 start, 6 end), b=address, c=order
--        71 KSM         a=op (1 merge, 2 remove rmap, 3 enter, 4 exit, 5 scan end: v3),
--                       b=pfn, c=err, d=the rmap_item's page address (merge and remove
--                       rmap, schema version 3 on); scan end: mm 0, b=seq, c=rmap entries
--        72 THP         a=op (1 collapse, 2 scan), b=collapse: linear page index + 1 of a
--                       folio of the range (schema 3 on; 0 unknown), c=status, d=isolated
--        73 RECLAIM     a=nr_scanned, b=nr_reclaimed, c=1 active list, d=file
--        74 TLB_FLUSH   a=reason, b=pages
--        80 LOST        a=cpu, b=events lost on that cpu since the previous LOST
--   userfaultfd ioctls (version 3 on), at the ioctl's exit; mm = the uffd's mm
--   (the mm it changes), e = the uffd (its open-file id), d = bytes done (a partial
--   result is positive although the ioctl returned -EAGAIN) or -errno:
--        90 UFFD_REGISTER    a=start, b=len, c=mode (1 missing, 2 wp, 4 minor),
--                            d=result, e=uffd, f=ctx features (UFFD_FEATURE_*)
--        91 UFFD_UNREGISTER  a=start, b=len, d=result, e=uffd
--        92 UFFD_COPY        a=dst, b=len, c=src, d=bytes or -errno, e=uffd, f=mode
--        93 UFFD_ZEROPAGE    a=dst, b=len, d=bytes or -errno, e=uffd, f=mode
--        94 UFFD_MOVE        a=dst, b=len, c=src, d=bytes or -errno, e=uffd, f=mode
--        95 UFFD_CONTINUE    a=start, b=len, d=bytes or -errno, e=uffd, f=mode
--        96 UFFD_POISON      a=start, b=len, d=bytes or -errno, e=uffd, f=mode
CREATE TABLE events (        -- seq = rowid: position in the stream, 1, 2, 3, ...
	dt   INTEGER NOT NULL,    -- ns since the previous event (the first: since trace start);
	                          -- negative if CPU clocks disagree; t = running sum of dt
	cpu  INTEGER NOT NULL,    -- CPU the event happened on
	tid  INTEGER,             -- thread id; NULL when equal to pid
	kind INTEGER NOT NULL,    -- enum avm_kind, list above
	pid  INTEGER NOT NULL,    -- thread group id (the process)
	mm   INTEGER NOT NULL,    -- address-space id (0 for events without an mm)
	a    INTEGER NOT NULL,    -- arguments, meaning by kind (list above); 0 unused
	b    INTEGER NOT NULL,
	c    INTEGER NOT NULL,
	d    INTEGER NOT NULL
);

-- Arguments e and f of the events that have either non-zero (mmap, mremap,
-- shmat, failed slab allocations, and from version 2 on forks with a measured
-- latency); every other event has e = f = 0.
CREATE TABLE events_ef (
	seq INTEGER PRIMARY KEY,  -- the event's rowid in events
	e   INTEGER NOT NULL,
	f   INTEGER NOT NULL
);

-- The stream as struct avm_event sees it: seq, absolute time t (ns since
-- trace start), tid filled in, all six arguments.  A view costs nothing on disk.
CREATE VIEW event_view AS
	SELECT ev.rowid AS seq, sum(ev.dt) OVER (ORDER BY ev.rowid) AS t, ev.cpu,
	       coalesce(ev.tid, ev.pid) AS tid, ev.kind, ev.pid, ev.mm, ev.a, ev.b, ev.c, ev.d,
	       coalesce(x.e, 0) AS e, coalesce(x.f, 0) AS f
	FROM events AS ev LEFT JOIN events_ef AS x ON x.seq = ev.rowid
	ORDER BY ev.rowid;

-- VMA snapshots (struct avm_snap_vma): taken at collection start for every
-- existing mm (reason start), at each exec (reason exec) and when an mm's
-- last user leaves it (reason exit), one row per VMA.
CREATE TABLE snap_vmas (
	snap        INTEGER NOT NULL, -- snapshot id (SNAPSHOT event a, EXEC event b)
	mm          INTEGER NOT NULL, -- address-space id
	start       INTEGER NOT NULL, -- vm_start (bytes)
	end         INTEGER NOT NULL, -- vm_end (bytes, exclusive)
	pgoff       INTEGER NOT NULL, -- vm_pgoff (pages)
	flags       INTEGER NOT NULL, -- kernel vm_flags
	file        INTEGER NOT NULL, -- open-file id, 0 anonymous
	anon_vma    INTEGER NOT NULL, -- id of vma->anon_vma, 0 none
	av_root     INTEGER NOT NULL, -- id of anon_vma->root (0 when anon_vma is 0)
	av_parent   INTEGER NOT NULL, -- id of anon_vma->parent
	av_refcount INTEGER NOT NULL, -- anon_vma->refcount
	av_children INTEGER NOT NULL, -- anon_vma->num_children
	av_active   INTEGER NOT NULL, -- anon_vma->num_active_vmas
	chain_len   INTEGER NOT NULL, -- AVCs on vma->anon_vma_chain (may exceed the ids listed)
	chain       TEXT NOT NULL,    -- anon_vma ids of the chain, head (newest) first,
	                              -- comma-separated ("12,7,3"); at most 16 ids; '' if empty
	PRIMARY KEY (snap, mm, start)
) WITHOUT ROWID;

-- Every anon_vma met on any snapshotted VMA's chain (struct avm_snap_av), so
-- ancestors whose own VMAs are gone still arrive with their counters.
CREATE TABLE snap_anon_vmas (
	snap            INTEGER NOT NULL, -- snapshot id
	id              INTEGER NOT NULL, -- anon_vma id
	root            INTEGER NOT NULL, -- id of its root anon_vma
	parent          INTEGER NOT NULL, -- id of its parent anon_vma
	refcount        INTEGER NOT NULL, -- anon_vma->refcount
	num_children    INTEGER NOT NULL, -- anon_vma->num_children
	num_active_vmas INTEGER NOT NULL, -- anon_vma->num_active_vmas
	PRIMARY KEY (snap, id)
) WITHOUT ROWID;

-- Ring-buffer events lost, per CPU, over the whole recording (the sum of the
-- LOST events of that CPU; meta lost_events is the total).
CREATE TABLE lost (
	cpu   INTEGER PRIMARY KEY, -- CPU number
	count INTEGER NOT NULL     -- events lost on that CPU
);
