/* SPDX-License-Identifier: MIT */
/* Many clients on one daemon: each gets its turn. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define FLOOD 64

static void send_allocate(int sock, uint32_t request_id)
{
	struct wire_message msg = {
		.header = { .opcode = WIRE_ALLOCATE, .request_id = request_id },
		.allocate = { .options = IOBUF_PAGEABLE, .capacity = 4096 },
	};

	assert_int_equal(wire_send(sock, &msg, -1, 0), 0);
}

/* The next reply on sock, an allocation's: its buffer id. */
static uint64_t allocated_id(int sock, uint32_t request_id)
{
	struct wire_message reply;
	const char *reason;
	int fd;

	assert_int_equal(wire_recv(sock, &reply, &fd, 0, &reason), 0);
	assert_int_equal(reply.header.opcode, WIRE_ALLOCATE_REPLY);
	assert_int_equal(reply.header.request_id, request_id);
	assert_true(fd >= 0);
	close(fd);
	return reply.allocate_reply.id;
}

static void stop_daemon(pid_t pid)
{
	int status;

	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
}

/*
 * A client that queued FLOOD allocations before a quiet one asked for one:
 * the quiet one is served after at most a turn or two of the flood, not
 * after all of it, and the flood is answered in full and in order.
 */
static void test_flood_does_not_starve(void **state)
{
	struct test_daemon d;
	int flood, quiet;
	uint64_t quiet_id, id, last = 0;

	test_daemon_start(&d, NULL);
	flood = raw_connect(d.socket);
	quiet = raw_connect(d.socket);
	assert_true(flood >= 0 && quiet >= 0);
	raw_hello(flood);
	raw_hello(quiet);

	/* Stopped, the daemon finds both queues full at once when it goes on. */
	stop_daemon(d.pid);
	for (uint32_t i = 1; i <= FLOOD; i++)
		send_allocate(flood, i);
	send_allocate(quiet, 1);
	assert_int_equal(kill(d.pid, SIGCONT), 0);

	/* Ids count the allocations: the flood's came before the quiet one's id. */
	quiet_id = allocated_id(quiet, 1);
	assert_true(quiet_id <= 1 + 8);
	for (uint32_t i = 1; i <= FLOOD; i++) {
		id = allocated_id(flood, i);
		assert_true(id > last && id != quiet_id);
		last = id;
	}
	assert_int_equal(last, FLOOD + 1);

	close(flood);
	close(quiet);
	test_daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_does_not_starve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
