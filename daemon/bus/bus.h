/* SPDX-License-Identifier: MIT */
/* The D-Bus transport: org.iobufd.Allocator1 on /org/iobufd/Allocator1. */
#ifndef IOBUFD_BUS_H
#define IOBUFD_BUS_H

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "core/allocator.h"
#include "names.h"

struct bus_client;
struct bus_service;

/* bus-admin.c: the admin methods and the Limits property of the same interface. */
extern const sd_bus_vtable bus_admin_vtable[];

/* What a caller may see and do beyond its own clients and buffers. */
struct bus_rights {
	uid_t euid;
	bool admin; /* root or in IOBUFD_ADMIN_GROUP: administers and sees every client */
};
/* Whether bus credentials (with EUID, EGID and supplementary gids) are an admin's. */
bool bus_creds_admin(sd_bus_creds *creds);

/*
 * The rights of m's sender, from the credentials the bus vouches for: one
 * round trip to the bus, and an /etc/group lookup unless it is root. 0 or a
 * negative errno.
 */
int bus_sender_rights(sd_bus_message *m, struct bus_rights *rights);

/* bus-objects.c: an object per client and per buffer. */
int bus_objects_add(struct bus_service *service);

struct bus_service {
	sd_bus *bus;
	struct allocator *allocator;
	struct bus_client *clients;
	/* bus-objects.c: the rights of the last caller to look at the objects, per call. */
	struct {
		char sender[256]; /* its unique name, "" for none yet */
		uint64_t cookie;  /* the call's */
		struct bus_rights rights;
	} reader;
};

/*
 * Connects to which ("system", "session" or a bus address), exports the
 * interface and takes the name. 0 or a negative errno (logged).
 */
int bus_service_init(struct bus_service *service, sd_event *event, struct allocator *allocator,
		     const char *which);
/*
 * The client of a caller the previous iobufd served, as client id, if its
 * unique name is still on the bus; -ENXIO (or another negative errno) if not.
 */
int bus_service_adopt_client(struct bus_service *service, const char *name, unsigned id,
			     struct client **out);
/* Signals that the Limits property changed. Safe without a bus. */
void bus_service_limits_changed(struct bus_service *service);
/* Releases every bus client's buffers and leaves the bus. Safe after a failed init. */
void bus_service_fini(struct bus_service *service);

#endif
