/* SPDX-License-Identifier: MIT */
/*
 * The allocation core in-process: an allocator serving from the memfd heap
 * only, and clients made without sockets, as the front ends would make
 * them. A buffer's owner fd is what the front end would send; the test
 * holds it, and a freed buffer stays charged until it is closed
 * (release.h).
 */
#ifndef IOBUFD_TEST_CORE_FIXTURE_H
#define IOBUFD_TEST_CORE_FIXTURE_H

#include <stdint.h>
#include <sys/types.h>

#include "core/allocator.h"

#define CORE_CLIENTS_MAX 8

struct core {
	struct allocator allocator;
	struct client *clients[CORE_CLIENTS_MAX]; /* live ones, NULL once removed */
	size_t client_count;
	struct reason why;
};

/* A buffer as its owner holds it. */
struct held {
	uint64_t id;
	uint64_t size;
	int fd; /* the owner's fd, -1 once closed */
};

/* The page size: every size the core charges is a multiple of it. */
uint64_t page(void);

/* An allocator with limits (NULL: limits_default()) serving from memfd only. */
struct core *core_new(const struct limits *limits);
/* Removes the clients left and frees it all; the caller closed its fds. */
void core_free(struct core *core);

/* A connected client of uid in unit and cgroup ("" for none), pid this process. */
struct client *core_client(struct core *core, uid_t uid, const char *unit, const char *cgroup);
/* Its connection ends, as a front end ends it; buffers still held stay charged, detached. */
void core_remove_client(struct core *core, struct client *client);

/*
 * Allocates capacity bytes with options for client, then catches up as a
 * front end does once its reply is sent. 0 with *held filled, or the
 * negative errno with core->why.text; held->fd is -1 then.
 */
int core_allocate(struct core *core, struct client *client, uint64_t capacity,
		  uint32_t options, struct held *held);
/* Frees the buffer, closes the owner's fd and catches up: its charge goes. */
void core_release(struct core *core, struct client *client, struct held *held);
/* Frees the buffer but keeps the owner's fd open: it stays charged. */
void core_free_only(struct core *core, struct client *client, const struct held *held);
void core_close(struct held *held);

/* The open fds of this process. */
unsigned open_fds(void);

#endif
