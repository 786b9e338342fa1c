/* SPDX-License-Identifier: MIT */
/*
 * Labels and heaps asked for by name: what a buffer is called where people
 * look (its memfd's name here; dma-buf names in the vm suite), the rule for
 * labels on both sides of the socket, and a heap named by the client.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"
#include "wire.h"

/* What /proc/self/fd says the buffer's fd is: "/memfd:<name> (deleted)". */
static void fd_target(const struct iobuf *buf, char *out, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", iobuf_get_fd(buf));
	n = readlink(link, out, size - 1);
	assert_true(n > 0);
	out[n] = '\0';
}

static void assert_memfd_named(const struct iobuf *buf, const char *label)
{
	char target[256], expected[128];

	if (label[0])
		snprintf(expected, sizeof(expected), "/memfd:iobuf:%llu:%s (deleted)",
			 (unsigned long long)iobuf_get_id(buf), label);
	else
		snprintf(expected, sizeof(expected), "/memfd:iobuf:%llu (deleted)",
			 (unsigned long long)iobuf_get_id(buf));
	fd_target(buf, target, sizeof(target));
	assert_string_equal(target, expected);
}

static struct iobuf_task *connect_task(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = iobuf_task_connect(d->socket);

	assert_non_null(task);
	return task;
}

static void test_label_names_the_buffer(void **state)
{
	struct iobuf_task *task = connect_task(state);
	struct iobuf *buf;

	buf = iobuf_in_task_with_label(task, IOBUF_PAGEABLE, 4096, 0, "camera0 preview");
	assert_non_null(buf);
	assert_string_equal(iobuf_get_label(buf), "camera0 preview");
	assert_memfd_named(buf, "camera0 preview");
	iobuf_release(buf);

	/* UTF-8 up to the kernel's 31 bytes. */
	buf = iobuf_in_task_with_label(task, 0, 4096, 0, "кадры-камеры-0");
	assert_non_null(buf);
	assert_memfd_named(buf, "кадры-камеры-0");
	iobuf_release(buf);
	iobuf_task_unref(task);
}

static void test_task_label_is_the_default(void **state)
{
	struct iobuf_task *task = connect_task(state);
	struct iobuf *plain, *labelled, *unlabelled;

	plain = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_non_null(plain);
	assert_string_equal(iobuf_get_label(plain), "");
	assert_memfd_named(plain, "");

	assert_int_equal(iobuf_task_set_label(task, "decoder"), 0);
	labelled = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_non_null(labelled);
	assert_string_equal(iobuf_get_label(labelled), "decoder");
	assert_memfd_named(labelled, "decoder");
	/* An explicit "" is no label, not the task's. */
	unlabelled = iobuf_in_task_with_label(task, 0, 4096, 0, "");
	assert_non_null(unlabelled);
	assert_string_equal(iobuf_get_label(unlabelled), "");

	assert_int_equal(iobuf_task_set_label(task, NULL), 0);
	iobuf_release(plain);
	plain = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_string_equal(iobuf_get_label(plain), "");
	iobuf_release(plain);
	iobuf_release(labelled);
	iobuf_release(unlabelled);
	iobuf_task_unref(task);
}

static const char *const bad_labels[][2] = {
	{ "a label of thirty-two bytes long", "the label is longer than 31 bytes" },
	{ "tab\there", "the label holds a control character" },
	{ "del\x7f", "the label holds a control character" },
	{ "c1 \xc2\x85", "the label holds a control character" },
	{ "cut \xd0", "the label is not valid UTF-8" },
	{ "overlong \xc0\xaf", "the label is not valid UTF-8" },
	{ "surrogate \xed\xa0\x80", "the label is not valid UTF-8" },
	{ "\xff", "the label is not valid UTF-8" },
};

static void test_bad_labels_refused_by_the_library(void **state)
{
	struct iobuf_task *task = connect_task(state);
	struct iobuf_usage before = usage_of(task);

	for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++) {
		assert_refused(iobuf_in_task_with_label(task, 0, 4096, 0, bad_labels[i][0]),
			       EINVAL, bad_labels[i][1]);
		assert_refused_r(iobuf_task_set_label(task, bad_labels[i][0]), EINVAL,
				 bad_labels[i][1]);
	}
	assert_int_equal(usage_of(task).buffers, before.buffers);
	iobuf_task_unref(task);
}

/* A client that skips the library gets the same rule from the daemon, and stays connected. */
static void test_bad_labels_refused_by_the_daemon(void **state)
{
	struct test_daemon *d = *state;
	struct wire_message alloc = { .header = { WIRE_ALLOCATE, 0, 2 },
				      .allocate = { 0, 4096, 0, 0, { .present = true } } };
	struct wire_message reply;
	int sock = raw_connect(d->socket), fd;

	raw_hello(sock);
	for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++) {
		snprintf(alloc.allocate.spec.label, sizeof(alloc.allocate.spec.label), "%s",
			 bad_labels[i][0]);
		assert_int_equal(raw_call(sock, &alloc, &reply, &fd), 0);
		assert_int_equal(reply.header.opcode, WIRE_ERROR);
		assert_int_equal(reply.error.error, EINVAL);
		assert_string_equal(reply.error.message, bad_labels[i][1]);
		assert_int_equal(fd, -1);
	}
	/* The wire carries up to 255 bytes, so that a long label is refused, not dropped. */
	memset(alloc.allocate.spec.label, 'x', WIRE_MAX_LABEL);
	alloc.allocate.spec.label[WIRE_MAX_LABEL] = '\0';
	assert_int_equal(raw_call(sock, &alloc, &reply, &fd), 0);
	assert_int_equal(reply.error.error, EINVAL);

	strcpy(alloc.allocate.spec.label, "fine");
	assert_int_equal(raw_call(sock, &alloc, &reply, &fd), 0);
	assert_int_equal(reply.header.opcode, WIRE_ALLOCATE_REPLY);
	assert_true(fd >= 0);
	close(fd);
	close(sock);
}

static void test_heap_by_name(void **state)
{
	struct iobuf_task *task = connect_task(state);
	struct iobuf_usage before = usage_of(task);
	struct iobuf_match match;
	struct iobuf *buf;

	buf = iobuf_in_task_from_heap(task, "memfd", IOBUF_PAGEABLE, 8192, 0);
	assert_non_null(buf);
	assert_string_equal(iobuf_get_heap(buf), "memfd");
	assert_int_equal(iobuf_get_capacity(buf), 8192);
	iobuf_release(buf);

	assert_int_equal(iobuf_task_query_heap(task, "memfd", 0, 4096, 0, &match), 0);
	assert_string_equal(match.heap, "memfd");
	assert_int_equal(match.size, 4096);

	assert_refused(iobuf_in_task_from_heap(task, "dma-heap/nothing", 0, 4096, 0), ENODEV,
		       "iobufd serves no heap named dma-heap/nothing");
	assert_refused_r(iobuf_task_query_heap(task, "dma-heap/nothing", 0, 4096, 0, &match),
			 ENODEV, "iobufd serves no heap named dma-heap/nothing");
	/* The named heap serves or nobody does: no other heap steps in. */
	assert_refused(iobuf_in_task_from_heap(task, "memfd", IOBUF_PHYSICALLY_CONTIGUOUS, 4096, 0),
		       EOPNOTSUPP, "heap memfd lacks PHYSICALLY_CONTIGUOUS");
	assert_refused(iobuf_in_task_from_heap(task, "", 0, 4096, 0), EINVAL,
		       "a heap must be named");
	assert_refused(iobuf_in_task_from_heap(task, NULL, 0, 4096, 0), EINVAL,
		       "a heap must be named");
	assert_int_equal(usage_of(task).buffers, before.buffers);
	iobuf_task_unref(task);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_names_the_buffer),
		cmocka_unit_test(test_task_label_is_the_default),
		cmocka_unit_test(test_bad_labels_refused_by_the_library),
		cmocka_unit_test(test_bad_labels_refused_by_the_daemon),
		cmocka_unit_test(test_heap_by_name),
	};

	return cmocka_run_group_tests(tests, group_daemon_start, group_daemon_stop);
}
