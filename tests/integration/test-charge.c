/* SPDX-License-Identifier: MIT */
/*
 * Charging another task through its pidfd: allowed for the same uid and
 * root, refused to others with EPERM, and released when the task exits.
 * Not run under valgrind, which (3.19) knows no pidfd_open.
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define NOBODY 65534

static void test_charge_another_task(void **state)
{
	const struct test_daemon *d = *state;
	struct iobuf_task *own = iobuf_task_connect(d->socket), *theirs;
	pid_t child = idle_child();
	int pidfd = test_pidfd_open(child);
	struct iobuf_usage usage;
	struct iobuf *buf;

	theirs = iobuf_task_for_pidfd(own, pidfd);
	assert_non_null(theirs);
	buf = iobuf_in_task_with_options(theirs, 0, 8192, 0);
	assert_non_null(buf);
	memset(iobuf_get_bytes_no_copy(buf), 7, 8192);
	usage = usage_of(theirs);
	assert_int_equal(usage.buffers, 1);
	assert_int_equal(usage.bytes, 8192);
	assert_int_equal(usage_of(own).buffers, 0);

	/*
	 * The task exits: nothing more is granted, but the buffer stays charged
	 * to it while this process maps it, and goes with the mapping.
	 */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_refused(iobuf_in_task_with_options(theirs, 0, 4096, 0), ESRCH, "has exited");
	usage = usage_of(theirs);
	assert_int_equal(usage.buffers, 1);
	assert_int_equal(usage.total_bytes, 8192);
	assert_int_equal(((unsigned char *)iobuf_get_bytes_no_copy(buf))[8191], 7);
	iobuf_release(buf);
	wait_total_buffers(own, 0);
	iobuf_task_unref(theirs);
	iobuf_task_unref(own);
	close(pidfd);
}

/*
 * In a child running as nobody, charging a root task (our parent) is
 * refused; run without root, the task is pid 1.
 */
static void test_other_uid_is_refused(void **state)
{
	const struct test_daemon *d = *state;
	char message[128];
	pid_t child;
	int status;

	snprintf(message, sizeof(message), "uid %d may not charge pid %d (uid 0): only the same "
		 "uid, root and iobufd-admin may", NOBODY, (int)getpid());
	assert_int_equal(chmod(d->dir, 0755), 0); /* so that nobody reaches the socket */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t target = getuid() == 0 ? getppid() : 1;
		int pidfd = (int)syscall(SYS_pidfd_open, target, 0);
		struct iobuf_task *task;

		if (getuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) ||
				      setresuid(NOBODY, NOBODY, NOBODY)))
			_exit(10);
		task = iobuf_task_for_pidfd(NULL, pidfd);
		if (task || errno != EPERM)
			_exit(11);
		if (getuid() == NOBODY && !strstr(iobuf_last_error(), message))
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bad_pidfds(void **state)
{
	const struct test_daemon *d = *state;
	struct iobuf_task *own = iobuf_task_connect(d->socket);
	int not_pidfd = memfd_create("x", MFD_CLOEXEC);
	pid_t child;
	int pidfd = exited_child_pidfd(&child);

	waitpid(child, NULL, 0);
	assert_refused(iobuf_task_for_pidfd(own, not_pidfd), EBADF, "takes a pidfd");
	assert_refused(iobuf_task_for_pidfd(own, pidfd), ESRCH, "has exited");
	assert_refused(iobuf_task_for_pidfd(own, -1), EBADF, "no pidfd");
	/* The refused connections go. */
	for (int tries = 0; tries < 200 && usage_of(own).clients != 1; tries++)
		usleep(10000);
	assert_int_equal(usage_of(own).clients, 1);
	close(not_pidfd);
	close(pidfd);
	iobuf_task_unref(own);
}

/* A task that has exited but is not reaped yet (a zombie) is no task to charge. */
static void test_zombie_is_refused(void **state)
{
	const struct test_daemon *d = *state;
	struct iobuf_task *own = iobuf_task_connect(d->socket);
	pid_t child;
	int pidfd = exited_child_pidfd(&child);

	assert_int_equal(waitid(P_PID, (id_t)child, NULL, WEXITED | WNOWAIT), 0);
	assert_refused(iobuf_task_for_pidfd(own, pidfd), ESRCH, "has exited");
	assert_int_equal(usage_of(own).buffers, 0);
	waitpid(child, NULL, 0);
	close(pidfd);
	iobuf_task_unref(own);
}

/* On the wire: a connection that holds buffers cannot change whom it charges. */
static void test_charge_after_allocating_is_refused(void **state)
{
	const struct test_daemon *d = *state;
	struct wire_message msg = { .header.opcode = WIRE_ALLOCATE,
				    .allocate = { .capacity = 4096 } };
	struct wire_message reply;
	const char *reason;
	int sock = raw_connect(d->socket), fd, pidfd = test_pidfd_open(getpid());

	raw_hello(sock);
	assert_int_equal(raw_call(sock, &msg, &reply, &fd), 0);
	assert_int_equal(reply.header.opcode, WIRE_ALLOCATE_REPLY);
	close(fd);
	msg = (struct wire_message){ .header = { .opcode = WIRE_CHARGE_TO, .request_id = 9 } };
	assert_int_equal(wire_send(sock, &msg, pidfd, 0), 0);
	assert_int_equal(wire_recv(sock, &reply, &fd, 0, &reason), 0);
	assert_int_equal(reply.header.opcode, WIRE_ERROR);
	assert_int_equal(reply.error.error, EBUSY);
	assert_non_null(strstr(reply.error.message, "holds buffers"));
	close(pidfd);
	close(sock);
}

#define ADMIN_GID 4242

static int admin_group_start(void **state)
{
	test_admin_group_begin(ADMIN_GID);
	return group_daemon_start(state);
}

static int admin_group_stop(void **state)
{
	int r = group_daemon_stop(state);

	test_admin_group_end();
	return r;
}

/* As nobody, with the admin group as its gid or among its groups, or without it. */
static int charge_root_as_nobody(gid_t gid, const gid_t *groups, size_t count)
{
	pid_t child = fork();
	int status;

	assert_true(child >= 0);
	if (child == 0) {
		int pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
		struct iobuf_task *task;
		struct iobuf *buf;

		if (setgroups(count, groups) < 0 || setresgid(gid, gid, gid) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(10);
		task = iobuf_task_for_pidfd(NULL, pidfd);
		if (!task)
			_exit(errno == EPERM ? 1 : 11);
		buf = iobuf_in_task_with_options(task, 0, 4096, 0);
		if (!buf)
			_exit(12);
		iobuf_release(buf);
		iobuf_task_unref(task);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * A member of iobufd-admin may charge any task, as root may: the socket
 * tells its groups (SO_PEERGROUPS) as the bus does. Without it, EPERM.
 */
static void test_admin_group_charges_any_task(void **state)
{
	const struct test_daemon *d = *state;
	const gid_t admin = ADMIN_GID;

	assert_int_equal(chmod(d->dir, 0755), 0);
	assert_int_equal(charge_root_as_nobody(NOBODY, &admin, 1), 0);
	assert_int_equal(charge_root_as_nobody(ADMIN_GID, NULL, 0), 0);
	assert_int_equal(charge_root_as_nobody(NOBODY, NULL, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_charge_another_task),
		cmocka_unit_test(test_other_uid_is_refused),
		cmocka_unit_test(test_bad_pidfds),
		cmocka_unit_test(test_zombie_is_refused),
		cmocka_unit_test(test_charge_after_allocating_is_refused),
	};

	const struct CMUnitTest admin_tests[] = {
		cmocka_unit_test(test_admin_group_charges_any_task),
	};
	int failed;

	failed = cmocka_run_group_tests_name("charge", tests, group_daemon_start, group_daemon_stop);
	/* Last: the admin group lives in a mount namespace this process keeps. */
	return failed + cmocka_run_group_tests_name("charge by an admin", admin_tests,
						    admin_group_start, admin_group_stop);
}
