/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "charge.h"
#include "log.h"

#define ADMIN_GROUP "iobufd-admin"

/* The value after "key:" in a /proc file, copied into out; -ENOENT if absent. */
static int proc_field(const char *path, const char *key, char *out, size_t size)
{
	size_t len = strlen(key);
	char line[1024];
	int r = -ENOENT;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, len) == 0 && line[len] == ':') {
			snprintf(out, size, "%s", line + len + 1 + strspn(line + len + 1, " \t"));
			out[strcspn(out, "\n")] = '\0';
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

/* The pid a pidfd refers to (from its fdinfo), -EBADF when the fd is none. */
static int pidfd_pid(int pidfd, pid_t *pid)
{
	char path[64], value[32];
	long n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (proc_field(path, "Pid", value, sizeof(value)) < 0)
		return -EBADF;
	n = strtol(value, NULL, 10);
	if (n <= 0)
		return -ESRCH; /* -1: it has exited */
	*pid = (pid_t)n;
	return 0;
}

/* The effective uid of pid, as SO_PEERCRED would give it. */
static int pid_uid(pid_t pid, uid_t *uid)
{
	char path[64], value[128];
	unsigned long real, effective;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (proc_field(path, "Uid", value, sizeof(value)) < 0 ||
	    sscanf(value, "%lu %lu", &real, &effective) != 2)
		return -ESRCH;
	*uid = (uid_t)effective;
	return 0;
}

static bool in_admin_group(pid_t pid)
{
	struct group *admin = getgrnam(ADMIN_GROUP);
	char path[64], groups[1024], *p, *end;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!admin || proc_field(path, "Groups", groups, sizeof(groups)) < 0)
		return false;
	for (p = groups; *p; p = end) {
		unsigned long gid = strtoul(p, &end, 10);

		if (end == p)
			break;
		if (gid == admin->gr_gid)
			return true;
	}
	return false;
}

int charge_to_pidfd(struct client *client, int pidfd, char *why)
{
	pid_t pid, still;
	uid_t uid;
	int r;

	if (client->buffer_count || client->charged_by_pid) {
		snprintf(why, CHARGE_WHY_MAX, "this connection %s; charge another task on a new "
			 "connection", client->buffer_count ? "holds buffers" : "is charged already");
		return -EBUSY;
	}
	r = pidfd_pid(pidfd, &pid);
	if (r == -EBADF) {
		snprintf(why, CHARGE_WHY_MAX, "charge-to takes a pidfd (pidfd_open(2)); this fd is "
			 "none");
		return r;
	}
	/*
	 * The pidfd names the task for good, its pid only while it lives: the
	 * pidfd still showing that pid after /proc was read means the uid read
	 * is that task's, not a successor's.
	 */
	if (r >= 0)
		r = pid_uid(pid, &uid);
	if (r >= 0)
		r = pidfd_pid(pidfd, &still);
	if (r >= 0 && still != pid)
		r = -ESRCH;
	if (r < 0) {
		snprintf(why, CHARGE_WHY_MAX, "the task to charge has exited");
		return -ESRCH;
	}
	if (client->uid != uid && client->uid != 0 && !in_admin_group(client->pid)) {
		snprintf(why, CHARGE_WHY_MAX, "uid %u may not charge pid %d (uid %u): only the "
			 "same uid, root and " ADMIN_GROUP " may", (unsigned)client->uid, (int)pid,
			 (unsigned)uid);
		return -EPERM;
	}
	log_info("client %u (pid %d, %s) now charges its buffers to pid %d, uid %u", client->id,
		 (int)client->pid, client->comm, (int)pid, (unsigned)uid);
	client_become(client, pidfd, pid, uid);
	return 0;
}
