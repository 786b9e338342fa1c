/* SPDX-License-Identifier: MIT */
/* One client on the socket: reads requests, answers them, owns its charge. */
#ifndef IOBUFD_CONNECTION_H
#define IOBUFD_CONNECTION_H

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "core/client.h"

/* A connection that has not said hello by then is closed. */
#define HELLO_DEADLINE_USEC (5 * 1000000ull)

struct server;

struct connection {
	struct connection *prev, *next;
	struct server *server;
	struct client client;
	int sock;
	sd_event_source *source;
	sd_event_source *hello_deadline; /* until hello is answered */
	bool greeted;
};

/* Takes ownership of sock (a connected, non-blocking socket). */
int connection_new(struct server *server, int sock);
/*
 * Takes over a connection the previous iobufd stored: greeted already, its
 * client keeps client_id. Takes sock, as connection_new().
 */
int connection_adopt(struct server *server, int sock, unsigned client_id);
/* Closes the connection and releases everything charged to it. */
void connection_free(struct connection *conn);

#endif
