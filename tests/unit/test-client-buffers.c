/* SPDX-License-Identifier: MIT */
/* A client's buffers: found by id, freed ones apart, the list in its order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/client.h"

#define COUNT 1000

struct fixture {
	struct client client;
	struct buffer buffers[COUNT + 1]; /* by id; [0] unused */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->client.task.pidfd = -1;
	for (uint64_t id = 1; id <= COUNT; id++) {
		f->buffers[id] = (struct buffer){ .id = id, .size = id, .fd = -1 };
		assert_int_equal(client_add_buffer(&f->client, &f->buffers[id]), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	client_fini(&f->client);
	free(f);
	return 0;
}

/* The list holds exactly the buffers not gone, newest first. */
static void assert_list(const struct fixture *f, const bool *gone)
{
	const struct buffer *b = f->client.held.buffers;
	uint64_t count = 0, freed = 0;

	for (uint64_t id = COUNT; id >= 1; id--) {
		if (gone[id])
			continue;
		assert_non_null(b);
		assert_ptr_equal(b, &f->buffers[id]);
		freed += b->freed;
		count++;
		b = b->next;
	}
	assert_null(b);
	assert_int_equal(f->client.held.buffer_count, count);
	assert_int_equal(f->client.held.freed_count, freed);
}

static void test_found_by_id(void **state)
{
	struct fixture *f = *state;
	bool gone[COUNT + 1] = { false };

	for (uint64_t id = 1; id <= COUNT; id++)
		assert_ptr_equal(client_find_buffer(&f->client, id), &f->buffers[id]);
	assert_null(client_find_buffer(&f->client, 0));
	assert_null(client_find_buffer(&f->client, COUNT + 1));
	assert_list(f, gone);
}

static void test_freed_apart(void **state)
{
	struct fixture *f = *state;
	bool gone[COUNT + 1] = { false };
	size_t freed = 0;

	for (uint64_t id = 3; id <= COUNT; id += 3)
		client_free_buffer(&f->client, &f->buffers[id]);
	for (uint64_t id = 1; id <= COUNT; id++) {
		bool is_freed = id % 3 == 0;

		assert_ptr_equal(client_find_buffer(&f->client, id), is_freed ? NULL : &f->buffers[id]);
		assert_ptr_equal(client_find_charged_buffer(&f->client, id), &f->buffers[id]);
	}
	/* The freed list: every freed one, newest first, and nothing else. */
	for (const struct buffer *b = f->client.held.freed; b; b = b->link) {
		assert_true(b->freed);
		assert_int_equal(b->id, COUNT / 3 * 3 - 3 * freed);
		freed++;
	}
	assert_int_equal(freed, COUNT / 3);
	assert_list(f, gone);
}

static void test_removed_keeps_order(void **state)
{
	struct fixture *f = *state;
	bool gone[COUNT + 1] = { false };

	for (uint64_t id = 2; id <= COUNT; id += 4)
		client_free_buffer(&f->client, &f->buffers[id]);
	/* In use and freed ones, from the middle and both ends. */
	for (uint64_t id = 1; id <= COUNT; id++) {
		if (id % 5 == 0 || id % 7 == 0 || id == 1 || id == COUNT) {
			client_remove_buffer(&f->client, &f->buffers[id]);
			gone[id] = true;
		}
	}
	for (uint64_t id = 1; id <= COUNT; id++) {
		struct buffer *expected = gone[id] ? NULL : &f->buffers[id];

		assert_ptr_equal(client_find_charged_buffer(&f->client, id), expected);
		assert_ptr_equal(client_find_buffer(&f->client, id),
				 id % 4 == 2 ? NULL : expected);
	}
	for (const struct buffer *b = f->client.held.freed; b; b = b->link)
		assert_true(b->freed && !gone[b->id]);
	assert_list(f, gone);

	/* Added again, a buffer is found again and is the newest. */
	client_remove_buffer(&f->client, &f->buffers[3]);
	assert_int_equal(client_add_buffer(&f->client, &f->buffers[3]), 0);
	assert_ptr_equal(f->client.held.buffers, &f->buffers[3]);
	assert_ptr_equal(client_find_buffer(&f->client, 3), &f->buffers[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_found_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freed_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_keeps_order, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
