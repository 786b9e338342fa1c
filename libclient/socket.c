/* SPDX-License-Identifier: MIT */
/*
 * A task's socket: opening it, greeting the daemon on it, and sending or
 * receiving one record, each within the call's deadline.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

#define NSEC_PER_MSEC 1000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct deadline task_deadline(struct iobuf_task *task)
{
	unsigned timeout_ms = atomic_load(&task->timeout_ms);

	return (struct deadline){
		.at_ns = timeout_ms ? now_ns() + timeout_ms * NSEC_PER_MSEC : NO_DEADLINE,
		.timeout_ms = timeout_ms,
	};
}

/* Nanoseconds left before the deadline, 0 once it passed. */
static uint64_t left_ns(const struct deadline *dl)
{
	uint64_t now = now_ns();

	return dl->at_ns > now ? dl->at_ns - now : 0;
}

/* poll()'s timeout for what is left: rounded up, -1 for none. */
static int poll_timeout(const struct deadline *dl)
{
	uint64_t ms;

	if (dl->at_ns == NO_DEADLINE)
		return -1;
	ms = (left_ns(dl) + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

struct timespec deadline_timespec(const struct deadline *dl)
{
	return (struct timespec){ .tv_sec = (time_t)(dl->at_ns / 1000000000ull),
				  .tv_nsec = (long)(dl->at_ns % 1000000000ull) };
}

/* Waits until sock is ready for events (or has an error to report): 0 or -ETIMEDOUT. */
static int wait_for(int sock, short events, const struct deadline *dl)
{
	struct pollfd pfd = { .fd = sock, .events = events };
	int r;

	do
		r = poll(&pfd, 1, poll_timeout(dl));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* Bounds connect(): on a full listen queue it waits up to SO_SNDTIMEO, then fails with EAGAIN. */
static int limit_connect(int sock, const struct deadline *dl)
{
	uint64_t left = left_ns(dl);
	struct timeval tv = {
		.tv_sec = (time_t)(left / 1000000000ull),
		.tv_usec = (suseconds_t)(left % 1000000000ull / 1000),
	};

	if (left == 0)
		return -ETIMEDOUT;
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1; /* 0 would mean forever */
	if (setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static int connect_within(int sock, const struct sockaddr_un *addr, const struct deadline *dl)
{
	int r;

	do {
		if (dl->at_ns != NO_DEADLINE) {
			r = limit_connect(sock, dl);
			if (r < 0)
				return r;
		}
		r = connect(sock, (const struct sockaddr *)addr, sizeof(*addr)) < 0 ? -errno : 0;
	} while (r == -EINTR);
	return r == -EAGAIN && dl->at_ns != NO_DEADLINE ? -ETIMEDOUT : r;
}

int open_socket(const char *path, const struct deadline *dl)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock, r;

	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(-ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(addr.sun_path, path);

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return error_set(-errno, "cannot create a socket: %s", strerror(errno));
	r = connect_within(sock, &addr, dl);
	if (r == 0)
		return sock;
	close(sock);
	if (r == -ETIMEDOUT)
		return error_set(r, "iobufd at %s did not take the connection within %u ms "
				 "(it is stopped or its queue of new connections is full)",
				 path, dl->timeout_ms);
	return error_set(r, "cannot connect to iobufd at %s: %s", path, strerror(-r));
}

int send_within(int sock, const struct wire_message *request, int send_fd,
		       const struct deadline *dl)
{
	int r;

	for (;;) {
		r = wire_send(sock, request, send_fd, MSG_DONTWAIT);
		if (r != -EAGAIN)
			return r;
		r = wait_for(sock, POLLOUT, dl);
		if (r < 0)
			return r;
	}
}

int recv_within(int sock, struct wire_message *reply, struct passed_fds *fds,
		       const char **reason, const struct deadline *dl)
{
	int r;

	for (;;) {
		r = wait_for(sock, POLLIN, dl);
		if (r < 0) {
			fds->n = 0;
			*reason = NULL;
			return r;
		}
		r = wire_recv_fds(sock, reply, fds->fd, WIRE_MAX_BATCH, &fds->n, MSG_DONTWAIT,
				  reason);
		if (r != -EAGAIN)
			return r;
	}
}

bool closed_by_daemon(int error)
{
	return error == -EPIPE || error == -ECONNRESET || error == -ENOTCONN;
}

/*
 * One request and its reply on a socket nobody else uses yet (a new
 * connection's hello and charge-to). A WIRE_ERROR reply is the daemon's
 * errno and message.
 */
static int exchange_alone(struct iobuf_task *task, int sock, struct wire_message *request,
			  int send_fd, const struct deadline *dl)
{
	const char *name = wire_opcode_name(request->header.opcode);
	struct wire_message reply;
	struct passed_fds fds = { .n = 0 };
	const char *reason;
	int r;

	request->header.request_id = task->next_request_id++;
	r = send_within(sock, request, send_fd, dl);
	if (r == -ETIMEDOUT)
		return error_set(r, "iobufd at %s took no %s request within %u ms", task->path,
				 name, dl->timeout_ms);
	if (r < 0 && !closed_by_daemon(r))
		return error_set(r, "cannot send %s to iobufd: %s", name, strerror(-r));
	/* A daemon that hung up may have said why first. */
	r = recv_within(sock, &reply, &fds, &reason, dl);
	passed_fds_close(&fds);
	if (r == -ETIMEDOUT)
		return error_set(r, "iobufd at %s did not answer %s within %u ms", task->path,
				 name, dl->timeout_ms);
	if (r < 0)
		return error_set(r == -ECONNRESET ? -EPIPE : r, "connection to iobufd at %s lost "
				 "before it answered %s%s%s", task->path, name, reason ? ": " : "",
				 reason ? reason : "");
	if (reply.header.opcode == WIRE_ERROR)
		return error_set(-reply.error.error, "%s", reply.error.message);
	if (reply.header.opcode != (request->header.opcode | WIRE_REPLY) ||
	    reply.header.request_id != request->header.request_id)
		return error_set(-EPROTO, "iobufd answered %s to %s",
				 wire_opcode_name(reply.header.opcode), name);
	return 0;
}

int greet(struct iobuf_task *task, int sock, const struct deadline *dl)
{
	struct wire_message hello = { .header.opcode = WIRE_HELLO, .hello.version = WIRE_VERSION };
	struct wire_message charge = { .header.opcode = WIRE_CHARGE_TO };
	int r;

	r = exchange_alone(task, sock, &hello, -1, dl);
	if (r == 0 && task->charge_pidfd >= 0)
		r = exchange_alone(task, sock, &charge, task->charge_pidfd, dl);
	return r;
}
