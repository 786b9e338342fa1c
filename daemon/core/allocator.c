/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "allocator.h"
#include "charge.h"
#include "clock.h"
#include "event.h"
#include "iobuf/iobuf.h"
#include "log-budget.h"
#include "log.h"
#include "purgeable.h"
#include "quota.h"
#include "release.h"
#include "request.h"

#define IMAGE_MAX_SIDE 16384u

int allocator_init(struct allocator *a, const struct limits *limits,
		   const struct heap_config *heaps)
{
	*a = (struct allocator){ .limits = *limits, .next_id = 1 };
	fdstore_init(&a->store);
	release_init();
	return heaps_init(&a->heaps, heaps);
}

void allocator_fini(struct allocator *a)
{
	/* The connections are gone by now: who is left was detached. */
	while (a->client_list) {
		struct client *d = a->client_list;

		allocator_drop_buffers(a, d);
		a->client_list = d->next;
		client_fini(d);
		free(d);
	}
	heaps_fini(&a->heaps);
	fdstore_fini(&a->store);
	uid_totals_fini(&a->uid_totals);
}

/* Whether the buffer's memory is released, the fd store's reference counted as the daemon's. */
static enum release_state released(const struct allocator *a, const struct buffer *b)
{
	return release_check(b, fdstore_holds_buffer(&a->store, b->id));
}

static void buffer_destroy(struct allocator *a, struct client *client, struct buffer *b)
{
	if (b->freed)
		a->freed_buffers--;
	purgeable_forget(a, b);
	fdstore_buffer_gone(&a->store, b);
	client_remove_buffer(client, b);
	uid_totals_add(&a->uid_totals, client->task.uid, -1, b->size);
	a->buffers--;
	a->bytes -= b->size;
	b->heap->buffers--;
	b->heap->bytes -= b->size;
	if (b->map)
		munmap(b->map, b->size);
	close(b->fd);
	free(b->label);
	free(b);
}

void allocator_add_client(struct allocator *a, struct client *client, unsigned id)
{
	bool taken_over = id != 0;

	if (!id)
		id = a->last_client_id + 1;
	if (id > a->last_client_id)
		a->last_client_id = id;
	client->id = id;
	event_log(LOG_DEBUG, &(struct event){ .kind = "connect", .client = client },
		  "client %u %s on the %s: pid %d uid %u %s", id,
		  taken_over ? "taken over" : "new", client->transport, (int)client->task.pid,
		  (unsigned)client->task.uid, client->task.comm);
	client->next = a->client_list;
	a->client_list = client;
	a->clients++;
}

struct client *allocator_find_client(const struct allocator *a, unsigned id)
{
	for (struct client *c = a->client_list; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void unlink_client(struct allocator *a, struct client *client)
{
	for (struct client **p = &a->client_list; *p; p = &(*p)->next) {
		if (*p == client) {
			*p = client->next;
			break;
		}
	}
}

/*
 * The owner is done with the buffer: it stays charged, freed, until
 * allocator_reap() sees its memory released.
 */
static void buffer_free(struct allocator *a, struct client *client, struct buffer *b)
{
	client_free_buffer(client, b);
	a->freed_buffers++;
}

/* Uncharges a freed buffer whose memory is released; whether it went. */
static bool buffer_reap(struct allocator *a, struct client *client, struct buffer *b)
{
	enum release_state state = released(a, b);

	if (state == RELEASE_DONE) {
		event_log(LOG_DEBUG, &(struct event){ .kind = "release", .client = client,
						      .buffer = b },
			  "client %u: buffer %" PRIu64 " released, %" PRIu64 " bytes uncharged",
			  client->id, b->id, b->size);
		buffer_destroy(a, client, b);
		return true;
	}
	/* The store learns it now, not at free: most buffers go at their first look. */
	fdstore_buffer(&a->store, b, client);
	if (state == RELEASE_UNKNOWN && !b->heap->release_unknown_logged) {
		log_warning("heap %s: the kernel does not say when its buffers are released; a "
			    "freed buffer stays charged until its owner disconnects", b->heap->name);
		b->heap->release_unknown_logged = true;
	}
	return false;
}

size_t allocator_free_client_buffers(struct allocator *a, struct client *client)
{
	size_t n = 0;

	for (struct buffer *b = client->held.buffers; b; b = b->next) {
		if (!b->freed) {
			buffer_free(a, client, b);
			n++;
		}
	}
	allocator_reap(a, client);
	return n;
}

size_t allocator_reap(struct allocator *a, struct client *only)
{
	struct client *c, *next_client;
	struct buffer *b, *next;
	size_t n = 0;

	for (c = only ? only : a->client_list; c; c = next_client) {
		next_client = only ? NULL : c->next;
		for (b = c->held.freed; b; b = next) {
			next = b->link;
			if (buffer_reap(a, c, b))
				n++;
		}
		if (c->detached && !c->held.buffers) {
			log_debug("client %u (pid %d, %s): its last buffer is released", c->id,
				  (int)c->task.pid, c->task.comm);
			unlink_client(a, c);
			client_fini(c);
			free(c);
		}
	}
	return n;
}

void allocator_catch_up(struct allocator *a, struct client *client)
{
	if (client && client->held.freed_count)
		allocator_reap(a, client);
	for (size_t i = 0; i < a->heaps.count; i++)
		if (a->heaps.heaps[i]->ops->prepare)
			a->heaps.heaps[i]->ops->prepare(a->heaps.heaps[i], a->next_id);
}

/* A client that outlives its connection while others refer to its buffers. */
static struct client *detached_copy(const struct client *client)
{
	struct client *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	*d = *client;
	d->detached = true;
	d->transport = "gone";
	d->bus_name = NULL;
	d->task.pidfd = -1;
	d->charge_to.watch = NULL;
	d->held = (struct client_holdings){ 0 };
	return d;
}

struct client *allocator_add_detached(struct allocator *a, unsigned id, uid_t uid, pid_t pid)
{
	struct client *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	*d = (struct client){ .id = id, .task = { .uid = uid, .pid = pid, .pidfd = -1 },
			      .peer.uid = uid, .detached = true, .transport = "gone",
			      .next = a->client_list };
	snprintf(d->task.comm, sizeof(d->task.comm), "?");
	if (id > a->last_client_id)
		a->last_client_id = id;
	a->client_list = d;
	return d;
}

/* Hands the buffers still referenced to a detached copy of the client. */
static void detach_held(struct allocator *a, struct client *client)
{
	struct client *d = NULL;
	struct buffer *b, *next;

	for (b = client->held.buffers; b; b = next) {
		next = b->next;
		if (released(a, b) != RELEASE_HELD) {
			event_log(LOG_DEBUG, &(struct event){ .kind = "release", .client = client,
							      .buffer = b },
				  "client %u: buffer %" PRIu64 " released with its connection",
				  client->id, b->id);
			buffer_destroy(a, client, b);
			continue;
		}
		if (!d && !(d = detached_copy(client))) {
			buffer_destroy(a, client, b);
			continue;
		}
		client_remove_buffer(client, b);
		if (!b->freed)
			a->freed_buffers++;
		b->freed = true;
		(void)client_add_buffer(d, b); /* a freed buffer needs no memory to add */
		fdstore_buffer(&a->store, b, d);
	}
	if (d) {
		if (log_budget_take(d->peer.uid))
			event_log(LOG_INFO, &(struct event){ .kind = "disconnect", .client = d,
							     .message_id = EVENT_ID_LEFT_HOLDING },
				  "client %u (pid %d, %s) left %" PRIu64 " buffers (%" PRIu64
				  " bytes) that others still refer to: they stay charged to it "
				  "until released", d->id, (int)d->task.pid, d->task.comm,
				  d->held.buffer_count, d->held.bytes);
		d->next = a->client_list;
		a->client_list = d;
	}
}

void allocator_remove_client(struct allocator *a, struct client *client)
{
	/* What it freed and is released goes first: it did not leave that behind. */
	if (client->held.freed_count && !a->store.stopping)
		allocator_reap(a, client);
	/* Worth a line only when the client left buffers behind, not when they are handed over. */
	if (client->held.buffer_count && !a->store.stopping) {
		if (log_budget_take(client->peer.uid))
			event_log(LOG_INFO, &(struct event){ .kind = "disconnect", .client = client },
				  "client %u (pid %d, %s%s%s) left holding %" PRIu64 " buffers (%"
				  PRIu64 " bytes)", client->id, (int)client->task.pid,
				  client->task.comm, client->bus_name ? ", " : "",
				  client->bus_name ? client->bus_name : "",
				  client->held.buffer_count, client->held.bytes);
	} else {
		event_log(LOG_DEBUG, &(struct event){ .kind = "disconnect", .client = client },
			  "client %u left", client->id);
	}
	fdstore_connection_gone(&a->store, client);
	charge_end(a, client);
	unlink_client(a, client);
	a->clients--;
	if (a->store.stopping) /* a restart: the fd store keeps every buffer */
		allocator_drop_buffers(a, client);
	else
		detach_held(a, client);
	client_fini(client);
}

void allocator_drop_buffers(struct allocator *a, struct client *client)
{
	while (client->held.buffers)
		buffer_destroy(a, client, client->held.buffers);
}

static uint32_t granted_options(uint32_t options)
{
	if ((options & IOBUF_CACHE_MASK) == IOBUF_CACHE_DEFAULT)
		options |= IOBUF_CACHE_COPYBACK;
	return options;
}

/* Validation and matching shared by allocate and query. */
/* The heap a client asked for by name, if it can serve the request; else NULL and *error. */
static struct heap *named_heap(struct allocator *a, const char *name,
			       const struct alloc_request *req, struct reason *why, int *error)
{
	struct heap *heap = heaps_find(&a->heaps, name);
	const char *lack;

	if (!heap) {
		*error = reason_set(why, -ENODEV, "iobufd serves no heap named %s", name);
		return NULL;
	}
	lack = heap_lack(heap, req->options, request_size(req), req->physical_mask);
	if (lack) {
		*error = reason_set(why, -EOPNOTSUPP, "heap %s lacks %s", heap->name, lack);
		return NULL;
	}
	return heap;
}

static struct heap *match(struct allocator *a, const struct alloc_request *req, struct reason *why,
			  int *error)
{
	struct heap *heap;

	*error = request_check(req, a->limits.max_buffer_size, why);
	if (*error < 0)
		return NULL;
	if (spec_names_heap(&req->spec))
		return named_heap(a, req->spec.heap, req, why, error);
	why->limit[0] = '\0'; /* heaps_match() writes only the text */
	heap = heaps_match(&a->heaps, NULL, req->options, request_size(req), req->physical_mask,
			   why->text, sizeof(why->text));
	if (!heap)
		*error = -EOPNOTSUPP;
	return heap;
}


int allocator_query(struct allocator *a, const struct alloc_request *req,
		    struct alloc_result *result, struct reason *why)
{
	struct heap *heap;
	int r;

	heap = match(a, req, why, &r);
	if (!heap)
		return r;
	*result = (struct alloc_result){ .size = request_size(req),
					 .options = granted_options(req->options),
					 .fd_flags = heap->fd_flags, .heap = heap };
	return 0;
}

/*
 * Whether a heap's failure is its own, so that the next heap that matches
 * may serve instead: its device failed or went away, or it has no memory
 * left for this request (ENOSPC: a pool or VRAM is full; EFBIG: more than
 * it can make at once). Anything else is the request's.
 */
static bool heap_failed(int r)
{
	switch (r) {
	case -ENODEV:
	case -ENXIO:
	case -EIO:
	case -ENOTTY:
	case -ENOMEM:
	case -ENOSPC:
	case -EFBIG:
		return true;
	default:
		return false;
	}
}

/*
 * A device that is gone stays gone: its heap leaves the matching for good.
 * A heap out of memory stays in it; that is said once per heap, not per
 * request, as it may go on for a while.
 */
static void note_heap_failure(struct heap *heap, int r, const char *what)
{
	if (r == -ENODEV || r == -ENXIO) {
		heap->gone = true;
		log_warning("%s; heap %s serves no more, the next heap that matches will", what,
			    heap->name);
	} else if (r == -EIO || r == -ENOTTY) {
		log_warning("%s; trying the next heap", what);
	} else if (!heap->full_logged) {
		heap->full_logged = true;
		log_warning("%s; the next heap that matches serves instead (said once for %s)",
			    what, heap->name);
	}
}

/*
 * Allocates on the first matching heap, going on to the next one that
 * matches when a heap fails on its own (heap_failed()); *heap is then the
 * one that served. Returns the fd or a negative errno; why then names
 * every heap tried.
 */
static int allocate_on(struct allocator *a, struct heap **heap, const struct alloc_request *req,
		       const struct heap_request *hreq, uint64_t *size, struct reason *why)
{
	struct reason what;
	int r;

	why->text[0] = why->limit[0] = '\0';
	for (;;) {
		*size = hreq->size;
		r = quota_check_heap(a, *heap, hreq->size, &what);
		if (r >= 0) {
			r = (*heap)->ops->allocate(*heap, hreq, size);
			if (r >= 0)
				return r;
			reason_set(&what, r, "heap %s cannot allocate %" PRIu64 " bytes: %s",
				   (*heap)->name, hreq->size, strerror(-r));
		}
		reason_add(why, r, "%s", what.text);
		if (r == -EDQUOT || !heap_failed(r))
			return r;
		note_heap_failure(*heap, r, what.text);
		if (spec_names_heap(&req->spec))
			return r;
		*heap = heaps_match(&a->heaps, *heap, req->options, hreq->size, req->physical_mask,
				    why->text, sizeof(why->text));
		if (!*heap)
			return r;
	}
}

/* Counts b (filled in) as the client's, in every total; -ENOMEM counts nothing. */
static int account(struct allocator *a, struct client *client, struct buffer *b)
{
	if (uid_totals_add(&a->uid_totals, client->task.uid, +1, b->size) < 0)
		return -ENOMEM;
	if (client_add_buffer(client, b) < 0) {
		uid_totals_add(&a->uid_totals, client->task.uid, -1, b->size);
		return -ENOMEM;
	}
	a->buffers++;
	a->bytes += b->size;
	b->heap->buffers++;
	b->heap->bytes += b->size;
	return 0;
}

/*
 * KERNEL_USER_SHARED: the buffer stays mapped in the daemon as long as it
 * lives (see iobuf.h). Other buffers: *map is NULL.
 */
static int map_in_daemon(uint32_t options, int fd, uint64_t size, void **map, struct reason *why)
{
	*map = NULL;
	if (!(options & IOBUF_KERNEL_USER_SHARED))
		return 0;
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map != MAP_FAILED)
		return 0;
	*map = NULL;
	return reason_set(why, -EOPNOTSUPP, "cannot map the buffer in the daemon (KERNEL_USER_SHARED): %s",
			  strerror(errno));
}

/*
 * Records a new buffer of the client around fd, which it takes (closing it
 * on failure). NULL on failure, with why.
 */
static struct buffer *charge(struct allocator *a, struct client *client, struct heap *heap,
			     uint64_t size, int fd, uint32_t options, const char *label,
			     struct reason *why)
{
	struct buffer *b = calloc(1, sizeof(*b));
	char *label_copy = label && label[0] ? strdup(label) : NULL;

	if (!b || (label && label[0] && !label_copy)) {
		free(b);
		free(label_copy);
		close(fd);
		reason_set(why, -ENOMEM, "out of memory");
		return NULL;
	}
	*b = (struct buffer){
		.id = a->next_id++,
		.size = size,
		.fd = fd,
		.options = options,
		.purgeable_state = IOBUF_PURGEABLE_NON_VOLATILE,
		.heap = heap,
		.client_id = client->id,
		.label = label_copy,
		.created_usec = clock_usec(CLOCK_REALTIME),
	};
	if (account(a, client, b) < 0) {
		free(label_copy);
		free(b);
		close(fd);
		reason_set(why, -ENOMEM, "out of memory");
		return NULL;
	}
	quota_count_allocation(client);
	fdstore_buffer(&a->store, b, client);
	event_log(LOG_DEBUG, &(struct event){ .kind = "allocate", .client = client, .buffer = b },
		  "client %u: buffer %" PRIu64 ": %" PRIu64 " bytes on %s, options 0x%x%s%s",
		  client->id, b->id, size, heap->name, options, b->label ? ", label " : "",
		  b->label ? b->label : "");
	return b;
}

int allocator_adopt_buffer(struct allocator *a, struct client *client,
			   const struct stored_buffer *stored, struct reason *why)
{
	struct heap *heap = heaps_find(&a->heaps, stored->heap);
	struct buffer *b;
	char *label_copy;
	void *map;
	int r;

	if (!heap)
		return reason_set(why, -ENODEV, "its heap %s is not in use any more", stored->heap);
	if (stored->state < IOBUF_PURGEABLE_NON_VOLATILE || stored->state > IOBUF_PURGEABLE_EMPTY)
		return reason_set(why, -EINVAL, "unknown purgeable state %u", stored->state);
	r = map_in_daemon(stored->options, stored->fd, stored->size, &map, why);
	if (r < 0)
		return r;
	b = calloc(1, sizeof(*b));
	label_copy = stored->label[0] ? strdup(stored->label) : NULL;
	if (!b || (stored->label[0] && !label_copy)) {
		free(b);
		free(label_copy);
		if (map)
			munmap(map, stored->size);
		return reason_set(why, -ENOMEM, "out of memory");
	}
	*b = (struct buffer){
		.map = map,
		.freed = stored->freed || client->detached,
		.id = stored->id,
		.size = stored->size,
		.fd = stored->fd,
		.options = stored->options,
		.purgeable_state = stored->state,
		.heap = heap,
		.client_id = client->id,
		.label = label_copy,
		.created_usec = stored->created_usec ? stored->created_usec : clock_usec(CLOCK_REALTIME),
	};
	if (account(a, client, b) < 0) {
		free(label_copy);
		free(b);
		if (map)
			munmap(map, stored->size);
		return reason_set(why, -ENOMEM, "out of memory");
	}
	a->freed_buffers += b->freed;
	fdstore_adopt(&a->store, STORED_BUFFER, b->id, stored->name);
	purgeable_adopt(a, b);
	event_log(LOG_DEBUG, &(struct event){ .kind = "restore", .client = client, .buffer = b },
		  "client %u: buffer %" PRIu64 " taken over", client->id, b->id);
	if (stored->id >= a->next_id)
		a->next_id = stored->id + 1;
	return 0;
}

/* The fd the client gets for a new buffer, in *fd; the buffer goes on failure. */
static int hand_out(struct allocator *a, struct client *client, struct buffer *b, int *fd,
		    struct reason *why)
{
	*fd = release_client_fd(b);
	if (*fd >= 0)
		return 0;
	buffer_destroy(a, client, b);
	return reason_set(why, *fd == -EMFILE || *fd == -ENFILE ? -ENOMEM : *fd,
			  "cannot make an fd for the buffer: %s", strerror(-*fd));
}

/* A connection whose charged task has exited gets nothing more. */
static int check_alive(const struct client *client, struct reason *why)
{
	if (!client->charge_to.exited)
		return 0;
	return reason_set(why, -ESRCH, "the task this connection charges (pid %d) has exited",
			  (int)client->task.pid);
}

/*
 * A heap may make more than was asked (GBM rounds up to whole rows, and an
 * image's size is known only once it is made): the limits hold for what it
 * made, and over one the buffer goes again.
 */
static int check_made(struct allocator *a, struct client *client, const struct heap *heap,
		      uint64_t asked, uint64_t made, struct reason *why)
{
	struct reason limit_why;
	int r;

	if (made <= asked)
		return 0;
	if (made > a->limits.max_buffer_size)
		return reason_set(why, -EFBIG, "heap %s makes %" PRIu64 " bytes for this request, "
				  "over the maximum buffer size %" PRIu64, heap->name, made,
				  a->limits.max_buffer_size);
	r = quota_check_client(a, client, made, &limit_why);
	if (r >= 0)
		r = quota_check_heap(a, heap, made, &limit_why);
	if (r < 0)
		return reason_set(why, r, "heap %s makes %" PRIu64 " bytes for this request: %.360s",
				  heap->name, made, limit_why.text);
	return 0;
}

int allocator_allocate(struct allocator *a, struct client *client,
		       const struct alloc_request *req, struct alloc_result *result, int *fd,
		       struct reason *why)
{
	struct heap_request hreq = { .id = a->next_id, .options = req->options,
				     .comm = client->task.comm, .label = req->spec.label };
	struct buffer *b;
	struct heap *heap;
	uint64_t size;
	void *map;
	int buffer_fd, r;

	heap = match(a, req, why, &r);
	if (!heap)
		return r;
	hreq.size = request_size(req);
	if (client->held.freed_count)
		allocator_reap(a, client);
	r = check_alive(client, why);
	if (r >= 0)
		r = quota_check_client(a, client, hreq.size, why);
	if (r >= 0)
		r = quota_check_rate(a, client, why);
	if (r < 0)
		return r;

	r = allocate_on(a, &heap, req, &hreq, &size, why);
	if (r < 0)
		return r;
	buffer_fd = r;
	r = check_made(a, client, heap, hreq.size, size, why);
	if (r >= 0)
		r = map_in_daemon(req->options, buffer_fd, size, &map, why);
	if (r < 0) {
		close(buffer_fd);
		return r;
	}
	b = charge(a, client, heap, size, buffer_fd, granted_options(req->options), req->spec.label,
		   why);
	if (!b) {
		if (map)
			munmap(map, size);
		return -ENOMEM;
	}
	b->map = map;
	r = hand_out(a, client, b, fd, why);
	if (r < 0)
		return r;
	*result = (struct alloc_result){ .id = b->id, .size = size, .options = b->options,
					 .fd_flags = heap->fd_flags, .heap = heap };
	return 0;
}

int allocator_allocate_n(struct allocator *a, struct client *client,
			 const struct alloc_request *req, uint32_t count, bool pooled, uint64_t *ids,
			 int *fds, struct alloc_result *result, struct reason *why)
{
	struct alloc_request alike = *req;
	struct buffer *b;
	uint32_t made;
	int r = 0;

	if (count < 1 || count > ALLOCATOR_MAX_BATCH)
		return reason_set(why, -EINVAL, "a batch is 1 to %d buffers, not %" PRIu32,
				  ALLOCATOR_MAX_BATCH, count);
	for (made = 0; made < count; made++) {
		r = allocator_allocate(a, client, &alike, result, &fds[made], why);
		if (r < 0)
			break;
		ids[made] = result->id;
		client_find_buffer(client, result->id)->pooled = pooled;
		/* The rest from the heap that served the first: one reply says what all are. */
		alike.spec.heap = result->heap->name;
	}
	if (r >= 0) {
		result->id = ids[0];
		return 0;
	}
	/* All or none: what the batch made goes, unseen by anyone. */
	for (uint32_t i = made; i-- > 0;) {
		close(fds[i]);
		b = client_find_buffer(client, ids[i]);
		if (b)
			buffer_destroy(a, client, b);
	}
	if (made == 0)
		return reason_add(why, r, "none of the %" PRIu32 " buffers was made", count);
	/* The reason counted the batch's own buffers as in use: say they went. */
	return reason_add(why, r, "the batch failed at buffer %" PRIu32 ", and none of the %"
			  PRIu32 " buffers was made", made + 1, count);
}

/*
 * The heap the spec names, if it creates images, or else the first heap that
 * does; NULL with why naming the heaps.
 */
static struct heap *image_heap(struct allocator *a, const struct buffer_spec *spec,
			       struct reason *why, int *error)
{
	char names[REASON_MAX] = "";
	struct heap *heap;
	size_t used = 0;

	*error = -EOPNOTSUPP;
	if (spec_names_heap(spec)) {
		heap = heaps_find(&a->heaps, spec->heap);
		if (!heap)
			*error = reason_set(why, -ENODEV, "iobufd serves no heap named %s", spec->heap);
		else if (!heap->ops->allocate_image)
			reason_set(why, 0, "heap %s creates no images (GBM heaps do)", heap->name);
		return heap && heap->ops->allocate_image ? heap : NULL;
	}
	for (size_t i = 0; i < a->heaps.count; i++)
		if (a->heaps.heaps[i]->ops->allocate_image)
			return a->heaps.heaps[i];
	for (size_t i = 0; i < a->heaps.count && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, " %s",
					 a->heaps.heaps[i]->name);
	reason_set(why, 0, "no heap creates images (GBM heaps do); heaps:%s", names);
	return NULL;
}

static int check_image(const struct image_request *req, struct reason *why)
{
	if (req->width == 0 || req->height == 0 || req->width > IMAGE_MAX_SIDE ||
	    req->height > IMAGE_MAX_SIDE)
		return reason_set(why, -EINVAL, "image size %ux%u is not within 1x1 to %ux%u", req->width,
				  req->height, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE);
	if (req->usage & ~(uint32_t)IOBUF_IMAGE_USAGE_KNOWN)
		return reason_set(why, -EINVAL, "unknown image usage bits 0x%x",
				  req->usage & ~(uint32_t)IOBUF_IMAGE_USAGE_KNOWN);
	return 0;
}

/* The cache mode a heap maps with, as granted options. */
static uint32_t heap_cache_mode(const struct heap *heap)
{
	for (uint32_t mode = 1; mode <= (IOBUF_CACHE_WRITECOMBINE >> IOBUF_CACHE_SHIFT); mode++)
		if (heap->caps.cache_modes & (1u << mode))
			return mode << IOBUF_CACHE_SHIFT;
	return IOBUF_CACHE_COPYBACK;
}

int allocator_allocate_image(struct allocator *a, struct client *client,
			     const struct image_request *req, const struct buffer_spec *spec,
			     struct image_result *result, int *fd, struct reason *why)
{
	struct heap_request hreq = { .id = a->next_id, .comm = client->task.comm,
				     .label = spec->label };
	struct heap *heap;
	struct buffer *b;
	int image_fd, r;

	r = check_image(req, why);
	if (r >= 0)
		r = spec_check(spec, why);
	if (r < 0)
		return r;
	heap = image_heap(a, spec, why, &r);
	if (!heap)
		return r;
	if (client->held.freed_count)
		allocator_reap(a, client);
	r = check_alive(client, why);
	if (r >= 0)
		r = quota_check_client(a, client, 0, why);
	if (r >= 0)
		r = quota_check_rate(a, client, why);
	if (r < 0)
		return r;
	*result = (struct image_result){ 0 };
	r = heap->ops->allocate_image(heap, &hreq, req, &result->layout);
	if (r < 0)
		return reason_set(why, r == -EINVAL ? -EOPNOTSUPP : r, "heap %s cannot create a "
				  "%ux%u image of format 0x%08x: %s", heap->name, req->width,
				  req->height, req->fourcc, strerror(-r));
	image_fd = r;
	r = check_made(a, client, heap, 0, result->layout.size, why);
	if (r < 0) {
		close(image_fd);
		return r;
	}
	r = image_fd;
	b = charge(a, client, heap, result->layout.size, r, heap_cache_mode(heap), spec->label,
		   why);
	if (!b)
		return -ENOMEM;
	r = hand_out(a, client, b, fd, why);
	if (r < 0)
		return r;
	result->buffer = (struct alloc_result){ .id = b->id, .size = b->size,
						.options = b->options,
						.fd_flags = result->layout.fd_flags, .heap = heap };
	return 0;
}

struct buffer *allocator_find_buffer(const struct client *client, uint64_t id, struct reason *why)
{
	struct buffer *b = client_find_buffer(client, id);

	if (!b)
		reason_set(why, -ENOENT, "no buffer %" PRIu64 " in this task", id);
	return b;
}

int allocator_claim(struct allocator *a, struct client *client, uint64_t id, struct reason *why)
{
	struct buffer *b = allocator_find_buffer(client, id, why);

	if (!b)
		return -ENOENT;
	b->pooled = false;
	return 0;
}

int allocator_free(struct allocator *a, struct client *client, uint64_t id, struct reason *why)
{
	struct buffer *b = allocator_find_buffer(client, id, why);

	if (!b)
		return -ENOENT;
	buffer_free(a, client, b);
	event_log(LOG_DEBUG, &(struct event){ .kind = "free", .client = client, .buffer = b },
		  "client %u: buffer %" PRIu64 " freed", client->id, id);
	return 0;
}

void allocator_stats(const struct allocator *a, const struct client *client,
		     struct allocator_stats *stats)
{
	*stats = (struct allocator_stats){
		.client_buffers = client->held.buffer_count,
		.client_bytes = client->held.bytes,
		.total_buffers = a->buffers,
		.total_bytes = a->bytes,
		.clients = a->clients,
	};
}
