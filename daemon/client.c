/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "client.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

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
}

static void read_unit(pid_t pid, char unit[128])
{
	char *name = NULL;

	unit[0] = '\0';
	if (sd_pid_get_unit(pid, &name) >= 0 || sd_pid_get_user_unit(pid, &name) >= 0)
		snprintf(unit, 128, "%s", name);
	free(name);
}

int client_init(struct client *client, int sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int pidfd = -1;

	*client = (struct client){ .pidfd = -1 };
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	client->uid = cred.uid;
	client->pid = cred.pid;
	len = sizeof(pidfd);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0)
		client->pidfd = pidfd;
	read_comm(cred.pid, client->comm);
	read_unit(cred.pid, client->unit);
	client->transport = "socket";
	return 0;
}

void client_init_from_creds(struct client *client, uid_t uid, pid_t pid)
{
	*client = (struct client){ .uid = uid, .pid = pid };
	/* The bus gave a pid: pin the process now, as close to the call as we can. */
	client->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	read_comm(pid, client->comm);
	read_unit(pid, client->unit);
	client->transport = "bus";
}

void client_fini(struct client *client)
{
	if (client->pidfd >= 0)
		close(client->pidfd);
	client->pidfd = -1;
}

void client_add_buffer(struct client *client, struct buffer *buffer)
{
	buffer->next = client->buffers;
	client->buffers = buffer;
	client->buffer_count++;
	client->bytes += buffer->size;
}

struct buffer *client_find_buffer(const struct client *client, uint64_t id)
{
	for (struct buffer *b = client->buffers; b; b = b->next)
		if (b->id == id)
			return b;
	return NULL;
}

void client_remove_buffer(struct client *client, struct buffer *buffer)
{
	for (struct buffer **p = &client->buffers; *p; p = &(*p)->next) {
		if (*p == buffer) {
			*p = buffer->next;
			client->buffer_count--;
			client->bytes -= buffer->size;
			return;
		}
	}
}
