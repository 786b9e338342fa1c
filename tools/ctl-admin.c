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

struct client_row {
	uint32_t id, uid, pid;
	const char *comm, *unit, *transport;
	uint64_t buffers, bytes;
};

static int client_row(struct ctl_output *o, const struct client_row *c)
{
	int r = ctl_output_u64(o, c->id);

	if (r >= 0)
		r = ctl_output_u64(o, c->uid);
	if (r >= 0)
		r = ctl_output_u64(o, c->pid);
	if (r >= 0)
		r = ctl_output_text(o, c->comm);
	if (r >= 0)
		r = ctl_output_text(o, c->unit);
	if (r >= 0)
		r = ctl_output_text(o, c->transport);
	if (r >= 0)
		r = ctl_output_u64(o, c->buffers);
	if (r >= 0)
		r = ctl_output_u64(o, c->bytes);
	return r;
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
	struct ctl_output o;
	struct client_row row;
	int r;

	r = ctl_bus_call(c->bus, c->what, "ListClients", &reply, NULL);
	if (r < 0)
		return r;
	ctl_output_begin(&o, c->json, true, fields, N_ELEMENTS(fields));
	r = sd_bus_message_enter_container(reply, 'a', "(uuussstt)");
	while (r > 0) {
		r = sd_bus_message_read(reply, "(uuussstt)", &row.id, &row.uid, &row.pid, &row.comm,
					&row.unit, &row.transport, &row.buffers, &row.bytes);
		if (r > 0 && client_row(&o, &row) < 0)
			r = -ENOMEM;
	}
	ctl_output_end(&o);
	sd_bus_message_unref(reply);
	return r < 0 ? ctl_bus_bad_reply(c->what, r) : 0;
}

struct buffer_row {
	uint64_t id, size;
	const char *heap;
	uint32_t options, owner, state;
	const char *use;
};

static int buffer_row(struct ctl_output *o, const struct buffer_row *b)
{
	int r = ctl_output_u64(o, b->id);

	if (r >= 0)
		r = ctl_output_u64(o, b->size);
	if (r >= 0)
		r = ctl_output_text(o, b->heap);
	if (r >= 0)
		r = ctl_output_options(o, b->options);
	if (r >= 0)
		r = ctl_output_u64(o, b->owner);
	if (r >= 0)
		r = ctl_output_state(o, b->state);
	if (r >= 0)
		r = ctl_output_text(o, b->use);
	return r;
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
		{ "USE", "use", CTL_TEXT },
	};
	sd_bus_message *reply = NULL;
	struct ctl_output o;
	struct buffer_row row;
	int r;

	r = ctl_bus_call(c->bus, c->what, "ListBuffers", &reply, "u", req->client);
	if (r < 0)
		return r;
	ctl_output_begin(&o, c->json, true, fields, N_ELEMENTS(fields));
	r = sd_bus_message_enter_container(reply, 'a', "(ttsuuus)");
	while (r > 0) {
		r = sd_bus_message_read(reply, "(ttsuuus)", &row.id, &row.size, &row.heap,
					&row.options, &row.owner, &row.state, &row.use);
		if (r > 0 && buffer_row(&o, &row) < 0)
			r = -ENOMEM;
	}
	ctl_output_end(&o);
	sd_bus_message_unref(reply);
	return r < 0 ? ctl_bus_bad_reply(c->what, r) : 0;
}

struct usage_row {
	const char *key;
	uint32_t clients;
	uint64_t buffers, bytes;
};

/* A uid key is a JSON number and a right-aligned cell; no unit or cgroup reads "(none)". */
static int usage_key(struct ctl_output *o, bool by_uid, const char *key)
{
	uint32_t uid;

	if (by_uid)
		return ctl_parse_uid(key, &uid) < 0 ? -EBADMSG : ctl_output_u64(o, uid);
	return ctl_output_text(o, key[0] || o->json ? key : "(none)");
}

static int usage_row(struct ctl_output *o, bool by_uid, const struct usage_row *u)
{
	int r = usage_key(o, by_uid, u->key);

	if (r >= 0)
		r = ctl_output_u64(o, u->clients);
	if (r >= 0)
		r = ctl_output_u64(o, u->buffers);
	if (r >= 0)
		r = ctl_output_u64(o, u->bytes);
	return r;
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
	struct ctl_output o;
	struct usage_row row;
	size_t i;
	int r, added;

	for (i = 0; req->by[i] && i + 1 < sizeof(header); i++)
		header[i] = (char)toupper((unsigned char)req->by[i]);
	header[i] = '\0';
	r = ctl_bus_call(c->bus, c->what, "ListUsage", &reply, "s", req->by);
	if (r < 0)
		return r;
	ctl_output_begin(&o, c->json, true, fields, N_ELEMENTS(fields));
	r = sd_bus_message_enter_container(reply, 'a', "(sutt)");
	while (r > 0) {
		r = sd_bus_message_read(reply, "(sutt)", &row.key, &row.clients, &row.buffers,
					&row.bytes);
		if (r > 0 && (added = usage_row(&o, by_uid, &row)) < 0)
			r = added;
	}
	ctl_output_end(&o);
	sd_bus_message_unref(reply);
	return r < 0 ? ctl_bus_bad_reply(c->what, r) : 0;
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
