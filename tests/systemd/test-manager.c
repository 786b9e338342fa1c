/* SPDX-License-Identifier: MIT */
/*
 * iobufd as a service manager sees it: readiness, status and watchdog on a
 * test-owned $NOTIFY_SOCKET, and a socket passed by systemd-socket-activate.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"
#include "service-manager.h"

static void test_ready_status_watchdog_stopping(void **state)
{
	struct service_manager m;
	struct iobuf_task *task;
	struct iobuf *buf;

	manager_init(&m);
	setenv("WATCHDOG_USEC", "200000", 1);
	manager_spawn(&m, NULL);
	unsetenv("WATCHDOG_USEC");

	manager_expect(&m, "READY=1\nSTATUS=0 clients, 0 buffers, 0 bytes", 5000);
	manager_expect(&m, "WATCHDOG=1", 2000);
	manager_expect(&m, "WATCHDOG=1", 2000);

	task = iobuf_task_connect(m.socket_path);
	buf = iobuf_in_task_with_options(task, 0, 8192, 0);
	assert_non_null(buf);
	iobuf_task_unref(task);
	manager_expect(&m, "STATUS=1 clients, 1 buffers, 8192 bytes", 5000);
	iobuf_release(buf);
	manager_expect(&m, "STATUS=0 clients, 0 buffers, 0 bytes", 5000);

	manager_stop(&m);
	manager_fini(&m);
}

static void test_socket_activation(void **state)
{
	char dir[] = "/tmp/iobufd-activate.XXXXXX";
	char path[64];
	struct iobuf_task *task = NULL;
	struct iobuf *buf;
	pid_t pid;
	int status;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/iobufd.sock", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("systemd-socket-activate", "systemd-socket-activate", "--seqpacket", "-l",
		       path, getenv("IOBUFD_BINARY"), "--no-dbus", "--heaps=memfd",
		       "--socket=/nonexistent/ignored.sock", (char *)NULL);
		_exit(127);
	}
	for (int tries = 0; tries < 500 && !task; tries++) {
		task = iobuf_task_connect(path);
		if (!task)
			usleep(10000);
	}
	assert_non_null(task);
	buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE, 4096, 0);
	assert_non_null(buf);
	assert_string_equal(iobuf_get_heap(buf), "memfd");
	iobuf_release(buf);
	iobuf_task_unref(task);

	/* The activator stops the daemon it started. */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(access("/nonexistent/ignored.sock", F_OK), -1);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_status_watchdog_stopping),
		cmocka_unit_test(test_socket_activation),
	};

	return cmocka_run_group_tests_name("manager", tests, NULL, NULL);
}
