/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

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
	unsigned p99 = (n * 99) / 100;

	qsort(samples, n, sizeof(*samples), compare_u64);
	return (struct stats){
		.median_us = (double)samples[n / 2] / 1000.0,
		.p99_us = (double)samples[p99 < n ? p99 : n - 1] / 1000.0,
	};
}

void bench_measure(bench_fn *const *subjects, size_t n, const void *arg, unsigned iterations,
		   struct stats *out)
{
	static uint64_t samples[BENCH_MAX_SUBJECTS][BENCH_MAX_SAMPLES];
	unsigned warmup = iterations / 10 + 1;

	if (iterations > BENCH_MAX_SAMPLES)
		iterations = BENCH_MAX_SAMPLES;
	if (iterations == 0)
		iterations = 1;
	for (unsigned i = 0; i < warmup; i++)
		for (size_t s = 0; s < n; s++)
			subjects[s](arg);
	for (unsigned i = 0; i < iterations; i++) {
		for (size_t s = 0; s < n; s++) {
			uint64_t start = now_ns();

			subjects[s](arg);
			samples[s][i] = now_ns() - start;
		}
	}
	for (size_t s = 0; s < n; s++)
		out[s] = summarize(samples[s], iterations);
}

void bench_die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

void bench_daemon_start(struct bench_daemon *d, const char *binary, const char *heaps,
			const char *bus)
{
	char heaps_arg[128], bus_arg[300];

	snprintf(d->dir, sizeof(d->dir), "/tmp/iobuf-bench.XXXXXX");
	if (!mkdtemp(d->dir))
		bench_die("mkdtemp");
	snprintf(d->socket, sizeof(d->socket), "%s/iobufd.sock", d->dir);
	snprintf(heaps_arg, sizeof(heaps_arg), "--heaps=%s", heaps);
	snprintf(bus_arg, sizeof(bus_arg), "--bus=%s", bus ? bus : "none");
	d->pid = fork();
	if (d->pid < 0)
		bench_die("fork");
	if (d->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		execl(binary, binary, bus ? bus_arg : "--no-dbus", "--socket", d->socket, heaps_arg,
		      "--max-buffer-size=1G", "--max-client-bytes=4G", (char *)NULL);
		_exit(127);
	}
	for (int tries = 0; tries < 1000; tries++) {
		d->task = iobuf_task_connect(d->socket);
		if (d->task)
			return;
		usleep(10000);
	}
	fprintf(stderr, "bench: %s did not start: %s\n", binary, iobuf_last_error());
	exit(1);
}

void bench_daemon_stop(struct bench_daemon *d)
{
	iobuf_task_unref(d->task);
	kill(d->pid, SIGTERM);
	waitpid(d->pid, NULL, 0);
	rmdir(d->dir);
}
