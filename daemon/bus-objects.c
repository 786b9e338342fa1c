/* SPDX-License-Identifier: MIT */
/*
 * An object per client (…/client/<id>, org.iobufd.Client1) and per buffer
 * (…/buffer/<id>, org.iobufd.Buffer1), of either transport, found on demand
 * and enumerated so that `busctl tree` shows them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

#define CLIENTS_PATH BUS_OBJECT_PATH "/client"
#define BUFFERS_PATH BUS_OBJECT_PATH "/buffer"

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
		struct buffer *b = client_find_buffer(c, id);

		if (b) {
			*owner = c;
			return b;
		}
	}
	return NULL;
}

static int find_client_object(sd_bus *bus, const char *path, const char *interface,
			      void *userdata, void **found, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	uint64_t id = path_id(path, CLIENTS_PATH);
	struct client *c = id <= UINT32_MAX ? allocator_find_client(service->allocator, (unsigned)id)
					    : NULL;

	if (!c)
		return 0;
	*found = c;
	return 1;
}

static int find_buffer_object(sd_bus *bus, const char *path, const char *interface,
			      void *userdata, void **found, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	uint64_t id = path_id(path, BUFFERS_PATH);
	struct client *owner;
	struct buffer *b = id ? find_buffer(service->allocator, id, &owner) : NULL;

	if (!b)
		return 0;
	*found = b;
	return 1;
}

static int enumerate_clients(sd_bus *bus, const char *prefix, void *userdata, char ***nodes,
			     sd_bus_error *error)
{
	const struct allocator *a = ((struct bus_service *)userdata)->allocator;
	char **list = calloc(a->clients + 1, sizeof(*list));
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	for (struct client *c = a->client_list; c && n < a->clients; c = c->next)
		if (asprintf(&list[n], CLIENTS_PATH "/%u", c->id) >= 0)
			n++;
	*nodes = list;
	return 0;
}

static int enumerate_buffers(sd_bus *bus, const char *prefix, void *userdata, char ***nodes,
			     sd_bus_error *error)
{
	const struct allocator *a = ((struct bus_service *)userdata)->allocator;
	char **list = calloc(a->buffers + 1, sizeof(*list));
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	for (struct client *c = a->client_list; c; c = c->next)
		for (struct buffer *b = c->buffers; b && n < a->buffers; b = b->next)
			if (asprintf(&list[n], BUFFERS_PATH "/%" PRIu64, b->id) >= 0)
				n++;
	*nodes = list;
	return 0;
}

static int client_property(sd_bus *bus, const char *path, const char *interface,
			   const char *property, sd_bus_message *reply, void *userdata,
			   sd_bus_error *error)
{
	const struct client *c = userdata;

	if (strcmp(property, "Id") == 0)
		return sd_bus_message_append(reply, "u", c->id);
	if (strcmp(property, "Uid") == 0)
		return sd_bus_message_append(reply, "u", (uint32_t)c->uid);
	if (strcmp(property, "Pid") == 0)
		return sd_bus_message_append(reply, "u", (uint32_t)c->pid);
	if (strcmp(property, "Comm") == 0)
		return sd_bus_message_append(reply, "s", c->comm);
	if (strcmp(property, "Unit") == 0)
		return sd_bus_message_append(reply, "s", c->unit);
	if (strcmp(property, "Transport") == 0)
		return sd_bus_message_append(reply, "s", c->transport);
	if (strcmp(property, "Buffers") == 0)
		return sd_bus_message_append(reply, "t", c->buffer_count);
	return sd_bus_message_append(reply, "t", c->bytes);
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
	return sd_bus_message_append(reply, "u", b->client_id);
}

#define CLIENT_PROPERTY(name, type) \
	SD_BUS_PROPERTY(name, type, client_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION)
#define BUFFER_PROPERTY(name, type) \
	SD_BUS_PROPERTY(name, type, buffer_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION)

static const sd_bus_vtable client_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Id", "u", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Uid", "u", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Pid", "u", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Comm", "s", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Unit", "s", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Transport", "s", client_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	CLIENT_PROPERTY("Buffers", "t"),
	CLIENT_PROPERTY("Bytes", "t"),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable buffer_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Id", "t", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Size", "t", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Heap", "s", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Options", "u", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Owner", "u", buffer_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	BUFFER_PROPERTY("PurgeableState", "u"),
	SD_BUS_VTABLE_END,
};

int bus_objects_add(struct bus_service *service)
{
	sd_bus *bus = service->bus;
	int r;

	r = sd_bus_add_fallback_vtable(bus, NULL, CLIENTS_PATH, "org.iobufd.Client1",
				       client_vtable, find_client_object, service);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(bus, NULL, CLIENTS_PATH, enumerate_clients, service);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(bus, NULL, BUFFERS_PATH, "org.iobufd.Buffer1",
					       buffer_vtable, find_buffer_object, service);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(bus, NULL, BUFFERS_PATH, enumerate_buffers, service);
	return r;
}
