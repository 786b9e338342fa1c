/* SPDX-License-Identifier: MIT */
/*
 * Charging another task: a connection hands iobufd a pidfd, and from then
 * on its buffers are charged to that task (its uid, pid, unit, cgroup and
 * limits), as a compositor or camera service allocating for its clients
 * would want. Allowed when the caller has the target's uid, is root, or is
 * in the iobufd-admin group.
 */
#ifndef IOBUFD_CHARGE_H
#define IOBUFD_CHARGE_H

#include "client.h"

#define CHARGE_WHY_MAX 512

/*
 * Makes client (the caller, holding no buffers) the task behind pidfd,
 * which it takes on success. 0, or a negative errno with why: EBADF for
 * an fd that is not a pidfd, ESRCH for a task that has exited, EPERM for
 * one the caller may not charge, EBUSY for a connection that holds buffers
 * or is charged already.
 */
int charge_to_pidfd(struct client *client, int pidfd, char *why);

#endif
