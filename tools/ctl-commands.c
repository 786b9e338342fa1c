/* SPDX-License-Identifier: MIT */
/* The commands anyone may run: status, heaps, limits, alloc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl-bus.h"
#include "ctl-commands.h"
#include "ctl-output.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Reads an a{st} of limits at m's position (the first CTL_LIMITS_MAX kept). */
static int read_limits(sd_bus_message *m, struct ctl_limits *limits)
{
	const char *name;
	uint64_t value;
	int r;

	limits->n = 0;
	r = sd_bus_message_enter_container(m, 'a', "{st}");
	while (r > 0) {
		r = sd_bus_message_read(m, "{st}", &name, &value);
		if (r > 0 && limits->n < CTL_LIMITS_MAX) {
			limits->names[limits->n] = name;
			limits->values[limits->n++] = value;
		}
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	return r;
}

struct status {
	const char *version;
	uint32_t clients;
	uint64_t buffers, bytes, heaps;
	struct ctl_limits limits;
};

/* Counts the a(sstt) of the Heaps property at m's position. */
static int count_heaps(sd_bus_message *m, uint64_t *count)
{
	const char *name, *caps;
	uint64_t buffers, bytes;
	int r;

	*count = 0;
	r = sd_bus_message_enter_container(m, 'a', "(sstt)");
	while (r > 0) {
		r = sd_bus_message_read(m, "(sstt)", &name, &caps, &buffers, &bytes);
		*count += r > 0;
	}
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

/* One property of GetAll's a{sv}, inside its dict entry, into *st; others skipped. */
static int read_status_property(sd_bus_message *m, const char *name, struct status *st)
{
	static const struct {
		const char *name, *type;
	} known[] = {
		{ "Version", "s" }, { "Clients", "u" }, { "Buffers", "t" },
		{ "Bytes", "t" },   { "Heaps", "a(sstt)" }, { "Limits", "a{st}" },
	};
	size_t i = 0;
	int r;

	while (i < N_ELEMENTS(known) && strcmp(known[i].name, name) != 0)
		i++;
	if (i == N_ELEMENTS(known))
		return sd_bus_message_skip(m, "v");
	r = sd_bus_message_enter_container(m, 'v', known[i].type);
	if (r <= 0)
		return r < 0 ? r : -EBADMSG;
	switch (i) {
	case 0: r = sd_bus_message_read(m, "s", &st->version); break;
	case 1: r = sd_bus_message_read(m, "u", &st->clients); break;
	case 2: r = sd_bus_message_read(m, "t", &st->buffers); break;
	case 3: r = sd_bus_message_read(m, "t", &st->bytes); break;
	case 4: r = count_heaps(m, &st->heaps); break;
	default: r = read_limits(m, &st->limits); break;
	}
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

static int read_status(sd_bus_message *m, struct status *st)
{
	const char *name;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	while (r > 0) {
		r = sd_bus_message_enter_container(m, 'e', "sv");
		if (r <= 0)
			break;
		r = sd_bus_message_read(m, "s", &name);
		if (r > 0)
			r = read_status_property(m, name, st);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

int ctl_status(const struct ctl_context *c, const struct ctl_request *req)
{
	static const struct ctl_field fields[] = {
		{ "Version", "version", CTL_TEXT },   { "Clients", "clients", CTL_NUMBER },
		{ "Buffers", "buffers", CTL_NUMBER }, { "Bytes", "bytes", CTL_BYTES },
		{ "Heaps", "heaps", CTL_NUMBER },     { "Limits", "limits", CTL_LIMITS },
	};
	struct status st = { .version = "" };
	sd_bus_message *reply = NULL;
	struct ctl_output o;
	int r;

	r = ctl_bus_get_all(c->bus, c->what, &reply);
	if (r < 0)
		return r;
	r = read_status(reply, &st);
	if (r < 0) {
		sd_bus_message_unref(reply);
		return ctl_bus_bad_reply(c->what, r);
	}
	ctl_output_begin(&o, c->json, false, fields, N_ELEMENTS(fields));
	ctl_output_text(&o, st.version);
	ctl_output_u64(&o, st.clients);
	ctl_output_u64(&o, st.buffers);
	ctl_output_u64(&o, st.bytes);
	ctl_output_u64(&o, st.heaps);
	ctl_output_limits(&o, &st.limits);
	ctl_output_end(&o);
	sd_bus_message_unref(reply);
	return 0;
}

/* Says that the output could not be written whole, and returns r. */
static int output_failed(const struct ctl_context *c, int r)
{
	fprintf(stderr, "iobufctl: %s: cannot write the output: %s\n", c->what, strerror(-r));
	return r;
}

int ctl_print_list(const struct ctl_context *c, sd_bus_message *reply, const char *element,
		   const struct ctl_field *fields, size_t n_fields,
		   int (*row)(sd_bus_message *m, struct ctl_output *o, const void *data),
		   const void *data)
{
	struct ctl_output o;
	int r, written;

	ctl_output_begin(&o, c->json, true, fields, n_fields);
	r = sd_bus_message_enter_container(reply, 'a', element);
	while (r > 0 && o.error == 0)
		r = row(reply, &o, data);
	written = ctl_output_end(&o);
	sd_bus_message_unref(reply);
	if (written < 0)
		return output_failed(c, written);
	return r < 0 ? ctl_bus_bad_reply(c->what, r) : 0;
}

static int heap_row(sd_bus_message *m, struct ctl_output *o, const void *data)
{
	const char *name, *caps;
	uint64_t buffers, bytes;
	int r;

	r = sd_bus_message_read(m, "(sstt)", &name, &caps, &buffers, &bytes);
	if (r <= 0)
		return r;
	ctl_output_text(o, name);
	ctl_output_text(o, caps);
	ctl_output_u64(o, buffers);
	ctl_output_u64(o, bytes);
	return o->error < 0 ? o->error : 1;
}

int ctl_heaps(const struct ctl_context *c, const struct ctl_request *req)
{
	static const struct ctl_field fields[] = {
		{ "NAME", "name", CTL_TEXT },
		{ "CAPABILITIES", "capabilities", CTL_TEXT },
		{ "BUFFERS", "buffers", CTL_NUMBER },
		{ "BYTES", "bytes", CTL_BYTES },
	};
	sd_bus_message *reply = NULL;
	int r;

	r = ctl_bus_get_property(c->bus, c->what, "Heaps", "a(sstt)", &reply);
	if (r < 0)
		return r;
	return ctl_print_list(c, reply, "(sstt)", fields, N_ELEMENTS(fields), heap_row, NULL);
}

/* The limits as a table of names and values, or as one JSON object. 0 or a negative errno. */
static int print_limits(const struct ctl_limits *limits, bool json)
{
	struct ctl_table table;
	struct ctl_json js;
	char value[32];
	int r;

	if (json) {
		ctl_json_init(&js, stdout);
		ctl_json_open(&js, '{');
		for (size_t i = 0; i < limits->n; i++)
			ctl_json_key_u64(&js, limits->names[i], limits->values[i]);
		ctl_json_close(&js, '}');
		return 0;
	}
	r = ctl_table_init(&table);
	if (r == 0)
		r = ctl_table_add_column(&table, "NAME", false);
	if (r == 0)
		r = ctl_table_add_column(&table, "VALUE", true);
	for (size_t i = 0; r == 0 && i < limits->n; i++) {
		ctl_format_limit(limits->names[i], limits->values[i], value, sizeof(value));
		r = ctl_table_add(&table, limits->names[i]);
		if (r == 0)
			r = ctl_table_add(&table, value);
	}
	if (r == 0)
		r = ctl_table_print(&table, stdout);
	ctl_table_fini(&table);
	return r;
}

int ctl_limits(const struct ctl_context *c, const struct ctl_request *req)
{
	sd_bus_message *reply = NULL;
	struct ctl_limits limits;
	int r;

	r = ctl_bus_get_property(c->bus, c->what, "Limits", "a{st}", &reply);
	if (r < 0)
		return r;
	r = read_limits(reply, &limits);
	if (r < 0) {
		sd_bus_message_unref(reply);
		return ctl_bus_bad_reply(c->what, r);
	}
	r = print_limits(&limits, c->json); /* before unref: the names are the reply's */
	sd_bus_message_unref(reply);
	return r < 0 ? output_failed(c, r) : 0;
}

int ctl_alloc(const struct ctl_context *c, const struct ctl_request *req)
{
	static const struct ctl_field fields[] = {
		{ "Id", "id", CTL_NUMBER },
		{ "Size", "size", CTL_BYTES },
		{ "Options", "options", CTL_OPTIONS },
		{ "Heap", "heap", CTL_TEXT },
	};
	sd_bus_message *reply = NULL;
	uint64_t id, size;
	uint32_t granted;
	const char *heap;
	struct ctl_output o;
	int fd, r;

	r = ctl_bus_call(c->bus, c->what, "AllocateEx", &reply, "ttuss", req->size, req->alignment,
			 req->options, req->heap ? req->heap : "", req->label ? req->label : "");
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "httus", &fd, &id, &size, &granted, &heap);
	if (r > 0) {
		ctl_output_begin(&o, c->json, false, fields, N_ELEMENTS(fields));
		ctl_output_u64(&o, id);
		ctl_output_u64(&o, size);
		ctl_output_options(&o, granted);
		ctl_output_text(&o, heap);
		ctl_output_end(&o);
		if (!c->json)
			printf("The buffer is freed when iobufctl exits and leaves the bus.\n");
	}
	sd_bus_message_unref(reply); /* closes the fd */
	return r <= 0 ? ctl_bus_bad_reply(c->what, r) : 0;
}
