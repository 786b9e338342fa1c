/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus-open.h"
#include "ctl-bus.h"

int ctl_bus_open(enum ctl_bus_kind kind, const char *address, sd_bus **bus)
{
	int r;

	*bus = NULL;
	r = bus_open(kind == CTL_BUS_SYSTEM ? "system" : kind == CTL_BUS_USER ? "session" : address,
		     bus);
	if (r < 0) {
		if (kind == CTL_BUS_ADDRESS)
			fprintf(stderr, "iobufctl: cannot connect to the bus at %s: %s\n", address,
				strerror(-r));
		else
			fprintf(stderr, "iobufctl: cannot connect to the %s bus: %s\n",
				kind == CTL_BUS_SYSTEM ? "system" : "user", strerror(-r));
	}
	return r;
}

const char *ctl_bus_error_short_name(const char *name)
{
	static const char *const prefixes[] = { "org.freedesktop.DBus.Error.", "System.Error." };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return name + strlen(prefixes[i]);
	return name;
}

/* Prints a failed call's error (or errno, when it carries no name) and returns r. */
static int report(const char *what, const sd_bus_error *error, int r)
{
	if (sd_bus_error_is_set(error))
		fprintf(stderr, "iobufctl: %s: %s: %s\n", what,
			ctl_bus_error_short_name(error->name),
			error->message ? error->message : strerror(-r));
	else
		fprintf(stderr, "iobufctl: %s: %s\n", what, strerror(-r));
	return r;
}

int ctl_bus_bad_reply(const char *what, int r)
{
	if (r == 0)
		r = -EBADMSG;
	fprintf(stderr, "iobufctl: %s: cannot read the daemon's reply: %s\n", what, strerror(-r));
	return r;
}

int ctl_bus_call(sd_bus *bus, const char *what, const char *method, sd_bus_message **reply,
		 const char *types, ...)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *call = NULL;
	va_list ap;
	int r;

	r = sd_bus_message_new_method_call(bus, &call, IOBUF_BUS_NAME, IOBUF_BUS_PATH,
					   IOBUF_BUS_INTERFACE, method);
	if (r >= 0 && types) {
		va_start(ap, types);
		r = sd_bus_message_appendv(call, types, ap);
		va_end(ap);
	}
	if (r >= 0)
		r = sd_bus_call(bus, call, 0, &error, reply);
	if (r < 0)
		report(what, &error, r);
	sd_bus_error_free(&error);
	sd_bus_message_unref(call);
	return r < 0 ? r : 0;
}

int ctl_bus_get_property(sd_bus *bus, const char *what, const char *property, const char *type,
			 sd_bus_message **reply)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_get_property(bus, IOBUF_BUS_NAME, IOBUF_BUS_PATH, IOBUF_BUS_INTERFACE, property,
				&error, reply, type);
	if (r < 0)
		report(what, &error, r);
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}

int ctl_bus_get_all(sd_bus *bus, const char *what, sd_bus_message **reply)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_call_method(bus, IOBUF_BUS_NAME, IOBUF_BUS_PATH, "org.freedesktop.DBus.Properties",
			       "GetAll", &error, reply, "s", IOBUF_BUS_INTERFACE);
	if (r < 0)
		report(what, &error, r);
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}
