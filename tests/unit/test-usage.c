/* SPDX-License-Identifier: MIT */
/*
 * What the clients hold, totalled per uid, unit, cgroup and heap, as
 * buffers are made, freed, released and their clients leave.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core-fixture.h"
#include "core/usage.h"

/* The totals by `by` in one line: "KEY:CLIENTS/BUFFERS/PAGES ...", "-" for none. */
static const char *totals(struct core *core, enum usage_by by)
{
	static char out[512];
	struct usage usage;
	size_t used = 0;

	assert_int_equal(usage_collect(&core->allocator, by, &usage), 0);
	out[0] = '\0';
	for (size_t i = 0; i < usage.count; i++) {
		const struct usage_entry *e = &usage.entries[i];

		assert_int_equal(e->bytes % page(), 0);
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s:%" PRIu32 "/%" PRIu64
					 "/%" PRIu64, i ? " " : "", e->key[0] ? e->key : "-",
					 e->clients, e->buffers, e->bytes / page());
		assert_true(used < sizeof(out));
	}
	usage_fini(&usage);
	return out;
}

static void allocate(struct core *core, struct client *client, uint64_t pages,
		     struct held *held)
{
	assert_int_equal(core_allocate(core, client, pages * page(), 0, held), 0);
}

static void test_totals_by_each_key(void **state)
{
	struct core *core = core_new(NULL);
	struct client *a = core_client(core, 1000, "a.service", "/a");
	struct client *b = core_client(core, 1000, "b.service", "/b");
	struct client *c = core_client(core, 1001, "", "/c");
	struct held held[4];

	allocate(core, a, 1, &held[0]);
	allocate(core, a, 2, &held[1]);
	allocate(core, b, 1, &held[2]);
	allocate(core, c, 5, &held[3]);

	assert_string_equal(totals(core, USAGE_BY_UID), "1001:1/1/5 1000:2/3/4");
	assert_string_equal(totals(core, USAGE_BY_UNIT), "-:1/1/5 a.service:1/2/3 b.service:1/1/1");
	assert_string_equal(totals(core, USAGE_BY_CGROUP), "/c:1/1/5 /a:1/2/3 /b:1/1/1");
	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:3/4/9");
	for (int i = 0; i < 4; i++)
		core_close(&held[i]);
	core_free(core);
}

/* A freed buffer is counted until its memory is released. */
static void test_freed_counts_until_released(void **state)
{
	struct core *core = core_new(NULL);
	struct client *a = core_client(core, 1000, "", "");
	struct client *b = core_client(core, 1001, "", "");
	struct held small, big, other;

	allocate(core, a, 1, &small);
	allocate(core, a, 2, &big);
	allocate(core, b, 4, &other);
	core_free_only(core, a, &big);
	assert_string_equal(totals(core, USAGE_BY_UID), "1001:1/1/4 1000:1/2/3");
	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:2/3/7");

	core_close(&big);
	allocator_catch_up(&core->allocator, a);
	assert_string_equal(totals(core, USAGE_BY_UID), "1001:1/1/4 1000:1/1/1");
	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:2/2/5");

	core_release(core, b, &other);
	assert_string_equal(totals(core, USAGE_BY_UID), "1000:1/1/1 1001:1/0/0");
	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:1/1/1");
	core_close(&small);
	core_free(core);
}

/* Equal bytes go by key; a client holding nothing still counts as a client. */
static void test_ties_and_idle_clients(void **state)
{
	struct core *core = core_new(NULL);
	struct client *second = core_client(core, 1002, "", "");
	struct client *first = core_client(core, 1001, "", "");
	struct held held[2];

	assert_string_equal(totals(core, USAGE_BY_UID), "1001:1/0/0 1002:1/0/0");
	allocate(core, second, 1, &held[0]);
	allocate(core, first, 1, &held[1]);
	core_client(core, 1003, "", "");
	assert_string_equal(totals(core, USAGE_BY_UID), "1001:1/1/1 1002:1/1/1 1003:1/0/0");
	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:2/2/2");
	core_close(&held[0]);
	core_close(&held[1]);
	core_free(core);
}

/* By heap, a heap that serves nothing is listed with nothing. */
static void test_idle_heap(void **state)
{
	struct core *core = core_new(NULL);

	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:0/0/0");
	assert_string_equal(totals(core, USAGE_BY_UID), "");
	core_client(core, 1000, "", "");
	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:0/0/0");
	core_free(core);
}

/* A client that leaves while its buffer is referenced stays counted until it is released. */
static void test_departed_client_counts_until_released(void **state)
{
	struct core *core = core_new(NULL);
	struct client *leaving = core_client(core, 1000, "gone.service", "");
	struct client *staying = core_client(core, 1001, "", "");
	struct held kept, dropped, stays;

	allocate(core, leaving, 2, &kept);
	allocate(core, leaving, 1, &dropped);
	allocate(core, staying, 1, &stays);
	core_close(&dropped);
	core_remove_client(core, leaving);
	assert_int_equal(core->allocator.clients, 1);
	assert_string_equal(totals(core, USAGE_BY_UID), "1000:1/1/2 1001:1/1/1");
	assert_string_equal(totals(core, USAGE_BY_UNIT), "gone.service:1/1/2 -:1/1/1");
	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:2/2/3");

	core_close(&kept);
	assert_int_equal(allocator_reap(&core->allocator, NULL), 1);
	assert_string_equal(totals(core, USAGE_BY_UID), "1001:1/1/1");
	assert_string_equal(totals(core, USAGE_BY_HEAP), "memfd:1/1/1");
	core_close(&stays);
	core_free(core);
}

/*
 * A client charging another task counts under that task's uid. It is made
 * as client_become() leaves it (task.uid the task's, peer.uid its own), without
 * a pidfd: valgrind 3.19 knows no pidfd_open.
 */
static void test_charged_client_counts_under_its_task(void **state)
{
	struct core *core = core_new(NULL);
	struct client *charging = core_client(core, 2000, "", "");
	struct client *own = core_client(core, 1000, "", "");
	struct held held[2];

	charging->peer.uid = 1000;
	allocate(core, charging, 3, &held[0]);
	allocate(core, own, 1, &held[1]);
	assert_string_equal(totals(core, USAGE_BY_UID), "2000:1/1/3 1000:1/1/1");
	core_close(&held[0]);
	core_close(&held[1]);
	core_free(core);
}

static void test_parse_by(void **state)
{
	static const char *const bad[] = { "", "UID", "heaps", "uid ", "user" };
	enum usage_by by = USAGE_BY_HEAP;

	assert_int_equal(usage_by_parse("uid", &by), 0);
	assert_int_equal(by, USAGE_BY_UID);
	assert_int_equal(usage_by_parse("unit", &by), 0);
	assert_int_equal(by, USAGE_BY_UNIT);
	assert_int_equal(usage_by_parse("cgroup", &by), 0);
	assert_int_equal(by, USAGE_BY_CGROUP);
	assert_int_equal(usage_by_parse("heap", &by), 0);
	assert_int_equal(by, USAGE_BY_HEAP);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (usage_by_parse(bad[i], &by) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_string_equal(usage_by_names, "uid, unit, cgroup or heap");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_by_each_key),
		cmocka_unit_test(test_freed_counts_until_released),
		cmocka_unit_test(test_ties_and_idle_clients),
		cmocka_unit_test(test_idle_heap),
		cmocka_unit_test(test_departed_client_counts_until_released),
		cmocka_unit_test(test_charged_client_counts_under_its_task),
		cmocka_unit_test(test_parse_by),
	};

	return cmocka_run_group_tests_name("usage", tests, NULL, NULL);
}
