/* SPDX-License-Identifier: MIT */
/*
 * Settings that are wrong: each malformed line of the config file, unknown
 * key, bad size and bad rule scope is refused with the file, the line and
 * what is wrong, and nothing of the file is applied; the command line and
 * limits_set() refuse in words too and change nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "args.h"
#include "config-file.h"
#include "core/limits.h"

#define UNKNOWN_LIMIT_FORMS                                                                \
	": max-buffer-size, max-client-buffers, max-client-bytes, max-uid-*, max-total-*, " \
	"max-client-allocations-per-second, or 'uid|unit|cgroup|heap MATCH "               \
	"max-buffers|max-bytes'"
#define PRESSURE_FORMS                                                                  \
	"expected 'off' or 'some|full STALL_US WINDOW_US' with 0 < STALL_US <= WINDOW_US " \
	"and WINDOW_US 500000 to 10000000"

/* Where stderr goes while a call under test speaks. */
struct captured {
	int saved;
	int fd;
	char text[2048];
};

static void capture_start(struct captured *c)
{
	fflush(stderr);
	c->fd = memfd_create("stderr", MFD_CLOEXEC);
	assert_true(c->fd >= 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

/* What was said, in c->text. */
static const char *capture_end(struct captured *c)
{
	ssize_t n;

	fflush(stderr);
	assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
	close(c->saved);
	n = pread(c->fd, c->text, sizeof(c->text) - 1, 0);
	assert_true(n >= 0);
	c->text[n] = '\0';
	close(c->fd);
	return c->text;
}

struct config {
	char path[64];
	struct limits limits;
	struct file_settings settings;
	char said[2048];
};

static void write_config(struct config *c, const char *text)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "/tmp/test-config.XXXXXX");
	fd = mkstemp(c->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Loads text as the config file over the defaults; what was logged in c->said. */
static int load(struct config *c, const char *text)
{
	struct captured captured;
	int r;

	limits_default(&c->limits);
	memset(&c->settings, 0, sizeof(c->settings));
	write_config(c, text);
	capture_start(&captured);
	r = config_file_load(c->path, true, &c->limits, &c->settings);
	snprintf(c->said, sizeof(c->said), "%s", capture_end(&captured));
	assert_int_equal(unlink(c->path), 0);
	return r;
}

/* text must be refused, logged as "PATH:LINE: PROBLEM", and change nothing. */
static void refused(const char *text, const char *line_and_problem)
{
	struct config c, before;
	char expected[1024];

	limits_default(&before.limits);
	memset(&before.settings, 0, sizeof(before.settings));
	if (load(&c, text) != -EINVAL)
		fail_msg("accepted:\n%s", text);
	snprintf(expected, sizeof(expected), "iobufd: %s%s\n", c.path, line_and_problem);
	if (strcmp(c.said, expected) != 0)
		fail_msg("for:\n%s\nsaid:      %sexpected:  %s", text, c.said, expected);
	assert_memory_equal(&c.limits, &before.limits, sizeof(c.limits));
	assert_memory_equal(&c.settings, &before.settings, sizeof(c.settings));
}

static void test_every_setting_applies(void **state)
{
	struct config c;
	const uint64_t m = 1ull << 20;

	assert_int_equal(load(&c, "; iobufd.conf\n"
				  "[daemon]\n"
				  "heaps = dma-heap/system,memfd\n"
				  "contiguous-heaps = linux,cma\n"
				  "max-clients = 64\n"
				  "memory-pressure = full 100000 1000000\n"
				  "\n"
				  "[limits]\n"
				  "max-buffer-size = 64M\n"
				  "max-uid-bytes = 1G\n"
				  "max-total-buffers = 9000\n"
				  "max-volatile-bytes = 512K\n"
				  "[uid 1000]\n"
				  "max-bytes = 2G\n"
				  "max-buffers = 100\n"
				  "[unit my app.service]\n"
				  "max-buffers = 7\n"
				  "[cgroup /user.slice/*]\n"
				  "max-bytes = 3M\n"
				  "[heap dma-heap/linux,cma]\n"
				  "max-bytes = 96M\n"), 0);
	assert_string_equal(c.said, "");
	assert_string_equal(c.settings.heaps, "dma-heap/system,memfd");
	assert_string_equal(c.settings.contiguous, "linux,cma");
	assert_int_equal(c.settings.max_clients, 64);
	assert_string_equal(c.settings.memory_pressure, "full 100000 1000000");
	assert_int_equal(c.limits.max_buffer_size, 64 * m);
	assert_int_equal(c.limits.uid.bytes, 1024 * m);
	assert_int_equal(c.limits.total.buffers, 9000);
	assert_int_equal(c.limits.volatile_bytes, 512 * 1024);
	assert_int_equal(c.limits.client.buffers, 4096); /* the default, unsaid */
	assert_int_equal(c.limits.rule_count, 4);
	assert_int_equal(c.limits.rules[0].kind, RULE_UID);
	assert_int_equal(c.limits.rules[0].uid, 1000);
	assert_int_equal(c.limits.rules[0].quota.bytes, 2048 * m);
	assert_int_equal(c.limits.rules[0].quota.buffers, 100);
	assert_int_equal(c.limits.rules[1].kind, RULE_UNIT);
	assert_string_equal(c.limits.rules[1].match, "my app.service");
	assert_int_equal(c.limits.rules[1].quota.buffers, 7);
	assert_int_equal(c.limits.rules[1].quota.bytes, 0);
	assert_int_equal(c.limits.rules[2].kind, RULE_CGROUP);
	assert_string_equal(c.limits.rules[2].match, "/user.slice/*");
	assert_int_equal(c.limits.rules[2].quota.bytes, 3 * m);
	assert_int_equal(c.limits.rules[3].kind, RULE_HEAP);
	assert_string_equal(c.limits.rules[3].match, "dma-heap/linux,cma");
	assert_int_equal(c.limits.rules[3].quota.bytes, 96 * m);
}

static void test_unknown_keys(void **state)
{
	refused("[daemon]\ncolour = red\n", ":2: unknown key 'colour' in [daemon]");
	refused("[limits]\nmax-frobs = 3\n", ":2: unknown limit 'max-frobs'" UNKNOWN_LIMIT_FORMS);
	refused("[uid 1000]\nmax-cats = 1\n",
		":2: unknown limit 'uid 1000 max-cats'" UNKNOWN_LIMIT_FORMS);
	refused("[limits]\nmax-bytes = 1\n", ":2: unknown limit 'max-bytes'" UNKNOWN_LIMIT_FORMS);
	refused("max-buffer-size = 1M\n", ":1: 'max-buffer-size' outside any section");
}

static void test_bad_scopes(void **state)
{
	refused("[planet earth]\nmax-bytes = 1\n",
		":2: unknown limit 'planet earth max-bytes'" UNKNOWN_LIMIT_FORMS);
	refused("[unit]\nmax-bytes = 1\n", ":2: unknown limit 'unit max-bytes'" UNKNOWN_LIMIT_FORMS);
	refused("[uid alice]\nmax-bytes = 1M\n", ":2: 'alice' is not a uid");
	refused("[uid -1]\nmax-bytes = 1M\n", ":2: '-1' is not a uid");
	refused("[uid 4294967295]\nmax-bytes = 1M\n", ":2: '4294967295' is not a uid");
	refused("[uid 1000x]\nmax-buffers = 1\n", ":2: '1000x' is not a uid");
}

static void test_bad_sizes(void **state)
{
	refused("[limits]\nmax-buffer-size = 12Q\n",
		":2: max-buffer-size: '12Q' is not a number (K, M, G allowed)");
	refused("[limits]\nmax-buffer-size = -5\n",
		":2: max-buffer-size: '-5' is not a number (K, M, G allowed)");
	refused("[limits]\nmax-buffer-size =\n",
		":2: max-buffer-size: '' is not a number (K, M, G allowed)");
	refused("[limits]\nmax-total-bytes = 18446744073709551616\n",
		":2: max-total-bytes: '18446744073709551616' is not a number (K, M, G allowed)");
	refused("[limits]\nmax-total-bytes = 17179869184G\n",
		":2: max-total-bytes: '17179869184G' is not a number (K, M, G allowed)");
	refused("[uid 1000]\nmax-bytes = 1.5G\n",
		":2: max-bytes: '1.5G' is not a number (K, M, G allowed)");
	refused("[limits]\nmax-client-buffers = 0\n", ":2: limit max-client-buffers must not be 0");
	refused("[limits]\nmax-buffer-size = 0\n", ":2: limit max-buffer-size must not be 0");
}

static void test_bad_daemon_settings(void **state)
{
	refused("[daemon]\nmax-clients = 0\n", ":2: max-clients must be 1 to 65536, not '0'");
	refused("[daemon]\nmax-clients = 65537\n", ":2: max-clients must be 1 to 65536, not '65537'");
	refused("[daemon]\nmax-clients = many\n", ":2: max-clients must be 1 to 65536, not 'many'");
	refused("[daemon]\nmemory-pressure = sometimes\n",
		":2: memory-pressure 'sometimes': not a trigger; " PRESSURE_FORMS);
	refused("[daemon]\nmemory-pressure = some 0 1000000\n",
		":2: memory-pressure 'some 0 1000000': STALL_US is 0; " PRESSURE_FORMS);
	refused("[daemon]\nmemory-pressure = full 100 100\n",
		":2: memory-pressure 'full 100 100': WINDOW_US is not 500000 to 10000000; "
		PRESSURE_FORMS);
}

static void test_malformed_lines(void **state)
{
	refused("[limits]\nthis is not ini\n", ":2: not INI syntax");
	refused("[limits\n; nothing follows\n", ":1: not INI syntax");
	/* Comments and blank lines count as lines. */
	refused("; iobufd.conf\n\n[limits]\n# a comment\nmax-frobs = 1\n",
		":5: unknown limit 'max-frobs'" UNKNOWN_LIMIT_FORMS);
}

/* Only the first problem is told, with its own line. */
static void test_first_problem_told(void **state)
{
	char text[512], list[300];

	refused("[daemon]\ncolour = red\nflavour = sweet\n",
		":2: unknown key 'colour' in [daemon]");
	refused("[limits\nmax-buffer-size = 1M\n", ":1: not INI syntax");
	refused("[limits]\nmax-frobs = 1\nthis is not ini\n",
		":2: unknown limit 'max-frobs'" UNKNOWN_LIMIT_FORMS);
	memset(list, 'h', sizeof(list) - 1);
	list[sizeof(list) - 1] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nheaps = %s\n[limits]\nmax-frobs = 1\n", list);
	refused(text, ":2: the line is longer than 198 characters");
}

/* A file that goes wrong at its end applies none of what came before. */
static void test_nothing_half_applied(void **state)
{
	refused("[daemon]\n"
		"heaps = memfd\n"
		"max-clients = 8\n"
		"memory-pressure = off\n"
		"[limits]\n"
		"max-buffer-size = 1M\n"
		"max-client-buffers = 3\n"
		"[uid 1000]\n"
		"max-bytes = 1M\n"
		"[heap memfd]\n"
		"max-buffers = 0x10\n",
		":11: max-buffers: '0x10' is not a number (K, M, G allowed)");
}

static void test_too_many_rules(void **state)
{
	char text[LIMIT_RULES_MAX * 48 + 64], expected[64];
	size_t used = 0;

	for (int i = 0; i <= LIMIT_RULES_MAX; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "[uid %d]\nmax-buffers = 1\n", 1000 + i);
	assert_true(used < sizeof(text));
	snprintf(expected, sizeof(expected), ":%d: more than %d rules", 2 * LIMIT_RULES_MAX + 2,
		 LIMIT_RULES_MAX);
	refused(text, expected);
}

static void test_missing_file(void **state)
{
	const char *path = "/nonexistent/iobufd.conf";
	struct limits limits, before;
	struct file_settings settings = { .max_clients = 7 };
	struct captured captured;
	int r;

	limits_default(&limits);
	memcpy(&before, &limits, sizeof(before));
	assert_int_equal(config_file_load(path, false, &limits, &settings), 0);
	assert_memory_equal(&limits, &before, sizeof(limits));
	assert_int_equal(settings.max_clients, 7);

	capture_start(&captured);
	r = config_file_load(path, true, &limits, &settings);
	assert_int_equal(r, -ENOENT);
	assert_string_equal(capture_end(&captured),
			    "iobufd: cannot read /nonexistent/iobufd.conf: No such file or directory\n");
	assert_memory_equal(&limits, &before, sizeof(limits));
}

static void test_limits_set_refusals(void **state)
{
	static const struct {
		const char *name;
		uint64_t value;
		const char *why;
	} cases[] = {
		{ "max-client-bytes", 0, "limit max-client-bytes must not be 0" },
		{ "max-frobs", 1, "unknown limit 'max-frobs'" UNKNOWN_LIMIT_FORMS },
		{ "", 1, "unknown limit ''" UNKNOWN_LIMIT_FORMS },
		{ "uid 1000", 1, "unknown limit 'uid 1000'" UNKNOWN_LIMIT_FORMS },
		{ "uid  max-bytes", 1, "unknown limit 'uid  max-bytes'" UNKNOWN_LIMIT_FORMS },
		{ "group wheel max-bytes", 1,
		  "unknown limit 'group wheel max-bytes'" UNKNOWN_LIMIT_FORMS },
		{ "uid 1000 max-bytes ", 1,
		  "unknown limit 'uid 1000 max-bytes '" UNKNOWN_LIMIT_FORMS },
		{ "uid root max-buffers", 1, "'root' is not a uid" },
	};
	struct limits l, before;
	struct reason why;

	limits_default(&l);
	memcpy(&before, &l, sizeof(before));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why.text[0] = '\0';
		if (limits_set(&l, cases[i].name, cases[i].value, &why) != -EINVAL)
			fail_msg("accepted '%s'", cases[i].name);
		assert_string_equal(why.text, cases[i].why);
		assert_memory_equal(&l, &before, sizeof(l));
	}
}

static void test_rule_table_full(void **state)
{
	struct limits l, before;
	char name[64];
	struct reason why;

	limits_default(&l);
	for (int i = 0; i < LIMIT_RULES_MAX; i++) {
		snprintf(name, sizeof(name), "cgroup /c%d max-bytes", i);
		assert_int_equal(limits_set(&l, name, 1, &why), 0);
	}
	memcpy(&before, &l, sizeof(before));
	assert_int_equal(limits_set(&l, "cgroup /one-more max-bytes", 1, &why), -EINVAL);
	assert_string_equal(why.text, "more than 64 rules");
	assert_memory_equal(&l, &before, sizeof(l));
	/* A rule there already still changes. */
	assert_int_equal(limits_set(&l, "cgroup /c5 max-buffers", 9, &why), 0);
	assert_int_equal(l.rule_count, LIMIT_RULES_MAX);
	assert_int_equal(l.rules[5].quota.buffers, 9);
	assert_int_equal(l.rules[5].quota.bytes, 1);
}

static void set_again(const char *name, uint64_t value, void *data)
{
	struct limits *copy = data;
	struct reason why;

	/* The fixed three cannot be 0; every other name takes back what it said. */
	if (limits_set(copy, name, value ? value : 1, &why) < 0)
		fail_msg("'%s' as limits_foreach() named it: %s", name, why.text);
}

/* Every name the daemon lists (SetLimit, the Limits property) is one it takes. */
static void test_listed_names_are_accepted(void **state)
{
	struct limits l, copy;
	struct reason why;

	limits_default(&l);
	assert_int_equal(limits_set(&l, "uid 1000 max-bytes", 1, &why), 0);
	assert_int_equal(limits_set(&l, "unit a b.service max-buffers", 2, &why), 0);
	assert_int_equal(limits_set(&l, "heap dma-heap/linux,cma max-bytes", 3, &why), 0);
	memcpy(&copy, &l, sizeof(copy));
	limits_foreach(&l, set_again, &copy);
	assert_int_equal(copy.rule_count, 3);
}

static void test_parse_bytes(void **state)
{
	static const struct {
		const char *text;
		int r;
		uint64_t bytes;
	} cases[] = {
		{ "0", 0, 0 },
		{ "4096", 0, 4096 },
		{ "1K", 0, 1024 },
		{ "3M", 0, 3ull << 20 },
		{ "2G", 0, 2ull << 30 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "17179869183G", 0, 17179869183ull << 30 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "17179869184G", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "K", -EINVAL, 0 },
		{ "1T", -EINVAL, 0 },
		{ "1k", -EINVAL, 0 },
		{ "1KB", -EINVAL, 0 },
		{ "1 M", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "+5", -EINVAL, 0 },
		{ " 5", -EINVAL, 0 },
		{ "\t5", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t bytes = 7;
		int r = args_parse_bytes(cases[i].text, &bytes);

		if (r != cases[i].r)
			fail_msg("'%s': %d, not %d", cases[i].text, r, cases[i].r);
		assert_int_equal(bytes, r == 0 ? cases[i].bytes : 7);
	}
}

/* Parses the arguments after "iobufd"; what it printed in said. */
static int parse(struct daemon_config *config, char *said, size_t size, ...)
{
	char *argv[8] = { "iobufd" };
	struct captured captured;
	int argc = 1, r;
	va_list ap;

	va_start(ap, size);
	while ((argv[argc] = va_arg(ap, char *)))
		assert_true(++argc < 8);
	va_end(ap);
	optind = 0; /* getopt starts over */
	capture_start(&captured);
	r = args_parse(argc, argv, config);
	snprintf(said, size, "%s", capture_end(&captured));
	return r;
}

static void test_command_line_refusals(void **state)
{
	struct daemon_config config;
	char said[4096];

	assert_int_equal(parse(&config, said, sizeof(said), "--max-client-buffers=0", NULL),
			 -ERANGE);
	assert_string_equal(said, "iobufd: invalid --max-client-buffers '0': expected a number "
				  "from 1 to 4294967295\n");
	assert_int_equal(parse(&config, said, sizeof(said), "--max-uid-clients=65537", NULL),
			 -ERANGE);
	assert_string_equal(said, "iobufd: invalid --max-uid-clients '65537': expected a number "
				  "from 1 to 65536\n");
	assert_int_equal(parse(&config, said, sizeof(said), "--max-buffer-size", "12Q", NULL),
			 -EINVAL);
	assert_string_equal(said, "iobufd: invalid --max-buffer-size '12Q': expected a number "
				  "from 1 to 18446744073709551615\n");
	assert_int_equal(parse(&config, said, sizeof(said), "--max-clients=0", NULL), -ERANGE);
	assert_string_equal(said, "iobufd: invalid --max-clients '0': expected a number from 1 "
				  "to 65536\n");
	assert_int_equal(parse(&config, said, sizeof(said), "--memory-pressure=some 5", NULL),
			 -EINVAL);
	assert_string_equal(said, "iobufd: invalid --memory-pressure 'some 5': not a trigger; "
				  PRESSURE_FORMS "\n");
	assert_int_equal(parse(&config, said, sizeof(said), "--no-dbus", "extra", NULL), -EINVAL);
	assert_string_equal(said, "iobufd: unexpected argument 'extra'\n");
	assert_int_equal(parse(&config, said, sizeof(said), "--max-frobs=1", NULL), -EINVAL);
	assert_non_null(strstr(said, "unrecognized option '--max-frobs=1'"));
	assert_non_null(strstr(said, "Usage: iobufd [OPTIONS]"));
}

static void test_command_line_overrides(void **state)
{
	struct daemon_config config;
	char said[256];

	assert_int_equal(parse(&config, said, sizeof(said), "--max-buffer-size=1M",
			       "--max-uid-buffers=10", "--max-buffer-size=2M", "-c", "/tmp/x.conf",
			       "--heaps=memfd", NULL), 1);
	assert_string_equal(said, "");
	assert_int_equal(config.override_count, 2);
	assert_string_equal(config.overrides[0].name, "max-buffer-size");
	assert_int_equal(config.overrides[0].value, 2ull << 20);
	assert_string_equal(config.overrides[1].name, "max-uid-buffers");
	assert_int_equal(config.overrides[1].value, 10);
	assert_string_equal(config.config_path, "/tmp/x.conf");
	assert_true(config.config_required);
	assert_string_equal(config.heaps.select, "memfd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_setting_applies),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_bad_scopes),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_bad_daemon_settings),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_first_problem_told),
		cmocka_unit_test(test_nothing_half_applied),
		cmocka_unit_test(test_too_many_rules),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_limits_set_refusals),
		cmocka_unit_test(test_rule_table_full),
		cmocka_unit_test(test_listed_names_are_accepted),
		cmocka_unit_test(test_parse_bytes),
		cmocka_unit_test(test_command_line_refusals),
		cmocka_unit_test(test_command_line_overrides),
	};

	/* Log lines as on a terminal, "iobufd: ...", not with journal priorities. */
	unsetenv("JOURNAL_STREAM");
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
