/* SPDX-License-Identifier: MIT */
/*
 * The allocation core: validates a request, matches a heap, allocates,
 * charges the client and keeps the totals. Every transport calls this.
 *
 * Functions that can fail return 0 or a negative errno and then say why
 * (reason.h) in words for the client; a failure changes nothing.
 */
#ifndef IOBUFD_ALLOCATOR_H
#define IOBUFD_ALLOCATOR_H

#include "client.h"
#include "store/fdstore.h"
#include "heaps/heaps.h"
#include "limits.h"
#include "reason.h"
#include "request.h"
#include "uid-totals.h"

struct allocator {
	struct heap_list heaps;
	struct limits limits;
	uint64_t next_id;
	uint64_t buffers; /* over every client */
	uint64_t bytes;
	unsigned clients;
	unsigned last_client_id;
	struct client *client_list; /* every client of either transport */
	struct fdstore store;        /* keeps buffers across a restart */
	uint64_t volatile_bytes;     /* in buffers now VOLATILE */
	uint64_t freed_buffers;      /* freed by their owners, still referenced (release.h) */
	uint64_t volatile_seq;       /* the last buffer made volatile got this */
	struct uid_totals uid_totals; /* every buffer counted, by its client's uid */
};

/* heaps selects, orders and marks the heaps (see heaps_init()). */
int allocator_init(struct allocator *a, const struct limits *limits,
		   const struct heap_config *heaps);
void allocator_fini(struct allocator *a);

/*
 * Counts the client and gives it an id: a new one, or id when it is one
 * the previous iobufd gave (not 0).
 */
void allocator_add_client(struct allocator *a, struct client *client, unsigned id);
/*
 * The client's connection or bus name is gone: its buffers go, but those
 * others still refer to stay charged to a detached copy of it until they
 * are released (release.h). Says so when it leaves buffers, forgets its
 * stored connection and finishes the client; the caller frees it. Both
 * front ends end their clients here.
 */
void allocator_remove_client(struct allocator *a, struct client *client);
/* Closes every buffer of the client, charge and all (a restart, a shutdown). */
void allocator_drop_buffers(struct allocator *a, struct client *client);
/*
 * Uncharges the freed buffers (of only, or of every client when NULL) whose
 * memory has been released, and forgets detached clients left with none.
 * How many went.
 */
size_t allocator_reap(struct allocator *a, struct client *only);
/*
 * Work a client need not wait for, done once its reply is sent (client
 * NULL: before serving): uncharges what it freed and is released, and
 * makes ahead what the next allocation needs.
 */
void allocator_catch_up(struct allocator *a, struct client *client);
struct client *allocator_find_client(const struct allocator *a, unsigned id);
/* A detached client restored for freed buffers whose owner had gone; NULL without memory. */
struct client *allocator_add_detached(struct allocator *a, unsigned id, uid_t uid, pid_t pid);
/*
 * Frees every buffer of the client, which stays connected; how many. Those
 * still referenced stay charged until released, as after allocator_free().
 */
size_t allocator_free_client_buffers(struct allocator *a, struct client *client);

/* A buffer the core made, or would make (query: id 0). */
struct alloc_result {
	uint64_t id;
	uint64_t size;
	uint32_t options;        /* granted */
	uint32_t fd_flags;       /* HEAP_FD_* */
	const struct heap *heap; /* that serves it */
};

/* A GPU image the core made. */
struct image_result {
	struct alloc_result buffer;
	struct image_layout layout;
};

/* On success *fd is an fd of the buffer for the client, which the caller closes once sent. */
int allocator_allocate(struct allocator *a, struct client *client,
		       const struct alloc_request *req, struct alloc_result *result, int *fd,
		       struct reason *why);
/* The most buffers one allocate_n makes. */
#define ALLOCATOR_MAX_BATCH 64

/*
 * count (1 to ALLOCATOR_MAX_BATCH) buffers alike, from one heap, all or
 * none: ids[] and fds[] (the client's, to close once sent) get each one's,
 * *result what all of them are (its id the first's). On failure nothing of
 * the batch is left.
 */
int allocator_allocate_n(struct allocator *a, struct client *client,
			 const struct alloc_request *req, uint32_t count, bool pooled, uint64_t *ids,
			 int *fds, struct alloc_result *result, struct reason *why);
/* The client took buffer id out of its pool: it is in use from now on. */
int allocator_claim(struct allocator *a, struct client *client, uint64_t id, struct reason *why);
/* A GPU image on the heap spec names, or the first that creates them; *fd as for allocate. */
int allocator_allocate_image(struct allocator *a, struct client *client,
			     const struct image_request *req, const struct buffer_spec *spec,
			     struct image_result *result, int *fd, struct reason *why);
int allocator_query(struct allocator *a, const struct alloc_request *req,
		    struct alloc_result *result, struct reason *why);
/*
 * Ends the client's use of buffer id. Its charge ends when its memory is
 * released (release.h): allocator_catch_up() looks once the reply is sent.
 */
int allocator_free(struct allocator *a, struct client *client, uint64_t id, struct reason *why);
int allocator_set_purgeable(struct allocator *a, struct client *client, uint64_t id,
			    uint32_t state, uint32_t *old_state, struct reason *why);
/*
 * Charges a buffer the previous iobufd stored to client, taking its fd. On
 * failure (its heap is no more) the caller still owns the fd.
 */
int allocator_adopt_buffer(struct allocator *a, struct client *client,
			   const struct stored_buffer *stored, struct reason *why);
/*
 * Empties volatile buffers, least recently made volatile first, until at
 * most keep_bytes are volatile; logs the bytes reclaimed and why. Returns them.
 */
uint64_t allocator_purge(struct allocator *a, uint64_t keep_bytes, const char *cause);
/* The client's buffer id, or NULL with why. */
struct buffer *allocator_find_buffer(const struct client *client, uint64_t id, struct reason *why);
struct allocator_stats {
	uint64_t client_buffers;
	uint64_t client_bytes;
	uint64_t total_buffers;
	uint64_t total_bytes;
	uint32_t clients;
};
void allocator_stats(const struct allocator *a, const struct client *client,
		     struct allocator_stats *stats);

#endif
