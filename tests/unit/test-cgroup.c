/* SPDX-License-Identifier: MIT */
/*
 * A process's unit from its cgroup path, as libsystemd reads it: over a
 * table of the paths real machines have, and for every process this test
 * can see, against sd_pid_get_user_unit() and sd_pid_get_unit() themselves.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>

#include <cmocka.h>

#include "core/cgroup.h"

static void expect_unit(const char *path, const char *root, const char *expected)
{
	char unit[128];

	cgroup_unit_of_path(path, root, unit);
	if (strcmp(unit, expected) != 0)
		fail_msg("%s (root %s): unit \"%s\", not \"%s\"", path, root, unit, expected);
}

static void test_paths(void **state)
{
	expect_unit("/system.slice/iobufd.service", "/", "iobufd.service");
	expect_unit("/system.slice/system-getty.slice/getty@tty1.service", "/",
		    "getty@tty1.service");
	expect_unit("/init.scope", "/", "init.scope");
	expect_unit("/user.slice/user-1000.slice/session-2.scope", "/", "session-2.scope");
	/* A user's service, not its user manager. */
	expect_unit("/user.slice/user-1000.slice/user@1000.service/app.slice/"
		    "app-gnome-firefox-1234.scope", "/", "app-gnome-firefox-1234.scope");
	expect_unit("/user.slice/user-1000.slice/user@1000.service/session.slice/"
		    "pipewire.service", "/", "pipewire.service");
	expect_unit("/user.slice/user-1000.slice/user@1000.service/init.scope", "/",
		    "init.scope");
	expect_unit("/user.slice/user-1000.slice/user@1000.service", "/", "user@1000.service");
	/* Below a unit, its sub-cgroups are still its own. */
	expect_unit("/system.slice/docker.service/payload", "/", "docker.service");
	/* Escaped names (a leading '_'), and what is no unit. */
	expect_unit("/system.slice/_cpu.service", "/", "cpu.service");
	expect_unit("/", "/", "");
	expect_unit("/user.slice", "/", "");
	expect_unit("/machine/qemu", "/", "");
	expect_unit("/system.slice/not a unit", "/", "");
	/* In a container, PID 1's cgroup is the root the units hang from. */
	expect_unit("/lxc.payload.c1/system.slice/iobufd.service", "/lxc.payload.c1",
		    "iobufd.service");
	expect_unit("/lxc.payload.c1/init.scope", "/lxc.payload.c1", "init.scope");
}

/* What libsystemd says of pid's unit, as the daemon asked it before. */
static void libsystemd_unit(pid_t pid, char unit[128])
{
	char *name = NULL;

	unit[0] = '\0';
	if (sd_pid_get_user_unit(pid, &name) >= 0 || sd_pid_get_unit(pid, &name) >= 0)
		snprintf(unit, 128, "%s", name);
	free(name);
}

static void test_every_process_against_libsystemd(void **state)
{
	char ours[128], theirs[128], cgroup[256];
	struct dirent *e;
	unsigned compared = 0, in_units = 0;
	DIR *proc = opendir("/proc");

	assert_non_null(proc);
	while ((e = readdir(proc))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 0)
			continue;
		libsystemd_unit(pid, theirs);
		cgroup_identity(pid, cgroup, ours);
		libsystemd_unit(pid, theirs); /* again: the process may have gone meanwhile */
		if (strcmp(ours, theirs) != 0)
			fail_msg("pid %d: unit \"%s\", libsystemd says \"%s\"", (int)pid, ours,
				 theirs);
		compared++;
		in_units += ours[0] != '\0';
	}
	closedir(proc);
	assert_true(compared > 0);
	print_message("%u processes, %u of them in a unit\n", compared, in_units);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_every_process_against_libsystemd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
