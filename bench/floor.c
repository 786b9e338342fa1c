/* SPDX-License-Identifier: MIT */
/*
 * iobuf-bench-floor: the least a broker can be, as a process of its own. A
 * single-threaded epoll server on a SOCK_SEQPACKET socket that speaks just
 * enough of the wire protocol (protocol/README.md) for the benchmarks:
 *
 *   hello     answered with the client's version;
 *   allocate  a sealed memfd, made as iobufd's memfd heap makes it, passed
 *             back in one round trip and forgotten (nothing is charged,
 *             counted or kept);
 *   free      answered at once (there is nothing to free).
 *
 * It sends READY=1 to $NOTIFY_SOCKET once it accepts, as iobufd does, so
 * start-up can be timed the same way for both.
 *
 * Usage: iobuf-bench-floor SOCKET
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "iobuf/iobuf.h"
#include "wire.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static int make_memfd(size_t size, bool pageable)
{
	int fd = memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || (!pageable && fallocate(fd, 0, 0, (off_t)size) < 0) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static void answer_error(struct wire_message *reply, int error)
{
	reply->header.opcode = WIRE_ERROR;
	reply->error.error = error;
	snprintf(reply->error.message, sizeof(reply->error.message), "floor: %s", strerror(error));
}

/* Answers one request; false when the client is to be dropped. */
static bool serve_one(int sock)
{
	struct wire_message request, reply = { 0 };
	const char *reason;
	int passed, fd = -1, r;

	r = wire_recv(sock, &request, &passed, MSG_DONTWAIT, &reason);
	if (r == -EAGAIN)
		return true;
	if (r < 0)
		return false;
	if (passed >= 0)
		close(passed);
	reply.header.request_id = request.header.request_id;
	switch (request.header.opcode) {
	case WIRE_HELLO:
		reply.header.opcode = WIRE_HELLO_REPLY;
		reply.hello_reply.version = request.hello.version;
		break;
	case WIRE_ALLOCATE:
		fd = make_memfd(request.allocate.capacity, request.allocate.options & IOBUF_PAGEABLE);
		if (fd < 0) {
			answer_error(&reply, -fd);
			break;
		}
		reply.header.opcode = WIRE_ALLOCATE_REPLY;
		reply.allocate_reply.size = request.allocate.capacity;
		reply.allocate_reply.options = request.allocate.options;
		reply.allocate_reply.flags = WIRE_BUFFER_MAPPABLE;
		snprintf(reply.allocate_reply.heap, sizeof(reply.allocate_reply.heap), "memfd");
		break;
	case WIRE_FREE:
		reply.header.opcode = WIRE_FREE_REPLY;
		break;
	default:
		answer_error(&reply, ENOSYS);
		break;
	}
	r = wire_send(sock, &reply, fd, MSG_DONTWAIT);
	if (fd >= 0)
		close(fd);
	return r == 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "iobuf-bench-floor: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(sock, SOMAXCONN) < 0) {
		fprintf(stderr, "iobuf-bench-floor: cannot listen on %s: %s\n", path,
			strerror(errno));
		if (sock >= 0)
			close(sock);
		return -1;
	}
	return sock;
}

/* READY=1 to $NOTIFY_SOCKET, a path or an abstract name (@...), if set. */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t len;
	int sock;

	if (!path || !*path || strlen(path) >= sizeof(addr.sun_path))
		return;
	strcpy(addr.sun_path, path);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return;
	(void)sendto(sock, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
	close(sock);
}

static void accept_all(int epoll, int listener)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int sock;

	while ((sock = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		ev.data.fd = sock;
		if (epoll_ctl(epoll, EPOLL_CTL_ADD, sock, &ev) < 0)
			close(sock);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN }, events[64];
	int listener, epoll;

	if (argc != 2) {
		fprintf(stderr, "usage: iobuf-bench-floor SOCKET\n");
		return 2;
	}
	listener = listen_on(argv[1]);
	if (listener < 0)
		return 1;
	epoll = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = listener;
	if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &ev) < 0) {
		perror("iobuf-bench-floor: epoll");
		return 1;
	}
	notify_ready();
	for (;;) {
		int n = epoll_wait(epoll, events, 64, -1);

		if (n < 0 && errno != EINTR) {
			perror("iobuf-bench-floor: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == listener)
				accept_all(epoll, listener);
			else if (!serve_one(fd) || (events[i].events & (EPOLLHUP | EPOLLERR)))
				close(fd); /* leaves the epoll set with its last reference */
		}
	}
}
