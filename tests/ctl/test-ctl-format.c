/* SPDX-License-Identifier: MIT */
/* iobufctl's parsing and formatting, without a bus: sizes, option names, tables, JSON. */
#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl-format.h"
#include "ctl-options.h"
#include "iobuf/iobuf.h"

static void test_sizes(void **state)
{
	uint64_t v = 0;

	assert_int_equal(ctl_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ctl_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(ctl_parse_size("4K", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(ctl_parse_size("3m", &v), 0);
	assert_int_equal(v, 3 << 20);
	assert_int_equal(ctl_parse_size("2G", &v), 0);
	assert_int_equal(v, UINT64_C(2) << 30);
	assert_int_equal(ctl_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(ctl_parse_size("17179869183G", &v), 0);
	assert_int_equal(v, UINT64_C(17179869183) << 30);

	assert_int_equal(ctl_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(ctl_parse_size("99999999999999999999999999", &v), -ERANGE);
	assert_int_equal(ctl_parse_size("17179869184G", &v), -ERANGE);
	assert_int_equal(ctl_parse_size("18014398509481984K", &v), -ERANGE);
	assert_int_equal(ctl_parse_size("99999999999999999999999999x", &v), -EINVAL);
	static const char *const bad[] = { "", "K", "-1", "+1", " 1", "1 ", "1KB", "1T", "0x10",
					   "1.5M", "1,000", "4KK" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ctl_parse_size(bad[i], &v) != -EINVAL)
			fail_msg("'%s' was taken as a size", bad[i]);
}

static void test_client_ids(void **state)
{
	uint32_t id = 0;

	assert_int_equal(ctl_parse_client("1", &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(ctl_parse_client("4294967295", &id), 0);
	assert_int_equal(id, UINT32_MAX);
	assert_int_equal(ctl_parse_client("0", &id), -ERANGE);
	assert_int_equal(ctl_parse_client("4294967296", &id), -ERANGE);
	assert_int_equal(ctl_parse_client("1K", &id), -EINVAL);
	assert_int_equal(ctl_parse_client("", &id), -EINVAL);
	assert_int_equal(ctl_parse_client("-1", &id), -EINVAL);
}

/* What usage reads from the daemon and from --by. */
static void test_uids_and_usage_keys(void **state)
{
	uint32_t uid = 7;

	assert_int_equal(ctl_parse_uid("0", &uid), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(ctl_parse_uid("65534", &uid), 0);
	assert_int_equal(uid, 65534);
	assert_int_equal(ctl_parse_uid("4294967295", &uid), 0);
	assert_int_equal(uid, UINT32_MAX);
	assert_int_equal(ctl_parse_uid("4294967296", &uid), -ERANGE);
	assert_int_equal(ctl_parse_uid("", &uid), -EINVAL);
	assert_int_equal(ctl_parse_uid("1000x", &uid), -EINVAL);
	assert_int_equal(ctl_parse_uid("-1", &uid), -EINVAL);
	assert_int_equal(uid, UINT32_MAX);

	assert_true(ctl_usage_by_known("uid"));
	assert_true(ctl_usage_by_known("unit"));
	assert_true(ctl_usage_by_known("cgroup"));
	assert_true(ctl_usage_by_known("heap"));
	assert_false(ctl_usage_by_known("UID"));
	assert_false(ctl_usage_by_known(""));
	assert_false(ctl_usage_by_known("heaps"));
	assert_string_equal(ctl_usage_by_vocabulary, "uid, unit, cgroup, heap");
}

static void expect_options(const char *list, uint32_t expected)
{
	const char *bad = NULL;
	uint32_t bits = 0xdead;
	size_t len;

	if (ctl_options_parse(list, &bits, &bad, &len) != 0)
		fail_msg("'%s' refused at '%.*s'", list, (int)len, bad);
	assert_int_equal(bits, expected);
}

static void expect_bad_options(const char *list, int err, const char *word)
{
	const char *bad = NULL;
	uint32_t bits = 0xdead;
	size_t len = 99;

	assert_int_equal(ctl_options_parse(list, &bits, &bad, &len), err);
	assert_int_equal(bits, 0xdead);
	assert_int_equal(len, strlen(word));
	assert_memory_equal(bad, word, len);
}

static void test_option_names(void **state)
{
	expect_options("", 0);
	expect_options("pageable", IOBUF_PAGEABLE);
	expect_options("in,out", IOBUF_DIRECTION_INOUT);
	expect_options("inout", IOBUF_DIRECTION_INOUT);
	expect_options("pageable,purgeable,contiguous,kernel-user-shared,cache=writecombine",
		       IOBUF_PAGEABLE | IOBUF_PURGEABLE | IOBUF_PHYSICALLY_CONTIGUOUS |
			       IOBUF_KERNEL_USER_SHARED | IOBUF_CACHE_WRITECOMBINE);
	expect_options("cache=inhibit", IOBUF_CACHE_INHIBIT);
	expect_options("cache=writethru", IOBUF_CACHE_WRITETHRU);
	expect_options("cache=copyback,cache=copyback", IOBUF_CACHE_COPYBACK);
	expect_options("cache=default", 0);

	expect_bad_options("pageable,bogus", -EINVAL, "bogus");
	expect_bad_options("Pageable", -EINVAL, "Pageable");
	expect_bad_options("cache=", -EINVAL, "cache=");
	expect_bad_options("in,,out", -EINVAL, "");
	expect_bad_options("in,", -EINVAL, "");
	expect_bad_options(",in", -EINVAL, "");
	expect_bad_options("in, out", -EINVAL, " out");
	expect_bad_options("cache=inhibit,out,cache=copyback", -EEXIST, "cache=copyback");
	expect_bad_options("cache=default,cache=inhibit", -EEXIST, "cache=inhibit");
}

static void expect_names(uint32_t bits, const char *expected)
{
	char text[CTL_OPTIONS_TEXT_MAX];

	ctl_options_format(bits, text, sizeof(text));
	assert_string_equal(text, expected);
}

static void test_option_formatting(void **state)
{
	expect_names(0, "");
	expect_names(IOBUF_PAGEABLE | IOBUF_CACHE_COPYBACK, "pageable,cache=copyback");
	expect_names(IOBUF_DIRECTION_INOUT | IOBUF_PURGEABLE | IOBUF_PAGEABLE,
		     "inout,pageable,purgeable");
	expect_names(IOBUF_DIRECTION_IN, "in");
	expect_names(IOBUF_DIRECTION_OUT | IOBUF_KERNEL_USER_SHARED | IOBUF_PHYSICALLY_CONTIGUOUS,
		     "out,contiguous,kernel-user-shared");
	expect_names(7u << IOBUF_CACHE_SHIFT, "cache=7");
	expect_names(0xffffffffu, "inout,contiguous,pageable,purgeable,kernel-user-shared,cache=7,"
				  "0xfffff8c0");
	/* What formatting writes, parsing reads back. */
	for (uint32_t bits = 0; bits <= IOBUF_OPTIONS_KNOWN; bits++) {
		char text[CTL_OPTIONS_TEXT_MAX];
		uint32_t mode = (bits & IOBUF_CACHE_MASK) >> IOBUF_CACHE_SHIFT;

		if ((bits & ~(uint32_t)IOBUF_OPTIONS_KNOWN) || mode > 4)
			continue;
		ctl_options_format(bits, text, sizeof(text));
		expect_options(text, bits);
	}
	/* Truncation stays inside the buffer. */
	char small[8];
	ctl_options_format(IOBUF_PAGEABLE | IOBUF_PURGEABLE, small, sizeof(small));
	assert_string_equal(small, "pageabl");
}

static void test_states_and_limits(void **state)
{
	assert_string_equal(ctl_state_name(IOBUF_PURGEABLE_NON_VOLATILE), "non-volatile");
	assert_string_equal(ctl_state_name(IOBUF_PURGEABLE_VOLATILE), "volatile");
	assert_string_equal(ctl_state_name(IOBUF_PURGEABLE_EMPTY), "empty");
	assert_null(ctl_state_name(0));
	assert_null(ctl_state_name(99));
	assert_true(ctl_limit_counts_bytes("max-buffer-size"));
	assert_true(ctl_limit_counts_bytes("max-client-bytes"));
	assert_false(ctl_limit_counts_bytes("max-client-buffers"));
}

static void expect_bytes(uint64_t bytes, const char *expected)
{
	char text[CTL_BYTES_TEXT_MAX];

	ctl_format_bytes(bytes, text);
	assert_string_equal(text, expected);
}

static void expect_age(uint64_t seconds_ago, const char *expected)
{
	const uint64_t now = 1795925256812988ull;
	char text[CTL_AGE_TEXT_MAX];

	ctl_format_age(now - seconds_ago * 1000000, now, text);
	assert_string_equal(text, expected);
}

static void test_age_formatting(void **state)
{
	char text[CTL_AGE_TEXT_MAX];

	expect_age(0, "0s");
	expect_age(59, "59s");
	expect_age(60, "1min");
	expect_age(3599, "59min");
	expect_age(3600, "1h");
	expect_age(86399, "23h");
	expect_age(86400, "1d");
	expect_age(400 * 86400, "400d");
	ctl_format_age(2000000, 1000000, text); /* made after now: a clock stepped back */
	assert_string_equal(text, "0s");
}

static void test_byte_formatting(void **state)
{
	expect_bytes(0, "0 B");
	expect_bytes(1023, "1023 B");
	expect_bytes(1024, "1.0 KiB");
	expect_bytes(4096, "4.0 KiB");
	expect_bytes(20480, "20.0 KiB");
	expect_bytes(1536, "1.5 KiB");
	expect_bytes(1048575, "1.0 MiB");
	expect_bytes(1048576, "1.0 MiB");
	expect_bytes(UINT64_C(512) << 20, "512.0 MiB");
	expect_bytes(UINT64_C(2) << 30, "2.0 GiB");
	expect_bytes(UINT64_C(3) << 40, "3.0 TiB");
	expect_bytes(UINT64_MAX, "16.0 EiB");
}

/* What f wrote, as a string (static). */
static const char *contents(FILE *f)
{
	static char text[4096];
	size_t n;

	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static void test_json(void **state)
{
	FILE *f = tmpfile();
	struct ctl_json j;

	ctl_json_init(&j, f);
	ctl_json_open(&j, '[');
	ctl_json_open(&j, '{');
	ctl_json_key_string(&j, "s", "q\"b\\\t\n\r\b\f\x01\x1f\x7f\xc3\xa9/");
	ctl_json_key_u64(&j, "n", UINT64_MAX);
	ctl_json_key(&j, "a");
	ctl_json_open(&j, '[');
	ctl_json_close(&j, ']');
	ctl_json_key(&j, "o");
	ctl_json_open(&j, '{');
	ctl_json_key_u64(&j, "x-y", 0);
	ctl_json_close(&j, '}');
	ctl_json_close(&j, '}');
	ctl_json_open(&j, '{');
	ctl_json_close(&j, '}');
	ctl_json_string(&j, "");
	ctl_json_u64(&j, 7);
	ctl_json_close(&j, ']');
	assert_string_equal(contents(f),
			    "[{\"s\":\"q\\\"b\\\\\\t\\n\\r\\b\\f\\u0001\\u001f\\u007f\xc3\xa9/\","
			    "\"n\":18446744073709551615,\"a\":[],\"o\":{\"x-y\":0}},{},\"\",7]\n");
}

static struct ctl_table id_name_bytes(void)
{
	struct ctl_table t;

	assert_int_equal(ctl_table_init(&t), 0);
	assert_int_equal(ctl_table_add_column(&t, "ID", true), 0);
	assert_int_equal(ctl_table_add_column(&t, "NAME", false), 0);
	assert_int_equal(ctl_table_add_column(&t, "BYTES", true), 0);
	return t;
}

/* Columns line up in display cells: "é" takes one, each CJK character two. */
static void test_tables(void **state)
{
	struct ctl_table t = id_name_bytes();
	FILE *f = tmpfile();

	assert_int_equal(ctl_table_add_u64(&t, 7), 0);
	assert_int_equal(ctl_table_add(&t, "tab\there\x7f"), 0);
	assert_int_equal(ctl_table_add_bytes(&t, 4096), 0);
	assert_int_equal(ctl_table_add_u64(&t, 12345), 0);
	assert_int_equal(ctl_table_add(&t, ""), 0);
	assert_int_equal(ctl_table_add_bytes(&t, 12), 0);
	assert_int_equal(ctl_table_add_u64(&t, 3), 0);
	assert_int_equal(ctl_table_add(&t, "\xc3\xa9t\xc3\xa9"), 0);
	assert_int_equal(ctl_table_add_bytes(&t, 0), 0);
	assert_int_equal(ctl_table_add_u64(&t, 42), 0);
	assert_int_equal(ctl_table_add(&t, "\xe4\xb8\xad\xe6\x96\x87"), 0); /* 中文 */
	assert_int_equal(ctl_table_add_bytes(&t, 1 << 20), 0);
	assert_int_equal(ctl_table_add(&t, "partial row"), 0);
	assert_int_equal(ctl_table_print(&t, f), 0);
	ctl_table_fini(&t);
	assert_string_equal(contents(f), "   ID  NAME         BYTES\n"
					 "    7  tab?here?  4.0 KiB\n"
					 "12345  -             12 B\n"
					 "    3  \xc3\xa9t\xc3\xa9            0 B\n"
					 "   42  \xe4\xb8\xad\xe6\x96\x87       1.0 MiB\n");

	/* A wide last column: no blanks after it. */
	f = tmpfile();
	assert_int_equal(ctl_table_init(&t), 0);
	assert_int_equal(ctl_table_add_column(&t, "N", true), 0);
	assert_int_equal(ctl_table_add_column(&t, "COMM", false), 0);
	assert_int_equal(ctl_table_add(&t, "1"), 0);
	assert_int_equal(ctl_table_add(&t, "\xe8\xa1\xa8\xe7\xa4\xba\xe5\xb9\x85"), 0);
	assert_int_equal(ctl_table_add(&t, "22"), 0);
	assert_int_equal(ctl_table_add(&t, "x"), 0);
	assert_int_equal(ctl_table_print(&t, f), 0);
	ctl_table_fini(&t);
	assert_string_equal(contents(f), " N  COMM\n"
					 " 1  \xe8\xa1\xa8\xe7\xa4\xba\xe5\xb9\x85\n"
					 "22  x\n");

	/* A table with no rows is its header. */
	f = tmpfile();
	t = id_name_bytes();
	assert_int_equal(ctl_table_print(&t, f), 0);
	ctl_table_fini(&t);
	assert_string_equal(contents(f), "ID  NAME  BYTES\n");

	/* Nor is a partial row printed when it is the only one. */
	f = tmpfile();
	t = id_name_bytes();
	assert_int_equal(ctl_table_add_u64(&t, 1), 0);
	assert_int_equal(ctl_table_print(&t, f), 0);
	ctl_table_fini(&t);
	assert_string_equal(contents(f), "ID  NAME  BYTES\n");
}

int main(void)
{
	/* As iobufctl reads text (Debian ships C.UTF-8 with libc-bin). */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		return fprintf(stderr, "no C.UTF-8 locale\n"), 1;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_client_ids),
		cmocka_unit_test(test_uids_and_usage_keys),
		cmocka_unit_test(test_option_names),
		cmocka_unit_test(test_option_formatting),
		cmocka_unit_test(test_states_and_limits),
		cmocka_unit_test(test_byte_formatting),
		cmocka_unit_test(test_age_formatting),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_tables),
	};

	return cmocka_run_group_tests_name("ctl-format", tests, NULL, NULL);
}
