/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "wire.h"

uint64_t bench_now_ns(void)
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

struct stats bench_summarize(uint64_t *samples, size_t n)
{
	size_t p99 = (n * 99) / 100;

	if (n == 0)
		return (struct stats){ 0 };
	qsort(samples, n, sizeof(*samples), compare_u64);
	return (struct stats){
		.median_us = (double)samples[n / 2] / 1000.0,
		.p99_us = (double)samples[p99 < n ? p99 : n - 1] / 1000.0,
	};
}

static unsigned clamp_iterations(unsigned iterations)
{
	if (iterations > BENCH_MAX_SAMPLES)
		return BENCH_MAX_SAMPLES;
	return iterations ? iterations : 1;
}

void bench_measure(bench_fn *const *subjects, size_t n, const void *arg, unsigned iterations,
		   struct stats *out)
{
	static uint64_t samples[BENCH_MAX_SUBJECTS][BENCH_MAX_SAMPLES];
	unsigned warmup = iterations / 10 + 1;

	iterations = clamp_iterations(iterations);
	for (unsigned i = 0; i < warmup; i++)
		for (size_t s = 0; s < n; s++)
			subjects[s](arg);
	for (unsigned i = 0; i < iterations; i++) {
		for (size_t s = 0; s < n; s++) {
			uint64_t start = bench_now_ns();

			subjects[s](arg);
			samples[s][i] = bench_now_ns() - start;
		}
	}
	for (size_t s = 0; s < n; s++)
		out[s] = bench_summarize(samples[s], iterations);
}

void bench_measure_split(const struct bench_split *subjects, size_t n, const void *arg,
			 unsigned iterations, struct split_stats *out)
{
	static uint64_t get[BENCH_MAX_SUBJECTS][BENCH_MAX_SAMPLES];
	static uint64_t put[BENCH_MAX_SUBJECTS][BENCH_MAX_SAMPLES];
	static uint64_t both[BENCH_MAX_SUBJECTS][BENCH_MAX_SAMPLES];
	unsigned warmup = iterations / 10 + 1;

	iterations = clamp_iterations(iterations);
	for (unsigned i = 0; i < warmup; i++)
		for (size_t s = 0; s < n; s++)
			subjects[s].put(subjects[s].get(arg), arg);
	for (unsigned i = 0; i < iterations; i++) {
		for (size_t s = 0; s < n; s++) {
			uint64_t t0 = bench_now_ns(), t1, t2;
			void *what = subjects[s].get(arg);

			t1 = bench_now_ns();
			subjects[s].put(what, arg);
			t2 = bench_now_ns();
			get[s][i] = t1 - t0;
			put[s][i] = t2 - t1;
			both[s][i] = t2 - t0;
		}
	}
	for (size_t s = 0; s < n; s++) {
		out[s].get = bench_summarize(get[s], iterations);
		out[s].put = bench_summarize(put[s], iterations);
		out[s].both = bench_summarize(both[s], iterations);
	}
}

void bench_die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void print_target(const char *name, double ratio, const char *bound, double limit,
			 bool met, const char *what)
{
	printf("BENCH target=%s ratio=%.3f bound=%s limit=%.2f met=%s what=\"%s\"\n", name, ratio,
	       bound, limit, met ? "yes" : "no", what);
	fflush(stdout);
}

void bench_target(const char *name, double ratio, double limit, const char *what)
{
	print_target(name, ratio, "max", limit, ratio <= limit, what);
}

void bench_target_min(const char *name, double ratio, double limit, const char *what)
{
	print_target(name, ratio, "min", limit, ratio >= limit, what);
}

unsigned long bench_raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_max < want) {
		struct rlimit more = { want, want };

		/* Only a process with CAP_SYS_RESOURCE may raise the hard limit. */
		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			rl = more;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	return (unsigned long)rl.rlim_cur;
}

/* Runs argv in a child with stderr on /dev/null and connects to d->socket. */
static void spawn(struct bench_daemon *d, char *const *argv)
{
	d->pid = fork();
	if (d->pid < 0)
		bench_die("fork");
	if (d->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* A benchmark that dies leaves no server behind. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(null, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int tries = 0; tries < 1000; tries++) {
		d->task = iobuf_task_connect(d->socket);
		if (d->task)
			return;
		usleep(10000);
	}
	fprintf(stderr, "bench: %s did not start: %s\n", argv[0], iobuf_last_error());
	exit(1);
}

static void make_dir(struct bench_daemon *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/iobuf-bench.XXXXXX");
	if (!mkdtemp(d->dir))
		bench_die("mkdtemp");
	snprintf(d->socket, sizeof(d->socket), "%s/iobufd.sock", d->dir);
}

void bench_daemon_start_with(struct bench_daemon *d, const char *binary, const char *heaps,
			     const char *bus, const char *const *extra)
{
	char heaps_arg[128], bus_arg[300];
	const char *argv[32];
	size_t n = 0;

	make_dir(d);
	snprintf(heaps_arg, sizeof(heaps_arg), "--heaps=%s", heaps);
	snprintf(bus_arg, sizeof(bus_arg), "--bus=%s", bus ? bus : "none");
	argv[n++] = binary;
	argv[n++] = bus ? bus_arg : "--no-dbus";
	argv[n++] = "--socket";
	argv[n++] = d->socket;
	argv[n++] = heaps_arg;
	argv[n++] = "--max-buffer-size=1G";
	argv[n++] = "--max-client-bytes=4G";
	for (size_t i = 0; extra && extra[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	spawn(d, (char *const *)argv);
}

void bench_daemon_start(struct bench_daemon *d, const char *binary, const char *heaps,
			const char *bus)
{
	bench_daemon_start_with(d, binary, heaps, bus, NULL);
}

void bench_daemon_stop(struct bench_daemon *d)
{
	iobuf_task_unref(d->task);
	kill(d->pid, SIGTERM);
	waitpid(d->pid, NULL, 0);
	unlink(d->socket); /* the floor leaves its socket behind */
	rmdir(d->dir);
}

const char *bench_floor_binary(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("IOBUF_BENCH_FLOOR");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n < 0)
		bench_die("/proc/self/exe");
	path[n] = '\0';
	slash = strrchr(path, '/');
	strcpy(slash ? slash + 1 : path, "iobuf-bench-floor");
	return path;
}

void bench_floor_start(struct bench_daemon *d)
{
	const char *argv[] = { bench_floor_binary(), d->socket, NULL };

	make_dir(d);
	argv[1] = d->socket;
	spawn(d, (char *const *)argv);
}

int bench_raw_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct wire_message hello = {
		.header.opcode = WIRE_HELLO,
		.hello.version = WIRE_VERSION,
	};
	struct wire_message reply;
	int sock, fd;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		bench_die(path);
	bench_raw_send(sock, &hello);
	bench_raw_recv(sock, &reply, &fd);
	return sock;
}

void bench_raw_send(int sock, const struct wire_message *request)
{
	int r = wire_send(sock, request, -1, 0);

	if (r < 0) {
		errno = -r;
		bench_die("send");
	}
}

void bench_raw_recv(int sock, struct wire_message *reply, int *fd)
{
	const char *reason = NULL;
	int r = wire_recv(sock, reply, fd, 0, &reason);

	if (r < 0) {
		fprintf(stderr, "bench: receive: %s%s%s\n", strerror(-r), reason ? ": " : "",
			reason ? reason : "");
		exit(1);
	}
	if (reply->header.opcode == WIRE_ERROR) {
		fprintf(stderr, "bench: the server refused: %s\n", reply->error.message);
		exit(1);
	}
}
