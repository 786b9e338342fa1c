/* SPDX-License-Identifier: MIT */
/*
 * Which heap serves which options when iobufd runs with every heap the
 * guest has (kernel heaps first, memfd last). Run in the qemu guest by
 * in-guest.sh, as an unprivileged client.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iobuf/iobuf.h"

static const char *heap_for_size(uint32_t options, uint64_t size)
{
	static struct iobuf_match match;

	if (iobuf_task_query(iobuf_task_self(), options, size, 0, &match) < 0)
		fail_msg("options 0x%x: %s", options, iobuf_last_error());
	return match.heap;
}

static const char *heap_for(uint32_t options)
{
	return heap_for_size(options, 1 << 20);
}

static void test_wired_on_the_system_heap(void **state)
{
	assert_string_equal(heap_for(0), "dma-heap/system");
	assert_string_equal(heap_for(IOBUF_CACHE_COPYBACK | IOBUF_DIRECTION_IN),
			    "dma-heap/system");
}

static void test_pageable_on_udmabuf(void **state)
{
	assert_string_equal(heap_for(IOBUF_PAGEABLE), "udmabuf");
}

/* udmabuf makes at most size_limit_mb at once: a larger buffer is another heap's. */
static void test_pageable_over_the_udmabuf_limit_on_memfd(void **state)
{
	FILE *f = fopen("/sys/module/udmabuf/parameters/size_limit_mb", "re");
	unsigned long long limit_mib;
	struct iobuf *buf;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &limit_mib), 1);
	fclose(f);
	assert_string_equal(heap_for_size(IOBUF_PAGEABLE, limit_mib << 20), "udmabuf");
	assert_string_equal(heap_for_size(IOBUF_PAGEABLE, (limit_mib + 1) << 20), "memfd");
	buf = iobuf_with_options(IOBUF_PAGEABLE, (limit_mib + 1) << 20, 0);
	if (!buf)
		fail_msg("%s", iobuf_last_error());
	assert_string_equal(iobuf_get_heap(buf), "memfd");
	iobuf_release(buf);
}

static void test_purgeable_on_memfd(void **state)
{
	assert_string_equal(heap_for(IOBUF_PAGEABLE | IOBUF_PURGEABLE), "memfd");
}

static void test_write_combined_on_a_drm_device(void **state)
{
	assert_memory_equal(heap_for(IOBUF_CACHE_WRITECOMBINE), "dumb/", 5);
}

static void test_contiguous_names_every_heap(void **state)
{
	const char *why;

	errno = 0;
	assert_null(iobuf_with_options(IOBUF_PHYSICALLY_CONTIGUOUS, 1 << 20, 0));
	assert_int_equal(errno, EOPNOTSUPP);
	why = iobuf_last_error();
	assert_non_null(strstr(why, "no heap can serve the request: dma-heap/system lacks "
				    "PHYSICALLY_CONTIGUOUS; udmabuf lacks PHYSICALLY_CONTIGUOUS"));
	assert_non_null(strstr(why, "memfd lacks PHYSICALLY_CONTIGUOUS"));
	assert_non_null(strstr(why, "gbm/"));
}

static void test_uncached_refused(void **state)
{
	errno = 0;
	assert_null(iobuf_with_options(IOBUF_CACHE_INHIBIT, 4096, 0));
	assert_int_equal(errno, EOPNOTSUPP);
	assert_non_null(strstr(iobuf_last_error(), "dma-heap/system lacks CACHE_INHIBIT"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wired_on_the_system_heap),
		cmocka_unit_test(test_pageable_on_udmabuf),
		cmocka_unit_test(test_pageable_over_the_udmabuf_limit_on_memfd),
		cmocka_unit_test(test_purgeable_on_memfd),
		cmocka_unit_test(test_write_combined_on_a_drm_device),
		cmocka_unit_test(test_contiguous_names_every_heap),
		cmocka_unit_test(test_uncached_refused),
	};

	return cmocka_run_group_tests_name("selection", tests, NULL, NULL);
}
