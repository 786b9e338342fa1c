/* SPDX-License-Identifier: MIT */
/*
 * wire_recv() (protocol/wire_io.c) over a real SOCK_SEQPACKET socketpair,
 * with fds in SCM_RIGHTS. The input is
 *
 *   byte 0    bits 0-4: how many fds ride along, 64 more with bit 6 (up to
 *             95, over the 80 wire_recv() has room for); bit 5: the record
 *             gets 4097 zero bytes appended (over WIRE_MAX_MESSAGE)
 *   byte 1    the kind of fd i (FUZZ_FD_*): bits 2i..2i+1, i mod 4
 *   the rest  the record's bytes
 *
 * After each input no fd is open that was not before: wire_recv() keeps
 * at most the one it returns in *fd (close-on-exec, and only on success),
 * which the target closes. The result agrees with wire_decode() of the
 * same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "wire.h"

#define MAX_FDS FUZZ_MAX_FDS
#define RECV_ROOM (WIRE_MAX_BATCH + 16) /* MAX_RECEIVED_FDS in wire_io.c */
#define PADDING (WIRE_MAX_MESSAGE + 1)

struct input {
	size_t fd_count;
	unsigned kinds;
	const uint8_t *bytes;
	size_t len;
	bool pad;
};

static struct input parse(const uint8_t *data, size_t size)
{
	struct input in = { 0 };

	if (size > 0)
		in.fd_count = (size_t)(data[0] & 0x1f) + (data[0] & 0x40 ? 64 : 0);
	if (size > 0)
		in.pad = data[0] & 0x20;
	if (size > 1)
		in.kinds = data[1];
	in.bytes = size > 2 ? data + 2 : data;
	in.len = size > 2 ? size - 2 : 0;
	return in;
}

/* What wire_recv() must make of the record, as far as its fds allow. */
static void check_result(const struct input *in, const uint8_t *record, size_t len, int r,
			 int fd, const struct wire_message *msg, const char *reason)
{
	struct wire_message expected;
	const char *expected_reason;
	int expected_r;

	fuzz_assert(r != -EAGAIN, "a record of %zu bytes was sent and none received", len);
	if (r < 0)
		fuzz_assert(fd == -1, "wire_recv failed (%d) and kept fd %d", r, fd);
	if (fd >= 0)
		fuzz_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "received fd %d is not close-on-exec",
			    fd);
	if (len == 0) {
		/* An empty record (its peer still there) is malformed, fds or not. */
		fuzz_assert(r == -EBADMSG && reason, "an empty record with %zu fds gave %d",
			    in->fd_count, r);
		return;
	}

	if (len > WIRE_MAX_MESSAGE) {
		fuzz_assert(r == -EMSGSIZE && reason, "a %zu-byte record gave %d", len, r);
		return;
	}
	if (in->fd_count > RECV_ROOM) {
		fuzz_assert(r == -EBADMSG && reason, "a record with %zu fds gave %d",
			    in->fd_count, r);
		return;
	}
	expected_r = wire_decode(record, len, &expected, &expected_reason);
	if (expected_r == 0 && in->fd_count > 1) { /* a message carries one fd at most */
		expected_r = -EBADMSG;
		expected_reason = "message carries more than one file descriptor";
	}
	fuzz_assert(r == expected_r, "wire_recv gave %d, wire_decode %d", r, expected_r);
	if (r < 0) {
		fuzz_assert(reason && strcmp(reason, expected_reason) == 0,
			    "wire_recv says \"%s\", wire_decode \"%s\"", reason ? reason : "",
			    expected_reason);
		return;
	}
	fuzz_assert(memcmp(msg, &expected, sizeof(expected)) == 0,
		    "wire_recv and wire_decode disagree on a %s",
		    wire_opcode_name(msg->header.opcode));
	fuzz_assert((fd >= 0) == (in->fd_count > 0), "%zu fds sent, fd %d received",
		    in->fd_count, fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t record[WIRE_MAX_MESSAGE * 4 + PADDING];
	struct input in = parse(data, size);
	int fds[MAX_FDS], pair[2], fd, r;
	struct wire_message msg;
	const char *reason;
	size_t len, fds_before;

	if (in.len > sizeof(record) - PADDING)
		return 0; /* -max_len keeps inputs far below this */
	len = in.len + (in.pad ? PADDING : 0);
	memcpy(record, in.bytes, in.len);
	memset(record + in.len, 0, len - in.len);

	fds_before = fuzz_count_fds();
	fuzz_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0,
		    "socketpair: %s", strerror(errno));
	for (size_t i = 0; i < in.fd_count; i++)
		fds[i] = fuzz_make_fd(in.kinds >> (2 * (i % 4)));
	r = fuzz_send_record(pair[0], record, len, fds, in.fd_count, 0);
	fuzz_assert(r == 0, "cannot send a %zu-byte record with %zu fds: %s", len, in.fd_count,
		    strerror(-r));
	fuzz_close_fds(fds, in.fd_count);

	r = wire_recv(pair[1], &msg, &fd, MSG_DONTWAIT, &reason);
	check_result(&in, record, len, r, fd, &msg, reason);
	if (fd >= 0)
		close(fd);
	close(pair[0]);
	close(pair[1]);

	if (fuzz_count_fds() != fds_before) {
		fuzz_print_fds();
		fuzz_assert(fuzz_count_fds() == fds_before,
			    "%zu fds open after wire_recv of a %zu-byte record with %zu fds "
			    "(returned %d), %zu before", fuzz_count_fds(), len, in.fd_count, r,
			    fds_before);
	}
	return 0;
}
