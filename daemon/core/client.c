/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "client.h"
#include "list.h"
#include "rights.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* Length of the valid UTF-8 sequence at s (of len bytes), 0 if there is none. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
	size_t need;

	if (s[0] >= 0x20 && s[0] < 0x7f)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0; /* control characters, stray continuation bytes, overlong leads */
	if (need > len)
		return 0;
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

/*
 * A task names itself (prctl(PR_SET_NAME)) with any bytes; D-Bus carries
 * only UTF-8, and logs want no control characters: those become '?'.
 */
static void sanitize_comm(char *comm)
{
	unsigned char *s = (unsigned char *)comm;
	size_t len = strlen(comm), n;

	for (size_t i = 0; i < len; i += n) {
		n = utf8_sequence(s + i, len - i);
		if (n == 0) {
			s[i] = '?';
			n = 1;
		}
	}
}

static void read_comm(pid_t pid, char comm[16])
{
	char path[64];
	ssize_t n;
	int fd;

	strcpy(comm, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, 15);
	close(fd);
	if (n <= 0)
		n = 0;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	sanitize_comm(comm);
}

static void read_identity(struct client *client)
{
	read_comm(client->task.pid, client->task.comm);
	cgroup_identity(client->task.pid, client->task.cgroup, client->task.unit);
}

int client_init(struct client *client, int sock, const struct ucred *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int pidfd = -1;

	*client = (struct client){ .task.pidfd = -1 };
	if (peer)
		cred = *peer;
	else if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	client->task.uid = cred.uid;
	client->peer.uid = cred.uid;
	client->task.pid = cred.pid;
	len = sizeof(pidfd);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0)
		client->task.pidfd = pidfd;
	read_identity(client);
	client->peer.admin = rights_peer_admin(sock, cred.uid, cred.gid);
	client->transport = "socket";
	return 0;
}

void client_init_from_creds(struct client *client, uid_t uid, pid_t pid, bool admin)
{
	*client = (struct client){ .task = { .uid = uid, .pid = pid },
				   .peer = { .uid = uid, .admin = admin } };
	/* The bus gave a pid: pin the process now, as close to the call as we can. */
	client->task.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	read_identity(client);
	client->transport = "bus";
}

void client_become(struct client *client, int pidfd, pid_t pid, uid_t uid)
{
	client->charge_to.by_pid = client->task.pid;
	memcpy(client->charge_to.by_comm, client->task.comm, sizeof(client->task.comm));
	if (client->task.pidfd >= 0)
		close(client->task.pidfd);
	client->task.pidfd = pidfd;
	client->task.pid = pid;
	client->task.uid = uid;
	read_identity(client);
}

void client_fini(struct client *client)
{
	if (client->task.pidfd >= 0)
		close(client->task.pidfd);
	client->task.pidfd = -1;
	free(client->held.ids);
	client->held.ids = NULL;
	client->held.id_slots = 0;
}

static size_t id_slot(size_t slots, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (slots - 1);
}

/*
 * Doubles the id table once it holds twice as many buffers as it has
 * slots: two to a chain, not one, keeps the table at 4 to 8 bytes a buffer.
 */
static int grow_ids(struct client_holdings *held, uint64_t in_use)
{
	size_t slots = held->id_slots ? held->id_slots * 2 : 16;
	struct buffer **ids;

	if (in_use < 2 * held->id_slots)
		return 0;
	ids = calloc(slots, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < held->id_slots; i++) {
		while (held->ids[i]) {
			struct buffer *b = held->ids[i];
			size_t slot = id_slot(slots, b->id);

			held->ids[i] = b->link;
			b->link = ids[slot];
			ids[slot] = b;
		}
	}
	free(held->ids);
	held->ids = ids;
	held->id_slots = slots;
	return 0;
}

static void ids_add(struct client_holdings *held, struct buffer *b)
{
	size_t slot = id_slot(held->id_slots, b->id);

	b->link = held->ids[slot];
	held->ids[slot] = b;
}

static void ids_remove(struct client_holdings *held, struct buffer *b)
{
	for (struct buffer **p = &held->ids[id_slot(held->id_slots, b->id)]; *p; p = &(*p)->link) {
		if (*p == b) {
			*p = b->link;
			b->link = NULL;
			return;
		}
	}
}

int client_add_buffer(struct client *client, struct buffer *buffer)
{
	struct client_holdings *held = &client->held;

	if (buffer->freed)
		LIST_PREPEND(held->freed, buffer, link, freed_prev);
	else if (grow_ids(held, held->buffer_count - held->freed_count + 1) < 0)
		return -ENOMEM;
	else
		ids_add(held, buffer);
	LIST_PREPEND(held->buffers, buffer, next, prev);
	held->buffer_count++;
	held->bytes += buffer->size;
	held->freed_count += buffer->freed;
	return 0;
}

struct buffer *client_find_buffer(const struct client *client, uint64_t id)
{
	const struct client_holdings *held = &client->held;

	if (!held->id_slots)
		return NULL;
	for (struct buffer *b = held->ids[id_slot(held->id_slots, id)]; b; b = b->link)
		if (b->id == id)
			return b;
	return NULL;
}

struct buffer *client_find_charged_buffer(const struct client *client, uint64_t id)
{
	struct buffer *b = client_find_buffer(client, id);

	if (b)
		return b;
	for (b = client->held.freed; b; b = b->link)
		if (b->id == id)
			return b;
	return NULL;
}

const char *buffer_use(const struct buffer *buffer)
{
	if (buffer->freed)
		return "freed by its owner, still referenced";
	return buffer->pooled ? "pooled, not handed out yet" : "in use";
}

void client_free_buffer(struct client *client, struct buffer *buffer)
{
	ids_remove(&client->held, buffer);
	buffer->freed = true;
	LIST_PREPEND(client->held.freed, buffer, link, freed_prev);
	client->held.freed_count++;
}

void client_remove_buffer(struct client *client, struct buffer *buffer)
{
	struct client_holdings *held = &client->held;

	if (buffer->freed)
		LIST_REMOVE(held->freed, buffer, link, freed_prev);
	else
		ids_remove(held, buffer);
	LIST_REMOVE(held->buffers, buffer, next, prev);
	held->buffer_count--;
	held->bytes -= buffer->size;
	held->freed_count -= buffer->freed;
}
