/* SPDX-License-Identifier: MIT */
/* A buffer from a real iobufd: every accessor, the mapping and the fd. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static void assert_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			fail_msg("byte %zu is 0x%02x, not zero", i, p[i]);
}

static void test_in_task_with_options(void **state)
{
	struct iobuf_task *task = iobuf_task_self();
	struct iobuf *buf;

	assert_non_null(task);
	buf = iobuf_in_task_with_options(task, IOBUF_DIRECTION_INOUT, 10000, 0);
	assert_non_null(buf);
	assert_true(iobuf_get_id(buf) > 0);
	assert_string_equal(iobuf_get_heap(buf), "memfd");
	assert_int_equal(iobuf_get_capacity(buf), 10000);
	assert_int_equal(iobuf_get_length(buf), 10000);
	assert_int_equal(iobuf_get_options(buf), IOBUF_DIRECTION_INOUT | IOBUF_CACHE_COPYBACK);
	assert_int_equal(iobuf_get_direction(buf), IOBUF_DIRECTION_INOUT);
	assert_true(iobuf_get_fd(buf) >= 0);
	assert_non_null(iobuf_get_bytes_no_copy(buf));
	assert_string_equal(iobuf_last_error(), "");
	iobuf_release(buf);
}

static void test_zero_filled(void **state)
{
	const uint32_t options[] = { 0, IOBUF_PAGEABLE, IOBUF_PAGEABLE | IOBUF_PURGEABLE };

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		struct iobuf *buf = iobuf_with_options(options[i], 3 * page_size() + 5, 0);

		assert_non_null(buf);
		assert_all_zero(iobuf_get_bytes_no_copy(buf), iobuf_get_capacity(buf));
		iobuf_release(buf);
	}
}

static void test_wired_allocated_up_front(void **state)
{
	size_t size = 64 * page_size();
	struct iobuf *wired = iobuf_with_options(0, size, 0);
	struct iobuf *pageable = iobuf_with_options(IOBUF_PAGEABLE, size, 0);
	struct stat st;

	assert_non_null(wired);
	assert_non_null(pageable);
	assert_int_equal(fstat(iobuf_get_fd(wired), &st), 0);
	assert_int_equal(st.st_size, size);
	assert_true((size_t)st.st_blocks * 512 >= size);
	assert_int_equal(fstat(iobuf_get_fd(pageable), &st), 0);
	assert_int_equal(st.st_size, size);
	assert_int_equal(st.st_blocks, 0);
	iobuf_release(wired);
	iobuf_release(pageable);
}

static void test_alignments(void **state)
{
	for (size_t align = 1; align <= (2u << 20); align <<= 1) {
		struct iobuf *buf = iobuf_with_options(0, 4096, align);
		uintptr_t addr;

		assert_non_null(buf);
		addr = (uintptr_t)iobuf_get_bytes_no_copy(buf);
		if (addr & (align - 1))
			fail_msg("alignment %zu: mapped at %p", align, (void *)addr);
		memset((void *)addr, 0xa5, 4096);
		iobuf_release(buf);
	}
}

static void test_physical_mask(void **state)
{
	struct iobuf *buf = iobuf_in_task_with_physical_mask(NULL, 0, 8192, 0xffffffffffe00000ull);

	assert_non_null(buf);
	assert_int_equal((uintptr_t)iobuf_get_bytes_no_copy(buf) & ((2u << 20) - 1), 0);
	iobuf_release(buf);

	buf = iobuf_in_task_with_physical_mask(NULL, 0, 8192, 0x00000000fffff000ull);
	assert_refused(buf, EOPNOTSUPP, "memfd lacks a physical address limit");
}

static void test_bytes_seen_through_fd(void **state)
{
	struct iobuf *buf = iobuf_with_capacity(2 * page_size(), IOBUF_DIRECTION_OUT, 0);
	uint8_t *p = iobuf_get_bytes_no_copy(buf);
	uint8_t *again;

	for (size_t i = 0; i < iobuf_get_capacity(buf); i++)
		p[i] = (uint8_t)(i * 7);
	again = mmap(NULL, iobuf_get_capacity(buf), PROT_READ | PROT_WRITE, MAP_SHARED,
		     iobuf_get_fd(buf), 0);
	assert_true(again != MAP_FAILED);
	assert_memory_equal(again, p, iobuf_get_capacity(buf));
	again[5] = 0x42;
	assert_int_equal(p[5], 0x42);
	munmap(again, iobuf_get_capacity(buf));
	iobuf_release(buf);
}

static void test_memfd_named_and_sealed(void **state)
{
	struct iobuf *buf = iobuf_with_options(IOBUF_PAGEABLE, 4096, 0);
	int fd = iobuf_get_fd(buf);
	char link[64], expected[64], target[128];
	ssize_t n;
	int seals;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	snprintf(expected, sizeof(expected), "/memfd:iobuf:%" PRIu64 " ", iobuf_get_id(buf));
	assert_memory_equal(target, expected, strlen(expected));

	seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	assert_int_equal(fcntl(fd, F_GET_SEALS) & seals, seals);
	assert_int_equal(ftruncate(fd, 8192), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(pwrite(fd, "x", 1, 4096), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(pwrite(fd, "x", 1, 4095), 1);
	iobuf_release(buf);
}

/* Whether the daemon has buffer id's memfd mapped. */
static bool daemon_maps(const struct test_daemon *d, uint64_t id)
{
	char path[64], name[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)d->pid);
	snprintf(name, sizeof(name), "/memfd:iobuf:%" PRIu64 " ", id);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, name) != NULL;
	fclose(f);
	return found;
}

/* KERNEL_USER_SHARED buffers, and only those, are mapped in the daemon while they live. */
static void test_kernel_user_shared(void **state)
{
	const struct test_daemon *d = *state;
	struct iobuf *shared = iobuf_with_options(IOBUF_KERNEL_USER_SHARED, 8192, 0);
	struct iobuf *plain = iobuf_with_options(0, 8192, 0);
	uint64_t id;

	assert_non_null(shared);
	assert_non_null(plain);
	id = iobuf_get_id(shared);
	assert_true(iobuf_get_options(shared) & IOBUF_KERNEL_USER_SHARED);
	assert_true(daemon_maps(d, id));
	assert_false(daemon_maps(d, iobuf_get_id(plain)));
	memset(iobuf_get_bytes_no_copy(shared), 0x5a, 8192);
	iobuf_release(shared);
	iobuf_release(plain);
	/* Freed: the daemon's mapping goes with it. */
	for (int tries = 0; tries < 100 && daemon_maps(d, id); tries++)
		usleep(10000);
	assert_false(daemon_maps(d, id));
}

/*
 * As IOKit's getBytesNoCopy(start, length): start below the length and
 * start + length within it; the capacity beyond the length is out of range.
 */
static void test_ranges(void **state)
{
	struct iobuf *buf = iobuf_with_options(0, 100, 0);
	char *base = iobuf_get_bytes_no_copy(buf);

	assert_ptr_equal(iobuf_get_bytes_no_copy_range(buf, 0, 100), base);
	assert_ptr_equal(iobuf_get_bytes_no_copy_range(buf, 99, 1), base + 99);
	assert_ptr_equal(iobuf_get_bytes_no_copy_range(buf, 99, 0), base + 99);
	assert_refused(iobuf_get_bytes_no_copy_range(buf, 100, 0), ERANGE,
		       "range 100+0 is outside the length 100");
	assert_refused(iobuf_get_bytes_no_copy_range(buf, 100, 1), ERANGE, "outside the length");
	assert_refused(iobuf_get_bytes_no_copy_range(buf, 101, 0), ERANGE, "outside the length");
	assert_refused(iobuf_get_bytes_no_copy_range(buf, 1, SIZE_MAX), ERANGE, "outside");

	assert_int_equal(iobuf_set_length(buf, 40), 0);
	assert_ptr_equal(iobuf_get_bytes_no_copy_range(buf, 0, 40), base);
	assert_ptr_equal(iobuf_get_bytes_no_copy_range(buf, 39, 1), base + 39);
	assert_refused(iobuf_get_bytes_no_copy_range(buf, 0, 41), ERANGE,
		       "range 0+41 is outside the length 40");
	assert_refused(iobuf_get_bytes_no_copy_range(buf, 40, 0), ERANGE, "outside the length 40");
	assert_refused(iobuf_get_bytes_no_copy_range(buf, 60, 1), ERANGE, "outside the length 40");

	/* A length of 0 has no byte in range, as in IOKit. */
	assert_int_equal(iobuf_set_length(buf, 0), 0);
	assert_refused(iobuf_get_bytes_no_copy_range(buf, 0, 0), ERANGE, "outside the length 0");
	iobuf_release(buf);
}

static void test_length_and_append(void **state)
{
	struct iobuf *buf = iobuf_with_options(0, 10, 0);
	char *p = iobuf_get_bytes_no_copy(buf);

	assert_int_equal(iobuf_set_length(buf, 4), 0);
	assert_int_equal(iobuf_get_length(buf), 4);
	assert_refused_r(iobuf_set_length(buf, 11), ERANGE, "length 11 is past the capacity 10");
	assert_int_equal(iobuf_get_length(buf), 4);

	assert_int_equal(iobuf_append_bytes(buf, "abcd", 4), 4);
	assert_int_equal(iobuf_get_length(buf), 8);
	/* Only what fits is copied, as IOKit does. */
	assert_int_equal(iobuf_append_bytes(buf, "efghij", 6), 2);
	assert_int_equal(iobuf_get_length(buf), 10);
	assert_memory_equal(p + 4, "abcdef", 6);
	assert_int_equal(iobuf_append_bytes(buf, "k", 1), 0);
	assert_int_equal(iobuf_set_length(buf, 10), 0);
	assert_int_equal(iobuf_set_length(buf, 0), 0);
	iobuf_release(buf);
}

static void test_direction(void **state)
{
	struct iobuf *buf = iobuf_with_capacity(64, IOBUF_DIRECTION_IN, 0);

	assert_int_equal(iobuf_get_direction(buf), IOBUF_DIRECTION_IN);
	assert_int_equal(iobuf_set_direction(buf, IOBUF_DIRECTION_OUT), 0);
	assert_int_equal(iobuf_get_direction(buf), IOBUF_DIRECTION_OUT);
	assert_refused_r(iobuf_set_direction(buf, 4), EINVAL, "outside IOBUF_DIRECTION_MASK");
	assert_int_equal(iobuf_get_direction(buf), IOBUF_DIRECTION_OUT);
	/* A memfd needs no cache maintenance: the brackets succeed and do nothing. */
	assert_int_equal(iobuf_prepare(buf), 0);
	assert_int_equal(iobuf_complete(buf), 0);
	iobuf_release(buf);
}

static void test_with_bytes(void **state)
{
	static const char text[] = "device-shareable";
	struct iobuf *buf = iobuf_with_bytes(text, sizeof(text), IOBUF_DIRECTION_OUT, 0);

	assert_non_null(buf);
	assert_int_equal(iobuf_get_length(buf), sizeof(text));
	assert_int_equal(iobuf_get_capacity(buf), sizeof(text));
	assert_string_equal(iobuf_get_bytes_no_copy(buf), text);
	assert_int_equal(iobuf_get_options(buf), IOBUF_DIRECTION_OUT | IOBUF_CACHE_COPYBACK);
	iobuf_release(buf);
}

static void test_retain_release(void **state)
{
	struct iobuf_task *task = iobuf_task_self();
	struct iobuf_usage before = usage_of(task);
	struct iobuf *buf = iobuf_with_options(0, 5000, 0);

	assert_int_equal(usage_of(task).buffers, before.buffers + 1);
	assert_int_equal(usage_of(task).bytes, before.bytes + 2 * 4096);
	assert_ptr_equal(iobuf_retain(buf), buf);
	iobuf_release(buf);
	assert_int_equal(usage_of(task).buffers, before.buffers + 1);
	memset(iobuf_get_bytes_no_copy(buf), 1, 5000);
	iobuf_release(buf);
	assert_int_equal(usage_of(task).buffers, before.buffers);
	assert_int_equal(usage_of(task).bytes, before.bytes);
	iobuf_release(NULL);
}

static void test_query(void **state)
{
	struct iobuf_task *task = iobuf_task_self();
	struct iobuf_usage before = usage_of(task);
	struct iobuf_match match;

	assert_int_equal(iobuf_task_query(task, IOBUF_PAGEABLE, 5000, 0, &match), 0);
	assert_string_equal(match.heap, "memfd");
	assert_int_equal(match.size, 8192);
	assert_int_equal(match.options, IOBUF_PAGEABLE | IOBUF_CACHE_COPYBACK);
	assert_int_equal(usage_of(task).buffers, before.buffers);

	assert_refused_r(iobuf_task_query(task, IOBUF_PHYSICALLY_CONTIGUOUS, 4096, 0, &match),
			 EOPNOTSUPP, "memfd lacks PHYSICALLY_CONTIGUOUS");
	assert_refused_r(iobuf_task_query(task, 0, 0, 0, &match), EINVAL, "capacity must not be 0");
	assert_refused_r(iobuf_task_query(NULL, 0, 1, 0, &match), EINVAL, "must not be NULL");
}

static void test_purgeable_states(void **state)
{
	struct iobuf *buf = iobuf_with_options(IOBUF_PAGEABLE | IOBUF_PURGEABLE, 8192, 0);
	enum iobuf_purgeable_state old = 0;
	char *p = iobuf_get_bytes_no_copy(buf);

	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_KEEP_CURRENT, &old), 0);
	assert_int_equal(old, IOBUF_PURGEABLE_NON_VOLATILE);
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_VOLATILE, &old), 0);
	assert_int_equal(old, IOBUF_PURGEABLE_NON_VOLATILE);
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_KEEP_CURRENT, &old), 0);
	assert_int_equal(old, IOBUF_PURGEABLE_VOLATILE);
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_NON_VOLATILE, NULL), 0);

	/* EMPTY discards the contents now. */
	memset(p, 0x77, 8192);
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_EMPTY, &old), 0);
	assert_int_equal(old, IOBUF_PURGEABLE_NON_VOLATILE);
	assert_all_zero((const uint8_t *)p, 8192);
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_NON_VOLATILE, &old), 0);
	assert_int_equal(old, IOBUF_PURGEABLE_EMPTY);

	assert_refused_r(iobuf_set_purgeable(buf, 9, &old), EINVAL, "unknown purgeable state 9");
	iobuf_release(buf);

	buf = iobuf_with_options(IOBUF_PAGEABLE, 4096, 0);
	assert_refused_r(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_VOLATILE, &old), EINVAL,
			 "is not PURGEABLE");
	iobuf_release(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_task_with_options),
		cmocka_unit_test(test_zero_filled),
		cmocka_unit_test(test_wired_allocated_up_front),
		cmocka_unit_test(test_alignments),
		cmocka_unit_test(test_physical_mask),
		cmocka_unit_test(test_bytes_seen_through_fd),
		cmocka_unit_test(test_memfd_named_and_sealed),
		cmocka_unit_test(test_kernel_user_shared),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_length_and_append),
		cmocka_unit_test(test_direction),
		cmocka_unit_test(test_with_bytes),
		cmocka_unit_test(test_retain_release),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_purgeable_states),
	};

	return cmocka_run_group_tests(tests, group_daemon_start, group_daemon_stop);
}
