/* SPDX-License-Identifier: MIT */
/*
 * A charge lasts as long as the memory, not until free: a buffer whose fd
 * or mapping lives on anywhere stays charged to its owner, and counted by
 * its limits, until the last of them goes, also after its owner hung up.
 * Raw clients, as a user who read protocol/README.md would write them.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define SIZE (256 * 1024)
#define NOBODY 65534

static struct wire_message request(uint16_t opcode)
{
	static uint32_t next_id = 1;

	return (struct wire_message){ .header = { .opcode = opcode, .request_id = next_id++ } };
}

/* Allocates SIZE bytes on a raw connection; the buffer's fd, its id in *id. */
static int raw_allocate(int sock, uint64_t *id)
{
	struct wire_message msg = request(WIRE_ALLOCATE), reply;
	int fd;

	msg.allocate.capacity = SIZE;
	msg.allocate.options = IOBUF_PAGEABLE;
	assert_int_equal(raw_call(sock, &msg, &reply, &fd), 0);
	if (reply.header.opcode == WIRE_ERROR)
		fail_msg("allocate: %s", reply.error.message);
	*id = reply.allocate_reply.id;
	return fd;
}

/* Frees id; the errno it is refused with, or 0. */
static int raw_free(int sock, uint64_t id)
{
	struct wire_message msg = request(WIRE_FREE), reply;

	msg.free.id = id;
	assert_int_equal(raw_call(sock, &msg, &reply, NULL), 0);
	return reply.header.opcode == WIRE_ERROR ? reply.error.error : 0;
}

static struct wire_stats_reply raw_stats(int sock)
{
	struct wire_message msg = request(WIRE_STATS), reply;

	assert_int_equal(raw_call(sock, &msg, &reply, NULL), 0);
	assert_int_equal(reply.header.opcode, WIRE_STATS_REPLY);
	return reply.stats_reply;
}

static int greeted(const struct test_daemon *d)
{
	int sock = raw_connect(d->socket);

	assert_true(sock >= 0);
	raw_hello(sock);
	return sock;
}

/* Waits for the daemon to charge this many buffers over all clients. */
static void wait_charged(int sock, uint64_t buffers)
{
	for (int tries = 0; tries < 500 && raw_stats(sock).total_buffers != buffers; tries++)
		usleep(10000);
	assert_int_equal(raw_stats(sock).total_buffers, buffers);
}

/* What is freed stays charged, and the daemon looks again: nothing goes early. */
static void assert_still_charged(int sock, uint64_t buffers)
{
	usleep(1500 * 1000);
	assert_int_equal(raw_stats(sock).total_buffers, buffers);
}

/* The fd kept after free: charged until it is closed; the id is gone at once. */
static void test_kept_fd(void **state)
{
	const struct test_daemon *d = *state;
	int sock = greeted(d), fd;
	uint64_t id;

	fd = raw_allocate(sock, &id);
	assert_int_equal(raw_free(sock, id), 0);
	assert_int_equal(raw_free(sock, id), ENOENT);
	assert_int_equal(raw_stats(sock).client_bytes, SIZE);
	assert_still_charged(sock, 1);
	close(fd);
	wait_charged(sock, 0);
	close(sock);
}

/* A mapping alone, its fd closed, keeps the memory and so the charge. */
static void test_kept_mapping(void **state)
{
	const struct test_daemon *d = *state;
	int sock = greeted(d), fd;
	uint64_t id;
	void *map;

	fd = raw_allocate(sock, &id);
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	close(fd);
	assert_int_equal(raw_free(sock, id), 0);
	memset(map, 1, SIZE);
	assert_still_charged(sock, 1);
	munmap(map, SIZE);
	wait_charged(sock, 0);
	close(sock);
}

/*
 * A file opened anew from the fd (/proc/self/fd) would be the same memory
 * under a file the daemon did not hand out: nobody unprivileged may open
 * one, read-only or not, even from an fd of its own.
 */
static void test_no_reopen(void **state)
{
	const struct test_daemon *d = *state;
	int sock = greeted(d), fd, status;
	uint64_t id;
	pid_t child;

	fd = raw_allocate(sock, &id);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char path[64];

		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(10);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (open(path, O_RDONLY) >= 0 || errno != EACCES)
			_exit(11);
		if (open(path, O_RDWR) >= 0 || errno != EACCES)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(fd);
	assert_int_equal(raw_free(sock, id), 0);
	wait_charged(sock, 0);
	close(sock);
}

/*
 * A lease on the client's file (which only a client of the daemon's own uid
 * may take) neither stalls the daemon nor ends the charge.
 */
static void test_leased_fd(void **state)
{
	const struct test_daemon *d = *state;
	int sock = greeted(d), fd;
	uint64_t id;

	signal(SIGIO, SIG_IGN); /* how the kernel asks a lease holder to let go */
	fd = raw_allocate(sock, &id);
	if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0)
		fail_msg("a write lease on the buffer: %s", strerror(errno));
	alarm(5); /* a stalled daemon would answer in 45 s (lease-break-time) */
	assert_int_equal(raw_free(sock, id), 0);
	assert_still_charged(sock, 1);
	alarm(0);
	close(fd);
	wait_charged(sock, 0);
	close(sock);
}

/* The fd passed on to another process: charged until that one lets it go. */
static void test_fd_passed_on(void **state)
{
	const struct test_daemon *d = *state;
	int sock = greeted(d), fd, pair[2];
	struct wire_message note = request(WIRE_STATS);
	uint64_t id;
	pid_t child;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct wire_message got;
		const char *reason;
		int passed;
		char byte;

		close(pair[0]);
		if (wire_recv(pair[1], &got, &passed, 0, &reason) < 0 || passed < 0)
			_exit(1);
		(void)!read(pair[1], &byte, 1); /* holds it until the parent hangs up */
		_exit(0);
	}
	close(pair[1]);
	fd = raw_allocate(sock, &id);
	assert_int_equal(wire_send(pair[0], &note, fd, 0), 0);
	close(fd);
	assert_int_equal(raw_free(sock, id), 0);
	assert_still_charged(sock, 1);
	close(pair[0]);
	assert_int_equal(waitpid(child, NULL, 0), child);
	wait_charged(sock, 0);
	close(sock);
}

/*
 * The attack: allocate, keep the fd, free, allocate again. The limit holds
 * for what is still referenced, so the client holds at most its limit.
 */
static void test_free_does_not_escape_the_limit(void **state)
{
	static const char *const args[] = { "--max-client-bytes=1M", NULL };
	struct test_daemon d;
	struct wire_message msg, reply;
	int sock, fds[8];
	size_t n;
	uint64_t id;

	test_daemon_start(&d, args);
	sock = greeted(&d);
	for (n = 0; n < 8; n++) {
		msg = request(WIRE_ALLOCATE);
		msg.allocate.capacity = SIZE;
		assert_int_equal(raw_call(sock, &msg, &reply, &fds[n]), 0);
		if (reply.header.opcode == WIRE_ERROR)
			break;
		assert_int_equal(raw_free(sock, reply.allocate_reply.id), 0);
	}
	assert_int_equal(n, 4);
	assert_int_equal(reply.error.error, EDQUOT);
	assert_non_null(strstr(reply.error.message, "per-client byte limit 1048576 exceeded: "
						  "1048576 bytes in use"));
	/* Letting one go makes room for one. */
	close(fds[0]);
	(void)raw_allocate(sock, &id);
	while (n > 1)
		close(fds[--n]);
	close(sock);
	test_daemon_stop(&d);
}

/*
 * The owner hangs up while another process still holds its buffer: the
 * charge stays with a client kept for it, until the buffer is released.
 */
static void test_charge_outlives_the_connection(void **state)
{
	const struct test_daemon *d = *state;
	int sock = greeted(d), watcher = greeted(d), fd;
	struct wire_stats_reply stats;
	uint64_t id;

	fd = raw_allocate(sock, &id);
	close(sock);
	for (int tries = 0; tries < 500 && raw_stats(watcher).clients != 1; tries++)
		usleep(10000);
	stats = raw_stats(watcher);
	assert_int_equal(stats.clients, 1); /* connected: only the watcher */
	assert_int_equal(stats.total_buffers, 1);
	assert_int_equal(stats.total_bytes, SIZE);
	assert_still_charged(watcher, 1);
	close(fd);
	wait_charged(watcher, 0);
	close(watcher);
}

/* The library lets go of fd and mapping before it frees: the charge goes at once. */
static void test_release_uncharges_at_once(void **state)
{
	const struct test_daemon *d = *state;
	struct iobuf_task *task = iobuf_task_connect(d->socket);
	struct iobuf *buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE, SIZE, 0);

	assert_non_null(buf);
	memset(iobuf_get_bytes_no_copy(buf), 3, SIZE);
	iobuf_release(buf);
	assert_int_equal(usage_of(task).total_buffers, 0);
	iobuf_task_unref(task);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_fd),
		cmocka_unit_test(test_kept_mapping),
		cmocka_unit_test(test_no_reopen),
		cmocka_unit_test(test_leased_fd),
		cmocka_unit_test(test_fd_passed_on),
		cmocka_unit_test(test_free_does_not_escape_the_limit),
		cmocka_unit_test(test_charge_outlives_the_connection),
		cmocka_unit_test(test_release_uncharges_at_once),
	};

	return cmocka_run_group_tests_name("lifetime", tests, group_daemon_start,
					   group_daemon_stop);
}
