/* SPDX-License-Identifier: MIT */
/* Tasks: the own task, explicit connections, fork, threads, other processes. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define THREADS 64

static void assert_child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_task_self_is_shared(void **state)
{
	struct iobuf_task *task = iobuf_task_self();

	assert_non_null(task);
	assert_ptr_equal(iobuf_task_self(), task);
}

static void test_connect_charges_its_own_task(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *self = iobuf_task_self();
	struct iobuf_usage before = usage_of(self);
	struct iobuf_task *mine = iobuf_task_connect(d->socket);
	struct iobuf *buf;

	assert_non_null(mine);
	buf = iobuf_in_task_with_options(mine, 0, 4096, 0);
	assert_non_null(buf);
	assert_int_equal(usage_of(mine).buffers, 1);
	assert_int_equal(usage_of(mine).bytes, 4096);
	assert_int_equal(usage_of(self).buffers, before.buffers);
	assert_int_equal(usage_of(self).total_buffers, before.total_buffers + 1);
	assert_int_equal(usage_of(self).clients, before.clients + 1);

	/* The buffer keeps its task alive past the caller's reference. */
	iobuf_task_unref(mine);
	memset(iobuf_get_bytes_no_copy(buf), 3, 4096);
	iobuf_release(buf);
	wait_total_buffers(self, before.total_buffers);
	/* The release does not wait: the hang-up that follows its free may come a little later. */
	for (int tries = 0; tries < 500 && usage_of(self).clients != before.clients; tries++)
		usleep(10000);
	assert_int_equal(usage_of(self).clients, before.clients);
}

static void test_release_returns_counters_to_zero(void **state)
{
	struct iobuf_task *task = iobuf_task_self();
	struct iobuf *bufs[16];

	assert_int_equal(usage_of(task).total_buffers, 0);
	for (size_t i = 0; i < 16; i++) {
		bufs[i] = iobuf_with_options(i % 2 ? IOBUF_PAGEABLE : 0, 4096 * (i + 1), 0);
		assert_non_null(bufs[i]);
	}
	assert_int_equal(usage_of(task).buffers, 16);
	assert_int_equal(usage_of(task).bytes, 4096 * 136);
	for (size_t i = 0; i < 16; i++)
		iobuf_release(bufs[i]);
	assert_int_equal(usage_of(task).buffers, 0);
	assert_int_equal(usage_of(task).bytes, 0);
	assert_int_equal(usage_of(task).total_bytes, 0);
}

static void test_killed_client_leaves_no_accounting(void **state)
{
	struct iobuf_task *task = iobuf_task_self();
	struct iobuf_usage usage;
	int ready[2];
	char byte;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < 8; i++)
			if (!iobuf_with_options(0, 1 << 20, 0))
				_exit(1);
		(void)!write(ready[1], "r", 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &byte, 1) != 1)
		kill(pid, SIGKILL);
	close(ready[0]);
	usage = usage_of(task);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(usage.total_buffers, 8);
	assert_int_equal(usage.total_bytes, 8 << 20);

	wait_total_buffers(task, 0);
	assert_int_equal(usage_of(task).total_bytes, 0);
}

static void test_forked_child_reconnects(void **state)
{
	struct iobuf_task *parent_task = iobuf_task_self();
	struct iobuf *inherited = iobuf_with_options(0, 4096, 0);
	struct iobuf_usage usage;
	pid_t pid;

	memcpy(iobuf_get_bytes_no_copy(inherited), "parent", 7);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct iobuf_task *child_task = iobuf_task_self();
		struct iobuf *own;

		/* The parent's connection is not the child's to use. */
		if (iobuf_task_get_usage(parent_task, &usage) != -ECHILD)
			_exit(1);
		if (!child_task || child_task == parent_task)
			_exit(2);
		own = iobuf_with_options(0, 4096, 0);
		if (!own || iobuf_task_get_usage(child_task, &usage) < 0 || usage.buffers != 1)
			_exit(3);
		/* The mapping is shared with the parent. */
		if (strcmp(iobuf_get_bytes_no_copy(inherited), "parent") != 0)
			_exit(4);
		strcpy(iobuf_get_bytes_no_copy(inherited), "child");
		/* Dropping the inherited copy must not free the parent's buffer. */
		iobuf_release(inherited);
		iobuf_release(own);
		_exit(0);
	}
	assert_child_ok(pid);
	assert_string_equal(iobuf_get_bytes_no_copy(inherited), "child");
	usage = usage_of(parent_task);
	assert_int_equal(usage.buffers, 1);
	assert_int_equal(usage.total_buffers, 1);
	iobuf_release(inherited);
}

static void test_fd_passed_to_another_process(void **state)
{
	struct iobuf *buf = iobuf_with_options(IOBUF_DIRECTION_OUT, 1 << 16, 0);
	struct wire_message msg = { .header = { WIRE_HELLO, 0, 0 }, .hello.version = 1 };
	uint8_t *p = iobuf_get_bytes_no_copy(buf);
	int pair[2];
	pid_t pid;

	for (size_t i = 0; i < 1 << 16; i++)
		p[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct wire_message got;
		const char *reason;
		uint8_t *q;
		int fd;

		close(pair[0]);
		if (wire_recv(pair[1], &got, &fd, 0, &reason) < 0 || fd < 0)
			_exit(1);
		q = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (q == MAP_FAILED)
			_exit(2);
		for (size_t i = 0; i < 1 << 16; i++)
			if (q[i] != (uint8_t)(i ^ 0x5a))
				_exit(3);
		memcpy(q, "from the child", 15);
		/* Only drops the child's copy: the parent owns the buffer. */
		iobuf_release(buf);
		_exit(0);
	}
	close(pair[1]);
	assert_int_equal(wire_send(pair[0], &msg, iobuf_get_fd(buf), 0), 0);
	close(pair[0]);
	assert_child_ok(pid);
	assert_string_equal((char *)p, "from the child");
	iobuf_release(buf);
}

struct worker {
	pthread_barrier_t *start;
	struct iobuf *buf;
	size_t index;
};

static void *allocate_and_fill(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->start);
	w->buf = iobuf_with_options(w->index % 3 ? 0 : IOBUF_PAGEABLE, 4096 * (1 + w->index % 4),
				    4096);
	if (w->buf)
		memset(iobuf_get_bytes_no_copy(w->buf), (int)w->index,
		       iobuf_get_capacity(w->buf));
	return NULL;
}

static void test_threads_get_distinct_buffers(void **state)
{
	struct iobuf_task *task = iobuf_task_self();
	struct worker workers[THREADS];
	pthread_t threads[THREADS];
	pthread_barrier_t start;
	uint64_t bytes = 0;

	pthread_barrier_init(&start, NULL, THREADS);
	for (size_t i = 0; i < THREADS; i++) {
		workers[i] = (struct worker){ .start = &start, .index = i };
		assert_int_equal(pthread_create(&threads[i], NULL, allocate_and_fill, &workers[i]),
				 0);
	}
	for (size_t i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&start);

	for (size_t i = 0; i < THREADS; i++) {
		const uint8_t *p;

		assert_non_null(workers[i].buf);
		assert_int_equal(iobuf_get_capacity(workers[i].buf), 4096 * (1 + i % 4));
		p = iobuf_get_bytes_no_copy(workers[i].buf);
		for (size_t b = 0; b < iobuf_get_capacity(workers[i].buf); b++)
			assert_int_equal(p[b], (uint8_t)i);
		for (size_t j = 0; j < i; j++) {
			assert_true(iobuf_get_id(workers[i].buf) != iobuf_get_id(workers[j].buf));
			assert_true(iobuf_get_bytes_no_copy(workers[i].buf) !=
				    iobuf_get_bytes_no_copy(workers[j].buf));
		}
		bytes += iobuf_get_capacity(workers[i].buf);
	}
	assert_int_equal(usage_of(task).buffers, THREADS);
	assert_int_equal(usage_of(task).bytes, bytes);
	for (size_t i = 0; i < THREADS; i++)
		iobuf_release(workers[i].buf);
	assert_int_equal(usage_of(task).buffers, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_self_is_shared),
		cmocka_unit_test(test_connect_charges_its_own_task),
		cmocka_unit_test(test_release_returns_counters_to_zero),
		cmocka_unit_test(test_killed_client_leaves_no_accounting),
		cmocka_unit_test(test_forked_child_reconnects),
		cmocka_unit_test(test_fd_passed_to_another_process),
		cmocka_unit_test(test_threads_get_distinct_buffers),
	};

	return cmocka_run_group_tests(tests, group_daemon_start, group_daemon_stop);
}
