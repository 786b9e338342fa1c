/* SPDX-License-Identifier: MIT */
/*
 * The part of a service manager iobufd talks to, as systemd implements it:
 * a $NOTIFY_SOCKET that takes fds into a store (FDSTORE=1, FDNAME=,
 * FDSTOREREMOVE=1), and a start that hands the socket unit's listening
 * socket and the stored fds back in $LISTEN_FDS with $LISTEN_FDNAMES.
 */
#ifndef IOBUF_TEST_SERVICE_MANAGER_H
#define IOBUF_TEST_SERVICE_MANAGER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct iobuf_task;

#define MANAGER_STORE_MAX 64

struct stored_fd {
	char name[256];
	int fd;
};

struct service_manager {
	char dir[64];
	char notify_path[128];
	char socket_path[128]; /* the socket unit's */
	int notify;
	int listen;
	pid_t pid; /* the running iobufd, 0 when none */
	unsigned fdstore_max; /* $FDSTORE; 0: MANAGER_STORE_MAX */
	struct stored_fd store[MANAGER_STORE_MAX];
	size_t stored;
};

/* A notify socket and a listening socket in a fresh directory. */
void manager_init(struct service_manager *m);
/* Stops a running iobufd, closes the store and removes the directory. */
void manager_fini(struct service_manager *m);
/* cmocka setup and teardown: a manager with a started iobufd in *state. */
int manager_fixture_setup(void **state);
int manager_fixture_teardown(void **state);

/*
 * Starts $IOBUFD_BINARY --no-dbus --heaps=memfd plus extra_args (NULL-
 * terminated, may be NULL) with the listening socket and the store.
 */
void manager_spawn(struct service_manager *m, const char *const *extra_args);
/* The same, and waits for READY=1. */
void manager_start(struct service_manager *m, const char *const *extra_args);
/* SIGTERMs iobufd, waits for STOPPING=1 and its exit, keeping the store. */
void manager_stop(struct service_manager *m);

/*
 * Handles notifications, storing and removing fds, until one contains
 * text; fails the test after timeout_ms.
 */
void manager_expect(struct service_manager *m, const char *text, int timeout_ms);
/*
 * Handles notifications until the store holds exactly count fds whose
 * names start with prefix; fails after timeout_ms.
 */
void manager_wait_stored(struct service_manager *m, const char *prefix, size_t count,
			 int timeout_ms);
/*
 * Forks a child that opens a task with open_task(socket_path), allocates a
 * buffer of size bytes with options in it and waits to be killed; returns
 * its pid once it holds the buffer.
 */
pid_t spawn_holder(struct iobuf_task *(*open_task)(const char *socket_path),
		   const char *socket_path, uint32_t options, size_t size);
/* How many stored fds have names starting with prefix. */
size_t manager_count_stored(const struct service_manager *m, const char *prefix);

#endif
