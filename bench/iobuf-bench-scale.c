/* SPDX-License-Identifier: MIT */
/*
 * iobufd under load and at scale, each against a baseline measured side by
 * side in the same run. The floor is iobuf-bench-floor (floor.c): a minimal
 * epoll server passing a fresh memfd in one round trip. All buffers are
 * 4 KiB pageable memfds.
 *
 *   pipelined  a raw wire client sends 16 allocate requests before reading
 *              the replies (then, to iobufd, 16 frees the same way), against
 *              the floor served the same way and iobufd one request at a time;
 *   clients    1, 10, 100 and 1000 client processes allocating and freeing
 *              as fast as they can: throughput against the floor with as
 *              many clients, and the latency of one quiet client (one
 *              allocation every millisecond) while they run, against its
 *              latency when it is alone;
 *   held       allocate and free (release, then flush: the daemon's answer)
 *              one buffer on connections holding 10, 1000 and 16000
 *              buffers, in turn;
 *   live       up to 100,000 buffers held from many connections (as far as
 *              RLIMIT_NOFILE lets iobufd keep their fds) and iobufd's VmRSS
 *              per buffer;
 *   startup    exec to READY=1 on a notify socket of this program's own,
 *              iobufd against the floor server.
 *
 * Usage: iobuf-bench-scale IOBUFD [SCALE [MODE...]]  (SCALE multiplies
 * iteration counts and durations, default 1; default: every mode)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "wire.h"

#define BUFFER_SIZE 4096
#define PIPELINE 16

static const char *iobufd_binary;
static double scale = 1.0;

static unsigned scaled(unsigned n)
{
	double v = n * scale;

	return v < 5 ? 5 : (unsigned)v;
}

static struct wire_message allocate_request(uint32_t id)
{
	return (struct wire_message){
		.header = { .opcode = WIRE_ALLOCATE, .request_id = id },
		.allocate = { .options = IOBUF_PAGEABLE, .capacity = BUFFER_SIZE },
	};
}

/* One allocation over a raw connection; returns the buffer's id. */
static uint64_t raw_allocate(int sock)
{
	struct wire_message request = allocate_request(1), reply;
	int fd;

	bench_raw_send(sock, &request);
	bench_raw_recv(sock, &reply, &fd);
	if (fd >= 0)
		close(fd);
	return reply.allocate_reply.id;
}

static void raw_free(int sock, uint64_t id)
{
	struct wire_message request = { .header.opcode = WIRE_FREE, .free.id = id }, reply;
	int fd;

	bench_raw_send(sock, &request);
	bench_raw_recv(sock, &reply, &fd);
}

/* A client's unit of work: get a buffer and give it back. The floor keeps nothing. */
static void raw_cycle(int sock, bool floor)
{
	uint64_t id = raw_allocate(sock);

	if (!floor)
		raw_free(sock, id);
}

/* ---- pipelined ---- */

struct pipe_socks {
	int iobufd;
	int floor;
};

static void pipeline(int sock, bool floor)
{
	struct wire_message request, reply;
	uint64_t ids[PIPELINE];
	int fd;

	for (uint32_t i = 0; i < PIPELINE; i++) {
		request = allocate_request(i + 1);
		bench_raw_send(sock, &request);
	}
	for (unsigned i = 0; i < PIPELINE; i++) {
		bench_raw_recv(sock, &reply, &fd);
		if (fd >= 0)
			close(fd);
		ids[i] = reply.allocate_reply.id;
	}
	if (floor)
		return;
	for (unsigned i = 0; i < PIPELINE; i++) {
		request = (struct wire_message){ .header = { WIRE_FREE, 0, i + 1 }, .free.id = ids[i] };
		bench_raw_send(sock, &request);
	}
	for (unsigned i = 0; i < PIPELINE; i++)
		bench_raw_recv(sock, &reply, &fd);
}

static void run_pipe_floor(const void *arg)
{
	pipeline(((const struct pipe_socks *)arg)->floor, true);
}

static void run_pipe_iobufd(const void *arg)
{
	pipeline(((const struct pipe_socks *)arg)->iobufd, false);
}

static void run_serial_iobufd(const void *arg)
{
	int sock = ((const struct pipe_socks *)arg)->iobufd;

	for (unsigned i = 0; i < PIPELINE; i++)
		raw_cycle(sock, false);
}

/* libiobuf: PIPELINE buffers in one allocate-n, released without waiting. */
static struct iobuf_task *batch_task;

static void run_batch_iobufd(const void *arg)
{
	struct iobuf *bufs[PIPELINE];

	if (iobuf_in_task_with_options_n(batch_task, IOBUF_PAGEABLE, 4096, 0, PIPELINE, bufs) < 0)
		bench_die(iobuf_last_error());
	for (unsigned i = 0; i < PIPELINE; i++)
		iobuf_release(bufs[i]);
}

static void mode_pipelined(void)
{
	static bench_fn *const subjects[] = { run_pipe_floor, run_pipe_iobufd, run_serial_iobufd,
					      run_batch_iobufd };
	struct bench_daemon iobufd, floor;
	struct pipe_socks socks;
	unsigned iterations = scaled(300);
	struct stats r[4];

	bench_daemon_start(&iobufd, iobufd_binary, "memfd", NULL);
	bench_floor_start(&floor);
	socks.iobufd = bench_raw_connect(iobufd.socket);
	socks.floor = bench_raw_connect(floor.socket);
	batch_task = iobufd.task;
	bench_measure(subjects, 4, &socks, iterations, r);
	printf("\npipelined: %d requests in flight, microseconds per buffer\n", PIPELINE);
	printf("%-26s | %9s %9s\n", "", "median", "p99");
	printf("%-26s | %9.1f %9.1f\n", "floor, allocate", r[0].median_us / PIPELINE,
	       r[0].p99_us / PIPELINE);
	printf("%-26s | %9.1f %9.1f\n", "iobufd, allocate + free", r[1].median_us / PIPELINE,
	       r[1].p99_us / PIPELINE);
	printf("%-26s | %9.1f %9.1f\n", "iobufd, one at a time", r[2].median_us / PIPELINE,
	       r[2].p99_us / PIPELINE);
	printf("%-26s | %9.1f %9.1f\n", "libiobuf, one batch", r[3].median_us / PIPELINE,
	       r[3].p99_us / PIPELINE);
	printf("BENCH batch n=%d iterations=%u batch_median_us=%.2f batch_p99_us=%.2f "
	       "batch_over_floor_pipelined=%.3f batch_over_serial=%.3f\n", PIPELINE, iterations,
	       r[3].median_us / PIPELINE, r[3].p99_us / PIPELINE, r[3].median_us / r[0].median_us,
	       r[3].median_us / r[2].median_us);
	printf("BENCH pipelined depth=%d iterations=%u floor_median_us=%.2f floor_p99_us=%.2f "
	       "iobuf_median_us=%.2f iobuf_p99_us=%.2f serial_median_us=%.2f serial_p99_us=%.2f "
	       "iobuf_over_floor=%.3f iobuf_over_serial=%.3f\n",
	       PIPELINE, iterations, r[0].median_us / PIPELINE, r[0].p99_us / PIPELINE,
	       r[1].median_us / PIPELINE, r[1].p99_us / PIPELINE, r[2].median_us / PIPELINE,
	       r[2].p99_us / PIPELINE, r[1].median_us / r[0].median_us,
	       r[1].median_us / r[2].median_us);
	fflush(stdout);
	close(socks.iobufd);
	close(socks.floor);
	bench_daemon_stop(&floor);
	bench_daemon_stop(&iobufd);
}

/* ---- clients ---- */

#define QUIET_SAMPLES 4000

/* Shared with the client processes. */
struct board {
	volatile int stop;
	volatile uint64_t ops[];
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void busy_client(const char *path, bool floor, struct board *board, unsigned slot,
			int ready, int start)
{
	int sock = bench_raw_connect(path);
	char byte = 0;

	if (write(ready, &byte, 1) != 1 || read(start, &byte, 1) < 0)
		_exit(1);
	while (!board->stop) {
		raw_cycle(sock, floor);
		board->ops[slot]++;
	}
	close(sock);
	_exit(0);
}

static uint64_t total_ops(const struct board *board, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++)
		sum += board->ops[i];
	return sum;
}

/*
 * The quiet client: one cycle every millisecond for duration_ns on its own
 * connection; returns its latencies' median and p99.
 */
static struct stats quiet_client(int sock, bool floor, uint64_t duration_ns, size_t *count)
{
	static uint64_t samples[QUIET_SAMPLES];
	uint64_t end = bench_now_ns() + duration_ns;
	size_t n = 0;

	while (n < QUIET_SAMPLES && bench_now_ns() < end) {
		uint64_t t0 = bench_now_ns();

		raw_cycle(sock, floor);
		samples[n++] = bench_now_ns() - t0;
		sleep_ns(1000000);
	}
	*count = n;
	return bench_summarize(samples, n);
}

struct load_result {
	double ops_per_s;
	struct stats quiet;
	size_t quiet_samples;
};

/* n busy clients of the server at path, and the quiet client meanwhile. */
static struct load_result run_load(const char *path, bool floor, unsigned n, uint64_t duration_ns)
{
	size_t board_size = sizeof(struct board) + n * sizeof(uint64_t);
	struct board *board = mmap(NULL, board_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ready[2], start[2], quiet = bench_raw_connect(path);
	struct load_result result;
	uint64_t t0, t1, ops0, ops1;
	pid_t *pids = calloc(n, sizeof(*pids));
	char byte;

	if (board == MAP_FAILED || !pids || pipe2(ready, O_CLOEXEC) < 0 ||
	    pipe2(start, O_CLOEXEC) < 0)
		bench_die("setting up the clients");
	fflush(stdout);
	for (unsigned i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			bench_die("fork");
		if (pids[i] == 0) {
			close(ready[0]);
			close(start[1]);
			busy_client(path, floor, board, i, ready[1], start[0]);
		}
	}
	close(ready[1]);
	close(start[0]);
	for (unsigned i = 0; i < n; i++)
		if (read(ready[0], &byte, 1) != 1)
			bench_die("a client did not connect");
	close(start[1]); /* go */
	sleep_ns(duration_ns / 10);
	t0 = bench_now_ns();
	ops0 = total_ops(board, n);
	result.quiet = quiet_client(quiet, floor, duration_ns, &result.quiet_samples);
	t1 = bench_now_ns();
	ops1 = total_ops(board, n);
	board->stop = 1;
	for (unsigned i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	result.ops_per_s = (double)(ops1 - ops0) * 1e9 / (double)(t1 - t0);
	close(ready[0]);
	close(quiet);
	free(pids);
	munmap(board, board_size);
	return result;
}

static void mode_clients(void)
{
	static const unsigned counts[] = { 1, 10, 100, 1000 };
	static const char *const extra[] = { "--max-clients=1100", "--max-uid-clients=1100",
					     NULL };
	uint64_t duration_ns = (uint64_t)(1.5e9 * scale);
	struct stats idle_iobufd, idle_floor;
	struct bench_daemon iobufd, floor;
	size_t idle_samples;
	int sock;

	bench_raise_nofile(20000);
	bench_daemon_start_with(&iobufd, iobufd_binary, "memfd", NULL, extra);
	bench_floor_start(&floor);

	/* Idle: the quiet client alone, each server in turn. */
	sock = bench_raw_connect(floor.socket);
	idle_floor = quiet_client(sock, true, duration_ns, &idle_samples);
	close(sock);
	sock = bench_raw_connect(iobufd.socket);
	idle_iobufd = quiet_client(sock, false, duration_ns, &idle_samples);
	close(sock);

	printf("\nclients: busy processes allocating 4 KiB and giving it back (floor: one\n"
	       "round trip; iobufd: allocate and free), and one quiet client every 1 ms;\n"
	       "quiet latency in microseconds, idle: floor %.1f/%.1f, iobufd %.1f/%.1f "
	       "(median/p99)\n",
	       idle_floor.median_us, idle_floor.p99_us, idle_iobufd.median_us,
	       idle_iobufd.p99_us);
	printf("%7s | %10s %10s %6s | %19s | %19s | %6s\n", "clients", "floor/s", "iobufd/s",
	       "ratio", "quiet floor med/p99", "quiet iobufd med/p99", "p99/idle");
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		unsigned n = counts[i];
		struct load_result f = run_load(floor.socket, true, n, duration_ns);
		struct load_result d = run_load(iobufd.socket, false, n, duration_ns);
		double ratio = d.ops_per_s / f.ops_per_s;
		double quiet_ratio = d.quiet.p99_us / idle_iobufd.p99_us;
		char name[64];

		printf("%7u | %10.0f %10.0f %6.2f | %9.1f %9.1f | %9.1f %9.1f | %6.2f\n", n,
		       f.ops_per_s, d.ops_per_s, ratio, f.quiet.median_us, f.quiet.p99_us,
		       d.quiet.median_us, d.quiet.p99_us, quiet_ratio);
		printf("BENCH clients=%u floor_ops_per_s=%.0f iobuf_ops_per_s=%.0f "
		       "iobuf_over_floor=%.3f quiet_floor_median_us=%.2f quiet_floor_p99_us=%.2f "
		       "quiet_iobuf_median_us=%.2f quiet_iobuf_p99_us=%.2f "
		       "idle_floor_p99_us=%.2f idle_iobuf_p99_us=%.2f quiet_p99_over_idle=%.3f "
		       "floor_quiet_p99_over_idle=%.3f quiet_floor_samples=%zu "
		       "quiet_iobuf_samples=%zu\n",
		       n, f.ops_per_s, d.ops_per_s, ratio, f.quiet.median_us, f.quiet.p99_us,
		       d.quiet.median_us, d.quiet.p99_us, idle_floor.p99_us, idle_iobufd.p99_us,
		       quiet_ratio, f.quiet.p99_us / idle_floor.p99_us, f.quiet_samples,
		       d.quiet_samples);
		if (n == 1000) {
			snprintf(name, sizeof(name), "throughput_%u_clients", n);
			bench_target_min(name, ratio, 0.8,
					 "iobufd alloc+free per second over the floor's");
			snprintf(name, sizeof(name), "quiet_p99_%u_busy", n);
			bench_target(name, quiet_ratio, 2.0,
				     "quiet client's p99 among busy clients over its idle p99");
		}
	}
	fflush(stdout);
	bench_daemon_stop(&floor);
	bench_daemon_stop(&iobufd);
}

/* ---- held ---- */

static const unsigned held_counts[] = { 10, 1000, 16000 };
#define HELD_CASES (sizeof(held_counts) / sizeof(held_counts[0]))

static struct iobuf_task *held_tasks[HELD_CASES];

static struct iobuf *allocate_one(struct iobuf_task *task)
{
	struct iobuf *buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE, BUFFER_SIZE, 0);

	if (!buf) {
		fprintf(stderr, "iobuf-bench-scale: %s\n", iobuf_last_error());
		exit(1);
	}
	return buf;
}

/*
 * iobuf_release() does not wait for the daemon's answer to the free: the
 * flush does, so the free's whole cost on the daemon's side is timed.
 */
static void release_and_flush(struct iobuf *buf, struct iobuf_task *task)
{
	iobuf_release(buf);
	if (iobuf_task_flush(task) < 0) {
		fprintf(stderr, "iobuf-bench-scale: free: %s\n", iobuf_last_error());
		exit(1);
	}
}

/* bench_measure_split passes one arg to all subjects: functions per task. */
#define HELD_SUBJECT(i)                                                  \
	static void *get_held_##i(const void *arg)                       \
	{                                                                \
		return allocate_one(held_tasks[i]);                      \
	}                                                                \
	static void put_held_##i(void *what, const void *arg)            \
	{                                                                \
		release_and_flush(what, held_tasks[i]);                  \
	}
HELD_SUBJECT(0)
HELD_SUBJECT(1)
HELD_SUBJECT(2)

static void mode_held(void)
{
	static const struct bench_split subjects[HELD_CASES] = {
		{ get_held_0, put_held_0 }, { get_held_1, put_held_1 }, { get_held_2, put_held_2 },
	};
	static const char *const extra[] = { "--max-client-buffers=17000",
					     "--max-uid-buffers=20000", NULL };
	struct iobuf **bufs[HELD_CASES];
	struct split_stats r[HELD_CASES];
	struct bench_daemon iobufd;
	unsigned iterations = scaled(1000);
	unsigned long nofile = bench_raise_nofile(20000);

	if (nofile < 17200) {
		fprintf(stderr, "iobuf-bench-scale: held needs 17200 file descriptors, "
				"RLIMIT_NOFILE is %lu\n", nofile);
		exit(1);
	}
	bench_daemon_start_with(&iobufd, iobufd_binary, "memfd", NULL, extra);
	for (size_t c = 0; c < HELD_CASES; c++) {
		held_tasks[c] = iobuf_task_connect(iobufd.socket);
		bufs[c] = calloc(held_counts[c], sizeof(*bufs[c]));
		if (!held_tasks[c] || !bufs[c])
			bench_die("held");
		for (unsigned i = 0; i < held_counts[c]; i++)
			bufs[c][i] = allocate_one(held_tasks[c]);
	}
	bench_measure_split(subjects, HELD_CASES, NULL, iterations, r);

	printf("\nheld: allocate and free one more 4 KiB buffer on a connection holding N,\n"
	       "microseconds; free: iobuf_release and iobuf_task_flush (the answer)\n");
	printf("%6s | %19s | %19s\n", "N", "alloc med/p99", "free med/p99");
	for (size_t c = 0; c < HELD_CASES; c++) {
		printf("%6u | %9.1f %9.1f | %9.1f %9.1f\n", held_counts[c], r[c].get.median_us,
		       r[c].get.p99_us, r[c].put.median_us, r[c].put.p99_us);
		printf("BENCH held=%u iterations=%u alloc_median_us=%.2f alloc_p99_us=%.2f "
		       "free_median_us=%.2f free_p99_us=%.2f free_over_10=%.3f\n",
		       held_counts[c], iterations, r[c].get.median_us, r[c].get.p99_us,
		       r[c].put.median_us, r[c].put.p99_us,
		       r[c].put.median_us / r[0].put.median_us);
	}
	bench_target("free_16000_held", r[2].put.median_us / r[0].put.median_us, 1.1,
		     "free (release+flush) median holding 16000 over holding 10");

	for (size_t c = 0; c < HELD_CASES; c++) {
		for (unsigned i = 0; i < held_counts[c]; i++)
			iobuf_release(bufs[c][i]);
		free(bufs[c]);
		iobuf_task_unref(held_tasks[c]);
	}
	bench_daemon_stop(&iobufd);
}

/* ---- live ---- */

#define LIVE_WANTED 100000
#define LIVE_PER_CONNECTION 4000

static long vmrss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		bench_die(path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Allocates up to n buffers on sock, closing their fds; stops at a refusal. */
static unsigned fill(int sock, unsigned n, char *why, size_t why_size)
{
	struct wire_message request = allocate_request(1), reply;
	const char *reason;
	unsigned got = 0;
	int fd, r;

	while (got < n) {
		bench_raw_send(sock, &request);
		r = wire_recv(sock, &reply, &fd, 0, &reason);
		if (r < 0) {
			snprintf(why, why_size, "%s", strerror(-r));
			break;
		}
		if (reply.header.opcode == WIRE_ERROR) {
			snprintf(why, why_size, "%s", reply.error.message);
			break;
		}
		if (fd >= 0)
			close(fd);
		got++;
	}
	return got;
}

static void mode_live(void)
{
	static const char *const extra[] = { "--max-clients=64", "--max-uid-clients=64",
					     "--max-client-buffers=5000",
					     "--max-uid-buffers=200000", NULL };
	enum { CONNECTIONS = (LIVE_WANTED + LIVE_PER_CONNECTION - 1) / LIVE_PER_CONNECTION };
	unsigned long nofile = bench_raise_nofile(LIVE_WANTED + 1000);
	int socks[CONNECTIONS];
	struct bench_daemon iobufd;
	char why[600] = "";
	unsigned live = 0;
	long rss0, rss1;
	uint64_t t0, t1;

	bench_daemon_start_with(&iobufd, iobufd_binary, "memfd", NULL, extra);
	for (int i = 0; i < CONNECTIONS; i++)
		socks[i] = bench_raw_connect(iobufd.socket);
	rss0 = vmrss_kib(iobufd.pid);
	t0 = bench_now_ns();
	for (int i = 0; i < CONNECTIONS && live < LIVE_WANTED && !why[0]; i++)
		live += fill(socks[i], LIVE_WANTED - live < LIVE_PER_CONNECTION
				       ? LIVE_WANTED - live : LIVE_PER_CONNECTION,
			     why, sizeof(why));
	t1 = bench_now_ns();
	rss1 = vmrss_kib(iobufd.pid);

	printf("\nlive: %u of %d 4 KiB buffers held from %d connections (RLIMIT_NOFILE %lu%s)\n",
	       live, LIVE_WANTED, CONNECTIONS, nofile,
	       live < LIVE_WANTED ? ": iobufd keeps one fd per buffer" : "");
	if (why[0])
		printf("  stopped by: %s\n", why);
	printf("  iobufd VmRSS %ld KiB -> %ld KiB: %.0f bytes per buffer; %.1f us per allocation\n",
	       rss0, rss1, live ? (double)(rss1 - rss0) * 1024.0 / live : 0.0,
	       live ? (double)(t1 - t0) / 1000.0 / live : 0.0);
	printf("BENCH live=%u wanted=%d nofile=%lu rss_before_kib=%ld rss_after_kib=%ld "
	       "rss_bytes_per_buffer=%.0f allocate_us=%.2f\n",
	       live, LIVE_WANTED, nofile, rss0, rss1,
	       live ? (double)(rss1 - rss0) * 1024.0 / live : 0.0,
	       live ? (double)(t1 - t0) / 1000.0 / live : 0.0);
	fflush(stdout);
	for (int i = 0; i < CONNECTIONS; i++)
		close(socks[i]);
	bench_daemon_stop(&iobufd);
}

/* ---- startup ---- */

/* Waits for READY=1 on notify; false after 10 s. */
static bool wait_ready(int notify)
{
	char message[4096];
	uint64_t end = bench_now_ns() + 10000000000u;

	while (bench_now_ns() < end) {
		ssize_t n = recv(notify, message, sizeof(message) - 1, MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN)
				bench_die("notify socket");
			sleep_ns(20000);
			continue;
		}
		message[n] = '\0';
		if (strstr(message, "READY=1"))
			return true;
	}
	return false;
}

/* exec to READY=1 of argv; the server is stopped afterwards. */
static uint64_t time_startup(int notify, char *const *argv, const char *socket_path)
{
	uint64_t t0 = bench_now_ns(), t1;
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork");
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(null, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	if (!wait_ready(notify)) {
		fprintf(stderr, "iobuf-bench-scale: %s sent no READY=1\n", argv[0]);
		exit(1);
	}
	t1 = bench_now_ns();
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(socket_path);
	return t1 - t0;
}

static void mode_startup(void)
{
	static uint64_t samples[2][BENCH_MAX_SAMPLES];
	unsigned rounds = scaled(30);
	char dir[] = "/tmp/iobuf-bench.XXXXXX", notify_path[64], socket_path[64];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stats floor, iobufd;
	int notify;

	if (rounds > BENCH_MAX_SAMPLES)
		rounds = BENCH_MAX_SAMPLES;
	if (!mkdtemp(dir))
		bench_die("mkdtemp");
	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	snprintf(socket_path, sizeof(socket_path), "%s/iobufd.sock", dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", notify_path);
	notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify < 0 || bind(notify, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		bench_die("notify socket");
	setenv("NOTIFY_SOCKET", notify_path, 1);
	{
		const char *floor_argv[] = { bench_floor_binary(), socket_path, NULL };
		const char *iobufd_argv[] = { iobufd_binary, "--no-dbus", "--heaps=memfd",
					      "--socket", socket_path, NULL };

		for (unsigned i = 0; i < rounds; i++) {
			samples[0][i] = time_startup(notify, (char *const *)floor_argv, socket_path);
			samples[1][i] = time_startup(notify, (char *const *)iobufd_argv,
						     socket_path);
		}
	}
	unsetenv("NOTIFY_SOCKET");
	floor = bench_summarize(samples[0], rounds);
	iobufd = bench_summarize(samples[1], rounds);
	printf("\nstartup: exec to READY=1, microseconds, %u rounds\n", rounds);
	printf("%-8s | %9s %9s\n", "", "median", "p99");
	printf("%-8s | %9.1f %9.1f\n", "floor", floor.median_us, floor.p99_us);
	printf("%-8s | %9.1f %9.1f\n", "iobufd", iobufd.median_us, iobufd.p99_us);
	printf("BENCH startup rounds=%u floor_median_us=%.2f floor_p99_us=%.2f "
	       "iobuf_median_us=%.2f iobuf_p99_us=%.2f iobuf_over_floor=%.3f\n",
	       rounds, floor.median_us, floor.p99_us, iobufd.median_us, iobufd.p99_us,
	       iobufd.median_us / floor.median_us);
	fflush(stdout);
	close(notify);
	unlink(notify_path);
	rmdir(dir);
}

/* ---- the run ---- */

static const struct {
	const char *name;
	void (*run)(void);
} modes[] = {
	{ "pipelined", mode_pipelined }, { "clients", mode_clients }, { "held", mode_held },
	{ "live", mode_live },           { "startup", mode_startup },
};

int main(int argc, char **argv)
{
	size_t n = sizeof(modes) / sizeof(modes[0]);

	if (argc < 2 || (argc > 2 && (scale = atof(argv[2])) <= 0)) {
		fprintf(stderr, "usage: iobuf-bench-scale IOBUFD [SCALE [MODE...]]\n");
		return 2;
	}
	iobufd_binary = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (argc <= 3) {
		for (size_t m = 0; m < n; m++)
			modes[m].run();
		return 0;
	}
	for (int a = 3; a < argc; a++) {
		size_t m = 0;

		while (m < n && strcmp(argv[a], modes[m].name) != 0)
			m++;
		if (m == n) {
			fprintf(stderr, "iobuf-bench-scale: unknown mode %s\n", argv[a]);
			return 2;
		}
		modes[m].run();
	}
	return 0;
}
