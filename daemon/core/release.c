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
	return b->heap->fd_flags & HEAP_FD_DMABUF;
}

/*
 * /proc/self/fdinfo, kept open from the start: a walk from / on every free
 * costs more than the rest of the open.
 */
static int fdinfo_dir = -1;

static int proc_self_dir(const char *name, int *dir)
{
	if (*dir < 0)
		*dir = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *dir;
}

/* References to the file behind a dma-buf fd, from its fdinfo; -1 if not told. */
static long dmabuf_references(int fd)
{
	char name[16], text[512];
	const char *count;
	ssize_t len;
	int info;

	snprintf(name, sizeof(name), "%d", fd);
	if (proc_self_dir("/proc/self/fdinfo", &fdinfo_dir) < 0)
		return -1;
	info = openat(fdinfo_dir, name, O_RDONLY | O_CLOEXEC);
	if (info < 0)
		return -1;
	len = read(info, text, sizeof(text) - 1);
	close(info);
	if (len <= 0)
		return -1;
	text[len] = '\0';
	count = strstr(text, "\ncount:");
	return count ? strtol(count + strlen("\ncount:"), NULL, 10) : -1;
}

void release_init(void)
{
	(void)proc_self_dir("/proc/self/fdinfo", &fdinfo_dir);
}

int release_client_fd(const struct buffer *b)
{
	int fd;

	if (b->heap->ops->owner_fd)
		return b->heap->ops->owner_fd(b->heap, b->fd);
	fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -errno : fd;
}

static enum release_state dmabuf_check(const struct buffer *b, bool stored)
{
	/* The daemon's own references: its fd, its mapping, the fd store's copy. */
	long own = 1 + (b->map != NULL) + stored;
	long count = dmabuf_references(b->fd);

	if (count < 0)
		return RELEASE_UNKNOWN;
	return count > own ? RELEASE_HELD : RELEASE_DONE;
}

/*
 * A read lease is granted to a file only while no file of its inode is open
 * for writing, and the daemon's own (made by memfd_create) is not counted:
 * it is granted once the client's file, and any it opened since, are all
 * closed and unmapped. A buffer released is closed at once, and its lease
 * with it.
 */
static enum release_state memfd_check(const struct buffer *b)
{
	if (fcntl(b->fd, F_SETLEASE, F_RDLCK) == 0)
		return RELEASE_DONE;
	return errno == EAGAIN ? RELEASE_HELD : RELEASE_UNKNOWN;
}

enum release_state release_check(const struct buffer *b, bool stored)
{
	return is_dmabuf(b) ? dmabuf_check(b, stored) : memfd_check(b);
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

void release_watch_stop(struct release_watch *w)
{
	w->timer = sd_event_source_disable_unref(w->timer);
}
