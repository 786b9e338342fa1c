/* SPDX-License-Identifier: MIT */
/* A task: one connection to iobufd, to which its buffers are charged. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "private.h"

static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iobuf_task *self_task;

static const char *default_path(void)
{
	const char *env = getenv("IOBUFD_SOCKET");

	return env && *env ? env : IOBUFD_DEFAULT_SOCKET;
}

static int open_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock, r;

	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(-ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(addr.sun_path, path);

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return error_set(-errno, "cannot create a socket: %s", strerror(errno));
	if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		close(sock);
		return error_set(r, "cannot connect to iobufd at %s: %s", path, strerror(-r));
	}
	return sock;
}

static int hello(struct iobuf_task *task)
{
	struct wire_message request = {
		.header.opcode = WIRE_HELLO,
		.hello.version = WIRE_VERSION,
	};
	struct wire_message reply;

	return task_call(task, &request, &reply, NULL);
}

IOBUF_EXPORT struct iobuf_task *iobuf_task_connect(const char *path)
{
	struct iobuf_task *task;
	int r;

	if (!path)
		path = default_path();
	task = calloc(1, sizeof(*task));
	if (!task) {
		errno = error_set(ENOMEM, "out of memory");
		return NULL;
	}
	atomic_init(&task->refs, 1);
	task->pid = getpid();
	snprintf(task->path, sizeof(task->path), "%s", path);
	task->next_request_id = 1;
	pthread_mutex_init(&task->lock, NULL);

	r = open_socket(path);
	if (r >= 0) {
		task->sock = r;
		r = hello(task);
		if (r < 0)
			close(task->sock);
	}
	if (r < 0) {
		pthread_mutex_destroy(&task->lock);
		free(task);
		errno = -r;
		return NULL;
	}
	error_clear();
	return task;
}

struct iobuf_task *task_ref(struct iobuf_task *task)
{
	atomic_fetch_add(&task->refs, 1);
	return task;
}

IOBUF_EXPORT void iobuf_task_unref(struct iobuf_task *task)
{
	if (!task || atomic_fetch_sub(&task->refs, 1) != 1)
		return;
	close(task->sock);
	pthread_mutex_destroy(&task->lock);
	free(task);
}

int task_is_own(const struct iobuf_task *task)
{
	return task->pid == getpid();
}

IOBUF_EXPORT struct iobuf_task *iobuf_task_self(void)
{
	struct iobuf_task *task;

	pthread_mutex_lock(&self_lock);
	if (self_task && !task_is_own(self_task)) {
		/* A forked child: the parent's connection is not ours to use. */
		iobuf_task_unref(self_task);
		self_task = NULL;
	}
	if (!self_task)
		self_task = iobuf_task_connect(NULL);
	task = self_task;
	pthread_mutex_unlock(&self_lock);
	return task;
}

/*
 * Whether a daemon that hung up left a last error saying why (e.g. too many
 * clients). The kernel may report the hang-up before that message.
 */
static bool last_words(struct iobuf_task *task, struct wire_message *reply, int *fd)
{
	const char *reason;

	return wire_recv(task->sock, reply, fd, MSG_DONTWAIT, &reason) == 0 &&
	       reply->header.opcode == WIRE_ERROR;
}

static int exchange(struct iobuf_task *task, struct wire_message *request, int send_fd,
		    struct wire_message *reply, int *fd)
{
	const char *reason;
	int r;

	r = wire_send(task->sock, request, send_fd, 0);
	if (r < 0 && last_words(task, reply, fd))
		return 0;
	if (r < 0)
		return error_set(r, "connection to iobufd lost: %s", strerror(-r));
	r = wire_recv(task->sock, reply, fd, 0, &reason);
	if (r == -ECONNRESET && last_words(task, reply, fd))
		return 0;
	if (r == -ECONNRESET)
		return error_set(r, "connection to iobufd lost");
	if (r < 0)
		return error_set(r, "bad reply from iobufd: %s", reason ? reason : strerror(-r));
	return 0;
}

/* task_call(), passing send_fd (when >= 0) along with the request. */
static int call(struct iobuf_task *task, struct wire_message *request, int send_fd,
		struct wire_message *reply, int *fd)
{
	uint16_t expected = request->header.opcode | WIRE_REPLY;
	int received = -1;
	int r;

	if (fd)
		*fd = -1;
	if (!task_is_own(task))
		return error_set(-ECHILD, "this task's connection belongs to process %d; "
				 "connect again in the child", (int)task->pid);

	pthread_mutex_lock(&task->lock);
	request->header.request_id = task->next_request_id++;
	r = exchange(task, request, send_fd, reply, &received);
	pthread_mutex_unlock(&task->lock);
	if (r < 0)
		return r;

	if (reply->header.opcode == WIRE_ERROR) {
		r = error_set(-reply->error.error, "%s", reply->error.message);
	} else if (reply->header.opcode != expected ||
		   reply->header.request_id != request->header.request_id) {
		r = error_set(-EPROTO, "iobufd answered %s to %s",
			      wire_opcode_name(reply->header.opcode),
			      wire_opcode_name(request->header.opcode));
	} else if (received >= 0 && !fd) {
		r = error_set(-EPROTO, "iobufd passed an fd with %s",
			      wire_opcode_name(reply->header.opcode));
	}
	if (r < 0 || !fd) {
		if (received >= 0)
			close(received);
		return r;
	}
	*fd = received;
	return 0;
}

int task_call(struct iobuf_task *task, struct wire_message *request,
	      struct wire_message *reply, int *fd)
{
	return call(task, request, -1, reply, fd);
}

IOBUF_EXPORT struct iobuf_task *iobuf_task_for_pidfd(struct iobuf_task *via, int pidfd)
{
	struct wire_message request = { .header.opcode = WIRE_CHARGE_TO };
	struct wire_message reply;
	struct iobuf_task *task;
	int r;

	if (pidfd < 0) {
		errno = -error_set(-EBADF, "no pidfd to charge");
		return NULL;
	}
	task = iobuf_task_connect(via ? via->path : NULL);
	if (!task)
		return NULL;
	r = call(task, &request, pidfd, &reply, NULL);
	if (r < 0) {
		iobuf_task_unref(task);
		errno = -r;
		return NULL;
	}
	error_clear();
	return task;
}

IOBUF_EXPORT int iobuf_task_get_usage(struct iobuf_task *task, struct iobuf_usage *usage)
{
	struct wire_message request = { .header.opcode = WIRE_STATS };
	struct wire_message reply;
	int r;

	if (!task || !usage)
		return error_set(-EINVAL, "task and usage must not be NULL");
	r = task_call(task, &request, &reply, NULL);
	if (r < 0)
		return r;
	*usage = (struct iobuf_usage){
		.buffers = reply.stats_reply.client_buffers,
		.bytes = reply.stats_reply.client_bytes,
		.total_buffers = reply.stats_reply.total_buffers,
		.total_bytes = reply.stats_reply.total_bytes,
		.clients = reply.stats_reply.clients,
	};
	return 0;
}
