/* SPDX-License-Identifier: MIT */
/* The listening socket and the set of connections. */
#ifndef IOBUFD_SERVER_H
#define IOBUFD_SERVER_H

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "core/allocator.h"

struct connection;

struct server {
	sd_event *event;
	struct allocator *allocator;
	int sock;
	const char *path;  /* set when this process created the socket */
	sd_event_source *listen_source;
	sd_event_source *retry_source; /* re-arms accept after EMFILE; made at start */
	int spare_fd;                  /* given up to turn a client away when out of fds */
	bool fd_shortage_logged;
	struct connection *connections;
	unsigned connection_count;
	unsigned max_clients;
};

/*
 * Listens on listen_fd, the socket systemd passed (taking it), or when it
 * is -1 creates one at path. Refuses a path where another daemon answers
 * or that is not a socket.
 */
int server_init(struct server *server, sd_event *event, struct allocator *allocator,
		int listen_fd, const char *path, unsigned max_clients);
void server_fini(struct server *server);

#endif
