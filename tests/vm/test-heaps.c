/* SPDX-License-Identifier: MIT */
/*
 * A buffer from one kernel heap, as an unprivileged client sees it. Run in
 * the qemu guest by in-guest.sh against an iobufd serving only the heap
 * named by $IOBUF_HEAP; the client must not be able to open the heap itself.
 * $IOBUF_IMPORTER is the DRM node whose driver must import the dma-bufs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <drm_fourcc.h>
#include <gbm.h>
#include <xf86drm.h>

#include <cmocka.h>

#include "fdinfo.h"
#include "heap-options.h"
#include "iobuf/iobuf.h"

#define SIZE (1u << 20)

static const char *heap;
static const char *importer;
static uint32_t options;

static struct iobuf *allocate(size_t size)
{
	struct iobuf *buf = iobuf_with_options(options, size, 0);

	if (!buf)
		fail_msg("%s: %s", heap, iobuf_last_error());
	return buf;
}

static int open_importer(void)
{
	int fd = open(importer, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fail_msg("cannot open %s: %s", importer, strerror(errno));
	return fd;
}

/* The first option set the heap under test serves. */
static int find_options(void **state)
{
	heap = getenv("IOBUF_HEAP");
	importer = getenv("IOBUF_IMPORTER");
	assert_non_null(heap);
	assert_non_null(importer);
	return heap_options(heap, IOBUF_DIRECTION_INOUT, SIZE, &options);
}

static void test_not_root(void **state)
{
	assert_true(geteuid() != 0);
	assert_int_equal(open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC), -1);
	assert_int_equal(errno, EACCES);
}

static void test_dmabuf_named_for_its_task(void **state)
{
	struct iobuf *buf = allocate(SIZE);
	char value[128], expected[64];

	assert_non_null(buf);
	assert_string_equal(iobuf_get_heap(buf), heap);
	fdinfo_value(iobuf_get_fd(buf), "exp_name", value, sizeof(value));
	assert_true(value[0] != '\0'); /* only dma-bufs have an exporter */
	fdinfo_value(iobuf_get_fd(buf), "name", value, sizeof(value));
	snprintf(expected, sizeof(expected), "iobuf:%" PRIu64 ":test-heaps", iobuf_get_id(buf));
	assert_string_equal(value, expected);
	iobuf_release(buf);
}

/* A label is the dma-buf's name, whole: the rule keeps it within the kernel's 31 bytes. */
static void test_dmabuf_named_by_its_label(void **state)
{
	static const char label[] = "камера-0 preview-frames-0";
	struct iobuf *buf;
	char value[128];

	buf = iobuf_in_task_with_label(iobuf_task_self(), options, SIZE, 0, label);
	if (!buf)
		fail_msg("%s: %s", heap, iobuf_last_error());
	assert_int_equal(sizeof(label) - 1, IOBUF_LABEL_MAX);
	fdinfo_value(iobuf_get_fd(buf), "name", value, sizeof(value));
	assert_string_equal(value, label);
	iobuf_release(buf);

	/* The heap asked for by name serves, and labels it the same way. */
	buf = iobuf_in_task_from_heap(iobuf_task_self(), heap, options, SIZE, 0);
	if (!buf)
		fail_msg("%s by name: %s", heap, iobuf_last_error());
	assert_string_equal(iobuf_get_heap(buf), heap);
	iobuf_release(buf);
}

static void test_written_and_read_back(void **state)
{
	struct iobuf *buf = allocate(SIZE);
	uint8_t *p, *again;

	assert_non_null(buf);
	p = iobuf_get_bytes_no_copy(buf);
	assert_non_null(p);
	assert_true(iobuf_get_capacity(buf) == SIZE);
	assert_int_equal(iobuf_complete(buf), 0);
	for (size_t i = 0; i < SIZE; i++)
		if (p[i])
			fail_msg("byte %zu of a new buffer is 0x%02x", i, p[i]);
	for (size_t i = 0; i < SIZE; i++)
		p[i] = (uint8_t)(i * 13);
	assert_int_equal(iobuf_prepare(buf), 0);

	again = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, iobuf_get_fd(buf), 0);
	assert_true(again != MAP_FAILED);
	assert_int_equal(iobuf_complete(buf), 0);
	assert_memory_equal(again, p, SIZE);
	munmap(again, SIZE);
	iobuf_release(buf);
}

static void test_imported_by_a_kernel_driver(void **state)
{
	struct iobuf *buf = allocate(SIZE);
	int drm = open_importer();
	uint32_t handle = 0;

	if (drmPrimeFDToHandle(drm, iobuf_get_fd(buf), &handle) < 0)
		fail_msg("%s refused to import the dma-buf of %s: %s", importer, heap,
			 strerror(errno));
	assert_true(handle != 0);
	assert_int_equal(drmCloseBufferHandle(drm, handle), 0);
	close(drm);
	iobuf_release(buf);
}

static void test_released_uncharged(void **state)
{
	struct iobuf_task *task = iobuf_task_self();
	struct iobuf *bufs[8];
	struct iobuf_usage usage;

	for (size_t i = 0; i < 8; i++) {
		bufs[i] = allocate(SIZE);
	}
	assert_int_equal(iobuf_task_get_usage(task, &usage), 0);
	assert_int_equal(usage.buffers, 8);
	assert_true(usage.bytes >= 8 * SIZE);
	for (size_t i = 0; i < 8; i++)
		iobuf_release(bufs[i]);
	assert_int_equal(iobuf_task_get_usage(task, &usage), 0);
	assert_int_equal(usage.total_buffers, 0);
	assert_int_equal(usage.total_bytes, 0);
}

/* A dma-buf the kernel driver imports, or the test fails. */
static void assert_imported(const struct iobuf *buf)
{
	int drm = open_importer();
	uint32_t handle = 0;

	if (drmPrimeFDToHandle(drm, iobuf_get_fd(buf), &handle) < 0)
		fail_msg("%s refused to import the dma-buf of %s: %s", importer, heap,
			 strerror(errno));
	assert_int_equal(drmCloseBufferHandle(drm, handle), 0);
	close(drm);
}

static void allocated(struct iobuf_task *task, struct iobuf *buf, int error, void *userdata)
{
	struct iobuf **made = userdata;

	if (!buf)
		fail_msg("%s: async allocation: %s", heap, iobuf_last_error());
	*made = buf;
}

/*
 * The calls of many requests on the heap: a batch, a prefetch pool and an
 * asynchronous allocation make the same dma-bufs, which the kernel imports.
 */
static void test_batch_pool_and_async(void **state)
{
	struct iobuf_task *task = iobuf_task_connect(NULL);
	struct iobuf *bufs[4], *pooled, *async = NULL;

	assert_non_null(task);
	if (iobuf_in_task_with_options_n(task, options, SIZE, 0, 4, bufs) < 0)
		fail_msg("%s: batch: %s", heap, iobuf_last_error());
	for (int i = 0; i < 4; i++) {
		assert_string_equal(iobuf_get_heap(bufs[i]), heap);
		assert_imported(bufs[i]);
	}

	assert_int_equal(iobuf_task_set_pool(task, options, SIZE, 0, 2), 0);
	assert_int_equal(iobuf_task_flush(task), 0);
	pooled = iobuf_in_task_with_options(task, options, SIZE, 0);
	if (!pooled)
		fail_msg("%s: from the pool: %s", heap, iobuf_last_error());
	assert_string_equal(iobuf_get_heap(pooled), heap);
	assert_imported(pooled);

	assert_int_equal(iobuf_in_task_async(task, options, SIZE, 0, allocated, &async), 0);
	while (!async)
		assert_true(iobuf_task_dispatch(task) >= 0);
	assert_string_equal(iobuf_get_heap(async), heap);
	assert_imported(async);

	for (int i = 0; i < 4; i++)
		iobuf_release(bufs[i]);
	iobuf_release(pooled);
	iobuf_release(async);
	assert_int_equal(iobuf_task_set_pool(task, 0, 0, 0, 0), 0);
	assert_int_equal(iobuf_task_flush(task), 0);
	iobuf_task_unref(task);
}

static void test_unsatisfiable_rejected(void **state)
{
	char expected[128];

	snprintf(expected, sizeof(expected), "no heap can serve the request: %s lacks", heap);
	errno = 0;
	assert_null(iobuf_with_options(options | IOBUF_PHYSICALLY_CONTIGUOUS, SIZE, 0));
	assert_int_equal(errno, EOPNOTSUPP);
	assert_non_null(strstr(iobuf_last_error(), expected));
	assert_non_null(strstr(iobuf_last_error(), "PHYSICALLY_CONTIGUOUS"));
	assert_null(iobuf_in_task_with_physical_mask(NULL, options, SIZE, 0xfffff000));
	assert_int_equal(errno, EOPNOTSUPP);
	assert_non_null(strstr(iobuf_last_error(), "a physical address limit"));
}

/* GBM heaps: an image, its layout, and GBM's own import of it. */
static void test_gbm_image_imported(void **state)
{
	static const uint64_t linear = DRM_FORMAT_MOD_LINEAR;
	struct gbm_import_fd_modifier_data import = { .width = 256, .height = 64,
						      .format = DRM_FORMAT_XRGB8888 };
	struct iobuf_image image;
	struct gbm_device *gbm;
	struct gbm_bo *bo;
	struct iobuf *buf;
	uint32_t *pixels;
	int drm;

	if (strncmp(heap, "gbm/", 4) != 0) {
		/* Only GBM heaps create images; the others say so. */
		assert_null(iobuf_image_in_task(NULL, 256, 64, DRM_FORMAT_XRGB8888, NULL, 0, 0));
		assert_int_equal(errno, EOPNOTSUPP);
		assert_non_null(strstr(iobuf_last_error(), "no heap creates images"));
		return;
	}
	buf = iobuf_image_in_task(NULL, 256, 64, DRM_FORMAT_XRGB8888, &linear, 1,
				  IOBUF_IMAGE_LINEAR);
	if (!buf)
		fail_msg("%s: %s", heap, iobuf_last_error());
	assert_int_equal(iobuf_get_image(buf, &image), 0);
	assert_int_equal(image.width, 256);
	assert_int_equal(image.plane_count, 1);
	assert_true(image.planes[0].stride >= 256 * 4);
	assert_true(image.modifier == DRM_FORMAT_MOD_LINEAR);
	assert_true(iobuf_get_capacity(buf) >= (size_t)image.planes[0].stride * 64);
	pixels = iobuf_get_bytes_no_copy(buf);
	assert_non_null(pixels);
	assert_int_equal(pixels[0], 0);
	pixels[0] = 0x00ff00ff;

	drm = open_importer();
	gbm = gbm_create_device(drm);
	assert_non_null(gbm);
	import.num_fds = 1;
	import.fds[0] = iobuf_get_fd(buf);
	import.strides[0] = (int)image.planes[0].stride;
	import.offsets[0] = (int)image.planes[0].offset;
	import.modifier = image.modifier;
	bo = gbm_bo_import(gbm, GBM_BO_IMPORT_FD_MODIFIER, &import, GBM_BO_USE_LINEAR);
	if (!bo)
		fail_msg("gbm_bo_import on %s refused the image of %s", importer, heap);
	assert_int_equal(gbm_bo_get_width(bo), 256);
	gbm_bo_destroy(bo);
	gbm_device_destroy(gbm);
	close(drm);
	iobuf_release(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_root),
		cmocka_unit_test(test_dmabuf_named_for_its_task),
		cmocka_unit_test(test_dmabuf_named_by_its_label),
		cmocka_unit_test(test_written_and_read_back),
		cmocka_unit_test(test_imported_by_a_kernel_driver),
		cmocka_unit_test(test_released_uncharged),
		cmocka_unit_test(test_batch_pool_and_async),
		cmocka_unit_test(test_gbm_image_imported),
		cmocka_unit_test(test_unsatisfiable_rejected),
	};

	return cmocka_run_group_tests_name(getenv("IOBUF_HEAP"), tests, find_options, NULL);
}
