/* SPDX-License-Identifier: MIT */
/*
 * The admin commands: clients, buffers, usage, limits set, purge,
 * free-client. The daemon answers AccessDenied to callers who are neither
 * root nor in iobufd-admin; that is reported like any other error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "ctl-bus.h"
#include "ctl-commands.h"
#include "ctl-output.h"
#include "ctl-options.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static int client_row(sd_bus_message *m, struct ctl_output *o, const void *data)
{
	uint32_t id, uid, pid;
	const char *comm, *unit, *transport;
	uint64_t buffers, bytes;
	int r;

	r = sd_bus_message_read(m, "(uuussstt)", &id, &uid, &pid, &comm, &unit, &transport,
				&buffers, &bytes);
	if (r <= 0)
		return r;
	ctl_output_u64(o, id);
	ctl_output_u64(o, uid);
	ctl_output_u64(o, pid);
	ctl_output_text(o, comm);
	ctl_output_text(o, unit);
	ctl_output_text(o, transport);
	ctl_output_u64(o, buffers);
	ctl_output_u64(o, bytes);
	return o->error < 0 ? o->error : 1;
}

int ctl_clients(const struct ctl_context *c, const struct ctl_request *req)
{
	static const struct ctl_field fields[] = {
		{ "ID", "id", CTL_NUMBER },
		{ "UID", "uid", CTL_NUMBER },
		{ "PID", "pid", CTL_NUMBER },
		{ "COMM", "comm", CTL_TEXT },
		{ "UNIT", "unit", CTL_TEXT },
		{ "TRANSPORT", "transport", CTL_TEXT },
		{ "BUFFERS", "buffers", CTL_NUMBER },
		{ "BYTES", "bytes", CTL_BYTES },
	};
	sd_bus_message *reply = NULL;
	int r;

	r = ctl_bus_call(c->bus, c->what, "ListClients", &reply, NULL);
	if (r < 0)
		return r;
	return ctl_print_list(c, reply, "(uuussstt)", fields, N_ELEMENTS(fields), client_row,
			      NULL);
}

static int buffer_row(sd_bus_message *m, struct ctl_output *o, const void *data)
{
	uint64_t id, size, created;
	const char *heap, *use, *label;
	uint32_t options, owner, state;
	int r;

	r = sd_bus_message_read(m, "(ttsuuusst)", &id, &size, &heap, &options, &owner, &state,
				&use, &label, &created);
	if (r <= 0)
		return r;
	ctl_output_u64(o, id);
	ctl_output_u64(o, size);
	ctl_output_text(o, heap);
	ctl_output_options(o, options);
	ctl_output_u64(o, owner);
	ctl_output_state(o, state);
	ctl_output_u64(o, created);
	ctl_output_text(o, label);
	ctl_output_text(o, use);
	return o->error < 0 ? o->error : 1;
}

int ctl_buffers(const struct ctl_context *c, const struct ctl_request *req)
{
	static const struct ctl_field fields[] = {
		{ "ID", "id", CTL_NUMBER },
		{ "SIZE", "size", CTL_BYTES },
		{ "HEAP", "heap", CTL_TEXT },
		{ "OPTIONS", "options", CTL_OPTIONS },
		{ "OWNER", "owner", CTL_NUMBER },
		{ "STATE", "state", CTL_STATE },
		{ "AGE", "created_usec", CTL_AGE },
		{ "LABEL", "label", CTL_TEXT },
		{ "USE", "use", CTL_TEXT },
	};
	sd_bus_message *reply = NULL;
	int r;

	r = ctl_bus_call(c->bus, c->what, "ListBuffers", &reply, "u", req->client);
	if (r < 0)
		return r;
	return ctl_print_list(c, reply, "(ttsuuusst)", fields, N_ELEMENTS(fields), buffer_row,
			      NULL);
}

/*
 * A row of ListUsage's; data points to whether it is by uid. A uid key is a
 * JSON number and a right-aligned cell; no unit or cgroup reads "(none)".
 */
static int usage_row(sd_bus_message *m, struct ctl_output *o, const void *data)
{
	const bool *by_uid = data;
	const char *key;
	uint32_t clients, uid;
	uint64_t buffers, bytes;
	int r;

	r = sd_bus_message_read(m, "(sutt)", &key, &clients, &buffers, &bytes);
	if (r <= 0)
		return r;
	if (!*by_uid)
		ctl_output_text(o, key[0] || o->json ? key : "(none)");
	else if (ctl_parse_uid(key, &uid) == 0)
		ctl_output_u64(o, uid);
	else
		return -EBADMSG;
	ctl_output_u64(o, clients);
	ctl_output_u64(o, buffers);
	ctl_output_u64(o, bytes);
	return o->error < 0 ? o->error : 1;
}

int ctl_usage(const struct ctl_context *c, const struct ctl_request *req)
{
	bool by_uid = strcmp(req->by, IOBUF_SCOPE_UID) == 0;
	char header[16];
	const struct ctl_field fields[] = {
		{ header, req->by, by_uid ? CTL_NUMBER : CTL_TEXT },
		{ "CLIENTS", "clients", CTL_NUMBER },
		{ "BUFFERS", "buffers", CTL_NUMBER },
		{ "BYTES", "bytes", CTL_BYTES },
	};
	sd_bus_message *reply = NULL;
	size_t i;
	int r;

	for (i = 0; req->by[i] && i + 1 < sizeof(header); i++)
		header[i] = (char)toupper((unsigned char)req->by[i]);
	header[i] = '\0';
	r = ctl_bus_call(c->bus, c->what, "ListUsage", &reply, "s", req->by);
	if (r < 0)
		return r;
	return ctl_print_list(c, reply, "(sutt)", fields, N_ELEMENTS(fields), usage_row, &by_uid);
}

int ctl_limits_set(const struct ctl_context *c, const struct ctl_request *req)
{
	const struct ctl_field fields[] = {
		{ "Limit", "name", CTL_TEXT },
		{ "Value", "value", ctl_limit_counts_bytes(req->limit) ? CTL_BYTES : CTL_NUMBER },
	};
	struct ctl_output o;
	int r;

	r = ctl_bus_call(c->bus, c->what, "SetLimit", NULL, "st", req->limit, req->value);
	if (r < 0)
		return r;
	ctl_output_begin(&o, c->json, false, fields, N_ELEMENTS(fields));
	ctl_output_text(&o, req->limit);
	ctl_output_u64(&o, req->value);
	ctl_output_end(&o);
	return 0;
}

int ctl_purge(const struct ctl_context *c, const struct ctl_request *req)
{
	static const struct ctl_field fields[] = {
		{ "Bytes reclaimed", "reclaimed_bytes", CTL_BYTES },
	};
	sd_bus_message *reply = NULL;
	struct ctl_output o;
	uint64_t bytes;
	int r;

	r = ctl_bus_call(c->bus, c->what, "PurgeVolatile", &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "t", &bytes);
	if (r > 0) {
		ctl_output_begin(&o, c->json, false, fields, N_ELEMENTS(fields));
		ctl_output_u64(&o, bytes);
		ctl_output_end(&o);
	}
	sd_bus_message_unref(reply);
	return r <= 0 ? ctl_bus_bad_reply(c->what, r) : 0;
}

int ctl_free_client(const struct ctl_context *c, const struct ctl_request *req)
{
	static const struct ctl_field fields[] = {
		{ "Client", "client", CTL_NUMBER },
		{ "Buffers freed", "freed_buffers", CTL_NUMBER },
	};
	sd_bus_message *reply = NULL;
	struct ctl_output o;
	uint64_t freed;
	int r;

	r = ctl_bus_call(c->bus, c->what, "FreeClientBuffers", &reply, "u", req->client);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "t", &freed);
	if (r > 0) {
		ctl_output_begin(&o, c->json, false, fields, N_ELEMENTS(fields));
		ctl_output_u64(&o, req->client);
		ctl_output_u64(&o, freed);
		ctl_output_end(&o);
	}
	sd_bus_message_unref(reply);
	return r <= 0 ? ctl_bus_bad_reply(c->what, r) : 0;
}
