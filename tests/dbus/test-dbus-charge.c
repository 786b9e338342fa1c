/* SPDX-License-Identifier: MIT */
/*
 * ChargeTo over D-Bus: a bus caller hands iobufd a pidfd and its buffers
 * are charged to that task from then on, as with the socket's charge-to.
 * Not run under valgrind, which (3.19) knows no pidfd_open; the daemon is.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-fixture.h"
#include "harness.h"

#define NOBODY 65534

static uint64_t total_buffers(sd_bus *bus)
{
	uint64_t value = 0;

	assert_int_equal(sd_bus_get_property_trivial(bus, NAME, PATH, NAME, "Buffers", NULL, 't',
						     &value), 0);
	return value;
}

/* Calls ChargeTo(fd) on bus: its pid and uid, or a negative errno and error. */
static int charge_to(sd_bus *bus, int fd, sd_bus_error *error, uint32_t *pid, uint32_t *uid)
{
	sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_call_method(bus, NAME, PATH, NAME, "ChargeTo", error, &reply, "h", fd);
	if (r >= 0) {
		assert_int_equal(sd_bus_message_read(reply, "uu", pid, uid), 1);
		sd_bus_message_unref(reply);
	}
	return r;
}

static void expect_refusal(sd_bus *bus, int fd, const char *name, const char *message)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	uint32_t pid, uid;

	assert_true(charge_to(bus, fd, &error, &pid, &uid) < 0);
	assert_string_equal(error.name, name);
	if (!strstr(error.message, message))
		fail_msg("message \"%s\" lacks \"%s\"", error.message, message);
	sd_bus_error_free(&error);
}

static int allocate(sd_bus *bus, uint64_t capacity, sd_bus_error *error)
{
	return sd_bus_call_method(bus, NAME, PATH, NAME, "Allocate", error, NULL, "ttu", capacity,
				  (uint64_t)0, (uint32_t)0);
}

/* ListClients has the charged task's pid and uid for the bus caller. */
static void assert_listed(sd_bus *bus, pid_t pid, uint64_t bytes)
{
	sd_bus_message *reply = NULL;
	uint32_t id, uid, listed_pid;
	const char *comm, *unit, *transport;
	uint64_t buffers, listed_bytes;
	bool found = false;

	assert_int_equal(sd_bus_call_method(bus, NAME, PATH, NAME, "ListClients", NULL, &reply,
					    ""), 1);
	assert_int_equal(sd_bus_message_enter_container(reply, 'a', "(uuussstt)"), 1);
	while (sd_bus_message_read(reply, "(uuussstt)", &id, &uid, &listed_pid, &comm, &unit,
				   &transport, &buffers, &listed_bytes) > 0) {
		if ((pid_t)listed_pid != pid)
			continue;
		assert_int_equal(uid, getuid());
		assert_string_equal(transport, "bus");
		assert_int_equal(listed_bytes, bytes);
		found = true;
	}
	sd_bus_message_unref(reply);
	if (!found)
		fail_msg("no client for pid %d", (int)pid);
}

static void test_charge_to_another_task(void **state)
{
	struct bus_fixture *f = *state;
	sd_bus *caller = connect_bus(f->address);
	sd_bus_error error = SD_BUS_ERROR_NULL;
	pid_t child = idle_child();
	int pidfd = test_pidfd_open(child);
	uint32_t pid, uid;

	assert_true(charge_to(caller, pidfd, NULL, &pid, &uid) >= 0);
	assert_int_equal(pid, child);
	assert_int_equal(uid, getuid());
	assert_true(allocate(caller, 65536, NULL) >= 0);
	assert_listed(f->bus, child, 65536);

	/* The task exits: its buffers go, and the caller gets no more. */
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, NULL, 0), child);
	for (int tries = 0; tries < 500 && total_buffers(f->bus); tries++)
		usleep(10000);
	assert_int_equal(total_buffers(f->bus), 0);
	assert_true(allocate(caller, 4096, &error) < 0);
	assert_non_null(strstr(error.message, "has exited"));
	sd_bus_error_free(&error);
	close(pidfd);
	sd_bus_flush_close_unref(caller);
}

static void test_refusals(void **state)
{
	struct bus_fixture *f = *state;
	sd_bus *caller = connect_bus(f->address);
	int not_pidfd = memfd_create("x", MFD_CLOEXEC);
	pid_t gone;
	int gone_pidfd = exited_child_pidfd(&gone), own_pidfd = test_pidfd_open(getpid());

	assert_int_equal(waitpid(gone, NULL, 0), gone);

	expect_refusal(caller, not_pidfd, "System.Error.EBADF", "takes a pidfd");
	expect_refusal(caller, gone_pidfd, "org.freedesktop.DBus.Error.UnixProcessIdUnknown",
		       "has exited");
	assert_true(allocate(caller, 4096, NULL) >= 0);
	expect_refusal(caller, own_pidfd, "System.Error.EBUSY", "holds buffers");
	assert_int_equal(total_buffers(f->bus), 1);
	sd_bus_flush_close_unref(caller);

	caller = connect_bus(f->address);
	assert_true(charge_to(caller, own_pidfd, NULL, &(uint32_t){ 0 }, &(uint32_t){ 0 }) >= 0);
	expect_refusal(caller, own_pidfd, "System.Error.EBUSY", "is charged already");
	sd_bus_flush_close_unref(caller);
	close(not_pidfd);
	close(gone_pidfd);
	close(own_pidfd);
	for (int tries = 0; tries < 500 && total_buffers(f->bus); tries++)
		usleep(10000);
}

/* A task that has exited but is not reaped (a zombie) is no task to charge. */
static void test_zombie_is_refused(void **state)
{
	struct bus_fixture *f = *state;
	sd_bus *caller = connect_bus(f->address);
	pid_t zombie;
	int pidfd = exited_child_pidfd(&zombie);

	expect_refusal(caller, pidfd, "org.freedesktop.DBus.Error.UnixProcessIdUnknown",
		       "has exited");
	assert_int_equal(waitpid(zombie, NULL, 0), zombie);
	close(pidfd);
	sd_bus_flush_close_unref(caller);
}

/*
 * One uid's bus callers get their share of the client slots (32 of 256),
 * each further one EUSERS naming the limit; other uids are still served.
 */
static void test_callers_per_uid(void **state)
{
	struct bus_fixture *f = *state;
	pid_t child = fork();
	int status;

	assert_true(child >= 0);
	if (child == 0) {
		sd_bus_error error = SD_BUS_ERROR_NULL;
		sd_bus *callers[40];
		size_t n;

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(10);
		for (n = 0; n < 40; n++) {
			callers[n] = connect_bus(f->address);
			if (allocate(callers[n], 4096, &error) < 0)
				break;
		}
		if (n != 32 || strcmp(error.name, "System.Error.EUSERS") != 0 ||
		    !strstr(error.message, "uid 65534 client limit 32 (its share of max-clients) "
					   "reached: 32 clients connected"))
			_exit(11);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(allocate(f->bus, 4096, NULL) >= 0);
	for (int tries = 0; tries < 500 && total_buffers(f->bus) != 1; tries++)
		usleep(10000);
	assert_int_equal(total_buffers(f->bus), 1);
}

/* A caller running as nobody may not charge a root task: AccessDenied, with why. */
static void test_other_uid_is_denied(void **state)
{
	struct bus_fixture *f = *state;
	char message[128];
	pid_t child;
	int status;

	snprintf(message, sizeof(message), "uid %d may not charge pid %d (uid 0)", NOBODY,
		 (int)getpid());
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int pidfd = test_pidfd_open(getppid());
		sd_bus_error error = SD_BUS_ERROR_NULL;
		uint32_t pid, uid;
		sd_bus *bus;

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY))
			_exit(10);
		bus = connect_bus(f->address);
		if (charge_to(bus, pidfd, &error, &pid, &uid) >= 0)
			_exit(11);
		if (strcmp(error.name, "org.freedesktop.DBus.Error.AccessDenied") != 0 ||
		    !strstr(error.message, message))
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_charge_to_another_task),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_other_uid_is_denied),
		cmocka_unit_test(test_zombie_is_refused),
		cmocka_unit_test(test_callers_per_uid),
	};

	if (getuid() != 0) {
		printf("skipped: run as root to charge a task of another uid\n");
		return 77;
	}
	return cmocka_run_group_tests_name("dbus-charge", tests, bus_fixture_setup,
					   bus_fixture_teardown);
}
