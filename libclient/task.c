/* SPDX-License-Identifier: MIT */
/*
 * A task: one connection to iobufd, to which its buffers are charged.
 *
 * Every wait on the daemon (connect, send, receive, another thread's call on
 * the same task) ends at the call's deadline. A connection that closed, timed
 * out or answered out of turn is marked broken and closed: the next call
 * opens a new one (a new generation; the ids of the old one mean nothing to
 * the daemon that answers now).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "label.h"
#include "private.h"

#define DEFAULT_TIMEOUT_MS 5000
#define NO_DEADLINE UINT64_MAX
#define NSEC_PER_MSEC 1000000ull

/* When a call must be over, and the timeout that set it (for messages). */
struct deadline {
	uint64_t at_ns; /* CLOCK_MONOTONIC; NO_DEADLINE: wait forever */
	unsigned timeout_ms;
};

static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iobuf_task *self_task;

static pthread_once_t env_timeout_once = PTHREAD_ONCE_INIT;
static unsigned env_timeout_ms = DEFAULT_TIMEOUT_MS;

static const char *default_path(void)
{
	const char *env = getenv("IOBUFD_SOCKET");

	return env && *env ? env : IOBUFD_DEFAULT_SOCKET;
}

/* $IOBUF_TIMEOUT_MS, when it is a plain decimal number; read once per process. */
static void read_env_timeout(void)
{
	const char *env = getenv("IOBUF_TIMEOUT_MS");
	unsigned long value;
	char *end;

	if (!env || *env < '0' || *env > '9')
		return;
	errno = 0;
	value = strtoul(env, &end, 10);
	if (errno == 0 && *end == '\0' && value <= UINT_MAX)
		env_timeout_ms = (unsigned)value;
}

static unsigned default_timeout_ms(void)
{
	pthread_once(&env_timeout_once, read_env_timeout);
	return env_timeout_ms;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct deadline deadline_in(unsigned timeout_ms)
{
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

static int open_socket(const char *path, const struct deadline *dl)
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

/* Closes a connection whose request/reply pairing is lost; the next call opens another. */
static int break_connection(struct iobuf_task *task, int error)
{
	close(task->sock);
	task->sock = -1;
	task->broken = true;
	return error;
}

/* Whether a connection that broke was closed by the daemon (not a timeout or a bad reply). */
static bool closed_by_daemon(int error)
{
	return error == -EPIPE || error == -ECONNRESET || error == -ENOTCONN;
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

static int send_within(int sock, const struct wire_message *request, int send_fd,
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

static int recv_within(int sock, struct wire_message *reply, int *fd, const char **reason,
		       const struct deadline *dl)
{
	int r;

	for (;;) {
		r = wait_for(sock, POLLIN, dl);
		if (r < 0) {
			*fd = -1;
			*reason = NULL;
			return r;
		}
		r = wire_recv(sock, reply, fd, MSG_DONTWAIT, reason);
		if (r != -EAGAIN)
			return r;
	}
}

/*
 * Sends request and receives one reply. A connection that fails on the way
 * is broken and closed; a daemon that closed it returns -EPIPE or
 * -ECONNRESET, unless it said why first (its error is then the reply).
 */
static int exchange(struct iobuf_task *task, struct wire_message *request, int send_fd,
		    struct wire_message *reply, int *fd, const struct deadline *dl)
{
	const char *name = wire_opcode_name(request->header.opcode);
	const char *reason;
	int r;

	r = send_within(task->sock, request, send_fd, dl);
	if (r == -ETIMEDOUT)
		return break_connection(task, error_set(r, "iobufd at %s took no %s request "
							"within %u ms", task->path, name,
							dl->timeout_ms));
	if (closed_by_daemon(r) && last_words(task, reply, fd))
		return break_connection(task, 0);
	if (closed_by_daemon(r))
		return break_connection(task, error_set(-EPIPE, "connection to iobufd at %s "
							"lost: %s", task->path, strerror(-r)));
	if (r < 0)
		return error_set(r, "cannot send %s to iobufd: %s", name, strerror(-r));

	r = recv_within(task->sock, reply, fd, &reason, dl);
	if (r == -ETIMEDOUT)
		return break_connection(task, error_set(r, "iobufd at %s did not answer %s "
							"within %u ms", task->path, name,
							dl->timeout_ms));
	if (r == -ECONNRESET && last_words(task, reply, fd))
		return break_connection(task, 0);
	if (r == -ECONNRESET)
		return break_connection(task, error_set(r, "connection to iobufd at %s lost "
							"before it answered %s", task->path,
							name));
	if (r < 0)
		return break_connection(task, error_set(r, "bad reply from iobufd: %s",
							reason ? reason : strerror(-r)));
	return 0;
}

/*
 * Checks a reply to request: a WIRE_ERROR reply becomes the negative errno
 * with the daemon's message. *fd gets the passed fd or -1 (when fd is NULL,
 * no fd is expected).
 */
static int check_reply(struct iobuf_task *task, const struct wire_message *request,
		       const struct wire_message *reply, int received, int *fd)
{
	uint16_t expected = request->header.opcode | WIRE_REPLY;
	int r = 0;

	if (reply->header.opcode == WIRE_ERROR) {
		r = error_set(-reply->error.error, "%s", reply->error.message);
	} else if (reply->header.opcode != expected ||
		   reply->header.request_id != request->header.request_id) {
		/* Its own reply may still come: the pairing is lost. */
		r = break_connection(task, error_set(-EPROTO, "iobufd answered %s to %s",
						     wire_opcode_name(reply->header.opcode),
						     wire_opcode_name(request->header.opcode)));
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

/* One request and its checked reply, the task's lock held. */
static int transact(struct iobuf_task *task, struct wire_message *request, int send_fd,
		    struct wire_message *reply, int *fd, const struct deadline *dl)
{
	int received = -1;
	int r;

	request->header.request_id = task->next_request_id++;
	r = exchange(task, request, send_fd, reply, &received, dl);
	if (r < 0)
		return r;
	return check_reply(task, request, reply, received, fd);
}

static int hello(struct iobuf_task *task, const struct deadline *dl)
{
	struct wire_message request = {
		.header.opcode = WIRE_HELLO,
		.hello.version = WIRE_VERSION,
	};
	struct wire_message reply;

	return transact(task, &request, -1, &reply, NULL, dl);
}

static int charge_to(struct iobuf_task *task, const struct deadline *dl)
{
	struct wire_message request = { .header.opcode = WIRE_CHARGE_TO };
	struct wire_message reply;

	return transact(task, &request, task->charge_pidfd, &reply, NULL, dl);
}

/*
 * Opens a new connection for a task whose connection is broken (or not yet
 * open): hello, and charge-to again for a task charging another. On failure
 * the task stays broken with no socket.
 */
static int reopen(struct iobuf_task *task, const struct deadline *dl)
{
	int r;

	r = open_socket(task->path, dl);
	if (r < 0)
		return r;
	task->sock = r;
	task->broken = false;
	r = hello(task, dl);
	if (r == 0 && task->charge_pidfd >= 0)
		r = charge_to(task, dl);
	if (r < 0) {
		if (!task->broken)
			break_connection(task, r);
		return r;
	}
	task->generation++;
	return 0;
}

/*
 * This process's pid, kept rather than asked for on every call: a forked
 * child learns its own from the fork handler.
 */
static pthread_once_t own_pid_once = PTHREAD_ONCE_INIT;
static _Atomic pid_t own_pid;

static void learn_own_pid(void)
{
	atomic_store(&own_pid, getpid());
}

static void watch_forks(void)
{
	learn_own_pid();
	(void)pthread_atfork(NULL, NULL, learn_own_pid);
}

static pid_t current_pid(void)
{
	pthread_once(&own_pid_once, watch_forks);
	return atomic_load(&own_pid);
}

static struct iobuf_task *task_new(const char *path)
{
	struct iobuf_task *task = calloc(1, sizeof(*task));

	if (!task) {
		error_set(-ENOMEM, "out of memory");
		return NULL;
	}
	atomic_init(&task->refs, 1);
	task->sock = -1;
	task->broken = true;
	task->charge_pidfd = -1;
	task->pid = current_pid();
	snprintf(task->path, sizeof(task->path), "%s", path);
	task->next_request_id = 1;
	atomic_init(&task->timeout_ms, default_timeout_ms());
	pthread_mutex_init(&task->lock, NULL);
	pthread_mutex_init(&task->label_lock, NULL);
	return task;
}

static void task_free(struct iobuf_task *task)
{
	if (task->sock >= 0)
		close(task->sock);
	if (task->charge_pidfd >= 0)
		close(task->charge_pidfd);
	pthread_mutex_destroy(&task->lock);
	pthread_mutex_destroy(&task->label_lock);
	free(task);
}

/* Opens the first connection of a new task; frees it on failure (NULL + errno). */
static struct iobuf_task *task_open(struct iobuf_task *task)
{
	struct deadline dl = deadline_in(atomic_load(&task->timeout_ms));
	int r = reopen(task, &dl);

	if (r < 0) {
		task_free(task);
		errno = -r;
		return NULL;
	}
	error_clear();
	return task;
}

IOBUF_EXPORT struct iobuf_task *iobuf_task_connect(const char *path)
{
	struct iobuf_task *task = task_new(path ? path : default_path());

	return task ? task_open(task) : NULL;
}

struct iobuf_task *task_ref(struct iobuf_task *task)
{
	atomic_fetch_add(&task->refs, 1);
	return task;
}

IOBUF_EXPORT void iobuf_task_unref(struct iobuf_task *task)
{
	if (task && atomic_fetch_sub(&task->refs, 1) == 1)
		task_free(task);
}

int task_is_own(const struct iobuf_task *task)
{
	return task->pid == current_pid();
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

IOBUF_EXPORT int iobuf_task_set_timeout(struct iobuf_task *task, unsigned msec)
{
	if (!task)
		return error_set(-EINVAL, "task must not be NULL");
	atomic_store(&task->timeout_ms, msec);
	return 0;
}

IOBUF_EXPORT int iobuf_task_set_label(struct iobuf_task *task, const char *label)
{
	const char *problem;

	if (!task)
		return error_set(-EINVAL, "task must not be NULL");
	problem = label ? label_problem(label) : NULL;
	if (problem)
		return error_set(-EINVAL, "the label %s", problem);
	pthread_mutex_lock(&task->label_lock);
	snprintf(task->label, sizeof(task->label), "%s", label ? label : "");
	pthread_mutex_unlock(&task->label_lock);
	return 0;
}

void task_get_label(struct iobuf_task *task, char *out, size_t size)
{
	pthread_mutex_lock(&task->label_lock);
	snprintf(out, size, "%s", task->label);
	pthread_mutex_unlock(&task->label_lock);
}

/* Takes the task's lock, waiting for another thread's call no longer than the deadline. */
static int lock_within(struct iobuf_task *task, const struct deadline *dl)
{
	struct timespec at;
	int r;

	if (dl->at_ns == NO_DEADLINE) {
		pthread_mutex_lock(&task->lock);
		return 0;
	}
	at = (struct timespec){
		.tv_sec = (time_t)(dl->at_ns / 1000000000ull),
		.tv_nsec = (long)(dl->at_ns % 1000000000ull),
	};
	r = pthread_mutex_clocklock(&task->lock, CLOCK_MONOTONIC, &at);
	if (r == ETIMEDOUT)
		return error_set(-ETIMEDOUT, "another thread's call to iobufd at %s did not "
				 "finish within %u ms", task->path, dl->timeout_ms);
	return -r;
}

/*
 * The request on the task's connection, opening a new one first when it is
 * broken. A connection the daemon closed before answering is replaced once
 * and the request sent again: the daemon released whatever that connection
 * held, so the first attempt left nothing behind. A request about a buffer
 * (bound) goes only on the connection that made it: -ESTALE, nothing sent,
 * once that connection broke.
 */
static int call_locked(struct iobuf_task *task, struct wire_message *request, int send_fd,
		       struct wire_message *reply, int *fd, const uint64_t *bound,
		       uint64_t *generation, const struct deadline *dl)
{
	bool reopened = false;
	int r;

	if (bound && (task->broken || task->generation != *bound))
		return -ESTALE;
	if (task->broken) {
		r = reopen(task, dl);
		if (r < 0)
			return r;
		reopened = true;
	}
	r = transact(task, request, send_fd, reply, fd, dl);
	if (closed_by_daemon(r) && task->broken && !reopened && !bound) {
		r = reopen(task, dl);
		if (r < 0)
			return r;
		r = transact(task, request, send_fd, reply, fd, dl);
	}
	if (r == 0 && generation)
		*generation = task->generation;
	return r;
}

static int call(struct iobuf_task *task, struct wire_message *request, int send_fd,
		struct wire_message *reply, int *fd, const uint64_t *bound, uint64_t *generation)
{
	struct deadline dl = deadline_in(atomic_load(&task->timeout_ms));
	int r;

	if (fd)
		*fd = -1;
	if (!task_is_own(task))
		return error_set(-ECHILD, "this task's connection belongs to process %d; "
				 "connect again in the child", (int)task->pid);
	r = lock_within(task, &dl);
	if (r < 0)
		return r;
	r = call_locked(task, request, send_fd, reply, fd, bound, generation, &dl);
	pthread_mutex_unlock(&task->lock);
	return r;
}

int task_call(struct iobuf_task *task, struct wire_message *request,
	      struct wire_message *reply, int *fd)
{
	return call(task, request, -1, reply, fd, NULL, NULL);
}

int task_call_made(struct iobuf_task *task, struct wire_message *request,
		   struct wire_message *reply, int *fd, uint64_t *generation)
{
	return call(task, request, -1, reply, fd, NULL, generation);
}

int task_call_on(struct iobuf_task *task, uint64_t generation, struct wire_message *request,
		 struct wire_message *reply)
{
	return call(task, request, -1, reply, NULL, &generation, NULL);
}

IOBUF_EXPORT struct iobuf_task *iobuf_task_for_pidfd(struct iobuf_task *via, int pidfd)
{
	struct iobuf_task *task;

	if (pidfd < 0) {
		error_set(-EBADF, "no pidfd to charge");
		return NULL;
	}
	task = task_new(via ? via->path : default_path());
	if (!task)
		return NULL;
	/* Kept to charge the same task again on a new connection. */
	task->charge_pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
	if (task->charge_pidfd < 0) {
		int r = -errno;

		task_free(task);
		error_set(r, "cannot keep pidfd %d: %s", pidfd, strerror(-r));
		return NULL;
	}
	return task_open(task);
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
