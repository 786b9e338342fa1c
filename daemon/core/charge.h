/* SPDX-License-Identifier: MIT */
/*
 * Charging another task: a client hands iobufd a pidfd, and from then on
 * its buffers are charged to that task (its uid, pid, unit, cgroup and
 * limits), as a compositor or camera service allocating for its clients
 * would want. Allowed when the caller has the target's uid, is root, or is
 * in the iobufd-admin group. When the task exits, what it was charged is
 * released and the client gets no more buffers.
 *
 * The pidfd goes to the fd store as "charge;client=3;pid=1234;uid=1000"
 * (";bus=1.42" for a bus client), so that a restart keeps the charge.
 */
#ifndef IOBUFD_CHARGE_H
#define IOBUFD_CHARGE_H

#include <systemd/sd-event.h>

#include "allocator.h"
#include "reason.h"

/*
 * Makes client (holding no buffers) the task behind pidfd, which it takes
 * (and closes on failure), and watches that task on event. 0, or a
 * negative errno with why: EBADF for an fd that is not a pidfd, ESRCH for
 * a task that has exited, EPERM for one the caller may not charge, EBUSY
 * for a client that holds buffers or is charged already.
 */
int charge_to_pidfd(struct allocator *a, sd_event *event, struct client *client, int pidfd,
		    struct reason *why);
/*
 * Charges client again to the task the previous iobufd stored (taking the
 * pidfd), without asking again whether it may: it was allowed then. A task
 * that has exited since leaves the client exited.
 */
void charge_resume(struct allocator *a, sd_event *event, struct client *client,
		   const struct stored_charge *stored, int pidfd);
/* The client is going: its charge is no longer watched or stored. */
void charge_end(struct allocator *a, struct client *client);

#endif
