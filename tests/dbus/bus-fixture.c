/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-fixture.h"

void start_bus(struct bus_fixture *f)
{
	int pipefd[2];
	char fdarg[32];
	ssize_t n;

	assert_int_equal(pipe(pipefd), 0);
	f->bus_pid = fork();
	assert_true(f->bus_pid >= 0);
	if (f->bus_pid == 0) {
		close(pipefd[0]);
		snprintf(fdarg, sizeof(fdarg), "--print-address=%d", pipefd[1]);
		execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nosyslog",
		       "--config-file", getenv("IOBUF_BUS_CONFIG"), fdarg, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	n = read(pipefd[0], f->address, sizeof(f->address) - 1);
	close(pipefd[0]);
	assert_true(n > 0);
	f->address[n] = '\0';
	f->address[strcspn(f->address, "\n")] = '\0';
}

sd_bus *connect_bus(const char *address)
{
	sd_bus *bus = NULL;

	assert_true(sd_bus_new(&bus) >= 0);
	assert_true(sd_bus_set_address(bus, address) >= 0);
	assert_true(sd_bus_set_bus_client(bus, 1) >= 0);
	assert_true(sd_bus_start(bus) >= 0);
	return bus;
}

void wait_for_name(sd_bus *bus)
{
	for (int tries = 0; tries < 1000; tries++) {
		sd_bus_message *reply = NULL;
		int has = 0;

		if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
				       NAME) >= 0)
			sd_bus_message_read(reply, "b", &has);
		sd_bus_message_unref(reply);
		if (has)
			return;
		usleep(10000);
	}
	fail_msg("iobufd never took %s", NAME);
}

/*
 * The connections that saw the daemon come up go asynchronously: tests
 * start once the daemon counts none.
 */
static void wait_for_no_clients(sd_bus *bus)
{
	uint32_t clients = 1;

	for (int tries = 0; tries < 1000 && clients; tries++) {
		assert_int_equal(sd_bus_get_property_trivial(bus, NAME, PATH, NAME, "Clients",
							     NULL, 'u', &clients), 0);
		if (clients)
			usleep(10000);
	}
	assert_int_equal(clients, 0);
}

int bus_fixture_setup(void **state)
{
	static struct bus_fixture f;
	char busarg[300];

	*state = &f; /* so that teardown cleans up after a failed setup */
	start_bus(&f);
	snprintf(busarg, sizeof(busarg), "--bus=%s", f.address);
	test_daemon_start(&f.daemon, (const char *[]){ busarg, NULL });
	f.bus = connect_bus(f.address);
	wait_for_name(f.bus);
	wait_for_no_clients(f.bus);
	return 0;
}

int bus_fixture_teardown(void **state)
{
	struct bus_fixture *f = *state;

	sd_bus_flush_close_unref(f->bus);
	if (f->bus_pid > 0) {
		kill(f->bus_pid, SIGTERM);
		waitpid(f->bus_pid, NULL, 0);
	}
	if (f->daemon.pid > 0)
		test_daemon_stop(&f->daemon);
	return 0;
}
