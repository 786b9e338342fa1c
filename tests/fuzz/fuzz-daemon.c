/* SPDX-License-Identifier: MIT */
/*
 * Request handling inside the daemon core, in process: the daemon's own
 * allocator (the memfd heap only, small limits of every kind), its sd-event
 * loop and a connection (connection_new()) on a socketpair. The input is
 *
 *   byte 0    bit 0: no hello first (else the target greets, so that the
 *             fuzzer starts past it); the other bits are ignored
 *   then records, each
 *     u8      ctl: bits 0-1 how many fds ride along (0-3), bits 2-4 their
 *             kind (FUZZ_FD_* or 4: a pidfd of a task that has exited),
 *             bit 6: 4097 zero bytes appended (over WIRE_MAX_MESSAGE),
 *             bit 7: 17 fds instead (more than the daemon has room for)
 *     u16     length (little-endian, mod 4096; cut to what is left)
 *     bytes   the record
 *
 * Each record goes into the client end, the loop runs until idle and the
 * replies are drained; at the end the client hangs up. Checked: every
 * non-empty record the daemon read gets exactly one well-formed reply, the
 * request's or an error, with the request's id; an fd comes with
 * allocations only; once the client is gone the daemon drops its
 * connection, nothing is charged any more and the process has the fds it
 * had before. LeakSanitizer checks the memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/allocator.h"
#include "socket/connection.h"
#include "fuzz-common.h"
#include "socket/server.h"
#include "wire.h"

#define FD_EXITED_PIDFD FUZZ_FD_KINDS
#define FD_KINDS (FUZZ_FD_KINDS + 1)
#define MANY_FDS 17
#define MAX_RECORD 4095
#define PADDING (WIRE_MAX_MESSAGE + 1)
#define MAX_LOOP_ROUNDS 10000

static struct {
	sd_event *event;
	struct allocator allocator;
	struct server server;
	int exited_pidfd; /* of a child that exited and is never reaped */
} d = { .exited_pidfd = -1 };

/* A child that has exited but stays a zombie, so that its pidfd has a pid to read. */
static int exited_child_pidfd(void)
{
	siginfo_t info;
	pid_t pid;
	int pidfd;

	pid = fork();
	fuzz_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(0);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	fuzz_assert(pidfd >= 0, "pidfd_open: %s", strerror(errno));
	fuzz_assert(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) == 0, "waitid: %s",
		    strerror(errno));
	return pidfd;
}

static void set_limit(struct limits *limits, const char *name, uint64_t value)
{
	struct reason why;

	fuzz_assert(limits_set(limits, name, value, &why) == 0, "%s", why.text);
}

/*
 * Small enough that no input can exhaust memory, and every kind of limit in
 * reach of a few allocations: per client, per uid, per group, per heap,
 * over all clients and the volatile budget.
 */
static void fuzz_limits(struct limits *limits)
{
	char name[LIMIT_NAME_MAX];

	limits_default(limits);
	set_limit(limits, "max-buffer-size", 1 << 20);
	set_limit(limits, "max-client-buffers", 16);
	set_limit(limits, "max-client-bytes", 8 << 20);
	set_limit(limits, "max-total-buffers", 64);
	set_limit(limits, "max-total-bytes", 32 << 20);
	set_limit(limits, "max-volatile-bytes", 2 << 20);
	snprintf(name, sizeof(name), "uid %u max-buffers", (unsigned)getuid());
	set_limit(limits, name, 12);
	set_limit(limits, "cgroup /* max-bytes", 7 << 20);
	set_limit(limits, "heap memfd max-bytes", 6 << 20);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct heap_config heaps = { .select = "memfd" };
	sd_event_source *timer;
	struct limits limits;
	int r;

	/* No service manager's fd store, whatever the environment says. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("FDSTORE");
	/* The daemon logs a line for most inputs (a violation); $IOBUFD_FUZZ_LOG=1 shows them. */
	if (!getenv("IOBUFD_FUZZ_LOG") || strcmp(getenv("IOBUFD_FUZZ_LOG"), "1") != 0) {
		FILE *null = fopen("/dev/null", "we");

		fuzz_assert(null, "cannot open /dev/null: %s", strerror(errno));
		stderr = null;
	}
	signal(SIGPIPE, SIG_IGN);

	fuzz_limits(&limits);
	r = allocator_init(&d.allocator, &limits, &heaps);
	fuzz_assert(r == 0, "cannot set up the memfd heap: %s", strerror(-r));
	/* As iobufd does before serving: the next memfd is made ahead, and stays. */
	allocator_catch_up(&d.allocator, NULL);
	r = sd_event_new(&d.event);
	fuzz_assert(r == 0, "sd_event_new: %s", strerror(-r));
	/*
	 * sd-event makes its timer fd with the first timer (a connection's hello
	 * deadline) and keeps it: made here, it is not taken for a leak.
	 */
	r = sd_event_add_time_relative(d.event, &timer, CLOCK_MONOTONIC, 3600 * 1000000ull, 0,
				       NULL, NULL);
	fuzz_assert(r == 0, "cannot add a timer: %s", strerror(-r));
	sd_event_source_unref(timer);
	d.exited_pidfd = exited_child_pidfd();
	return 0;
}

static int make_fd(unsigned kind)
{
	int fd;

	kind %= FD_KINDS;
	if (kind != FD_EXITED_PIDFD)
		return fuzz_make_fd(kind);
	fd = fcntl(d.exited_pidfd, F_DUPFD_CLOEXEC, 3);
	fuzz_assert(fd >= 0, "cannot duplicate a pidfd: %s", strerror(errno));
	return fd;
}

static void run_until_idle(void)
{
	int r;

	for (int round = 0;; round++) {
		fuzz_assert(round < MAX_LOOP_ROUNDS, "the event loop never goes idle");
		r = sd_event_run(d.event, 0);
		fuzz_assert(r >= 0, "sd_event_run: %s", strerror(-r));
		if (r == 0)
			return;
	}
}

/* What a record must be answered with, as far as the target can tell. */
struct expected {
	bool decodes;        /* wire_decode() takes it */
	bool header;         /* its header was read (decodes, or unknown opcode) */
	struct wire_header h;
};

static struct expected expect(const uint8_t *record, size_t len, size_t fd_count)
{
	struct expected e = { 0 };
	struct wire_message msg;
	const char *reason;
	int r;

	if (fd_count > 16)
		return e; /* refused before its bytes are looked at */
	r = wire_decode(record, len, &msg, &reason);
	e.decodes = r == 0;
	e.header = r == 0 || r == -ENOSYS;
	e.h = msg.header;
	return e;
}

static void check_reply(const struct expected *e, const struct wire_message *reply, int fd)
{
	uint16_t op = reply->header.opcode;
	bool allocation = op == WIRE_ALLOCATE_REPLY || op == WIRE_ALLOCATE_IMAGE_REPLY;
	struct stat st;

	bool request = e->decodes && !(e->h.opcode & WIRE_REPLY);

	fuzz_assert(op == WIRE_ERROR || (request && op == (e->h.opcode | WIRE_REPLY)),
		    "the daemon answered %s with %s",
		    e->decodes ? wire_opcode_name(e->h.opcode) : "a malformed record",
		    wire_opcode_name(op));
	if (e->header)
		fuzz_assert(reply->header.request_id == e->h.request_id,
			    "request %u answered as request %u", e->h.request_id,
			    reply->header.request_id);
	fuzz_assert((fd >= 0) == allocation, "%s came %s an fd", wire_opcode_name(op),
		    fd >= 0 ? "with" : "without");
	if (op == WIRE_ALLOCATE_REPLY) {
		fuzz_assert(fstat(fd, &st) == 0 &&
				    (uint64_t)st.st_size == reply->allocate_reply.size,
			    "buffer %llu of %llu bytes is a file of %lld bytes",
			    (unsigned long long)reply->allocate_reply.id,
			    (unsigned long long)reply->allocate_reply.size, (long long)st.st_size);
	}
}

/* Reads every reply waiting; their number. */
static size_t drain(int client, const struct expected *e)
{
	struct wire_message reply;
	const char *reason;
	size_t count = 0;
	int fd, r;

	for (;;) {
		r = wire_recv(client, &reply, &fd, MSG_DONTWAIT, &reason);
		if (r == -EAGAIN || r == -ECONNRESET)
			return count;
		fuzz_assert(r == 0, "the daemon sent a reply that does not decode (%s): %s",
			    strerror(-r), reason ? reason : "no reason");
		check_reply(e, &reply, fd);
		if (fd >= 0)
			close(fd);
		count++;
	}
}

/* Sends one record to a live connection and checks what comes back. */
static void feed(int client, uint8_t ctl, const uint8_t *record, size_t len)
{
	size_t fd_count = ctl & 0x80 ? MANY_FDS : ctl & 3;
	struct expected e = expect(record, len, fd_count);
	int fds[MANY_FDS];
	size_t replies;
	int r;

	for (size_t i = 0; i < fd_count; i++)
		fds[i] = make_fd((ctl >> 2) & 7);
	r = fuzz_send_record(client, record, len, fds, fd_count, MSG_DONTWAIT);
	fuzz_close_fds(fds, fd_count);
	fuzz_assert(r == 0, "cannot send a %zu-byte record with %zu fds: %s", len, fd_count,
		    strerror(-r));

	run_until_idle();
	replies = drain(client, &e);
	if (len > 0)
		fuzz_assert(replies == 1, "%zu replies to one %zu-byte record", replies, len);
	else
		fuzz_assert(replies <= 1, "%zu replies to an empty record", replies);
}

static void greet(int client)
{
	struct wire_message hello = { .header = { WIRE_HELLO, 0, 0 },
				      .hello.version = WIRE_VERSION };
	uint8_t buf[WIRE_MAX_MESSAGE];
	ssize_t len = wire_encode(&hello, buf, sizeof(buf));

	fuzz_assert(len > 0, "cannot encode hello");
	feed(client, 0, buf, (size_t)len);
	fuzz_assert(d.server.connections && d.server.connections->greeted,
		    "the daemon did not take a valid hello");
}

static void check_nothing_charged(void)
{
	const struct allocator *a = &d.allocator;

	fuzz_assert(a->clients == 0 && a->client_list == NULL, "%u clients left", a->clients);
	fuzz_assert(a->buffers == 0 && a->bytes == 0,
		    "%llu buffers (%llu bytes) still charged after the client left",
		    (unsigned long long)a->buffers, (unsigned long long)a->bytes);
	fuzz_assert(a->volatile_bytes == 0, "%llu volatile bytes counted with no buffer",
		    (unsigned long long)a->volatile_bytes);
	for (size_t i = 0; i < a->heaps.count; i++)
		fuzz_assert(a->heaps.heaps[i]->buffers == 0 && a->heaps.heaps[i]->bytes == 0,
			    "heap %s still counts %llu buffers", a->heaps.heaps[i]->name,
			    (unsigned long long)a->heaps.heaps[i]->buffers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t fds_before = fuzz_count_fds(), pos = 1;
	int pair[2], r;

	/*
	 * Buffer ids from 1 in every input, as in a fresh daemon, so that an
	 * input's free and set-purgeable name its own buffers whatever ran
	 * before. No buffer is left from the input before to clash with.
	 */
	d.allocator.next_id = 1;
	d.server = (struct server){ .event = d.event, .allocator = &d.allocator, .sock = -1,
				    .spare_fd = -1, .max_clients = 1 };
	fuzz_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
			       pair) == 0, "socketpair: %s", strerror(errno));
	r = connection_new(&d.server, pair[0], NULL);
	fuzz_assert(r == 0, "connection_new: %s", strerror(-r));

	if (size == 0 || !(data[0] & 1))
		greet(pair[1]);
	while (pos + 3 <= size && d.server.connections) {
		static uint8_t record[MAX_RECORD + PADDING];
		uint8_t ctl = data[pos];
		size_t len = (data[pos + 1] | (size_t)data[pos + 2] << 8) & MAX_RECORD;

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		memcpy(record, data + pos, len);
		pos += len;
		if (ctl & 0x40) {
			memset(record + len, 0, PADDING);
			len += PADDING;
		}
		feed(pair[1], ctl, record, len);
	}

	/* The client hangs up: the daemon must notice and let go of everything. */
	close(pair[1]);
	run_until_idle();
	fuzz_assert(!d.server.connections, "the daemon keeps a connection its client closed");
	server_fini(&d.server);
	check_nothing_charged();
	if (fuzz_count_fds() != fds_before) {
		fuzz_print_fds();
		fuzz_assert(fuzz_count_fds() == fds_before,
			    "%zu fds open after the input, %zu before", fuzz_count_fds(),
			    fds_before);
	}
	return 0;
}
