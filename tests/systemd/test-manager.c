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

/* A datagram socket for $NOTIFY_SOCKET, in a fresh directory. */
static int notify_socket(char *path, size_t size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/iobufd-notify.XXXXXX";
	int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_non_null(mkdtemp(dir));
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/notify", dir);
	snprintf(path, size, "%s", addr.sun_path);
	assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return sock;
}

/* Reads notifications until one contains text; fails after timeout_ms. */
static void expect_notification(int sock, const char *text, int timeout_ms)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	char msg[4096];

	while (poll(&pfd, 1, timeout_ms) == 1) {
		ssize_t n = recv(sock, msg, sizeof(msg) - 1, 0);

		assert_true(n >= 0);
		msg[n] = '\0';
		if (strstr(msg, text))
			return;
	}
	fail_msg("no notification with \"%s\" within %d ms", text, timeout_ms);
}

static void test_ready_status_watchdog_stopping(void **state)
{
	char path[128];
	int sock = notify_socket(path, sizeof(path));
	struct test_daemon d;
	struct iobuf_task *task;
	struct iobuf *buf;

	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	test_daemon_start(&d, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	expect_notification(sock, "READY=1\nSTATUS=0 clients, 0 buffers, 0 bytes", 5000);
	expect_notification(sock, "WATCHDOG=1", 2000);
	expect_notification(sock, "WATCHDOG=1", 2000);

	task = iobuf_task_connect(d.socket);
	buf = iobuf_in_task_with_options(task, 0, 8192, 0);
	assert_non_null(buf);
	iobuf_task_unref(task);
	expect_notification(sock, "STATUS=1 clients, 1 buffers, 8192 bytes", 5000);
	iobuf_release(buf);
	expect_notification(sock, "STATUS=0 clients, 0 buffers, 0 bytes", 5000);

	assert_int_equal(kill(d.pid, SIGTERM), 0);
	expect_notification(sock, "STOPPING=1", 5000);
	test_daemon_wait_stopped(&d);
	close(sock);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
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
