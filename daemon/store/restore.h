/* SPDX-License-Identifier: MIT */
/*
 * Takes over what the previous iobufd stored: its connections, the charges
 * they made to other tasks, then its buffers.
 */
#ifndef IOBUFD_RESTORE_H
#define IOBUFD_RESTORE_H

#include <systemd/sd-event.h>

#include "core/allocator.h"
#include "fdstore.h"

/* How each front end takes back what it stored; main.c fills it in. */
struct restore_front_ends {
	/* Takes over a stored connection (taking sock) as client id. */
	int (*adopt_connection)(void *socket, int sock, unsigned id);
	/* The client of a bus name the previous iobufd served as id, made if need be. */
	int (*adopt_bus_client)(void *bus, const char *name, unsigned id, struct client **out);
	void *socket;
	void *bus;
};

/*
 * Adopts h's connections, charges and buffers (taking their fds) with their ids,
 * charges and states. A buffer whose owner has gone in the meantime, or
 * whose heap is not in use any more, is released and taken out of the
 * store.
 */
void restore_registry(struct handover *h, struct allocator *a, sd_event *event,
		      const struct restore_front_ends *fe);

#endif
