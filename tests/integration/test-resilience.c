/* SPDX-License-Identifier: MIT */
/*
 * The library against a daemon that died or stopped: tasks reconnect after
 * a crash, buffers held across it stay usable and are released without a
 * word to the new daemon, and every wait on a stopped daemon times out.
 *
 * Usage: test-resilience [pidfd]  (pidfd: only the tests that make pidfds,
 * which valgrind 3.19 cannot run). The program also runs itself as a child
 * that reads $IOBUF_TIMEOUT_MS afresh: test-resilience child MODE SOCKET.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define SHORT_TIMEOUT_MS 300
#define DEFAULT_TIMEOUT_MS 5000
/* How much later than its timeout a call may return (valgrind on a busy machine is slow). */
#define SLACK_MS 3000
/* For a call that must outlast a daemon's restart. */
#define LONG_TIMEOUT_MS 60000

static const char *self_path;

static long ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Asserts that a call started at start failed after timeout_ms, give or take SLACK_MS. */
static void assert_took(const struct timespec *start, long timeout_ms)
{
	long took = ms_since(start);

	if (took < timeout_ms || took >= timeout_ms + SLACK_MS)
		fail_msg("the call took %ld ms with a timeout of %ld ms", took, timeout_ms);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void assert_message(const char *needle)
{
	if (!strstr(iobuf_last_error(), needle))
		fail_msg("message \"%s\" lacks \"%s\"", iobuf_last_error(), needle);
}

/* A buffer in task, every byte fill. */
static struct iobuf *filled(struct iobuf_task *task, size_t size, unsigned char fill)
{
	struct iobuf *buf = iobuf_in_task_with_options(task, 0, size, 0);

	assert_non_null(buf);
	memset(iobuf_get_bytes_no_copy(buf), fill, size);
	return buf;
}

/* Whether a fresh mapping of the buffer's fd holds fill at both ends. */
static bool fd_holds(struct iobuf *buf, unsigned char fill)
{
	size_t size = iobuf_get_capacity(buf);
	unsigned char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, iobuf_get_fd(buf), 0);
	bool same;

	assert_true(p != MAP_FAILED);
	same = p[0] == fill && p[size - 1] == fill;
	munmap(p, size);
	return same;
}

/* Waits until the daemon counts clients connections (it sees them go asynchronously). */
static void wait_clients(struct iobuf_task *task, uint32_t clients)
{
	for (int waited = 0; waited < 10000 && usage_of(task).clients != clients; waited += 10)
		sleep_ms(10);
	assert_int_equal(usage_of(task).clients, clients);
}

/* What a daemon that crashed leaves: a new one on the same socket knows nothing. */
static void crash_and_restart(struct test_daemon *d)
{
	test_daemon_kill(d);
	test_daemon_restart(d);
}

static void test_own_task_survives_a_crash(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task;
	struct iobuf *old, *other, *fresh;
	enum iobuf_purgeable_state was;
	struct iobuf_usage usage;

	/* A fresh daemon numbers from 1: the old buffer's id is reused below. */
	crash_and_restart(d);
	task = iobuf_task_self();
	assert_non_null(task);
	old = filled(task, 8192, 0x5a);
	other = purgeable_filled(task, 4096, 0x33);
	assert_int_equal(usage_of(task).buffers, 2);

	/* No daemon: the call tries once to reconnect and says where it tried. */
	test_daemon_kill(d);
	assert_refused(iobuf_with_options(0, 4096, 0), ECONNREFUSED, d->socket);
	assert_message("cannot connect to iobufd");

	test_daemon_restart(d);
	fresh = filled(NULL, 4096, 0x11);
	assert_ptr_equal(iobuf_task_self(), task);
	assert_int_equal(iobuf_get_id(fresh), iobuf_get_id(old));
	usage = usage_of(task);
	assert_int_equal(usage.buffers, 1);
	assert_int_equal(usage.bytes, 4096);
	assert_int_equal(usage.total_buffers, 1);

	/* The old buffers are still the task's own memory. */
	assert_true(holds(old, 0x5a));
	assert_true(fd_holds(old, 0x5a));
	memset(iobuf_get_bytes_no_copy(old), 0xa5, 8192);
	assert_true(fd_holds(old, 0xa5));
	assert_true(holds(other, 0x33));

	/* Releasing one sends no free: the new buffer with the same id lives on. */
	iobuf_release(old);
	assert_string_equal(iobuf_last_error(), "");
	assert_int_equal(usage_of(task).buffers, 1);
	assert_int_equal(iobuf_set_purgeable(other, IOBUF_PURGEABLE_VOLATILE, &was), -ESTALE);
	assert_message("no longer knows it");
	iobuf_release(other);
	usage = usage_of(task);
	assert_int_equal(usage.buffers, 1);
	assert_true(holds(fresh, 0x11));
	iobuf_release(fresh);
	assert_int_equal(usage_of(task).buffers, 0);
}

/* Tasks of iobuf_task_connect() reconnect too, to their own path. */
static void test_connected_task_reconnects(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = iobuf_task_connect(d->socket);
	struct iobuf *old, *fresh;
	struct iobuf_match match;

	assert_non_null(task);
	old = filled(task, 4096, 0x77);
	crash_and_restart(d);

	assert_int_equal(iobuf_task_query(task, 0, 4096, 0, &match), 0);
	assert_string_equal(match.heap, "memfd");
	fresh = filled(task, 8192, 0x88);
	assert_int_equal(usage_of(task).buffers, 1);
	assert_int_equal(usage_of(task).bytes, 8192);
	assert_true(holds(old, 0x77));
	iobuf_release(old);
	assert_int_equal(usage_of(task).buffers, 1);
	iobuf_release(fresh);
	assert_int_equal(usage_of(task).buffers, 0);
	iobuf_task_unref(task);
}

/* A call on another thread, and what it got. */
struct pending {
	struct iobuf_task *task;
	struct iobuf *target; /* NULL: allocate; else set it volatile */
	atomic_int tid;
	struct iobuf *made;
	int r;
	char message[600];
};

static void *run_pending(void *arg)
{
	struct pending *p = arg;

	atomic_store(&p->tid, (int)syscall(SYS_gettid));
	if (p->target) {
		p->r = iobuf_set_purgeable(p->target, IOBUF_PURGEABLE_VOLATILE, NULL);
	} else {
		p->made = iobuf_in_task_with_options(p->task, 0, 4096, 0);
		p->r = p->made ? 0 : -errno;
	}
	snprintf(p->message, sizeof(p->message), "%s", iobuf_last_error());
	return NULL;
}

/* Whether thread tid of this process waits in poll(): for a reply, here; *line gets what it does. */
static bool in_poll(int tid, char *line, size_t size)
{
	char path[64];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(line, (int)size, f) || sscanf(line, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
#ifdef SYS_poll
	if (nr == SYS_poll)
		return true;
#endif
	/* A poll() with a timeout that was interrupted continues as restart_syscall. */
	return nr == SYS_ppoll || nr == SYS_restart_syscall;
}

/* Waits until p's thread waits in poll(), for its reply on a connected task. */
static void wait_in_poll(struct pending *p)
{
	char line[256] = "";

	for (int waited = 0; waited < 10000; waited++) {
		if (atomic_load(&p->tid) && in_poll(atomic_load(&p->tid), line, sizeof(line)))
			return;
		sleep_ms(1);
	}
	fail_msg("the call never waited for its reply: thread %d, syscall %s",
		 atomic_load(&p->tid), line);
}

/*
 * Runs p's call while the daemon is stopped; once the request waits for its
 * reply, a new daemon takes the socket and the stopped one dies with the
 * request unanswered. Joins the thread.
 */
static void die_with_call_in_flight(struct test_daemon *d, struct pending *p)
{
	struct test_daemon stopped;
	pthread_t thread;

	/* The task is connected: its only poll() is the wait for the reply. */
	usage_of(p->task);
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	assert_int_equal(pthread_create(&thread, NULL, run_pending, p), 0);
	wait_in_poll(p);
	stopped = *d;
	assert_int_equal(unlink(d->socket), 0);
	test_daemon_restart(d);
	test_daemon_kill(&stopped);
	assert_int_equal(pthread_join(thread, NULL), 0);
}

/*
 * An allocate whose daemon died before answering is sent again on a new
 * connection (the dead daemon's buffer is gone with it); a request about a
 * buffer is not: it fails and names what was lost.
 */
static void test_request_in_flight_when_the_daemon_dies(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = iobuf_task_connect(d->socket);
	struct pending allocate = { .task = task };
	struct pending purgeable = { .task = task };
	struct iobuf *buf;

	assert_non_null(task);
	assert_int_equal(iobuf_task_set_timeout(task, LONG_TIMEOUT_MS), 0);
	die_with_call_in_flight(d, &allocate);
	if (!allocate.made)
		fail_msg("the allocate was not sent again: %s", allocate.message);
	assert_int_equal(usage_of(task).buffers, 1);
	assert_int_equal(usage_of(task).total_buffers, 1);

	buf = purgeable_filled(task, 4096, 0x42);
	purgeable.target = buf;
	die_with_call_in_flight(d, &purgeable);
	assert_int_equal(purgeable.r, -ECONNRESET);
	if (!strstr(purgeable.message, "lost before it answered set-purgeable") ||
	    !strstr(purgeable.message, d->socket))
		fail_msg("unclear message: %s", purgeable.message);
	assert_int_equal(usage_of(task).buffers, 0);
	assert_true(holds(buf, 0x42));
	iobuf_release(buf);
	iobuf_release(allocate.made);
	assert_int_equal(usage_of(task).buffers, 0);
	iobuf_task_unref(task);
}

/* A stopped daemon: calls time out, and the task works again once it runs. */
static void test_stopped_daemon_times_out(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = iobuf_task_self();
	struct timespec start;
	char expected[256];

	assert_non_null(task);
	assert_int_equal(iobuf_task_set_timeout(task, SHORT_TIMEOUT_MS), 0);
	usage_of(task);
	assert_int_equal(kill(d->pid, SIGSTOP), 0);

	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_refused(iobuf_with_options(0, 4096, 0), ETIMEDOUT, d->socket);
	assert_took(&start, SHORT_TIMEOUT_MS);
	assert_message("did not answer allocate within 300 ms");

	/* The connection stays: the next call on it times out too. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	snprintf(expected, sizeof(expected), "iobufd at %s did not answer stats within 300 ms",
		 d->socket);
	assert_refused_r(iobuf_task_get_usage(task, &(struct iobuf_usage){ 0 }), ETIMEDOUT,
			 expected);
	assert_took(&start, SHORT_TIMEOUT_MS);

	assert_int_equal(kill(d->pid, SIGCONT), 0);
	/* What the allocate that timed out made is freed once its reply comes. */
	wait_total_buffers(task, 0);
	wait_clients(task, 1);
	iobuf_release(filled(NULL, 4096, 1));
	assert_int_equal(iobuf_task_set_timeout(task, DEFAULT_TIMEOUT_MS), 0);
}

/*
 * Two threads on one task: each waits for its own reply no longer than its
 * own timeout, and the other's call goes on.
 */
static void test_each_thread_waits_its_own_timeout(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = iobuf_task_connect(d->socket);
	struct pending slow = { .task = task };
	struct timespec start;
	struct iobuf_usage usage;
	pthread_t thread;

	assert_non_null(task);
	assert_int_equal(iobuf_task_set_timeout(task, LONG_TIMEOUT_MS), 0);
	usage_of(task);
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	assert_int_equal(pthread_create(&thread, NULL, run_pending, &slow), 0);
	wait_in_poll(&slow);

	assert_int_equal(iobuf_task_set_timeout(task, SHORT_TIMEOUT_MS), 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_refused_r(iobuf_task_get_usage(task, &usage), ETIMEDOUT, d->socket);
	assert_took(&start, SHORT_TIMEOUT_MS);
	assert_message("did not answer stats within 300 ms");

	/* The slow call, with its own timeout, gets its answer. */
	assert_int_equal(kill(d->pid, SIGCONT), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	if (!slow.made)
		fail_msg("the slow call failed: %s", slow.message);
	assert_int_equal(usage_of(task).buffers, 1);
	iobuf_release(slow.made);
	assert_int_equal(usage_of(task).buffers, 0);
	iobuf_task_unref(task);
}

/* Runs this program as a child in mode, with $IOBUF_TIMEOUT_MS set to timeout (NULL: unset). */
static pid_t spawn_child(const char *mode, const char *socket, const char *timeout)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (timeout)
			setenv("IOBUF_TIMEOUT_MS", timeout, 1);
		else
			unsetenv("IOBUF_TIMEOUT_MS");
		execl(self_path, self_path, "child", mode, socket, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int child_status(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* $IOBUF_TIMEOUT_MS sets the timeout of the own task and of new connections. */
static void test_timeout_from_the_environment(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = iobuf_task_self();
	pid_t child;

	assert_non_null(task);
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	assert_int_equal(child_status(spawn_child("times-out", d->socket, "300")), 0);

	/* 0 waits for as long as the daemon takes. */
	child = spawn_child("waits", d->socket, "0");
	sleep_ms(1000);
	assert_int_equal(waitpid(child, NULL, WNOHANG), 0);
	assert_int_equal(kill(d->pid, SIGCONT), 0);
	assert_int_equal(child_status(child), 0);
	wait_total_buffers(task, 0);
}

/* Without $IOBUF_TIMEOUT_MS a call waits 5 seconds. */
static void test_default_timeout(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *task = iobuf_task_self();

	assert_non_null(task);
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	assert_int_equal(child_status(spawn_child("times-out-default", d->socket, NULL)), 0);
	assert_int_equal(kill(d->pid, SIGCONT), 0);
	wait_total_buffers(task, 0);
}

/* A socket whose listener never accepts and whose queue is full: connect times out. */
static void test_connect_to_a_full_queue_times_out(void **state)
{
	struct test_daemon *d = *state;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int listener, queued;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/full.sock", d->dir);
	listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(listener >= 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(listener, 0), 0);
	queued = raw_connect(addr.sun_path); /* a backlog of 0 holds one */
	assert_true(queued >= 0);

	assert_int_equal(child_status(spawn_child("connect-times-out", addr.sun_path, "300")), 0);
	close(queued);
	close(listener);
	assert_int_equal(unlink(addr.sun_path), 0);
}

/*
 * A task charging another through its pidfd charges it again on a new
 * connection (with its own copy of the pidfd), and fails rather than
 * allocate uncharged once that task has exited.
 */
static void test_pidfd_task_charges_again(void **state)
{
	struct test_daemon *d = *state;
	struct iobuf_task *own = iobuf_task_connect(d->socket), *theirs;
	pid_t child = idle_child();
	int pidfd = test_pidfd_open(child);
	struct iobuf *old, *fresh;

	assert_non_null(own);
	theirs = iobuf_task_for_pidfd(own, pidfd);
	assert_non_null(theirs);
	close(pidfd);
	old = filled(theirs, 4096, 9);
	crash_and_restart(d);

	fresh = filled(theirs, 8192, 10);
	assert_int_equal(usage_of(theirs).buffers, 1);
	assert_int_equal(usage_of(theirs).bytes, 8192);
	assert_int_equal(usage_of(own).buffers, 0);
	assert_true(holds(old, 9));
	iobuf_release(old);
	assert_int_equal(usage_of(theirs).buffers, 1);

	/*
	 * The daemon knows whom it charges: after that task's exit it gets no
	 * more, and what this process still maps stays charged to it.
	 */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	for (int tries = 0; tries < 200; tries++) {
		struct iobuf *more = iobuf_in_task_with_options(theirs, 0, 4096, 0);

		if (!more)
			break;
		iobuf_release(more);
		sleep_ms(10);
	}
	assert_refused(iobuf_in_task_with_options(theirs, 0, 4096, 0), ESRCH, "has exited");
	assert_int_equal(usage_of(theirs).buffers, 1);

	/* A new connection cannot charge it: no buffer rather than an uncharged one. */
	crash_and_restart(d);
	assert_refused(iobuf_in_task_with_options(theirs, 0, 4096, 0), ESRCH, "has exited");
	wait_clients(own, 1);
	assert_true(holds(fresh, 10));
	iobuf_release(fresh);
	iobuf_task_unref(theirs);
	iobuf_task_unref(own);
}

/* After each test: a daemon a failed test left stopped runs again for the next. */
static int resume_daemon(void **state)
{
	struct test_daemon *d = *state;

	kill(d->pid, SIGCONT);
	return 0;
}

/* The child's side: what its $IOBUF_TIMEOUT_MS must do. Exit status 0 when it did. */
static int child_main(const char *mode, const char *socket)
{
	struct timespec start;
	struct iobuf_task *task;
	long took, expected = DEFAULT_TIMEOUT_MS;
	const char *message = "did not answer hello within";

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (strcmp(mode, "waits") == 0) {
		task = iobuf_task_self();
		if (!task || iobuf_task_get_usage(task, &(struct iobuf_usage){ 0 }) < 0) {
			fprintf(stderr, "child: %s\n", iobuf_last_error());
			return 1;
		}
		return 0;
	}
	if (strcmp(mode, "connect-times-out") == 0) {
		task = iobuf_task_connect(socket);
		message = "did not take the connection within 300 ms";
		expected = SHORT_TIMEOUT_MS;
	} else {
		task = iobuf_task_self();
		if (strcmp(mode, "times-out") == 0) {
			message = "did not answer hello within 300 ms";
			expected = SHORT_TIMEOUT_MS;
		}
	}
	took = ms_since(&start);
	if (task || errno != ETIMEDOUT || !strstr(iobuf_last_error(), message) ||
	    !strstr(iobuf_last_error(), socket) || took < expected ||
	    took >= expected + SLACK_MS) {
		fprintf(stderr, "child %s: task %p, errno %d, %ld ms, \"%s\"\n", mode,
			(void *)task, errno, took, iobuf_last_error());
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_own_task_survives_a_crash, resume_daemon),
		cmocka_unit_test_teardown(test_connected_task_reconnects, resume_daemon),
		cmocka_unit_test_teardown(test_request_in_flight_when_the_daemon_dies, resume_daemon),
		cmocka_unit_test_teardown(test_stopped_daemon_times_out, resume_daemon),
		cmocka_unit_test_teardown(test_each_thread_waits_its_own_timeout, resume_daemon),
		cmocka_unit_test_teardown(test_timeout_from_the_environment, resume_daemon),
		cmocka_unit_test_teardown(test_default_timeout, resume_daemon),
		cmocka_unit_test_teardown(test_connect_to_a_full_queue_times_out, resume_daemon),
	};
	const struct CMUnitTest pidfd_tests[] = {
		cmocka_unit_test_teardown(test_pidfd_task_charges_again, resume_daemon),
	};

	self_path = argv[0];
	if (argc == 4 && strcmp(argv[1], "child") == 0)
		return child_main(argv[2], argv[3]);
	if (argc == 2 && strcmp(argv[1], "pidfd") == 0)
		return cmocka_run_group_tests_name("resilience-pidfd", pidfd_tests,
						   group_daemon_start, group_daemon_stop);
	return cmocka_run_group_tests_name("resilience", tests, group_daemon_start,
					   group_daemon_stop);
}
