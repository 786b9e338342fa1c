/* SPDX-License-Identifier: MIT */
/*
 * Every limit a new buffer meets, at its boundary: the last buffer that
 * fits is made, the next is refused with the limit's errno and words that
 * name the limit, its value and the use it met, and the refusal charges
 * nothing and leaves no fd behind.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core-fixture.h"
#include "core/fdbudget.h"
#include "core/quota.h"

/* What the core has charged, to compare before and after a refusal. */
struct charged {
	uint64_t client_buffers, client_bytes;
	uint64_t buffers, bytes;
	uint64_t heap_buffers, heap_bytes;
	uint64_t rate_count;
	uint64_t next_id;
	unsigned fds;
};

static struct charged charged(const struct core *core, const struct client *client)
{
	const struct allocator *a = &core->allocator;

	return (struct charged){
		.client_buffers = client->held.buffer_count,
		.client_bytes = client->held.bytes,
		.buffers = a->buffers,
		.bytes = a->bytes,
		.heap_buffers = a->heaps.heaps[0]->buffers,
		.heap_bytes = a->heaps.heaps[0]->bytes,
		.rate_count = client->rate.count,
		.next_id = a->next_id,
		.fds = open_fds(),
	};
}

static void assert_same_charge(const struct charged *before, const struct charged *after)
{
	assert_int_equal(after->client_buffers, before->client_buffers);
	assert_int_equal(after->client_bytes, before->client_bytes);
	assert_int_equal(after->buffers, before->buffers);
	assert_int_equal(after->bytes, before->bytes);
	assert_int_equal(after->heap_buffers, before->heap_buffers);
	assert_int_equal(after->heap_bytes, before->heap_bytes);
	assert_int_equal(after->rate_count, before->rate_count);
	assert_int_equal(after->next_id, before->next_id);
	assert_int_equal(after->fds, before->fds);
}

/* A buffer of size that must be made; the test closes held->fd. */
static void allocate(struct core *core, struct client *client, uint64_t size, struct held *held)
{
	int r = core_allocate(core, client, size, 0, held);

	if (r < 0)
		fail_msg("allocating %" PRIu64 " bytes: %s (%s)", size, core->why.text, strerror(-r));
	assert_int_equal(held->size, size);
}

/* A buffer of size that must be refused with error and the words expected. */
static void refused(struct core *core, struct client *client, uint64_t size, int error,
		    const char *expected)
{
	struct charged before = charged(core, client), after;
	struct held held;
	int r = core_allocate(core, client, size, 0, &held);

	assert_int_equal(r, error);
	assert_string_equal(core->why.text, expected);
	after = charged(core, client);
	assert_same_charge(&before, &after);
}

static void close_all(struct held *held, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (held[i].fd >= 0)
			core_close(&held[i]);
}

static void set_limit(struct limits *l, const char *name, uint64_t value)
{
	struct reason why;

	if (limits_set(l, name, value, &why) < 0)
		fail_msg("limit %s: %s", name, why.text);
}

static struct limits limits_with(const char *name, uint64_t value)
{
	struct limits l;

	limits_default(&l);
	set_limit(&l, name, value);
	return l;
}

static const char *words(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *words(const char *fmt, ...)
{
	static char text[REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return text;
}

static void test_max_buffer_size(void **state)
{
	const uint64_t max = 4 * page();
	struct limits l = limits_with("max-buffer-size", max);
	struct core *core = core_new(&l);
	struct client *c = core_client(core, 1000, "", "");
	struct held held;

	allocate(core, c, max, &held);
	refused(core, c, max + 1, -EFBIG,
		words("capacity %" PRIu64 " is over the maximum buffer size %" PRIu64, max + 1,
		      max));
	core_close(&held);
	core_free(core);
}

static void test_client_buffers(void **state)
{
	struct limits l = limits_with("max-client-buffers", 3);
	struct core *core = core_new(&l);
	struct client *c = core_client(core, 1000, "", "");
	struct client *other = core_client(core, 1000, "", "");
	struct held held[4];

	for (int i = 0; i < 3; i++)
		allocate(core, c, page(), &held[i]);
	refused(core, c, page(), -EDQUOT, "per-client buffer limit 3 reached: 3 buffers in use");
	/* The limit is each client's own. */
	allocate(core, other, page(), &held[3]);
	close_all(held, 4);
	core_free(core);
}

static void test_client_bytes(void **state)
{
	const uint64_t p = page();
	struct limits l = limits_with("max-client-bytes", 4 * p);
	struct core *core = core_new(&l);
	struct client *c = core_client(core, 1000, "", "");
	struct client *fresh = core_client(core, 1000, "", "");
	struct held held[3];

	allocate(core, c, 3 * p, &held[0]);
	allocate(core, c, p, &held[1]);
	refused(core, c, p, -EDQUOT,
		words("per-client byte limit %" PRIu64 " exceeded: %" PRIu64 " bytes in use, %"
		      PRIu64 " requested", 4 * p, 4 * p, p));
	refused(core, fresh, 5 * p, -EDQUOT,
		words("per-client byte limit %" PRIu64 " exceeded: 0 bytes in use, %" PRIu64
		      " requested", 4 * p, 5 * p));
	allocate(core, fresh, 4 * p, &held[2]);
	close_all(held, 3);
	core_free(core);
}

/* Sizes are charged page-rounded: a byte over a page costs two. */
static void test_client_bytes_are_pages(void **state)
{
	const uint64_t p = page();
	struct limits l = limits_with("max-client-bytes", 2 * p);
	struct core *core = core_new(&l);
	struct client *c = core_client(core, 1000, "", "");
	struct held held;

	allocate(core, c, p, &held);
	refused(core, c, p + 1, -EDQUOT,
		words("per-client byte limit %" PRIu64 " exceeded: %" PRIu64 " bytes in use, %"
		      PRIu64 " requested", 2 * p, p, 2 * p));
	core_close(&held);
	core_free(core);
}

/* A freed buffer counts until its owner's fd is closed, and not after. */
static void test_freed_buffer_charged_until_released(void **state)
{
	struct limits l = limits_with("max-client-buffers", 1);
	struct core *core = core_new(&l);
	struct client *c = core_client(core, 1000, "", "");
	struct held first, second;

	allocate(core, c, page(), &first);
	core_free_only(core, c, &first);
	assert_int_equal(c->held.buffer_count, 1);
	assert_int_equal(c->held.freed_count, 1);
	refused(core, c, page(), -EDQUOT, "per-client buffer limit 1 reached: 1 buffers in use");
	/* The allocation itself sees the release: no catch-up in between. */
	core_close(&first);
	allocate(core, c, page(), &second);
	assert_int_equal(c->held.buffer_count, 1);
	assert_int_equal(c->held.freed_count, 0);
	assert_int_equal(core->allocator.freed_buffers, 0);
	core_close(&second);
	core_free(core);
}

static void test_uid_buffers_over_its_clients(void **state)
{
	struct limits l = limits_with("max-uid-buffers", 2);
	struct core *core = core_new(&l);
	struct client *a = core_client(core, 1000, "", "");
	struct client *b = core_client(core, 1000, "", "");
	struct client *other = core_client(core, 1001, "", "");
	struct held held[4];

	allocate(core, a, page(), &held[0]);
	allocate(core, b, page(), &held[1]);
	refused(core, b, page(), -EDQUOT, "uid 1000 buffer limit 2 reached: 2 buffers in use");
	refused(core, a, page(), -EDQUOT, "uid 1000 buffer limit 2 reached: 2 buffers in use");
	allocate(core, other, page(), &held[2]);
	/* One released, one fits again. */
	core_release(core, a, &held[0]);
	allocate(core, b, page(), &held[3]);
	close_all(held, 4);
	core_free(core);
}

static void test_uid_bytes_over_its_clients(void **state)
{
	const uint64_t p = page();
	struct limits l = limits_with("max-uid-bytes", 3 * p);
	struct core *core = core_new(&l);
	struct client *a = core_client(core, 1000, "", "");
	struct client *b = core_client(core, 1000, "", "");
	struct client *other = core_client(core, 1001, "", "");
	struct held held[3];

	allocate(core, a, 2 * p, &held[0]);
	allocate(core, b, p, &held[1]);
	refused(core, b, p, -EDQUOT,
		words("uid 1000 byte limit %" PRIu64 " exceeded: %" PRIu64 " bytes in use, %"
		      PRIu64 " requested", 3 * p, 3 * p, p));
	allocate(core, other, 3 * p, &held[2]);
	close_all(held, 3);
	core_free(core);
}

/* A "uid N" rule replaces max-uid-* for that uid, and only for it. */
static void test_uid_rule_wins_over_the_default(void **state)
{
	struct limits l = limits_with("max-uid-buffers", 1);
	struct core *core;
	struct client *ruled, *other;
	struct held held[4];

	set_limit(&l, "uid 1000 max-buffers", 3);
	core = core_new(&l);
	ruled = core_client(core, 1000, "", "");
	other = core_client(core, 1001, "", "");
	for (int i = 0; i < 3; i++)
		allocate(core, ruled, page(), &held[i]);
	refused(core, ruled, page(), -EDQUOT, "uid 1000 buffer limit 3 reached: 3 buffers in use");
	allocate(core, other, page(), &held[3]);
	refused(core, other, page(), -EDQUOT, "uid 1001 buffer limit 1 reached: 1 buffers in use");
	close_all(held, 4);
	core_free(core);
}

/* Where nothing sets max-uid-buffers, a uid gets an eighth of the fd budget, and says so. */
static void test_uid_share_of_the_fd_budget(void **state)
{
	const struct fd_budget budget = { .nofile = 1024, .buffers = 16, .max_clients = 8 };
	struct core *core;
	struct client *c;
	struct held held[2];
	struct limits l;

	limits_default(&l);
	fd_budget_apply(&budget, &l);
	assert_int_equal(l.uid.buffers, 2);
	assert_true(l.uid_buffers_shared);
	core = core_new(&l);
	c = core_client(core, 1000, "", "");
	allocate(core, c, page(), &held[0]);
	allocate(core, c, page(), &held[1]);
	refused(core, c, page(), -EDQUOT, "uid 1000 (its share of the daemon's file descriptors) "
					  "buffer limit 2 reached: 2 buffers in use");
	close_all(held, 2);
	core_free(core);
}

static void test_fd_budget_over_every_client(void **state)
{
	const struct fd_budget budget = { .nofile = 1024, .buffers = 3, .max_clients = 8 };
	struct client *c[4];
	struct core *core;
	struct held held[3];
	struct limits l = limits_with("max-uid-buffers", 0);

	fd_budget_apply(&budget, &l);
	assert_false(l.uid_buffers_shared);
	core = core_new(&l);
	for (int i = 0; i < 4; i++)
		c[i] = core_client(core, 1000 + (uid_t)i, "", "");
	for (int i = 0; i < 3; i++)
		allocate(core, c[i], page(), &held[i]);
	refused(core, c[3], page(), -ENOMEM,
		"the daemon's file descriptor budget for buffers 3 reached: 3 buffers held");
	close_all(held, 3);
	core_free(core);
}

/* A unit rule is a glob; the clients it covers share it. */
static void test_unit_rule_buffers(void **state)
{
	struct limits l = limits_with("unit cam*.service max-buffers", 2);
	struct core *core = core_new(&l);
	struct client *cam = core_client(core, 1000, "cam.service", "");
	struct client *camera = core_client(core, 1001, "camera.service", "");
	struct client *other = core_client(core, 1000, "other.service", "");
	struct client *none = core_client(core, 1000, "", "");
	struct held held[4];

	allocate(core, cam, page(), &held[0]);
	allocate(core, camera, page(), &held[1]);
	refused(core, camera, page(), -EDQUOT,
		"unit cam*.service buffer limit 2 reached: 2 buffers in use");
	refused(core, cam, page(), -EDQUOT,
		"unit cam*.service buffer limit 2 reached: 2 buffers in use");
	allocate(core, other, page(), &held[2]);
	allocate(core, none, page(), &held[3]);
	close_all(held, 4);
	core_free(core);
}

static void test_cgroup_rule_bytes(void **state)
{
	const uint64_t p = page();
	struct limits l = limits_with("cgroup /user.slice/* max-bytes", 3 * p);
	struct core *core = core_new(&l);
	struct client *a = core_client(core, 1000, "", "/user.slice/a.scope");
	struct client *b = core_client(core, 1001, "", "/user.slice/b.scope");
	struct client *system = core_client(core, 0, "", "/system.slice/x.service");
	struct client *unknown = core_client(core, 1000, "", "");
	struct held held[4];

	allocate(core, a, 2 * p, &held[0]);
	allocate(core, b, p, &held[1]);
	refused(core, b, p, -EDQUOT,
		words("cgroup /user.slice/* byte limit %" PRIu64 " exceeded: %" PRIu64
		      " bytes in use, %" PRIu64 " requested", 3 * p, 3 * p, p));
	allocate(core, system, 4 * p, &held[2]);
	allocate(core, unknown, 4 * p, &held[3]);
	close_all(held, 4);
	core_free(core);
}

/* Every rule that covers a client holds: the one that is full speaks. */
static void test_every_matching_rule_holds(void **state)
{
	struct limits l = limits_with("unit app.service max-buffers", 5);
	struct core *core;
	struct client *c;
	struct held held[2];

	set_limit(&l, "cgroup /app/* max-buffers", 2);
	core = core_new(&l);
	c = core_client(core, 1000, "app.service", "/app/main");
	allocate(core, c, page(), &held[0]);
	allocate(core, c, page(), &held[1]);
	refused(core, c, page(), -EDQUOT, "cgroup /app/* buffer limit 2 reached: 2 buffers in use");
	close_all(held, 2);
	core_free(core);
}

/* A client whose unit or cgroup is unknown is in none, even for "*". */
static void test_unknown_group_matches_no_rule(void **state)
{
	struct limits l = limits_with("unit * max-buffers", 1);
	struct core *core;
	struct client *unknown, *in_unit, *in_cgroup;
	struct held held[4];

	set_limit(&l, "cgroup * max-buffers", 1);
	core = core_new(&l);
	unknown = core_client(core, 1000, "", "");
	in_unit = core_client(core, 1001, "a.service", "");
	in_cgroup = core_client(core, 1002, "", "/b");
	allocate(core, unknown, page(), &held[0]);
	allocate(core, unknown, page(), &held[1]);
	allocate(core, in_unit, page(), &held[2]);
	refused(core, in_unit, page(), -EDQUOT, "unit * buffer limit 1 reached: 1 buffers in use");
	allocate(core, in_cgroup, page(), &held[3]);
	refused(core, in_cgroup, page(), -EDQUOT,
		"cgroup * buffer limit 1 reached: 1 buffers in use");
	close_all(held, 4);
	core_free(core);
}

static void test_heap_rule(void **state)
{
	const uint64_t p = page();
	struct limits l = limits_with("heap memfd max-buffers", 2);
	struct core *core = core_new(&l);
	struct client *a = core_client(core, 1000, "", "");
	struct client *b = core_client(core, 1001, "", "");
	struct held held[4];
	struct reason why;

	allocate(core, a, p, &held[0]);
	allocate(core, b, p, &held[1]);
	refused(core, b, p, -EDQUOT, "heap memfd buffer limit 2 reached: 2 buffers in use");
	core_release(core, a, &held[0]);
	core_release(core, b, &held[1]);
	assert_int_equal(core->allocator.heaps.heaps[0]->buffers, 0);

	/* A reload: new limits for new requests. */
	assert_int_equal(limits_set(&core->allocator.limits, "heap memfd max-buffers", 0, &why), 0);
	assert_int_equal(limits_set(&core->allocator.limits, "heap memfd max-bytes", 3 * p, &why),
			 0);
	allocate(core, a, 2 * p, &held[2]);
	allocate(core, b, p, &held[3]);
	refused(core, a, p, -EDQUOT,
		words("heap memfd byte limit %" PRIu64 " exceeded: %" PRIu64 " bytes in use, %"
		      PRIu64 " requested", 3 * p, 3 * p, p));
	close_all(held, 4);
	core_free(core);
}

static void test_total_buffers(void **state)
{
	struct limits l = limits_with("max-total-buffers", 2);
	struct core *core = core_new(&l);
	struct client *a = core_client(core, 1000, "", "");
	struct client *b = core_client(core, 1001, "", "");
	struct client *c = core_client(core, 1002, "", "");
	struct held held[2];

	allocate(core, a, page(), &held[0]);
	allocate(core, b, page(), &held[1]);
	refused(core, c, page(), -ENOMEM, "total buffer limit 2 reached: 2 buffers in use");
	close_all(held, 2);
	core_free(core);
}

static void test_total_bytes(void **state)
{
	const uint64_t p = page();
	struct limits l = limits_with("max-total-bytes", 3 * p);
	struct core *core = core_new(&l);
	struct client *a = core_client(core, 1000, "", "");
	struct client *b = core_client(core, 1001, "", "");
	struct held held[2];

	allocate(core, a, 2 * p, &held[0]);
	allocate(core, b, p, &held[1]);
	refused(core, b, p, -ENOMEM,
		words("total byte limit %" PRIu64 " exceeded: %" PRIu64 " bytes in use, %" PRIu64
		      " requested", 3 * p, 3 * p, p));
	close_all(held, 2);
	core_free(core);
}

/* The client's own limit is named before the total when both are full. */
static void test_client_limit_speaks_before_the_total(void **state)
{
	struct limits l = limits_with("max-total-buffers", 1);
	struct core *core;
	struct client *c;
	struct held held;

	set_limit(&l, "max-client-buffers", 1);
	core = core_new(&l);
	c = core_client(core, 1000, "", "");
	allocate(core, c, page(), &held);
	refused(core, c, page(), -EDQUOT, "per-client buffer limit 1 reached: 1 buffers in use");
	core_close(&held);
	core_free(core);
}

static void test_allocation_rate(void **state)
{
	struct limits l = limits_with("max-client-allocations-per-second", 3);
	struct core *core = core_new(&l);
	struct client *c = core_client(core, 1000, "", "");
	struct client *other = core_client(core, 1000, "", "");
	struct held held[4];
	struct timespec start, end;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 0; i < 3; i++)
		allocate(core, c, page(), &held[i]);
	refused(core, c, page(), -EAGAIN,
		"allocation rate limit 3 per second reached; try again later");
	clock_gettime(CLOCK_MONOTONIC, &end);
	/* The window is a second: a slower run would have started a new one. */
	assert_true(end.tv_sec - start.tv_sec < 1 ||
		    (end.tv_sec - start.tv_sec == 1 && end.tv_nsec < start.tv_nsec));
	allocate(core, other, page(), &held[3]);
	close_all(held, 4);
	core_free(core);
}

static void test_uid_clients(void **state)
{
	struct limits l = limits_with("max-uid-clients", 2);
	struct core *core = core_new(&l);
	struct client *a;
	struct reason why;

	a = core_client(core, 1000, "", "");
	assert_int_equal(quota_check_uid_clients(&core->allocator, 1000, &why), 0);
	core_client(core, 1000, "", "");
	assert_int_equal(quota_check_uid_clients(&core->allocator, 1000, &why), -EUSERS);
	assert_string_equal(why.text, "uid 1000 client limit 2 reached: 2 clients connected");
	assert_int_equal(quota_check_uid_clients(&core->allocator, 1001, &why), 0);
	core_remove_client(core, a);
	assert_int_equal(quota_check_uid_clients(&core->allocator, 1000, &why), 0);
	core_free(core);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_buffer_size),
		cmocka_unit_test(test_client_buffers),
		cmocka_unit_test(test_client_bytes),
		cmocka_unit_test(test_client_bytes_are_pages),
		cmocka_unit_test(test_freed_buffer_charged_until_released),
		cmocka_unit_test(test_uid_buffers_over_its_clients),
		cmocka_unit_test(test_uid_bytes_over_its_clients),
		cmocka_unit_test(test_uid_rule_wins_over_the_default),
		cmocka_unit_test(test_uid_share_of_the_fd_budget),
		cmocka_unit_test(test_fd_budget_over_every_client),
		cmocka_unit_test(test_unit_rule_buffers),
		cmocka_unit_test(test_cgroup_rule_bytes),
		cmocka_unit_test(test_every_matching_rule_holds),
		cmocka_unit_test(test_unknown_group_matches_no_rule),
		cmocka_unit_test(test_heap_rule),
		cmocka_unit_test(test_total_buffers),
		cmocka_unit_test(test_total_bytes),
		cmocka_unit_test(test_client_limit_speaks_before_the_total),
		cmocka_unit_test(test_allocation_rate),
		cmocka_unit_test(test_uid_clients),
	};

	return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
