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
	int ready_fd;                  /* epoll of the connections, made with the first; 0: none */
	sd_event_source *ready_source; /* on ready_fd */
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

/*
 * The connections are read from one epoll set of their own, which the
 * event loop watches as one source: each time it is ready, every ready
 * connection gets a turn (connection_serve()), rather than one connection
 * per wake-up of the loop.
 */
int server_watch_connection(struct server *server, int sock, struct connection *conn);
void server_unwatch_connection(struct server *server, int sock);

#endif
