/* SPDX-License-Identifier: MIT */
/*
 * A hostile local user who read protocol/README.md. Each test attacks a
 * real iobufd one way and asserts that the daemon survives, that another
 * uid (nobody) is still served, that the daemon's fds come back to what
 * they were, and that the attacker was told why it was refused.
 *
 * The attacker is this process (root); the victim a child as nobody.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define NOBODY 65534
#define MAX_ATTACK 512

/*
 * What the daemon's resident memory may grow by after an attack: its
 * allocator's slack, or what AddressSanitizer's quarantine and valgrind keep.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_SLACK_KB (64 * 1024)
#else
#define RSS_SLACK_KB (getenv("IOBUFD_WRAPPER") ? 64 * 1024 : 2048)
#endif

struct fixture {
	struct test_daemon daemon;
	size_t baseline_fds; /* the daemon's open fds while serving one client */
	long baseline_rss_kb;
};

/* The fixture in use, reachable from here for forked children (valgrind's leak check). */
static struct fixture *volatile current;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Starts iobufd with extra arguments, under prlimit --nofile=nofile when not 0. */
static struct fixture *start(const char *const *extra_args, unsigned nofile)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *wrapper = getenv("IOBUFD_WRAPPER");
	char *saved = wrapper ? strdup(wrapper) : NULL;
	struct iobuf_task *task;
	char limited[512];

	assert_non_null(f);
	if (nofile) {
		snprintf(limited, sizeof(limited), "prlimit --nofile=%u:%u%s%s", nofile, nofile,
			 saved ? " " : "", saved ? saved : "");
		setenv("IOBUFD_WRAPPER", limited, 1);
	}
	test_daemon_start(&f->daemon, extra_args);
	if (saved)
		setenv("IOBUFD_WRAPPER", saved, 1);
	else
		unsetenv("IOBUFD_WRAPPER");
	free(saved);
	assert_int_equal(chmod(f->daemon.dir, 0755), 0); /* so that nobody reaches the socket */
	task = iobuf_task_connect(f->daemon.socket);
	assert_non_null(task);
	(void)usage_of(task);
	f->baseline_fds = count_fds(f->daemon.pid);
	f->baseline_rss_kb = process_rss_kib(f->daemon.pid);
	iobuf_task_unref(task);
	current = f;
	return f;
}

/*
 * As nobody, in a child: connects, allocates a 4 KiB buffer, writes it and
 * releases it. The child's exit status: 0 when all of it worked.
 */
static int victim_attempt(const struct fixture *f, unsigned deadline_ms)
{
	pid_t child = fork();
	int status;

	assert_true(child >= 0);
	if (child == 0) {
		struct iobuf_task *task;
		struct iobuf *buf;

		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(10);
		alarm(deadline_ms / 1000 + 2);
		task = iobuf_task_connect(f->daemon.socket);
		if (!task) {
			fprintf(stderr, "victim: connect: %s (%s)\n", strerror(errno),
				iobuf_last_error());
			_exit(11);
		}
		buf = iobuf_in_task_with_options(task, 0, 4096, 0);
		if (!buf) {
			fprintf(stderr, "victim: allocate: %s (%s)\n", strerror(errno),
				iobuf_last_error());
			_exit(12);
		}
		memset(iobuf_get_bytes_no_copy(buf), 0x5a, 4096);
		iobuf_release(buf);
		iobuf_task_unref(task);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Asserts that nobody is served, in one attempt, within deadline_ms. */
static void assert_victim_served(const struct fixture *f, unsigned deadline_ms)
{
	uint64_t begin = now_ms();

	assert_int_equal(victim_attempt(f, deadline_ms), 0);
	assert_true(now_ms() - begin <= deadline_ms);
}

/* Asserts that nobody, trying again every 50 ms, is served within deadline_ms. */
static void assert_victim_served_soon(const struct fixture *f, unsigned deadline_ms)
{
	uint64_t end = now_ms() + deadline_ms;

	while (victim_attempt(f, deadline_ms) != 0) {
		assert_true(now_ms() < end);
		usleep(50000);
	}
}

/* The daemon is alive, holds no buffer and has the fds it had at start. */
static void assert_back_to_baseline(struct fixture *f)
{
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf_usage usage = { 0 };
	size_t fds = 0;

	assert_non_null(task);
	for (int tries = 0; tries < 1000; tries++) {
		usage = usage_of(task);
		fds = count_fds(f->daemon.pid);
		if (usage.clients == 1 && usage.total_buffers == 0 && fds == f->baseline_fds)
			break;
		usleep(10000);
	}
	iobuf_task_unref(task);
	assert_int_equal(usage.clients, 1);
	assert_int_equal(usage.total_buffers, 0);
	assert_int_equal(fds, f->baseline_fds);
	assert_true(test_daemon_alive(&f->daemon));
	if (process_rss_kib(f->daemon.pid) > f->baseline_rss_kb + RSS_SLACK_KB)
		fail_msg("the daemon's RSS grew from %ld to %ld KiB", f->baseline_rss_kb,
			 process_rss_kib(f->daemon.pid));
	print_message("daemon RSS %ld KiB, %ld at start\n", process_rss_kib(f->daemon.pid),
		      f->baseline_rss_kb);
}

static void stop(struct fixture *f)
{
	test_daemon_stop(&f->daemon);
	free(f);
	current = NULL;
}

/* Receives one reply and asserts it is the error err whose message has part. */
static void expect_refusal(int sock, int err, const char *part)
{
	struct wire_message reply;
	const char *reason;
	int fd;

	assert_int_equal(wire_recv(sock, &reply, &fd, 0, &reason), 0);
	assert_int_equal(reply.header.opcode, WIRE_ERROR);
	assert_int_equal(reply.error.error, err);
	if (!strstr(reply.error.message, part))
		fail_msg("\"%s\" lacks \"%s\"", reply.error.message, part);
}

/*
 * Untouched 4 KiB buffers cost no memory but one daemon fd each: one uid
 * gets its share of the fds and no more, and nobody is still served.
 */
static void test_fd_share(void **state)
{
	struct fixture *f = start(NULL, 400);
	struct iobuf_task *tasks[4];
	struct iobuf *held[MAX_ATTACK];
	size_t n = 0;

	for (size_t t = 0; t < 3; t++) {
		tasks[t] = iobuf_task_connect(f->daemon.socket);
		assert_non_null(tasks[t]);
	}
	/* Its share of 28 clients (400 fds shared out) is 3 connections. */
	assert_refused(iobuf_task_connect(f->daemon.socket), EUSERS,
		       "uid 0 client limit 3 (its share of max-clients) reached: 3 clients");
	for (; n < MAX_ATTACK; n++) {
		held[n] = iobuf_in_task_with_options(tasks[n % 3], IOBUF_PAGEABLE, 4096, 0);
		if (!held[n])
			break;
	}
	assert_true(n > 0 && n < MAX_ATTACK);
	assert_int_equal(errno, EDQUOT);
	if (!strstr(iobuf_last_error(), "uid 0 (its share of the daemon's file descriptors) "
					"buffer limit"))
		fail_msg("refusal: %s", iobuf_last_error());
	assert_victim_served(f, 2000);

	while (n)
		iobuf_release(held[--n]);
	for (size_t t = 0; t < 3; t++)
		iobuf_task_unref(tasks[t]);
	assert_back_to_baseline(f);
	stop(f);
}

/* With max-uid-buffers lifted, the daemon's buffer budget still holds for all. */
static void test_fd_budget(void **state)
{
	static const char *const args[] = { "--max-uid-buffers=100000", NULL };
	struct fixture *f = start(args, 400);
	struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
	struct iobuf *held[MAX_ATTACK];
	char expected[128];
	size_t n = 0;

	for (; n < MAX_ATTACK; n++) {
		held[n] = iobuf_in_task_with_options(task, IOBUF_PAGEABLE, 4096, 0);
		if (!held[n])
			break;
	}
	/* 400 fds: 64 kept, 28 clients x 3, 252 for buffers (valgrind keeps 12 of them). */
	assert_true(n == 252 || (getenv("IOBUFD_WRAPPER") && n == 243));
	assert_int_equal(errno, ENOMEM);
	snprintf(expected, sizeof(expected), "file descriptor budget for buffers %zu reached: "
		 "%zu buffers held", n, n);
	if (!strstr(iobuf_last_error(), expected))
		fail_msg("refusal: %s", iobuf_last_error());
	assert_true(test_daemon_alive(&f->daemon));
	while (n)
		iobuf_release(held[--n]);
	iobuf_task_unref(task);
	assert_victim_served(f, 2000);
	assert_back_to_baseline(f);
	stop(f);
}

/*
 * Idle connections that never say hello: one uid gets its share of the
 * client slots, nobody still gets one, and after the hello deadline the
 * idle ones are gone.
 */
static void test_connection_flood(void **state)
{
	struct fixture *f = start(NULL, 0);
	int socks[64];
	size_t n;

	for (n = 0; n < 32; n++) {
		socks[n] = raw_connect(f->daemon.socket);
		assert_true(socks[n] >= 0);
	}
	/* The 33rd of uid 0 is turned away with its reason; accept is not blocked. */
	socks[n] = raw_connect(f->daemon.socket);
	assert_true(socks[n] >= 0);
	expect_refusal(socks[n], EUSERS, "uid 0 client limit 32 (its share of max-clients) "
					 "reached: 32 clients connected");
	close(socks[n]);
	assert_victim_served(f, 2000);

	/* None said hello: all are closed at the deadline. */
	for (size_t i = 0; i < n; i++) {
		struct wire_message reply;
		const char *reason;
		int fd;

		assert_int_equal(wire_recv(socks[i], &reply, &fd, 0, &reason), -ECONNRESET);
		close(socks[i]);
	}
	assert_back_to_baseline(f);
	stop(f);
}

/* Opens connections that say hello, until the daemon turns one away; how many. */
static size_t flood(const struct fixture *f, int *socks, size_t max, int *refusal)
{
	size_t n;

	for (n = 0; n < max; n++) {
		struct wire_message hello = { .header = { WIRE_HELLO, 0, 1 },
					      .hello.version = WIRE_VERSION };
		struct wire_message reply;
		const char *reason;
		int fd;

		socks[n] = raw_connect(f->daemon.socket);
		assert_true(socks[n] >= 0);
		assert_int_equal(wire_send(socks[n], &hello, -1, 0), 0);
		assert_int_equal(wire_recv(socks[n], &reply, &fd, 0, &reason), 0);
		if (reply.header.opcode == WIRE_ERROR) {
			*refusal = reply.error.error;
			close(socks[n]);
			return n;
		}
	}
	return n;
}

/*
 * The daemon runs out of fds (its limit lowered under it): clients are
 * turned away with EMFILE rather than left waiting, and once the flood
 * ends new clients are served within a second or two.
 */
static void test_accept_recovers_from_emfile(void **state)
{
	struct fixture *f = start(NULL, 0);
	struct rlimit saved, low;
	int socks[32], refusal = 0;
	size_t n;

	/* The soft limit only: raising a hard one back needs CAP_SYS_RESOURCE. */
	assert_int_equal(prlimit(f->daemon.pid, RLIMIT_NOFILE, NULL, &saved), 0);
	low = (struct rlimit){ .rlim_cur = f->baseline_fds + 8, .rlim_max = saved.rlim_max };
	if (prlimit(f->daemon.pid, RLIMIT_NOFILE, &low, NULL) < 0)
		fail_msg("prlimit on the daemon: %s", strerror(errno));
	n = flood(f, socks, 32, &refusal);
	assert_true(n < 32);
	assert_int_equal(refusal, EMFILE);
	/* Again: the daemon keeps turning clients away while it is short. */
	socks[n] = raw_connect(f->daemon.socket);
	assert_true(socks[n] >= 0);
	expect_refusal(socks[n], EMFILE, "out of file descriptors");
	close(socks[n]);

	while (n)
		close(socks[--n]);
	assert_victim_served_soon(f, 2000);
	if (prlimit(f->daemon.pid, RLIMIT_NOFILE, &saved, NULL) < 0)
		fail_msg("prlimit on the daemon: %s", strerror(errno));
	assert_back_to_baseline(f);
	stop(f);
}

/* Records cut short at every length of the header and of an allocate. */
static void test_truncated_records(void **state)
{
	struct fixture *f = start(NULL, 0);
	struct wire_message allocate = { .header = { WIRE_ALLOCATE, 0, 3 },
					 .allocate.capacity = 4096 };
	uint8_t buf[WIRE_MAX_MESSAGE];
	ssize_t len = wire_encode(&allocate, buf, sizeof(buf));

	assert_true(len > WIRE_HEADER_SIZE);
	for (ssize_t cut = 0; cut < len; cut++) {
		int sock = raw_connect(f->daemon.socket);

		raw_hello(sock);
		if (cut >= 2) /* the size field says what was sent, when it is there */
			buf[2] = (uint8_t)cut;
		assert_int_equal(send(sock, buf, (size_t)cut, MSG_NOSIGNAL), cut);
		expect_refusal(sock, EBADMSG, cut < WIRE_HEADER_SIZE ? "truncated header"
								 : "shorter than its opcode");
		assert_true(raw_closed(sock));
		close(sock);
	}
	assert_victim_served(f, 2000);
	assert_back_to_baseline(f);
	stop(f);
}

/* Empty records, each carrying 16 fds: every fd is closed, each sender told EBADMSG. */
static void test_empty_records_with_fds(void **state)
{
	struct fixture *f = start(NULL, 0);

	for (int round = 0; round < 50; round++) {
		int sock = raw_connect(f->daemon.socket);

		raw_hello(sock);
		raw_send_with_fds(sock, "", 0, 16);
		expect_refusal(sock, EBADMSG, "truncated header");
		close(sock);
	}
	assert_victim_served(f, 2000);
	assert_back_to_baseline(f);
	stop(f);
}

/* Records over 4096 bytes, with and without fds on them. */
static void test_oversized_records(void **state)
{
	struct fixture *f = start(NULL, 0);
	static uint8_t big[65536];

	for (int round = 0; round < 20; round++) {
		int sock = raw_connect(f->daemon.socket);

		raw_hello(sock);
		memset(big, round, sizeof(big));
		assert_int_equal(send(sock, big, sizeof(big), MSG_NOSIGNAL), (ssize_t)sizeof(big));
		expect_refusal(sock, EMSGSIZE, "larger than 4096 bytes");
		assert_true(raw_closed(sock));
		close(sock);
	}
	assert_victim_served(f, 2000);
	assert_back_to_baseline(f);
	stop(f);
}

/* Sends an fd on every kind of request that takes none. */
static void test_fds_where_none_belong(void **state)
{
	static const uint16_t opcodes[] = { WIRE_HELLO, WIRE_ALLOCATE, WIRE_FREE,
					    WIRE_SET_PURGEABLE, WIRE_QUERY, WIRE_STATS };
	struct fixture *f = start(NULL, 0);

	for (size_t i = 0; i < sizeof(opcodes) / sizeof(opcodes[0]); i++) {
		struct wire_message msg = { .header = { opcodes[i], 0, 9 } };
		int sock = raw_connect(f->daemon.socket), fd = open("/dev/null", O_RDONLY);

		if (opcodes[i] != WIRE_HELLO)
			raw_hello(sock);
		msg.hello.version = WIRE_VERSION;
		if (opcodes[i] == WIRE_ALLOCATE || opcodes[i] == WIRE_QUERY)
			msg.allocate = (struct wire_allocate){ .capacity = 4096 };
		assert_int_equal(wire_send(sock, &msg, fd, 0), 0);
		close(fd);
		expect_refusal(sock, EBADMSG, "only charge-to carries a file descriptor");
		assert_true(raw_closed(sock));
		close(sock);
	}
	assert_victim_served(f, 2000);
	assert_back_to_baseline(f);
	stop(f);
}

/* Clients that send allocations and die before reading the answers. */
static void test_clients_dying_mid_request(void **state)
{
	struct fixture *f = start(NULL, 0);
	struct wire_message allocate = { .header = { WIRE_ALLOCATE, 0, 1 },
					 .allocate.capacity = 1 << 20 };

	for (int round = 0; round < 200; round++) {
		int sock = raw_connect(f->daemon.socket);

		raw_hello(sock);
		for (int i = 0; i < 8; i++)
			assert_int_equal(wire_send(sock, &allocate, -1, 0), 0);
		close(sock);
	}
	assert_victim_served(f, 2000);
	assert_back_to_baseline(f);
	stop(f);
}

/* Readers that never read: the daemon drops them rather than stall. */
static void test_slow_readers(void **state)
{
	struct fixture *f = start(NULL, 0);
	struct wire_message stats = { .header = { WIRE_STATS, 0, 2 } };
	uint8_t record[WIRE_MAX_MESSAGE];
	ssize_t len = wire_encode(&stats, record, sizeof(record));
	int socks[8];

	for (size_t s = 0; s < 8; s++) {
		struct timeval wait = { .tv_usec = 100000 };
		uint64_t end = now_ms() + 3000;

		socks[s] = raw_connect(f->daemon.socket);
		raw_hello(socks[s]);
		setsockopt(socks[s], SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait));
		/* Requests until the daemon hangs up; their replies are never read. */
		while (now_ms() < end &&
		       (send(socks[s], record, (size_t)len, MSG_NOSIGNAL) >= 0 || errno == EAGAIN))
			;
	}
	assert_victim_served(f, 2000);
	for (size_t s = 0; s < 8; s++)
		assert_true(raw_closed(socks[s]));
	for (size_t s = 0; s < 8; s++)
		close(socks[s]);
	assert_back_to_baseline(f);
	stop(f);
}

/* Many clients allocating and releasing at once while nobody asks for one buffer. */
static void test_allocation_storm(void **state)
{
	struct fixture *f = start(NULL, 0);
	pid_t stormers[4];

	for (size_t s = 0; s < 4; s++) {
		stormers[s] = fork();
		assert_true(stormers[s] >= 0);
		if (stormers[s] == 0) {
			struct iobuf_task *task = iobuf_task_connect(f->daemon.socket);
			uint64_t end = now_ms() + 1500;

			while (task && now_ms() < end) {
				struct iobuf *buf = iobuf_in_task_with_options(task, 0, 65536, 0);

				if (buf)
					iobuf_release(buf);
			}
			iobuf_task_unref(task);
			_exit(0);
		}
	}
	usleep(200000);
	assert_victim_served(f, 2000);
	for (size_t s = 0; s < 4; s++)
		assert_int_equal(waitpid(stormers[s], NULL, 0), stormers[s]);
	assert_back_to_baseline(f);
	stop(f);
}

/* Lines of the file at path that contain text. */
static size_t lines_with(const char *path, const char *text)
{
	char line[1024];
	size_t n = 0;
	FILE *f = fopen(path, "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/* Connects, sends a record too short to be a message, and sees the refusal. */
static void misbehave_once(const struct fixture *f)
{
	int sock = raw_connect(f->daemon.socket);

	assert_int_equal(send(sock, "junk", 4, MSG_NOSIGNAL), 4);
	expect_refusal(sock, EBADMSG, "truncated header");
	close(sock);
}

/*
 * A client that connects and misbehaves in a loop: its uid gets a few log
 * lines a second and a count of the rest, not one line per attempt.
 */
static void test_log_flood(void **state)
{
	char log_path[] = "/tmp/iobufd-hostile-log.XXXXXX";
	int log_fd = mkstemp(log_path), saved = dup(STDERR_FILENO);
	uint64_t begin, allowed;
	struct fixture *f;

	assert_true(log_fd >= 0 && saved >= 0);
	dup2(log_fd, STDERR_FILENO); /* the daemon's stderr */
	f = start(NULL, 0);
	dup2(saved, STDERR_FILENO);
	close(saved);

	begin = now_ms();
	for (int round = 0; round < 300; round++)
		misbehave_once(f);
	/* The burst, and what each second of the elapsed time adds. */
	allowed = 20 + 5 * ((now_ms() - begin) / 1000 + 1);
	assert_true(lines_with(log_path, "disconnecting") <= allowed);
	assert_victim_served(f, 2000);

	/* Once the uid may log again, a line counts what was left out. */
	sleep(1);
	misbehave_once(f);
	assert_back_to_baseline(f);
	assert_true(lines_with(log_path, "disconnecting") <= allowed + 5 + 1);
	assert_true(lines_with(log_path, "lines its clients caused were not logged") >= 1);
	stop(f);
	close(log_fd);
	unlink(log_path);
}

static int require_root(void **state)
{
	if (geteuid() != 0)
		fail_msg("the hostile-client suite runs as root, so that nobody can be the victim");
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_share),
		cmocka_unit_test(test_fd_budget),
		cmocka_unit_test(test_connection_flood),
		cmocka_unit_test(test_accept_recovers_from_emfile),
		cmocka_unit_test(test_truncated_records),
		cmocka_unit_test(test_empty_records_with_fds),
		cmocka_unit_test(test_oversized_records),
		cmocka_unit_test(test_fds_where_none_belong),
		cmocka_unit_test(test_clients_dying_mid_request),
		cmocka_unit_test(test_slow_readers),
		cmocka_unit_test(test_allocation_storm),
		cmocka_unit_test(test_log_flood),
	};

	return cmocka_run_group_tests_name("hostile", tests, require_root, NULL);
}
