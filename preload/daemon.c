/* SPDX-License-Identifier: MIT */
/*
 * iobufd, asked on a task of the shim's own: not iobuf_task_self(), which
 * the program may use itself. It connects at the first brokered open, is
 * labelled with the program's name so that admins see who holds what, and
 * a forked child connects again. A failure the program should know about
 * is told on stderr, once per errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "shim.h"

/* A dma-heap buffer is device memory: wired, for the device to read and write. */
#define HEAP_OPTIONS IOBUF_DIRECTION_INOUT

static pthread_mutex_t task_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static struct iobuf_task *task;
static pid_t task_pid; /* the process that connected it */

/* errno values already told on stderr, one bit each. */
static _Atomic uint64_t reported[4];

void shim_warn(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "libiobuf-dmaheap: %s\n", line);
}

static bool first_report(int error)
{
	unsigned bit = error > 0 && error < 256 ? (unsigned)error : 255;
	uint64_t mask = 1ull << (bit % 64);

	return !(atomic_fetch_or(&reported[bit / 64], mask) & mask);
}

static void lock_task(void)
{
	pthread_mutex_lock(&task_lock);
}

static void unlock_task(void)
{
	pthread_mutex_unlock(&task_lock);
}

/* A fork() while another thread connects would leave the lock held in the child. */
static void hold_across_forks(void)
{
	(void)pthread_atfork(lock_task, unlock_task, unlock_task);
}

/* Names the task's buffers after the program; they are charged the same without. */
static void label(struct iobuf_task *t)
{
	char comm[16] = "";

	if (prctl(PR_GET_NAME, comm) == 0 && comm[0])
		(void)iobuf_task_set_label(t, comm);
}

/* The shim's task, connected when it has none; NULL + errno when iobufd cannot be reached. */
static struct iobuf_task *shim_task(void)
{
	pid_t pid = getpid();
	struct iobuf_task *t;

	pthread_once(&fork_once, hold_across_forks);
	lock_task();
	if (task && task_pid != pid) {
		/* A forked child: the parent's connection is not the child's to use. */
		iobuf_task_unref(task);
		task = NULL;
	}
	if (!task) {
		task = iobuf_task_connect(NULL);
		task_pid = pid;
		if (task)
			label(task);
	}
	t = task;
	unlock_task();
	return t;
}

static int heap_of(const char *name, char heap[static IOBUF_HEAP_NAME_MAX + 1])
{
	if (strlen(name) > HEAP_NAME_MAX)
		return -ENODEV;
	snprintf(heap, IOBUF_HEAP_NAME_MAX + 1, HEAP_PREFIX "%s", name);
	return 0;
}

/* iobufd could not be asked (r, a negative errno): the kernel's answer will stand. */
static int unreachable(const char *name, int r)
{
	if (first_report(-r))
		shim_warn("cannot ask iobufd for " HEAP_DIR "%s: %s", name, iobuf_last_error());
	return r;
}

int daemon_serves(const char *name)
{
	char heap[IOBUF_HEAP_NAME_MAX + 1];
	struct iobuf_match match;
	struct iobuf_task *t;
	int r;

	if (heap_of(name, heap) < 0)
		return -ENODEV;
	t = shim_task();
	if (!t)
		return unreachable(name, -errno);
	r = iobuf_task_query_heap(t, heap, HEAP_OPTIONS, (size_t)sysconf(_SC_PAGESIZE), 0,
				  &match);
	switch (r) {
	case 0:
	/* Serves, but not this task now: its allocations will say why. */
	case -EDQUOT:
	case -ENOMEM:
	case -EAGAIN:
	case -EFBIG:
		return 0;
	case -ENODEV:
	case -EOPNOTSUPP:
		return -ENODEV;
	default:
		return unreachable(name, r);
	}
}

int daemon_allocate(const char *name, uint64_t len, bool cloexec)
{
	char heap[IOBUF_HEAP_NAME_MAX + 1];
	struct iobuf_task *t;
	struct iobuf *buf;
	int fd;

	if (heap_of(name, heap) < 0)
		return -ENODEV;
	if (len > SIZE_MAX)
		return -ENOMEM;
	t = shim_task();
	buf = t ? iobuf_in_task_from_heap(t, heap, HEAP_OPTIONS, len, 0) : NULL;
	if (!buf) {
		int r = -errno;

		if (first_report(-r))
			shim_warn("%llu bytes from %s: %s", (unsigned long long)len, heap,
				  iobuf_last_error());
		return r;
	}
	/* The daemon keeps the memory charged to the program while this fd lives. */
	fd = fcntl(iobuf_get_fd(buf), cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	if (fd < 0)
		fd = -errno;
	iobuf_release(buf);
	return fd;
}
