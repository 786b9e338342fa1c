/* SPDX-License-Identifier: MIT */
/* Reading back the names buffers and charges are stored under with the service manager. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/fdstore.h"

static void test_socket_client_buffer(void **state)
{
	struct stored_buffer b;

	assert_int_equal(fdstore_parse_buffer("buf;id=7;client=3;size=4096;options=0x308;state=2;"
					      "heap=dma-heap/system", &b), 0);
	assert_int_equal(b.id, 7);
	assert_int_equal(b.client_id, 3);
	assert_int_equal(b.size, 4096);
	assert_int_equal(b.options, 0x308);
	assert_int_equal(b.state, 2);
	assert_string_equal(b.heap, "dma-heap/system");
	assert_string_equal(b.bus_name, "");
	assert_int_equal(b.fd, -1);
}

static void test_label_and_birth(void **state)
{
	struct stored_buffer b;

	assert_int_equal(fdstore_parse_buffer("buf;id=7;client=3;size=4096;options=0;state=2;"
					      "heap=memfd;uid=0;pid=9;born=1795925256812988;"
					      "label=63616d20c3a9", &b), 0);
	assert_int_equal(b.created_usec, 1795925256812988ull);
	assert_string_equal(b.label, "cam \xc3\xa9");
	/* Names from before labels: none, and the time of the restart. */
	assert_int_equal(fdstore_parse_buffer("buf;id=7;client=3;size=4096;options=0;state=2;"
					      "heap=memfd", &b), 0);
	assert_string_equal(b.label, "");
	assert_int_equal(b.created_usec, 0);
}

static void test_bus_client_buffer_gets_its_colon_back(void **state)
{
	struct stored_buffer b;

	assert_int_equal(fdstore_parse_buffer("buf;id=18446744073709551615;client=4294967295;"
					      "size=1;options=0;state=4;heap=memfd;bus=1.42", &b), 0);
	assert_int_equal(b.id, UINT64_MAX);
	assert_int_equal(b.client_id, UINT32_MAX);
	assert_string_equal(b.bus_name, ":1.42");
}

static void test_unreadable_names(void **state)
{
	static const char *const names[] = {
		"",
		"buf;",
		"conn;client=3",
		"buf;id=7;client=3;size=4096;options=0;state=2",           /* no heap */
		"buf;client=3;size=4096;options=0;state=2;heap=memfd",      /* no id */
		"buf;id=7;size=4096;options=0;state=2;heap=memfd",          /* no client */
		"buf;id=7;client=3;options=0;state=2;heap=memfd",           /* no size */
		"buf;id=0;client=3;size=4096;options=0;state=2;heap=memfd", /* id 0 */
		"buf;id=-1;client=3;size=4096;options=0;state=2;heap=memfd",
		"buf;id=7x;client=3;size=4096;options=0;state=2;heap=memfd",
		"buf;id=7;client=4294967296;size=4096;options=0;state=2;heap=memfd",
		"buf;id=7;client=3;size=1;options=0;state=2;heap=memfd;label=6",   /* half a byte */
		"buf;id=7;client=3;size=1;options=0;state=2;heap=memfd;label=0909", /* tabs */
		"buf;id=7;client=3;size=1;options=0;state=2;heap=memfd;label=ff",   /* not UTF-8 */
		"buf;id=7;client=3;size=1;options=0;state=2;heap=memfd;label=6G",
		"buf;id=7;client=3;size=1;options=0;state=2;heap=memfd;born=x",
		"buf;id=18446744073709551616;client=3;size=4096;heap=memfd",
		"buf;id=7;client=3;size=4096;options=0x100000000;heap=memfd",
		"buf;id=7;client=3;size=4096;colour=red;heap=memfd",
		"buf;id=7;client=3;size=4096;heap",
		"buf;id=7;client=3;size=4096;heap=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct stored_buffer b;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (fdstore_parse_buffer(names[i], &b) != -EINVAL)
			fail_msg("accepted \"%s\"", names[i]);
}

static void test_charges(void **state)
{
	struct stored_charge c;

	assert_int_equal(fdstore_parse_charge("charge;client=3;pid=1234;uid=1000", &c), 0);
	assert_int_equal(c.client_id, 3);
	assert_int_equal(c.pid, 1234);
	assert_int_equal(c.uid, 1000);
	assert_string_equal(c.bus_name, "");
	assert_int_equal(c.fd, -1);
	assert_int_equal(fdstore_parse_charge("charge;client=4;pid=5;uid=0;bus=1.7", &c), 0);
	assert_string_equal(c.bus_name, ":1.7");
}

static void test_unreadable_charges(void **state)
{
	static const char *const names[] = {
		"charge;",
		"charge;pid=5;uid=0",                 /* no client */
		"charge;client=3;uid=0",              /* no pid */
		"charge;client=3;pid=0;uid=0",
		"charge;client=3;pid=-5;uid=0",
		"charge;client=3;pid=2147483648;uid=0",
		"charge;client=3;pid=5;uid=0;size=4", /* a buffer's field */
		"chargex;client=3;pid=5;uid=0",
		"buf;client=3;pid=5;uid=0",
	};
	struct stored_charge c;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (fdstore_parse_charge(names[i], &c) != -EINVAL)
			fail_msg("accepted \"%s\"", names[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_client_buffer),
		cmocka_unit_test(test_label_and_birth),
		cmocka_unit_test(test_bus_client_buffer_gets_its_colon_back),
		cmocka_unit_test(test_unreadable_names),
		cmocka_unit_test(test_charges),
		cmocka_unit_test(test_unreadable_charges),
	};

	return cmocka_run_group_tests_name("fdstore", tests, NULL, NULL);
}
