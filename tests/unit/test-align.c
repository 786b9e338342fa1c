/* SPDX-License-Identifier: MIT */
/* Alignment arithmetic shared by the daemon and the library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "align.h"

static void test_power_of_two(void **state)
{
	assert_false(align_is_power_of_two(0));
	assert_true(align_is_power_of_two(1));
	assert_true(align_is_power_of_two(2));
	assert_false(align_is_power_of_two(3));
	assert_true(align_is_power_of_two(1ull << 63));
	assert_false(align_is_power_of_two(UINT64_MAX));
}

static void test_align_up(void **state)
{
	uint64_t r = 7;

	assert_true(align_up(0, 4096, &r));
	assert_int_equal(r, 0);
	assert_true(align_up(1, 4096, &r));
	assert_int_equal(r, 4096);
	assert_true(align_up(4096, 4096, &r));
	assert_int_equal(r, 4096);
	assert_true(align_up(4097, 1u << 21, &r));
	assert_int_equal(r, 1u << 21);
	assert_true(align_up(5, 1, &r));
	assert_int_equal(r, 5);
}

static void test_align_up_overflow(void **state)
{
	uint64_t r = 7;

	assert_false(align_up(UINT64_MAX, 4096, &r));
	assert_false(align_up(UINT64_MAX - 4094, 4096, &r));
	assert_int_equal(r, 7);
	assert_true(align_up(UINT64_MAX - 4095, 4096, &r));
	assert_true(r == UINT64_MAX - 4095);
}

static void test_mask_alignment(void **state)
{
	assert_int_equal(align_from_physical_mask(0, 4096), 0);
	/* Low mask bits below a page still give a page. */
	assert_int_equal(align_from_physical_mask(0xffffffffffffff00ull, 4096), 4096);
	assert_int_equal(align_from_physical_mask(0xfffffffffffff000ull, 4096), 4096);
	assert_int_equal(align_from_physical_mask(0xffffffffffe00000ull, 4096), 1u << 21);
	assert_int_equal(align_from_physical_mask(0x00000000fffff000ull, 4096), 4096);
}

static void test_mask_limits_address(void **state)
{
	assert_false(align_mask_limits_address(0));
	assert_false(align_mask_limits_address(0xfffffffffffff000ull));
	assert_false(align_mask_limits_address(UINT64_MAX));
	assert_true(align_mask_limits_address(0x00000000fffff000ull));
	assert_true(align_mask_limits_address(0x7ffffffffffff000ull));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_of_two),
		cmocka_unit_test(test_align_up),
		cmocka_unit_test(test_align_up_overflow),
		cmocka_unit_test(test_mask_alignment),
		cmocka_unit_test(test_mask_limits_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
