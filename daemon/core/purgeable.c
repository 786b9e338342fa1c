/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "iobuf/iobuf.h"
#include "log.h"
#include "purgeable.h"


static void count_volatile(struct allocator *a, struct buffer *b)
{
	a->volatile_bytes += b->size;
	b->volatile_seq = ++a->volatile_seq;
}

void purgeable_adopt(struct allocator *a, struct buffer *b)
{
	if (b->purgeable_state == IOBUF_PURGEABLE_VOLATILE)
		count_volatile(a, b);
}

void purgeable_forget(struct allocator *a, struct buffer *b)
{
	if (b->purgeable_state == IOBUF_PURGEABLE_VOLATILE)
		a->volatile_bytes -= b->size;
}

/*
 * The state is part of the buffer's name in the fd store, so it is stored
 * again. A buffer made volatile again becomes the newest volatile one, as
 * XNU queues it again at the end of its purgeable queue.
 */
static void set_state(struct allocator *a, struct client *client, struct buffer *b,
		      uint32_t state)
{
	if (b->purgeable_state == state) {
		if (state == IOBUF_PURGEABLE_VOLATILE)
			b->volatile_seq = ++a->volatile_seq;
		return;
	}
	purgeable_forget(a, b);
	b->purgeable_state = state;
	if (state == IOBUF_PURGEABLE_VOLATILE)
		count_volatile(a, b);
	fdstore_buffer(&a->store, b, client);
}

int allocator_set_purgeable(struct allocator *a, struct client *client, uint64_t id,
			    uint32_t state, uint32_t *old_state, struct reason *why)
{
	struct buffer *b = allocator_find_buffer(client, id, why);
	int r;

	if (!b)
		return -ENOENT;
	if (!(b->options & IOBUF_PURGEABLE))
		return reason_set(why, -EINVAL, "buffer %" PRIu64 " is not PURGEABLE", id);
	if (state < IOBUF_PURGEABLE_KEEP_CURRENT || state > IOBUF_PURGEABLE_EMPTY)
		return reason_set(why, -EINVAL, "unknown purgeable state %u", state);
	/*
	 * What has been emptied stays empty until its owner makes it
	 * non-volatile, as vm_object_purgable_control() has it: made volatile,
	 * it is emptied again, so that the next NON_VOLATILE reports EMPTY and
	 * nobody takes zeros, or half-rewritten contents, for kept data.
	 */
	if (state == IOBUF_PURGEABLE_VOLATILE && b->purgeable_state == IOBUF_PURGEABLE_EMPTY)
		state = IOBUF_PURGEABLE_EMPTY;
	if (state == IOBUF_PURGEABLE_EMPTY) {
		r = b->heap->ops->purge(b->heap, b->fd, b->size);
		if (r < 0)
			return reason_set(why, r, "cannot purge buffer %" PRIu64 ": %s", id,
					  strerror(-r));
	}
	*old_state = b->purgeable_state;
	if (state == IOBUF_PURGEABLE_KEEP_CURRENT)
		return 0;
	set_state(a, client, b, state);
	if (a->limits.volatile_bytes && a->volatile_bytes > a->limits.volatile_bytes)
		allocator_purge(a, a->limits.volatile_bytes, "over the volatile budget");
	return 0;
}

/* The volatile buffer made volatile longest ago, but after seq `after`; NULL for none. */
static struct buffer *oldest_volatile(struct allocator *a, uint64_t after,
				      struct client **owner)
{
	struct buffer *oldest = NULL;

	for (struct client *c = a->client_list; c; c = c->next) {
		for (struct buffer *b = c->held.buffers; b; b = b->next) {
			if (b->purgeable_state != IOBUF_PURGEABLE_VOLATILE ||
			    b->volatile_seq <= after)
				continue;
			if (!oldest || b->volatile_seq < oldest->volatile_seq) {
				oldest = b;
				*owner = c;
			}
		}
	}
	return oldest;
}

uint64_t allocator_purge(struct allocator *a, uint64_t keep_bytes, const char *cause)
{
	uint64_t bytes = 0, buffers = 0, after = 0;
	struct client *owner;
	struct buffer *b;

	while (a->volatile_bytes > keep_bytes && (b = oldest_volatile(a, after, &owner))) {
		after = b->volatile_seq;
		if (b->heap->ops->purge(b->heap, b->fd, b->size) < 0)
			continue; /* stays volatile; the next one may go instead */
		set_state(a, owner, b, IOBUF_PURGEABLE_EMPTY);
		event_log(LOG_DEBUG, &(struct event){ .kind = "purge", .client = owner, .buffer = b },
			  "client %u: buffer %" PRIu64 " purged: %s", owner->id, b->id, cause);
		bytes += b->size;
		buffers++;
	}
	if (buffers)
		event_log(LOG_INFO, &(struct event){ .kind = "purge", .message_id = EVENT_ID_PURGED },
			  "purged %" PRIu64 " volatile buffer%s, %" PRIu64 " bytes: %s", buffers,
			  buffers == 1 ? "" : "s", bytes, cause);
	return bytes;
}
