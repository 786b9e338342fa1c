/* SPDX-License-Identifier: MIT */
/*
 * iobuf_prepare() and iobuf_complete() on a kernel heap's dma-bufs, in the
 * order iobuf.h promises (the CPU writes, then prepare) and every other
 * sane order, as IOKit allows them: nested, and a complete without a
 * prepare. Run in the qemu guest by in-guest.sh as an unprivileged client of
 * an iobufd serving only $IOBUF_HEAP.
 *
 * With the argument "contiguous", against an iobufd whose $IOBUF_HEAP is
 * marked contiguous: iobuf_with_capacity() aligns a contiguous buffer to its
 * capacity, as IOKit's withCapacity does, and iobuf_with_bytes() does not.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "heap-options.h"
#include "iobuf/iobuf.h"

#define SIZE (256u << 10)

static const char *heap;
static uint32_t options; /* without a direction */

/* The first option set the heap under test serves. */
static int find_options(void **state)
{
	heap = getenv("IOBUF_HEAP");
	assert_non_null(heap);
	return heap_options(heap, 0, SIZE, &options);
}

static struct iobuf *allocate(uint32_t direction)
{
	struct iobuf *buf = iobuf_with_options(options | direction, SIZE, 0);

	if (!buf)
		fail_msg("%s: %s", heap, iobuf_last_error());
	assert_string_equal(iobuf_get_heap(buf), heap);
	assert_non_null(iobuf_get_bytes_no_copy(buf));
	return buf;
}

static void fill(struct iobuf *buf, uint8_t seed)
{
	uint8_t *p = iobuf_get_bytes_no_copy(buf);

	for (size_t i = 0; i < SIZE; i++)
		p[i] = (uint8_t)(i * 13 + seed);
}

/* The buffer holds fill(seed), through its own mapping and a new one of its fd. */
static void assert_holds(struct iobuf *buf, uint8_t seed, const char *after)
{
	uint8_t *mine = iobuf_get_bytes_no_copy(buf);
	uint8_t *again = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, iobuf_get_fd(buf), 0);

	assert_true(again != MAP_FAILED);
	for (size_t i = 0; i < SIZE; i++) {
		uint8_t expected = (uint8_t)(i * 13 + seed);

		if (mine[i] != expected || again[i] != expected)
			fail_msg("%s, %s: byte %zu is 0x%02x (0x%02x in a new mapping), not 0x%02x",
				 heap, after, i, mine[i], again[i], expected);
	}
	munmap(again, SIZE);
}

static void call(int (*fn)(struct iobuf *), struct iobuf *buf, const char *name,
		 const char *sequence)
{
	int r = fn(buf);

	if (r < 0)
		fail_msg("%s, %s: %s failed: %s (%s)", heap, sequence, name, strerror(-r),
			 iobuf_last_error());
}

/*
 * Runs sequence on a fresh buffer of each direction: 'w' the CPU writes,
 * 'p' prepare, 'c' complete. Each call succeeds and the buffer holds the
 * last write.
 */
static void run_sequence(const char *sequence)
{
	static const uint32_t directions[] = { IOBUF_DIRECTION_OUT, IOBUF_DIRECTION_IN,
					       IOBUF_DIRECTION_INOUT };

	for (size_t d = 0; d < sizeof(directions) / sizeof(directions[0]); d++) {
		struct iobuf *buf = allocate(directions[d]);
		uint8_t seed = 0;

		for (const char *step = sequence; *step; step++) {
			switch (*step) {
			case 'w':
				fill(buf, ++seed);
				break;
			case 'p':
				call(iobuf_prepare, buf, "iobuf_prepare", sequence);
				break;
			case 'c':
				call(iobuf_complete, buf, "iobuf_complete", sequence);
				break;
			}
		}
		if (seed)
			assert_holds(buf, seed, sequence);
		iobuf_release(buf);
	}
}

/* What iobuf.h promises: the CPU writes, then prepare; the device; complete, the CPU reads. */
static void test_written_then_prepared(void **state)
{
	run_sequence("wp");
	run_sequence("wpc");
	run_sequence("wpcwpc");
}

static void test_prepared_twice(void **state)
{
	run_sequence("wpp");
	run_sequence("wppcc");
	run_sequence("wppcwcpc");
}

static void test_completed_without_prepare(void **state)
{
	run_sequence("c");
	run_sequence("wc");
	run_sequence("wcc");
	run_sequence("wpccc");
}

static void test_completed_then_prepared(void **state)
{
	run_sequence("cwp");
	run_sequence("wcp");
	run_sequence("cwpcwpc");
}

static void test_prepared_without_writing(void **state)
{
	run_sequence("p");
	run_sequence("pc");
	run_sequence("pcwp");
}

/* The direction changed while the device holds the buffer. */
static void test_direction_changed_between(void **state)
{
	struct iobuf *buf = allocate(IOBUF_DIRECTION_OUT);

	fill(buf, 7);
	call(iobuf_prepare, buf, "iobuf_prepare", "OUT, then IN");
	assert_int_equal(iobuf_set_direction(buf, IOBUF_DIRECTION_IN), 0);
	call(iobuf_complete, buf, "iobuf_complete", "OUT, then IN");
	assert_holds(buf, 7, "OUT, then IN");
	iobuf_release(buf);
}

/* An address aligned to exactly the alignment asked for, or more. */
static void assert_aligned(const struct iobuf *buf, uintptr_t alignment)
{
	uintptr_t address = (uintptr_t)iobuf_get_bytes_no_copy(buf);

	if (address & (alignment - 1))
		fail_msg("%s: %zu bytes mapped at %p, not aligned to %zu", heap,
			 iobuf_get_capacity(buf), (void *)address, (size_t)alignment);
}

/*
 * withCapacity: a contiguous buffer aligned to its capacity, the power of
 * two at or above it when the capacity is none. Several of each, so that a
 * mapping aligned by chance does not pass.
 */
static void test_with_capacity_aligned_to_capacity(void **state)
{
	static const struct {
		size_t capacity, alignment;
	} cases[] = {
		{ 1u << 20, 1u << 20 },
		{ 3u << 20, 4u << 20 },
		{ (2u << 20) + 4096, 4u << 20 },
		{ 5000, 8192 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iobuf *bufs[4];

		for (size_t n = 0; n < 4; n++) {
			bufs[n] = iobuf_with_capacity(cases[i].capacity, IOBUF_DIRECTION_IN, 1);
			if (!bufs[n])
				fail_msg("%s: %s", heap, iobuf_last_error());
			assert_string_equal(iobuf_get_heap(bufs[n]), heap);
			assert_true(iobuf_get_options(bufs[n]) & IOBUF_PHYSICALLY_CONTIGUOUS);
			assert_int_equal(iobuf_get_capacity(bufs[n]), cases[i].capacity);
			assert_int_equal(iobuf_get_length(bufs[n]), cases[i].capacity);
			assert_aligned(bufs[n], cases[i].alignment);
			memset(iobuf_get_bytes_no_copy(bufs[n]), 0x5a, cases[i].capacity);
		}
		for (size_t n = 0; n < 4; n++)
			iobuf_release(bufs[n]);
	}
}

/* withBytes: contiguous too, the length and capacity the bytes'. */
static void test_with_bytes_contiguous(void **state)
{
	size_t length = (3u << 20) + 100;
	uint8_t *bytes = malloc(length);
	struct iobuf *buf;

	assert_non_null(bytes);
	for (size_t i = 0; i < length; i++)
		bytes[i] = (uint8_t)(i * 31);
	buf = iobuf_with_bytes(bytes, length, IOBUF_DIRECTION_OUT, 1);
	if (!buf)
		fail_msg("%s: %s", heap, iobuf_last_error());
	assert_true(iobuf_get_options(buf) & IOBUF_PHYSICALLY_CONTIGUOUS);
	assert_int_equal(iobuf_get_capacity(buf), length);
	assert_int_equal(iobuf_get_length(buf), length);
	assert_aligned(buf, (uintptr_t)sysconf(_SC_PAGESIZE));
	assert_memory_equal(iobuf_get_bytes_no_copy(buf), bytes, length);
	iobuf_release(buf);
	free(bytes);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest sync_tests[] = {
		cmocka_unit_test(test_written_then_prepared),
		cmocka_unit_test(test_prepared_twice),
		cmocka_unit_test(test_completed_without_prepare),
		cmocka_unit_test(test_completed_then_prepared),
		cmocka_unit_test(test_prepared_without_writing),
		cmocka_unit_test(test_direction_changed_between),
	};
	const struct CMUnitTest contiguous_tests[] = {
		cmocka_unit_test(test_with_capacity_aligned_to_capacity),
		cmocka_unit_test(test_with_bytes_contiguous),
	};

	if (argc > 1 && strcmp(argv[1], "contiguous") == 0) {
		heap = getenv("IOBUF_HEAP");
		if (!heap) {
			fprintf(stderr, "test-sync: $IOBUF_HEAP names no heap\n");
			return 1;
		}
		return cmocka_run_group_tests_name("contiguous", contiguous_tests, NULL, NULL);
	}
	return cmocka_run_group_tests_name(getenv("IOBUF_HEAP"), sync_tests, find_options, NULL);
}
