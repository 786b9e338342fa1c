/* SPDX-License-Identifier: MIT */
/*
 * What IOKit's IOBufferMemoryDescriptor does, as XNU's sources have it
 * (IOBufferMemoryDescriptor.cpp, IOMemoryDescriptor.cpp and
 * vm_object_purgable_control() in osfmk/vm/vm_object.c), done by libiobuf
 * against a real iobufd serving memfds. The kernel heaps' side of
 * prepare/complete and contiguous alignment is in tests/vm/test-sync.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define SIZE 8192
/* Two buffers of SIZE may be volatile at once; a third purges the oldest. */
#define CONFIG "[limits]\nmax-volatile-bytes = 16K\n"

enum { NV = IOBUF_PURGEABLE_NON_VOLATILE, V = IOBUF_PURGEABLE_VOLATILE,
       EMPTY = IOBUF_PURGEABLE_EMPTY, KEEP = IOBUF_PURGEABLE_KEEP_CURRENT };

struct fixture {
	struct test_daemon daemon;
	char config[64];
	struct iobuf_task *task;
};

static int setup(void **state)
{
	static struct fixture f;
	char arg[96];

	snprintf(f.config, sizeof(f.config), "/tmp/iobufd-iokit.%d.conf", (int)getpid());
	write_config(f.config, CONFIG);
	snprintf(arg, sizeof(arg), "--config=%s", f.config);
	test_daemon_start(&f.daemon, (const char *[]){ arg, NULL });
	f.task = iobuf_task_connect(f.daemon.socket);
	assert_non_null(f.task);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	iobuf_task_unref(f->task);
	test_daemon_stop(&f->daemon);
	unlink(f->config);
	return 0;
}

static const char *state_name(int state)
{
	switch (state) {
	case KEEP:
		return "KEEP_CURRENT";
	case NV:
		return "NON_VOLATILE";
	case V:
		return "VOLATILE";
	case EMPTY:
		return "EMPTY";
	}
	return "?";
}

/*
 * A purgeable buffer in state from, holding 0xa5 unless it is EMPTY. An
 * EMPTY one holds 0x3c: its owner wrote it again after it was emptied,
 * which does not make it non-volatile.
 */
static struct iobuf *buffer_in_state(struct iobuf_task *task, int from)
{
	struct iobuf *buf = purgeable_filled(task, SIZE, 0xa5);

	if (from != NV)
		set_state(buf, (enum iobuf_purgeable_state)from);
	if (from == EMPTY) {
		assert_true(holds(buf, 0));
		memset(iobuf_get_bytes_no_copy(buf), 0x3c, SIZE);
	}
	return buf;
}

/*
 * Every transition reports the state before it and leaves the one XNU's
 * vm_object_purgable_control() leaves: VOLATILE on an EMPTY buffer keeps it
 * EMPTY ("what's been emptied must stay empty") and empties it again; EMPTY
 * empties in any state; KEEP_CURRENT only reads.
 */
static void test_every_transition(void **state)
{
	static const struct {
		int from, to, old, after;
		unsigned char fill; /* what the buffer holds after */
	} cases[] = {
		{ NV, KEEP, NV, NV, 0xa5 },	  { NV, NV, NV, NV, 0xa5 },
		{ NV, V, NV, V, 0xa5 },		  { NV, EMPTY, NV, EMPTY, 0 },
		{ V, KEEP, V, V, 0xa5 },	  { V, NV, V, NV, 0xa5 },
		{ V, V, V, V, 0xa5 },		  { V, EMPTY, V, EMPTY, 0 },
		{ EMPTY, KEEP, EMPTY, EMPTY, 0x3c }, { EMPTY, NV, EMPTY, NV, 0x3c },
		{ EMPTY, V, EMPTY, EMPTY, 0 },	  { EMPTY, EMPTY, EMPTY, EMPTY, 0 },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iobuf *buf = buffer_in_state(f->task, cases[i].from);
		int old = set_state(buf, (enum iobuf_purgeable_state)cases[i].to);
		int after = set_state(buf, IOBUF_PURGEABLE_KEEP_CURRENT);

		if (old != cases[i].old || after != cases[i].after)
			fail_msg("%s -> %s: reported %s and left %s; XNU reports %s and leaves %s",
				 state_name(cases[i].from), state_name(cases[i].to),
				 state_name(old), state_name(after), state_name(cases[i].old),
				 state_name(cases[i].after));
		if (!holds(buf, cases[i].fill))
			fail_msg("%s -> %s: the buffer does not hold 0x%02x throughout",
				 state_name(cases[i].from), state_name(cases[i].to),
				 cases[i].fill);
		iobuf_release(buf);
	}
}

/*
 * The case a client gets wrong silently when EMPTY does not stick: it made
 * an emptied buffer volatile (say, at the end of a frame, before it saw it
 * was emptied), and the next NON_VOLATILE must still say EMPTY, or the
 * client takes zeros for its data. It stays EMPTY through any number of
 * VOLATILE.
 */
static void test_emptied_stays_empty_until_non_volatile(void **state)
{
	struct fixture *f = *state;
	struct iobuf *buf = buffer_in_state(f->task, EMPTY);

	assert_int_equal(set_state(buf, IOBUF_PURGEABLE_VOLATILE), EMPTY);
	assert_int_equal(set_state(buf, IOBUF_PURGEABLE_VOLATILE), EMPTY);
	assert_int_equal(set_state(buf, IOBUF_PURGEABLE_NON_VOLATILE), EMPTY);
	assert_true(holds(buf, 0));
	/* Refilled and made non-volatile, it is the owner's again. */
	memset(iobuf_get_bytes_no_copy(buf), 0x11, SIZE);
	assert_int_equal(set_state(buf, IOBUF_PURGEABLE_VOLATILE), NV);
	assert_int_equal(set_state(buf, IOBUF_PURGEABLE_NON_VOLATILE), V);
	assert_true(holds(buf, 0x11));
	iobuf_release(buf);
}

/* The same for a buffer the daemon purged past the volatile budget. */
static void test_purged_by_the_budget_stays_empty(void **state)
{
	struct fixture *f = *state;
	struct iobuf *oldest = purgeable_filled(f->task, SIZE, 0x01);
	struct iobuf *newer = purgeable_filled(f->task, SIZE, 0x02);
	struct iobuf *newest = purgeable_filled(f->task, SIZE, 0x03);

	set_state(oldest, IOBUF_PURGEABLE_VOLATILE);
	set_state(newer, IOBUF_PURGEABLE_VOLATILE);
	set_state(newest, IOBUF_PURGEABLE_VOLATILE); /* 24K over 16K: the oldest goes */
	assert_int_equal(set_state(oldest, IOBUF_PURGEABLE_KEEP_CURRENT), EMPTY);

	memset(iobuf_get_bytes_no_copy(oldest), 0x04, SIZE);
	assert_int_equal(set_state(oldest, IOBUF_PURGEABLE_VOLATILE), EMPTY);
	assert_int_equal(set_state(oldest, IOBUF_PURGEABLE_KEEP_CURRENT), EMPTY);
	assert_int_equal(set_state(oldest, IOBUF_PURGEABLE_NON_VOLATILE), EMPTY);
	assert_true(holds(oldest, 0));
	/* Staying EMPTY, it counted as nothing volatile: the others were kept. */
	assert_int_equal(set_state(newer, IOBUF_PURGEABLE_NON_VOLATILE), V);
	assert_true(holds(newer, 0x02));
	assert_int_equal(set_state(newest, IOBUF_PURGEABLE_NON_VOLATILE), V);
	assert_true(holds(newest, 0x03));
	iobuf_release(oldest);
	iobuf_release(newer);
	iobuf_release(newest);
}

/*
 * VOLATILE on a VOLATILE buffer queues it again, as XNU does: it becomes
 * the newest, and the budget purges the one made volatile before it.
 */
static void test_volatile_again_is_newest(void **state)
{
	struct fixture *f = *state;
	struct iobuf *first = purgeable_filled(f->task, SIZE, 0x01);
	struct iobuf *second = purgeable_filled(f->task, SIZE, 0x02);
	struct iobuf *third = purgeable_filled(f->task, SIZE, 0x03);

	set_state(first, IOBUF_PURGEABLE_VOLATILE);
	set_state(second, IOBUF_PURGEABLE_VOLATILE);
	assert_int_equal(set_state(first, IOBUF_PURGEABLE_VOLATILE), V);
	set_state(third, IOBUF_PURGEABLE_VOLATILE); /* 24K over 16K: second goes */
	assert_int_equal(set_state(second, IOBUF_PURGEABLE_NON_VOLATILE), EMPTY);
	assert_int_equal(set_state(first, IOBUF_PURGEABLE_NON_VOLATILE), V);
	assert_true(holds(first, 0x01));
	assert_int_equal(set_state(third, IOBUF_PURGEABLE_NON_VOLATILE), V);
	iobuf_release(first);
	iobuf_release(second);
	iobuf_release(third);
}

/* IOKit's values, which code ported from it may have written as numbers. */
static void test_values_as_iokit(void **state)
{
	/* kIODirectionIn, kIODirectionOut */
	assert_int_equal(IOBUF_DIRECTION_IN, 1);
	assert_int_equal(IOBUF_DIRECTION_OUT, 2);
	/* kIOMemoryPurgeableKeepCurrent, NonVolatile, Volatile, Empty */
	assert_int_equal(IOBUF_PURGEABLE_KEEP_CURRENT, 1);
	assert_int_equal(IOBUF_PURGEABLE_NON_VOLATILE, 2);
	assert_int_equal(IOBUF_PURGEABLE_VOLATILE, 3);
	assert_int_equal(IOBUF_PURGEABLE_EMPTY, 4);
}

/*
 * withCapacity aligns a contiguous buffer to its capacity: past the largest
 * alignment iobufd maps at, it fails before asking the daemon; the memfd
 * heap is not contiguous. Not contiguous, the capacity is anything.
 */
static void test_with_capacity(void **state)
{
	struct fixture *f = *state;
	struct iobuf_usage before = usage_of(f->task);
	struct iobuf *buf = iobuf_with_capacity(3 * 4096 + 1, IOBUF_DIRECTION_IN, 0);

	assert_non_null(buf);
	assert_int_equal(iobuf_get_capacity(buf), 3 * 4096 + 1);
	assert_int_equal(iobuf_get_length(buf), 3 * 4096 + 1);
	assert_int_equal(iobuf_get_direction(buf), IOBUF_DIRECTION_IN);
	assert_int_equal(iobuf_get_options(buf) & IOBUF_PHYSICALLY_CONTIGUOUS, 0);
	iobuf_release(buf);

	assert_refused(iobuf_with_capacity(3 * 4096 + 1, IOBUF_DIRECTION_IN, 1), EOPNOTSUPP,
		       "memfd lacks PHYSICALLY_CONTIGUOUS");
	assert_refused(iobuf_with_capacity((1u << 30) + 1, IOBUF_DIRECTION_IN, 1), EINVAL,
		       "a contiguous buffer is aligned to its capacity, and 1073741825 bytes is "
		       "over the largest alignment 1073741824");
	assert_refused(iobuf_with_capacity(SIZE_MAX, IOBUF_DIRECTION_IN, 1), EINVAL,
		       "over the largest alignment");
	assert_refused(iobuf_with_capacity(0, IOBUF_DIRECTION_IN, 1), EINVAL,
		       "capacity must not be 0");
	assert_int_equal(usage_of(f->task).total_buffers, before.total_buffers);
}

/* withBytes: length and capacity are the bytes', 0 bytes fail as capacity 0 does. */
static void test_with_bytes(void **state)
{
	static const char text[5000] = "copied, not referred to";
	struct iobuf *buf = iobuf_with_bytes(text, sizeof(text), IOBUF_DIRECTION_OUT, 0);

	assert_non_null(buf);
	assert_int_equal(iobuf_get_capacity(buf), sizeof(text));
	assert_int_equal(iobuf_get_length(buf), sizeof(text));
	assert_memory_equal(iobuf_get_bytes_no_copy(buf), text, sizeof(text));
	assert_int_equal(iobuf_append_bytes(buf, "x", 1), 0);
	iobuf_release(buf);

	assert_refused(iobuf_with_bytes(text, 0, IOBUF_DIRECTION_OUT, 0), EINVAL,
		       "capacity must not be 0");
	assert_refused(iobuf_with_bytes(text, 100, IOBUF_DIRECTION_OUT, 1), EOPNOTSUPP,
		       "memfd lacks PHYSICALLY_CONTIGUOUS");
}

/*
 * IOBMDOverflowTest: a capacity that overflows when rounded up fails, with
 * a physical mask or an alignment, and changes nothing.
 */
static void test_overflowing_capacity(void **state)
{
	struct fixture *f = *state;
	struct iobuf_usage before = usage_of(f->task);

	assert_refused(iobuf_in_task_with_physical_mask(f->task, IOBUF_PAGEABLE |
							IOBUF_DIRECTION_OUT, SIZE_MAX, 0),
		       EFBIG, "over the maximum buffer size");
	assert_refused(iobuf_in_task_with_options(f->task, IOBUF_PAGEABLE, SIZE_MAX, 4096), EFBIG,
		       "over the maximum buffer size");
	assert_int_equal(usage_of(f->task).total_buffers, before.total_buffers);
}

/*
 * prepare and complete nest as IOKit's do (IODirectionPrepareNoZeroFillTest
 * prepares twice and completes twice); a complete without a prepare does
 * nothing. A memfd needs no cache maintenance, so each only succeeds; the
 * kernel heaps' dma-bufs are tried in tests/vm/test-sync.c.
 */
static void test_prepare_complete_in_any_order(void **state)
{
	struct fixture *f = *state;
	struct iobuf *buf = iobuf_in_task_with_options(f->task, IOBUF_DIRECTION_INOUT, SIZE, 0);

	assert_non_null(buf);
	assert_int_equal(iobuf_complete(buf), 0);
	assert_int_equal(iobuf_prepare(buf), 0);
	assert_int_equal(iobuf_prepare(buf), 0);
	assert_int_equal(iobuf_complete(buf), 0);
	assert_int_equal(iobuf_complete(buf), 0);
	assert_int_equal(iobuf_complete(buf), 0);
	assert_int_equal(iobuf_prepare(buf), 0);
	iobuf_release(buf); /* prepared: released all the same */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_transition),
		cmocka_unit_test(test_emptied_stays_empty_until_non_volatile),
		cmocka_unit_test(test_purged_by_the_budget_stays_empty),
		cmocka_unit_test(test_volatile_again_is_newest),
		cmocka_unit_test(test_values_as_iokit),
		cmocka_unit_test(test_with_capacity),
		cmocka_unit_test(test_with_bytes),
		cmocka_unit_test(test_overflowing_capacity),
		cmocka_unit_test(test_prepare_complete_in_any_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
