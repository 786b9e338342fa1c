/* SPDX-License-Identifier: MIT */
/*
 * When a buffer's memory is really released. A buffer stays charged to its
 * owner until then, not until the owner frees its id: until no fd, no
 * mapping, no fd in flight on a socket and no device import anywhere refers
 * to it. The daemon keeps its own reference and asks the kernel whether any
 * other is left:
 *
 *  - a dma-buf's fdinfo counts the references to its file (count:); the
 *    memory is the daemon's alone when they are the daemon's own (its fd, its
 *    mapping) and the fd store's copy;
 *  - a memfd is handed out as a second open file of the same memory (the
 *    memfd heap makes it, heaps/memfd.c), which
 *    the kernel counts as a writer of the inode (the daemon's own file, made
 *    by memfd_create, it does not count), and the inode's mode is then set
 *    to 0, so that no unprivileged task can open it again, read-only or not.
 *    A read lease is granted only while no file is open for writing: it is
 *    granted to the daemon's file once the client's, and any the client
 *    made from it, are closed. A mapping keeps its file open.
 *
 * Where neither answers (another kind of fd, a kernel without leases),
 * the buffer stays charged until its owner's connection ends.
 */
#ifndef IOBUFD_RELEASE_H
#define IOBUFD_RELEASE_H

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "client.h"

enum release_state {
	RELEASE_HELD,     /* referenced outside the daemon */
	RELEASE_DONE,     /* the daemon's reference is the last */
	RELEASE_UNKNOWN,  /* the kernel does not say */
};

/* Opens what the checks read, once, before any buffer. */
void release_init(void);

/*
 * The fd to hand a new buffer's owner, which the caller closes once sent:
 * for a memfd a second open file (and nobody unprivileged opens another),
 * for others a duplicate. A negative errno on failure.
 */
int release_client_fd(const struct buffer *b);

/*
 * Whether anything outside the daemon still refers to the buffer's memory;
 * stored: the service manager's fd store holds a reference for the daemon.
 */
enum release_state release_check(const struct buffer *b, bool stored);

struct allocator;

/* Looks every second, while buffers wait for their release, at all of them. */
struct release_watch {
	struct allocator *allocator;
	sd_event_source *timer;
};

int release_watch_start(struct release_watch *w, sd_event *event, struct allocator *a);
void release_watch_stop(struct release_watch *w);

#endif
