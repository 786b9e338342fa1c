/* SPDX-License-Identifier: MIT */
/* Sending and receiving protocol messages, with an fd in SCM_RIGHTS. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

/* A peer may attach more fds than any message carries; room to close them. */
#define MAX_RECEIVED_FDS (WIRE_MAX_BATCH + 16)

int wire_send_fds(int sock, const struct wire_message *msg, const int *fds, size_t n, int flags)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_BATCH)];
	} control;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t len, sent;

	if (n > WIRE_MAX_BATCH)
		return -EINVAL;
	len = wire_encode(msg, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	iov = (struct iovec){ .iov_base = buf, .iov_len = (size_t)len };

	if (n > 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n);
	}

	do
		sent = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	return sent < 0 ? -errno : 0;
}

int wire_send(int sock, const struct wire_message *msg, int fd, int flags)
{
	return wire_send_fds(sock, msg, &fd, fd >= 0 ? 1 : 0, flags);
}

/* The fds that came with a record: the receiver's from the moment they arrive. */
struct received_fds {
	int fd[MAX_RECEIVED_FDS];
	size_t count;
};

static void received_fds_take(struct received_fds *fds, struct msghdr *mh)
{
	fds->count = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n && fds->count < MAX_RECEIVED_FDS; i++)
			memcpy(&fds->fd[fds->count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
}

static void received_fds_close(struct received_fds *fds)
{
	for (size_t i = 0; i < fds->count; i++)
		close(fds->fd[i]);
	fds->count = 0;
}

/*
 * A seqpacket socket reads 0 bytes both for an empty record and at the end
 * of the stream; only the latter leaves the peer shut down.
 */
static bool peer_gone(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* What is wrong with a record as it arrived, before its bytes are decoded. */
static int check_record(int sock, const struct msghdr *mh, ssize_t len,
			const struct received_fds *fds, const char **reason)
{
	if (len == 0 && fds->count == 0 && peer_gone(sock))
		return -ECONNRESET;
	if (mh->msg_flags & MSG_TRUNC) {
		*reason = "message is larger than 4096 bytes";
		return -EMSGSIZE;
	}
	if (mh->msg_flags & MSG_CTRUNC) {
		*reason = "message carries more file descriptors than any message may";
		return -EBADMSG;
	}
	return 0;
}

int wire_recv_fds(int sock, struct wire_message *msg, int *fds, size_t max, size_t *n, int flags,
		  const char **reason)
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
	struct received_fds received;
	ssize_t len;
	int r;

	*n = 0;
	*reason = NULL;
	do
		len = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return -errno;

	received_fds_take(&received, &mh);
	r = check_record(sock, &mh, len, &received, reason);
	if (r >= 0)
		r = wire_decode(buf, (size_t)len, msg, reason);
	if (r >= 0 && received.count > max) {
		*reason = max == 1 ? "message carries more than one file descriptor"
				   : "message carries more file descriptors than it may";
		r = -EBADMSG;
	}
	if (r < 0) {
		received_fds_close(&received);
		return r;
	}
	memcpy(fds, received.fd, received.count * sizeof(int));
	*n = received.count;
	return 0;
}

int wire_recv(int sock, struct wire_message *msg, int *fd, int flags, const char **reason)
{
	size_t n;
	int r;

	r = wire_recv_fds(sock, msg, fd, 1, &n, flags, reason);
	if (r < 0 || n == 0)
		*fd = -1;
	return r;
}
