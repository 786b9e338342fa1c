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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iobuf/iobuf.h"
#include "common.h"
#include "wire.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

struct bench_case {
	size_t size;
	bool pageable;
	unsigned iterations;
};

/* ---- direct: what the memfd heap does, in process ---- */

static int make_memfd(size_t size, bool pageable)
{
	int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		bench_die("memfd");
	if (!pageable && fallocate(fd, 0, 0, (off_t)size) < 0)
		bench_die("fallocate");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		bench_die("F_ADD_SEALS");
	return fd;
}

static void map_touch_unmap(int fd, size_t size)
{
	volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		bench_die("mmap");
	p[0] = 1;
	munmap((void *)p, size);
}

static void run_direct(const void *arg)
{
	const struct bench_case *c = arg;
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

static void run_floor(const void *arg)
{
	const struct bench_case *c = arg;
	struct wire_message req = {
		.header.opcode = WIRE_ALLOCATE,
		.allocate = { c->pageable ? IOBUF_PAGEABLE : 0, c->size, 0, 0 },
	};
	struct wire_message reply;
	const char *reason;
	int fd;

	if (wire_send(floor_socks[0], &req, -1, 0) < 0 ||
	    wire_recv(floor_socks[0], &reply, &fd, 0, &reason) < 0 || fd < 0)
		bench_die("floor round trip");
	map_touch_unmap(fd, c->size);
	close(fd);
}

/* ---- iobuf: the real thing ---- */

static struct bench_daemon iobufd;

static void run_iobuf(const void *arg)
{
	const struct bench_case *c = arg;
	struct iobuf *buf = iobuf_in_task_with_options(iobufd.task,
						       c->pageable ? IOBUF_PAGEABLE : 0, c->size, 0);
	volatile char *p;

	if (!buf) {
		fprintf(stderr, "iobuf-bench: %s\n", iobuf_last_error());
		exit(1);
	}
	p = iobuf_get_bytes_no_copy(buf);
	p[0] = 1;
	iobuf_release(buf);
}

/* ---- the run ---- */

static void print_size(char *out, size_t n, size_t size)
{
	if (size >= (1u << 20))
		snprintf(out, n, "%zuM", size >> 20);
	else
		snprintf(out, n, "%zuK", size >> 10);
}

static void run_case(const struct bench_case *c)
{
	static bench_fn *const subjects[] = { run_direct, run_floor, run_iobuf };
	const char *mode = c->pageable ? "pageable" : "wired";
	struct stats results[3], direct, floor, iobuf;
	char size[16];

	bench_measure(subjects, 3, c, c->iterations, results);
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
	pthread_t server;

	if (!binary || scale <= 0) {
		fprintf(stderr, "usage: iobuf-bench [IOBUFD] [SCALE]\n");
		return 2;
	}
	bench_daemon_start(&iobufd, binary, "memfd", NULL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, floor_socks) < 0)
		bench_die("socketpair");
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
				.iterations = n < 5 ? 5 : n,
			};

			run_case(&c);
		}
	}

	shutdown(floor_socks[0], SHUT_RDWR);
	pthread_join(server, NULL);
	bench_daemon_stop(&iobufd);
	return 0;
}
