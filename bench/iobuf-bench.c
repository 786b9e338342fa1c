/* SPDX-License-Identifier: MIT */
/*
 * What a buffer from iobufd costs, against what the kernel charges anyway.
 * In the same run, for each size and for wired and pageable memory:
 *
 *   direct  the in-process memfd allocation iobufd's memfd heap performs:
 *           create, size, (allocate), seal, map, unmap, close;
 *   floor   the same memfd created by the floor server (iobuf-bench-floor,
 *           a process of its own) and passed back in one SOCK_SEQPACKET
 *           round trip, then mapped, unmapped and closed: the least any
 *           broker pays;
 *   iobuf   iobuf_in_task_with_options() + iobuf_release() through a real
 *           iobufd this program starts (two round trips: allocate, free);
 *   pool    (4 KiB) the same from a task that keeps 32 such buffers ready
 *           (iobuf_task_set_pool()), against the direct allocation.
 *
 * Getting the buffer (allocate, map, touch) and giving it back (unmap and
 * close; iobuf_release) are timed apart and together. Prints median and p99
 * latency per subject and phase, the ratios iobuf/direct and iobuf/floor,
 * one "BENCH ..." line per case and phase, and "BENCH target=..." lines
 * for the 4 KiB targets of issue 14.
 *
 * Usage: iobuf-bench [IOBUFD] [SCALE]   (IOBUFD defaults to $IOBUFD_BINARY,
 * SCALE multiplies the iteration counts, default 1)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* What get hands to put: a mapping and its fd, or an iobuf. */
struct held {
	void *map;
	size_t size;
	int fd;
	struct iobuf *buf;
};

static struct held held;

static void *map_and_touch(int fd, size_t size)
{
	volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		bench_die("mmap");
	p[0] = 1;
	held = (struct held){ .map = (void *)p, .size = size, .fd = fd };
	return &held;
}

/* What the app sees of a release without a broker: unmap and close. */
static void unmap_and_close(void *what, const void *arg)
{
	struct held *h = what;

	munmap(h->map, h->size);
	close(h->fd);
}

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

static void *get_direct(const void *arg)
{
	const struct bench_case *c = arg;

	return map_and_touch(make_memfd(c->size, c->pageable), c->size);
}

/* ---- floor: the floor server process passes a fresh memfd over seqpacket ---- */

static struct bench_daemon floor_server;
static int floor_sock;

static void *get_floor(const void *arg)
{
	const struct bench_case *c = arg;
	struct wire_message req = {
		.header.opcode = WIRE_ALLOCATE,
		.allocate = { c->pageable ? IOBUF_PAGEABLE : 0, c->size, 0, 0 },
	};
	struct wire_message reply;
	int fd;

	bench_raw_send(floor_sock, &req);
	bench_raw_recv(floor_sock, &reply, &fd);
	if (fd < 0) {
		fprintf(stderr, "iobuf-bench: the floor server sent no fd\n");
		exit(1);
	}
	return map_and_touch(fd, c->size);
}

/* ---- iobuf: the real thing ---- */

static struct bench_daemon iobufd;

/* A buffer of the case's kind from task, mapped and touched. */
static void *get_from(struct iobuf_task *task, const struct bench_case *c)
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
	return buf;
}

static void *get_iobuf(const void *arg)
{
	return get_from(iobufd.task, arg);
}

static void put_iobuf(void *what, const void *arg)
{
	iobuf_release(what);
}

/* ---- pool: a task keeping 4 KiB buffers of the case's kind ready ---- */

#define POOL_SIZE 32

static struct iobuf_task *pool_task;

static void *get_pooled(const void *arg)
{
	return get_from(pool_task, arg);
}

/* The pool's allocation against the direct one, each timed alone (4 KiB only). */
static void run_pool_case(const struct bench_case *c)
{
	static const struct bench_split subjects[] = {
		{ get_direct, unmap_and_close },
		{ get_pooled, put_iobuf },
	};
	const char *mode = c->pageable ? "pageable" : "wired";
	struct split_stats r[2];
	char name[64];

	pool_task = iobuf_task_connect(iobufd.socket);
	if (!pool_task || iobuf_task_set_pool(pool_task, c->pageable ? IOBUF_PAGEABLE : 0, c->size,
					      0, POOL_SIZE) < 0 ||
	    iobuf_task_flush(pool_task) < 0)
		bench_die("a task with a pool");
	bench_measure_split(subjects, 2, c, c->iterations, r);
	printf("%5s %-8s %-7s | %9.1f %9.1f | %9s %9s | %9.1f %9.1f | %6.2f\n", "4K", mode,
	       "pool", r[0].get.median_us, r[0].get.p99_us, "-", "-", r[1].get.median_us,
	       r[1].get.p99_us, r[1].get.median_us / r[0].get.median_us);
	printf("BENCH size=%zu mode=%s phase=pool-alloc iterations=%u direct_median_us=%.2f "
	       "pool_median_us=%.2f pool_p99_us=%.2f pool_over_direct=%.3f\n", c->size, mode,
	       c->iterations, r[0].get.median_us, r[1].get.median_us, r[1].get.p99_us,
	       r[1].get.median_us / r[0].get.median_us);
	snprintf(name, sizeof(name), "pool_alloc_4k_%s", mode);
	bench_target(name, r[1].get.median_us / r[0].get.median_us, 1.0,
		     "allocation from a task's pool over direct memfd allocation, median");
	iobuf_task_unref(pool_task);
	fflush(stdout);
}

/* ---- the run ---- */

static void print_size(char *out, size_t n, size_t size)
{
	if (size >= (1u << 20))
		snprintf(out, n, "%zuM", size >> 20);
	else
		snprintf(out, n, "%zuK", size >> 10);
}

static void print_row(const char *size, const char *mode, const char *phase,
		      const struct stats *direct, const struct stats *floor, const struct stats *iobuf)
{
	printf("%5s %-8s %-7s | %9.1f %9.1f | %9.1f %9.1f | %9.1f %9.1f | %6.2f %6.2f\n", size,
	       mode, phase, direct->median_us, direct->p99_us, floor->median_us, floor->p99_us,
	       iobuf->median_us, iobuf->p99_us, iobuf->median_us / direct->median_us,
	       iobuf->median_us / floor->median_us);
}

static void print_bench(const struct bench_case *c, const char *mode, const char *phase,
			const struct stats *direct, const struct stats *floor,
			const struct stats *iobuf)
{
	printf("BENCH size=%zu mode=%s phase=%s iterations=%u direct_median_us=%.2f "
	       "direct_p99_us=%.2f floor_median_us=%.2f floor_p99_us=%.2f iobuf_median_us=%.2f "
	       "iobuf_p99_us=%.2f iobuf_over_direct=%.3f iobuf_over_floor=%.3f\n",
	       c->size, mode, phase, c->iterations, direct->median_us, direct->p99_us,
	       floor->median_us, floor->p99_us, iobuf->median_us, iobuf->p99_us,
	       iobuf->median_us / direct->median_us, iobuf->median_us / floor->median_us);
}

static void run_case(const struct bench_case *c)
{
	static const struct bench_split subjects[] = {
		{ get_direct, unmap_and_close },
		{ get_floor, unmap_and_close },
		{ get_iobuf, put_iobuf },
	};
	const char *mode = c->pageable ? "pageable" : "wired";
	struct split_stats r[3];
	char size[16], name[64];

	bench_measure_split(subjects, 3, c, c->iterations, r);
	print_size(size, sizeof(size), c->size);
	print_row(size, mode, "both", &r[0].both, &r[1].both, &r[2].both);
	print_row(size, mode, "alloc", &r[0].get, &r[1].get, &r[2].get);
	print_row(size, mode, "release", &r[0].put, &r[1].put, &r[2].put);
	print_bench(c, mode, "both", &r[0].both, &r[1].both, &r[2].both);
	print_bench(c, mode, "alloc", &r[0].get, &r[1].get, &r[2].get);
	print_bench(c, mode, "release", &r[0].put, &r[1].put, &r[2].put);
	if (c->size == 4096) {
		snprintf(name, sizeof(name), "alloc_release_4k_%s", mode);
		bench_target(name, r[2].both.median_us / r[1].both.median_us, 1.2,
			     "iobuf alloc+release over the floor server's, median");
		snprintf(name, sizeof(name), "release_4k_%s", mode);
		bench_target(name, r[2].put.median_us / r[0].put.median_us, 1.1,
			     "iobuf_release over munmap+close, median");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *binary = argc > 1 ? argv[1] : getenv("IOBUFD_BINARY");
	double scale = argc > 2 ? atof(argv[2]) : 1.0;
	static const struct { size_t size; unsigned iterations; } sizes[] = {
		{ 4096, 2000 }, { 1u << 20, 500 }, { 64u << 20, 40 },
	};

	if (!binary || scale <= 0) {
		fprintf(stderr, "usage: iobuf-bench [IOBUFD] [SCALE]\n");
		return 2;
	}
	bench_daemon_start(&iobufd, binary, "memfd", NULL);
	bench_floor_start(&floor_server);
	floor_sock = bench_raw_connect(floor_server.socket);

	printf("latency in microseconds; ratios are iobuf median over direct and over floor\n");
	printf("alloc: get, map and touch a buffer; release: give it back; both: the two\n");
	printf("%5s %-8s %-7s | %19s | %19s | %19s | %13s\n", "size", "memory", "phase",
	       "direct med/p99", "floor med/p99", "iobuf med/p99", "/direct /floor");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int pageable = 0; pageable <= 1; pageable++) {
			unsigned n = (unsigned)(sizes[i].iterations * scale);
			struct bench_case c = {
				.size = sizes[i].size,
				.pageable = pageable,
				.iterations = n < 5 ? 5 : n,
			};

			run_case(&c);
			if (c.size == 4096)
				run_pool_case(&c);
		}
	}

	close(floor_sock);
	bench_daemon_stop(&floor_server);
	bench_daemon_stop(&iobufd);
	return 0;
}
