/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocator.h"
#include "log.h"
#include "release.h"

#define RELEASE_POLL_USEC 1000000

static bool is_dmabuf(const struct buffer *b)
{
	return b->heap->fd_flags & WIRE_BUFFER_DMABUF;
}

/* References to the file behind a dma-buf fd, from its fdinfo; -1 if not told. */
static long dmabuf_references(int fd)
{
	char path[64], line[128];
	long count = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "count: %ld", &count) == 1)
			break;
	fclose(f);
	return count;
}

/* A new open file of the memory behind fd, as open(2) makes it. */
static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_CLOEXEC);
}

int release_client_fd(struct buffer *b)
{
	int fd;

	if (is_dmabuf(b)) {
		b->own_references = 1 + (b->map != NULL);
		fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
	} else {
		fd = reopen(b->fd, O_RDWR);
	}
	return fd < 0 ? -errno : fd;
}

static enum release_state dmabuf_check(const struct buffer *b)
{
	long count = dmabuf_references(b->fd);

	if (count < 0)
		return RELEASE_UNKNOWN;
	return count > (long)b->own_references + b->stored ? RELEASE_HELD : RELEASE_DONE;
}

/*
 * A write lease is granted to a file that no other file of the inode
 * shares for reading or writing: taken and given back at once, it says
 * whether the client's file and any it opened since are all closed.
 */
static enum release_state memfd_check(const struct buffer *b)
{
	enum release_state state = RELEASE_DONE;
	/* Without O_NONBLOCK a lease someone holds would block this open until broken. */
	int probe = reopen(b->fd, O_RDONLY | O_NONBLOCK);

	if (probe < 0)
		return errno == EWOULDBLOCK ? RELEASE_HELD : RELEASE_UNKNOWN;
	if (fcntl(probe, F_SETLEASE, F_WRLCK) < 0)
		state = errno == EAGAIN ? RELEASE_HELD : RELEASE_UNKNOWN;
	else
		(void)fcntl(probe, F_SETLEASE, F_UNLCK);
	close(probe);
	return state;
}

enum release_state release_check(const struct buffer *b)
{
	return is_dmabuf(b) ? dmabuf_check(b) : memfd_check(b);
}

static int on_poll(sd_event_source *source, uint64_t usec, void *userdata)
{
	struct release_watch *w = userdata;

	if (w->allocator->freed_buffers)
		allocator_reap(w->allocator, NULL);
	return sd_event_source_set_time_relative(source, RELEASE_POLL_USEC);
}

int release_watch_start(struct release_watch *w, sd_event *event, struct allocator *a)
{
	int r;

	*w = (struct release_watch){ .allocator = a };
	r = sd_event_add_time_relative(event, &w->timer, CLOCK_MONOTONIC, RELEASE_POLL_USEC,
				       RELEASE_POLL_USEC / 10, on_poll, w);
	if (r >= 0)
		r = sd_event_source_set_enabled(w->timer, SD_EVENT_ON);
	return r < 0 ? log_error_errno(r, "cannot watch freed buffers for their release") : 0;
}

void release_watch_fini(struct release_watch *w)
{
	w->timer = sd_event_source_disable_unref(w->timer);
}
