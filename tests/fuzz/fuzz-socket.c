/* SPDX-License-Identifier: MIT */
/*
 * Random and mutated records against a live iobufd (in scripts/test.sh the
 * ASan/UBSan build's): many connections at once, sent valid requests,
 * mutations of them, random bytes, truncated headers, oversize and empty
 * records, with fds in SCM_RIGHTS now and then, opened, half-closed and
 * dropped at random, for a bounded count and time. Every reply must decode.
 * Then the daemon must be alive, serve a normal client, hold nothing for
 * the connections gone, have the fds it had before and exit cleanly, which
 * under ASan means LeakSanitizer found nothing.
 *
 * $IOBUFD_FUZZ_SEED is the PRNG's seed (default 1; a failure names it),
 * $IOBUFD_FUZZ_SECONDS and $IOBUFD_FUZZ_RECORDS bound the run (20 s, 300000).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fuzz-common.h"
#include "harness.h"
#include "iobuf/iobuf.h"
#include "wire.h"

#define CONNECTIONS 32
#define IDS_KEPT 16
#define MAX_FDS 20
#define RECV_ROOM 16 /* what the daemon takes in one record (wire_io.c) */
#define BATCH 8
#define REPLY_WAIT_MS 200

struct conn {
	int sock; /* -1: closed */
	unsigned valid_percent; /* of its records that are well formed */
	size_t unanswered;      /* records sent that may still get a reply, or a hang-up */
	bool greeted;           /* it sent hello */
	uint32_t next_request;
	uint64_t ids[IDS_KEPT]; /* buffers the daemon gave this connection */
	size_t id_count;
};

struct stats {
	size_t valid, mutated, random, truncated, oversize, empty, with_fds;
	size_t connections, replies, sent_failed;
};

static struct {
	uint64_t prng;
	struct conn conns[CONNECTIONS];
	struct stats stats;
	int exited_pidfd;         /* of a child that exited and is never reaped */
	uint64_t seed;
	size_t records;           /* sent so far */
	struct iobuf_task *probe; /* a quiet client, there all along */
	int log_fd;               /* the daemon's stderr: a line per violation */
	int saved_stderr;
	bool passed;
} f = { .log_fd = -1, .saved_stderr = -1 };

/* splitmix64: small, and every seed gives a good sequence. */
static uint64_t next(void)
{
	uint64_t z = (f.prng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A number in 0..n-1. */
static size_t pick(size_t n)
{
	return (size_t)(next() % n);
}

static bool chance(unsigned percent)
{
	return pick(100) < percent;
}

static uint64_t env_number(const char *name, uint64_t fallback)
{
	const char *text = getenv(name);

	return text && *text ? strtoull(text, NULL, 0) : fallback;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An fd of a random kind to send along; the caller closes it. */
static int random_fd(void)
{
	unsigned kind = (unsigned)pick(FUZZ_FD_KINDS + 1);
	int fd;

	if (kind < FUZZ_FD_KINDS)
		return fuzz_make_fd(kind);
	fd = fcntl(f.exited_pidfd, F_DUPFD_CLOEXEC, 3);
	assert_true(fd >= 0);
	return fd;
}

static void conn_close(struct conn *c)
{
	if (c->sock >= 0)
		close(c->sock);
	*c = (struct conn){ .sock = -1 };
}

static void restore_stderr(void)
{
	if (f.saved_stderr < 0)
		return;
	dup2(f.saved_stderr, STDERR_FILENO);
	close(f.saved_stderr);
	f.saved_stderr = -1;
}

/* Some connections mostly follow the protocol and get far, some hardly do. */
static void conn_open(struct conn *c)
{
	static const unsigned valid_percents[] = { 100, 99, 95, 80, 30 };

	conn_close(c);
	c->sock = raw_connect(getenv("IOBUFD_SOCKET"));
	c->valid_percent = valid_percents[pick(sizeof(valid_percents) / sizeof(valid_percents[0]))];
	if (c->sock >= 0)
		f.stats.connections++;
}

static void fail_with_seed(const char *what)
{
	fail_msg("%s (seed %llu, after %zu records: IOBUFD_FUZZ_SEED=%llu reproduces it)", what,
		 (unsigned long long)f.seed, f.records, (unsigned long long)f.seed);
}

/*
 * Reads the replies waiting on c: each must decode; the buffer ids are kept.
 * A daemon that hangs up with requests unread makes the next read fail with
 * ECONNRESET once, the replies it sent still queued; a second is the end.
 */
static void drain(struct conn *c)
{
	struct wire_message reply;
	const char *reason;
	bool reset = false;
	int fd, r;

	while (c->sock >= 0) {
		r = wire_recv(c->sock, &reply, &fd, MSG_DONTWAIT, &reason);
		if (r == -EAGAIN)
			return;
		if (r == -ECONNRESET && !reset) {
			reset = true;
			continue;
		}
		if (r == -ECONNRESET || r == -EPIPE) {
			conn_close(c);
			return;
		}
		if (r < 0) {
			char what[WIRE_MAX_ERROR_MESSAGE + 64];

			snprintf(what, sizeof(what), "the daemon sent a record that does not decode: %s",
				 reason ? reason : strerror(-r));
			fail_with_seed(what);
		}
		reset = false;
		f.stats.replies++;
		if (c->unanswered)
			c->unanswered--;
		if (fd >= 0)
			close(fd);
		if (reply.header.opcode == WIRE_ALLOCATE_REPLY && c->id_count < IDS_KEPT)
			c->ids[c->id_count++] = reply.allocate_reply.id;
	}
}

/* A buffer id of c's, or now and then one that is not. */
static uint64_t some_id(const struct conn *c)
{
	if (c->id_count && !chance(20))
		return c->ids[pick(c->id_count)];
	return chance(50) ? next() : pick(64);
}

static uint32_t some_options(void)
{
	static const uint32_t valid[] = {
		0,
		IOBUF_PAGEABLE,
		IOBUF_PAGEABLE | IOBUF_PURGEABLE,
		IOBUF_KERNEL_USER_SHARED | IOBUF_CACHE_WRITECOMBINE,
		IOBUF_CACHE_INHIBIT,
		IOBUF_PHYSICALLY_CONTIGUOUS,
	};

	return chance(90) ? valid[pick(sizeof(valid) / sizeof(valid[0]))] : (uint32_t)next();
}

/* A request that is well formed; whether the daemon grants it is another matter. */
static void valid_request(struct conn *c, struct wire_message *m, bool *wants_pidfd)
{
	static const uint64_t capacities[] = { 1, 4096, 65536, 1 << 20, (1 << 20) + 1, 0 };
	unsigned what;

	*m = (struct wire_message){ .header.request_id = c->next_request++ };
	*wants_pidfd = false;
	if (!c->greeted && !chance(5)) {
		m->header.opcode = WIRE_HELLO;
		m->hello.version = chance(95) ? WIRE_VERSION : (uint32_t)pick(4);
		c->greeted = true; /* or refused and hung up on */
		return;
	}
	what = (unsigned)pick(100);
	if (what < 30) {
		m->header.opcode = chance(85) ? WIRE_ALLOCATE : WIRE_QUERY;
		m->allocate.options = some_options();
		m->allocate.capacity = capacities[pick(sizeof(capacities) / sizeof(capacities[0]))];
		m->allocate.alignment = chance(80) ? 0 : (uint64_t)1 << pick(40);
		m->allocate.physical_mask = chance(90) ? 0 : next();
	} else if (what < 45) {
		m->header.opcode = WIRE_FREE;
		m->free.id = some_id(c);
	} else if (what < 70) {
		m->header.opcode = WIRE_SET_PURGEABLE;
		m->set_purgeable.id = some_id(c);
		m->set_purgeable.state = (uint32_t)pick(6);
	} else if (what < 82) {
		m->header.opcode = WIRE_STATS;
	} else if (what < 90) {
		m->header.opcode = WIRE_ALLOCATE_IMAGE;
		m->allocate_image.width = (uint32_t)pick(2048);
		m->allocate_image.height = (uint32_t)pick(2048);
		m->allocate_image.fourcc = 0x34325258; /* XRGB8888 */
		m->allocate_image.modifier_count = (uint32_t)pick(WIRE_MAX_MODIFIERS + 1);
	} else if (what < 99) {
		m->header.opcode = WIRE_CHARGE_TO;
		*wants_pidfd = chance(90);
	} else {
		m->header.opcode = WIRE_HELLO; /* again: a violation */
		m->hello.version = WIRE_VERSION;
	}
}

/* Bit flips, overwritten bytes, a cut, an extension, a wrong size or opcode. */
static size_t mutate(uint8_t *buf, size_t len, size_t room)
{
	size_t n = 1 + pick(4);

	for (size_t i = 0; i < n && len; i++) {
		switch (pick(6)) {
		case 0:
			buf[pick(len)] ^= (uint8_t)(1u << pick(8));
			break;
		case 1:
			buf[pick(len)] = (uint8_t)next();
			break;
		case 2:
			len = pick(len + 1);
			break;
		case 3: {
			size_t extra = 1 + pick(16);

			for (size_t j = 0; j < extra && len < room; j++)
				buf[len++] = (uint8_t)next();
			break;
		}
		case 4:
			if (len >= 4) {
				uint16_t size = (uint16_t)(chance(50) ? next() : len + pick(3) - 1);

				memcpy(buf + 2, &size, sizeof(size));
			}
			break;
		case 5:
			if (len >= 2) {
				uint16_t opcode = (uint16_t)(chance(50) ? pick(10) : next());

				memcpy(buf, &opcode, sizeof(opcode));
			}
			break;
		}
	}
	return len;
}

/* A valid request on c, encoded into buf; its length. */
static size_t encode_request(struct conn *c, uint8_t *buf, size_t room, bool *wants_pidfd)
{
	struct wire_message m;
	ssize_t n;

	valid_request(c, &m, wants_pidfd);
	n = wire_encode(&m, buf, room);
	assert_true(n > 0);
	return (size_t)n;
}

/*
 * The bytes of c's next record in buf: mostly a valid request, as often as
 * c's temperament says; else a mutated one, random bytes, a truncated header,
 * an oversize or an empty record. Its length.
 */
static size_t next_record(struct conn *c, uint8_t *buf, size_t room, bool *well_formed,
			  bool *wants_pidfd)
{
	unsigned kind = (unsigned)pick(100);
	size_t len;

	*wants_pidfd = false;
	*well_formed = pick(100) < c->valid_percent;
	if (*well_formed) {
		f.stats.valid++;
		return encode_request(c, buf, room, wants_pidfd);
	}
	if (kind < 30) {
		f.stats.mutated++;
		return mutate(buf, encode_request(c, buf, room, wants_pidfd), room);
	}
	if (kind < 55) {
		f.stats.random++;
		len = chance(90) ? pick(64) : pick(room);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)next();
		return len;
	}
	if (kind < 70) {
		f.stats.truncated++;
		encode_request(c, buf, room, wants_pidfd);
		return 1 + pick(WIRE_HEADER_SIZE - 1);
	}
	if (kind < 85) {
		f.stats.oversize++;
		len = WIRE_MAX_MESSAGE + 1 + pick(room - WIRE_MAX_MESSAGE);
		memset(buf, 0, len);
		return len;
	}
	f.stats.empty++;
	return 0;
}

/* One record on c, with the fds that ride along. */
static void send_one(struct conn *c)
{
	static uint8_t buf[WIRE_MAX_MESSAGE * 2];
	bool well_formed, wants_pidfd;
	size_t len, fd_count = 0;
	int fds[MAX_FDS];
	int r;

	len = next_record(c, buf, sizeof(buf), &well_formed, &wants_pidfd);
	/* An fd on any record but charge-to is a violation: rare on well-formed ones. */
	if (wants_pidfd)
		fd_count = 1;
	else if (chance(well_formed ? 2 : 20))
		fd_count = chance(80) ? 1 + pick(3) : RECV_ROOM + pick(MAX_FDS - RECV_ROOM + 1);
	for (size_t i = 0; i < fd_count; i++)
		fds[i] = random_fd();
	if (fd_count)
		f.stats.with_fds++;

	r = fuzz_send_record(c->sock, buf, len, fds, fd_count, MSG_DONTWAIT);
	fuzz_close_fds(fds, fd_count);
	if (r == 0) {
		c->unanswered++;
	} else if (r == -EAGAIN) {
		drain(c); /* the daemon is behind: our replies fill its socket */
	} else {
		/* It hung up on us (a violation): what it answered first is still to read. */
		f.stats.sent_failed++;
		drain(c);
		conn_close(c);
	}
}

/* Something to do on c: mostly a record, now and then a hang-up. */
static void act(struct conn *c)
{
	unsigned what = (unsigned)pick(100);

	if (c->sock < 0) {
		conn_open(c);
	} else if (what < 96) {
		send_one(c);
		f.records++;
	} else if (what < 98) {
		conn_close(c); /* abruptly, replies and all */
	} else if (what < 99) {
		shutdown(c->sock, SHUT_WR);
		c->unanswered++; /* the daemon hangs up */
	} else {
		conn_open(c);
	}
}

/* Gives the daemon up to timeout_ms to answer c, then reads what it sent. */
static void await_replies(struct conn *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->sock, .events = POLLIN };

	if (c->sock >= 0 && c->unanswered && poll(&pfd, 1, timeout_ms) >= 0)
		drain(c);
}

/*
 * A round: something done on a few connections at once, then their answers
 * awaited, so that the fuzzing goes as fast as the daemon answers and no
 * faster: a request it never reads teaches nothing.
 */
static void fuzz_round(void)
{
	struct conn *batch[BATCH];

	for (size_t i = 0; i < BATCH; i++) {
		batch[i] = &f.conns[pick(CONNECTIONS)];
		act(batch[i]);
	}
	for (size_t i = 0; i < BATCH; i++)
		await_replies(batch[i], REPLY_WAIT_MS);
}

/* Waits until the daemon serves only the probe, holding no buffer. */
static void wait_settled(struct iobuf_task *probe)
{
	struct iobuf_usage usage = { 0 };

	for (int waited = 0; waited < 20000; waited += 10) {
		assert_int_equal(iobuf_task_get_usage(probe, &usage), 0);
		if (usage.clients == 1 && usage.total_buffers == 0)
			return;
		usleep(10000);
	}
	fail_msg("the daemon still counts %u clients and %llu buffers after every fuzzing "
		 "connection closed", usage.clients, (unsigned long long)usage.total_buffers);
}

/* What a client that follows the protocol gets: a buffer, its bytes, its release. */
static void serve_normal_client(void)
{
	struct iobuf_task *task = iobuf_task_connect(getenv("IOBUFD_SOCKET"));
	struct iobuf_usage usage;
	struct iobuf *buf;

	if (!task)
		fail_with_seed("a normal client cannot connect after the fuzzing");
	buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE, 65536, 0);
	if (!buf)
		fail_with_seed(iobuf_last_error());
	memset(iobuf_get_bytes_no_copy(buf), 0xa5, 65536);
	assert_int_equal(iobuf_task_get_usage(task, &usage), 0);
	assert_int_equal(usage.buffers, 1);
	assert_int_equal(usage.bytes, 65536);
	iobuf_release(buf);
	iobuf_task_unref(task);
}

static void test_fuzz_socket(void **state)
{
	const char *const args[] = { "--max-buffer-size=1048576", "--max-client-buffers=16",
				     "--max-client-bytes=8388608", NULL };
	double seconds = (double)env_number("IOBUFD_FUZZ_SECONDS", 20);
	size_t records = (size_t)env_number("IOBUFD_FUZZ_RECORDS", 300000);
	struct test_daemon d;
	size_t fds_before;
	double start;

	f.seed = env_number("IOBUFD_FUZZ_SEED", 1);
	f.prng = f.seed;
	f.exited_pidfd = exited_child_pidfd(&(pid_t){ 0 });
	for (size_t i = 0; i < CONNECTIONS; i++)
		f.conns[i].sock = -1;

	/* The daemon's stderr goes to a file, shown when the test fails (teardown). */
	f.saved_stderr = dup(STDERR_FILENO);
	assert_true(f.saved_stderr >= 0 && dup2(f.log_fd, STDERR_FILENO) >= 0);
	test_daemon_start(&d, args);
	restore_stderr();
	f.probe = iobuf_task_connect(d.socket);
	assert_non_null(f.probe);
	wait_settled(f.probe);
	fds_before = count_fds(d.pid);

	start = now();
	for (size_t round = 0; f.records < records && now() - start < seconds; round++) {
		fuzz_round();
		if (round % 128 == 0 && !test_daemon_alive(&d))
			fail_with_seed("iobufd died");
	}
	for (size_t i = 0; i < CONNECTIONS; i++) {
		drain(&f.conns[i]);
		conn_close(&f.conns[i]);
	}
	print_message("seed %llu: %zu records in %.1f s: %zu valid, %zu mutated, %zu random, "
		      "%zu truncated-header, %zu oversize, %zu empty records (%zu with fds); "
		      "%zu connections, %zu replies, %zu sends refused\n",
		      (unsigned long long)f.seed, f.records, now() - start, f.stats.valid,
		      f.stats.mutated, f.stats.random, f.stats.truncated, f.stats.oversize,
		      f.stats.empty, f.stats.with_fds, f.stats.connections, f.stats.replies,
		      f.stats.sent_failed);

	if (!test_daemon_alive(&d))
		fail_with_seed("iobufd died");
	serve_normal_client();
	wait_settled(f.probe);
	if (count_fds(d.pid) != fds_before) {
		char what[128];

		snprintf(what, sizeof(what), "the daemon has %zu fds open, %zu before the fuzzing",
			 count_fds(d.pid), fds_before);
		fail_with_seed(what);
	}
	iobuf_task_unref(f.probe);
	f.probe = NULL;
	close(f.exited_pidfd);
	test_daemon_stop(&d);
	f.passed = true;
}

static int make_log(void **state)
{
	char path[] = "/tmp/fuzz-socket.XXXXXX";

	f.log_fd = mkstemp(path);
	assert_true(f.log_fd >= 0);
	unlink(path);
	return 0;
}

/* The end of the daemon's log, where a sanitizer's report is, when the test failed. */
static int show_log(void **state)
{
	char buf[16384];
	off_t size, from;
	ssize_t n;

	restore_stderr();
	if (f.probe)
		iobuf_task_unref(f.probe);
	size = lseek(f.log_fd, 0, SEEK_END);
	if (!f.passed && size > 0) {
		fprintf(stderr, "the end of iobufd's log:\n");
		from = size > (off_t)sizeof(buf) ? size - (off_t)sizeof(buf) : 0;
		n = pread(f.log_fd, buf, sizeof(buf), from);
		if (n > 0)
			fwrite(buf, 1, (size_t)n, stderr);
	}
	close(f.log_fd);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fuzz_socket, make_log, show_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
