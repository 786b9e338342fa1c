/* SPDX-License-Identifier: MIT */
/* Option and size validation, before any heap is asked. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "iobuf/iobuf.h"
#include "core/request.h"

#define MAX_SIZE ((uint64_t)512 << 20)

static int check(uint32_t options, uint64_t capacity, uint64_t alignment, char *why)
{
	struct alloc_request req = { options, capacity, alignment, 0 };
	struct reason reason = { "" };
	int r = request_check(&req, MAX_SIZE, &reason);

	snprintf(why, 256, "%.255s", reason.text);
	return r;
}

static void test_valid_requests(void **state)
{
	char why[256];

	assert_int_equal(check(0, 1, 0, why), 0);
	assert_int_equal(check(IOBUF_DIRECTION_INOUT, 4096, 1, why), 0);
	assert_int_equal(check(IOBUF_PAGEABLE | IOBUF_PURGEABLE, MAX_SIZE, 1u << 21, why), 0);
	assert_int_equal(check(IOBUF_CACHE_WRITECOMBINE | IOBUF_KERNEL_USER_SHARED, 1, 1u << 30,
			       why), 0);
	assert_string_equal(why, "");
}

static void test_capacity_zero(void **state)
{
	char why[256];

	assert_int_equal(check(0, 0, 0, why), -EINVAL);
	assert_string_equal(why, "capacity must not be 0");
}

static void test_alignment_not_power_of_two(void **state)
{
	char why[256];

	assert_int_equal(check(0, 4096, 3, why), -EINVAL);
	assert_string_equal(why, "alignment 3 is not a power of two");
	assert_int_equal(check(0, 4096, 4096 + 1, why), -EINVAL);
	assert_int_equal(check(0, 4096, UINT64_MAX, why), -EINVAL);
}

static void test_alignment_too_large(void **state)
{
	char why[256];

	assert_int_equal(check(0, 4096, 1ull << 31, why), -EINVAL);
	assert_string_equal(why, "alignment 2147483648 is over the maximum 1073741824");
}

static void test_unknown_options(void **state)
{
	char why[256];

	assert_int_equal(check(1u << 6, 4096, 0, why), -EINVAL);
	assert_string_equal(why, "unknown option bits 0x40");
	assert_int_equal(check(0x80000000u | IOBUF_PAGEABLE, 4096, 0, why), -EINVAL);
	assert_string_equal(why, "unknown option bits 0x80000000");
}

static void test_unknown_cache_mode(void **state)
{
	char why[256];

	assert_int_equal(check(5u << IOBUF_CACHE_SHIFT, 4096, 0, why), -EINVAL);
	assert_string_equal(why, "unknown cache mode 5");
	assert_int_equal(check(7u << IOBUF_CACHE_SHIFT, 4096, 0, why), -EINVAL);
}

static void test_purgeable_needs_pageable(void **state)
{
	char why[256];

	assert_int_equal(check(IOBUF_PURGEABLE, 4096, 0, why), -EINVAL);
	assert_string_equal(why, "PURGEABLE requires PAGEABLE");
}

static void test_capacity_over_maximum(void **state)
{
	char why[256];

	assert_int_equal(check(0, MAX_SIZE + 1, 0, why), -EFBIG);
	assert_string_equal(why, "capacity 536870913 is over the maximum buffer size 536870912");
	assert_int_equal(check(0, UINT64_MAX, 0, why), -EFBIG);
}

/* The buffer, in whole pages, must fit a limit that is not a multiple of the page size. */
static void test_rounded_size_over_maximum(void **state)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct alloc_request req = { 0, page + 1, 0, 0 };
	struct reason why = { "" };
	char expected[256];

	assert_int_equal(request_check(&req, page + page / 2, &why), -EFBIG);
	snprintf(expected, sizeof(expected), "capacity %" PRIu64 " takes %" PRIu64 " bytes in "
		 "whole pages, over the maximum buffer size %" PRIu64, page + 1, 2 * page,
		 page + page / 2);
	assert_string_equal(why.text, expected);
	req.capacity = page;
	assert_int_equal(request_check(&req, page + page / 2, &why), 0);
}

static void test_size_rounds_to_pages(void **state)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct alloc_request req = { 0, 1, 0, 0 };

	assert_int_equal(request_size(&req), page);
	req.capacity = page;
	assert_int_equal(request_size(&req), page);
	req.capacity = page + 1;
	assert_int_equal(request_size(&req), 2 * page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_requests),
		cmocka_unit_test(test_capacity_zero),
		cmocka_unit_test(test_alignment_not_power_of_two),
		cmocka_unit_test(test_alignment_too_large),
		cmocka_unit_test(test_unknown_options),
		cmocka_unit_test(test_unknown_cache_mode),
		cmocka_unit_test(test_purgeable_needs_pageable),
		cmocka_unit_test(test_capacity_over_maximum),
		cmocka_unit_test(test_rounded_size_over_maximum),
		cmocka_unit_test(test_size_rounds_to_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
