/* SPDX-License-Identifier: MIT */
/* A charged task: who it is and the buffers it holds. */
#ifndef IOBUFD_CLIENT_H
#define IOBUFD_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct heap;
struct charge;

/*
 * 104 bytes, so that with its allocation and its share of the id table a
 * buffer costs the daemon no more than 128 bytes (tests/integration/test-scale.c).
 */
struct buffer {
	struct buffer *next, *prev; /* in its client's list, newest first */
	/* In use: the next in its id table slot; freed: the next freed buffer. */
	struct buffer *link;
	struct buffer *freed_prev;  /* freed: the one before in the freed list */
	uint64_t id;
	uint64_t size;
	void *map; /* the daemon's own mapping: KERNEL_USER_SHARED buffers only */
	struct heap *heap;
	char *label;        /* its owner's name for it (label.h), NULL for none */
	uint64_t volatile_seq; /* when it was last made VOLATILE: older ones go first */
	uint64_t created_usec; /* CLOCK_REALTIME */
	int fd; /* the daemon's own reference */
	uint32_t options;
	unsigned client_id; /* its owner's */
	uint8_t purgeable_state;
	bool freed;         /* by its owner, or its owner left: charged until released */
	bool pooled;        /* made for its owner's pool and not yet claimed from it */
};

/* Whom a client charges instead of itself (charge.c owns it). */
struct client_charge_to {
	pid_t by_pid;         /* set when a connection charges this task instead of itself */
	char by_comm[16];
	struct charge *watch; /* then watching this task's exit */
	bool exited;          /* the charged task has exited: it gets no more buffers */
};

/* Its allocations in the current second (quota.c owns it). */
struct client_rate {
	uint64_t window_start; /* CLOCK_MONOTONIC usec */
	uint64_t count;
};

/* The task a client is charged as: its peer's, or the one it charges (client.c). */
struct client_task {
	uid_t uid;
	pid_t pid;
	int pidfd; /* -1 where the kernel has no SO_PEERPIDFD */
	char comm[16];
	char unit[128];   /* its systemd unit, "" when it has none */
	char cgroup[256]; /* its cgroup v2 path, "" when unknown */
};

/* Who is connected, for good: its connection counts against its uid. */
struct client_peer {
	uid_t uid;
	bool admin; /* root or in the admin group (rights.h) */
};

/* What a client holds (the allocator's). */
struct client_holdings {
	struct buffer *buffers; /* every one, newest first */
	struct buffer **ids;    /* those in use, by id: a table of id_slots chains */
	size_t id_slots;        /* a power of two, or 0 before the first */
	struct buffer *freed;   /* the freed ones, newest first */
	uint64_t buffer_count; /* every buffer charged to it, freed ones included */
	uint64_t bytes;
	uint64_t freed_count;  /* of those, freed and still referenced elsewhere */
};

struct client {
	struct client *next; /* in the allocator's list */
	unsigned id;
	struct client_task task;
	struct client_peer peer;
	const char *transport; /* "socket", "bus", or "gone" once detached */
	const char *bus_name;  /* a bus client's unique name, else NULL */
	bool detached;         /* its connection is gone; it lives while its buffers do */
	struct client_holdings held;
	struct client_charge_to charge_to;
	struct client_rate rate;
};

/*
 * Fills identity from a connected socket's peer, whose SO_PEERCRED is peer
 * when the caller read it already (NULL: read here). The allocator assigns
 * the id.
 */
int client_init(struct client *client, int sock, const struct ucred *peer);
/* Fills identity from credentials a bus vouched for. */
void client_init_from_creds(struct client *client, uid_t uid, pid_t pid, bool admin);
void client_fini(struct client *client);
/*
 * The client now stands for the task pidfd (taken) refers to: its
 * identity is read again and the caller's is kept as charged_by.
 */
void client_become(struct client *client, int pidfd, pid_t pid, uid_t uid);

/* Adds the buffer (in use or freed) to the client; -ENOMEM leaves it unadded. */
int client_add_buffer(struct client *client, struct buffer *buffer);
/* The buffer id that the client has not freed, or NULL. */
struct buffer *client_find_buffer(const struct client *client, uint64_t id);
/* Any buffer id charged to the client, freed ones included, or NULL. */
struct buffer *client_find_charged_buffer(const struct client *client, uint64_t id);
/* What admins are told of the buffer's use: "in use", or freed and still referenced. */
const char *buffer_use(const struct buffer *buffer);
/* Unlinks the buffer from the client; the caller frees it. */
void client_remove_buffer(struct client *client, struct buffer *buffer);
/* The owner freed the buffer: it leaves the id table for the freed list. */
void client_free_buffer(struct client *client, struct buffer *buffer);

#endif
