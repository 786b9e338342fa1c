/* SPDX-License-Identifier: MIT */
/*
 * Requests in flight: a release that does not wait for the daemon, many
 * requests on one task at once (from threads, and from an event loop of
 * the program's own through iobuf_task_get_fd() and iobuf_task_dispatch()),
 * and iobuf_task_flush(). The daemon is stopped (SIGSTOP) where a test must
 * show that a call does not wait for it: the call returns while it cannot
 * answer, which no timing decides.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

#define IN_FLIGHT 16

static struct iobuf_task *forever_task(const struct test_daemon *d)
{
	struct iobuf_task *task = iobuf_task_connect(d->socket);

	assert_non_null(task);
	/* Whatever waits, waits for as long as the daemon is stopped. */
	assert_int_equal(iobuf_task_set_timeout(task, 0), 0);
	return task;
}

/* A release sends its free and returns, though the daemon cannot answer. */
static void test_release_does_not_wait(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = forever_task(d);
	struct iobuf *bufs[IN_FLIGHT];

	for (size_t i = 0; i < IN_FLIGHT; i++) {
		bufs[i] = iobuf_in_task_with_options(task, 0, 4096, 0);
		assert_non_null(bufs[i]);
	}
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	for (size_t i = 0; i < IN_FLIGHT; i++)
		iobuf_release(bufs[i]);
	assert_int_equal(kill(d->pid, SIGCONT), 0);
	/* The frees went in order before this request: its answer counts them all. */
	assert_int_equal(usage_of(task).buffers, 0);
	assert_int_equal(iobuf_task_flush(task), 0);
	iobuf_task_unref(task);
}

struct allocations {
	int calls;
	int failed;
	struct iobuf *bufs[IN_FLIGHT];
};

static void allocated(struct iobuf_task *task, struct iobuf *buf, int error, void *userdata)
{
	struct allocations *a = userdata;

	if (!buf) {
		a->failed++;
		fprintf(stderr, "async allocation failed: %d %s\n", error, iobuf_last_error());
	} else {
		a->bufs[a->calls - a->failed] = buf;
	}
	a->calls++;
}

/* Runs dispatch on poll()'s word until n callbacks ran. */
static void dispatch_until(struct iobuf_task *task, struct allocations *a, int n)
{
	struct pollfd pfd = { .fd = iobuf_task_get_fd(task), .events = POLLIN };

	assert_true(pfd.fd >= 0);
	while (a->calls < n) {
		assert_int_equal(poll(&pfd, 1, 10000), 1);
		assert_true(iobuf_task_dispatch(task) >= 0);
	}
}

/*
 * An event loop's allocations: sent while the daemon is stopped (none
 * waits), answered once it runs, each handed to its callback by dispatch
 * in the loop's thread.
 */
static void test_allocations_from_an_event_loop(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = forever_task(d);
	struct allocations a = { 0 };
	struct pollfd pfd;

	pfd = (struct pollfd){ .fd = iobuf_task_get_fd(task), .events = POLLIN };
	assert_true(pfd.fd >= 0);
	assert_int_equal(iobuf_task_get_fd(task), pfd.fd); /* the same fd every time */
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	for (int i = 0; i < IN_FLIGHT; i++)
		assert_int_equal(iobuf_in_task_async(task, IOBUF_PAGEABLE, 4096, 0, allocated, &a),
				 0);
	assert_int_equal(iobuf_task_dispatch(task), 0); /* nothing has come */
	assert_int_equal(a.calls, 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(kill(d->pid, SIGCONT), 0);

	dispatch_until(task, &a, IN_FLIGHT);
	assert_int_equal(a.failed, 0);
	for (int i = 0; i < IN_FLIGHT; i++) {
		memset(iobuf_get_bytes_no_copy(a.bufs[i]), i, 4096);
		for (int j = 0; j < i; j++)
			assert_true(iobuf_get_id(a.bufs[i]) > iobuf_get_id(a.bufs[j]));
	}
	assert_int_equal(usage_of(task).buffers, IN_FLIGHT);
	for (int i = 0; i < IN_FLIGHT; i++)
		iobuf_release(a.bufs[i]);
	assert_int_equal(usage_of(task).buffers, 0);
	iobuf_task_unref(task);
}

/* A refusal reaches the callback with the daemon's errno and words. */
static void test_async_refusal(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = forever_task(d);
	struct allocations a = { 0 };

	assert_int_equal(iobuf_in_task_async(task, IOBUF_PHYSICALLY_CONTIGUOUS, 4096, 0, allocated,
					     &a), 0);
	dispatch_until(task, &a, 1);
	assert_int_equal(a.failed, 1);
	assert_refused_r(-EOPNOTSUPP, EOPNOTSUPP, "memfd lacks PHYSICALLY_CONTIGUOUS");
	assert_refused_r(iobuf_in_task_async(task, 0, 4096, 0, NULL, NULL), EINVAL, "done");
	iobuf_task_unref(task);
}

struct thread_call {
	struct iobuf_task *task;
	struct iobuf *made;
};

static void *allocate_on(void *arg)
{
	struct thread_call *call = arg;

	call->made = iobuf_in_task_with_options(call->task, 0, 4096, 0);
	return NULL;
}

/*
 * Threads on one task, the daemon stopped while they start: none waits for
 * another's answer to send its own, whoever waits reads for all, and each
 * gets its own buffer.
 */
static void test_threads_share_a_task(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = forever_task(d);
	struct thread_call calls[IN_FLIGHT];
	pthread_t threads[IN_FLIGHT];

	usage_of(task);
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	for (int i = 0; i < IN_FLIGHT; i++) {
		calls[i] = (struct thread_call){ .task = task };
		assert_int_equal(pthread_create(&threads[i], NULL, allocate_on, &calls[i]), 0);
	}
	assert_int_equal(kill(d->pid, SIGCONT), 0);
	for (int i = 0; i < IN_FLIGHT; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_non_null(calls[i].made);
		for (int j = 0; j < i; j++)
			assert_true(iobuf_get_id(calls[i].made) != iobuf_get_id(calls[j].made));
	}
	assert_int_equal(usage_of(task).buffers, IN_FLIGHT);
	for (int i = 0; i < IN_FLIGHT; i++)
		iobuf_release(calls[i].made);
	assert_int_equal(iobuf_task_flush(task), 0);
	assert_int_equal(usage_of(task).buffers, 0);
	iobuf_task_unref(task);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_does_not_wait),
		cmocka_unit_test(test_allocations_from_an_event_loop),
		cmocka_unit_test(test_async_refusal),
		cmocka_unit_test(test_threads_share_a_task),
	};

	return cmocka_run_group_tests(tests, group_daemon_start, group_daemon_stop);
}
