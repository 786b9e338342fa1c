/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "core/charge.h"
#include "core/event.h"
#include "log.h"
#include "restore.h"

/* Takes the fd out of the handover: whoever gets it now owns it. */
static int take_fd(int *fd)
{
	int taken = *fd;

	*fd = -1;
	return taken;
}

static void restore_connections(struct handover *h, struct allocator *a,
				const struct restore_front_ends *fe)
{
	struct fdstore *store = &a->store;
	int r;

	for (size_t i = 0; i < h->connection_count; i++) {
		struct stored_connection *c = &h->connections[i];

		r = fe->adopt_connection(fe->socket, take_fd(&c->fd), c->client_id);
		if (r >= 0) {
			fdstore_adopt(store, STORED_CONNECTION, c->client_id, c->name);
			continue;
		}
		log_error_errno(r, "cannot take over client %u", c->client_id);
		fdstore_forget_name(store, c->name);
	}
}

/*
 * The client a stored fd belongs to: a connection taken over, or a bus
 * caller still on the bus (bus_name not "").
 */
static struct client *client_of(unsigned client_id, const char *bus_name, struct allocator *a,
				const struct restore_front_ends *fe)
{
	struct client *client = allocator_find_client(a, client_id);

	if (!bus_name[0])
		return client && !client->bus_name ? client : NULL;
	if (client)
		return client->bus_name && strcmp(client->bus_name, bus_name) == 0 ? client : NULL;
	return fe->adopt_bus_client(fe->bus, bus_name, client_id, &client) >= 0 ? client : NULL;
}

static void restore_charges(struct handover *h, struct allocator *a, sd_event *event,
			    const struct restore_front_ends *fe)
{

	for (size_t i = 0; i < h->charge_count; i++) {
		struct stored_charge *c = &h->charges[i];
		struct client *client = client_of(c->client_id, c->bus_name, a, fe);

		if (client && !client->charge_to.watch) {
			charge_resume(a, event, client, c, take_fd(&c->fd));
			continue;
		}
		log_info("the charge of client %u to pid %d is dropped: the client has gone",
			 c->client_id, (int)c->pid);
		fdstore_forget_name(&a->store, c->name);
		close(take_fd(&c->fd));
	}
}

/*
 * The client a buffer stays charged to when its owner has gone, while
 * others still refer to it: one made from what the stored name says (no
 * unit or cgroup: they are not stored), shared by the owner's other buffers.
 */
static struct client *detached_owner(const struct stored_buffer *b, struct allocator *a)
{
	struct client *c = allocator_find_client(a, b->client_id);

	if (c)
		return c->detached && c->task.uid == b->uid ? c : NULL;
	return allocator_add_detached(a, b->client_id, b->uid, b->pid);
}

/* Adopts one buffer; the bytes it charges, 0 when it was released instead. */
static uint64_t restore_buffer(struct stored_buffer *b, struct allocator *a,
			       const struct restore_front_ends *fe)
{
	struct reason why = { "its owner has gone" };
	struct client *owner = client_of(b->client_id, b->bus_name, a, fe);

	if (!owner && b->owner_known)
		owner = detached_owner(b, a);
	if (owner && allocator_adopt_buffer(a, owner, b, &why) == 0) {
		b->fd = -1;
		return b->size;
	}
	log_fields(LOG_INFO, NULL, (const struct log_field[]){ { "EVENT", "release" } }, 1,
		   "buffer %" PRIu64 " of client %u (%" PRIu64 " bytes on %s) released: %s", b->id,
		   b->client_id, b->size, b->heap, why.text);
	fdstore_forget_name(&a->store, b->name);
	close(take_fd(&b->fd));
	return 0;
}

void restore_registry(struct handover *h, struct allocator *a, sd_event *event,
		      const struct restore_front_ends *fe)
{
	uint64_t buffers = 0, bytes = 0;

	if (!h->connection_count && !h->charge_count && !h->buffer_count)
		return;
	restore_connections(h, a, fe);
	restore_charges(h, a, event, fe);
	for (size_t i = 0; i < h->buffer_count; i++) {
		uint64_t charged = restore_buffer(&h->buffers[i], a, fe);

		buffers += charged > 0;
		bytes += charged;
	}
	event_log(LOG_INFO, &(struct event){ .kind = "restore", .message_id = EVENT_ID_RESTORED },
		  "took over %u clients and %" PRIu64 " buffers (%" PRIu64
		  " bytes) from the previous iobufd", a->clients, buffers, bytes);
	/* What was released while no iobufd ran goes now. */
	allocator_reap(a, NULL);
}
