/* SPDX-License-Identifier: MIT */
/*
 * iobufctl's side of the bus: connecting, calling org.iobufd.Allocator1 and
 * reading its properties, and saying what went wrong.
 */
#ifndef IOBUFCTL_BUS_H
#define IOBUFCTL_BUS_H

#include <systemd/sd-bus.h>

#include "names.h"

enum ctl_bus_kind {
	CTL_BUS_SYSTEM,
	CTL_BUS_USER,
	CTL_BUS_ADDRESS,
};

/*
 * Connects to the system or user bus, or to address. 0, or a negative errno
 * after saying on stderr which bus could not be reached.
 */
int ctl_bus_open(enum ctl_bus_kind kind, const char *address, sd_bus **bus);

/*
 * Calls method on the daemon's object with arguments of types; *reply (may
 * be NULL) is the answer. 0, or a negative errno after printing
 * "iobufctl: WHAT: ErrorName: message".
 */
int ctl_bus_call(sd_bus *bus, const char *what, const char *method, sd_bus_message **reply,
		 const char *types, ...);

/*
 * Reads a property of the daemon; *reply is positioned on its value, of
 * type. 0, or a negative errno after printing the error as ctl_bus_call().
 */
int ctl_bus_get_property(sd_bus *bus, const char *what, const char *property, const char *type,
			 sd_bus_message **reply);

/* Every property of the daemon: *reply holds an a{sv}. As ctl_bus_get_property(). */
int ctl_bus_get_all(sd_bus *bus, const char *what, sd_bus_message **reply);

/*
 * Says that the daemon's reply could not be read (r < 0 from sd-bus) and
 * returns r; -EBADMSG when r is 0 (a reply shorter than the contract).
 */
int ctl_bus_bad_reply(const char *what, int r);

/*
 * The name people read for a D-Bus error: the last part of
 * org.freedesktop.DBus.Error.* and System.Error.*, others in full.
 */
const char *ctl_bus_error_short_name(const char *name);

#endif
