/* SPDX-License-Identifier: MIT */
/*
 * An object per client (…/client/<id>, org.iobufd.Client1) and per buffer
 * (…/buffer/<id>, org.iobufd.Buffer1), of either transport, found on demand
 * and enumerated so that `busctl tree` shows them.
 *
 * A caller sees the clients whose uid is its effective uid (its own bus
 * client, and the socket and bus clients of its user's tasks or charged to
 * them) and their buffers; root and iobufd-admin see all. Everything else is
 * absent to it, exactly as an id nobody has: the lookup answers the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

/* The number at the end of path under prefix, or 0. */
static uint64_t path_id(const char *path, const char *prefix)
{
	size_t len = strlen(prefix);
	char *end;
	unsigned long long id;

	if (strncmp(path, prefix, len) != 0 || path[len] != '/' || path[len + 1] < '1' ||
	    path[len + 1] > '9')
		return 0;
	errno = 0;
	id = strtoull(path + len + 1, &end, 10);
	return errno || *end ? 0 : id;
}

static struct buffer *find_buffer(const struct allocator *a, uint64_t id, struct client **owner)
{
	for (struct client *c = a->client_list; c; c = c->next) {
		struct buffer *b = client_find_charged_buffer(c, id);

		if (b) {
			*owner = c;
			return b;
		}
	}
	return NULL;
}

/*
 * The rights of the caller whose call is being served: 1 with them, 0 when no
 * call is (sd-bus looking objects up to emit a signal, which these objects
 * must not: it would reach every user), or a negative errno. Asked of the bus
 * once per call, however often sd-bus looks objects up while serving it.
 */
static int reader_rights(struct bus_service *service, struct bus_rights *rights)
{
	sd_bus_message *m = sd_bus_get_current_message(service->bus);
	const char *sender = m ? sd_bus_message_get_sender(m) : NULL;
	uint64_t cookie = 0;
	bool cacheable;
	int r;

	if (!m)
		return 0;
	/* A unique name is never reused on a bus, and its calls' cookies differ. */
	cacheable = sender && strlen(sender) < sizeof(service->reader.sender) &&
		    sd_bus_message_get_cookie(m, &cookie) >= 0;
	if (cacheable && cookie == service->reader.cookie &&
	    strcmp(sender, service->reader.sender) == 0) {
		*rights = service->reader.rights;
		return 1;
	}
	r = bus_sender_rights(m, rights);
	if (r < 0)
		return r;
	if (cacheable) {
		strcpy(service->reader.sender, sender);
		service->reader.cookie = cookie;
		service->reader.rights = *rights;
	}
	return 1;
}

static bool may_read(const struct bus_rights *rights, const struct client *c)
{
	return rights->admin || c->task.uid == rights->euid;
}

/*
 * The rights come first, for ids that exist or not alike: an absent object
 * and one the caller may not see cost the same and answer the same.
 */
static int find_client_object(sd_bus *bus, const char *path, const char *interface,
			      void *userdata, void **found, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	uint64_t id = path_id(path, IOBUF_BUS_CLIENTS_PATH);
	struct bus_rights rights;
	struct client *c;
	int r;

	r = reader_rights(service, &rights);
	if (r <= 0)
		return r;
	c = id && id <= UINT32_MAX ? allocator_find_client(service->allocator, (unsigned)id)
				   : NULL;
	if (!c || !may_read(&rights, c))
		return 0;
	*found = c;
	return 1;
}

static int find_buffer_object(sd_bus *bus, const char *path, const char *interface,
			      void *userdata, void **found, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	uint64_t id = path_id(path, IOBUF_BUS_BUFFERS_PATH);
	struct bus_rights rights;
	struct client *owner;
	struct buffer *b;
	int r;

	r = reader_rights(service, &rights);
	if (r <= 0)
		return r;
	b = id ? find_buffer(service->allocator, id, &owner) : NULL;
	if (!b || !may_read(&rights, owner))
		return 0;
	*found = b;
	return 1;
}

/*
 * The object paths of the clients (or of their buffers) the caller may
 * read, for sd-bus's enumerators.
 */
static int enumerate(struct bus_service *service, bool buffers, char ***nodes)
{
	const struct allocator *a = service->allocator;
	size_t max = buffers ? a->buffers : a->clients, n = 0;
	struct bus_rights rights;
	char **list;
	int r;

	r = reader_rights(service, &rights);
	if (r < 0)
		return r;
	list = calloc(max + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (struct client *c = a->client_list; r > 0 && c; c = c->next) {
		if (!may_read(&rights, c))
			continue;
		if (!buffers && n < max &&
		    asprintf(&list[n], IOBUF_BUS_CLIENTS_PATH "/%u", c->id) >= 0)
			n++;
		for (struct buffer *b = c->held.buffers; buffers && b && n < max; b = b->next)
			if (asprintf(&list[n], IOBUF_BUS_BUFFERS_PATH "/%" PRIu64, b->id) >= 0)
				n++;
	}
	*nodes = list;
	return 0;
}

static int enumerate_clients(sd_bus *bus, const char *prefix, void *userdata, char ***nodes,
			     sd_bus_error *error)
{
	return enumerate(userdata, false, nodes);
}

static int enumerate_buffers(sd_bus *bus, const char *prefix, void *userdata, char ***nodes,
			     sd_bus_error *error)
{
	return enumerate(userdata, true, nodes);
}

static int client_property(sd_bus *bus, const char *path, const char *interface,
			   const char *property, sd_bus_message *reply, void *userdata,
			   sd_bus_error *error)
{
	const struct client *c = userdata;

	if (strcmp(property, "Id") == 0)
		return sd_bus_message_append(reply, "u", c->id);
	if (strcmp(property, "Uid") == 0)
		return sd_bus_message_append(reply, "u", (uint32_t)c->task.uid);
	if (strcmp(property, "Pid") == 0)
		return sd_bus_message_append(reply, "u", (uint32_t)c->task.pid);
	if (strcmp(property, "Comm") == 0)
		return sd_bus_message_append(reply, "s", c->task.comm);
	if (strcmp(property, "Unit") == 0)
		return sd_bus_message_append(reply, "s", c->task.unit);
	if (strcmp(property, "Transport") == 0)
		return sd_bus_message_append(reply, "s", c->transport);
	if (strcmp(property, "Buffers") == 0)
		return sd_bus_message_append(reply, "t", c->held.buffer_count);
	return sd_bus_message_append(reply, "t", c->held.bytes);
}

static int buffer_property(sd_bus *bus, const char *path, const char *interface,
			   const char *property, sd_bus_message *reply, void *userdata,
			   sd_bus_error *error)
{
	const struct buffer *b = userdata;

	if (strcmp(property, "Id") == 0)
		return sd_bus_message_append(reply, "t", b->id);
	if (strcmp(property, "Size") == 0)
		return sd_bus_message_append(reply, "t", b->size);
	if (strcmp(property, "Heap") == 0)
		return sd_bus_message_append(reply, "s", b->heap->name);
	if (strcmp(property, "Options") == 0)
		return sd_bus_message_append(reply, "u", b->options);
	if (strcmp(property, "PurgeableState") == 0)
		return sd_bus_message_append(reply, "u", b->purgeable_state);
	if (strcmp(property, "Use") == 0)
		return sd_bus_message_append(reply, "s", buffer_use(b));
	if (strcmp(property, "Label") == 0)
		return sd_bus_message_append(reply, "s", b->label ? b->label : "");
	if (strcmp(property, "CreatedAt") == 0)
		return sd_bus_message_append(reply, "t", b->created_usec);
	return sd_bus_message_append(reply, "u", b->client_id);
}

static const sd_bus_vtable client_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Id", "u", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Uid", "u", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Pid", "u", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Comm", "s", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Unit", "s", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Transport", "s", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	/* These change without a signal: one would go to every user (see reader_rights). */
	SD_BUS_PROPERTY("Buffers", "t", client_property, 0, 0),
	SD_BUS_PROPERTY("Bytes", "t", client_property, 0, 0),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable buffer_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Id", "t", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Size", "t", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Heap", "s", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Options", "u", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Owner", "u", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("PurgeableState", "u", buffer_property, 0, 0),
	SD_BUS_PROPERTY("Use", "s", buffer_property, 0, 0),
	SD_BUS_PROPERTY("Label", "s", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("CreatedAt", "t", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END,
};

int bus_objects_add(struct bus_service *service)
{
	sd_bus *bus = service->bus;
	int r;

	r = sd_bus_add_fallback_vtable(bus, NULL, IOBUF_BUS_CLIENTS_PATH,
				       IOBUF_BUS_CLIENT_INTERFACE, client_vtable, find_client_object,
				       service);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(bus, NULL, IOBUF_BUS_CLIENTS_PATH,
					       enumerate_clients, service);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(bus, NULL, IOBUF_BUS_BUFFERS_PATH,
					       IOBUF_BUS_BUFFER_INTERFACE, buffer_vtable,
					       find_buffer_object, service);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(bus, NULL, IOBUF_BUS_BUFFERS_PATH,
					       enumerate_buffers, service);
	return r;
}
