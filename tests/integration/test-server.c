/* SPDX-License-Identifier: MIT */
/* The daemon's command line and its listening socket. */
#include <errno.h>
#include <fcntl.h>
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

#include "config.h"
#include "harness.h"
#include "iobuf/iobuf.h"

static char output[8192];

static void assert_output_has(const char *text)
{
	if (!strstr(output, text))
		fail_msg("output lacks \"%s\":\n%s", text, output);
}

static void test_help_and_version(void **state)
{
	assert_int_equal(run_iobufd((const char *[]){ "--help", NULL }, output, sizeof(output)), 0);
	assert_output_has("Usage: iobufd [OPTIONS]");
	assert_output_has("--max-client-bytes=BYTES");
	assert_int_equal(run_iobufd((const char *[]){ "-V", NULL }, output, sizeof(output)), 0);
	assert_string_equal(output, "iobufd " IOBUFD_VERSION "\n");
}

static void test_bad_arguments(void **state)
{
	assert_int_equal(run_iobufd((const char *[]){ "--max-buffer-size=12Q", NULL }, output,
				    sizeof(output)), 1);
	assert_output_has("invalid --max-buffer-size '12Q'");
	assert_int_equal(run_iobufd((const char *[]){ "--max-clients=0", NULL }, output,
				    sizeof(output)), 1);
	assert_output_has("invalid --max-clients '0': expected a number from 1 to 65536");
	assert_int_equal(run_iobufd((const char *[]){ "--max-client-bytes=-1", NULL }, output,
				    sizeof(output)), 1);
	assert_int_equal(run_iobufd((const char *[]){ "--frobnicate", NULL }, output,
				    sizeof(output)), 1);
	assert_output_has("Usage: iobufd");
	assert_int_equal(run_iobufd((const char *[]){ "extra", NULL }, output, sizeof(output)),
			 1);
	assert_output_has("unexpected argument 'extra'");
}

static void test_socket_permissions(void **state)
{
	struct test_daemon d;
	struct stat st;

	test_daemon_start(&d, NULL);
	assert_int_equal(stat(d.socket, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0666);
	test_daemon_stop(&d);
}

static void test_creates_socket_directory(void **state)
{
	char dir[] = "/tmp/iobufd-dir.XXXXXX";
	char socket_path[96];
	struct iobuf_task *task;
	struct test_daemon d;

	assert_non_null(mkdtemp(dir));
	snprintf(socket_path, sizeof(socket_path), "%s/run/iobufd.sock", dir);
	test_daemon_start_at(&d, socket_path);
	task = iobuf_task_connect(socket_path);
	assert_non_null(task);
	iobuf_task_unref(task);
	test_daemon_stop(&d);
	assert_int_equal(access(socket_path, F_OK), -1);
	snprintf(socket_path, sizeof(socket_path), "%s/run", dir);
	assert_int_equal(rmdir(socket_path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_stale_socket_replaced(void **state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/iobufd-stale.XXXXXX";
	struct iobuf_task *task;
	struct test_daemon d;
	int sock;

	assert_non_null(mkdtemp(dir));
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/iobufd.sock", dir);
	sock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(sock);

	test_daemon_start_at(&d, addr.sun_path);
	task = iobuf_task_connect(addr.sun_path);
	assert_non_null(task);
	iobuf_task_unref(task);
	test_daemon_stop(&d);
	assert_int_equal(rmdir(dir), 0);
}

static void test_refuses_to_replace_a_file(void **state)
{
	char dir[] = "/tmp/iobufd-file.XXXXXX";
	char path[64];
	struct stat st;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/iobufd.sock", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);

	assert_int_equal(run_iobufd((const char *[]){ "--socket", path, NULL }, output,
				    sizeof(output)), 1);
	assert_output_has("exists and is not a socket; refusing to replace it");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);
	unlink(path);
	rmdir(dir);
}

static void test_second_daemon_refused(void **state)
{
	struct test_daemon d;
	struct iobuf_task *task;
	struct iobuf *buf;

	test_daemon_start(&d, NULL);
	task = iobuf_task_connect(d.socket);
	buf = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_non_null(buf);

	assert_int_equal(run_iobufd((const char *[]){ "--socket", d.socket, NULL }, output,
				    sizeof(output)), 1);
	assert_output_has("another iobufd is listening on");

	/* The first daemon and its client carry on. */
	assert_int_equal(usage_of(task).buffers, 1);
	iobuf_release(buf);
	iobuf_task_unref(task);
	test_daemon_stop(&d);
}

static void test_socket_from_environment(void **state)
{
	struct test_daemon d;
	struct iobuf_task *task;

	/* Started without --socket: the daemon and the library agree on the path. */
	test_daemon_start_from_env(&d);
	task = iobuf_task_connect(NULL);
	assert_non_null(task);
	iobuf_task_unref(task);
	test_daemon_stop(&d);
}

static void test_heap_selection(void **state)
{
	struct test_daemon d;
	struct iobuf_task *task;
	struct iobuf_match match;

	assert_int_equal(run_iobufd((const char *[]){ "--heaps=nothing,nor-this", NULL }, output,
				    sizeof(output)), 1);
	assert_output_has("heap 'nothing' was asked for but is not on this machine");
	assert_output_has("heap 'nor-this' was asked for but is not on this machine");
	assert_output_has("no heap to serve from: --heaps selects none of nothing,nor-this");

	/* Only dma-buf heaps may be declared contiguous. */
	test_daemon_start(&d, (const char *[]){ "--contiguous-heaps=memfd", NULL });
	task = iobuf_task_connect(d.socket);
	assert_int_equal(iobuf_task_query(task, IOBUF_PHYSICALLY_CONTIGUOUS, 1, 0, &match),
			 -EOPNOTSUPP);
	iobuf_task_unref(task);
	test_daemon_stop(&d);

	/* A prefix selects; the heap is still memfd. */
	test_daemon_start(&d, (const char *[]){ "--heaps=mem*", NULL });
	task = iobuf_task_connect(d.socket);
	assert_int_equal(iobuf_task_query(task, 0, 1, 0, &match), 0);
	assert_string_equal(match.heap, "memfd");
	iobuf_task_unref(task);
	test_daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_socket_permissions),
		cmocka_unit_test(test_creates_socket_directory),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_refuses_to_replace_a_file),
		cmocka_unit_test(test_second_daemon_refused),
		cmocka_unit_test(test_socket_from_environment),
		cmocka_unit_test(test_heap_selection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
