/* SPDX-License-Identifier: MIT */
/*
 * libiobuf-dmaheap.so where the machine has no dma-buf heaps: what a
 * program that opens /dev/dma_heap/<name> gets from it, against a real
 * iobufd (memfd only, so it serves no dma-heap), a socket that only
 * listens (to see that nothing connects), or no daemon at all. Each check
 * runs dmaheap-probe under LD_PRELOAD (and under $IOBUFD_WRAPPER: valgrind
 * in scripts/test.sh, as the shim runs inside the probe). Checks about a
 * node that exists run the probe in a mount namespace of its own, whose
 * /dev is a tmpfs with two files: /dev/dma_heap/open, which the probe may
 * open, and /dev/dma_heap/locked (mode 0), which it may not, as it runs
 * without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH. The qemu guest
 * (tests/vm/dmaheap-shim.sh) checks the rest against real heaps.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include <cmocka.h>

#include "harness.h"

#define OUTPUT_MAX 8192

/* Where the probe's iobufd is. */
enum daemon_kind {
	DAEMON_RUNNING,   /* the group's iobufd */
	DAEMON_LISTENING, /* a socket that accepts nothing: any connection is a failure */
	DAEMON_ABSENT,    /* no socket at the path */
};

struct probe_run {
	enum daemon_kind daemon;
	bool nodes;        /* in a mount namespace with /dev/dma_heap/{open,locked} */
	const char *mode;  /* IOBUF_DMAHEAP, NULL for none */
};

struct probe_result {
	int status;
	char output[OUTPUT_MAX]; /* stdout: what the probe found wrong */
	char errors[OUTPUT_MAX]; /* stderr: what the shim said */
	bool connected;          /* something connected to the listening socket */
};

static struct test_daemon *daemon_of_group;
static char absent_socket[128];

static int group_setup(void **state)
{
	group_daemon_start(state);
	daemon_of_group = *state;
	snprintf(absent_socket, sizeof(absent_socket), "%s/absent.sock", daemon_of_group->dir);
	return 0;
}

static int listening_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(sock >= 0);
	assert_true(strlen(path) < sizeof(addr.sun_path));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	unlink(path);
	assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(sock, 8), 0);
	return sock;
}

static void write_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, "node", 4) != 4 || close(fd) < 0 || chmod(path, mode) < 0)
		_exit(120);
}

/*
 * In the child: a /dev of its own with the two heap nodes, and no
 * capability to override file modes, in this process and what it execs.
 */
static void make_nodes(void)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") < 0 || mkdir("/dev/dma_heap", 0755) < 0)
		_exit(121);
	write_file("/dev/dma_heap/open", 0644);
	write_file("/dev/dma_heap/locked", 0);
	if (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE) < 0 ||
	    prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH) < 0)
		_exit(122);
}

static void set_preload(void)
{
	const char *first = getenv("SANITIZER_PRELOAD");
	char value[1024];

	/* An ASan build's runtime must come before every other library. */
	snprintf(value, sizeof(value), "%s%s%s", first ? first : "", first ? " " : "",
		 getenv("IOBUF_DMAHEAP_LIBRARY"));
	setenv("LD_PRELOAD", value, 1);
}

static size_t split_words(char *text, const char **argv, size_t max)
{
	size_t n = 0;

	for (char *w = strtok(text, " "); w && n < max; w = strtok(NULL, " "))
		argv[n++] = w;
	return n;
}

static void exec_probe(const char *const *args)
{
	static char wrapper[512];
	const char *argv[64];
	size_t n = 0;

	if (getenv("IOBUFD_WRAPPER")) {
		snprintf(wrapper, sizeof(wrapper), "%s", getenv("IOBUFD_WRAPPER"));
		n = split_words(wrapper, argv, 32);
	}
	argv[n++] = getenv("DMAHEAP_PROBE");
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

static void read_all(int fd, char *text)
{
	ssize_t n = pread(fd, text, OUTPUT_MAX - 1, 0);

	text[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Runs dmaheap-probe with args (NULL-terminated) as run says, to its exit. */
static struct probe_result run_probe(const struct probe_run *run, const char *const *args)
{
	struct probe_result result = { .status = -1 };
	char listening[128];
	int out = memfd_create("probe-stdout", 0);
	int err = memfd_create("probe-stderr", 0);
	int sock = -1, status;
	const char *socket_path = daemon_of_group->socket;
	pid_t pid;

	assert_true(out >= 0 && err >= 0);
	if (run->daemon == DAEMON_LISTENING) {
		snprintf(listening, sizeof(listening), "%s/listening.sock", daemon_of_group->dir);
		sock = listening_socket(listening);
		socket_path = listening;
	} else if (run->daemon == DAEMON_ABSENT) {
		socket_path = absent_socket;
	}

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		if (run->nodes)
			make_nodes();
		set_preload();
		setenv("IOBUFD_SOCKET", socket_path, 1);
		setenv("IOBUF_TIMEOUT_MS", "2000", 1);
		if (run->mode)
			setenv("IOBUF_DMAHEAP", run->mode, 1);
		else
			unsetenv("IOBUF_DMAHEAP");
		exec_probe(args);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	result.status = WEXITSTATUS(status);
	read_all(out, result.output);
	read_all(err, result.errors);
	if (sock >= 0) {
		int accepted = accept4(sock, NULL, NULL, SOCK_CLOEXEC);

		result.connected = accepted >= 0;
		if (accepted >= 0)
			close(accepted);
		close(sock);
		unlink(listening);
	}
	return result;
}

static void assert_probe_passed(const struct probe_result *result)
{
	if (result->status != 0)
		fail_msg("dmaheap-probe exited with %d:\n%s%s", result->status, result->output,
			 result->errors);
}

static void assert_said_nothing(const struct probe_result *result)
{
	if (result->errors[0])
		fail_msg("the shim said: %s", result->errors);
}

/* Asserts that the shim said exactly one line, and that it is line. */
static void assert_said_once(const struct probe_result *result, const char *line)
{
	char expected[512];

	snprintf(expected, sizeof(expected), "%s\n", line);
	if (strcmp(result->errors, expected) != 0)
		fail_msg("the shim said:\n%s\nexpected once:\n%s", result->errors, expected);
}

/* The shim said once, for node, that no iobufd listens. */
static void assert_said_unreachable(const struct probe_result *result, const char *node)
{
	char line[512];

	snprintf(line, sizeof(line),
		 "libiobuf-dmaheap: cannot ask iobufd for %s: cannot connect to iobufd at %s: "
		 "No such file or directory", node, absent_socket);
	assert_said_once(result, line);
}

static void test_other_opens_and_ioctls_untouched(void **state)
{
	const struct probe_run run = { .daemon = DAEMON_LISTENING };
	struct probe_result result = run_probe(&run, (const char *const[]){ "untouched", NULL });

	assert_probe_passed(&result);
	assert_said_nothing(&result);
	assert_false(result.connected);
}

/* The kernel lets the program open the node: the program has it, iobufd is not asked. */
static void test_node_the_program_may_open_is_its_own(void **state)
{
	const struct probe_run run = { .daemon = DAEMON_LISTENING, .nodes = true };
	struct probe_result result =
		run_probe(&run, (const char *const[]){ "open", "node", "/dev/dma_heap/open", NULL });

	assert_probe_passed(&result);
	assert_said_nothing(&result);
	assert_false(result.connected);
}

/* Refused by the kernel (EACCES) or absent (ENOENT), a heap iobufd does not serve is ENOENT. */
static void test_heap_iobufd_does_not_serve_is_absent(void **state)
{
	const struct probe_run run = { .daemon = DAEMON_RUNNING, .nodes = true };
	struct probe_result locked =
		run_probe(&run, (const char *const[]){ "open", "ENOENT", "/dev/dma_heap/locked", NULL });
	struct probe_result absent =
		run_probe(&run, (const char *const[]){ "open", "ENOENT", "/dev/dma_heap/absent", NULL });

	assert_probe_passed(&locked);
	assert_said_nothing(&locked);
	assert_probe_passed(&absent);
	assert_said_nothing(&absent);
}

/* Without iobufd the kernel's answer stands, and the shim says why once. */
static void test_unreachable_daemon_leaves_the_kernels_answer(void **state)
{
	const struct probe_run run = { .daemon = DAEMON_ABSENT, .nodes = true };
	struct probe_result result =
		run_probe(&run, (const char *const[]){ "open", "EACCES", "/dev/dma_heap/locked", NULL });

	assert_probe_passed(&result);
	assert_said_unreachable(&result, "/dev/dma_heap/locked");
}

static void test_never_asks_nothing(void **state)
{
	const struct probe_run run = { .daemon = DAEMON_LISTENING, .nodes = true, .mode = "never" };
	struct probe_result locked =
		run_probe(&run, (const char *const[]){ "open", "EACCES", "/dev/dma_heap/locked", NULL });
	struct probe_result absent =
		run_probe(&run, (const char *const[]){ "open", "ENOENT", "/dev/dma_heap/absent", NULL });

	assert_probe_passed(&locked);
	assert_said_nothing(&locked);
	assert_false(locked.connected);
	assert_probe_passed(&absent);
	assert_false(absent.connected);
}

/* always brokers a node the program may open: unserved, it is absent, and the real fd is closed. */
static void test_always_brokers_an_open_node(void **state)
{
	const struct probe_run run = { .daemon = DAEMON_RUNNING, .nodes = true, .mode = "always" };
	struct probe_result result =
		run_probe(&run, (const char *const[]){ "open", "ENOENT", "/dev/dma_heap/open", NULL });

	assert_probe_passed(&result);
	assert_said_nothing(&result);
}

static void test_always_without_daemon_keeps_the_node(void **state)
{
	const struct probe_run run = { .daemon = DAEMON_ABSENT, .nodes = true, .mode = "always" };
	struct probe_result result =
		run_probe(&run, (const char *const[]){ "open", "node", "/dev/dma_heap/open", NULL });

	assert_probe_passed(&result);
	assert_said_unreachable(&result, "/dev/dma_heap/open");
}

static void test_unknown_mode_is_auto(void **state)
{
	const struct probe_run run = { .daemon = DAEMON_RUNNING, .nodes = true, .mode = "sometimes" };
	struct probe_result locked =
		run_probe(&run, (const char *const[]){ "open", "ENOENT", "/dev/dma_heap/locked", NULL });
	struct probe_result open_node =
		run_probe(&run, (const char *const[]){ "open", "node", "/dev/dma_heap/open", NULL });

	assert_probe_passed(&locked);
	assert_said_once(&locked, "libiobuf-dmaheap: IOBUF_DMAHEAP=sometimes is none of auto, "
				  "always and never; taken as auto");
	assert_probe_passed(&open_node);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_other_opens_and_ioctls_untouched),
		cmocka_unit_test(test_node_the_program_may_open_is_its_own),
		cmocka_unit_test(test_heap_iobufd_does_not_serve_is_absent),
		cmocka_unit_test(test_unreachable_daemon_leaves_the_kernels_answer),
		cmocka_unit_test(test_never_asks_nothing),
		cmocka_unit_test(test_always_brokers_an_open_node),
		cmocka_unit_test(test_always_without_daemon_keeps_the_node),
		cmocka_unit_test(test_unknown_mode_is_auto),
	};

	return cmocka_run_group_tests(tests, group_setup, group_daemon_stop);
}
