/* SPDX-License-Identifier: MIT */
/*
 * Which volatile buffers lose their contents, and in what order: least
 * recently made volatile first, over every client, by the volatile budget
 * and by allocator_purge(); what is EMPTY stays EMPTY until made
 * non-volatile. Contents are read back through the owner's fd: a purged
 * buffer reads as zero, a kept one as written.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core-fixture.h"
#include "iobuf/iobuf.h"

#define PURGEABLE (IOBUF_PAGEABLE | IOBUF_PURGEABLE)
#define NON_VOLATILE IOBUF_PURGEABLE_NON_VOLATILE
#define VOLATILE IOBUF_PURGEABLE_VOLATILE
#define EMPTY IOBUF_PURGEABLE_EMPTY

static void purgeable(struct core *core, struct client *client, struct held *held)
{
	assert_int_equal(core_allocate(core, client, page(), PURGEABLE, held), 0);
}

/* Fills the buffer with byte, as its owner would. */
static void fill(const struct held *held, char byte)
{
	char *data = malloc(held->size);

	assert_non_null(data);
	memset(data, byte, held->size);
	assert_int_equal(pwrite(held->fd, data, held->size, 0), (ssize_t)held->size);
	free(data);
}

/* Whether the buffer holds byte throughout. */
static bool holds(const struct held *held, char byte)
{
	char *data = malloc(held->size);
	bool all = true;

	assert_non_null(data);
	assert_int_equal(pread(held->fd, data, held->size, 0), (ssize_t)held->size);
	for (uint64_t i = 0; i < held->size; i++)
		all = all && data[i] == byte;
	free(data);
	return all;
}

/* Sets the state; returns the one the buffer had. */
static uint32_t set_state(struct core *core, struct client *client, const struct held *held,
			  uint32_t state)
{
	uint32_t old = 0;
	int r = allocator_set_purgeable(&core->allocator, client, held->id, state, &old,
					&core->why);

	if (r < 0)
		fail_msg("buffer %" PRIu64 " to state %u: %s", held->id, state, core->why.text);
	return old;
}

static uint32_t state_of(struct core *core, struct client *client, const struct held *held)
{
	struct buffer *b = allocator_find_buffer(client, held->id, &core->why);

	assert_non_null(b);
	return b->purgeable_state;
}

static void assert_kept(struct core *core, struct client *client, const struct held *held,
			char byte)
{
	assert_int_equal(state_of(core, client, held), VOLATILE);
	assert_true(holds(held, byte));
}

static void assert_purged(struct core *core, struct client *client, const struct held *held)
{
	assert_int_equal(state_of(core, client, held), EMPTY);
	assert_true(holds(held, 0));
}

static void close_all(struct held *held, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (held[i].fd >= 0)
			core_close(&held[i]);
}

static void test_least_recently_volatile_first(void **state)
{
	const uint64_t p = page();
	struct core *core = core_new(NULL);
	struct client *c = core_client(core, 1000, "", "");
	struct held b[4];

	for (int i = 0; i < 4; i++) {
		purgeable(core, c, &b[i]);
		fill(&b[i], (char)('A' + i));
	}
	set_state(core, c, &b[2], VOLATILE);
	set_state(core, c, &b[0], VOLATILE);
	set_state(core, c, &b[3], VOLATILE);
	set_state(core, c, &b[1], VOLATILE);
	assert_int_equal(core->allocator.volatile_bytes, 4 * p);

	assert_int_equal(allocator_purge(&core->allocator, 2 * p, "test"), 2 * p);
	assert_purged(core, c, &b[2]);
	assert_purged(core, c, &b[0]);
	assert_kept(core, c, &b[3], 'D');
	assert_kept(core, c, &b[1], 'B');
	assert_int_equal(core->allocator.volatile_bytes, 2 * p);

	assert_int_equal(allocator_purge(&core->allocator, p, "test"), p);
	assert_purged(core, c, &b[3]);
	assert_kept(core, c, &b[1], 'B');

	assert_int_equal(allocator_purge(&core->allocator, 0, "test"), p);
	assert_purged(core, c, &b[1]);
	assert_int_equal(core->allocator.volatile_bytes, 0);
	assert_int_equal(allocator_purge(&core->allocator, 0, "test"), 0);
	close_all(b, 4);
	core_free(core);
}

/* Made volatile again, a buffer becomes the newest volatile one. */
static void test_volatile_again_goes_last(void **state)
{
	const uint64_t p = page();
	struct core *core = core_new(NULL);
	struct client *c = core_client(core, 1000, "", "");
	struct held b[2];

	for (int i = 0; i < 2; i++) {
		purgeable(core, c, &b[i]);
		fill(&b[i], (char)('A' + i));
	}
	assert_int_equal(set_state(core, c, &b[0], VOLATILE), NON_VOLATILE);
	assert_int_equal(set_state(core, c, &b[1], VOLATILE), NON_VOLATILE);
	assert_int_equal(set_state(core, c, &b[0], VOLATILE), VOLATILE);
	assert_int_equal(core->allocator.volatile_bytes, 2 * p);

	assert_int_equal(allocator_purge(&core->allocator, p, "test"), p);
	assert_purged(core, c, &b[1]);
	assert_kept(core, c, &b[0], 'A');
	close_all(b, 2);
	core_free(core);
}

/* The order holds over every client, not client by client. */
static void test_order_over_every_client(void **state)
{
	const uint64_t p = page();
	struct core *core = core_new(NULL);
	struct client *first = core_client(core, 1000, "", "");
	struct client *second = core_client(core, 1001, "", "");
	struct held a0, a1, b0;

	purgeable(core, first, &a0);
	purgeable(core, first, &a1);
	purgeable(core, second, &b0);
	fill(&a0, 'a');
	fill(&a1, 'b');
	fill(&b0, 'c');
	set_state(core, first, &a0, VOLATILE);
	set_state(core, second, &b0, VOLATILE);
	set_state(core, first, &a1, VOLATILE);

	assert_int_equal(allocator_purge(&core->allocator, 2 * p, "test"), p);
	assert_purged(core, first, &a0);
	assert_kept(core, second, &b0, 'c');
	assert_int_equal(allocator_purge(&core->allocator, p, "test"), p);
	assert_purged(core, second, &b0);
	assert_kept(core, first, &a1, 'b');
	core_close(&a0);
	core_close(&a1);
	core_close(&b0);
	core_free(core);
}

/* Past max-volatile-bytes the oldest go, down to the budget; at it, nothing does. */
static void test_volatile_budget(void **state)
{
	const uint64_t p = page();
	struct reason why;
	struct core *core;
	struct client *c;
	struct limits l;
	struct held b[4];

	limits_default(&l);
	assert_int_equal(limits_set(&l, "max-volatile-bytes", 2 * p, &why), 0);
	core = core_new(&l);
	c = core_client(core, 1000, "", "");
	for (int i = 0; i < 4; i++) {
		purgeable(core, c, &b[i]);
		fill(&b[i], (char)('A' + i));
	}
	set_state(core, c, &b[1], VOLATILE);
	set_state(core, c, &b[0], VOLATILE);
	assert_int_equal(core->allocator.volatile_bytes, 2 * p);
	assert_kept(core, c, &b[1], 'B');
	assert_kept(core, c, &b[0], 'A');

	set_state(core, c, &b[2], VOLATILE);
	assert_purged(core, c, &b[1]);
	assert_kept(core, c, &b[0], 'A');
	assert_kept(core, c, &b[2], 'C');
	assert_int_equal(core->allocator.volatile_bytes, 2 * p);

	set_state(core, c, &b[3], VOLATILE);
	assert_purged(core, c, &b[0]);
	assert_kept(core, c, &b[2], 'C');
	assert_kept(core, c, &b[3], 'D');
	close_all(b, 4);
	core_free(core);
}

static void test_non_volatile_is_never_purged(void **state)
{
	const uint64_t p = page();
	struct core *core = core_new(NULL);
	struct client *c = core_client(core, 1000, "", "");
	struct held kept, volatile_one, plain;

	purgeable(core, c, &kept);
	purgeable(core, c, &volatile_one);
	assert_int_equal(core_allocate(core, c, p, IOBUF_PAGEABLE, &plain), 0);
	fill(&kept, 'k');
	fill(&volatile_one, 'v');
	fill(&plain, 'p');
	set_state(core, c, &volatile_one, VOLATILE);

	assert_int_equal(allocator_purge(&core->allocator, 0, "test"), p);
	assert_purged(core, c, &volatile_one);
	assert_int_equal(state_of(core, c, &kept), NON_VOLATILE);
	assert_true(holds(&kept, 'k'));
	assert_true(holds(&plain, 'p'));
	core_close(&kept);
	core_close(&volatile_one);
	core_close(&plain);
	core_free(core);
}

/* An EMPTY buffer made VOLATILE stays EMPTY and is emptied again. */
static void test_empty_stays_empty(void **state)
{
	struct core *core = core_new(NULL);
	struct client *c = core_client(core, 1000, "", "");
	struct held b;

	purgeable(core, c, &b);
	fill(&b, 'x');
	set_state(core, c, &b, VOLATILE);
	assert_int_equal(allocator_purge(&core->allocator, 0, "test"), page());
	assert_purged(core, c, &b);

	/* Written while EMPTY, then made volatile: emptied again, and still says so. */
	fill(&b, 'y');
	assert_int_equal(set_state(core, c, &b, VOLATILE), EMPTY);
	assert_purged(core, c, &b);
	assert_int_equal(core->allocator.volatile_bytes, 0);
	assert_int_equal(set_state(core, c, &b, IOBUF_PURGEABLE_KEEP_CURRENT), EMPTY);
	assert_int_equal(state_of(core, c, &b), EMPTY);

	assert_int_equal(set_state(core, c, &b, NON_VOLATILE), EMPTY);
	assert_int_equal(state_of(core, c, &b), NON_VOLATILE);
	fill(&b, 'z');
	assert_int_equal(set_state(core, c, &b, NON_VOLATILE), NON_VOLATILE);
	assert_true(holds(&b, 'z'));
	core_close(&b);
	core_free(core);
}

/* The owner may empty its buffer itself; that counts as no volatile memory. */
static void test_owner_empties(void **state)
{
	struct core *core = core_new(NULL);
	struct client *c = core_client(core, 1000, "", "");
	struct held b;

	purgeable(core, c, &b);
	fill(&b, 'x');
	set_state(core, c, &b, VOLATILE);
	assert_int_equal(set_state(core, c, &b, EMPTY), VOLATILE);
	assert_purged(core, c, &b);
	assert_int_equal(core->allocator.volatile_bytes, 0);
	assert_int_equal(allocator_purge(&core->allocator, 0, "test"), 0);
	core_close(&b);
	core_free(core);
}

/* A freed volatile buffer counts until released, then leaves the volatile bytes. */
static void test_released_buffer_leaves_the_count(void **state)
{
	const uint64_t p = page();
	struct core *core = core_new(NULL);
	struct client *c = core_client(core, 1000, "", "");
	struct held gone, stays;

	purgeable(core, c, &gone);
	purgeable(core, c, &stays);
	fill(&stays, 's');
	set_state(core, c, &gone, VOLATILE);
	set_state(core, c, &stays, VOLATILE);
	core_free_only(core, c, &gone);
	assert_int_equal(core->allocator.volatile_bytes, 2 * p);
	core_close(&gone);
	allocator_catch_up(&core->allocator, c);
	assert_int_equal(core->allocator.volatile_bytes, p);
	assert_int_equal(allocator_purge(&core->allocator, 0, "test"), p);
	assert_purged(core, c, &stays);
	core_close(&stays);
	core_free(core);
}

static void test_refusals(void **state)
{
	struct core *core = core_new(NULL);
	struct client *c = core_client(core, 1000, "", "");
	struct client *other = core_client(core, 1000, "", "");
	struct held plain, b;
	uint32_t old = 0;
	char expected[64];

	assert_int_equal(core_allocate(core, c, page(), IOBUF_PAGEABLE, &plain), 0);
	purgeable(core, c, &b);
	assert_int_equal(allocator_set_purgeable(&core->allocator, c, plain.id, VOLATILE, &old,
						 &core->why), -EINVAL);
	snprintf(expected, sizeof(expected), "buffer %" PRIu64 " is not PURGEABLE", plain.id);
	assert_string_equal(core->why.text, expected);
	assert_int_equal(allocator_set_purgeable(&core->allocator, c, b.id, EMPTY + 1, &old,
						 &core->why), -EINVAL);
	assert_string_equal(core->why.text, "unknown purgeable state 5");
	assert_int_equal(allocator_set_purgeable(&core->allocator, c, b.id, 0, &old, &core->why),
			 -EINVAL);
	assert_string_equal(core->why.text, "unknown purgeable state 0");
	/* Another client's buffer is not there for it. */
	assert_int_equal(allocator_set_purgeable(&core->allocator, other, b.id, VOLATILE, &old,
						 &core->why), -ENOENT);
	snprintf(expected, sizeof(expected), "no buffer %" PRIu64 " in this task", b.id);
	assert_string_equal(core->why.text, expected);
	assert_int_equal(state_of(core, c, &b), NON_VOLATILE);
	assert_int_equal(core->allocator.volatile_bytes, 0);
	/* Nor is a buffer its owner freed. */
	core_free_only(core, c, &b);
	assert_int_equal(allocator_set_purgeable(&core->allocator, c, b.id, VOLATILE, &old,
						 &core->why), -ENOENT);
	assert_int_equal(old, 0);
	core_close(&plain);
	core_close(&b);
	core_free(core);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_least_recently_volatile_first),
		cmocka_unit_test(test_volatile_again_goes_last),
		cmocka_unit_test(test_order_over_every_client),
		cmocka_unit_test(test_volatile_budget),
		cmocka_unit_test(test_non_volatile_is_never_purged),
		cmocka_unit_test(test_empty_stays_empty),
		cmocka_unit_test(test_owner_empties),
		cmocka_unit_test(test_released_buffer_leaves_the_count),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("purge-order", tests, NULL, NULL);
}
