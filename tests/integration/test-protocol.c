/* SPDX-License-Identifier: MIT */
/*
 * Raw clients that break the protocol: each gets an error naming the
 * problem, the daemon drops them and goes on serving everyone else.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define JUNK_MESSAGES 10000

struct fixture {
	struct test_daemon daemon;
	size_t daemon_fds; /* the daemon's open fds while serving one client */
};

static int start(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sock;

	assert_non_null(f);
	test_daemon_start(&f->daemon, NULL);
	sock = raw_connect(f->daemon.socket);
	raw_hello(sock);
	f->daemon_fds = count_fds(f->daemon.pid);
	close(sock);
	*state = f;
	return 0;
}

static int stop(void **state)
{
	struct fixture *f = *state;

	test_daemon_stop(&f->daemon);
	free(f);
	return 0;
}

/*
 * After each test the daemon serves one new client as if nothing happened:
 * no other client left, no buffer charged, no fd kept. Dropped clients
 * may still be queued, so this waits for them to go.
 */
static int check_daemon_clean(void **state)
{
	struct fixture *f = *state;
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf_usage usage;
	size_t fds = 0;

	assert_non_null(task);
	for (int tries = 0; tries < 2000; tries++) {
		usage = usage_of(task);
		fds = count_fds(f->daemon.pid);
		if (usage.clients == 1 && fds == f->daemon_fds)
			break;
		usleep(10000);
	}
	iobuf_task_unref(task);
	assert_int_equal(usage.clients, 1);
	assert_int_equal(usage.total_buffers, 0);
	assert_int_equal(fds, f->daemon_fds);
	assert_true(test_daemon_alive(&f->daemon));
	return 0;
}

static int connect_raw(void **state)
{
	struct fixture *f = *state;
	int sock = raw_connect(f->daemon.socket);

	assert_true(sock >= 0);
	return sock;
}

/* Receives the error the daemon answers with and checks it. */
static void expect_error(int sock, uint32_t request_id, int err, const char *message)
{
	struct wire_message reply;
	const char *reason;
	int fd;

	assert_int_equal(wire_recv(sock, &reply, &fd, 0, &reason), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(reply.header.opcode, WIRE_ERROR);
	assert_int_equal(reply.header.request_id, request_id);
	assert_int_equal(reply.error.error, err);
	assert_string_equal(reply.error.message, message);
}

/* Sends raw bytes as one record, expects the error and the hang-up. */
static void expect_dropped_after(int sock, const void *bytes, size_t len, uint32_t request_id,
				 int err, const char *message)
{
	assert_int_equal(send(sock, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
	expect_error(sock, request_id, err, message);
	assert_true(raw_closed(sock));
	close(sock);
}

static size_t encode(const struct wire_message *msg, uint8_t *buf)
{
	ssize_t len = wire_encode(msg, buf, WIRE_MAX_MESSAGE);

	assert_true(len >= WIRE_HEADER_SIZE);
	return (size_t)len;
}

static void test_version_mismatch(void **state)
{
	struct wire_message hello = { .header = { WIRE_HELLO, 0, 9 }, .hello.version = 3 };
	uint8_t buf[WIRE_MAX_MESSAGE];

	expect_dropped_after(connect_raw(state), buf, encode(&hello, buf), 9, EPROTONOSUPPORT,
			     "protocol version 3 not supported (this daemon speaks 1 to 2)");
	hello.hello.version = 0;
	expect_dropped_after(connect_raw(state), buf, encode(&hello, buf), 9, EPROTONOSUPPORT,
			     "protocol version 0 not supported (this daemon speaks 1 to 2)");
}

/* A client of version 1 is answered in version 1: its bodies end before the spec. */
static void test_version_1_client(void **state)
{
	struct wire_message hello = { .header = { WIRE_HELLO, 0, 1 }, .hello.version = 1 };
	struct wire_message alloc = { .header = { WIRE_ALLOCATE, 0, 2 },
				      .allocate = { IOBUF_PAGEABLE, 4096, 0, 0 } };
	struct wire_message reply;
	uint8_t buf[WIRE_MAX_MESSAGE];
	int sock = connect_raw(state), fd;

	assert_int_equal(raw_call(sock, &hello, &reply, NULL), 0);
	assert_int_equal(reply.hello_reply.version, 1);
	assert_int_equal(encode(&alloc, buf), WIRE_HEADER_SIZE + 32);
	assert_int_equal(raw_call(sock, &alloc, &reply, &fd), 0);
	assert_int_equal(reply.header.opcode, WIRE_ALLOCATE_REPLY);
	assert_string_equal(reply.allocate_reply.heap, "memfd");
	assert_true(fd >= 0);
	close(fd);
	close(sock);
}

static void test_request_before_hello(void **state)
{
	struct wire_message alloc = { .header = { WIRE_ALLOCATE, 0, 5 },
				      .allocate = { 0, 4096, 0, 0 } };
	uint8_t buf[WIRE_MAX_MESSAGE];

	expect_dropped_after(connect_raw(state), buf, encode(&alloc, buf), 5, EPROTO,
			     "the first request must be hello");
}

static void test_hello_twice(void **state)
{
	struct wire_message hello = { .header = { WIRE_HELLO, 0, 2 }, .hello.version = 1 };
	uint8_t buf[WIRE_MAX_MESSAGE];
	int sock = connect_raw(state);

	raw_hello(sock);
	expect_dropped_after(sock, buf, encode(&hello, buf), 2, EPROTO, "hello sent twice");
}

static void test_truncated_header(void **state)
{
	int sock = connect_raw(state);

	raw_hello(sock);
	expect_dropped_after(sock, "\x01\x00\x08", 3, 0, EBADMSG,
			     "truncated header: a message starts with 8 bytes");
}

static void test_wrong_size_field(void **state)
{
	struct wire_message stats = { .header = { WIRE_STATS, 0, 77 } };
	uint8_t buf[WIRE_MAX_MESSAGE];
	size_t len = encode(&stats, buf);
	int sock = connect_raw(state);

	raw_hello(sock);
	buf[2] = 12; /* the size field says 12, the record has 8 bytes */
	expect_dropped_after(sock, buf, len, 77, EBADMSG,
			     "size field does not match the message length");
}

static void test_wrong_body_length(void **state)
{
	struct wire_message free_req = { .header = { WIRE_FREE, 0, 8 }, .free.id = 1 };
	uint8_t buf[WIRE_MAX_MESSAGE];
	size_t len = encode(&free_req, buf) - 4;
	int sock = connect_raw(state);

	raw_hello(sock);
	buf[2] = (uint8_t)len;
	expect_dropped_after(sock, buf, len, 8, EBADMSG, "message body is shorter than its opcode requires");
}

static void test_oversized_record(void **state)
{
	uint8_t big[8192] = { 0x06, 0x00, 0x00, 0x20, 1, 0, 0, 0 };
	int sock = connect_raw(state);

	raw_hello(sock);
	expect_dropped_after(sock, big, sizeof(big), 0, EMSGSIZE,
			     "message is larger than 4096 bytes");
}

static void test_reply_opcode_as_request(void **state)
{
	struct wire_message reply = { .header = { WIRE_SET_PURGEABLE_REPLY, 0, 3 },
				      .set_purgeable_reply.old_state = 1 };
	uint8_t buf[WIRE_MAX_MESSAGE];
	int sock = connect_raw(state);

	raw_hello(sock);
	expect_dropped_after(sock, buf, encode(&reply, buf), 3, EBADMSG,
			     "a reply opcode was sent as a request");
}

static void test_request_with_fd(void **state)
{
	struct wire_message stats = { .header = { WIRE_STATS, 0, 4 } };
	int sock = connect_raw(state);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	raw_hello(sock);
	assert_int_equal(wire_send(sock, &stats, fd, 0), 0);
	close(fd);
	expect_error(sock, 4, EBADMSG, "only charge-to carries a file descriptor");
	assert_true(raw_closed(sock));
	close(sock);
}

/* Empty records carrying 16 fds each: every fd is closed, each gets EBADMSG. */
static void test_empty_records_with_fds(void **state)
{
	for (int round = 0; round < 50; round++) {
		int sock = connect_raw(state);

		raw_hello(sock);
		raw_send_with_fds(sock, "", 0, 16);
		expect_error(sock, 0, EBADMSG, "truncated header: a message starts with 8 bytes");
		assert_true(raw_closed(sock));
		close(sock);
	}
}

/* charge-to carries one pidfd, never two. */
static void test_two_fds_on_charge_to(void **state)
{
	struct wire_message charge = { .header = { WIRE_CHARGE_TO, 0, 5 } };
	uint8_t buf[WIRE_MAX_MESSAGE];
	int sock = connect_raw(state);

	raw_hello(sock);
	raw_send_with_fds(sock, buf, encode(&charge, buf), 2);
	expect_error(sock, 5, EBADMSG, "message carries more than one file descriptor");
	assert_true(raw_closed(sock));
	close(sock);
}

static void test_unknown_opcode_keeps_connection(void **state)
{
	uint8_t unknown[12] = { 0x42, 0x00, 12, 0x00, 6, 0, 0, 0 };
	struct wire_message stats = { .header = { WIRE_STATS, 0, 7 } };
	struct wire_message reply;
	int sock = connect_raw(state);

	raw_hello(sock);
	assert_int_equal(send(sock, unknown, sizeof(unknown), MSG_NOSIGNAL), sizeof(unknown));
	expect_error(sock, 6, ENOSYS, "unknown opcode 0x0042");
	assert_int_equal(raw_call(sock, &stats, &reply, NULL), 0);
	assert_int_equal(reply.header.opcode, WIRE_STATS_REPLY);
	assert_int_equal(reply.header.request_id, 7);
	close(sock);
}

static void test_free_of_another_clients_buffer(void **state)
{
	struct fixture *f = *state;
	struct iobuf_task *owner = iobuf_task_connect(f->daemon.socket);
	struct iobuf *buf = iobuf_in_task_with_options(owner, 0, 4096, 0);
	struct wire_message req = { .header = { WIRE_FREE, 0, 11 } };
	struct wire_message reply;
	char message[64];
	int sock = connect_raw(state);

	assert_non_null(buf);
	raw_hello(sock);
	snprintf(message, sizeof(message), "no buffer %llu in this task",
		 (unsigned long long)iobuf_get_id(buf));
	req.free.id = iobuf_get_id(buf);
	assert_int_equal(raw_call(sock, &req, &reply, NULL), 0);
	assert_int_equal(reply.header.opcode, WIRE_ERROR);
	assert_int_equal(reply.error.error, ENOENT);
	assert_string_equal(reply.error.message, message);

	req = (struct wire_message){ .header = { WIRE_SET_PURGEABLE, 0, 12 },
				     .set_purgeable = { iobuf_get_id(buf), 4 } };
	assert_int_equal(raw_call(sock, &req, &reply, NULL), 0);
	assert_int_equal(reply.error.error, ENOENT);
	close(sock);

	assert_int_equal(usage_of(owner).buffers, 1);
	memset(iobuf_get_bytes_no_copy(buf), 1, 4096);
	iobuf_release(buf);
	iobuf_task_unref(owner);
}

static void test_client_that_never_reads(void **state)
{
	struct wire_message stats = { .header = { WIRE_STATS, 0, 1 } };
	int sock = connect_raw(state);
	int sent = 0, r = 0;

	raw_hello(sock);
	/* Far more replies than any socket buffer holds. */
	while (sent < 1000000) {
		r = wire_send(sock, &stats, -1, MSG_DONTWAIT);
		if (r == -EAGAIN) {
			usleep(1000);
			continue;
		}
		if (r < 0)
			break;
		sent++;
	}
	assert_true(r == -EPIPE || r == -ECONNRESET);
	close(sock);
}

static uint32_t next_random(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* One junk record: random bytes, or a header that is almost right. */
static size_t make_junk(uint8_t *buf, uint32_t *seed)
{
	size_t len = next_random(seed) % 64;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)next_random(seed);
	if (len >= WIRE_HEADER_SIZE && next_random(seed) % 2) {
		buf[0] = (uint8_t)(next_random(seed) % 8);
		buf[1] = 0;
		buf[2] = (uint8_t)len;
		buf[3] = 0;
	}
	return len ? len : 1;
}

static void test_junk_then_a_real_client(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[64];
	uint32_t seed = 2024;
	int sock = -1;
	struct iobuf_task *task;
	struct iobuf *buf;

	for (int i = 0; i < JUNK_MESSAGES; i++) {
		size_t len = make_junk(junk, &seed);

		if (sock < 0) {
			sock = connect_raw(state);
			if (i % 2)
				raw_hello(sock);
		}
		if (send(sock, junk, len, MSG_NOSIGNAL) < 0) {
			close(sock);
			sock = -1;
		}
	}
	if (sock >= 0)
		close(sock);

	task = iobuf_task_connect(f->daemon.socket);
	assert_non_null(task);
	buf = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_non_null(buf);
	assert_string_equal(iobuf_get_heap(buf), "memfd");
	iobuf_release(buf);
	iobuf_task_unref(task);
}

#define test(fn) cmocka_unit_test_teardown(fn, check_daemon_clean)

int main(void)
{
	const struct CMUnitTest tests[] = {
		test(test_version_mismatch),
		test(test_version_1_client),
		test(test_request_before_hello),
		test(test_hello_twice),
		test(test_truncated_header),
		test(test_wrong_size_field),
		test(test_wrong_body_length),
		test(test_oversized_record),
		test(test_reply_opcode_as_request),
		test(test_request_with_fd),
		test(test_empty_records_with_fds),
		test(test_two_fds_on_charge_to),
		test(test_unknown_opcode_keeps_connection),
		test(test_free_of_another_clients_buffer),
		test(test_client_that_never_reads),
		test(test_junk_then_a_real_client),
	};

	return cmocka_run_group_tests(tests, start, stop);
}
