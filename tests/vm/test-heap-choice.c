/* SPDX-License-Identifier: MIT */
/*
 * Which heap serves when one runs out of memory, and when the system heap
 * is declared contiguous. Run in the qemu guest by in-guest.sh, as an
 * unprivileged client, with the test to run as its argument:
 *
 *   fallthrough  iobufd --heaps=memfd,dma-heap/system in a memory cgroup
 *                smaller than the buffers: memfd's pages are charged to
 *                the cgroup and the kernel answers ENOMEM, the system
 *                heap's are not. The system heap is limited to 192M.
 *   contiguous   iobufd with every heap and --contiguous-heaps=system.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iobuf/iobuf.h"

#define MIB (1ull << 20)

/* Allocates size bytes with options, writes them, and says which heap served. */
static void check_served_by(uint32_t options, size_t size, const char *heap)
{
	struct iobuf *buf = iobuf_with_options(options, size, 0);

	if (!buf)
		fail_msg("%zu bytes, options 0x%x: %s", size, options, iobuf_last_error());
	assert_string_equal(iobuf_get_heap(buf), heap);
	memset(iobuf_get_bytes_no_copy(buf), 0x5a, size);
	iobuf_release(buf);
}

static void test_out_of_memory_falls_through(void **state)
{
	/* Twice: the daemon says once that memfd is out of memory, not per request. */
	check_served_by(0, 128 * MIB, "dma-heap/system");
	check_served_by(IOBUF_DIRECTION_OUT, 128 * MIB, "dma-heap/system");
	/* A buffer memfd can make in the cgroup: the admin's order still holds. */
	check_served_by(0, 1 * MIB, "memfd");
}

static void test_every_heap_tried_is_named(void **state)
{
	errno = 0;
	assert_null(iobuf_with_options(0, 256 * MIB, 0));
	assert_int_equal(errno, EDQUOT);
	assert_non_null(strstr(iobuf_last_error(),
			       "heap memfd cannot allocate 268435456 bytes: Cannot allocate memory; "
			       "heap dma-heap/system byte limit 201326592 exceeded"));
}

static void test_plain_requests_leave_the_contiguous_heap(void **state)
{
	struct iobuf_match match;

	assert_int_equal(iobuf_task_query(iobuf_task_self(), 0, MIB, 0, &match), 0);
	assert_string_not_equal(match.heap, "dma-heap/system");
	check_served_by(0, MIB, match.heap);
	/* vgem's dumb buffers: the first heap found that is cached and no pool. */
	assert_string_equal(match.heap, "dumb/card0");
	check_served_by(IOBUF_PHYSICALLY_CONTIGUOUS, MIB, "dma-heap/system");
	check_served_by(IOBUF_PAGEABLE, MIB, "udmabuf");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest fallthrough[] = {
		cmocka_unit_test(test_out_of_memory_falls_through),
		cmocka_unit_test(test_every_heap_tried_is_named),
	};
	const struct CMUnitTest contiguous[] = {
		cmocka_unit_test(test_plain_requests_leave_the_contiguous_heap),
	};

	if (argc == 2 && strcmp(argv[1], "fallthrough") == 0)
		return cmocka_run_group_tests_name("fallthrough", fallthrough, NULL, NULL);
	if (argc == 2 && strcmp(argv[1], "contiguous") == 0)
		return cmocka_run_group_tests_name("contiguous", contiguous, NULL, NULL);
	print_error("usage: test-heap-choice fallthrough|contiguous\n");
	return 2;
}
