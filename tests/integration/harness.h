/* SPDX-License-Identifier: MIT */
/* Runs a real iobufd for a test and talks to it. */
#ifndef IOBUF_TEST_HARNESS_H
#define IOBUF_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include "wire.h"

struct test_daemon {
	pid_t pid;
	char dir[64];
	char socket[128];
};

/*
 * Starts $IOBUFD_BINARY (under $IOBUFD_WRAPPER, split on spaces, when set)
 * on a socket in a fresh temporary directory, with extra arguments
 * (NULL-terminated, may be NULL), and waits until it accepts. Sets
 * $IOBUFD_SOCKET to its socket. Fails the test if it does not come up.
 */
void test_daemon_start(struct test_daemon *d, const char *const *extra_args);

/* SIGTERMs it and asserts a clean exit (status 0) that removed the socket. */
void test_daemon_stop(struct test_daemon *d);

/* Whether the daemon process is still running. */
int test_daemon_alive(const struct test_daemon *d);

/* A raw SOCK_SEQPACKET connection to path, or -1. */
int raw_connect(const char *path);

/* Sends hello and asserts the hello-reply. */
void raw_hello(int sock);

/* Sends msg and receives the reply; returns wire_recv's result. */
int raw_call(int sock, struct wire_message *msg, struct wire_message *reply, int *fd);

/* Whether the peer closed the connection (reads EOF within a second). */
int raw_closed(int sock);

/* Open fds of this process. */
size_t count_open_fds(void);

#endif
