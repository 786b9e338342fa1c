/* SPDX-License-Identifier: MIT */
/* Opening the bus org.iobufd.Allocator1 lives on, for iobufd and iobufctl alike. */
#ifndef IOBUF_COMMON_BUS_OPEN_H
#define IOBUF_COMMON_BUS_OPEN_H

#include <systemd/sd-bus.h>

/*
 * Connects to which: "system", "session", or a D-Bus address (as tests
 * and private buses use). 0, or a negative errno with *bus NULL.
 */
int bus_open(const char *which, sd_bus **bus);

#endif
