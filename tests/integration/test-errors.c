/* SPDX-License-Identifier: MIT */
/*
 * Bad requests through the library: each fails with its errno and a message
 * that names the problem, charges nothing and leaks no fd.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define MAX_BUFFER_SIZE (1u << 20)
#define MAX_CLIENT_BUFFERS 8
#define MAX_CLIENT_BYTES (1u << 16)

struct limited {
	struct test_daemon daemon;
	struct iobuf_task *task;
};

static int start_limited(void **state)
{
	static const char *const args[] = {
		"--max-buffer-size=1M", "--max-client-buffers=8", "--max-client-bytes=64K", NULL,
	};
	struct limited *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	test_daemon_start(&l->daemon, args);
	l->task = iobuf_task_connect(l->daemon.socket);
	assert_non_null(l->task);
	*state = l;
	return 0;
}

static int stop_limited(void **state)
{
	struct limited *l = *state;

	iobuf_task_unref(l->task);
	test_daemon_stop(&l->daemon);
	free(l);
	return 0;
}

/* Asserts the request is refused with err and message, changing nothing. */
static void assert_request_refused(struct iobuf_task *task, uint32_t options, size_t capacity,
				   size_t alignment, int err, const char *message)
{
	struct iobuf_usage before = usage_of(task);
	size_t fds = count_open_fds();
	struct iobuf_usage after;

	assert_refused(iobuf_in_task_with_options(task, options, capacity, alignment), err,
		       message);
	assert_int_equal(count_open_fds(), fds);
	after = usage_of(task);
	assert_int_equal(after.buffers, before.buffers);
	assert_int_equal(after.bytes, before.bytes);
	assert_int_equal(after.total_buffers, before.total_buffers);
	assert_int_equal(after.total_bytes, before.total_bytes);
}

static void test_capacity_zero(void **state)
{
	struct limited *l = *state;

	assert_request_refused(l->task, 0, 0, 0, EINVAL, "capacity must not be 0");
}

static void test_alignment_three(void **state)
{
	struct limited *l = *state;

	assert_request_refused(l->task, 0, 4096, 3, EINVAL, "alignment 3 is not a power of two");
}

static void test_unknown_option_bits(void **state)
{
	struct limited *l = *state;

	assert_request_refused(l->task, 1u << 20, 4096, 0, EINVAL,
			       "unknown option bits 0x100000");
	assert_request_refused(l->task, 6u << IOBUF_CACHE_SHIFT, 4096, 0, EINVAL,
			       "unknown cache mode 6");
}

static void test_purgeable_without_pageable(void **state)
{
	struct limited *l = *state;

	assert_request_refused(l->task, IOBUF_PURGEABLE, 4096, 0, EINVAL,
			       "PURGEABLE requires PAGEABLE");
}

static void test_no_contiguous_heap(void **state)
{
	struct limited *l = *state;

	assert_request_refused(l->task, IOBUF_PHYSICALLY_CONTIGUOUS, 4096, 0, EOPNOTSUPP,
			       "no heap can serve the request: memfd lacks PHYSICALLY_CONTIGUOUS");
	assert_request_refused(l->task, IOBUF_CACHE_INHIBIT, 4096, 0, EOPNOTSUPP,
			       "memfd lacks CACHE_INHIBIT");
	assert_request_refused(l->task, IOBUF_CACHE_WRITECOMBINE, 4096, 0, EOPNOTSUPP,
			       "memfd lacks CACHE_WRITECOMBINE");
}

static void test_capacity_over_maximum(void **state)
{
	struct limited *l = *state;
	struct iobuf *buf;

	assert_request_refused(l->task, 0, MAX_BUFFER_SIZE + 1, 0, EFBIG,
			       "capacity 1048577 is over the maximum buffer size 1048576");
	assert_request_refused(l->task, 0, SIZE_MAX, 0, EFBIG, "over the maximum buffer size");
	/* The limit itself is allowed... but over the per-client bytes here. */
	assert_request_refused(l->task, 0, MAX_BUFFER_SIZE, 0, EDQUOT, "per-client byte limit");
	buf = iobuf_in_task_with_options(l->task, IOBUF_PAGEABLE, MAX_CLIENT_BYTES, 0);
	assert_non_null(buf);
	iobuf_release(buf);
}

static void test_client_buffer_limit(void **state)
{
	struct limited *l = *state;
	struct iobuf *bufs[MAX_CLIENT_BUFFERS];

	for (size_t i = 0; i < MAX_CLIENT_BUFFERS; i++) {
		bufs[i] = iobuf_in_task_with_options(l->task, 0, 100, 0);
		assert_non_null(bufs[i]);
	}
	assert_request_refused(l->task, 0, 100, 0, EDQUOT,
			       "per-client buffer limit 8 reached: 8 buffers in use");
	iobuf_release(bufs[0]);
	bufs[0] = iobuf_in_task_with_options(l->task, 0, 100, 0);
	assert_non_null(bufs[0]);
	for (size_t i = 0; i < MAX_CLIENT_BUFFERS; i++)
		iobuf_release(bufs[i]);
}

static void test_client_byte_limit(void **state)
{
	struct limited *l = *state;
	struct iobuf *most = iobuf_in_task_with_options(l->task, 0, MAX_CLIENT_BYTES - 4096, 0);
	struct iobuf *last;

	assert_non_null(most);
	/* The last page that fits succeeds; one byte more fails. */
	last = iobuf_in_task_with_options(l->task, 0, 4096, 0);
	assert_non_null(last);
	assert_int_equal(usage_of(l->task).bytes, MAX_CLIENT_BYTES);
	assert_request_refused(l->task, 0, 1, 0, EDQUOT,
			       "per-client byte limit 65536 exceeded: 65536 bytes in use, "
			       "4096 requested");
	iobuf_release(last);
	assert_request_refused(l->task, 0, 4097, 0, EDQUOT,
			       "per-client byte limit 65536 exceeded: 61440 bytes in use, "
			       "8192 requested");
	iobuf_release(most);
}

static void test_other_clients_unaffected_by_limits(void **state)
{
	struct limited *l = *state;
	struct iobuf_task *other = iobuf_task_connect(l->daemon.socket);
	struct iobuf *full = iobuf_in_task_with_options(l->task, 0, MAX_CLIENT_BYTES, 0);
	struct iobuf *buf;

	assert_non_null(other);
	assert_non_null(full);
	buf = iobuf_in_task_with_options(other, 0, MAX_CLIENT_BYTES, 0);
	assert_non_null(buf);
	iobuf_release(buf);
	iobuf_release(full);
	iobuf_task_unref(other);
}

static void test_set_purgeable_without_the_flag_changes_nothing(void **state)
{
	struct limited *l = *state;
	struct iobuf *buf = iobuf_in_task_with_options(l->task, IOBUF_PAGEABLE, 4096, 0);
	enum iobuf_purgeable_state old = 0;

	assert_refused_r(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_EMPTY, &old), EINVAL,
			 "is not PURGEABLE");
	assert_int_equal(old, 0);
	iobuf_release(buf);
}

static void test_images_without_an_image_heap(void **state)
{
	struct limited *l = *state;
	struct iobuf_usage before = usage_of(l->task);
	uint64_t modifiers[IOBUF_IMAGE_MAX_MODIFIERS + 1] = { 0 };
	struct iobuf_image image;
	struct iobuf *buf;
	size_t fds = count_open_fds();

	assert_refused(iobuf_image_in_task(l->task, 64, 64, 0x34325258, NULL, 0, 0), EOPNOTSUPP,
		       "no heap creates images (GBM heaps do); heaps: memfd");
	assert_refused(iobuf_image_in_task(l->task, 0, 64, 0x34325258, NULL, 0, 0), EINVAL,
		       "image size 0x64 is not within 1x1 to 16384x16384");
	assert_refused(iobuf_image_in_task(l->task, 64, 16385, 0x34325258, NULL, 0, 0), EINVAL,
		       "image size 64x16385");
	assert_refused(iobuf_image_in_task(l->task, 64, 64, 0x34325258, NULL, 0, 8), EINVAL,
		       "unknown image usage bits 0x8");
	assert_refused(iobuf_image_in_task(l->task, 64, 64, 0x34325258, modifiers,
					   IOBUF_IMAGE_MAX_MODIFIERS + 1, 0),
		       EINVAL, "17 modifiers: at most 16 may be offered");
	assert_refused(iobuf_image_in_task(l->task, 64, 64, 0x34325258, NULL, 2, 0), EINVAL,
		       "modifiers must not be NULL");
	assert_int_equal(count_open_fds(), fds);
	assert_int_equal(usage_of(l->task).buffers, before.buffers);

	buf = iobuf_in_task_with_options(l->task, 0, 4096, 0);
	assert_refused_r(iobuf_get_image(buf, &image), EINVAL, "is not an image");
	iobuf_release(buf);
}

static void test_max_clients(void **state)
{
	static const char *const args[] = { "--max-clients=2", "--max-uid-clients=8", NULL };
	struct test_daemon d;
	struct iobuf_task *a, *b;
	size_t fds;

	test_daemon_start(&d, args);
	a = iobuf_task_connect(d.socket);
	b = iobuf_task_connect(d.socket);
	assert_non_null(a);
	assert_non_null(b);
	fds = count_open_fds();
	assert_refused(iobuf_task_connect(d.socket), EUSERS, "too many clients (limit 2)");
	assert_int_equal(count_open_fds(), fds);
	assert_int_equal(usage_of(a).clients, 2);

	/* A slot freed is a slot available. */
	iobuf_task_unref(b);
	for (int tries = 0; tries < 500 && usage_of(a).clients != 1; tries++)
		usleep(10000);
	b = iobuf_task_connect(d.socket);
	assert_non_null(b);
	iobuf_task_unref(b);
	iobuf_task_unref(a);
	test_daemon_stop(&d);
}

static void test_daemon_not_running(void **state)
{
	char dir[] = "/tmp/iobufd-none.XXXXXX";
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char *path = addr.sun_path;
	size_t fds = count_open_fds();
	int sock;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(addr.sun_path), "%s/iobufd.sock", dir);
	assert_refused(iobuf_task_connect(path), ENOENT, path);
	assert_non_null(strstr(iobuf_last_error(), "cannot connect to iobufd at"));

	/* A socket left behind by a daemon that is gone. */
	sock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(sock);
	assert_refused(iobuf_task_connect(path), ECONNREFUSED, path);
	assert_int_equal(count_open_fds(), fds);
	unlink(path);
	rmdir(dir);

	/* The own task reports it too, naming $IOBUFD_SOCKET's path. */
	setenv("IOBUFD_SOCKET", path, 1);
	assert_refused(iobuf_with_options(0, 4096, 0), ENOENT, path);
	assert_refused(iobuf_task_self(), ENOENT, path);
}

int main(void)
{
	const struct CMUnitTest limited[] = {
		cmocka_unit_test(test_capacity_zero),
		cmocka_unit_test(test_alignment_three),
		cmocka_unit_test(test_unknown_option_bits),
		cmocka_unit_test(test_purgeable_without_pageable),
		cmocka_unit_test(test_no_contiguous_heap),
		cmocka_unit_test(test_capacity_over_maximum),
		cmocka_unit_test(test_client_buffer_limit),
		cmocka_unit_test(test_client_byte_limit),
		cmocka_unit_test(test_other_clients_unaffected_by_limits),
		cmocka_unit_test(test_set_purgeable_without_the_flag_changes_nothing),
		cmocka_unit_test(test_images_without_an_image_heap),
	};
	const struct CMUnitTest own_daemon[] = {
		cmocka_unit_test(test_max_clients),
		cmocka_unit_test(test_daemon_not_running),
	};
	int failed = cmocka_run_group_tests(limited, start_limited, stop_limited);

	return failed + cmocka_run_group_tests(own_daemon, NULL, NULL);
}
