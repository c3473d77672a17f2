/*
 * uffd_gc - the memory steps of a compacting garbage collector cycle, as
 * Android's ART does them, one step per marker, for tests/e2e/collect_uffd.sh:
 * the collector must record the userfaultfd ioctls, and the replay must
 * match the kernel's own anon_vma / anon_vma_chain allocations exactly.
 *
 * Markers are madvise(NULL, 0, 1000 + k) (EINVAL, recorded with c = 1000 + k).
 * Every region is MADV_NOHUGEPAGE, so the THP mode of the host does not
 * change which faults prepare or how folios move.
 *
 *   1..2  the heap (64 pages, mlocked, faulted) moves to the from-space with
 *         mremap(MREMAP_DONTUNMAP | MREMAP_FIXED): the from-space reservation
 *         is unmapped, the heap's copy gets a clone of its chain (+1 AVC), the
 *         heap stays mapped, empty, unlinked (-1 AVC) and no longer mlocked
 *         (the copy still is: munlock it, as UFFDIO_MOVE wants both alike)
 *   2..3  the heap is registered (MISSING) with the uffd; UFFDIO_COPY of 16
 *         pages prepares its anon_vma (+1 AV, +1 AVC); UFFDIO_ZEROPAGE of 8
 *         pages; UFFDIO_MOVE of 16 pages from the from-space moves folios
 *         (no allocation)
 *   3..4  the from-space is dropped (MADV_DONTNEED), the heap unregistered,
 *         the from-space unmapped (its VMA goes: -1 AVC)
 *   4..5  a fresh from-space reservation; the mutator writes the whole heap
 *   5..7  a second cycle, the same steps
 *   8..9  UFFDIO_COPY into a private VMA that is not registered: -ENOENT,
 *         but the kernel prepared its anon_vma first (+1 AV, +1 AVC)
 *  10..11 registering the middle of a faulted VMA splits it in three (+2
 *         VMAs, +2 AVCs)
 *  11..12 unregistering it merges them back (-2 AVCs)
 *
 * Prints "uffd_gc PID" to the file named by argv[1] (or stdout).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096UL
#define HEAP (64 * PG)

/* uapi linux/userfaultfd.h (the build host's headers may predate UFFDIO_MOVE) */
#define UFFD_API_ 0xAAULL
#define UFFD_FEATURE_MOVE_ (1ULL << 16)
#define UFFDIO_API_ _IOWR(0xAA, 0x3F, struct uffdio_api_)
#define UFFDIO_REGISTER_ _IOWR(0xAA, 0x00, struct uffdio_register_)
#define UFFDIO_UNREGISTER_ _IOR(0xAA, 0x01, struct uffdio_range_)
#define UFFDIO_COPY_ _IOWR(0xAA, 0x03, struct uffdio_copy_)
#define UFFDIO_ZEROPAGE_ _IOWR(0xAA, 0x04, struct uffdio_zeropage_)
#define UFFDIO_MOVE_ _IOWR(0xAA, 0x05, struct uffdio_move_)

struct uffdio_api_ { uint64_t api, features, ioctls; };
struct uffdio_range_ { uint64_t start, len; };
struct uffdio_register_ { struct uffdio_range_ range; uint64_t mode, ioctls; };
struct uffdio_copy_ { uint64_t dst, src, len, mode; int64_t copy; };
struct uffdio_zeropage_ { struct uffdio_range_ range; uint64_t mode; int64_t zeropage; };
struct uffdio_move_ { uint64_t dst, src, len, mode; int64_t move; };

static void die(const char *what)
{
	fprintf(stderr, "uffd_gc: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void marker(int k)
{
	syscall(SYS_madvise, 0UL, 0UL, 1000UL + (unsigned long)k);
}

static char *map_at(char *at, size_t len, int prot)
{
	char *p = mmap(at, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			(at ? MAP_FIXED : 0), -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (madvise(p, len, MADV_NOHUGEPAGE))
		die("madvise nohugepage");
	return p;
}

/*
 * A mapping between two PROT_NONE guards of 16 pages: no neighbour it could
 * merge with or borrow an anon_vma from (their flags differ, they never fault).
 */
static char *guarded(size_t len, int prot)
{
	char *r = map_at(NULL, len + 32 * PG, PROT_NONE);

	return map_at(r + 16 * PG, len, prot);
}

static void fill(char *p, size_t len)
{
	for (size_t i = 0; i < len; i += PG)
		p[i] = 1;
}

static void reg(int fd, char *p, size_t len)
{
	struct uffdio_register_ r = { { (uint64_t)(uintptr_t)p, len }, 1, 0 };

	if (ioctl(fd, UFFDIO_REGISTER_, &r))
		die("UFFDIO_REGISTER");
}

static void unreg(int fd, char *p, size_t len)
{
	struct uffdio_range_ r = { (uint64_t)(uintptr_t)p, len };

	if (ioctl(fd, UFFDIO_UNREGISTER_, &r))
		die("UFFDIO_UNREGISTER");
}

/* One GC cycle: move the heap to the from-space, refill it through the uffd. */
static void cycle(int fd, char *heap, char *from, int k)
{
	struct uffdio_copy_ c = { (uint64_t)(uintptr_t)heap, (uint64_t)(uintptr_t)from, 16 * PG, 0, 0 };
	struct uffdio_zeropage_ z = { { (uint64_t)(uintptr_t)(heap + 16 * PG), 8 * PG }, 0, 0 };
	struct uffdio_move_ m = { (uint64_t)(uintptr_t)(heap + 24 * PG),
				  (uint64_t)(uintptr_t)(from + 24 * PG), 16 * PG, 0, 0 };

	marker(k);
	if (mremap(heap, HEAP, HEAP, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, from) != from)
		die("mremap dontunmap");
	/* the copy kept VM_LOCKED, the heap lost it: UFFDIO_MOVE wants both alike */
	if (munlock(from, HEAP))
		die("munlock");
	marker(k + 1);
	reg(fd, heap, HEAP);
	if (ioctl(fd, UFFDIO_COPY_, &c) || c.copy != (int64_t)(16 * PG))
		die("UFFDIO_COPY");
	if (ioctl(fd, UFFDIO_ZEROPAGE_, &z) || z.zeropage != (int64_t)(8 * PG))
		die("UFFDIO_ZEROPAGE");
	if (ioctl(fd, UFFDIO_MOVE_, &m) || m.move != (int64_t)(16 * PG))
		die("UFFDIO_MOVE");
	marker(k + 2);
	if (madvise(from, HEAP, MADV_DONTNEED))
		die("madvise dontneed");
	unreg(fd, heap, HEAP);
}

int main(int argc, char **argv)
{
	struct uffdio_api_ api = { UFFD_API_, UFFD_FEATURE_MOVE_, 0 };
	struct uffdio_copy_ c;
	char *heap, *from, *other, *priv;
	FILE *out = stdout;
	int fd;

	if (argc > 1 && !(out = fopen(argv[1], "w")))
		die("open output");
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		die("userfaultfd");
	if (ioctl(fd, UFFDIO_API_, &api))
		die("UFFDIO_API");
	heap = guarded(HEAP, PROT_READ | PROT_WRITE);
	from = guarded(HEAP, PROT_NONE);
	if (mlock(heap, HEAP))
		die("mlock");
	fill(heap, HEAP);
	cycle(fd, heap, from, 1);
	if (munmap(from, HEAP))
		die("munmap from-space");
	marker(4);
	from = map_at(from, HEAP, PROT_NONE); /* the next cycle's reservation */
	fill(heap, HEAP);                     /* the mutator writes the rest of the heap */
	cycle(fd, heap, from, 5);
	marker(8);
	priv = guarded(8 * PG, PROT_READ | PROT_WRITE);
	c = (struct uffdio_copy_){ (uint64_t)(uintptr_t)priv, (uint64_t)(uintptr_t)from, PG, 0, 0 };
	if (ioctl(fd, UFFDIO_COPY_, &c) == 0 || errno != ENOENT)
		die("UFFDIO_COPY into an unregistered VMA did not fail with ENOENT");
	marker(9);
	other = guarded(8 * PG, PROT_READ | PROT_WRITE);
	fill(other, 8 * PG);
	marker(10);
	reg(fd, other + 2 * PG, 2 * PG);
	marker(11);
	unreg(fd, other + 2 * PG, 2 * PG);
	marker(12);
	close(fd);
	fprintf(out, "uffd_gc %d\n", (int)getpid());
	if (out != stdout)
		fclose(out);
	return 0;
}
