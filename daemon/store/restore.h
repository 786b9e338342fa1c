/* SPDX-License-Identifier: MIT */
/*
 * Takes over what the previous iobufd stored: its connections, the charges
 * they made to other tasks, then its buffers.
 */
#ifndef IOBUFD_RESTORE_H
#define IOBUFD_RESTORE_H

#include "bus/bus.h"
#include "fdstore.h"
#include "socket/server.h"

/*
 * Adopts h's connections, charges and buffers (taking their fds) with their ids,
 * charges and states. A buffer whose owner has gone in the meantime, or
 * whose heap is not in use any more, is released and taken out of the
 * store.
 */
void restore_registry(struct handover *h, struct server *server, struct bus_service *bus);

#endif
