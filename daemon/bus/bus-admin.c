/* SPDX-License-Identifier: MIT */
/*
 * The admin half of org.iobufd.Allocator1: list clients, buffers and usage
 * totals, change a limit, purge volatile buffers, free a client's buffers.
 * Root and the iobufd-admin group only; anyone may read the limits. The
 * same rights decide whose client and buffer objects a caller sees.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "bus.h"
#include "config.h"
#include "log.h"
#include "core/rights.h"
#include "core/usage.h"

bool bus_creds_admin(sd_bus_creds *creds)
{
	const gid_t *gids = NULL;
	gid_t egid = (gid_t)-1;
	uid_t euid;
	int n;

	if (sd_bus_creds_get_euid(creds, &euid) < 0)
		return false;
	(void)sd_bus_creds_get_egid(creds, &egid);
	n = sd_bus_creds_get_supplementary_gids(creds, &gids);
	return rights_admin(euid, egid, gids, n > 0 ? (size_t)n : 0);
}

int bus_sender_rights(sd_bus_message *m, struct bus_rights *rights)
{
	_cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
	int r;

	r = sd_bus_query_sender_creds(m,
				      SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
					      SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
				      &creds);
	if (r < 0)
		return r;
	r = sd_bus_creds_get_euid(creds, &rights->euid);
	if (r >= 0)
		rights->admin = bus_creds_admin(creds);
	return r < 0 ? r : 0;
}

/* 1 when the caller may administer, 0 with AccessDenied set, or a negative errno. */
static int check_admin(sd_bus_message *m, sd_bus_error *error)
{
	struct bus_rights rights;
	int r;

	r = bus_sender_rights(m, &rights);
	if (r < 0)
		return r;
	if (!rights.admin)
		return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
					 "%s is for root and members of %s",
					 sd_bus_message_get_member(m), IOBUFD_ADMIN_GROUP);
	return 1;
}

/*
 * Reads a client id argument of an admin method and finds that client (0
 * means every client when any is true). 1 on success, 0 with an error set,
 * or a negative errno.
 */
static int admin_client_arg(struct bus_service *service, sd_bus_message *m, bool any,
			    sd_bus_error *error, struct client **client)
{
	uint32_t id;
	int r;

	r = sd_bus_message_read(m, "u", &id);
	if (r >= 0)
		r = check_admin(m, error);
	if (r <= 0)
		return r;
	*client = id ? allocator_find_client(service->allocator, id) : NULL;
	if (!*client && !(any && id == 0))
		return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "no client %u", id);
	return 1;
}

static int method_list_clients(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = check_admin(m, error);
	if (r <= 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(uuussstt)");
	for (struct client *c = service->allocator->client_list; r >= 0 && c; c = c->next)
		r = sd_bus_message_append(reply, "(uuussstt)", c->id, (uint32_t)c->task.uid,
					  (uint32_t)c->task.pid, c->task.comm, c->task.unit, c->transport,
					  c->held.buffer_count, c->held.bytes);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

static int append_buffers(sd_bus_message *reply, const struct client *c)
{
	int r = 0;

	for (const struct buffer *b = c->held.buffers; r >= 0 && b; b = b->next)
		r = sd_bus_message_append(reply, "(ttsuuusst)", b->id, b->size, b->heap->name,
					  b->options, c->id, b->purgeable_state, buffer_use(b),
					  b->label ? b->label : "", b->created_usec);
	return r;
}

static int method_list_buffers(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct client *only;
	int r;

	r = admin_client_arg(service, m, true, error, &only);
	if (r <= 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(ttsuuusst)");
	for (struct client *c = service->allocator->client_list; r >= 0 && c; c = c->next)
		if (!only || c == only)
			r = append_buffers(reply, c);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

static int append_usage(sd_bus_message *reply, const struct usage *usage)
{
	int r;

	r = sd_bus_message_open_container(reply, 'a', "(sutt)");
	for (size_t i = 0; r >= 0 && i < usage->count; i++) {
		const struct usage_entry *e = &usage->entries[i];

		r = sd_bus_message_append(reply, "(sutt)", e->key, e->clients, e->buffers,
					  e->bytes);
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int method_list_usage(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct usage usage;
	enum usage_by by;
	const char *name;
	int r;

	r = sd_bus_message_read(m, "s", &name);
	if (r >= 0)
		r = check_admin(m, error);
	if (r <= 0)
		return r;
	if (usage_by_parse(name, &by) < 0)
		return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
					 "cannot total by '%s': by is %s", name, usage_by_names);
	r = usage_collect(service->allocator, by, &usage);
	if (r >= 0)
		r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = append_usage(reply, &usage);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	usage_fini(&usage);
	return r;
}

static int method_set_limit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	struct reason why;
	const char *name;
	uint64_t value;
	int r;

	r = sd_bus_message_read(m, "st", &name, &value);
	if (r >= 0)
		r = check_admin(m, error);
	if (r <= 0)
		return r;
	if (limits_set(&service->allocator->limits, name, value, &why) < 0)
		return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, why.text);
	log_info("limit %s set to %" PRIu64 " over D-Bus", name, value);
	bus_service_limits_changed(service);
	return sd_bus_reply_method_return(m, NULL);
}

void bus_service_limits_changed(struct bus_service *service)
{
	if (service->bus)
		(void)sd_bus_emit_properties_changed(service->bus, IOBUF_BUS_PATH,
						     IOBUF_BUS_INTERFACE, "Limits", NULL);
}

static int method_purge_volatile(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	uint64_t bytes;
	int r;

	r = check_admin(m, error);
	if (r <= 0)
		return r;
	bytes = allocator_purge(service->allocator, 0, "an admin asked over D-Bus");
	return sd_bus_reply_method_return(m, "t", bytes);
}

static int method_free_client_buffers(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_service *service = userdata;
	struct client *client;
	size_t n;
	int r;

	r = admin_client_arg(service, m, false, error, &client);
	if (r <= 0)
		return r;
	n = allocator_free_client_buffers(service->allocator, client);
	log_info("freed %zu buffers of client %u (pid %d, %s) over D-Bus", n, client->id,
		 (int)client->task.pid, client->task.comm);
	return sd_bus_reply_method_return(m, "t", (uint64_t)n);
}

struct limits_reply {
	sd_bus_message *reply;
	int r;
};

static void append_limit(const char *name, uint64_t value, void *data)
{
	struct limits_reply *out = data;

	if (out->r >= 0)
		out->r = sd_bus_message_append(out->reply, "{st}", name, value);
}

static int property_limits(sd_bus *bus, const char *path, const char *interface,
			   const char *property, sd_bus_message *reply, void *userdata,
			   sd_bus_error *error)
{
	const struct limits *l = &((struct bus_service *)userdata)->allocator->limits;
	struct limits_reply out = { reply, 0 };

	out.r = sd_bus_message_open_container(reply, 'a', "{st}");
	limits_foreach(l, append_limit, &out);
	return out.r < 0 ? out.r : sd_bus_message_close_container(reply);
}

const sd_bus_vtable bus_admin_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Limits", "a{st}", property_limits, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD_WITH_ARGS("ListClients", SD_BUS_NO_ARGS,
				SD_BUS_RESULT("a(uuussstt)", clients), method_list_clients,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ListBuffers", SD_BUS_ARGS("u", client),
				SD_BUS_RESULT("a(ttsuuusst)", buffers), method_list_buffers,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLimit", SD_BUS_ARGS("s", name, "t", value), SD_BUS_NO_RESULT,
				method_set_limit, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("PurgeVolatile", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", bytes),
				method_purge_volatile, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("FreeClientBuffers", SD_BUS_ARGS("u", client),
				SD_BUS_RESULT("t", buffers), method_free_client_buffers,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ListUsage", SD_BUS_ARGS("s", by),
				SD_BUS_RESULT("a(sutt)", usage), method_list_usage,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};
