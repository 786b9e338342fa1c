/* SPDX-License-Identifier: MIT */
/* What each uid holds, kept as buffers come and go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/uid-totals.h"

static void test_totals_per_uid(void **state)
{
	struct uid_totals t = { 0 };

	assert_int_equal(uid_totals_get(&t, 1000).buffers, 0);
	assert_int_equal(uid_totals_add(&t, 1000, +1, 4096), 0);
	assert_int_equal(uid_totals_add(&t, 1000, +1, 8192), 0);
	assert_int_equal(uid_totals_add(&t, 0, +1, 4096), 0);
	assert_int_equal(uid_totals_get(&t, 1000).buffers, 2);
	assert_int_equal(uid_totals_get(&t, 1000).bytes, 12288);
	assert_int_equal(uid_totals_get(&t, 0).buffers, 1);
	assert_int_equal(uid_totals_add(&t, 1000, -1, 4096), 0);
	assert_int_equal(uid_totals_get(&t, 1000).bytes, 8192);
	assert_int_equal(uid_totals_get(&t, 65534).bytes, 0);
	uid_totals_fini(&t);
}

/* Many uids, the table grown on the way: each keeps its own. */
static void test_many_uids(void **state)
{
	struct uid_totals t = { 0 };

	for (uid_t uid = 0; uid < 5000; uid += 7)
		for (uid_t n = 0; n <= uid % 5; n++)
			assert_int_equal(uid_totals_add(&t, uid, +1, uid), 0);
	for (uid_t uid = 0; uid < 5000; uid += 7) {
		assert_int_equal(uid_totals_get(&t, uid).buffers, uid % 5 + 1);
		assert_int_equal(uid_totals_get(&t, uid).bytes, (uint64_t)uid * (uid % 5 + 1));
		assert_int_equal(uid_totals_get(&t, uid + 1).buffers, 0);
	}
	uid_totals_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_per_uid),
		cmocka_unit_test(test_many_uids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
