/* SPDX-License-Identifier: MIT */
/* Sending and receiving protocol messages, with an fd in SCM_RIGHTS. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

/* A peer may attach more fds than any message carries; room to close them. */
#define MAX_RECEIVED_FDS 16

int wire_send(int sock, const struct wire_message *msg, int fd, int flags)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t len, sent;

	len = wire_encode(msg, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	iov = (struct iovec){ .iov_base = buf, .iov_len = (size_t)len };

	if (fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}

	do
		sent = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	return sent < 0 ? -errno : 0;
}

/* Collects the fds of a received message: the first in *fd, the rest closed. */
static void take_fds(struct msghdr *mh, int *fd)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int received;

			memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = received;
			else
				close(received);
		}
	}
}

int wire_recv(int sock, struct wire_message *msg, int *fd, int flags, const char **reason)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MAX_RECEIVED_FDS)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t len;
	int r;

	*fd = -1;
	*reason = NULL;
	do
		len = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return -errno;
	if (len == 0)
		return -ECONNRESET;

	take_fds(&mh, fd);
	if (mh.msg_flags & MSG_TRUNC) {
		*reason = "message is larger than 4096 bytes";
		r = -EMSGSIZE;
	} else if (mh.msg_flags & MSG_CTRUNC) {
		*reason = "message carries more file descriptors than any message may";
		r = -EBADMSG;
	} else {
		r = wire_decode(buf, (size_t)len, msg, reason);
	}
	if (r < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}
