/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "charge.h"
#include "config.h"
#include "log-budget.h"
#include "log.h"

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

/* A pidfd reads as ready once its task has exited, reaped or not (a zombie). */
static bool pidfd_exited(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP));
}

/*
 * The pid and uid of the task behind pidfd: -EBADF when the fd is no
 * pidfd, -ESRCH when the task has exited (a zombie too). The pidfd names the task for
 * good, its pid only while it lives: the pidfd still showing that pid
 * after /proc was read means the uid read is that task's, not a successor's.
 */
static int pidfd_identity(int pidfd, pid_t *pid, uid_t *uid)
{
	pid_t still;
	int r;

	r = pidfd_pid(pidfd, pid);
	if (r >= 0 && pidfd_exited(pidfd))
		r = -ESRCH;
	if (r >= 0)
		r = pid_uid(*pid, uid);
	if (r >= 0)
		r = pidfd_pid(pidfd, &still);
	if (r >= 0 && still != *pid)
		r = -ESRCH;
	return r;
}

struct charge {
	struct allocator *allocator;
	struct client *client;
	sd_event_source *exit_watch;
};

/* The charged task exited: what it was charged goes, and it gets no more. */
static int on_task_exit(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct charge *charge = userdata;
	struct client *client = charge->client;
	uint64_t buffers = client->held.buffer_count, bytes = client->held.bytes;

	allocator_free_client_buffers(charge->allocator, client);
	client->charge_to.exited = true;
	log_for_uid(client->peer.uid, LOG_INFO,
		    "pid %d (%s), charged by client %u (pid %d, %s), exited: released %" PRIu64
		    " buffers (%" PRIu64 " bytes); %" PRIu64 " still referenced stay charged",
		    (int)client->task.pid, client->task.comm, client->id, (int)client->charge_to.by_pid,
		    client->charge_to.by_comm, buffers - client->held.buffer_count,
		    bytes - client->held.bytes, client->held.buffer_count);
	charge->exit_watch = sd_event_source_disable_unref(charge->exit_watch);
	return 0;
}

/*
 * Client now stands for the task behind pidfd (taken), watched for its
 * exit; a task that has exited already is seen at once.
 */
static void charge_begin(struct allocator *a, sd_event *event, struct client *client, int pidfd,
			 pid_t pid, uid_t uid)
{
	struct charge *charge = calloc(1, sizeof(*charge));
	int r = -ENOMEM;

	client_become(client, pidfd, pid, uid);
	if (charge) {
		*charge = (struct charge){ .allocator = a, .client = client };
		client->charge_to.watch = charge;
		r = sd_event_add_io(event, &charge->exit_watch, pidfd, EPOLLIN, on_task_exit,
				    charge);
		/*
		 * Before any request that arrived with the exit: a task that has
		 * exited gets nothing more, whichever the loop sees first.
		 */
		if (r >= 0)
			r = sd_event_source_set_priority(charge->exit_watch,
							 SD_EVENT_PRIORITY_IMPORTANT);
	}
	if (r < 0)
		log_error_errno(r, "cannot watch pid %d for its exit", (int)pid);
}

/* Whether client may become the task behind pidfd: 0, or a negative errno with why. */
static int check_charge_to(const struct client *client, int pidfd, pid_t *pid, uid_t *uid,
			   struct reason *why)
{
	int r;

	if (client->held.buffer_count || client->charge_to.by_pid)
		return reason_set(why, -EBUSY, "this client %s; charge another task on a new "
				  "connection", client->held.buffer_count ? "holds buffers"
				  : "is charged already");
	r = pidfd_identity(pidfd, pid, uid);
	if (r == -EBADF)
		return reason_set(why, r, "charge-to takes a pidfd (pidfd_open(2)); this fd is "
				  "none");
	if (r < 0)
		return reason_set(why, -ESRCH, "the task to charge has exited");
	if (client->task.uid != *uid && !client->peer.admin)
		return reason_set(why, -EPERM, "uid %u may not charge pid %d (uid %u): only the "
				  "same uid, root and " IOBUFD_ADMIN_GROUP " may", (unsigned)client->task.uid,
				  (int)*pid, (unsigned)*uid);
	return 0;
}

int charge_to_pidfd(struct allocator *a, sd_event *event, struct client *client, int pidfd,
		    struct reason *why)
{
	pid_t pid;
	uid_t uid;
	int r;

	r = check_charge_to(client, pidfd, &pid, &uid, why);
	if (r < 0) {
		close(pidfd);
		return r;
	}
	log_for_uid(client->peer.uid, LOG_INFO,
		    "client %u (pid %d, %s) now charges its buffers to pid %d, uid %u", client->id,
		    (int)client->task.pid, client->task.comm, (int)pid, (unsigned)uid);
	charge_begin(a, event, client, pidfd, pid, uid);
	fdstore_charge(&a->store, client);
	return 0;
}

void charge_resume(struct allocator *a, sd_event *event, struct client *client,
		   const struct stored_charge *stored, int pidfd)
{
	pid_t pid;
	uid_t uid;
	int r;

	/* The task keeps the uid it was charged under, as it did before the restart. */
	r = pidfd_identity(pidfd, &pid, &uid);
	if (r == -EBADF || (r >= 0 && pid != stored->pid)) {
		log_warning("client %u: its stored charge is not pid %d's pidfd; dropped",
			    client->id, (int)stored->pid);
		fdstore_forget_name(&a->store, stored->name);
		close(pidfd);
		return;
	}
	if (r < 0)
		log_info("pid %d, charged by client %u, exited while no iobufd ran",
			 (int)stored->pid, client->id);
	charge_begin(a, event, client, pidfd, stored->pid, stored->uid);
	fdstore_adopt(&a->store, STORED_CHARGE, client->id, stored->name);
	if (r < 0) /* its pid may name another task by now: what /proc says is not its */
		client->task.comm[0] = client->task.unit[0] = client->task.cgroup[0] = '\0';
}

void charge_end(struct allocator *a, struct client *client)
{
	struct charge *charge = client->charge_to.watch;

	fdstore_charge_gone(&a->store, client);
	if (!charge)
		return;
	sd_event_source_disable_unref(charge->exit_watch);
	free(charge);
	client->charge_to.watch = NULL;
}
