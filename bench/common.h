/* SPDX-License-Identifier: MIT */
/* Timing and a private iobufd, shared by the benchmarks. */
#ifndef IOBUF_BENCH_COMMON_H
#define IOBUF_BENCH_COMMON_H

#include <stddef.h>
#include <sys/types.h>

#include "iobuf/iobuf.h"

#define BENCH_MAX_SAMPLES 4000
#define BENCH_MAX_SUBJECTS 4

struct stats {
	double median_us;
	double p99_us;
};

/* One thing to time, called with the benchmark's argument. */
typedef void bench_fn(const void *arg);

/*
 * Times the subjects in turn within each iteration, after a tenth as many
 * warm-up rounds, so drift in the machine (frequency, other load) hits all
 * of them alike. iterations is clamped to BENCH_MAX_SAMPLES.
 */
void bench_measure(bench_fn *const *subjects, size_t n, const void *arg, unsigned iterations,
		   struct stats *out);

/* Prints what failed with errno's words and exits 1. */
void bench_die(const char *what) __attribute__((noreturn));

struct bench_daemon {
	pid_t pid;
	char dir[32];
	char socket[64];
	struct iobuf_task *task; /* a connection to it */
};

/*
 * Starts binary on a temporary socket serving only heaps, and on the D-Bus
 * bus at address bus (NULL: none), and connects to the socket.
 */
void bench_daemon_start(struct bench_daemon *d, const char *binary, const char *heaps,
			const char *bus);
void bench_daemon_stop(struct bench_daemon *d);

#endif
