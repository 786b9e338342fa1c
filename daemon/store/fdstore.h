/* SPDX-License-Identifier: MIT */
/*
 * The service manager's fd store. Every buffer fd and every greeted
 * connection is handed to the manager (FDSTORE=1) under a name that says
 * what it is:
 *
 *   conn;client=3
 *   charge;client=3;pid=1234;uid=1000[;bus=1.42]
 *   buf;id=7;client=3;size=4096;options=0x308;state=2;heap=memfd[;bus=1.42]
 *       ;uid=1000;pid=1234[;freed=1]
 *
 * (uid and pid: whom a buffer stays charged to should its owner be gone;
 * freed: its owner freed it, and others still refer to it)
 * so that the next iobufd, after a restart or an upgrade, gets them back in
 * $LISTEN_FDS/$LISTEN_FDNAMES and rebuilds its registry (restore.c): no
 * buffer and no charge is lost, and clients keep their connections.
 *
 * In use only when the manager keeps fds for this service: $FDSTORE holds
 * how many (systemd 254 sets it from FileDescriptorStoreMax=; the unit sets
 * it too for older managers).
 */
#ifndef IOBUFD_FDSTORE_H
#define IOBUFD_FDSTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/client.h"
#include "label.h"
#include "record.h"
#include "heaps/heap.h"

struct fdstore {
	unsigned max;    /* 0: no store */
	unsigned stored; /* fds handed over and not taken back */
	bool stopping;   /* from now on what is stored stays for the next iobufd */
	bool full_warned;
	struct record connections, charges; /* by client id */
	struct record buffers;              /* by buffer id */
};

/* Reads $FDSTORE. */
void fdstore_init(struct fdstore *store);
void fdstore_fini(struct fdstore *store);

/* systemd's limit for a name in $LISTEN_FDNAMES. */
#define FDSTORE_NAME_MAX 255

/*
 * The core tells the store what changed; the store keeps its own record of
 * what it holds and under which name, and stores again only what a change
 * renamed. Without a store (max 0) each does nothing.
 */
/* A greeted connection, and its client's end. */
void fdstore_connection(struct fdstore *store, const struct client *client, int sock);
void fdstore_connection_gone(struct fdstore *store, const struct client *client);
/* The pidfd of the task a client charges (charge.c). */
void fdstore_charge(struct fdstore *store, const struct client *client);
void fdstore_charge_gone(struct fdstore *store, const struct client *client);
/* A new buffer, or one whose owner, purgeable state or use changed; owner is its client. */
void fdstore_buffer(struct fdstore *store, const struct buffer *buffer,
		    const struct client *owner);
void fdstore_buffer_gone(struct fdstore *store, const struct buffer *buffer);
/* Whether the store holds a reference to buffer id (release.c counts it). */
bool fdstore_holds_buffer(const struct fdstore *store, uint64_t id);

enum stored_kind { STORED_CONNECTION, STORED_CHARGE, STORED_BUFFER };
/* What the previous iobufd stored as name and this one took over (key: client or buffer id). */
void fdstore_adopt(struct fdstore *store, enum stored_kind kind, uint64_t key, const char *name);
/* Takes back an fd the manager passed, stored as name. */
void fdstore_forget_name(struct fdstore *store, const char *name);
/*
 * The daemon is going away: what it closes from now on stays stored,
 * for the next iobufd to take back.
 */
void fdstore_stop(struct fdstore *store);

/* What the previous iobufd stored, as this one was given it. */
struct stored_connection {
	unsigned client_id;
	int fd;
	char name[FDSTORE_NAME_MAX + 1];
};

struct stored_charge {
	unsigned client_id;
	pid_t pid;
	uid_t uid;
	char bus_name[256]; /* the charging client's unique bus name, "" on the socket */
	int fd;
	char name[FDSTORE_NAME_MAX + 1];
};

struct stored_buffer {
	uint64_t id;
	unsigned client_id;
	uint64_t size;
	uint32_t options;
	uint32_t state;
	char heap[HEAP_NAME_MAX + 1];
	char bus_name[256]; /* the owner's unique bus name, "" for a socket client */
	bool freed;
	char label[LABEL_MAX + 1];
	uint64_t created_usec;
	bool owner_known;   /* uid and pid are the owner's */
	uid_t uid;
	pid_t pid;
	int fd;
	char name[FDSTORE_NAME_MAX + 1];
};

struct handover {
	int listen_fd; /* the socket unit's listening socket, -1 if none */
	struct stored_connection *connections;
	size_t connection_count;
	struct stored_charge *charges;
	size_t charge_count;
	struct stored_buffer *buffers;
	size_t buffer_count;
};

/*
 * Takes the fds in $LISTEN_FDS by their names: the listening socket, the
 * connections, charges and buffers, which are still in store. 0 or a negative
 * errno (logged).
 */
int handover_take(struct handover *h, struct fdstore *store);
/* Closes every fd of h still >= 0 and frees it. */
void handover_fini(struct handover *h);

/* Parse a stored fd's name; for tests. */
int fdstore_parse_buffer(const char *name, struct stored_buffer *out);
int fdstore_parse_charge(const char *name, struct stored_charge *out);

#endif
