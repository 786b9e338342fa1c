/* SPDX-License-Identifier: MIT */
/*
 * Who may administer iobufd, and charge the tasks of other users: root and
 * the members of IOBUFD_ADMIN_GROUP. One rule for both front ends, each
 * giving the credentials its transport vouches for (SO_PEERCRED and
 * SO_PEERGROUPS on the socket, the bus's on D-Bus).
 */
#ifndef IOBUFD_RIGHTS_H
#define IOBUFD_RIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

bool rights_admin(uid_t uid, gid_t gid, const gid_t *groups, size_t count);

/* The same, for the peer of a connected socket whose SO_PEERCRED is cred. */
bool rights_peer_admin(int sock, uid_t uid, gid_t gid);

#endif
