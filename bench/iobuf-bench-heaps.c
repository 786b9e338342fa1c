/* SPDX-License-Identifier: MIT */
/*
 * Each kernel heap's direct allocation against the same allocation through
 * iobufd, side by side in one run. Needs the rights to open the heaps (root
 * in the qemu guest). For every heap named on the command line:
 *
 *   direct  dma-heap: DMA_HEAP_IOCTL_ALLOC; udmabuf: sealed memfd +
 *           UDMABUF_CREATE; dumb: CREATE_DUMB + PRIME export + GEM close;
 *           gbm: gbm_bo_create + PRIME export + destroy. Then, as the
 *           library does, map the dma-buf, touch it, unmap and close.
 *   iobuf   iobuf_in_task_with_options() + iobuf_release() through an
 *           iobufd serving only that heap (it also clears dumb and GBM
 *           memory, which the drivers do not promise).
 *
 * Usage: iobuf-bench-heaps IOBUFD HEAP... (heap names as iobufd logs them)
 */
#include <errno.h>
#include <fcntl.h>
#include <gbm.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>

#include "common.h"
#include "iobuf/iobuf.h"

struct subject {
	const char *heap;
	size_t size;
	unsigned iterations;
	uint32_t options; /* what iobufd is asked for */
	int fd;           /* the device the direct path uses */
	struct gbm_device *gbm;
	int (*direct)(const struct subject *s); /* returns a dma-buf fd */
	struct bench_daemon iobufd;
};

static int dmaheap_direct(const struct subject *s)
{
	struct dma_heap_allocation_data data = { .len = s->size, .fd_flags = O_RDWR | O_CLOEXEC };

	if (ioctl(s->fd, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		bench_die("DMA_HEAP_IOCTL_ALLOC");
	return (int)data.fd;
}

static int udmabuf_direct(const struct subject *s)
{
	struct udmabuf_create create = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = s->size };
	int memfd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int fd;

	if (memfd < 0 || ftruncate(memfd, (off_t)s->size) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		bench_die("memfd");
	create.memfd = (uint32_t)memfd;
	fd = ioctl(s->fd, UDMABUF_CREATE, &create);
	if (fd < 0)
		bench_die("UDMABUF_CREATE");
	close(memfd);
	return fd;
}

static int dumb_direct(const struct subject *s)
{
	struct drm_mode_create_dumb create = { .width = 1024, .height = (s->size + 4095) / 4096,
					       .bpp = 32 };
	int fd;

	if (drmIoctl(s->fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0 ||
	    drmPrimeHandleToFD(s->fd, create.handle, DRM_RDWR | DRM_CLOEXEC, &fd) < 0)
		bench_die("dumb buffer");
	drmCloseBufferHandle(s->fd, create.handle);
	return fd;
}

static int gbm_direct(const struct subject *s)
{
	struct gbm_bo *bo = gbm_bo_create(s->gbm, 4096, (s->size + 4095) / 4096, GBM_FORMAT_R8,
					  GBM_BO_USE_LINEAR);
	int fd;

	if (!bo)
		bench_die("gbm_bo_create");
	/* gbm_bo_get_fd() exports read-only; a writable mapping needs DRM_RDWR. */
	if (drmPrimeHandleToFD(s->fd, gbm_bo_get_handle(bo).u32, DRM_RDWR | DRM_CLOEXEC, &fd) < 0)
		bench_die("drmPrimeHandleToFD");
	gbm_bo_destroy(bo);
	return fd;
}

static void run_direct(const void *arg)
{
	const struct subject *s = arg;
	int fd = s->direct(s);
	volatile char *p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		bench_die("mmap");
	p[0] = 1;
	munmap((void *)p, s->size);
	close(fd);
}

static void run_iobuf(const void *arg)
{
	const struct subject *s = arg;
	struct iobuf *buf = iobuf_in_task_with_options(s->iobufd.task, s->options, s->size, 0);
	volatile char *p;

	if (!buf) {
		fprintf(stderr, "iobuf-bench-heaps: %s: %s\n", s->heap, iobuf_last_error());
		exit(1);
	}
	p = iobuf_get_bytes_no_copy(buf);
	p[0] = 1;
	iobuf_release(buf);
}

/* Opens what the direct path of heap needs; the options iobufd is asked for. */
static void open_device(struct subject *s)
{
	char path[96];
	const char *node = strchr(s->heap, '/') ? strchr(s->heap, '/') + 1 : "";

	if (strncmp(s->heap, "dma-heap/", 9) == 0) {
		snprintf(path, sizeof(path), "/dev/dma_heap/%s", node);
		s->direct = dmaheap_direct;
	} else if (strcmp(s->heap, "udmabuf") == 0) {
		snprintf(path, sizeof(path), "/dev/udmabuf");
		s->direct = udmabuf_direct;
		s->options = IOBUF_PAGEABLE;
	} else if (strncmp(s->heap, "dumb/", 5) == 0 || strncmp(s->heap, "gbm/", 4) == 0) {
		snprintf(path, sizeof(path), "/dev/dri/%s", node);
		s->direct = s->heap[0] == 'd' ? dumb_direct : gbm_direct;
	} else {
		fprintf(stderr, "iobuf-bench-heaps: no direct path for heap %s\n", s->heap);
		exit(2);
	}
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0)
		bench_die(path);
	if (s->direct == gbm_direct && !(s->gbm = gbm_create_device(s->fd)))
		bench_die("gbm_create_device");
}

/* The options the daemon grants on this heap alone (its cache mode). */
static void find_options(struct subject *s)
{
	static const uint32_t modes[] = { 0, IOBUF_CACHE_WRITECOMBINE, IOBUF_CACHE_INHIBIT };
	struct iobuf_match match;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (iobuf_task_query(s->iobufd.task, s->options | modes[i], s->size, 0, &match) == 0) {
			s->options |= modes[i];
			return;
		}
	}
	fprintf(stderr, "iobuf-bench-heaps: %s: %s\n", s->heap, iobuf_last_error());
	exit(1);
}

static void run_heap(const char *binary, const char *heap)
{
	static bench_fn *const subjects[] = { run_direct, run_iobuf };
	static const struct { size_t size; unsigned iterations; } sizes[] = {
		{ 4096, 300 }, { 1u << 20, 100 },
	};
	struct subject s = { .heap = heap };
	struct stats r[2];

	open_device(&s);
	bench_daemon_start(&s.iobufd, binary, heap, NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		s.size = sizes[i].size;
		find_options(&s);
		bench_measure(subjects, 2, &s, sizes[i].iterations, r);
		printf("%-18s %5zuK | %9.1f %9.1f | %9.1f %9.1f | %6.2f\n", heap, s.size >> 10,
		       r[0].median_us, r[0].p99_us, r[1].median_us, r[1].p99_us,
		       r[1].median_us / r[0].median_us);
		printf("BENCH heap=%s size=%zu iterations=%u direct_median_us=%.2f "
		       "direct_p99_us=%.2f iobuf_median_us=%.2f iobuf_p99_us=%.2f "
		       "iobuf_over_direct=%.3f\n",
		       heap, s.size, sizes[i].iterations, r[0].median_us, r[0].p99_us,
		       r[1].median_us, r[1].p99_us, r[1].median_us / r[0].median_us);
		fflush(stdout);
	}
	bench_daemon_stop(&s.iobufd);
	if (s.gbm)
		gbm_device_destroy(s.gbm);
	close(s.fd);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: iobuf-bench-heaps IOBUFD HEAP...\n");
		return 2;
	}
	printf("latency in microseconds; the ratio is iobuf median over direct\n");
	printf("%-18s %6s | %19s | %19s | %6s\n", "heap", "size", "direct med/p99",
	       "iobuf med/p99", "ratio");
	for (int i = 2; i < argc; i++)
		run_heap(argv[1], argv[i]);
	return 0;
}
