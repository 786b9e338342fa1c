/* SPDX-License-Identifier: MIT */
/*
 * A task: one connection to iobufd, to which its buffers are charged; the
 * own task, tasks of their own and tasks charging another process. Its
 * connection and the requests on it are pipeline.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "label.h"
#include "private.h"

#define DEFAULT_TIMEOUT_MS 5000

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
	task->epoll_fd = -1;
	atomic_init(&task->timeout_ms, default_timeout_ms());
	pthread_mutex_init(&task->send_lock, NULL);
	pthread_mutex_init(&task->lock, NULL);
	pthread_cond_init(&task->changed, NULL);
	pthread_mutex_init(&task->label_lock, NULL);
	return task;
}

static void task_free(struct iobuf_task *task)
{
	task_connection_free(task);
	if (task->charge_pidfd >= 0)
		close(task->charge_pidfd);
	pthread_mutex_destroy(&task->send_lock);
	pthread_mutex_destroy(&task->lock);
	pthread_cond_destroy(&task->changed);
	pthread_mutex_destroy(&task->label_lock);
	free(task);
}

/* Opens the first connection of a new task; frees it on failure (NULL + errno). */
static struct iobuf_task *task_open(struct iobuf_task *task)
{
	int r = task_connect(task);

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
