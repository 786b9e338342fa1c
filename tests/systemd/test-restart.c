/* SPDX-License-Identifier: MIT */
/*
 * A restart as systemd performs one with FileDescriptorStoreMax=: iobufd
 * stores its connections and buffers, stops, and the next iobufd gets them
 * back in $LISTEN_FDS. Clients notice nothing: their connection, buffers,
 * mappings and charges are all still there.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"
#include "pattern.h"
#include "service-manager.h"

#define PURGEABLE_PAGEABLE (IOBUF_PAGEABLE | IOBUF_PURGEABLE)

static void restart(struct service_manager *m)
{
	manager_stop(m);
	manager_start(m, NULL);
}

static void assert_same_usage(const struct iobuf_usage *a, const struct iobuf_usage *b)
{
	assert_int_equal(a->buffers, b->buffers);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->total_buffers, b->total_buffers);
	assert_int_equal(a->total_bytes, b->total_bytes);
	assert_int_equal(a->clients, b->clients);
}

static void test_restart_keeps_connections_buffers_and_charges(void **state)
{
	struct service_manager *m = *state;
	struct iobuf_task *task = iobuf_task_connect(m->socket_path);
	struct iobuf_task *other = iobuf_task_connect(m->socket_path);
	struct iobuf *wired, *volatile_buf, *gone, *later;
	struct iobuf_usage before, after, other_before;
	enum iobuf_purgeable_state old;

	assert_non_null(task);
	assert_non_null(other);
	wired = iobuf_in_task_with_options(task, 0, 65536, 0);
	volatile_buf = iobuf_in_task_with_options(task, PURGEABLE_PAGEABLE, 8192, 0);
	gone = iobuf_in_task_with_options(other, IOBUF_PAGEABLE, 4096, 0);
	assert_non_null(wired);
	assert_non_null(volatile_buf);
	assert_non_null(gone);
	fill_pattern(wired, 7);
	fill_pattern(volatile_buf, 9);
	assert_int_equal(iobuf_set_purgeable(volatile_buf, IOBUF_PURGEABLE_VOLATILE, &old), 0);
	iobuf_release(gone);
	assert_int_equal(iobuf_task_flush(other), 0); /* the release does not wait */
	before = usage_of(task);
	other_before = usage_of(other);
	manager_wait_stored(m, "conn;", 2, 5000);
	manager_wait_stored(m, "buf;", 2, 5000);

	restart(m);

	after = usage_of(task);
	assert_same_usage(&before, &after);
	after = usage_of(other);
	assert_same_usage(&other_before, &after);
	assert_int_equal(after.buffers, 0);
	assert_true(holds_pattern(wired, 7));
	assert_true(holds_pattern(volatile_buf, 9));
	fill_pattern(wired, 11);
	assert_true(holds_pattern(wired, 11));

	/* The state survived, and the buffers are still theirs to change and free. */
	assert_int_equal(iobuf_set_purgeable(volatile_buf, IOBUF_PURGEABLE_NON_VOLATILE, &old), 0);
	assert_int_equal(old, IOBUF_PURGEABLE_VOLATILE);
	later = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_non_null(later);
	assert_true(iobuf_get_id(later) > iobuf_get_id(volatile_buf));
	assert_true(iobuf_get_id(later) > iobuf_get_id(wired));
	iobuf_release(wired);
	iobuf_release(volatile_buf);
	iobuf_release(later);
	after = usage_of(task);
	assert_int_equal(after.buffers, 0);
	assert_int_equal(after.bytes, 0);
	manager_wait_stored(m, "buf;", 0, 5000);

	iobuf_task_unref(task);
	iobuf_task_unref(other);
	manager_wait_stored(m, "conn;", 0, 5000);
}

/* The name a buffer is stored under, or fails. */
static const char *stored_name(const struct service_manager *m, uint64_t id)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "buf;id=%" PRIu64 ";", id);
	for (size_t i = 0; i < m->stored; i++)
		if (strncmp(m->store[i].name, prefix, strlen(prefix)) == 0)
			return m->store[i].name;
	fail_msg("no buffer %" PRIu64 " in the store", id);
	return NULL;
}

/* The client id in the one stored connection's name. */
static const char *stored_client(const struct service_manager *m)
{
	for (size_t i = 0; i < m->stored; i++)
		if (strncmp(m->store[i].name, "conn;client=", 12) == 0)
			return m->store[i].name + 12;
	fail_msg("no connection in the store");
	return NULL;
}

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Checks a stored name: prefix, then ";born=<usec>" within [after, before], then tail. */
static void assert_stored_as(const char *name, const char *prefix, uint64_t after,
			     uint64_t before, const char *tail)
{
	unsigned long long born;
	int used = 0;

	if (strncmp(name, prefix, strlen(prefix)) != 0)
		fail_msg("stored as \"%s\", not \"%s...\"", name, prefix);
	assert_int_equal(sscanf(name + strlen(prefix), ";born=%llu%n", &born, &used), 1);
	assert_true(born >= after && born <= before);
	assert_string_equal(name + strlen(prefix) + used, tail);
}

static void test_names_say_what_is_stored(void **state)
{
	struct service_manager *m = *state;
	struct iobuf_task *task = iobuf_task_connect(m->socket_path);
	enum iobuf_purgeable_state old;
	uint64_t before, after = realtime_usec();
	struct iobuf *buf, *labelled;
	char expected[256], label_prefix[256];

	buf = iobuf_in_task_with_options(task, PURGEABLE_PAGEABLE, 10000, 0);
	assert_non_null(buf);
	labelled = iobuf_in_task_with_label(task, 0, 4096, 0, "cam é");
	assert_non_null(labelled);
	before = realtime_usec();
	manager_wait_stored(m, "buf;", 2, 5000);
	assert_int_equal(manager_count_stored(m, "conn;client="), 1);
	snprintf(expected, sizeof(expected),
		 "buf;id=%" PRIu64 ";client=%s;size=12288;options=0x%x;state=2;heap=memfd;uid=%u;"
		 "pid=%d", iobuf_get_id(buf), stored_client(m), iobuf_get_options(buf),
		 (unsigned)getuid(), (int)getpid());
	assert_stored_as(stored_name(m, iobuf_get_id(buf)), expected, after, before, "");
	/* A label goes in hex: fd names hold no ':' and no control characters. */
	snprintf(label_prefix, sizeof(label_prefix),
		 "buf;id=%" PRIu64 ";client=%s;size=4096;options=0x%x;state=2;heap=memfd;uid=%u;"
		 "pid=%d", iobuf_get_id(labelled), stored_client(m), iobuf_get_options(labelled),
		 (unsigned)getuid(), (int)getpid());
	assert_stored_as(stored_name(m, iobuf_get_id(labelled)), label_prefix, after, before,
			 ";label=63616d20c3a9");
	iobuf_release(labelled);
	manager_wait_stored(m, "buf;", 1, 5000);

	/* A new state is stored under a new name; the old one goes. */
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_VOLATILE, &old), 0);
	strstr(expected, "state=2")[6] = '3';
	manager_expect(m, "FDNAME=buf;", 5000);
	manager_wait_stored(m, "buf;", 1, 5000);
	assert_stored_as(stored_name(m, iobuf_get_id(buf)), expected, after, before, "");

	iobuf_release(buf);
	iobuf_task_unref(task);
	manager_wait_stored(m, "buf;", 0, 5000);
	manager_wait_stored(m, "conn;", 0, 5000);
}

/* A client that dies while no iobufd runs is released by the next one. */
static void test_client_gone_during_restart_is_released(void **state)
{
	struct service_manager *m = *state;
	struct iobuf_task *task = iobuf_task_connect(m->socket_path);
	struct iobuf_usage usage;
	pid_t child = spawn_holder(iobuf_task_connect, m->socket_path, IOBUF_PAGEABLE, 1 << 20);

	manager_wait_stored(m, "buf;", 1, 5000);
	manager_stop(m);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	manager_start(m, NULL);

	wait_total_buffers(task, 0);
	usage = usage_of(task);
	assert_int_equal(usage.clients, 1);
	assert_int_equal(usage.total_bytes, 0);
	manager_wait_stored(m, "buf;", 0, 5000);
	manager_wait_stored(m, "conn;", 1, 5000);
	iobuf_task_unref(task);
	manager_wait_stored(m, "conn;", 0, 5000);
}

/*
 * A buffer freed while still referenced stays charged across restarts, also
 * when its owner hangs up while no iobufd runs, until its fd is closed.
 */
static void test_freed_buffer_stays_charged_across_restarts(void **state)
{
	struct service_manager *m = *state;
	struct iobuf_task *owner = iobuf_task_connect(m->socket_path), *watcher;
	struct iobuf *buf = iobuf_in_task_with_options(owner, IOBUF_PAGEABLE, 1 << 20, 0);
	int kept;

	assert_non_null(buf);
	kept = fcntl(iobuf_get_fd(buf), F_DUPFD_CLOEXEC, 3); /* no copy in the next iobufd */
	iobuf_release(buf);
	manager_expect(m, ";freed=1", 5000);
	manager_wait_stored(m, "buf;", 1, 5000);
	for (size_t i = 0; i < m->stored; i++)
		if (strncmp(m->store[i].name, "buf;", 4) == 0)
			assert_non_null(strstr(m->store[i].name, ";freed=1"));

	manager_stop(m);
	iobuf_task_unref(owner); /* hangs up while no iobufd runs */
	manager_start(m, NULL);
	watcher = iobuf_task_connect(m->socket_path);
	assert_non_null(watcher);
	sleep(2); /* the new iobufd looks at freed buffers every second */
	assert_int_equal(usage_of(watcher).total_buffers, 1);
	assert_int_equal(usage_of(watcher).total_bytes, 1 << 20);

	manager_stop(m);
	manager_start(m, NULL);
	assert_int_equal(usage_of(watcher).total_bytes, 1 << 20);
	close(kept);
	wait_total_buffers(watcher, 0);
	manager_wait_stored(m, "buf;", 0, 5000);
	iobuf_task_unref(watcher);
	manager_wait_stored(m, "", 0, 5000);
}

/* Stopping (as for a restart) leaves the store as it was: nothing is taken back. */
static void test_stop_leaves_the_store(void **state)
{
	struct service_manager *m = *state;
	struct iobuf_task *task = iobuf_task_connect(m->socket_path);
	struct iobuf *buf = iobuf_in_task_with_options(task, 0, 4096, 0);

	assert_non_null(buf);
	manager_wait_stored(m, "", 2, 5000);
	manager_stop(m);
	assert_int_equal(manager_count_stored(m, "buf;"), 1);
	assert_int_equal(manager_count_stored(m, "conn;"), 1);
	manager_start(m, NULL);
	iobuf_release(buf);
	iobuf_task_unref(task);
	manager_wait_stored(m, "", 0, 5000);
}

/* Past $FDSTORE nothing is stored: those buffers do not survive a restart. */
static void test_a_full_store(void **state)
{
	struct service_manager *m = *state;
	struct iobuf_task *task;
	struct iobuf *kept, *lost;

	manager_stop(m);
	m->fdstore_max = 2;
	manager_start(m, NULL);
	task = iobuf_task_connect(m->socket_path);
	kept = iobuf_in_task_with_options(task, 0, 4096, 0);
	lost = iobuf_in_task_with_options(task, 0, 8192, 0);
	assert_non_null(kept);
	assert_non_null(lost);
	manager_wait_stored(m, "", 2, 5000);
	assert_int_equal(manager_count_stored(m, "buf;"), 1);

	restart(m);
	assert_int_equal(usage_of(task).buffers, 1);
	assert_int_equal(usage_of(task).bytes, 4096);
	iobuf_release(kept);
	iobuf_release(lost); /* the daemon knows it no more: only the mapping goes */
	iobuf_task_unref(task);
	manager_wait_stored(m, "", 0, 5000);
	m->fdstore_max = 0;
	restart(m);
}

/* What the daemon cannot place is dropped from the store, and it starts anyway. */
static void test_unknown_stored_fds_are_dropped(void **state)
{
	struct service_manager *m = *state;
	struct iobuf_task *task;
	const char *names[] = { "mystery", "buf;id=x;client=1", "buf;id=5;client=99;size=4096;"
				"options=0x300;state=2;heap=memfd", "buf;id=6;client=1;size=4096;"
				"options=0x300;state=2;heap=nosuchheap" };

	manager_stop(m);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(m->store[m->stored].name, sizeof(m->store[0].name), "%s", names[i]);
		m->store[m->stored++].fd = memfd_create("stored", MFD_CLOEXEC);
	}
	manager_start(m, NULL);
	manager_wait_stored(m, "", 0, 5000);
	task = iobuf_task_connect(m->socket_path);
	assert_non_null(task);
	assert_int_equal(usage_of(task).total_buffers, 0);
	iobuf_task_unref(task);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_keeps_connections_buffers_and_charges),
		cmocka_unit_test(test_names_say_what_is_stored),
		cmocka_unit_test(test_client_gone_during_restart_is_released),
		cmocka_unit_test(test_freed_buffer_stays_charged_across_restarts),
		cmocka_unit_test(test_stop_leaves_the_store),
		cmocka_unit_test(test_a_full_store),
		cmocka_unit_test(test_unknown_stored_fds_are_dropped),
	};

	return cmocka_run_group_tests_name("restart", tests, manager_fixture_setup,
					   manager_fixture_teardown);
}
