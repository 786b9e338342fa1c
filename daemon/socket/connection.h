/* SPDX-License-Identifier: MIT */
/* One client on the socket: reads requests, answers them, owns its charge. */
#ifndef IOBUFD_CONNECTION_H
#define IOBUFD_CONNECTION_H

#include <stdbool.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "core/client.h"

/* A connection that has not said hello by then is closed. */
#define HELLO_DEADLINE_USEC (5 * 1000000ull)

/*
 * The most records a connection is served in one turn: every connection
 * with something to read gets a turn before any gets a second one.
 */
#define CONNECTION_TURN_RECORDS 4

struct server;

struct connection {
	struct connection *prev, *next;
	struct server *server;
	struct client client;
	int sock;
	bool watched; /* in the server's set of connections to read */
	sd_event_source *hello_deadline; /* until hello is answered */
	bool greeted;
};

/* Takes ownership of sock (a connected, non-blocking socket). */
int connection_new(struct server *server, int sock, const struct ucred *peer);
/*
 * Takes over a connection the previous iobufd stored: greeted already, its
 * client keeps client_id. Takes sock, as connection_new().
 */
int connection_adopt(struct server *server, int sock, unsigned client_id);
/* Its turn: serves up to CONNECTION_TURN_RECORDS records (revents: epoll's). */
void connection_serve(struct connection *conn, uint32_t revents);
/* Closes the connection and releases everything charged to it. */
void connection_free(struct connection *conn);

#endif
