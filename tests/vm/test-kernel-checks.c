/* SPDX-License-Identifier: MIT */
/*
 * The kernel's own checks on what iobufd hands out: the checks of Linux
 * 6.12's dma-buf heap selftest (tools/testing/selftests/dmabuf-heaps/
 * dmabuf-heap.c), made on buffers an unprivileged client gets through
 * libiobuf. in-guest.sh runs it in the qemu guest once per kernel heap,
 * against an iobufd serving only $IOBUF_HEAP; $IOBUF_IMPORTER is the DRM
 * node that imports the dma-bufs: vgem for the dma-buf heaps and udmabuf
 * (as the selftest's open_vgem()), the heap's own card for dumb and GBM
 * heaps.
 *
 * The selftest's checks, and where each went:
 *  - test_alloc_and_import: mmap, memset in a SYNC_START/SYNC_END pair,
 *    DRM_IOCTL_PRIME_FD_TO_HANDLE, a second pair while imported, GEM_CLOSE:
 *    test_mapped_synced_and_imported, which also sees the writes through
 *    libiobuf's own mapping and the import re-exported as the same dma-buf.
 *  - test_alloc_zeroed (32 buffers of 4 KiB and of 1 MiB, filled, closed,
 *    allocated again and read): test_zeroed_after_reuse_4k and _1m, over
 *    several rounds and over the whole fd (a heap may make more than asked).
 *  - test_alloc_errors, heap flags 0x111111: test_unknown_options_refused,
 *    with the same bits as iobufd's option bits (those it does not know).
 *  - test_alloc_errors, fd_flags ~(O_RDWR | O_CLOEXEC): the client does not
 *    choose the fd's flags; test_fd_flags checks that the fd has the ones
 *    the selftest allocates with.
 *  - test_alloc_errors, an allocation on fd 0: does not apply; the client
 *    holds no heap fd (the nodes are root-only; test-heaps checks that).
 *  - test_alloc_compat (DMA_HEAP_IOCTL_ALLOC with a smaller and a larger
 *    struct): does not apply; only iobufd issues that ioctl, with the
 *    headers it was built with. The client's ABI is the wire protocol,
 *    whose version and record checks the integration suites test.
 *  - main's walk over /dev/dma_heap: in-guest.sh walks the heaps iobufd
 *    found instead (dma-heaps, udmabuf, dumb and GBM on each card).
 *
 * Beyond the selftest, as the request to iobufd is the client's allocation
 * ioctl: size 0, sizes over the maximum and an alignment that is no power
 * of two or too large are refused (test_sizes_refused,
 * test_alignments_refused); and the kernel's own checks a client meets on
 * the fd: DMA_BUF_IOCTL_SYNC with invalid flags gives EINVAL
 * (test_sync_invalid_flags_refused), mmap past the end fails
 * (test_mapping_past_the_end_refused), and iobufd knows udmabuf's
 * size_limit_mb: a larger buffer is refused before the driver is asked
 * (test_over_the_udmabuf_limit).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <drm.h>

#include <cmocka.h>

#include "heap-options.h"
#include "iobuf/iobuf.h"

#define ONE_MEG (1u << 20)
#define ZEROED_BUFFERS 32 /* as the selftest */
#define ZEROED_ROUNDS 4   /* the first sees fresh memory, the others reused */
#define HELD_MAX ZEROED_BUFFERS

struct mapping {
	void *addr;
	size_t size;
};

static const char *heap;
static const char *importer;
static uint32_t options;

/*
 * What the running test holds. A failed check leaves a test half-way; its
 * teardown lets go of the rest, as a mapping, an import or a descriptor
 * would keep the buffer, and its charge, alive into the next test.
 */
static struct {
	struct iobuf *bufs[HELD_MAX];
	struct mapping maps[HELD_MAX];
	int drm;
} held = { .drm = -1 };

static bool heap_is_drm(void)
{
	return strncmp(heap, "dumb/", 5) == 0 || strncmp(heap, "gbm/", 4) == 0;
}

static struct iobuf *allocate_aligned(size_t size, size_t alignment)
{
	struct iobuf *buf;
	size_t i = 0;

	while (i < HELD_MAX && held.bufs[i])
		i++;
	assert_true(i < HELD_MAX);
	buf = iobuf_with_options(options, size, alignment);
	if (!buf)
		fail_msg("%s: %zu bytes, alignment %zu: %s", heap, size, alignment,
			 iobuf_last_error());
	held.bufs[i] = buf;
	return buf;
}

static struct iobuf *allocate(size_t size)
{
	return allocate_aligned(size, 0);
}

static void release(struct iobuf *buf)
{
	for (size_t i = 0; i < HELD_MAX; i++)
		if (held.bufs[i] == buf)
			held.bufs[i] = NULL;
	iobuf_release(buf);
}

/* The dma-buf's size: what the heap made, at least the capacity. */
static size_t fd_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		fail_msg("lseek on the dma-buf of %s: %s", heap, strerror(errno));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return (size_t)end;
}

/* As the selftest maps a dma-buf: its own shared, writable mapping. */
static uint8_t *map_fd(int fd, size_t size)
{
	size_t i = 0;
	void *p;

	while (i < HELD_MAX && held.maps[i].addr)
		i++;
	assert_true(i < HELD_MAX);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		fail_msg("mmap of %zu bytes of the dma-buf of %s: %s", size, heap,
			 strerror(errno));
	held.maps[i] = (struct mapping){ p, size };
	return p;
}

static void unmap(void *p)
{
	for (size_t i = 0; i < HELD_MAX; i++) {
		if (held.maps[i].addr == p) {
			munmap(p, held.maps[i].size);
			held.maps[i] = (struct mapping){ NULL, 0 };
		}
	}
}

static int sync_raw(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	return ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 ? -errno : 0;
}

static void sync_checked(int fd, uint64_t flags)
{
	int r = sync_raw(fd, flags);

	if (r < 0)
		fail_msg("DMA_BUF_IOCTL_SYNC 0x%" PRIx64 " on %s: %s", flags, heap, strerror(-r));
}

static int open_importer(void)
{
	held.drm = open(importer, O_RDWR | O_CLOEXEC);
	if (held.drm < 0)
		fail_msg("cannot open %s: %s", importer, strerror(errno));
	return held.drm;
}

/* Closing the node drops every import made through it. */
static void close_importer(void)
{
	if (held.drm >= 0)
		close(held.drm);
	held.drm = -1;
}

static int let_go(void **state)
{
	(void)state;
	for (size_t i = 0; i < HELD_MAX; i++) {
		if (held.maps[i].addr)
			unmap(held.maps[i].addr);
		if (held.bufs[i])
			release(held.bufs[i]);
	}
	close_importer();
	return 0;
}

static void driver_name(int drm, char *name, size_t size)
{
	struct drm_version version = { .name_len = size - 1, .name = name };

	memset(name, 0, size);
	if (ioctl(drm, DRM_IOCTL_VERSION, &version) < 0)
		fail_msg("DRM_IOCTL_VERSION on %s: %s", importer, strerror(errno));
}

static uint32_t import_fd(int drm, int dmabuf)
{
	struct drm_prime_handle import = { .fd = dmabuf };

	if (ioctl(drm, DRM_IOCTL_PRIME_FD_TO_HANDLE, &import) < 0)
		fail_msg("%s refused to import the dma-buf of %s: %s", importer, heap,
			 strerror(errno));
	assert_true(import.handle != 0);
	return import.handle;
}

static int export_handle(int drm, uint32_t handle)
{
	struct drm_prime_handle export = { .handle = handle, .flags = DRM_CLOEXEC };

	if (ioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &export) < 0)
		fail_msg("%s cannot export handle %u again: %s", importer, handle,
			 strerror(errno));
	return export.fd;
}

static void close_handle(int drm, uint32_t handle)
{
	struct drm_gem_close gem_close = { .handle = handle };

	assert_int_equal(ioctl(drm, DRM_IOCTL_GEM_CLOSE, &gem_close), 0);
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* The offset of the first byte that is not zero, or size. */
static size_t first_nonzero(const uint8_t *p, size_t size)
{
	static const uint8_t zeros[4096];

	for (size_t at = 0; at < size; at += sizeof(zeros)) {
		size_t n = size - at < sizeof(zeros) ? size - at : sizeof(zeros);

		if (memcmp(p + at, zeros, n) == 0)
			continue;
		while (p[at] == 0)
			at++;
		return at;
	}
	return size;
}

static void assert_nothing_charged(void)
{
	struct iobuf_usage usage;

	assert_int_equal(iobuf_task_get_usage(iobuf_task_self(), &usage), 0);
	assert_int_equal(usage.buffers, 0);
	assert_int_equal(usage.bytes, 0);
	assert_int_equal(usage.total_buffers, 0);
}

/* Both the query and the allocation are refused with err and why. */
static void assert_refused(uint32_t opts, size_t capacity, size_t alignment, int err,
			   const char *why)
{
	struct iobuf_match match;
	struct iobuf *buf;
	int r;

	r = iobuf_task_query(iobuf_task_self(), opts, capacity, alignment, &match);
	if (r != -err)
		fail_msg("query of 0x%x, %zu bytes, alignment %zu on %s: %d (%s), not %d", opts,
			 capacity, alignment, heap, r, iobuf_last_error(), -err);
	if (!strstr(iobuf_last_error(), why))
		fail_msg("\"%s\" lacks \"%s\"", iobuf_last_error(), why);

	errno = 0;
	buf = iobuf_in_task_with_options(NULL, opts, capacity, alignment);
	if (buf)
		fail_msg("0x%x, %zu bytes, alignment %zu were granted on %s", opts, capacity,
			 alignment, iobuf_get_heap(buf));
	assert_int_equal(errno, err);
	if (!strstr(iobuf_last_error(), why))
		fail_msg("\"%s\" lacks \"%s\"", iobuf_last_error(), why);
}

/* The first option set the heap serves, as test-heaps chooses it. */
static int find_options(void **state)
{
	(void)state;
	heap = getenv("IOBUF_HEAP");
	importer = getenv("IOBUF_IMPORTER");
	if (!heap || !importer) {
		fprintf(stderr, "IOBUF_HEAP and IOBUF_IMPORTER must name the heap and its importer\n");
		return -1;
	}
	return heap_options(heap, IOBUF_DIRECTION_INOUT, ONE_MEG, &options);
}

/* The selftest's test_alloc_and_import. */
static void test_mapped_synced_and_imported(void **state)
{
	struct iobuf *buf = allocate(ONE_MEG);
	int fd = iobuf_get_fd(buf), drm, again;
	bool same;
	const uint8_t *bytes = iobuf_get_bytes_no_copy(buf);
	uint8_t *p = map_fd(fd, ONE_MEG);
	char name[32];
	uint32_t handle;

	(void)state;
	assert_non_null(bytes);
	sync_checked(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	memset(p, 1, ONE_MEG / 2);
	memset(p + ONE_MEG / 2, 0, ONE_MEG / 2);
	sync_checked(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);

	drm = open_importer();
	driver_name(drm, name, sizeof(name));
	if (!heap_is_drm() && strcmp(name, "vgem") != 0)
		fail_msg("%s is driven by %s, not vgem", importer, name);
	handle = import_fd(drm, fd);
	/* What the driver imported is this dma-buf, not a copy. */
	again = export_handle(drm, handle);
	same = same_file(again, fd);
	close(again);
	if (!same)
		fail_msg("%s re-exports the import of %s as another dma-buf", importer, heap);

	sync_checked(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[ONE_MEG / 2], 0);
	memset(p, 0xff, ONE_MEG);
	sync_checked(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);

	/* libiobuf's mapping is the same memory. */
	sync_checked(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	assert_int_equal(bytes[0], 0xff);
	assert_int_equal(bytes[ONE_MEG - 1], 0xff);
	sync_checked(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);

	close_handle(drm, handle);
	close_importer();
	unmap(p);
	release(buf);
	assert_nothing_charged();
}

/*
 * The selftest's test_alloc_zeroed, in rounds: each allocates 32 buffers,
 * finds every byte of each (the whole fd) zero, fills them with the round's
 * pattern and releases them, so every round after the first gets memory the
 * one before wrote.
 */
static void check_zeroed_after_reuse(size_t capacity)
{
	struct iobuf *bufs[ZEROED_BUFFERS];

	for (unsigned round = 0; round < ZEROED_ROUNDS; round++) {
		uint8_t pattern = (uint8_t)(0xff - round);

		for (size_t i = 0; i < ZEROED_BUFFERS; i++) {
			int fd;
			size_t size, at;
			uint8_t *p;

			bufs[i] = allocate(capacity);
			fd = iobuf_get_fd(bufs[i]);
			size = fd_size(fd);
			assert_true(size >= capacity);
			p = map_fd(fd, size);
			sync_checked(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
			at = first_nonzero(p, size);
			if (at < size)
				fail_msg("%s, round %u, buffer %zu of %zu bytes: byte %zu is 0x%02x",
					 heap, round, i, size, at, p[at]);
			memset(p, pattern, size);
			sync_checked(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
			unmap(p);
		}
		for (size_t i = 0; i < ZEROED_BUFFERS; i++)
			release(bufs[i]);
		assert_nothing_charged();
	}
}

static void test_zeroed_after_reuse_4k(void **state)
{
	(void)state;
	check_zeroed_after_reuse(4096);
}

static void test_zeroed_after_reuse_1m(void **state)
{
	(void)state;
	check_zeroed_after_reuse(ONE_MEG);
}

/* The selftest's invalid heap flags 0x111111, and the other bad options. */
static void test_unknown_options_refused(void **state)
{
	(void)state;
	assert_refused(0x111111, ONE_MEG, 0, EINVAL, "unknown option bits 0x111000");
	assert_refused(options | 1u << 31, ONE_MEG, 0, EINVAL, "unknown option bits 0x80000000");
	assert_refused(IOBUF_DIRECTION_INOUT | 5u << IOBUF_CACHE_SHIFT, ONE_MEG, 0, EINVAL,
		       "unknown cache mode 5");
	assert_refused(IOBUF_DIRECTION_INOUT | IOBUF_PURGEABLE, ONE_MEG, 0, EINVAL,
		       "PURGEABLE requires PAGEABLE");
	assert_nothing_charged();
}

/* The selftest allocates with O_RDWR | O_CLOEXEC and maps read-write. */
static void test_fd_flags(void **state)
{
	struct iobuf *buf = allocate(ONE_MEG);
	int fd = iobuf_get_fd(buf);
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	(void)state;
	assert_true(fl >= 0 && fdfl >= 0);
	assert_int_equal(fl & O_ACCMODE, O_RDWR);
	assert_true(fdfl & FD_CLOEXEC);
	release(buf);
}

static void test_sizes_refused(void **state)
{
	(void)state;
	assert_refused(options, 0, 0, EINVAL, "capacity must not be 0");
	assert_refused(options, (size_t)1 << 40, 0, EFBIG, "over the maximum buffer size");
	/* Rounding it up to a page would wrap around. */
	assert_refused(options, SIZE_MAX, 0, EFBIG, "over the maximum buffer size");
	assert_refused(options, SIZE_MAX - 4094, 0, EFBIG, "over the maximum buffer size");
	assert_nothing_charged();
}

static void test_alignments_refused(void **state)
{
	struct iobuf *buf;

	(void)state;
	assert_refused(options, ONE_MEG, 3, EINVAL, "alignment 3 is not a power of two");
	assert_refused(options, ONE_MEG, 4097, EINVAL, "alignment 4097 is not a power of two");
	assert_refused(options, ONE_MEG, 3 << 12, EINVAL, "is not a power of two");
	assert_refused(options, ONE_MEG, (size_t)1 << 31, EINVAL, "is over the maximum");
	assert_refused(options, ONE_MEG, (size_t)1 << 63, EINVAL, "is over the maximum");
	assert_nothing_charged();

	/* What is refused is the alignment, not the heap. */
	buf = allocate_aligned(ONE_MEG, 1 << 16);
	assert_int_equal((uintptr_t)iobuf_get_bytes_no_copy(buf) & 0xffff, 0);
	release(buf);
}

/* dma-buf.c: flags outside DMA_BUF_SYNC_VALID_FLAGS_MASK, or no direction. */
static void test_sync_invalid_flags_refused(void **state)
{
	static const uint64_t invalid[] = {
		DMA_BUF_SYNC_START,               /* neither READ nor WRITE */
		DMA_BUF_SYNC_END,                 /* the same, ending */
		DMA_BUF_SYNC_RW | 1u << 3,        /* a bit the kernel does not know */
		DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END | 1ull << 63,
		UINT64_MAX,
	};
	struct iobuf *buf = allocate(ONE_MEG);
	int fd = iobuf_get_fd(buf);

	(void)state;
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		int r = sync_raw(fd, invalid[i]);

		if (r != -EINVAL)
			fail_msg("DMA_BUF_IOCTL_SYNC 0x%" PRIx64 " on %s: %d (%s), not EINVAL",
				 invalid[i], heap, r, strerror(-r));
	}
	/* The refusals left no access window open or half closed. */
	sync_checked(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	sync_checked(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	sync_checked(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	sync_checked(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	release(buf);
}

/* dma_buf_mmap_internal(): a mapping must lie within the buffer. */
static void test_mapping_past_the_end_refused(void **state)
{
	struct iobuf *buf = allocate(ONE_MEG);
	int fd = iobuf_get_fd(buf);
	size_t size = fd_size(fd), page = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	(void)state;
	p = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		fail_msg("%s: a mapping of %zu bytes of a %zu-byte dma-buf", heap, size + page, size);
	assert_int_equal(errno, EINVAL);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)size);
	if (p != MAP_FAILED)
		fail_msg("%s: a mapping at offset %zu of a %zu-byte dma-buf", heap, size, size);
	assert_int_equal(errno, EINVAL);
	release(buf);
}

/*
 * udmabuf refuses buffers over its size_limit_mb (64 MiB by default) with
 * EINVAL; iobufd's own maximum is larger. The refusal reaches the client
 * with the heap's name, charges nothing, and the heap serves on.
 */
static void test_over_the_udmabuf_limit(void **state)
{
	FILE *f = fopen("/sys/module/udmabuf/parameters/size_limit_mb", "re");
	unsigned limit_mb = 0;
	size_t capacity;
	struct iobuf *buf;
	int n;

	(void)state;
	assert_non_null(f);
	n = fscanf(f, "%u", &limit_mb);
	fclose(f);
	assert_int_equal(n, 1);
	assert_true(limit_mb > 0 && limit_mb < 512);
	capacity = ((size_t)limit_mb + 1) << 20;

	errno = 0;
	buf = iobuf_with_options(options, capacity, 0);
	if (buf)
		fail_msg("udmabuf made %zu bytes over its limit of %u MiB", capacity, limit_mb);
	assert_int_equal(errno, EOPNOTSUPP);
	if (!strstr(iobuf_last_error(), "udmabuf lacks buffers this large"))
		fail_msg("\"%s\" does not name udmabuf's limit", iobuf_last_error());
	assert_nothing_charged();

	buf = allocate((size_t)limit_mb << 20);
	release(buf);
	assert_nothing_charged();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mapped_synced_and_imported, let_go),
		cmocka_unit_test_teardown(test_zeroed_after_reuse_4k, let_go),
		cmocka_unit_test_teardown(test_zeroed_after_reuse_1m, let_go),
		cmocka_unit_test_teardown(test_unknown_options_refused, let_go),
		cmocka_unit_test_teardown(test_fd_flags, let_go),
		cmocka_unit_test_teardown(test_sizes_refused, let_go),
		cmocka_unit_test_teardown(test_alignments_refused, let_go),
		cmocka_unit_test_teardown(test_sync_invalid_flags_refused, let_go),
		cmocka_unit_test_teardown(test_mapping_past_the_end_refused, let_go),
	};
	const struct CMUnitTest udmabuf_tests[] = {
		cmocka_unit_test_teardown(test_over_the_udmabuf_limit, let_go),
	};
	const char *name = getenv("IOBUF_HEAP");
	int failed;

	failed = cmocka_run_group_tests_name(name, tests, find_options, NULL);
	if (name && strcmp(name, "udmabuf") == 0)
		failed += cmocka_run_group_tests_name("udmabuf's own limit", udmabuf_tests,
						      find_options, NULL);
	return failed ? 1 : 0;
}
