/* SPDX-License-Identifier: MIT */
/*
 * org.iobufd.Allocator1 over D-Bus: the socket protocol's operations for
 * callers that speak D-Bus, served by the same allocator. Each caller (a
 * unique bus name) is a client of its own, charged to the credentials the
 * bus vouches for, and released when it leaves the bus.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-open.h"
#include "cleanup.h"
#include "bus.h"
#include "core/event.h"
#include "core/charge.h"
#include "config.h"
#include "log-budget.h"
#include "log.h"
#include "core/quota.h"


struct bus_client {
	struct bus_client *next;
	struct bus_service *service;
	char *name; /* the caller's unique bus name */
	sd_bus_track *track;
	struct client client;
};

static void bus_client_free(struct bus_client *bc)
{
	struct bus_service *service = bc->service;

	for (struct bus_client **p = &service->clients; *p; p = &(*p)->next) {
		if (*p == bc) {
			*p = bc->next;
			break;
		}
	}
	allocator_remove_client(service->allocator, &bc->client);
	sd_bus_track_unref(bc->track);
	free(bc->name);
	free(bc);
}

static int on_caller_gone(sd_bus_track *track, void *userdata)
{
	bus_client_free(userdata);
	return 0;
}

static struct bus_client *find_bus_client(struct bus_service *service, const char *name)
{
	for (struct bus_client *bc = service->clients; bc; bc = bc->next)
		if (strcmp(bc->name, name) == 0)
			return bc;
	return NULL;
}

/*
 * A client for the unique name, released when the name leaves the bus;
 * -ENXIO (or another negative errno) when it has left already. id as for
 * allocator_add_client().
 */
static int bus_client_new(struct bus_service *service, const char *name, unsigned id,
			  struct bus_client **out)
{
	_cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
	struct bus_client *bc;
	uid_t uid;
	pid_t pid;
	int r;

	bc = calloc(1, sizeof(*bc));
	if (!bc || !(bc->name = strdup(name))) {
		free(bc);
		return -ENOMEM;
	}
	bc->service = service;
	/* Watch first, then ask: a caller leaving in between is still noticed. */
	r = sd_bus_track_new(service->bus, &bc->track, on_caller_gone, bc);
	if (r >= 0)
		r = sd_bus_track_add_name(bc->track, name);
	if (r >= 0)
		r = sd_bus_get_name_creds(service->bus, name,
					  SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID | SD_BUS_CREDS_PID |
					  SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
					  &creds);
	if (r >= 0)
		r = sd_bus_creds_get_euid(creds, &uid);
	if (r >= 0)
		r = sd_bus_creds_get_pid(creds, &pid);
	if (r < 0) {
		sd_bus_track_unref(bc->track);
		free(bc->name);
		free(bc);
		return r;
	}
	client_init_from_creds(&bc->client, uid, pid, bus_creds_admin(creds));
	bc->client.bus_name = bc->name;
	allocator_add_client(service->allocator, &bc->client, id);
	bc->next = service->clients;
	service->clients = bc;
	*out = bc;
	return 0;
}

/* A new client's uid past its share of clients gets EUSERS; other uids do not. */
static int check_new_client(struct bus_service *service, sd_bus_message *m,
			    sd_bus_error *error)
{
	_cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
	struct reason why;
	uid_t uid;
	int r;

	r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
	if (r >= 0)
		r = sd_bus_creds_get_euid(creds, &uid);
	if (r < 0)
		return r;
	r = quota_check_uid_clients(service->allocator, uid, &why);
	if (r < 0)
		return sd_bus_error_set_errnof(error, -r, "%s", why.text);
	return 0;
}

/*
 * The client of bus name `name`, made when it has none: for the sender of
 * m (held to its uid's share of clients), or with id for one the previous
 * iobufd served (m NULL).
 */
static int get_client(struct bus_service *service, const char *name, unsigned id,
		      sd_bus_message *m, sd_bus_error *error, struct client **out)
{
	struct bus_client *bc = find_bus_client(service, name);
	int r;

	if (!bc) {
		r = m ? check_new_client(service, m, error) : 0;
		if (r >= 0)
			r = bus_client_new(service, name, id, &bc);
		if (r < 0)
			return r;
	}
	*out = &bc->client;
	return 0;
}

/* The client a call is charged to: its sender's, made on its first call. */
static int sender_client(struct bus_service *service, sd_bus_message *m, sd_bus_error *error,
		  struct client **out)
{
	const char *sender = sd_bus_message_get_sender(m);

	if (!sender)
		return -EPERM;
	return get_client(service, sender, 0, m, error, out);
}

int bus_service_adopt_client(struct bus_service *service, const char *name, unsigned id,
			     struct client **out)
{
	if (!service->bus)
		return -ENOTCONN;
	return get_client(service, name, id, NULL, NULL, out);
}

/*
 * A refusal of m's call by client (NULL for a query, which charges nobody),
 * logged, with the allocator's words and the errno's D-Bus error name.
 */
static int refuse(sd_bus_message *m, const struct client *client, sd_bus_error *error, int r,
		  const struct reason *why)
{
	if (client)
		event_refused(client, sd_bus_message_get_member(m), why);
	return sd_bus_error_set_errnof(error, -r, "%s", why->text);
}

/* Allocate and AllocateEx: the second also says which heap and what label ("" for none). */
static int allocate(sd_bus_message *m, struct bus_service *service, bool ex,
		    sd_bus_error *error)
{
	struct alloc_request req = { 0 };
	struct alloc_result made;
	struct reason why;
	struct client *client;
	int fd, r;

	r = sd_bus_message_read(m, "ttu", &req.capacity, &req.alignment, &req.options);
	if (r >= 0 && ex)
		r = sd_bus_message_read(m, "ss", &req.spec.heap, &req.spec.label);
	if (r < 0)
		return r;
	r = sender_client(service, m, error, &client);
	if (r < 0)
		return r;
	r = allocator_allocate(service->allocator, client, &req, &made, &fd, &why);
	if (r < 0)
		return refuse(m, client, error, r, &why);
	r = sd_bus_reply_method_return(m, "httus", fd, made.id, made.size, made.options,
				       made.heap->name);
	close(fd);
	allocator_catch_up(service->allocator, client);
	return r;
}

static int method_allocate(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return allocate(m, userdata, false, error);
}

static int method_allocate_ex(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return allocate(m, userdata, true, error);
}

/* ah fds, at ids, t size, u granted, s heap: count buffers, all or none. */
static int reply_batch(sd_bus_message *m, const int *fds, const uint64_t *ids, uint32_t count,
		       const struct alloc_result *made)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "h");
	for (uint32_t i = 0; r >= 0 && i < count; i++)
		r = sd_bus_message_append(reply, "h", fds[i]);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_append_array(reply, 't', ids, count * sizeof(*ids));
	if (r >= 0)
		r = sd_bus_message_append(reply, "tus", made->size, made->options,
					  made->heap->name);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

static int method_allocate_n(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	int fds[ALLOCATOR_MAX_BATCH];
	uint64_t ids[ALLOCATOR_MAX_BATCH];
	struct alloc_request req = { 0 };
	struct alloc_result made;
	struct client *client;
	struct reason why;
	uint32_t count;
	int r;

	r = sd_bus_message_read(m, "ttuu", &req.capacity, &req.alignment, &req.options, &count);
	if (r < 0)
		return r;
	r = sender_client(service, m, error, &client);
	if (r < 0)
		return r;
	r = allocator_allocate_n(service->allocator, client, &req, count, false, ids, fds, &made,
				 &why);
	if (r < 0)
		return refuse(m, client, error, r, &why);
	r = reply_batch(m, fds, ids, count, &made);
	for (uint32_t i = 0; i < count; i++)
		close(fds[i]);
	allocator_catch_up(service->allocator, client);
	return r;
}

static int method_query(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	struct alloc_request req = { 0 };
	struct alloc_result made;
	struct reason why;
	int r;

	r = sd_bus_message_read(m, "ttu", &req.capacity, &req.alignment, &req.options);
	if (r < 0)
		return r;
	r = allocator_query(service->allocator, &req, &made, &why);
	if (r < 0)
		return refuse(m, NULL, error, r, &why);
	return sd_bus_reply_method_return(m, "tus", made.size, made.options, made.heap->name);
}

static int method_free(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	struct reason why;
	struct client *client;
	uint64_t id;
	int r;

	r = sd_bus_message_read(m, "t", &id);
	if (r < 0)
		return r;
	r = sender_client(service, m, error, &client);
	if (r < 0)
		return r;
	r = allocator_free(service->allocator, client, id, &why);
	if (r < 0)
		return refuse(m, client, error, r, &why);
	r = sd_bus_reply_method_return(m, NULL);
	allocator_catch_up(service->allocator, client);
	return r;
}

static int method_set_purgeable(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	struct reason why;
	struct client *client;
	uint32_t state, old;
	uint64_t id;
	int r;

	r = sd_bus_message_read(m, "tu", &id, &state);
	if (r < 0)
		return r;
	r = sender_client(service, m, error, &client);
	if (r < 0)
		return r;
	r = allocator_set_purgeable(service->allocator, client, id, state, &old, &why);
	if (r < 0)
		return refuse(m, client, error, r, &why);
	return sd_bus_reply_method_return(m, "u", old);
}

static int method_charge_to(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	struct reason why;
	struct client *client;
	int fd, pidfd, r;

	r = sd_bus_message_read(m, "h", &fd);
	if (r < 0)
		return r;
	r = sender_client(service, m, error, &client);
	if (r < 0)
		return r;
	/* The message keeps its fd; the charge keeps a copy for the task's life. */
	pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (pidfd < 0)
		return -errno;
	r = charge_to_pidfd(service->allocator, sd_bus_get_event(service->bus), client, pidfd,
			    &why);
	if (r < 0)
		return refuse(m, client, error, r, &why);
	return sd_bus_reply_method_return(m, "uu", (uint32_t)client->task.pid,
					  (uint32_t)client->task.uid);
}

static int property_version(sd_bus *bus, const char *path, const char *interface,
			    const char *property, sd_bus_message *reply, void *userdata,
			    sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", IOBUFD_VERSION);
}

static int property_totals(sd_bus *bus, const char *path, const char *interface,
			   const char *property, sd_bus_message *reply, void *userdata,
			   sd_bus_error *error)
{
	const struct allocator *a = ((struct bus_service *)userdata)->allocator;

	if (strcmp(property, "Clients") == 0)
		return sd_bus_message_append(reply, "u", a->clients);
	if (strcmp(property, "Buffers") == 0)
		return sd_bus_message_append(reply, "t", a->buffers);
	return sd_bus_message_append(reply, "t", a->bytes);
}

static int property_heaps(sd_bus *bus, const char *path, const char *interface,
			  const char *property, sd_bus_message *reply, void *userdata,
			  sd_bus_error *error)
{
	const struct heap_list *heaps = &((struct bus_service *)userdata)->allocator->heaps;
	char caps[HEAP_DESCRIPTION_MAX];
	int r;

	r = sd_bus_message_open_container(reply, 'a', "(sstt)");
	for (size_t i = 0; r >= 0 && i < heaps->count; i++) {
		const struct heap *h = heaps->heaps[i];

		heap_describe(h, caps, sizeof(caps));
		r = sd_bus_message_append(reply, "(sstt)", h->name, caps, h->buffers, h->bytes);
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static const sd_bus_vtable allocator_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Clients", "u", property_totals, 0, 0),
	SD_BUS_PROPERTY("Buffers", "t", property_totals, 0, 0),
	SD_BUS_PROPERTY("Bytes", "t", property_totals, 0, 0),
	SD_BUS_PROPERTY("Heaps", "a(sstt)", property_heaps, 0, 0),
	SD_BUS_METHOD_WITH_ARGS("Allocate",
				SD_BUS_ARGS("t", capacity, "t", alignment, "u", options),
				SD_BUS_RESULT("h", fd, "t", id, "t", size, "u", granted, "s", heap),
				method_allocate, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("AllocateEx",
				SD_BUS_ARGS("t", capacity, "t", alignment, "u", options, "s", heap,
					    "s", label),
				SD_BUS_RESULT("h", fd, "t", id, "t", size, "u", granted, "s", heap),
				method_allocate_ex, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("AllocateN",
				SD_BUS_ARGS("t", capacity, "t", alignment, "u", options, "u", count),
				SD_BUS_RESULT("ah", fds, "at", ids, "t", size, "u", granted, "s", heap),
				method_allocate_n, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Query",
				SD_BUS_ARGS("t", capacity, "t", alignment, "u", options),
				SD_BUS_RESULT("t", size, "u", granted, "s", heap),
				method_query, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Free", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_free,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetPurgeable", SD_BUS_ARGS("t", id, "u", state),
				SD_BUS_RESULT("u", old_state), method_set_purgeable,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ChargeTo", SD_BUS_ARGS("h", pidfd),
				SD_BUS_RESULT("u", pid, "u", uid), method_charge_to,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

int bus_service_init(struct bus_service *service, sd_event *event, struct allocator *allocator,
		     const char *which)
{
	int r;

	*service = (struct bus_service){ .allocator = allocator };
	r = bus_open(which, &service->bus);
	if (r < 0)
		return log_error_errno(r, "cannot connect to the %s bus", which);
	r = sd_bus_add_object_vtable(service->bus, NULL, IOBUF_BUS_PATH, IOBUF_BUS_INTERFACE,
				     allocator_vtable, service);
	if (r >= 0)
		r = sd_bus_add_object_vtable(service->bus, NULL, IOBUF_BUS_PATH, IOBUF_BUS_INTERFACE,
					     bus_admin_vtable, service);
	if (r >= 0)
		r = bus_objects_add(service);
	if (r >= 0)
		r = sd_bus_request_name(service->bus, IOBUF_BUS_NAME, 0);
	if (r >= 0)
		r = sd_bus_attach_event(service->bus, event, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0) {
		log_error_errno(r, "cannot serve %s on the %s bus", IOBUF_BUS_NAME, which);
		bus_service_fini(service);
		return r;
	}
	log_info("serving %s on the %s bus", IOBUF_BUS_NAME, which);
	return 0;
}

void bus_service_fini(struct bus_service *service)
{
	while (service->clients)
		bus_client_free(service->clients);
	service->bus = sd_bus_flush_close_unref(service->bus);
}
