/* SPDX-License-Identifier: MIT */
/*
 * After the device of the first write-combining heap went away (in-guest.sh
 * unbinds its driver), the next heap that matches serves the request, and
 * the buffer works. $IOBUF_HEAP names the heap expected to serve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iobuf/iobuf.h"

static void test_next_heap_serves(void **state)
{
	const char *expected = getenv("IOBUF_HEAP");
	struct iobuf_usage usage;
	struct iobuf *buf;

	assert_non_null(expected);
	for (int i = 0; i < 3; i++) {
		buf = iobuf_with_options(IOBUF_CACHE_WRITECOMBINE, 1 << 20, 0);
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
		cmocka_unit_test(test_next_heap_serves),
	};

	return cmocka_run_group_tests_name("failover", tests, NULL, NULL);
}
