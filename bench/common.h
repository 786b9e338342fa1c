/* SPDX-License-Identifier: MIT */
/* Timing, a private iobufd, the floor server and a raw wire client, shared by the benchmarks. */
#ifndef IOBUF_BENCH_COMMON_H
#define IOBUF_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iobuf/iobuf.h"

struct wire_message;

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

/* Something to time in two phases: getting a buffer and giving it back. */
struct bench_split {
	void *(*get)(const void *arg);            /* returns what put takes */
	void (*put)(void *what, const void *arg);
};

struct split_stats {
	struct stats get, put, both; /* both: get + put of the same iteration */
};

/* bench_measure for split subjects: each phase timed on its own. */
void bench_measure_split(const struct bench_split *subjects, size_t n, const void *arg,
			 unsigned iterations, struct split_stats *out);

uint64_t bench_now_ns(void);

/* Median and p99 of n samples in nanoseconds (sorts them). */
struct stats bench_summarize(uint64_t *samples, size_t n);

/* Prints what failed with errno's words and exits 1. */
void bench_die(const char *what) __attribute__((noreturn));

/*
 * One "BENCH target=NAME ratio=R bound=max limit=L met=yes|no what=..."
 * line: a ratio measured side by side in this run against the limit issue
 * 14 sets, met when R <= L; bench_target_min's (bound=min) when R >= L.
 */
void bench_target(const char *name, double ratio, double limit, const char *what);
void bench_target_min(const char *name, double ratio, double limit, const char *what);

/* Raises RLIMIT_NOFILE (both limits) towards want; returns the soft limit in force. */
unsigned long bench_raise_nofile(unsigned long want);

struct bench_daemon {
	pid_t pid;
	char dir[32];
	char socket[64];
	struct iobuf_task *task; /* a connection to it */
};

/*
 * Starts binary on a temporary socket serving only heaps, and on the D-Bus
 * bus at address bus (NULL: none), and connects to the socket. extra: more
 * options for iobufd, NULL-terminated (NULL: none).
 */
void bench_daemon_start(struct bench_daemon *d, const char *binary, const char *heaps,
			const char *bus);
void bench_daemon_start_with(struct bench_daemon *d, const char *binary, const char *heaps,
			     const char *bus, const char *const *extra);
void bench_daemon_stop(struct bench_daemon *d);

/*
 * The floor server (floor.c) as a process of its own, on a temporary
 * socket. Its binary is $IOBUF_BENCH_FLOOR or iobuf-bench-floor next to
 * this program.
 */
void bench_floor_start(struct bench_daemon *d);
const char *bench_floor_binary(void);

/* A raw wire client: connects to path and says hello; exits on failure. */
int bench_raw_connect(const char *path);

/* Sends request; exits on failure. */
void bench_raw_send(int sock, const struct wire_message *request);

/* Receives a reply (its fd in *fd, or -1); exits on failure or an error reply. */
void bench_raw_recv(int sock, struct wire_message *reply, int *fd);

#endif
