/* SPDX-License-Identifier: MIT */
/* The D-Bus transport: org.iobufd.Allocator1 on /org/iobufd/Allocator1. */
#ifndef IOBUFD_BUS_H
#define IOBUFD_BUS_H

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "allocator.h"

struct bus_client;

struct bus_service {
	sd_bus *bus;
	struct allocator *allocator;
	struct bus_client *clients;
};

/*
 * Connects to which ("system", "session" or a bus address), exports the
 * interface and takes the name. 0 or a negative errno (logged).
 */
int bus_service_init(struct bus_service *service, sd_event *event, struct allocator *allocator,
		     const char *which);
/* Releases every bus client's buffers and leaves the bus. Safe after a failed init. */
void bus_service_fini(struct bus_service *service);

#endif
