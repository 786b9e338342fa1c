/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "config.h"
#include "rights.h"

bool rights_admin(uid_t uid, gid_t gid, const gid_t *groups, size_t count)
{
	const struct group *admin;

	if (uid == 0)
		return true;
	admin = getgrnam(IOBUFD_ADMIN_GROUP);
	if (!admin)
		return false;
	if (gid == admin->gr_gid)
		return true;
	for (size_t i = 0; i < count; i++)
		if (groups[i] == admin->gr_gid)
			return true;
	return false;
}

bool rights_peer_admin(int sock, uid_t uid, gid_t gid)
{
	gid_t some[64], *groups = some;
	socklen_t len = sizeof(some);
	bool admin;

	if (uid == 0)
		return true;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || !(groups = malloc(len)))
			return rights_admin(uid, gid, NULL, 0);
		if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	admin = rights_admin(uid, gid, groups, len / sizeof(*groups));
	if (groups != some)
		free(groups);
	return admin;
}
