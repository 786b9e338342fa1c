/* SPDX-License-Identifier: MIT */
/* Many clients on one daemon: each gets its turn. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define FLOOD 64
#define MANY_BUFFERS 100000
#define MANY_CONNECTIONS 100
#define BYTES_PER_BUFFER 128
/* Under valgrind or a sanitizer the daemon's memory is theirs: fewer buffers, no bound. */
#define WRAPPED_BUFFERS 2000

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED true
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED true
#endif
#endif
#ifndef SANITIZED
#define SANITIZED false
#endif

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

/* Allocates a pageable 4 KiB buffer on each connection from first to last. */
static void allocate_round(const int *socks, size_t first, size_t last)
{
	for (size_t i = first; i <= last; i++)
		send_allocate(socks[i], 1);
	for (size_t i = first; i <= last; i++)
		allocated_id(socks[i], 1);
}

/*
 * MANY_BUFFERS live buffers over MANY_CONNECTIONS, or as many as the fd
 * limit lets a daemon hold here ($IOBUFD_MANY_BUFFERS says how many to
 * try): each costs the daemon at most BYTES_PER_BUFFER of resident memory.
 */
static void test_many_buffers_memory(void **state)
{
	char clients[32], buffers[32], per_client[32];
	const char *args[] = { "--max-clients", clients, "--max-uid-clients", clients,
			       "--max-uid-buffers", buffers, "--max-client-buffers", per_client,
			       NULL };
	int socks[MANY_CONNECTIONS];
	struct test_daemon d;
	struct rlimit nofile;
	const char *wrapper = getenv("IOBUFD_WRAPPER");
	bool measured = !wrapper && !SANITIZED;
	uint64_t count = measured ? MANY_BUFFERS : WRAPPED_BUFFERS, rounds, before, after;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	/*
	 * Where it may (CAP_SYS_RESOURCE, as in the vm suite's guest), the test
	 * lifts the hard limit the daemon inherits, as LimitNOFILE= does for
	 * the unit; elsewhere the limit it has decides how many buffers.
	 */
	if (measured && nofile.rlim_max != RLIM_INFINITY &&
	    nofile.rlim_max < MANY_BUFFERS + 4 * MANY_CONNECTIONS + 1000) {
		struct rlimit raised = { nofile.rlim_cur, MANY_BUFFERS + 4 * MANY_CONNECTIONS + 1000 };

		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			nofile = raised;
	}
	/* The daemon raises its soft limit to the hard one; keep room for its own fds. */
	if (measured && nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < count + 4 * MANY_CONNECTIONS + 1000)
		count = nofile.rlim_max - 4 * MANY_CONNECTIONS - 1000;
	if (getenv("IOBUFD_MANY_BUFFERS"))
		count = strtoull(getenv("IOBUFD_MANY_BUFFERS"), NULL, 10);
	rounds = count / MANY_CONNECTIONS;
	print_message("%llu buffers over %d connections (RLIMIT_NOFILE hard limit %llu)\n",
		      (unsigned long long)(rounds * MANY_CONNECTIONS), MANY_CONNECTIONS,
		      (unsigned long long)nofile.rlim_max);
	if (!measured)
		print_message("wrapped or sanitized: the daemon's memory is not held to a bound\n");
	snprintf(clients, sizeof(clients), "%d", MANY_CONNECTIONS + 8);
	snprintf(buffers, sizeof(buffers), "%llu", (unsigned long long)count + 1);
	snprintf(per_client, sizeof(per_client), "%llu", (unsigned long long)rounds + 1);
	test_daemon_start(&d, args);
	for (size_t i = 0; i < MANY_CONNECTIONS; i++) {
		socks[i] = raw_connect(d.socket);
		assert_true(socks[i] >= 0);
		raw_hello(socks[i]);
	}
	/* Each client's first buffer makes its table: that is the client's, not the buffers'. */
	allocate_round(socks, 0, MANY_CONNECTIONS - 1);
	before = (uint64_t)process_rss_kib(d.pid) * 1024;
	for (uint64_t r = 1; r < rounds; r++)
		allocate_round(socks, 0, MANY_CONNECTIONS - 1);
	after = (uint64_t)process_rss_kib(d.pid) * 1024;
	print_message("daemon VmRSS %llu KiB before, %llu KiB after %llu more buffers: %.1f bytes "
		      "each\n", (unsigned long long)before / 1024,
		      (unsigned long long)after / 1024,
		      (unsigned long long)(rounds - 1) * MANY_CONNECTIONS,
		      (double)(after - before) / (double)((rounds - 1) * MANY_CONNECTIONS));
	if (measured)
		assert_true(after - before <= BYTES_PER_BUFFER * (rounds - 1) * MANY_CONNECTIONS);
	for (size_t i = 0; i < MANY_CONNECTIONS; i++)
		close(socks[i]);
	test_daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_does_not_starve),
		cmocka_unit_test(test_many_buffers_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
