/* SPDX-License-Identifier: MIT */
/*
 * A private dbus-daemon (tests/dbus/bus.conf, from $IOBUF_BUS_CONFIG) with a
 * real iobufd serving org.iobufd.Allocator1 on it, for the suites that talk
 * to the daemon over D-Bus.
 */
#ifndef IOBUF_TEST_BUS_FIXTURE_H
#define IOBUF_TEST_BUS_FIXTURE_H

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "harness.h"
#include "names.h"

/* Short, for the busctl and gdbus command lines the tests build. */
#define NAME IOBUF_BUS_NAME
#define PATH IOBUF_BUS_PATH
#define CLIENT1 IOBUF_BUS_CLIENT_INTERFACE
#define BUFFER1 IOBUF_BUS_BUFFER_INTERFACE

struct bus_fixture {
	pid_t bus_pid;
	char address[256];
	struct test_daemon daemon;
	sd_bus *bus; /* the test's own connection */
};

/* Starts dbus-daemon with $IOBUF_BUS_CONFIG and reads its address into f. */
void start_bus(struct bus_fixture *f);

/* A new connection to the bus at address, asserting it works. */
sd_bus *connect_bus(const char *address);

/* Waits until iobufd owns NAME on bus; fails the test after 10 s. */
void wait_for_name(sd_bus *bus);

/*
 * cmocka group setup and teardown: a bus, an iobufd serving on it (and on
 * its own socket, $IOBUFD_SOCKET), and f->bus connected, in *state.
 */
int bus_fixture_setup(void **state);
int bus_fixture_teardown(void **state);

#endif
