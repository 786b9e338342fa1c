/* SPDX-License-Identifier: MIT */
/*
 * iobufctl, the built binary, against a real iobufd on a private
 * dbus-daemon: every command, its table and its JSON (checked with python3's
 * json module by check-json.py), the refusals it reports and the command
 * lines it rejects.
 *
 * $IOBUFCTL_WRAPPER (or else $IOBUFD_WRAPPER), split on spaces, runs
 * iobufctl under a tool such as valgrind; valgrind's own lines are taken out
 * of what iobufctl printed on stderr, and its error exit code fails the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <locale.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>
#include <unistd.h>
#include <wchar.h>

#include <cmocka.h>

#include "bus-fixture.h"
#include "config.h"
#include "harness.h"
#include "iobuf/iobuf.h"

struct result {
	int status; /* iobufctl's exit status */
	char out[65536];
	char err[16384];
	char wrapper_err[16384]; /* what the wrapper (valgrind) itself wrote on stderr */
};

/* The whole of an fd written by a child, from the start. */
static void slurp(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static size_t add_words(const char **argv, size_t n, char *text, size_t max)
{
	for (char *w = strtok(text, " "); w && n < max; w = strtok(NULL, " "))
		argv[n++] = w;
	return n;
}

/*
 * Runs argv (NULL-terminated) with stdin from in_fd (-1: none) and returns
 * its exit status with what it printed; fails the test if it died of a signal.
 */
static void spawn(const char *const *argv, int in_fd, struct result *res)
{
	int out = memfd_create("stdout", MFD_CLOEXEC), err = memfd_create("stderr", MFD_CLOEXEC);
	int status;
	pid_t pid;

	assert_true(out >= 0 && err >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY), STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	slurp(out, res->out, sizeof(res->out));
	slurp(err, res->err, sizeof(res->err));
	if (!WIFEXITED(status))
		fail_msg("%s died of signal %d; stderr:\n%s", argv[0], WTERMSIG(status), res->err);
	res->status = WEXITSTATUS(status);
}

/*
 * Moves the lines valgrind writes ("==1234== ...") from text to wrapper: a
 * wrapper's report is not iobufctl's output (its errors show in the exit
 * status), but it is shown when a check fails.
 */
static void drop_valgrind_lines(char *text, char *wrapper, size_t wrapper_size)
{
	size_t kept = 0;
	char *out = text;

	for (char *line = text; *line;) {
		size_t len = strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n');
		size_t digits = line[0] == '=' && line[1] == '=' ? strspn(line + 2, "0123456789") : 0;

		if (!(digits && strncmp(line + 2 + digits, "==", 2) == 0)) {
			memmove(out, line, len);
			out += len;
		} else if (kept + len < wrapper_size) {
			memcpy(wrapper + kept, line, len);
			kept += len;
		}
		line += len;
	}
	*out = '\0';
	wrapper[kept] = '\0';
}

static const char *bus_address(void);

/*
 * Runs iobufctl --address=<the test bus> with the NULL-terminated arguments,
 * behind prefix (a command such as setpriv, NULL-terminated; may be NULL).
 */
static void ctl_as(struct result *res, const char *const *prefix, const char *arg, ...)
{
	static char wrapper[512];
	char address[300];
	const char *argv[64];
	const char *env = getenv("IOBUFCTL_WRAPPER") ? getenv("IOBUFCTL_WRAPPER")
						     : getenv("IOBUFD_WRAPPER");
	size_t n = 0;
	va_list ap;

	for (; prefix && *prefix; prefix++)
		argv[n++] = *prefix;
	if (env) {
		snprintf(wrapper, sizeof(wrapper), "%s", env);
		n = add_words(argv, n, wrapper, 40);
	}
	argv[n++] = getenv("IOBUFCTL_BINARY");
	snprintf(address, sizeof(address), "--address=%s", bus_address());
	argv[n++] = address;
	va_start(ap, arg);
	for (; arg && n < 63; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	spawn(argv, -1, res);
	res->wrapper_err[0] = '\0';
	if (env)
		drop_valgrind_lines(res->err, res->wrapper_err, sizeof(res->wrapper_err));
}

#define ctl(res, ...) ctl_as(res, NULL, __VA_ARGS__, (const char *)NULL)

static const char *const as_nobody[] = {
	"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", NULL,
};

static void show(const struct result *res)
{
	fprintf(stderr, "exit status %d\n--- stdout:\n%s--- stderr:\n%s---\n", res->status,
		res->out, res->err);
	if (res->wrapper_err[0])
		fprintf(stderr, "--- the wrapper's own lines:\n%s---\n", res->wrapper_err);
}

static void expect_status(const struct result *res, int status)
{
	if (res->status != status) {
		show(res);
		fail_msg("iobufctl exited %d, expected %d", res->status, status);
	}
}

static void assert_has(const char *text, const char *part)
{
	if (!strstr(text, part)) {
		fprintf(stderr, "output lacks \"%s\":\n%s\n", part, text);
		fail();
	}
}

/* Like assert_has on stderr, showing the whole run (the wrapper's lines too) when it fails. */
static void expect_stderr_has(const struct result *res, const char *part)
{
	if (!strstr(res->err, part)) {
		show(res);
		fail_msg("stderr lacks \"%s\"", part);
	}
}

/* Runs iobufctl, which must succeed with nothing on stderr. */
#define ctl_ok(res, ...)                                                                  \
	do {                                                                              \
		ctl(res, __VA_ARGS__);                                                    \
		expect_status(res, 0);                                                    \
		if ((res)->err[0]) {                                                      \
			show(res);                                                        \
			fail_msg("iobufctl wrote to stderr");                             \
		}                                                                         \
	} while (0)

/*
 * Checks a JSON document with check-json.py: it must be one line of JSON,
 * and each Python expression (NULL-terminated), with the document as d, true.
 */
static void json_check(const char *doc, ...)
{
	const char *argv[16] = { getenv("IOBUF_PYTHON"), getenv("IOBUF_JSON_CHECK") };
	int in = memfd_create("json", MFD_CLOEXEC);
	struct result res;
	size_t n = 2;
	va_list ap;

	assert_true(in >= 0);
	assert_int_equal(write(in, doc, strlen(doc)), (ssize_t)strlen(doc));
	assert_int_equal(lseek(in, 0, SEEK_SET), 0);
	va_start(ap, doc);
	for (const char *e = va_arg(ap, const char *); e && n < 15; e = va_arg(ap, const char *))
		argv[n++] = e;
	va_end(ap);
	argv[n] = NULL;
	spawn(argv, in, &res);
	close(in);
	if (res.status != 0) {
		fprintf(stderr, "%s%s", res.out, res.err);
		fail_msg("the JSON check failed");
	}
}

#define json_expect(doc, ...) json_check(doc, __VA_ARGS__, (const char *)NULL)

/* The line of text that contains part (a static copy), failing when none does. */
static const char *line_with(const char *text, const char *part)
{
	static char line[1024];
	const char *hit = strstr(text, part), *start, *end;

	if (!hit) {
		fprintf(stderr, "no line has \"%s\":\n%s\n", part, text);
		fail();
	}
	for (start = hit; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(hit, '\n');
	end = end ? end : hit + strlen(hit);
	snprintf(line, sizeof(line), "%.*s", (int)(end - start), start);
	return line;
}

/* The table's first line is exactly these headers (NULL-terminated), apart. */
static void expect_header(const char *table, ...)
{
	char expected[256] = "", line[256];
	va_list ap;

	va_start(ap, table);
	for (const char *h = va_arg(ap, const char *); h; h = va_arg(ap, const char *))
		snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s",
			 expected[0] ? " " : "", h);
	va_end(ap);
	/* Collapse the runs of spaces that align the columns. */
	size_t n = 0;
	for (const char *p = table; *p && *p != '\n' && n < sizeof(line) - 1; p++)
		if (*p != ' ' || (n && line[n - 1] != ' '))
			line[n++] = *p;
	line[n] = '\0';
	if (strcmp(line, expected) != 0)
		fail_msg("header \"%s\", expected \"%s\"", line, expected);
}

/*
 * Display cells that the UTF-8 text from p up to end (or the end of the
 * line) takes on a terminal: a CJK character two, "é" one.
 */
static size_t cells(const char *p, const char *end)
{
	mbstate_t mbs = { 0 };
	size_t n = 0;

	while (*p && *p != '\n' && (!end || p < end)) {
		wchar_t wc;
		size_t len = mbrtowc(&wc, p, MB_CUR_MAX, &mbs);

		if (len == (size_t)-1 || len == (size_t)-2)
			fail_msg("not UTF-8: \"%s\"", p);
		n += wcwidth(wc) > 0 ? (size_t)wcwidth(wc) : 0;
		p += len;
	}
	return n;
}

/* Display cells to the end of the line. */
static size_t line_width(const char *p)
{
	return cells(p, NULL);
}

/* A table whose last column is right-aligned: every line has the same width. */
static void expect_right_edge(const char *table)
{
	size_t width = line_width(table);

	for (const char *p = table; *p; p += strcspn(p, "\n") + 1)
		if (line_width(p) != width)
			fail_msg("ragged table:\n%s", table);
}

/* Whether part starts, in line, at the display column where header has column. */
static void expect_same_column(const char *table, const char *line, const char *column,
			       const char *part)
{
	const char *h = strstr(table, column), *p = strstr(line, part);

	assert_non_null(h);
	assert_non_null(p);
	if (cells(table, h) != cells(line, p))
		fail_msg("\"%s\" is not under %s:\n%s", part, column, table);
}

static struct bus_fixture *fixture;

static const char *bus_address(void)
{
	return fixture->address;
}

static uint64_t total(const char *property)
{
	uint64_t value = 0;

	assert_int_equal(sd_bus_get_property_trivial(fixture->bus, NAME, PATH, NAME, property,
						     NULL, 't', &value), 0);
	return value;
}

/* Waits for the daemon to hold this many buffers (bus callers leave asynchronously). */
static void wait_buffers(uint64_t buffers)
{
	for (int tries = 0; tries < 1000 && total("Buffers") != buffers; tries++)
		usleep(10000);
	assert_int_equal(total("Buffers"), buffers);
}

/* The client a buffer is charged to, from its object. */
static uint32_t owner_of(uint64_t id)
{
	char path[96];
	uint32_t owner = 0;

	snprintf(path, sizeof(path), IOBUF_BUS_BUFFERS_PATH "/%" PRIu64, id);
	assert_int_equal(sd_bus_get_property_trivial(fixture->bus, NAME, path, BUFFER1,
						     "Owner", NULL, 'u', &owner), 0);
	return owner;
}

static int setup(void **state)
{
	int r = bus_fixture_setup(state);

	fixture = *state;
	return r;
}

static void test_help_and_version(void **state)
{
	struct result res;
	char version[64];

	ctl_ok(&res, "--help");
	assert_has(res.out, "Usage: iobufctl [OPTIONS] COMMAND [ARGS]");
	assert_has(res.out, "limits set NAME VALUE");
	assert_has(res.out, "cache=default|inhibit|writethru|copyback|writecombine");
	assert_has(res.out, "usage [--by uid|unit|cgroup|heap]");
	ctl_ok(&res, "-h");
	assert_has(res.out, "free-client ID");
	ctl_ok(&res, "-V");
	snprintf(version, sizeof(version), "iobufctl %s\n", IOBUFD_VERSION);
	assert_string_equal(res.out, version);
	ctl_ok(&res, "--version");
	assert_string_equal(res.out, version);
}

/* Each bad command line: exit 2, the problem named, the usage shown, nothing on stdout. */
static void expect_usage_error(const char *problem, const char *const *args)
{
	struct result res;
	const char *a[8] = { 0 };

	for (size_t i = 0; args[i] && i < 7; i++)
		a[i] = args[i];
	ctl_as(&res, NULL, a[0], a[1], a[2], a[3], a[4], a[5], a[6], (const char *)NULL);
	expect_status(&res, 2);
	expect_stderr_has(&res, problem);
	expect_stderr_has(&res, "Usage: iobufctl");
	assert_string_equal(res.out, "");
}

static void test_usage_errors(void **state)
{
	static const struct {
		const char *problem;
		const char *args[8];
	} cases[] = {
		{ "iobufctl: no command given", { NULL } },
		{ "iobufctl: unknown command 'frobnicate'", { "frobnicate" } },
		{ "iobufctl: unknown option '--bogus'", { "--bogus", "status" } },
		{ "iobufctl: unknown option '-x'", { "-x", "status" } },
		{ "iobufctl: unknown option '-x'", { "-Vx", "status" } },
		{ "iobufctl: option '--json' takes no value", { "--json=yes", "status" } },
		{ "option '--client' needs a value", { "buffers", "--client" } },
		{ "alloc: missing argument (iobufctl alloc SIZE", { "alloc" } },
		{ "alloc: unexpected argument '2'", { "alloc", "1", "2" } },
		{ "alloc: invalid SIZE '12Q'", { "alloc", "12Q" } },
		{ "alloc: invalid SIZE '1KB'", { "alloc", "1KB" } },
		{ "alloc: invalid SIZE ' 1'", { "alloc", " 1" } },
		{ "alloc: invalid SIZE '+1'", { "alloc", "+1" } },
		{ "alloc: invalid SIZE ''", { "alloc", "" } },
		{ "alloc: SIZE '99999999999999999999999' is too large",
		  { "alloc", "99999999999999999999999" } },
		{ "alloc: SIZE '17179869184G' is too large", { "alloc", "17179869184G" } },
		{ "unknown option '-1'", { "alloc", "-1" } },
		{ "buffers: --heap does not apply to it", { "buffers", "--heap", "memfd" } },
		{ "option '--label' needs a value", { "alloc", "4K", "--label" } },
		{ "--alignment: invalid alignment 'x'", { "alloc", "4K", "--alignment", "x" } },
		{ "--options: unknown option 'bogus'", { "alloc", "4K", "--options", "pageable,bogus" } },
		{ "known: in, out, inout,", { "alloc", "4K", "--options", "cache=nope" } },
		{ "--options: empty name in 'pageable,'", { "alloc", "4K", "--options", "pageable," } },
		{ "--options: empty name in ',in'", { "alloc", "4K", "--options", ",in" } },
		{ "'cache=copyback' conflicts with the cache mode before it",
		  { "alloc", "4K", "--options", "cache=inhibit,cache=copyback" } },
		{ "--client: invalid client id 'abc'", { "buffers", "--client", "abc" } },
		{ "--client: invalid client id '0'", { "buffers", "--client", "0" } },
		{ "--client: invalid client id '4294967296'", { "buffers", "--client", "4294967296" } },
		{ "status: --client does not apply to it", { "status", "--client", "3" } },
		{ "purge: --alignment does not apply to it", { "purge", "--alignment", "4K" } },
		{ "buffers: --options does not apply to it", { "buffers", "--options", "in" } },
		{ "status: unexpected argument 'now'", { "status", "now" } },
		{ "limits: unexpected argument 'frob'", { "limits", "frob" } },
		{ "limits set: missing argument", { "limits", "set", "max-client-bytes" } },
		{ "limits set: invalid VALUE '1X'", { "limits", "set", "max-client-bytes", "1X" } },
		{ "limits set: NAME must not be empty", { "limits", "set", "", "1" } },
		{ "free-client: missing argument", { "free-client" } },
		{ "free-client: invalid client id 'x'", { "free-client", "x" } },
		{ "free-client: invalid client id '-3'", { "free-client", "--", "-3" } },
		{ "--by: unknown key 'pid'; known: uid, unit, cgroup, heap",
		  { "usage", "--by", "pid" } },
		{ "--by: unknown key 'UID'", { "usage", "--by=UID" } },
		{ "--by: unknown key ''", { "usage", "--by=" } },
		{ "option '--by' needs a value", { "usage", "--by" } },
		{ "usage: unexpected argument 'heap'", { "usage", "heap" } },
		{ "status: --by does not apply to it", { "status", "--by", "uid" } },
		{ "usage: --client does not apply to it", { "usage", "--client", "1" } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_usage_error(cases[i].problem, cases[i].args);
}

static void test_status(void **state)
{
	struct result res;
	char expected[96];

	ctl_ok(&res, "status");
	snprintf(expected, sizeof(expected), "Version: %s\n", IOBUFD_VERSION);
	assert_has(res.out, expected);
	assert_has(res.out, "\nClients: ");
	assert_has(res.out, "\nBuffers: ");
	assert_has(res.out, "\nBytes:   ");
	assert_has(res.out, "\nHeaps:   1\n");
	/* max-uid-buffers is a share of the fds the daemon may open, which vary. */
	assert_has(res.out, "\nLimits:  max-buffer-size 512.0 MiB, max-client-buffers 4096, "
			    "max-client-bytes 2.0 GiB, max-uid-buffers ");
	assert_has(res.out, ", max-uid-clients 32\n");

	ctl_ok(&res, "--json", "status");
	snprintf(expected, sizeof(expected), "d['version'] == '%s'", IOBUFD_VERSION);
	json_expect(res.out, expected, "d['heaps'] == 1",
		    "sorted(d) == ['buffers', 'bytes', 'clients', 'heaps', 'limits', 'version']",
		    "all(type(d[k]) is int for k in ('clients', 'buffers', 'bytes'))",
		    "{k: v for k, v in d['limits'].items() if v and k != 'max-uid-buffers'} == "
		    "{'max-buffer-size': 536870912, 'max-client-buffers': 4096, "
		    "'max-client-bytes': 2147483648, 'max-uid-clients': 32}",
		    "d['limits']['max-uid-buffers'] > 0",
		    "d['limits']['max-uid-bytes'] == 0");
}

static void test_heaps(void **state)
{
	struct iobuf_task *task = iobuf_task_connect(fixture->daemon.socket);
	struct iobuf *buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE, 20000, 0);
	struct result res;
	const char *row;

	assert_non_null(buf);
	ctl_ok(&res, "heaps");
	expect_header(res.out, "NAME", "CAPABILITIES", "BUFFERS", "BYTES", NULL);
	expect_right_edge(res.out);
	row = line_with(res.out, "memfd");
	assert_has(row, "  CACHE_COPYBACK wired pageable purgeable mappable  ");
	assert_has(row, "  1  20.0 KiB");
	expect_same_column(res.out, row, "CAPABILITIES", "CACHE_COPYBACK");

	ctl_ok(&res, "heaps", "--json");
	json_expect(res.out, "len(d) == 1",
		    "d[0] == {'name': 'memfd', 'capabilities': 'CACHE_COPYBACK wired pageable "
		    "purgeable mappable', 'buffers': 1, 'bytes': 20480}");
	iobuf_release(buf);
	iobuf_task_unref(task);
}

/* A buffer allocated over D-Bus by the test's own connection: its id. */
static uint64_t allocate_on_bus(uint64_t size, uint32_t options)
{
	sd_bus_message *reply = NULL;
	uint64_t id;
	int fd;

	assert_int_equal(sd_bus_call_method(fixture->bus, NAME, PATH, NAME, "Allocate", NULL,
					    &reply, "ttu", size, (uint64_t)0, options), 1);
	assert_int_equal(sd_bus_message_read(reply, "ht", &fd, &id), 1);
	sd_bus_message_unref(reply);
	return id;
}

static void test_bus_selection(void **state)
{
	struct result res;

	/* The last of --address, --system and --user wins; sd-bus honours these variables. */
	setenv("DBUS_SYSTEM_BUS_ADDRESS", fixture->address, 1);
	setenv("DBUS_SESSION_BUS_ADDRESS", fixture->address, 1);
	ctl_ok(&res, "--system", "status");
	assert_has(res.out, "Heaps:   1\n");
	ctl_ok(&res, "--user", "heaps");
	assert_has(res.out, "memfd");
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	unsetenv("DBUS_SESSION_BUS_ADDRESS");
}

static void test_clients_and_buffers(void **state)
{
	struct iobuf_task *task = iobuf_task_connect(fixture->daemon.socket);
	struct iobuf *buf = iobuf_in_task_with_label(task, IOBUF_PAGEABLE, 20000, 0, "frames é");
	uint64_t a, b = allocate_on_bus(8192, IOBUF_DIRECTION_OUT);
	uint32_t owner_a, owner_b;
	char expr[512], part[64];
	struct result res;
	const char *row;

	assert_non_null(buf);
	a = iobuf_get_id(buf);
	owner_a = owner_of(a);
	owner_b = owner_of(b);

	ctl_ok(&res, "clients");
	expect_header(res.out, "ID", "UID", "PID", "COMM", "UNIT", "TRANSPORT", "BUFFERS", "BYTES",
		      NULL);
	expect_right_edge(res.out);
	row = line_with(res.out, "  socket  ");
	snprintf(part, sizeof(part), "%" PRIu32 "    0  %d  %s  ", owner_a, (int)getpid(),
		 own_comm());
	assert_has(row, part);
	assert_has(row, "  1  20.0 KiB");
	expect_same_column(res.out, row, "COMM", own_comm());
	row = line_with(res.out, "  bus  ");
	assert_has(row, "  1   8.0 KiB");

	ctl_ok(&res, "clients", "--json");
	snprintf(expr, sizeof(expr),
		 "[dict(c, unit='') for c in d if c['id'] == %" PRIu32 "] == [{'id': %" PRIu32
		 ", 'uid': 0, 'pid': %d, 'comm': '%s', 'unit': '', 'transport': 'socket', "
		 "'buffers': 1, 'bytes': 20480}]",
		 owner_a, owner_a, (int)getpid(), own_comm());
	json_expect(res.out, expr, "all(type(c['unit']) is str for c in d)");
	snprintf(expr, sizeof(expr),
		 "any(c['id'] == %" PRIu32 " and c['transport'] == 'bus' and c['buffers'] == 1 "
		 "and c['bytes'] == 8192 for c in d)", owner_b);
	json_expect(res.out, expr);

	ctl_ok(&res, "buffers");
	expect_header(res.out, "ID", "SIZE", "HEAP", "OPTIONS", "OWNER", "STATE", "AGE", "LABEL",
		      "USE", NULL);
	row = line_with(res.out, "20.0 KiB");
	expect_same_column(res.out, row, "HEAP", "memfd");
	expect_same_column(res.out, row, "OPTIONS", "pageable,cache=copyback");
	expect_same_column(res.out, row, "STATE", "non-volatile");
	expect_same_column(res.out, row, "LABEL", "frames é");
	expect_same_column(res.out, row, "USE", "in use");
	assert_has(row, "s  frames é  "); /* an age in seconds, right-aligned before the label */
	snprintf(part, sizeof(part), "%" PRIu64 "  20.0 KiB", a);
	assert_has(row, part);
	row = line_with(res.out, "8.0 KiB");
	expect_same_column(res.out, row, "OPTIONS", "out,cache=copyback");

	ctl_ok(&res, "buffers", "--json");
	snprintf(expr, sizeof(expr),
		 "{'id': %" PRIu64 ", 'size': 20480, 'heap': 'memfd', 'options': ['pageable', "
		 "'cache=copyback'], 'owner': %" PRIu32 ", 'state': 'non-volatile', "
		 "'label': 'frames \\u00e9', 'use': 'in use'} in "
		 "[{k: v for k, v in x.items() if k != 'created_usec'} for x in d]", a, owner_a);
	json_expect(res.out, expr);
	snprintf(expr, sizeof(expr),
		 "{'id': %" PRIu64 ", 'size': 8192, 'heap': 'memfd', 'options': ['out', "
		 "'cache=copyback'], 'owner': %" PRIu32 ", 'state': 'non-volatile', "
		 "'label': '', 'use': 'in use'} in "
		 "[{k: v for k, v in x.items() if k != 'created_usec'} for x in d]", b, owner_b);
	json_expect(res.out, expr);
	/* When it was made, in microseconds since the epoch: within the last minute here. */
	json_expect(res.out, "all(type(x['created_usec']) is int and "
			     "0 <= time.time() * 1e6 - x['created_usec'] < 60e6 for x in d)");

	snprintf(part, sizeof(part), "%" PRIu32, owner_a);
	ctl_ok(&res, "buffers", "--client", part, "--json");
	snprintf(expr, sizeof(expr), "[b['id'] for b in d] == [%" PRIu64 "]", a);
	json_expect(res.out, expr);
	ctl_ok(&res, "--client", part, "buffers");
	assert_int_equal(strchr(strchr(res.out, '\n') + 1, '\n')[1], '\0'); /* header and one row */

	ctl(&res, "buffers", "--client", "99999");
	expect_status(&res, 1);
	assert_string_equal(res.err, "iobufctl: buffers: InvalidArgs: no client 99999\n");
	assert_string_equal(res.out, "");

	iobuf_release(buf);
	iobuf_task_unref(task);
	assert_int_equal(sd_bus_call_method(fixture->bus, NAME, PATH, NAME, "Free", NULL, NULL,
					    "t", b), 1);
}

static void test_alloc(void **state)
{
	uint64_t before = total("Buffers");
	struct result res;

	ctl_ok(&res, "alloc", "1M", "--options", "pageable");
	assert_has(res.out, "Id:      ");
	assert_has(res.out, "\nSize:    1048576 (1.0 MiB)\n");
	assert_has(res.out, "\nOptions: pageable,cache=copyback\n");
	assert_has(res.out, "\nHeap:    memfd\n");
	assert_has(res.out, "The buffer is freed when iobufctl exits and leaves the bus.\n");
	wait_buffers(before);

	ctl_ok(&res, "--json", "alloc", "1M", "--options", "pageable");
	json_expect(res.out, "sorted(d) == ['heap', 'id', 'options', 'size']",
		    "type(d['id']) is int and d['id'] > 0", "d['size'] == 1048576",
		    "d['heap'] == 'memfd'", "d['options'] == ['pageable', 'cache=copyback']");

	ctl_ok(&res, "alloc", "10000", "--alignment", "4K", "--options",
	       "in,out,kernel-user-shared,cache=copyback", "--json");
	json_expect(res.out, "d['size'] == 12288",
		    "d['options'] == ['inout', 'kernel-user-shared', 'cache=copyback']");
	ctl_ok(&res, "alloc", "4k", "--options", "pageable,purgeable", "--json");
	json_expect(res.out, "d['size'] == 4096",
		    "d['options'] == ['pageable', 'purgeable', 'cache=copyback']");
	ctl_ok(&res, "alloc", "1");
	assert_has(res.out, "\nSize:    4096 (4.0 KiB)\n");
	assert_has(res.out, "\nOptions: cache=copyback\n");
	ctl_ok(&res, "alloc", "4K", "--options", "");
	ctl_ok(&res, "alloc", "4K", "--options", "out,cache=default");
	assert_has(res.out, "\nOptions: out,cache=copyback\n");
	ctl_ok(&res, "alloc", "4K", "--heap", "memfd", "--label", "ctl test");
	assert_has(res.out, "\nHeap:    memfd\n");
	wait_buffers(before);
}

/* iobufctl exits 1 with the daemon's refusal on stderr and nothing on stdout. */
#define expect_refusal(message, ...)                                                      \
	do {                                                                              \
		struct result res_;                                                       \
		ctl(&res_, __VA_ARGS__);                                                  \
		expect_status(&res_, 1);                                                  \
		expect_stderr_has(&res_, message);                                            \
		assert_string_equal(res_.out, "");                                        \
	} while (0)

static void test_alloc_refusals(void **state)
{
	expect_refusal("iobufctl: alloc: NotSupported: no heap can serve the request: memfd "
		       "lacks PHYSICALLY_CONTIGUOUS\n", "alloc", "4K", "--options", "contiguous");
	expect_refusal("iobufctl: alloc: InvalidArgs: capacity must not be 0\n", "alloc", "0");
	expect_refusal("iobufctl: alloc: ENODEV: iobufd serves no heap named dma-heap/none\n",
		       "alloc", "4K", "--heap", "dma-heap/none");
	expect_refusal("iobufctl: alloc: InvalidArgs: the label holds a control character\n",
		       "alloc", "4K", "--label", "a\tb");
	expect_refusal("iobufctl: alloc: InvalidArgs: alignment 3 is not a power of two\n",
		       "alloc", "4K", "--alignment", "3");
	expect_refusal("iobufctl: alloc: InvalidArgs: ", "alloc", "4K", "--options", "purgeable");
	expect_refusal("iobufctl: alloc: ", "alloc", "1G");
	expect_refusal("iobufctl: alloc: ", "alloc", "17179869183G");
	expect_refusal("iobufctl: alloc: ", "alloc", "4K", "--alignment", "17179869183G");
	expect_refusal("iobufctl: alloc: ", "alloc", "4K", "--options", "cache=writecombine");
	assert_int_equal(total("Buffers"), 0);
}

static void test_limits(void **state)
{
	struct result res;

	ctl_ok(&res, "limits");
	expect_header(res.out, "NAME", "VALUE", NULL);
	expect_right_edge(res.out);
	assert_has(line_with(res.out, "max-buffer-size"), "  512.0 MiB");
	assert_has(line_with(res.out, "max-client-buffers"), "  4096");
	assert_has(line_with(res.out, "max-client-bytes"), "  2.0 GiB");

	ctl_ok(&res, "limits", "set", "max-client-bytes", "1M");
	assert_string_equal(res.out, "Limit: max-client-bytes\nValue: 1048576 (1.0 MiB)\n");
	ctl_ok(&res, "limits", "--json");
	json_expect(res.out, "d['max-client-bytes'] == 1048576", "len(d) == 10",
		    "d['max-total-bytes'] == 0");
	expect_refusal("iobufctl: alloc: EDQUOT: per-client byte limit 1048576 exceeded", "alloc",
		       "2M");

	ctl_ok(&res, "--json", "limits", "set", "max-client-buffers", "7");
	json_expect(res.out, "d == {'name': 'max-client-buffers', 'value': 7}");
	ctl_ok(&res, "limits");
	assert_has(line_with(res.out, "max-client-buffers"), "  7");
	assert_has(line_with(res.out, "max-client-bytes"), "  1.0 MiB");

	ctl_ok(&res, "limits", "set", "max-client-bytes", "2G");
	ctl_ok(&res, "limits", "set", "max-client-buffers", "4096");
	ctl_ok(&res, "status", "--json");
	json_expect(res.out, "{k: v for k, v in d['limits'].items() if v and "
			     "k != 'max-uid-buffers'} == {'max-buffer-size': 536870912, "
			     "'max-client-buffers': 4096, 'max-client-bytes': 2147483648, "
			     "'max-uid-clients': 32}");

	expect_refusal("iobufctl: limits set: InvalidArgs: unknown limit 'bogus'", "limits", "set",
		       "bogus", "1");
	expect_refusal("iobufctl: limits set: InvalidArgs: limit max-client-buffers must not be 0",
		       "limits", "set", "max-client-buffers", "0");
}

static struct iobuf *volatile_buffer(struct iobuf_task *task, size_t size)
{
	struct iobuf *buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE | IOBUF_PURGEABLE,
						       size, 0);

	assert_non_null(buf);
	memset(iobuf_get_bytes_no_copy(buf), 0x5a, size);
	assert_int_equal(iobuf_set_purgeable(buf, IOBUF_PURGEABLE_VOLATILE, NULL), 0);
	return buf;
}

static void test_purge(void **state)
{
	struct iobuf_task *task = iobuf_task_connect(fixture->daemon.socket);
	struct iobuf *one = volatile_buffer(task, 4096), *two = volatile_buffer(task, 8192);
	enum iobuf_purgeable_state old;
	char owner[16];
	struct result res;

	snprintf(owner, sizeof(owner), "%" PRIu32, owner_of(iobuf_get_id(one)));
	ctl_ok(&res, "buffers", "--client", owner, "--json");
	json_expect(res.out, "[b['state'] for b in d] == ['volatile', 'volatile']");

	ctl_ok(&res, "purge");
	assert_string_equal(res.out, "Bytes reclaimed: 12288 (12.0 KiB)\n");
	ctl_ok(&res, "buffers", "--client", owner);
	assert_has(line_with(res.out, "4.0 KiB"), "  empty");
	assert_has(line_with(res.out, "8.0 KiB"), "  empty");
	assert_int_equal(iobuf_set_purgeable(one, IOBUF_PURGEABLE_NON_VOLATILE, &old), 0);
	assert_int_equal(old, IOBUF_PURGEABLE_EMPTY);
	assert_int_equal(((char *)iobuf_get_bytes_no_copy(one))[0], 0);

	assert_int_equal(iobuf_set_purgeable(one, IOBUF_PURGEABLE_VOLATILE, NULL), 0);
	ctl_ok(&res, "purge", "--json");
	json_expect(res.out, "d == {'reclaimed_bytes': 4096}");
	ctl_ok(&res, "purge");
	assert_string_equal(res.out, "Bytes reclaimed: 0\n");

	iobuf_release(one);
	iobuf_release(two);
	iobuf_task_unref(task);
}

static void test_free_client(void **state)
{
	struct iobuf_task *task = iobuf_task_connect(fixture->daemon.socket);
	struct iobuf *one = iobuf_in_task_with_options(task, 0, 4096, 0);
	struct iobuf *two = iobuf_in_task_with_options(task, 0, 4096, 0), *three;
	char owner[16], expected[96];
	struct result res;

	assert_non_null(one);
	assert_non_null(two);
	snprintf(owner, sizeof(owner), "%" PRIu32, owner_of(iobuf_get_id(one)));
	ctl_ok(&res, "free-client", owner);
	snprintf(expected, sizeof(expected), "Client:        %s\nBuffers freed: 2\n", owner);
	assert_string_equal(res.out, expected);
	/* Still charged: the client maps them. Admins see why. */
	assert_int_equal(usage_of(task).buffers, 2);
	ctl_ok(&res, "buffers", "--client", owner, "--json");
	json_expect(res.out, "len(d) == 2",
		    "all(b['use'] == 'freed by its owner, still referenced' for b in d)");

	/* The client is still connected, and can be freed again. */
	three = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_non_null(three);
	ctl_ok(&res, "free-client", owner, "--json");
	snprintf(expected, sizeof(expected), "d == {'client': %s, 'freed_buffers': 1}", owner);
	json_expect(res.out, expected);
	assert_int_equal(usage_of(task).buffers, 3);

	expect_refusal("iobufctl: free-client: InvalidArgs: no client 99999\n", "free-client",
		       "99999");
	iobuf_release(one);
	iobuf_release(two);
	iobuf_release(three);
	for (int tries = 0; tries < 300 && usage_of(task).buffers; tries++)
		usleep(10000);
	assert_int_equal(usage_of(task).buffers, 0);
	iobuf_task_unref(task);
}

/*
 * A child running as nobody that allocates size bytes over the bus and
 * holds them until *release is closed. Its pid.
 */
static pid_t hold_as_nobody(uint64_t size, int *release)
{
	int ready[2], wait_for[2];
	sd_bus *bus = NULL;
	char byte;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(wait_for), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(wait_for[1]);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(10);
		if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, bus_address()) < 0 ||
		    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0 ||
		    sd_bus_call_method(bus, NAME, PATH, NAME, "Allocate", NULL, NULL, "ttu", size,
				       (uint64_t)0, (uint32_t)0) < 0 ||
		    write(ready[1], "", 1) != 1)
			_exit(11);
		while (read(wait_for[0], &byte, 1) > 0)
			;
		sd_bus_flush_close_unref(bus);
		_exit(0);
	}
	close(ready[1]);
	close(wait_for[0]);
	assert_int_equal(read(ready[0], &byte, 1), 1);
	close(ready[0]);
	*release = wait_for[1];
	return pid;
}

/* The table's nth line (0: the header), a static copy. */
static const char *nth_line(const char *text, int n)
{
	static char line[1024];

	for (; n > 0 && strchr(text, '\n'); n--)
		text = strchr(text, '\n') + 1;
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(text, "\n"), text);
	return line;
}

/* Root holds 20 KiB over the socket, nobody 64 KiB over the bus. */
static void test_usage(void **state)
{
	struct iobuf_task *task;
	struct iobuf *buf;
	char expr[512];
	struct result res;
	int release, status;
	pid_t nobody;

	wait_buffers(0);
	task = iobuf_task_connect(fixture->daemon.socket);
	buf = iobuf_in_task_with_options(task, 0, 20000, 0);
	assert_non_null(buf);
	nobody = hold_as_nobody(65536, &release);

	ctl_ok(&res, "usage");
	expect_header(res.out, "UID", "CLIENTS", "BUFFERS", "BYTES", NULL);
	expect_right_edge(res.out);
	assert_has(nth_line(res.out, 1), "65534        1        1  64.0 KiB");
	assert_int_equal(strncmp(nth_line(res.out, 2), "    0  ", 7), 0);
	assert_has(nth_line(res.out, 2), "        1  20.0 KiB");
	assert_string_equal(nth_line(res.out, 3), "");
	ctl_ok(&res, "usage", "--json", "--by", "uid");
	json_expect(res.out, "len(d) == 2",
		    "d[0] == {'uid': 65534, 'clients': 1, 'buffers': 1, 'bytes': 65536}",
		    "d[1]['uid'] == 0 and d[1]['clients'] >= 1",
		    "(d[1]['buffers'], d[1]['bytes']) == (1, 20480)");

	ctl_ok(&res, "usage", "--by", "heap");
	expect_header(res.out, "HEAP", "CLIENTS", "BUFFERS", "BYTES", NULL);
	assert_string_equal(nth_line(res.out, 1), "memfd        2        2  84.0 KiB");
	ctl_ok(&res, "--json", "usage", "--by=heap");
	json_expect(res.out, "d == [{'heap': 'memfd', 'clients': 2, 'buffers': 2, 'bytes': 86016}]");

	/* Every client here is in the test's unit and cgroup; no unit reads "(none)" in a table. */
	ctl_ok(&res, "usage", "--by", "unit");
	expect_header(res.out, "UNIT", "CLIENTS", "BUFFERS", "BYTES", NULL);
	assert_has(nth_line(res.out, 1), own_unit()[0] ? own_unit() : "(none)  ");
	assert_has(nth_line(res.out, 1), "2  84.0 KiB");
	ctl_ok(&res, "usage", "--by", "unit", "--json");
	snprintf(expr, sizeof(expr), "[u['unit'] for u in d] == ['%s']", own_unit());
	json_expect(res.out, expr, "d[0]['clients'] >= 2",
		    "(d[0]['buffers'], d[0]['bytes']) == (2, 86016)");
	ctl_ok(&res, "usage", "--by", "cgroup", "--json");
	json_expect(res.out, "len(d) == 1 and d[0]['cgroup'].startswith('/')",
		    "(d[0]['buffers'], d[0]['bytes']) == (2, 86016)");
	ctl_ok(&res, "usage", "--by", "cgroup");
	expect_header(res.out, "CGROUP", "CLIENTS", "BUFFERS", "BYTES", NULL);

	close(release);
	assert_int_equal(waitpid(nobody, &status, 0), nobody);
	assert_int_equal(status, 0);
	iobuf_release(buf);
	iobuf_task_unref(task);
	wait_buffers(0);
}

static void expect_denied(const char *what, const char *method, const char *a1, const char *a2,
			  const char *a3)
{
	char expected[160];
	struct result res;

	ctl_as(&res, as_nobody, what, a1, a2, a3, (const char *)NULL);
	expect_status(&res, 1);
	snprintf(expected, sizeof(expected),
		 "AccessDenied: %s is for root and members of iobufd-admin\n", method);
	expect_stderr_has(&res, expected);
	assert_string_equal(res.out, "");
}

static void test_admin_commands_denied_to_others(void **state)
{
	struct result res;

	expect_denied("clients", "ListClients", NULL, NULL, NULL);
	expect_denied("buffers", "ListBuffers", NULL, NULL, NULL);
	expect_denied("buffers", "ListBuffers", "--client", "1", NULL);
	expect_denied("limits", "SetLimit", "set", "max-buffer-size", "1M");
	expect_denied("purge", "PurgeVolatile", NULL, NULL, NULL);
	expect_denied("free-client", "FreeClientBuffers", "1", NULL, NULL);
	expect_denied("usage", "ListUsage", NULL, NULL, NULL);
	expect_denied("usage", "ListUsage", "--by", "heap", "--json");
	ctl_as(&res, as_nobody, "limits", "set", "max-buffer-size", "1M", (const char *)NULL);
	expect_stderr_has(&res, "iobufctl: limits set: AccessDenied: ");
	ctl_as(&res, as_nobody, "free-client", "1", (const char *)NULL);
	expect_stderr_has(&res, "iobufctl: free-client: AccessDenied: ");

	/* What anyone may do still works for them. */
	ctl_as(&res, as_nobody, "status", (const char *)NULL);
	expect_status(&res, 0);
	ctl_as(&res, as_nobody, "heaps", "--json", (const char *)NULL);
	expect_status(&res, 0);
	ctl_as(&res, as_nobody, "limits", (const char *)NULL);
	expect_status(&res, 0);
	ctl_as(&res, as_nobody, "alloc", "4K", (const char *)NULL);
	expect_status(&res, 0);
	ctl_ok(&res, "limits", "--json");
	json_expect(res.out, "d['max-buffer-size'] == 536870912");
}

/* A connection of the daemon's under the command name comm (at most 15 bytes). */
static struct iobuf_task *connect_as(const char *comm)
{
	struct iobuf_task *task;
	char saved[32];

	snprintf(saved, sizeof(saved), "%s", own_comm());
	assert_int_equal(prctl(PR_SET_NAME, comm), 0);
	task = iobuf_task_connect(fixture->daemon.socket);
	assert_int_equal(prctl(PR_SET_NAME, saved), 0);
	assert_non_null(task);
	return task;
}

/* What a client calls itself ends up in JSON strings and table cells: escaped, made safe. */
/* Quotes and backslashes are escaped; the daemon already made control characters '?'. */
static void test_strings_are_escaped(void **state)
{
	static const char comm[] = "q\"b\\\t\x01\xc3\xa9";  /* q"b\<TAB><SOH>é */
	static const char shown[] = "q\"b\\??\xc3\xa9"; /* as the daemon keeps it */
	char hex[64] = "", expr[160];
	struct iobuf_task *task = connect_as(comm);
	struct result res;

	for (size_t i = 0; shown[i]; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)shown[i]);

	ctl_ok(&res, "clients", "--json");
	snprintf(expr, sizeof(expr), "any(c['comm'].encode().hex() == '%s' for c in d)", hex);
	json_expect(res.out, expr);
	assert_has(res.out, "\"q\\\"b\\\\??\xc3\xa9\"");
	ctl_ok(&res, "clients");
	assert_has(res.out, "  q\"b\\??\xc3\xa9  ");
	expect_right_edge(res.out);
	iobuf_task_unref(task);
}

/* The clients table, with a row for comm: every column of that row starts under its header. */
static void expect_aligned_clients(const char *table, const char *comm)
{
	const char *row = line_with(table, comm), *unit;

	expect_right_edge(table);
	expect_same_column(table, row, "COMM", comm);
	expect_same_column(table, row, "TRANSPORT", "socket");
	/* Whatever the unit, it starts where UNIT does, right after the comm's cell. */
	for (unit = strstr(row, comm) + strlen(comm); *unit == ' '; unit++)
		;
	if (cells(table, strstr(table, "UNIT")) != cells(row, unit))
		fail_msg("the cell after \"%s\" is not under UNIT:\n%s", comm, table);
	assert_has(row, "  1  4.0 KiB");
}

/* A comm of wide characters: the columns after it still start under their headers. */
static void test_wide_characters_align(void **state)
{
	static const char comm[] = "\xc3\xa9\xe8\xa1\xa8\xe7\xa4\xba\xe5\xb9\x85"; /* é表示幅: 7 cells */
	struct iobuf_task *task = connect_as(comm);
	char part[64];
	struct iobuf *buf;
	struct result res;

	buf = iobuf_in_task_with_options(task, 0, 4096, 0);
	assert_non_null(buf);

	ctl_ok(&res, "clients");
	expect_aligned_clients(res.out, comm);
	/* In the C locale too: iobufctl reads UTF-8 all the same. */
	setenv("LC_ALL", "C", 1);
	ctl_ok(&res, "clients");
	unsetenv("LC_ALL");
	expect_aligned_clients(res.out, comm);

	ctl_ok(&res, "clients", "--json");
	snprintf(part, sizeof(part), "\"comm\":\"%s\"", comm);
	assert_has(res.out, part);
	json_expect(res.out, "any(c['comm'] == '\\u00e9\\u8868\\u793a\\u5e45' for c in d)");

	iobuf_release(buf);
	iobuf_task_unref(task);
}

static void test_bus_failures(void **state)
{
	struct bus_fixture other = { 0 };
	char address[300];
	struct result res;

	ctl(&res, "--address=unix:path=/nonexistent/bus", "status");
	expect_status(&res, 1);
	expect_stderr_has(&res, "iobufctl: cannot connect to the bus at unix:path=/nonexistent/bus: ");
	ctl(&res, "--address=nonsense", "heaps");
	expect_status(&res, 1);
	expect_stderr_has(&res, "iobufctl: cannot connect to the bus at nonsense: ");

	/* A bus where no iobufd serves. */
	start_bus(&other);
	snprintf(address, sizeof(address), "--address=%s", other.address);
	ctl(&res, address, "status");
	expect_status(&res, 1);
	expect_stderr_has(&res, "iobufctl: status: ServiceUnknown: ");
	ctl(&res, address, "alloc", "4K");
	expect_status(&res, 1);
	expect_stderr_has(&res, "iobufctl: alloc: ServiceUnknown: ");
	ctl(&res, address, "limits");
	expect_status(&res, 1);
	expect_stderr_has(&res, "iobufctl: limits: ServiceUnknown: ");
	kill(other.bus_pid, SIGTERM);
	waitpid(other.bus_pid, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_bus_selection),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_heaps),
		cmocka_unit_test(test_clients_and_buffers),
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_alloc_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_purge),
		cmocka_unit_test(test_free_client),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_admin_commands_denied_to_others),
		cmocka_unit_test(test_strings_are_escaped),
		cmocka_unit_test(test_wide_characters_align),
		cmocka_unit_test(test_bus_failures),
	};

	/* Display widths are measured as iobufctl measures them (see cells()). */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		return fprintf(stderr, "no C.UTF-8 locale\n"), 1;
	return cmocka_run_group_tests_name("ctl", tests, setup, bus_fixture_teardown);
}
