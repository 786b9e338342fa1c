/* SPDX-License-Identifier: MIT */
/*
 * Every kind of limit, from a config file, hit at its boundary: the last
 * byte or buffer that fits is granted, the next is refused with a message
 * naming the limit, its value and the use it met, and nothing changes.
 * The volatile budget purges the oldest volatile buffers. SIGHUP reloads
 * the file for new requests only.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define KIB 1024

struct fixture {
	struct test_daemon daemon;
	char config[128];
};

/* Starts iobufd on a config file that says text (a printf format). */
static struct fixture *start(const char *fmt, ...)
{
	static struct fixture f;
	char arg[160], text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(f.config, sizeof(f.config), "/tmp/iobufd-limits.%d.conf", (int)getpid());
	write_config(f.config, text);
	snprintf(arg, sizeof(arg), "--config=%s", f.config);
	test_daemon_start(&f.daemon, (const char *[]){ arg, NULL });
	return &f;
}

static void stop(struct fixture *f)
{
	test_daemon_stop(&f->daemon);
	unlink(f->config);
}

static struct iobuf *alloc(struct iobuf_task *task, size_t size)
{
	return iobuf_in_task_with_options(task, IOBUF_PAGEABLE, size, 0);
}

static struct iobuf_task *connect_task(const struct fixture *f)
{
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);

	assert_non_null(task);
	return task;
}

static void assert_same_usage(const struct iobuf_usage *before, const struct iobuf_usage *after)
{
	assert_int_equal(after->buffers, before->buffers);
	assert_int_equal(after->bytes, before->bytes);
	assert_int_equal(after->total_buffers, before->total_buffers);
	assert_int_equal(after->total_bytes, before->total_bytes);
}

/* call is refused with err and message, and the figures are as they were before it. */
#define refused_unchanged(task, call, err, message)                       \
	do {                                                              \
		struct iobuf_usage before_ = usage_of(task), after_;       \
		struct iobuf *result_ = (call);                            \
		assert_refused(result_, err, message);                     \
		after_ = usage_of(task);                                   \
		assert_same_usage(&before_, &after_);                      \
	} while (0)

static void test_per_client(void **state)
{
	struct fixture *f = start("[limits]\nmax-client-bytes = 64K\nmax-client-buffers = 3\n");
	struct iobuf_task *task = connect_task(f);
	struct iobuf *a = alloc(task, 32 * KIB), *b = alloc(task, 28 * KIB), *c;

	assert_non_null(a);
	assert_non_null(b);
	refused_unchanged(task, alloc(task, 8 * KIB), EDQUOT,
			  "per-client byte limit 65536 exceeded: 61440 bytes in use, "
			  "8192 requested");
	c = alloc(task, 4 * KIB); /* the last bytes that fit */
	assert_non_null(c);
	iobuf_release(b);
	b = alloc(task, 4 * KIB);
	assert_non_null(b);
	refused_unchanged(task, alloc(task, 4 * KIB), EDQUOT,
			  "per-client buffer limit 3 reached: 3 buffers in use");
	iobuf_release(a);
	iobuf_release(b);
	iobuf_release(c);
	iobuf_task_unref(task);
	stop(f);
}

/* A uid's clients count together, under its rule or the default per-uid limit. */
static void test_per_uid(void **state)
{
	struct fixture *f = start("[limits]\nmax-uid-buffers = 3\n[uid %u]\nmax-bytes = 16K\n",
				  (unsigned)getuid());
	struct iobuf_task *one = connect_task(f), *two = connect_task(f);
	struct iobuf *a = alloc(one, 8 * KIB), *b = alloc(two, 4 * KIB), *c;
	char message[128];

	assert_non_null(a);
	assert_non_null(b);
	snprintf(message, sizeof(message),
		 "uid %u byte limit 16384 exceeded: 12288 bytes in use, 8192 requested",
		 (unsigned)getuid());
	refused_unchanged(two, alloc(two, 8 * KIB), EDQUOT, message);
	c = alloc(two, 4 * KIB);
	assert_non_null(c);
	iobuf_release(a);
	iobuf_release(b);
	iobuf_release(c);
	iobuf_task_unref(one);
	iobuf_task_unref(two);
	stop(f);

	f = start("[limits]\nmax-uid-buffers = 2\n");
	one = connect_task(f);
	two = connect_task(f);
	a = alloc(one, 4 * KIB);
	b = alloc(two, 4 * KIB);
	assert_non_null(a);
	assert_non_null(b);
	snprintf(message, sizeof(message), "uid %u buffer limit 2 reached: 2 buffers in use",
		 (unsigned)getuid());
	refused_unchanged(one, alloc(one, 4 * KIB), EDQUOT, message);
	iobuf_release(a);
	iobuf_release(b);
	iobuf_task_unref(one);
	iobuf_task_unref(two);
	stop(f);
}

/* A cgroup rule covers the clients in matching cgroups, together, and only those. */
static void test_per_cgroup(void **state)
{
	const char *cgroup = own_cgroup();
	struct fixture *f = start("[cgroup %s*]\nmax-bytes = 8K\n", cgroup);
	struct iobuf_task *one = connect_task(f), *two = connect_task(f);
	struct iobuf *a = alloc(one, 4 * KIB), *b = alloc(two, 4 * KIB), *c;
	char message[700];

	assert_non_null(a);
	assert_non_null(b);
	if (cgroup[0]) {
		snprintf(message, sizeof(message),
			 "cgroup %s* byte limit 8192 exceeded: 8192 bytes in use, 4096 requested",
			 cgroup);
		refused_unchanged(one, alloc(one, 4 * KIB), EDQUOT, message);
	} else {
		c = alloc(one, 4 * KIB); /* no cgroup v2 here: no cgroup rule applies */
		assert_non_null(c);
		iobuf_release(c);
	}
	iobuf_release(a);
	iobuf_release(b);
	iobuf_task_unref(one);
	iobuf_task_unref(two);
	stop(f);
}

/* A unit rule covers the clients in a matching unit, and only those. */
static void test_per_unit(void **state)
{
	struct fixture *f = start("[unit *]\nmax-buffers = 1\n");
	struct iobuf_task *task = connect_task(f);
	struct iobuf *a = alloc(task, 4 * KIB), *b = alloc(task, 4 * KIB);

	assert_non_null(a);
	if (own_unit()[0]) {
		assert_refused(b, EDQUOT, "unit * buffer limit 1 reached: 1 buffers in use");
	} else {
		assert_non_null(b); /* outside any unit, no unit rule applies */
		iobuf_release(b);
	}
	iobuf_release(a);
	iobuf_task_unref(task);
	stop(f);
}

/* Where cgroup v2 is mounted, from /proc/self/mounts; false when it is not. */
static bool cgroup2_mount(char *mount, size_t size)
{
	char line[512], dir[256], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %255s %63s", dir, type) == 2 &&
			strcmp(type, "cgroup2") == 0;
	fclose(f);
	if (found)
		snprintf(mount, size, "%s", dir);
	return found;
}

/* A user's service, as a user manager lays it out under cgroup v2. */
static const char *const user_service[] = {
	"user.slice", "user-4242.slice", "user@4242.service", "app.slice", "iobuf-test.service",
};
#define USER_SERVICE_DEPTH (sizeof(user_service) / sizeof(user_service[0]))

/* The cgroup's directory, made under mount; how many levels this made. */
static size_t make_user_service(const char *mount, char *dir, size_t size)
{
	size_t made = 0;

	snprintf(dir, size, "%s", mount);
	for (size_t i = 0; i < USER_SERVICE_DEPTH; i++) {
		size_t len = strlen(dir);

		snprintf(dir + len, size - len, "/%s", user_service[i]);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return 0;
		made = i + 1;
	}
	return made;
}

static void remove_user_service(const char *mount)
{
	char dir[1024];

	for (size_t depth = USER_SERVICE_DEPTH; depth > 0; depth--) {
		snprintf(dir, sizeof(dir), "%s", mount);
		for (size_t i = 0; i < depth; i++)
			snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", user_service[i]);
		rmdir(dir);
	}
}

/*
 * A client in a child that moves itself into the user service's cgroup:
 * its second buffer is refused under the [unit iobuf-test.service] rule.
 */
static void user_service_client(const struct fixture *f, const char *dir)
{
	char procs[1100];
	struct iobuf_task *task;
	struct iobuf *first;
	FILE *p;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	p = fopen(procs, "we");
	if (!p || fprintf(p, "0\n") < 0 || fclose(p) != 0)
		_exit(3);
	task = iobuf_task_connect(f->daemon.socket);
	first = task ? alloc(task, 4 * KIB) : NULL;
	if (!first)
		_exit(4);
	if (alloc(task, 4 * KIB) || errno != EDQUOT ||
	    !strstr(iobuf_last_error(), "unit iobuf-test.service buffer limit 1 reached"))
		_exit(5);
	iobuf_release(first);
	iobuf_task_unref(task);
	_exit(0);
}

/*
 * A process of a user's service is charged to that service, not to the
 * user manager (user@4242.service): a rule for the service covers it.
 */
static void test_user_unit(void **state)
{
	struct fixture *f;
	char mount[256] = "", dir[1024];
	int status;
	pid_t child;

	if (getuid() != 0 || !cgroup2_mount(mount, sizeof(mount)) ||
	    make_user_service(mount, dir, sizeof(dir)) != USER_SERVICE_DEPTH) {
		if (mount[0])
			remove_user_service(mount);
		print_message("[          ] cannot make a user service's cgroup here\n");
		skip();
	}
	f = start("[unit iobuf-test.service]\nmax-buffers = 1\n");
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		user_service_client(f, dir);
	assert_int_equal(waitpid(child, &status, 0), child);
	remove_user_service(mount);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	stop(f);
}

static void test_per_heap(void **state)
{
	struct fixture *f = start("[heap memfd]\nmax-buffers = 2\nmax-bytes = 1M\n");
	struct iobuf_task *one = connect_task(f), *two = connect_task(f);
	struct iobuf *a = alloc(one, 4 * KIB), *b;

	assert_non_null(a);
	refused_unchanged(two, alloc(two, 1024 * KIB), EDQUOT,
			  "heap memfd byte limit 1048576 exceeded: 4096 bytes in use, "
			  "1048576 requested");
	b = alloc(two, 1020 * KIB); /* the last bytes that fit */
	assert_non_null(b);
	refused_unchanged(one, alloc(one, 4 * KIB), EDQUOT,
			  "heap memfd buffer limit 2 reached: 2 buffers in use");
	iobuf_release(a);
	iobuf_release(b);
	iobuf_task_unref(one);
	iobuf_task_unref(two);
	stop(f);
}

/* Over every client the answer is ENOMEM: it is the machine's, not the caller's. */
static void test_total(void **state)
{
	struct fixture *f = start("[limits]\nmax-total-bytes = 16K\nmax-total-buffers = 3\n");
	struct iobuf_task *one = connect_task(f), *two = connect_task(f);
	struct iobuf *a = alloc(one, 8 * KIB), *b, *c;

	assert_non_null(a);
	refused_unchanged(two, alloc(two, 12 * KIB), ENOMEM,
			  "total byte limit 16384 exceeded: 8192 bytes in use, 12288 requested");
	b = alloc(two, 4 * KIB);
	c = alloc(two, 4 * KIB); /* the last bytes that fit */
	assert_non_null(b);
	assert_non_null(c);
	refused_unchanged(one, alloc(one, 1), ENOMEM,
			  "total buffer limit 3 reached: 3 buffers in use");
	iobuf_release(a);
	iobuf_release(b);
	iobuf_release(c);
	iobuf_task_unref(one);
	iobuf_task_unref(two);
	stop(f);
}

static void test_allocation_rate(void **state)
{
	struct fixture *f = start("[limits]\nmax-client-allocations-per-second = 5\n");
	struct iobuf_task *task = connect_task(f), *other = connect_task(f);
	struct iobuf *buf;
	int granted = 0;

	/* Five in one second; unless this second ended early, the sixth waits. */
	for (int i = 0; i < 6; i++) {
		buf = alloc(task, 4 * KIB);
		if (!buf) {
			assert_refused(buf, EAGAIN, "allocation rate limit 5 per second reached");
			break;
		}
		granted++;
		iobuf_release(buf);
	}
	assert_true(granted >= 5);
	buf = alloc(other, 4 * KIB); /* the rate is each client's own */
	assert_non_null(buf);
	iobuf_release(buf);
	usleep(1100 * 1000);
	buf = alloc(task, 4 * KIB);
	assert_non_null(buf);
	iobuf_release(buf);
	iobuf_task_unref(task);
	iobuf_task_unref(other);
	stop(f);
}

/*
 * Past the volatile budget the buffers made volatile longest ago are
 * purged: they read as zero and report EMPTY; newer volatile buffers and
 * non-volatile ones keep their contents.
 */
static void test_volatile_budget(void **state)
{
	struct fixture *f = start("[limits]\nmax-volatile-bytes = 8K\n");
	struct iobuf_task *task = connect_task(f);
	struct iobuf *a = purgeable_filled(task, 4 * KIB, 0xa);
	struct iobuf *b = purgeable_filled(task, 4 * KIB, 0xb);
	struct iobuf *c = purgeable_filled(task, 4 * KIB, 0xc);
	struct iobuf *kept = purgeable_filled(task, 4 * KIB, 0xd);

	set_state(b, IOBUF_PURGEABLE_VOLATILE);
	set_state(a, IOBUF_PURGEABLE_VOLATILE);
	/* b again: making it volatile anew makes it the newest. */
	set_state(b, IOBUF_PURGEABLE_NON_VOLATILE);
	set_state(b, IOBUF_PURGEABLE_VOLATILE);
	assert_true(holds(a, 0xa) && holds(b, 0xb));
	set_state(c, IOBUF_PURGEABLE_VOLATILE); /* 12K volatile: a goes */

	assert_int_equal(set_state(a, IOBUF_PURGEABLE_NON_VOLATILE), IOBUF_PURGEABLE_EMPTY);
	assert_true(holds(a, 0));
	assert_int_equal(set_state(b, IOBUF_PURGEABLE_NON_VOLATILE), IOBUF_PURGEABLE_VOLATILE);
	assert_true(holds(b, 0xb));
	assert_int_equal(set_state(c, IOBUF_PURGEABLE_KEEP_CURRENT), IOBUF_PURGEABLE_VOLATILE);
	assert_true(holds(c, 0xc));
	assert_int_equal(set_state(kept, IOBUF_PURGEABLE_KEEP_CURRENT),
			 IOBUF_PURGEABLE_NON_VOLATILE);
	assert_true(holds(kept, 0xd));
	/* An emptied buffer is the owner's to fill again. */
	memset(iobuf_get_bytes_no_copy(a), 0xe, 4 * KIB);
	assert_true(holds(a, 0xe));

	iobuf_release(a);
	iobuf_release(b);
	iobuf_release(c);
	iobuf_release(kept);
	iobuf_task_unref(task);
	stop(f);
}

/* Waits until the daemon refuses 4 KiB more for task with message. */
static void wait_refusal(struct iobuf_task *task, const char *message)
{
	for (int tries = 0; tries < 200; tries++) {
		struct iobuf *buf = alloc(task, 4 * KIB);

		if (!buf && strstr(iobuf_last_error(), message))
			return;
		if (buf)
			iobuf_release(buf);
		usleep(10000);
	}
	fail_msg("the daemon never said \"%s\"", message);
}

static void test_sighup_reload(void **state)
{
	struct fixture *f = start("[limits]\nmax-client-bytes = 64K\n");
	struct iobuf_task *task = connect_task(f);
	struct iobuf *big = alloc(task, 48 * KIB), *small;

	assert_non_null(big);
	write_config(f->config, "[limits]\nmax-client-bytes = 32K\n");
	assert_int_equal(kill(f->daemon.pid, SIGHUP), 0);
	wait_refusal(task, "per-client byte limit 32768 exceeded: 49152 bytes in use");
	/* Lowered below what the task holds: it keeps it all, and may use it. */
	assert_int_equal(usage_of(task).bytes, 48 * KIB);
	memset(iobuf_get_bytes_no_copy(big), 1, 48 * KIB);

	/* A file that does not parse changes nothing. */
	write_config(f->config, "[limits]\nmax-client-bytes = lots\n");
	assert_int_equal(kill(f->daemon.pid, SIGHUP), 0);
	usleep(200 * 1000);
	assert_true(test_daemon_alive(&f->daemon));
	assert_refused(alloc(task, 4 * KIB), EDQUOT, "per-client byte limit 32768");

	write_config(f->config, "[limits]\nmax-client-bytes = 64K\n");
	assert_int_equal(kill(f->daemon.pid, SIGHUP), 0);
	for (int tries = 0; !(small = alloc(task, 4 * KIB)) && tries < 200; tries++)
		usleep(10000);
	assert_non_null(small);
	iobuf_release(small);
	iobuf_release(big);
	iobuf_task_unref(task);
	stop(f);
}

/* A bad file stops the start with the line and what is wrong with it. */
static void test_bad_files(void **state)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "[limits]\nmax-client-bytes = 1M\nmax-everything = 1\n",
		  ":3: unknown limit 'max-everything'" },
		{ "[limits]\nmax-client-bytes = -1\n", ":2: max-client-bytes: '-1' is not a number" },
		{ "[limits]\nmax-client-bytes = 0\n", ":2: limit max-client-bytes must not be 0" },
		{ "[uid alice]\nmax-bytes = 1M\n", ":2: 'alice' is not a uid" },
		{ "[daemon]\nmax-clients = 0\n", ":2: max-clients must be 1 to 65536, not '0'" },
		{ "[daemon]\ncolour = blue\n", ":2: unknown key 'colour' in [daemon]" },
		{ "max-client-bytes = 1M\n", ":1: 'max-client-bytes' outside any section" },
		{ "[limits\n", ":1: not INI syntax" },
	};
	char out[2048];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_config_refused(cases[i].text, cases[i].error);
	assert_int_equal(run_iobufd((const char *[]){ "--config=/nonexistent/iobufd.conf",
						      "--no-dbus", NULL }, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "cannot read /nonexistent/iobufd.conf"));
}

/* The command line wins over the file, at start and at a reload. */
static void test_command_line_wins(void **state)
{
	char arg[160], path[64];
	struct test_daemon d;
	struct iobuf_task *task;
	struct iobuf *a;

	snprintf(path, sizeof(path), "/tmp/iobufd-wins.%d.conf", (int)getpid());
	write_config(path, "[limits]\nmax-client-bytes = 1M\n");
	snprintf(arg, sizeof(arg), "--config=%s", path);
	test_daemon_start(&d, (const char *[]){ arg, "--max-client-bytes=8K", NULL });
	task = iobuf_task_connect(d.socket);
	a = alloc(task, 8 * KIB);
	assert_non_null(a);
	assert_refused(alloc(task, 4 * KIB), EDQUOT, "per-client byte limit 8192");
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	usleep(200 * 1000);
	assert_refused(alloc(task, 4 * KIB), EDQUOT, "per-client byte limit 8192");
	iobuf_release(a);
	iobuf_task_unref(task);
	test_daemon_stop(&d);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_client),
		cmocka_unit_test(test_per_uid),
		cmocka_unit_test(test_per_cgroup),
		cmocka_unit_test(test_per_unit),
		cmocka_unit_test(test_user_unit),
		cmocka_unit_test(test_per_heap),
		cmocka_unit_test(test_total),
		cmocka_unit_test(test_allocation_rate),
		cmocka_unit_test(test_volatile_budget),
		cmocka_unit_test(test_sighup_reload),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_command_line_wins),
	};

	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
