/* SPDX-License-Identifier: MIT */
/*
 * org.iobufd.Allocator1 on a private dbus-daemon, called through sd-bus
 * and through the tools admins use: busctl and gdbus.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-fixture.h"
#include "harness.h"
#include "iobuf/iobuf.h"

static uint64_t property_t(sd_bus *bus, const char *property)
{
	uint64_t value = 0;

	assert_int_equal(sd_bus_get_property_trivial(bus, NAME, PATH, NAME, property, NULL, 't',
						     &value), 0);
	return value;
}

static uint32_t clients(sd_bus *bus)
{
	uint32_t value = 0;

	assert_int_equal(sd_bus_get_property_trivial(bus, NAME, PATH, NAME, "Clients", NULL, 'u',
						     &value), 0);
	return value;
}

static void test_allocate_gives_a_usable_fd(void **state)
{
	struct bus_fixture *f = *state;
	sd_bus_message *reply = NULL;
	const char *heap;
	uint64_t id, size;
	uint32_t granted;
	char link[64], target[128], expected[64];
	ssize_t n;
	char *p;
	int fd;

	assert_int_equal(sd_bus_call_method(f->bus, NAME, PATH, NAME, "Allocate", NULL, &reply,
					    "ttu", (uint64_t)10000, (uint64_t)4096,
					    (uint32_t)IOBUF_DIRECTION_OUT), 1);
	assert_int_equal(sd_bus_message_read(reply, "httus", &fd, &id, &size, &granted, &heap), 1);
	assert_true(id > 0);
	assert_int_equal(size, 12288);
	assert_int_equal(granted, IOBUF_DIRECTION_OUT | IOBUF_CACHE_COPYBACK);
	assert_string_equal(heap, "memfd");

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	snprintf(expected, sizeof(expected), "/memfd:iobuf:%" PRIu64 " ", id);
	assert_memory_equal(target, expected, strlen(expected));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(p[size - 1], 0);
	memcpy(p, "over d-bus", 11);
	munmap(p, size);

	assert_int_equal(clients(f->bus), 1);
	assert_int_equal(property_t(f->bus, "Buffers"), 1);
	assert_int_equal(property_t(f->bus, "Bytes"), 12288);
	sd_bus_message_unref(reply);

	assert_int_equal(sd_bus_call_method(f->bus, NAME, PATH, NAME, "Free", NULL, NULL, "t", id),
			 1);
	assert_int_equal(property_t(f->bus, "Buffers"), 0);
}

static void expect_error(sd_bus *bus, const char *method, const char *name, const char *message,
			 const char *types, ...)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *call = NULL;
	va_list ap;

	assert_int_equal(sd_bus_message_new_method_call(bus, &call, NAME, PATH, NAME, method), 0);
	va_start(ap, types);
	assert_true(sd_bus_message_appendv(call, types, ap) >= 0);
	va_end(ap);
	assert_true(sd_bus_call(bus, call, 0, &error, NULL) < 0);
	assert_string_equal(error.name, name);
	if (!strstr(error.message, message))
		fail_msg("message \"%s\" lacks \"%s\"", error.message, message);
	sd_bus_error_free(&error);
	sd_bus_message_unref(call);
}

static void test_refusals_carry_the_reason(void **state)
{
	struct bus_fixture *f = *state;

	expect_error(f->bus, "Allocate", SD_BUS_ERROR_INVALID_ARGS, "capacity must not be 0", "ttu",
		     (uint64_t)0, (uint64_t)0, (uint32_t)0);
	expect_error(f->bus, "Allocate", SD_BUS_ERROR_INVALID_ARGS,
		     "alignment 3 is not a power of two", "ttu", (uint64_t)4096, (uint64_t)3,
		     (uint32_t)0);
	expect_error(f->bus, "Allocate", SD_BUS_ERROR_NOT_SUPPORTED,
		     "no heap can serve the request: memfd lacks PHYSICALLY_CONTIGUOUS", "ttu",
		     (uint64_t)4096, (uint64_t)0, (uint32_t)IOBUF_PHYSICALLY_CONTIGUOUS);
	expect_error(f->bus, "Free", SD_BUS_ERROR_FILE_NOT_FOUND, "no buffer 999 in this task", "t",
		     (uint64_t)999);
	assert_int_equal(property_t(f->bus, "Buffers"), 0);
}

static void test_query_and_purgeable(void **state)
{
	struct bus_fixture *f = *state;
	sd_bus_message *reply = NULL;
	const char *heap;
	uint64_t size, id;
	uint32_t granted, old;
	int fd;

	assert_int_equal(sd_bus_call_method(f->bus, NAME, PATH, NAME, "Query", NULL, &reply, "ttu",
					    (uint64_t)1, (uint64_t)0, (uint32_t)IOBUF_PAGEABLE), 1);
	assert_int_equal(sd_bus_message_read(reply, "tus", &size, &granted, &heap), 1);
	assert_int_equal(size, 4096);
	assert_string_equal(heap, "memfd");
	reply = sd_bus_message_unref(reply);

	assert_int_equal(sd_bus_call_method(f->bus, NAME, PATH, NAME, "Allocate", NULL, &reply,
					    "ttu", (uint64_t)4096, (uint64_t)0,
					    (uint32_t)(IOBUF_PAGEABLE | IOBUF_PURGEABLE)), 1);
	assert_int_equal(sd_bus_message_read(reply, "httus", &fd, &id, &size, &granted, &heap), 1);
	reply = sd_bus_message_unref(reply);
	assert_int_equal(sd_bus_call_method(f->bus, NAME, PATH, NAME, "SetPurgeable", NULL, &reply,
					    "tu", id, (uint32_t)IOBUF_PURGEABLE_VOLATILE), 1);
	assert_int_equal(sd_bus_message_read(reply, "u", &old), 1);
	assert_int_equal(old, IOBUF_PURGEABLE_NON_VOLATILE);
	sd_bus_message_unref(reply);
	assert_int_equal(sd_bus_call_method(f->bus, NAME, PATH, NAME, "Free", NULL, NULL, "t", id),
			 1);
}

static void test_caller_leaving_releases(void **state)
{
	struct bus_fixture *f = *state;
	sd_bus *other = connect_bus(f->address);

	for (int i = 0; i < 3; i++)
		assert_int_equal(sd_bus_call_method(other, NAME, PATH, NAME, "Allocate", NULL, NULL,
						    "ttu", (uint64_t)65536, (uint64_t)0,
						    (uint32_t)0), 1);
	assert_int_equal(property_t(f->bus, "Buffers"), 3);
	sd_bus_flush_close_unref(other);
	for (int tries = 0; tries < 500 && property_t(f->bus, "Buffers") != 0; tries++)
		usleep(10000);
	assert_int_equal(property_t(f->bus, "Buffers"), 0);
	assert_int_equal(property_t(f->bus, "Bytes"), 0);
}

/*
 * Runs a shell command line, which must succeed or (should_fail) fail, and
 * returns what it printed (a static buffer).
 */
static const char *run_expecting(bool should_fail, const char *fmt, va_list ap)
{
	static char out[16384];
	char cmd[1024];
	size_t used;
	FILE *p;

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	used = fread(out, 1, sizeof(out) - 1, p);
	out[used] = '\0';
	if ((pclose(p) != 0) != should_fail)
		fail_msg("`%s` %s:\n%s", cmd, should_fail ? "succeeded" : "failed", out);
	return out;
}

static const char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *run(const char *fmt, ...)
{
	const char *out;
	va_list ap;

	va_start(ap, fmt);
	out = run_expecting(false, fmt, ap);
	va_end(ap);
	return out;
}

static const char *run_failing(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *run_failing(const char *fmt, ...)
{
	const char *out;
	va_list ap;

	va_start(ap, fmt);
	out = run_expecting(true, fmt, ap);
	va_end(ap);
	return out;
}

static void assert_has(const char *text, const char *part)
{
	if (!strstr(text, part)) {
		fprintf(stderr, "output lacks \"%s\":\n", part);
		fputs(text, stderr);
		fail();
	}
}

static void test_busctl(void **state)
{
	struct bus_fixture *f = *state;
	const char *out;

	out = run("busctl --address='%s' introspect " NAME " " PATH, f->address);
	assert_has(out, ".Allocate");
	assert_has(out, "ttu");
	assert_has(out, "httus");
	assert_has(out, ".Heaps");
	out = run("busctl --address='%s' get-property " NAME " " PATH " " NAME " Version",
		  f->address);
	assert_has(out, "s \"");
	out = run("busctl --address='%s' get-property " NAME " " PATH " " NAME " Heaps",
		  f->address);
	assert_has(out, "a(sstt) 1 \"memfd\" \"CACHE_COPYBACK wired pageable purgeable mappable\"");
	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " Allocate ttu 8192 0 0",
		  f->address);
	assert_has(out, "httus ");
	assert_has(out, " 8192 768 \"memfd\"");
	out = run("busctl --address='%s' tree " NAME, f->address);
	assert_has(out, PATH);
}

static void test_gdbus(void **state)
{
	struct bus_fixture *f = *state;
	const char *out;

	out = run("gdbus introspect --address '%s' --dest " NAME " --object-path " PATH,
		  f->address);
	assert_has(out, "interface " NAME);
	assert_has(out, "Allocate(in  t capacity,");
	assert_has(out, "out h fd,");
	assert_has(out, "readonly s Version");
	out = run("gdbus call --address '%s' --dest " NAME " --object-path " PATH
		  " --method " NAME ".Query 4096 0 8",
		  f->address);
	assert_has(out, "(uint64 4096, uint32 776, 'memfd')");
}

static void test_objects_per_client_and_buffer(void **state)
{
	struct bus_fixture *f = *state;
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf *buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE, 20000, 0);
	char path[96], expected[96];
	const char *out;

	assert_non_null(buf);
	out = run("busctl --address='%s' tree " NAME, f->address);
	snprintf(path, sizeof(path), IOBUF_BUS_BUFFERS_PATH "/%" PRIu64, iobuf_get_id(buf));
	assert_has(out, path);
	assert_has(out, IOBUF_BUS_CLIENTS_PATH "/");
	out = run("busctl --address='%s' get-property " NAME " %s " BUFFER1 " Size Heap "
		  "Options", f->address, path);
	assert_has(out, "t 20480\ns \"memfd\"\nu 776");
	out = run("busctl --address='%s' get-property " NAME " " IOBUF_BUS_CLIENTS_PATH "/$(busctl "
		  "--address='%s' get-property " NAME " %s " BUFFER1 " Owner | cut -d' ' -f2) "
		  CLIENT1 " Comm Transport Buffers",
		  f->address, f->address, path);
	snprintf(expected, sizeof(expected), "s \"%s\"\ns \"socket\"\nt 1", own_comm());
	assert_has(out, expected);
	iobuf_release(buf);
	iobuf_task_unref(task);
}

/* AllocateEx names the heap and the label; the buffer's object shows them and its birth. */
static void test_allocate_ex_labels(void **state)
{
	struct bus_fixture *f = *state;
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf *buf;
	unsigned long long created;
	struct timespec now;
	char path[96];
	const char *out;

	out = run("busctl --address='%s' call " NAME " " PATH " " NAME
		  " AllocateEx ttuss 4096 0 8 memfd 'frames é'", f->address);
	assert_has(out, "httus ");
	assert_has(out, " 4096 776 \"memfd\"");
	expect_error(f->bus, "AllocateEx", SD_BUS_ERROR_INVALID_ARGS,
		     "the label holds a control character", "ttuss", (uint64_t)4096,
		     (uint64_t)0, (uint32_t)0, "", "a\tb");
	expect_error(f->bus, "AllocateEx", "System.Error.ENODEV",
		     "iobufd serves no heap named dma-heap/system", "ttuss", (uint64_t)4096,
		     (uint64_t)0, (uint32_t)0, "dma-heap/system", "");

	/* A socket client's label shows on its buffer's object too. */
	buf = iobuf_in_task_with_label(task, 0, 4096, 0, "decoder 0");
	assert_non_null(buf);
	snprintf(path, sizeof(path), IOBUF_BUS_BUFFERS_PATH "/%" PRIu64, iobuf_get_id(buf));
	out = run("busctl --address='%s' get-property " NAME " %s " BUFFER1 " Label", f->address,
		  path);
	assert_has(out, "s \"decoder 0\"");
	out = run("busctl --address='%s' get-property " NAME " %s " BUFFER1 " CreatedAt",
		  f->address, path);
	assert_int_equal(sscanf(out, "t %llu", &created), 1);
	clock_gettime(CLOCK_REALTIME, &now);
	assert_true(created <= (unsigned long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
	assert_true(created + 60ull * 1000000 > (unsigned long long)now.tv_sec * 1000000);
	iobuf_release(buf);
	iobuf_task_unref(task);
}

/* AllocateN: count buffers in one call, each fd its own memfd, all or none. */
static void test_allocate_n(void **state)
{
	struct bus_fixture *f = *state;
	const char *out;

	out = run("busctl --address='%s' call " NAME " " PATH " " NAME
		  " AllocateN ttuu 4096 0 8 3", f->address);
	/* busctl prints "ahattus", three fds, three ids, then the size, options and heap. */
	assert_has(out, "ahattus 3 ");
	assert_has(out, " 4096 776 \"memfd\"");
	expect_error(f->bus, "AllocateN", SD_BUS_ERROR_INVALID_ARGS, "a batch is 1 to 64 buffers",
		     "ttuu", (uint64_t)4096, (uint64_t)0, (uint32_t)0, (uint32_t)65);
	expect_error(f->bus, "AllocateN", SD_BUS_ERROR_NOT_SUPPORTED, "none of the 2 buffers",
		     "ttuu", (uint64_t)4096, (uint64_t)0, (uint32_t)IOBUF_PHYSICALLY_CONTIGUOUS,
		     (uint32_t)2);
}

/* A task's pool is visible to admins: its buffers are listed as pooled until taken. */
static void test_pool_is_visible(void **state)
{
	struct bus_fixture *f = *state;
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf *taken;
	const char *out;

	assert_non_null(task);
	assert_int_equal(iobuf_task_set_pool(task, IOBUF_PAGEABLE, 4096, 0, 4), 0);
	assert_int_equal(iobuf_task_flush(task), 0);
	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " ListBuffers u 0 | "
		  "grep -o 'pooled, not handed out yet' | wc -l", f->address);
	assert_has(out, "4");
	taken = iobuf_in_task_with_options(task, IOBUF_PAGEABLE, 4096, 0);
	assert_non_null(taken);
	assert_int_equal(iobuf_task_flush(task), 0);
	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " ListBuffers u 0 | "
		  "grep -o 'pooled, not handed out yet' | wc -l", f->address);
	assert_has(out, "3");
	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " ListBuffers u 0",
		  f->address);
	assert_has(out, "\"in use\"");
	iobuf_release(taken);
	iobuf_task_unref(task);
}

/* A rule set over D-Bus holds at once, and Limits lists it under its name. */
static void test_set_limit_rules(void **state)
{
	struct bus_fixture *f = *state;
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf *buf = iobuf_in_task_with_options(task, 0, 4096, 0);
	const char *out;

	assert_non_null(buf);
	run("busctl --address='%s' call " NAME " " PATH " " NAME
	    " SetLimit st 'heap memfd max-buffers' 1", f->address);
	out = run("busctl --address='%s' get-property " NAME " " PATH " " NAME " Limits",
		  f->address);
	assert_has(out, "\"heap memfd max-buffers\" 1 \"heap memfd max-bytes\" 0");
	assert_null(iobuf_in_task_with_options(task, 0, 4096, 0));
	assert_int_equal(errno, EDQUOT);
	assert_has(iobuf_last_error(), "heap memfd buffer limit 1 reached: 1 buffers in use");
	run("busctl --address='%s' call " NAME " " PATH " " NAME
	    " SetLimit st 'heap memfd max-buffers' 0", f->address);
	iobuf_release(buf);
	buf = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_non_null(buf);
	iobuf_release(buf);
	iobuf_task_unref(task);
}

/* A task may call itself anything; D-Bus still gets UTF-8 and no control characters. */
static void test_client_names_are_made_safe(void **state)
{
	struct bus_fixture *f = *state;
	struct iobuf_task *task;
	const char *out;
	char own[32];

	snprintf(own, sizeof(own), "%s", own_comm());
	assert_int_equal(prctl(PR_SET_NAME, "bad\xff\x01\xc3name\xe2\x82"), 0);
	task = iobuf_task_connect(f->daemon.socket);
	assert_int_equal(prctl(PR_SET_NAME, own), 0);
	assert_non_null(task);
	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " ListClients", f->address);
	assert_has(out, "\"bad???name??\"");
	iobuf_task_unref(task);
}

static void test_admin_methods(void **state)
{
	struct bus_fixture *f = *state;
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf *buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE | IOBUF_PURGEABLE,
						       4096, 0);
	enum iobuf_purgeable_state old;
	struct iobuf_usage usage;
	char expected[96];
	const char *out;
	char *p = iobuf_get_bytes_no_copy(buf);

	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " ListClients", f->address);
	assert_has(out, "a(uuussstt) ");
	snprintf(expected, sizeof(expected), "\"%s\" \"%s\" \"socket\" 1 4096", own_comm(),
		 own_unit());
	assert_has(out, expected);
	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " ListBuffers u 0",
		  f->address);
	assert_has(out, " 4096 \"memfd\" 792 ");

	/* A volatile buffer is emptied by an admin purge; its owner sees EMPTY and zeros. */
	memset(p, 0x11, 4096);
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_VOLATILE, NULL), 0);
	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " PurgeVolatile", f->address);
	assert_has(out, "t 4096");
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_NON_VOLATILE, &old), 0);
	assert_int_equal(old, IOBUF_PURGEABLE_EMPTY);
	assert_int_equal(p[0], 0);

	/* A limit changed at runtime applies to the next request. */
	run("busctl --address='%s' call " NAME " " PATH " " NAME " SetLimit st max-client-buffers 1",
	    f->address);
	out = run("busctl --address='%s' get-property " NAME " " PATH " " NAME " Limits",
		  f->address);
	assert_has(out, "\"max-client-buffers\" 1");
	assert_null(iobuf_in_task_with_options(task, 0, 4096, 0));
	assert_int_equal(errno, EDQUOT);
	run("busctl --address='%s' call " NAME " " PATH " " NAME
	    " SetLimit st max-client-buffers 4096", f->address);

	/*
	 * An admin frees a client's buffers; the client stays connected, and the
	 * buffer charged while the client still maps it.
	 */
	out = run("busctl --address='%s' call " NAME " " PATH " " NAME " FreeClientBuffers u "
		  "$(busctl --address='%s' call " NAME " " PATH " " NAME " ListClients | "
		  "grep -o '[0-9]* 0 [0-9]* \"%s\" \"%s\" \"socket\"' | cut -d' ' -f1)",
		  f->address, f->address, own_comm(), own_unit());
	assert_has(out, "t 1");
	assert_int_equal(iobuf_task_get_usage(task, &usage), 0);
	assert_int_equal(usage.buffers, 1);
	snprintf(expected, sizeof(expected), "no buffer %" PRIu64 " in this task",
		 iobuf_get_id(buf));
	iobuf_release(buf);
	/* Its release does not wait; the daemon's answer to the free is for the flush. */
	assert_int_equal(iobuf_task_flush(task), -ENOENT);
	assert_string_equal(iobuf_last_error(), expected);
	assert_int_equal(iobuf_task_flush(task), 0);
	for (int tries = 0; tries < 300 && property_t(f->bus, "Buffers"); tries++)
		usleep(10000);
	assert_int_equal(property_t(f->bus, "Buffers"), 0);
	iobuf_task_unref(task);
}

/* gdbus shows the daemon's message, where busctl prints only "Access denied". */
static void test_admin_methods_denied_to_others(void **state)
{
	struct bus_fixture *f = *state;
	static const char *const denied[] = {
		"ListClients", "ListBuffers 0", "SetLimit \"'max-buffer-size'\" 1",
		"PurgeVolatile", "FreeClientBuffers 1", "ListUsage \"'uid'\"",
	};
	char cmd[512], out[1024];
	size_t n;
	FILE *p;

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		snprintf(cmd, sizeof(cmd),
			 "setpriv --reuid=65534 --regid=65534 --clear-groups gdbus call "
			 "--address '%s' --dest " NAME " --object-path " PATH " --method " NAME
			 ".%s 2>&1",
			 f->address, denied[i]);
		p = popen(cmd, "r");
		assert_non_null(p);
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		assert_true(pclose(p) != 0);
		assert_has(out, "org.freedesktop.DBus.Error.AccessDenied");
		assert_has(out, "is for root and members of iobufd-admin");
	}
	/* What anyone may do still works for them. */
	run("setpriv --reuid=65534 --regid=65534 --clear-groups busctl --address='%s' call " NAME
	    " " PATH " " NAME " Query ttu 4096 0 0",
	    f->address);
	assert_int_equal(property_t(f->bus, "Buffers"), 0);
}

/* protocol/org.iobufd.Allocator1.xml is the contract: the daemon says the same. */
static void test_introspection_matches_the_contract(void **state)
{
	struct bus_fixture *f = *state;

	run("busctl --address='%s' introspect --xml-interface " NAME " " PATH
	    " | python3 '%s' compare '%s'",
	    f->address, getenv("IOBUF_XML_COMPARE"), getenv("IOBUF_XML_CONTRACT"));
}

/*
 * ListUsage, on a daemon of its own so that every client is known: two
 * socket clients and a bus client of root (one of them holding nothing), and
 * bus clients of daemon and nobody.
 */
#define NOBODY 65534
#define CHARGED_UID 4343 /* a task's only: dbus-daemon takes no uid without a passwd entry */

/* A second uid with a passwd entry, which dbus-daemon needs of a caller. */
static uid_t other_uid(void)
{
	const struct passwd *pw = getpwnam("daemon");

	assert_non_null(pw);
	return pw->pw_uid;
}

/* The write end's closing tells every holder to leave. */
static int release_pipe[2] = { -1, -1 };

/* In a child: becomes uid, tells the parent on ready, waits for the release. */
static void hold_in_child(int ready, uid_t uid, const char *address, uint64_t size)
{
	sd_bus *bus = NULL;
	char byte;

	close(release_pipe[1]);
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		_exit(10);
	if (address && (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address) < 0 ||
			sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0))
		_exit(11);
	if (bus && sd_bus_call_method(bus, NAME, PATH, NAME, "Allocate", NULL, NULL, "ttu", size,
				      (uint64_t)0, (uint32_t)0) < 0)
		_exit(12);
	if (write(ready, "", 1) != 1)
		_exit(13);
	while (read(release_pipe[0], &byte, 1) > 0)
		;
	sd_bus_flush_close_unref(bus);
	_exit(0);
}

/*
 * A child running as uid that, given a bus address, allocates size bytes
 * there; it holds them (or just runs) until release_holders().
 */
static pid_t hold_as(uid_t uid, const char *address, uint64_t size)
{
	int ready[2];
	char byte;
	pid_t pid;

	if (release_pipe[1] < 0)
		assert_int_equal(pipe(release_pipe), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		hold_in_child(ready[1], uid, address, size);
	}
	close(ready[1]);
	if (read(ready[0], &byte, 1) != 1) {
		int status = 0;

		waitpid(pid, &status, 0);
		fail_msg("the child running as uid %u failed: status 0x%x", (unsigned)uid, status);
	}
	close(ready[0]);
	return pid;
}

static void release_holders(const pid_t *pids, size_t n)
{
	int status;

	close(release_pipe[1]);
	close(release_pipe[0]);
	release_pipe[0] = release_pipe[1] = -1;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

/* ListUsage(by) as lines of "key clients buffers bytes", in the order given. */
static const char *list_usage(sd_bus *bus, const char *by)
{
	static char text[4096];
	sd_bus_message *reply = NULL;
	const char *key;
	uint32_t clients;
	uint64_t buffers, bytes;
	size_t used = 0;
	int r;

	assert_int_equal(sd_bus_call_method(bus, NAME, PATH, NAME, "ListUsage", NULL, &reply, "s",
					    by), 1);
	text[0] = '\0';
	assert_int_equal(sd_bus_message_enter_container(reply, 'a', "(sutt)"), 1);
	while ((r = sd_bus_message_read(reply, "(sutt)", &key, &clients, &buffers, &bytes)) > 0)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "\"%s\" %" PRIu32 " %" PRIu64 " %" PRIu64 "\n", key,
					 clients, buffers, bytes);
	assert_int_equal(r, 0);
	assert_true(used < sizeof(text));
	sd_bus_message_unref(reply);
	return text;
}

static void expect_usage(sd_bus *bus, const char *by, const char *expected)
{
	const char *got = list_usage(bus, by);

	if (strcmp(got, expected) != 0)
		fail_msg("ListUsage %s gave\n%sexpected\n%s", by, got, expected);
}

/* Each heap of the Heaps property has the buffers and bytes ListUsage by heap counts. */
static void expect_heaps_agree(sd_bus *bus, const char *usage)
{
	sd_bus_message *reply = NULL;
	const char *name, *caps, *row, *end;
	uint64_t buffers, bytes;
	char key[80], tail[64];
	size_t n = 0;

	assert_true(sd_bus_get_property(bus, NAME, PATH, NAME, "Heaps", NULL, &reply,
					"a(sstt)") >= 0);
	assert_int_equal(sd_bus_message_enter_container(reply, 'a', "(sstt)"), 1);
	while (sd_bus_message_read(reply, "(sstt)", &name, &caps, &buffers, &bytes) > 0) {
		snprintf(key, sizeof(key), "\"%s\" ", name);
		snprintf(tail, sizeof(tail), " %" PRIu64 " %" PRIu64, buffers, bytes);
		row = strstr(usage, key);
		end = row ? strchr(row, '\n') : NULL;
		if (!end || (size_t)(end - row) < strlen(tail) ||
		    memcmp(end - strlen(tail), tail, strlen(tail)) != 0)
			fail_msg("heap %s holds%s; ListUsage heap gave\n%s", name, tail, usage);
		n++;
	}
	sd_bus_message_unref(reply);
	for (const char *p = usage; *p; p = strchr(p, '\n') + 1)
		n--;
	assert_int_equal(n, 0);
}

static void test_list_usage_totals(void **state)
{
	struct bus_fixture *f = *state;
	struct iobuf_task *holder, *idle;
	struct iobuf *a, *b;
	pid_t pids[2];
	char expected[1200];
	const char *usage;

	assert_int_equal(clients(f->bus), 0);
	holder = iobuf_task_connect(f->daemon.socket);
	idle = iobuf_task_connect(f->daemon.socket);
	a = iobuf_in_task_with_options(holder, 0, 20000, 0);
	b = iobuf_in_task_with_options(holder, IOBUF_PAGEABLE, 4096, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(sd_bus_call_method(f->bus, NAME, PATH, NAME, "Allocate", NULL, NULL,
					    "ttu", (uint64_t)8192, (uint64_t)0, (uint32_t)0), 1);
	pids[0] = hold_as(other_uid(), f->address, 65536);
	pids[1] = hold_as(NOBODY, f->address, 65536);

	/* Most bytes first; uids that tie come in the order of their keys: daemon's "1" first. */
	snprintf(expected, sizeof(expected),
		 "\"%u\" 1 1 65536\n\"65534\" 1 1 65536\n\"0\" 3 3 32768\n",
		 (unsigned)other_uid());
	expect_usage(f->bus, "uid", expected);
	/* By heap only the clients holding buffers there count: not idle. */
	usage = list_usage(f->bus, "heap");
	assert_string_equal(usage, "\"memfd\" 4 5 163840\n");
	expect_heaps_agree(f->bus, usage);
	snprintf(expected, sizeof(expected), "\"%s\" 5 5 163840\n", own_unit());
	expect_usage(f->bus, "unit", expected);
	snprintf(expected, sizeof(expected), "\"%s\" 5 5 163840\n", own_cgroup());
	expect_usage(f->bus, "cgroup", expected);

	/* The same through the tools admins use. */
	snprintf(expected, sizeof(expected),
		 "a(sutt) 3 \"%u\" 1 1 65536 \"65534\" 1 1 65536 \"0\" 3 3 32768\n",
		 (unsigned)other_uid());
	assert_string_equal(run("busctl --address='%s' call " NAME " " PATH " " NAME
				" ListUsage s uid", f->address), expected);
	assert_string_equal(run("gdbus call --address '%s' --dest " NAME " --object-path " PATH
				" --method " NAME ".ListUsage heap", f->address),
			    "([('memfd', uint32 4, uint64 5, uint64 163840)],)\n");

	/* Who leaves is no longer counted. */
	release_holders(pids, 2);
	iobuf_release(a);
	iobuf_release(b);
	iobuf_task_unref(holder);
	for (int tries = 0; tries < 500 && clients(f->bus) != 2; tries++)
		usleep(10000);
	expect_usage(f->bus, "uid", "\"0\" 2 1 8192\n");
	expect_usage(f->bus, "heap", "\"memfd\" 1 1 8192\n");
	iobuf_task_unref(idle);
}

/* A bus caller charging another task: what it holds counts under that task's uid. */
static void test_list_usage_counts_the_charged_task(void **state)
{
	struct bus_fixture *f = *state;
	pid_t task = hold_as(CHARGED_UID, NULL, 0);
	int pidfd = (int)syscall(SYS_pidfd_open, task, 0);
	char usage[4200]; /* with a newline before the first line */
	char charged[64];
	const char *root;
	uint64_t root_bytes;
	sd_bus *caller;

	if (pidfd < 0 && errno == ENOSYS) { /* valgrind 3.19 */
		release_holders(&task, 1);
		skip();
	}
	assert_true(pidfd >= 0);
	caller = connect_bus(f->address);
	assert_true(sd_bus_call_method(caller, NAME, PATH, NAME, "ChargeTo", NULL, NULL, "h",
				       pidfd) >= 0);
	assert_int_equal(sd_bus_call_method(caller, NAME, PATH, NAME, "Allocate", NULL, NULL,
					    "ttu", (uint64_t)12288, (uint64_t)0, (uint32_t)0), 1);
	snprintf(usage, sizeof(usage), "\n%s", list_usage(f->bus, "uid"));
	snprintf(charged, sizeof(charged), "\n\"%d\" 1 1 12288\n", CHARGED_UID);
	root = strstr(usage, "\n\"0\" ");
	if (!strstr(usage, charged) || !root ||
	    sscanf(root, "\n\"0\" %*u %*u %" SCNu64, &root_bytes) != 1 ||
	    root_bytes + 12288 != property_t(f->bus, "Bytes"))
		fail_msg("ListUsage uid gave%s", usage);
	sd_bus_flush_close_unref(caller);
	close(pidfd);
	release_holders(&task, 1);
}

static void test_list_usage_refusals(void **state)
{
	struct bus_fixture *f = *state;
	static const char *const bad[] = { "pid", "", "UID", "uid " };
	char message[96];
	pid_t child;
	int status;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(message, sizeof(message),
			 "cannot total by '%s': by is uid, unit, cgroup or heap", bad[i]);
		expect_error(f->bus, "ListUsage", SD_BUS_ERROR_INVALID_ARGS, message, "s", bad[i]);
	}

	/* Others are refused before their argument is looked at. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		sd_bus_error error = SD_BUS_ERROR_NULL;
		sd_bus *bus = NULL;
		int r;

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(10);
		if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, f->address) < 0 ||
		    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0)
			_exit(11);
		r = 0;
		for (size_t i = 0; i < 2 && r == 0; i++) {
			if (sd_bus_call_method(bus, NAME, PATH, NAME, "ListUsage", &error, NULL, "s",
					       i ? "pid" : "uid") >= 0 ||
			    strcmp(error.name, SD_BUS_ERROR_ACCESS_DENIED) != 0 ||
			    !strstr(error.message, "ListUsage is for root and members of iobufd-admin"))
				r = 12;
			sd_bus_error_free(&error);
		}
		sd_bus_flush_close_unref(bus);
		_exit(r);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Client and buffer objects, on a daemon of their own: a caller sees those
 * of its uid, root and iobufd-admin see all, and to everyone else the others
 * are absent, answered as an id nobody has.
 */
#define AS_NOBODY "setpriv --reuid=65534 --regid=65534 --clear-groups "
#define NO_SUCH_CLIENT IOBUF_BUS_CLIENTS_PATH "/4000000000"

static void assert_lacks(const char *text, const char *part)
{
	if (strstr(text, part)) {
		fprintf(stderr, "output has \"%s\":\n", part);
		fputs(text, stderr);
		fail();
	}
}

/* The id of the client of uid, from ListClients: the test makes one per uid. */
static uint32_t client_of_uid(sd_bus *bus, uid_t uid)
{
	sd_bus_message *reply = NULL;
	uint32_t id, client_uid, found = 0;
	int r;

	assert_int_equal(sd_bus_call_method(bus, NAME, PATH, NAME, "ListClients", NULL, &reply,
					    NULL), 1);
	assert_int_equal(sd_bus_message_enter_container(reply, 'a', "(uuussstt)"), 1);
	while ((r = sd_bus_message_read(reply, "(uuussstt)", &id, &client_uid, NULL, NULL, NULL,
					NULL, NULL, NULL)) > 0)
		if (client_uid == uid) {
			assert_int_equal(found, 0);
			found = id;
		}
	assert_int_equal(r, 0);
	sd_bus_message_unref(reply);
	assert_true(found > 0);
	return found;
}

/* The one buffer of client, from ListBuffers. */
static uint64_t buffer_of(sd_bus *bus, uint32_t client)
{
	sd_bus_message *reply = NULL;
	uint64_t id = 0;

	assert_int_equal(sd_bus_call_method(bus, NAME, PATH, NAME, "ListBuffers", NULL, &reply, "u",
					    client), 1);
	assert_int_equal(sd_bus_message_enter_container(reply, 'a', "(ttsuuusst)"), 1);
	assert_int_equal(sd_bus_message_read(reply, "(ttsuuusst)", &id, NULL, NULL, NULL, NULL, NULL,
					     NULL, NULL, NULL), 1);
	assert_true(sd_bus_message_exit_container(reply) >= 0);
	sd_bus_message_unref(reply);
	return id;
}

/* Object paths of one client and its one buffer. */
struct holder_paths {
	char client[64];
	char buffer[64];
};

static void paths_of(sd_bus *bus, uid_t uid, struct holder_paths *out)
{
	uint32_t client = client_of_uid(bus, uid);

	snprintf(out->client, sizeof(out->client), IOBUF_BUS_CLIENTS_PATH "/%" PRIu32, client);
	snprintf(out->buffer, sizeof(out->buffer), IOBUF_BUS_BUFFERS_PATH "/%" PRIu64,
		 buffer_of(bus, client));
}

/* How gdbus introspect lists path as a child node (static buffer). */
static const char *node_of(const char *path)
{
	static char node[64];

	snprintf(node, sizeof(node), "node %s {", strrchr(path, '/') + 1);
	return node;
}

/* In a child as nobody: 0 when what it reads of its own objects and of other's is right. */
static int nobody_reads(sd_bus *bus, const struct holder_paths *other)
{
	const char *hidden[] = { other->client, other->buffer, NO_SUCH_CLIENT };
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	char own[64], node[32];
	const char *xml;
	uint64_t id, size = 0;
	uint32_t owner = 0, pid = 0, uid = 0;

	if (sd_bus_call_method(bus, NAME, PATH, NAME, "Allocate", NULL, &reply, "ttu",
			       (uint64_t)8192, (uint64_t)0, (uint32_t)0) < 0 ||
	    sd_bus_message_read(reply, "httus", NULL, &id, NULL, NULL, NULL) < 0)
		return 20;
	reply = sd_bus_message_unref(reply);
	snprintf(own, sizeof(own), IOBUF_BUS_BUFFERS_PATH "/%" PRIu64, id);
	if (sd_bus_get_property_trivial(bus, NAME, own, BUFFER1, "Size", NULL, 't', &size) < 0 ||
	    sd_bus_get_property_trivial(bus, NAME, own, BUFFER1, "Owner", NULL, 'u', &owner) < 0 ||
	    size != 8192)
		return 21;
	snprintf(own, sizeof(own), IOBUF_BUS_CLIENTS_PATH "/%" PRIu32, owner);
	if (sd_bus_get_property_trivial(bus, NAME, own, CLIENT1, "Pid", NULL, 'u', &pid) < 0 ||
	    sd_bus_get_property_trivial(bus, NAME, own, CLIENT1, "Uid", NULL, 'u', &uid) < 0 ||
	    pid != (uint32_t)getpid() || uid != NOBODY)
		return 22;

	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		bool buffer = strstr(hidden[i], "/buffer/") != NULL;
		const char *property = buffer ? "Size" : "Pid";
		char message[128];

		snprintf(message, sizeof(message), "Unknown object '%s'.", hidden[i]);
		if ((buffer ? sd_bus_get_property_trivial(bus, NAME, hidden[i], BUFFER1, property,
							  &error, 't', &size)
			    : sd_bus_get_property_trivial(bus, NAME, hidden[i], CLIENT1, property,
							  &error, 'u', &pid)) >= 0 ||
		    !sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
		    strcmp(error.message, message) != 0) {
			fprintf(stderr, "Get %s on %s: %s\n", property, hidden[i], error.message);
			return 23;
		}
		sd_bus_error_free(&error);
		if (sd_bus_call_method(bus, NAME, hidden[i], "org.freedesktop.DBus.Introspectable",
				       "Introspect", &error, NULL, NULL) >= 0 ||
		    !sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
		    strcmp(error.message, message) != 0) {
			fprintf(stderr, "Introspect %s: %s\n", hidden[i], error.message);
			return 24;
		}
		sd_bus_error_free(&error);
	}

	/* The client node lists its own client and not the other. */
	if (sd_bus_call_method(bus, NAME, IOBUF_BUS_CLIENTS_PATH,
			       "org.freedesktop.DBus.Introspectable", "Introspect", NULL, &reply,
			       NULL) < 0 ||
	    sd_bus_message_read(reply, "s", &xml) < 0)
		return 25;
	snprintf(node, sizeof(node), "\"%" PRIu32 "\"", owner);
	if (!strstr(xml, node))
		return 26;
	snprintf(node, sizeof(node), "\"%s\"", strrchr(other->client, '/') + 1);
	if (strstr(xml, node))
		return 27;
	sd_bus_message_unref(reply);
	return 0;
}

/*
 * A caller reads its own client and buffer over sd-bus; root's are absent to
 * it. Root's client is a holder child's, so that no buffer of this process
 * is live across the fork (valgrind would count it lost in the child).
 */
static void test_caller_reads_only_its_own_objects(void **state)
{
	struct bus_fixture *f = *state;
	pid_t holder = hold_as(0, f->address, 4096);
	struct holder_paths root;
	pid_t child;
	int status;

	paths_of(f->bus, 0, &root);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		sd_bus *bus = NULL;
		int r;

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(10);
		if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, f->address) < 0 ||
		    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0)
			_exit(11);
		r = nobody_reads(bus, &root);
		sd_bus_flush_close_unref(bus);
		_exit(r);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	release_holders(&holder, 1);
}

/* What busctl and gdbus, run as who (a setpriv prefix), answer for an object it may not see. */
static void expect_absent(const char *address, const char *who, const char *path)
{
	static const char *const client_properties[] = { "Pid", "Uid", "Comm", "Unit" };
	static const char *const buffer_properties[] = { "Size", "Owner" };
	bool buffer = strstr(path, "/buffer/") != NULL;
	const char *const *properties = buffer ? buffer_properties : client_properties;
	size_t n = buffer ? 2 : 4;
	const char *interface = buffer ? BUFFER1 : CLIENT1;
	char expected[160];

	snprintf(expected, sizeof(expected), "Unknown object '%s'.", path);
	for (size_t i = 0; i < n; i++)
		assert_has(run_failing("%sbusctl --address='%s' get-property " NAME
				       " %s %s %s 2>&1",
				       who, address, path, interface, properties[i]),
			   expected);
	snprintf(expected, sizeof(expected),
		 "GDBus.Error:org.freedesktop.DBus.Error.UnknownObject: Unknown object '%s'.",
		 path);
	assert_has(run_failing("%sgdbus introspect --address '%s' --dest " NAME
			       " --object-path %s 2>&1",
			       who, address, path),
		   expected);
	assert_has(run_failing("%sgdbus call --address '%s' --dest " NAME " --object-path %s "
			       "--method org.freedesktop.DBus.Properties.GetAll %s 2>&1",
			       who, address, path, interface),
		   expected);
}

/*
 * A user's processes' objects: busctl and gdbus as nobody see what nobody's
 * bus client holds, not root's socket client's or daemon's; root sees all.
 */
static void test_tools_show_a_user_its_uids_objects(void **state)
{
	struct bus_fixture *f = *state;
	pid_t pids[2] = { hold_as(other_uid(), f->address, 65536),
			  hold_as(NOBODY, f->address, 16384) };
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf *buf = iobuf_in_task_with_options(task, 0, 4096, 0);
	struct holder_paths root, other, nobody;
	const struct holder_paths *all[] = { &root, &other, &nobody };
	char expected[96];
	const char *out;

	assert_non_null(buf);
	paths_of(f->bus, 0, &root);
	paths_of(f->bus, other_uid(), &other);
	paths_of(f->bus, NOBODY, &nobody);

	out = run(AS_NOBODY "busctl --address='%s' tree " NAME, f->address);
	assert_has(out, nobody.client);
	assert_has(out, nobody.buffer);
	for (size_t i = 0; i < 2; i++) {
		assert_lacks(out, all[i]->client);
		assert_lacks(out, all[i]->buffer);
	}
	out = run("gdbus introspect --address '%s' --dest " NAME " --object-path " PATH
		  "/client", f->address);
	assert_has(out, node_of(other.client));
	out = run(AS_NOBODY "gdbus introspect --address '%s' --dest " NAME " --object-path " PATH
		  "/client", f->address);
	assert_has(out, node_of(nobody.client));
	assert_lacks(out, node_of(other.client));
	assert_lacks(out, node_of(root.client));

	/* Its own uid's: every property, through both tools. */
	out = run(AS_NOBODY "busctl --address='%s' get-property " NAME " %s " CLIENT1
		  " Uid Comm Buffers Bytes", f->address, nobody.client);
	snprintf(expected, sizeof(expected), "u 65534\ns \"%s\"\nt 1\nt 16384\n", own_comm());
	assert_has(out, expected);
	out = run(AS_NOBODY "gdbus call --address '%s' --dest " NAME " --object-path %s "
		  "--method org.freedesktop.DBus.Properties.GetAll " BUFFER1, f->address,
		  nobody.buffer);
	assert_has(out, "'Size': <uint64 16384>, 'Heap': <'memfd'>");

	/* Others', and an id nobody has, answer alike. */
	for (size_t i = 0; i < 2; i++) {
		expect_absent(f->address, AS_NOBODY, all[i]->client);
		expect_absent(f->address, AS_NOBODY, all[i]->buffer);
	}
	expect_absent(f->address, AS_NOBODY, NO_SUCH_CLIENT);
	expect_absent(f->address, "", NO_SUCH_CLIENT);

	/* Root sees every one. */
	out = run("busctl --address='%s' tree " NAME, f->address);
	for (size_t i = 0; i < 3; i++) {
		assert_has(out, all[i]->client);
		assert_has(out, all[i]->buffer);
	}
	out = run("gdbus call --address '%s' --dest " NAME " --object-path %s "
		  "--method org.freedesktop.DBus.Properties.GetAll " CLIENT1, f->address,
		  other.client);
	snprintf(expected, sizeof(expected), "'Uid': <uint32 %u>", (unsigned)other_uid());
	assert_has(out, expected);

	release_holders(pids, 2);
	iobuf_release(buf);
	iobuf_task_unref(task);
}

/*
 * iobufd-admin, on a daemon that reads a group file giving it ADMIN_GID: a
 * mount namespace of the test's own, the last group of the suite.
 */
#define ADMIN_GID 4242

static int admin_group_setup(void **state)
{
	test_admin_group_begin(ADMIN_GID);
	return bus_fixture_setup(state);
}

static int admin_group_teardown(void **state)
{
	int r = bus_fixture_teardown(state);

	test_admin_group_end();
	return r;
}

/* A member of iobufd-admin sees every object, as root does; without the group it does not. */
static void test_admin_group_sees_all_objects(void **state)
{
	struct bus_fixture *f = *state;
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf *buf = iobuf_in_task_with_options(task, 0, 4096, 0);
	struct holder_paths root;
	char member[96];
	const char *out;

	assert_non_null(buf);
	paths_of(f->bus, 0, &root);
	snprintf(member, sizeof(member), "setpriv --reuid=65534 --regid=65534 --groups=%d ",
		 ADMIN_GID);
	out = run("%sbusctl --address='%s' tree " NAME, member, f->address);
	assert_has(out, root.client);
	assert_has(out, root.buffer);
	out = run("%sbusctl --address='%s' get-property " NAME " %s " CLIENT1 " Uid Pid", member,
		  f->address, root.client);
	assert_has(out, "u 0\n");
	out = run("%sgdbus call --address '%s' --dest " NAME " --object-path %s "
		  "--method org.freedesktop.DBus.Properties.GetAll " BUFFER1, member, f->address,
		  root.buffer);
	assert_has(out, "'Size': <uint64 4096>");
	out = run("%sbusctl --address='%s' call " NAME " " PATH " " NAME " ListClients", member,
		  f->address);
	assert_has(out, "\"socket\" 1 4096");

	out = run(AS_NOBODY "busctl --address='%s' tree " NAME, f->address);
	assert_lacks(out, root.client);
	expect_absent(f->address, AS_NOBODY, root.client);
	iobuf_release(buf);
	iobuf_task_unref(task);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocate_gives_a_usable_fd),
		cmocka_unit_test(test_refusals_carry_the_reason),
		cmocka_unit_test(test_query_and_purgeable),
		cmocka_unit_test(test_caller_leaving_releases),
		cmocka_unit_test(test_busctl),
		cmocka_unit_test(test_gdbus),
		cmocka_unit_test(test_introspection_matches_the_contract),
		cmocka_unit_test(test_objects_per_client_and_buffer),
		cmocka_unit_test(test_allocate_ex_labels),
		cmocka_unit_test(test_allocate_n),
		cmocka_unit_test(test_pool_is_visible),
		cmocka_unit_test(test_client_names_are_made_safe),
		cmocka_unit_test(test_set_limit_rules),
		cmocka_unit_test(test_admin_methods),
		cmocka_unit_test(test_admin_methods_denied_to_others),
	};

	const struct CMUnitTest usage_tests[] = {
		cmocka_unit_test(test_list_usage_totals),
		cmocka_unit_test(test_list_usage_counts_the_charged_task),
		cmocka_unit_test(test_list_usage_refusals),
	};
	const struct CMUnitTest object_tests[] = {
		cmocka_unit_test(test_caller_reads_only_its_own_objects),
		cmocka_unit_test(test_tools_show_a_user_its_uids_objects),
	};
	const struct CMUnitTest admin_group_tests[] = {
		cmocka_unit_test(test_admin_group_sees_all_objects),
	};
	int failed;

	failed = cmocka_run_group_tests_name("dbus", tests, bus_fixture_setup,
					     bus_fixture_teardown);
	failed += cmocka_run_group_tests_name("dbus-usage", usage_tests, bus_fixture_setup,
					      bus_fixture_teardown);
	failed += cmocka_run_group_tests_name("dbus-objects", object_tests, bus_fixture_setup,
					      bus_fixture_teardown);
	/* Last: it leaves the process in a mount namespace of its own. */
	failed += cmocka_run_group_tests_name("dbus-admin-group", admin_group_tests,
					      admin_group_setup, admin_group_teardown);
	return failed;
}
