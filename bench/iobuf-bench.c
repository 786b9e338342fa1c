/* SPDX-License-Identifier: MIT */
/*
 * What a buffer from iobufd costs, against what the kernel charges anyway.
 * In the same run, for each size and for wired and pageable memory:
 *
 *   direct  the in-process memfd allocation iobufd's memfd heap performs:
 *           create, size, (allocate), seal, map, unmap, close;
 *   floor   the same memfd created by a helper thread and passed back over
 *           a SOCK_SEQPACKET round trip, then mapped, unmapped and closed:
 *           the least any broker pays;
 *   iobuf   iobuf_in_task_with_options() + iobuf_release() through a real
 *           iobufd this program starts (two round trips: allocate, free).
 *
 * Prints median and p99 latency per subject, the ratios iobuf/direct and
 * iobuf/floor, and one "BENCH ..." line per case for scripts.
 *
 * Usage: iobuf-bench [IOBUFD] [SCALE]   (IOBUFD defaults to $IOBUFD_BINARY,
 * SCALE multiplies the iteration counts, default 1)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iobuf/iobuf.h"
#include "wire.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

#define MAX_SAMPLES 4000

struct bench_case {
	size_t size;
	bool pageable;
	unsigned iterations;
};

struct stats {
	double median_us;
	double p99_us;
};

/* ---- timing ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static struct stats summarize(uint64_t *samples, unsigned n)
{
	qsort(samples, n, sizeof(*samples), compare_u64);
	return (struct stats){
		.median_us = (double)samples[n / 2] / 1000.0,
		.p99_us = (double)samples[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0,
	};
}

static void die(const char *what)
{
	fprintf(stderr, "iobuf-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- direct: what the memfd heap does, in process ---- */

static int make_memfd(size_t size, bool pageable)
{
	int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		die("memfd");
	if (!pageable && fallocate(fd, 0, 0, (off_t)size) < 0)
		die("fallocate");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		die("F_ADD_SEALS");
	return fd;
}

static void map_touch_unmap(int fd, size_t size)
{
	volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		die("mmap");
	p[0] = 1;
	munmap((void *)p, size);
}

static void run_direct(const struct bench_case *c)
{
	int fd = make_memfd(c->size, c->pageable);

	map_touch_unmap(fd, c->size);
	close(fd);
}

/* ---- floor: a helper thread passes a fresh memfd over seqpacket ---- */

static int floor_socks[2];

static void *memfd_server(void *arg)
{
	struct wire_message req, reply = { .header.opcode = WIRE_ALLOCATE_REPLY };
	const char *reason;
	int fd, passed;

	while (wire_recv(floor_socks[1], &req, &passed, 0, &reason) == 0) {
		fd = make_memfd(req.allocate.capacity, req.allocate.options & IOBUF_PAGEABLE);
		reply.allocate_reply.size = req.allocate.capacity;
		snprintf(reply.allocate_reply.heap, sizeof(reply.allocate_reply.heap), "memfd");
		if (wire_send(floor_socks[1], &reply, fd, 0) < 0)
			break;
		close(fd);
	}
	return NULL;
}

static void run_floor(const struct bench_case *c)
{
	struct wire_message req = {
		.header.opcode = WIRE_ALLOCATE,
		.allocate = { c->pageable ? IOBUF_PAGEABLE : 0, c->size, 0, 0 },
	};
	struct wire_message reply;
	const char *reason;
	int fd;

	if (wire_send(floor_socks[0], &req, -1, 0) < 0 ||
	    wire_recv(floor_socks[0], &reply, &fd, 0, &reason) < 0 || fd < 0)
		die("floor round trip");
	map_touch_unmap(fd, c->size);
	close(fd);
}

/* ---- iobuf: the real thing ---- */

static struct iobuf_task *task;

static void run_iobuf(const struct bench_case *c)
{
	struct iobuf *buf = iobuf_in_task_with_options(task, c->pageable ? IOBUF_PAGEABLE : 0,
						       c->size, 0);
	volatile char *p;

	if (!buf) {
		fprintf(stderr, "iobuf-bench: %s\n", iobuf_last_error());
		exit(1);
	}
	p = iobuf_get_bytes_no_copy(buf);
	p[0] = 1;
	iobuf_release(buf);
}

static pid_t start_daemon(const char *binary, const char *socket_path)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		execl(binary, binary, "--socket", socket_path, "--heaps=memfd", "--max-buffer-size=1G",
		      "--max-client-bytes=4G", (char *)NULL);
		_exit(127);
	}
	for (int tries = 0; tries < 1000; tries++) {
		task = iobuf_task_connect(socket_path);
		if (task)
			return pid;
		usleep(10000);
	}
	fprintf(stderr, "iobuf-bench: %s did not start: %s\n", binary, iobuf_last_error());
	exit(1);
}

/* ---- the run ---- */

typedef void subject_fn(const struct bench_case *c);

/*
 * Times the subjects in turn within each iteration, so drift in the machine
 * (frequency, other load) hits all of them alike.
 */
static void measure(subject_fn *const *subjects, size_t n, const struct bench_case *c,
		    struct stats *out)
{
	static uint64_t samples[3][MAX_SAMPLES];
	unsigned warmup = c->iterations / 10 + 1;

	for (unsigned i = 0; i < warmup; i++)
		for (size_t s = 0; s < n; s++)
			subjects[s](c);
	for (unsigned i = 0; i < c->iterations; i++) {
		for (size_t s = 0; s < n; s++) {
			uint64_t start = now_ns();

			subjects[s](c);
			samples[s][i] = now_ns() - start;
		}
	}
	for (size_t s = 0; s < n; s++)
		out[s] = summarize(samples[s], c->iterations);
}

static void print_size(char *out, size_t n, size_t size)
{
	if (size >= (1u << 20))
		snprintf(out, n, "%zuM", size >> 20);
	else
		snprintf(out, n, "%zuK", size >> 10);
}

static void run_case(const struct bench_case *c)
{
	static subject_fn *const subjects[] = { run_direct, run_floor, run_iobuf };
	const char *mode = c->pageable ? "pageable" : "wired";
	struct stats results[3], direct, floor, iobuf;
	char size[16];

	measure(subjects, 3, c, results);
	direct = results[0];
	floor = results[1];
	iobuf = results[2];

	print_size(size, sizeof(size), c->size);
	printf("%5s %-8s | %9.1f %9.1f | %9.1f %9.1f | %9.1f %9.1f | %6.2f %6.2f\n", size, mode,
	       direct.median_us, direct.p99_us, floor.median_us, floor.p99_us, iobuf.median_us,
	       iobuf.p99_us, iobuf.median_us / direct.median_us, iobuf.median_us / floor.median_us);
	printf("BENCH size=%zu mode=%s iterations=%u direct_median_us=%.2f direct_p99_us=%.2f "
	       "floor_median_us=%.2f floor_p99_us=%.2f iobuf_median_us=%.2f iobuf_p99_us=%.2f "
	       "iobuf_over_direct=%.3f iobuf_over_floor=%.3f\n",
	       c->size, mode, c->iterations, direct.median_us, direct.p99_us, floor.median_us,
	       floor.p99_us, iobuf.median_us, iobuf.p99_us, iobuf.median_us / direct.median_us,
	       iobuf.median_us / floor.median_us);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *binary = argc > 1 ? argv[1] : getenv("IOBUFD_BINARY");
	double scale = argc > 2 ? atof(argv[2]) : 1.0;
	static const struct { size_t size; unsigned iterations; } sizes[] = {
		{ 4096, 2000 }, { 1u << 20, 500 }, { 64u << 20, 40 },
	};
	char dir[] = "/tmp/iobuf-bench.XXXXXX";
	char socket_path[64];
	pthread_t server;
	pid_t daemon;
	int status;

	if (!binary || scale <= 0) {
		fprintf(stderr, "usage: iobuf-bench [IOBUFD] [SCALE]\n");
		return 2;
	}
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(socket_path, sizeof(socket_path), "%s/iobufd.sock", dir);
	daemon = start_daemon(binary, socket_path);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, floor_socks) < 0)
		die("socketpair");
	pthread_create(&server, NULL, memfd_server, NULL);

	printf("latency in microseconds; ratios are iobuf median over direct and over floor\n");
	printf("%5s %-8s | %19s | %19s | %19s | %13s\n", "size", "memory", "direct med/p99",
	       "floor med/p99", "iobuf med/p99", "/direct /floor");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int pageable = 0; pageable <= 1; pageable++) {
			unsigned n = (unsigned)(sizes[i].iterations * scale);
			struct bench_case c = {
				.size = sizes[i].size,
				.pageable = pageable,
				.iterations = n < 5 ? 5 : n > MAX_SAMPLES ? MAX_SAMPLES : n,
			};

			run_case(&c);
		}
	}

	shutdown(floor_socks[0], SHUT_RDWR);
	pthread_join(server, NULL);
	iobuf_task_unref(task);
	kill(daemon, SIGTERM);
	waitpid(daemon, &status, 0);
	rmdir(dir);
	return 0;
}
