/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core-fixture.h"
#include "iobuf/iobuf.h"

uint64_t page(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

struct core *core_new(const struct limits *limits)
{
	struct heap_config heaps = { .select = "memfd" };
	struct core *core = calloc(1, sizeof(*core));
	struct limits defaults;

	assert_non_null(core);
	/* No service manager's fd store: buffers are not stored anywhere. */
	unsetenv("NOTIFY_SOCKET");
	if (!limits) {
		limits_default(&defaults);
		limits = &defaults;
	}
	assert_int_equal(allocator_init(&core->allocator, limits, &heaps), 0);
	assert_int_equal(core->allocator.heaps.count, 1);
	assert_string_equal(core->allocator.heaps.heaps[0]->name, "memfd");
	return core;
}

void core_free(struct core *core)
{
	for (size_t i = 0; i < core->client_count; i++)
		if (core->clients[i])
			core_remove_client(core, core->clients[i]);
	allocator_fini(&core->allocator);
	free(core);
}

struct client *core_client(struct core *core, uid_t uid, const char *unit, const char *cgroup)
{
	struct client *client = calloc(1, sizeof(*client));

	assert_non_null(client);
	assert_true(core->client_count < CORE_CLIENTS_MAX);
	*client = (struct client){ .task = { .uid = uid, .pid = getpid(), .pidfd = -1 },
				   .peer.uid = uid, .transport = "socket" };
	snprintf(client->task.comm, sizeof(client->task.comm), "test-client");
	snprintf(client->task.unit, sizeof(client->task.unit), "%s", unit);
	snprintf(client->task.cgroup, sizeof(client->task.cgroup), "%s", cgroup);
	allocator_add_client(&core->allocator, client, 0);
	core->clients[core->client_count++] = client;
	return client;
}

void core_remove_client(struct core *core, struct client *client)
{
	for (size_t i = 0; i < core->client_count; i++)
		if (core->clients[i] == client)
			core->clients[i] = NULL;
	allocator_remove_client(&core->allocator, client);
	free(client);
}

int core_allocate(struct core *core, struct client *client, uint64_t capacity,
		  uint32_t options, struct held *held)
{
	struct alloc_request req = { .capacity = capacity, .options = options };
	struct alloc_result made;
	int r;

	*held = (struct held){ .fd = -1 };
	core->why.text[0] = '\0';
	r = allocator_allocate(&core->allocator, client, &req, &made, &held->fd, &core->why);
	allocator_catch_up(&core->allocator, client);
	if (r < 0) {
		assert_int_equal(held->fd, -1);
		return r;
	}
	assert_true(held->fd >= 0);
	assert_string_equal(made.heap->name, "memfd");
	held->id = made.id;
	held->size = made.size;
	return 0;
}

void core_free_only(struct core *core, struct client *client, const struct held *held)
{
	assert_int_equal(allocator_free(&core->allocator, client, held->id, &core->why), 0);
	allocator_catch_up(&core->allocator, client);
}

void core_close(struct held *held)
{
	assert_true(held->fd >= 0);
	assert_int_equal(close(held->fd), 0);
	held->fd = -1;
}

void core_release(struct core *core, struct client *client, struct held *held)
{
	assert_int_equal(allocator_free(&core->allocator, client, held->id, &core->why), 0);
	core_close(held);
	allocator_catch_up(&core->allocator, client);
}

unsigned open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}
