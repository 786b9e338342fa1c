/* SPDX-License-Identifier: MIT */
/*
 * A connection that charges another task keeps doing so across a restart:
 * the task's pidfd is stored as "charge;client=N;pid=P;uid=U", and the
 * next iobufd watches that task as the previous one did. Not run under
 * valgrind, which (3.19) knows no pidfd_open; the daemon is.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"
#include "service-manager.h"

/* A connection charging child, holding one 8 KiB buffer, with all of it stored. */
static struct iobuf_task *charged_task(struct service_manager *m, pid_t child,
				       struct iobuf **buf)
{
	int pidfd = test_pidfd_open(child);
	struct iobuf_task *task = iobuf_task_for_pidfd(NULL, pidfd);

	close(pidfd);
	assert_non_null(task);
	*buf = iobuf_in_task_with_options(task, 0, 8192, 0);
	assert_non_null(*buf);
	manager_wait_stored(m, "buf;", 1, 5000);
	manager_wait_stored(m, "charge;", 1, 5000);
	return task;
}

/*
 * The charged task has exited: the daemon refuses more; the buffer stays
 * charged while this process maps it, and leaves charge and store with
 * the mapping. Charge and connection leave the store as the task hangs up.
 */
static void assert_released(struct service_manager *m, struct iobuf_task *task,
			    struct iobuf *buf)
{
	struct iobuf *more;

	/* The daemon sees the exit when the task's pidfd says so. */
	for (int tries = 0; tries < 500; tries++) {
		more = iobuf_in_task_with_options(task, 0, 4096, 0);
		if (!more)
			break;
		iobuf_release(more);
		usleep(10000);
	}
	assert_refused(more, ESRCH, "has exited");
	assert_int_equal(usage_of(task).buffers, 1);
	assert_int_equal(manager_count_stored(m, "buf;"), 1);
	iobuf_release(buf);
	for (int tries = 0; tries < 500 && usage_of(task).buffers; tries++)
		usleep(10000);
	assert_int_equal(usage_of(task).buffers, 0);
	manager_wait_stored(m, "buf;", 0, 5000);
	iobuf_task_unref(task);
	manager_wait_stored(m, "charge;", 0, 5000);
	manager_wait_stored(m, "conn;", 0, 5000);
}

static void kill_child(pid_t child)
{
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, NULL, 0), child);
}

static void test_charge_survives_a_restart(void **state)
{
	struct service_manager *m = *state;
	pid_t child = idle_child();
	struct iobuf_usage before, after;
	struct iobuf_task *task;
	char expected[128];
	struct iobuf *buf;

	setenv("IOBUFD_SOCKET", m->socket_path, 1);
	task = charged_task(m, child, &buf);
	snprintf(expected, sizeof(expected), ";pid=%d;uid=%u", (int)child, (unsigned)getuid());
	for (size_t i = 0; i < m->stored; i++)
		if (strncmp(m->store[i].name, "charge;", 7) == 0)
			assert_non_null(strstr(m->store[i].name, expected));
	before = usage_of(task);

	manager_stop(m);
	manager_start(m, NULL);

	after = usage_of(task);
	assert_int_equal(after.buffers, before.buffers);
	assert_int_equal(after.bytes, before.bytes);
	assert_int_equal(manager_count_stored(m, "charge;"), 1);

	/* The new iobufd watches the task: its exit releases the charge. */
	kill_child(child);
	assert_released(m, task, buf);
}

static void test_task_exiting_while_stopped_is_released(void **state)
{
	struct service_manager *m = *state;
	pid_t child = idle_child();
	struct iobuf_task *task;
	struct iobuf *buf;

	setenv("IOBUFD_SOCKET", m->socket_path, 1);
	task = charged_task(m, child, &buf);
	manager_stop(m);
	kill_child(child);
	manager_start(m, NULL);

	assert_released(m, task, buf);
}

/*
 * The charging connection hangs up while no iobufd runs (its process, which
 * charged this one, dies): the charge is dropped from the store.
 */
/* In a child: a connection charging its parent, the test. */
static struct iobuf_task *charge_parent(const char *socket_path)
{
	struct iobuf_task *via = iobuf_task_connect(socket_path);
	int pidfd = test_pidfd_open(getppid());

	return via ? iobuf_task_for_pidfd(via, pidfd) : NULL;
}

/*
 * The charging connection hangs up while no iobufd runs (its process dies):
 * the charge is dropped from the store.
 */
static void test_charge_of_a_gone_connection_is_dropped(void **state)
{
	struct service_manager *m = *state;
	pid_t child = spawn_holder(charge_parent, m->socket_path, 0, 8192);

	manager_wait_stored(m, "buf;", 1, 5000);
	manager_wait_stored(m, "charge;", 1, 5000);
	manager_stop(m);
	kill_child(child);
	manager_start(m, NULL);

	manager_wait_stored(m, "charge;", 0, 5000);
	manager_wait_stored(m, "buf;", 0, 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_charge_survives_a_restart),
		cmocka_unit_test(test_task_exiting_while_stopped_is_released),
		cmocka_unit_test(test_charge_of_a_gone_connection_is_dropped),
	};

	return cmocka_run_group_tests_name("restart-charge", tests, manager_fixture_setup,
					   manager_fixture_teardown);
}
