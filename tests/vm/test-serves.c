/* SPDX-License-Identifier: MIT */
/*
 * The heap $IOBUF_HEAP serves buffers with the options $IOBUF_OPTIONS (a
 * number, 0x for hex), and the buffers work. in-guest.sh uses it after it
 * changed what the daemon has: a device gone, a heap marked contiguous.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iobuf/iobuf.h"

static void test_heap_serves(void **state)
{
	const char *expected = getenv("IOBUF_HEAP");
	const char *options = getenv("IOBUF_OPTIONS");
	struct iobuf_usage usage;
	struct iobuf *buf;

	assert_non_null(expected);
	assert_non_null(options);
	for (int i = 0; i < 3; i++) {
		buf = iobuf_with_options((uint32_t)strtoul(options, NULL, 0), 1 << 20, 0);
		if (!buf)
			fail_msg("%s", iobuf_last_error());
		assert_string_equal(iobuf_get_heap(buf), expected);
		memset(iobuf_get_bytes_no_copy(buf), 0x5a, 1 << 20);
		iobuf_release(buf);
	}
	assert_int_equal(iobuf_task_get_usage(iobuf_task_self(), &usage), 0);
	assert_int_equal(usage.total_buffers, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_serves),
	};

	return cmocka_run_group_tests_name(getenv("IOBUF_HEAP"), tests, NULL, NULL);
}
