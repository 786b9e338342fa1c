/* SPDX-License-Identifier: MIT */
/*
 * The D-Bus path against the bare cost of D-Bus, through the same
 * dbus-daemon and to the same peer, in one run:
 *
 *   ping      org.freedesktop.DBus.Peer.Ping to iobufd: one bare round trip;
 *   allocate  Allocate (a 4 KiB memfd), map, touch, unmap, close, Free:
 *             two round trips and the allocation;
 *   bare      the same Allocate and Free calls to a bare sd-bus server, a
 *             child process of this program on the same bus, that creates
 *             the sealed memfd and frees nothing: what any D-Bus broker pays.
 *
 * Usage: iobuf-bench-dbus IOBUFD BUS_CONFIG  (a dbus-daemon config, e.g.
 * bench/bus.conf; this program starts its own bus and iobufd)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "common.h"
#include "names.h"

#define NAME IOBUF_BUS_NAME
#define PATH IOBUF_BUS_PATH
#define BARE_NAME "org.iobufd.BenchBare"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static sd_bus *bus;

static void check(int r, const char *what)
{
	if (r < 0) {
		errno = -r;
		bench_die(what);
	}
}

static void run_ping(const void *arg)
{
	check(sd_bus_call_method(bus, NAME, PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
				 NULL),
	      "Ping");
}

static void allocate_free(const char *name)
{
	sd_bus_message *reply = NULL;
	const char *heap;
	uint64_t id, size;
	uint32_t granted;
	volatile char *p;
	int fd;

	check(sd_bus_call_method(bus, name, PATH, NAME, "Allocate", NULL, &reply, "ttu",
				 (uint64_t)4096, (uint64_t)0, (uint32_t)0),
	      "Allocate");
	check(sd_bus_message_read(reply, "httus", &fd, &id, &size, &granted, &heap), "reply");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		bench_die("mmap");
	p[0] = 1;
	munmap((void *)p, size);
	sd_bus_message_unref(reply); /* closes the fd */
	check(sd_bus_call_method(bus, name, PATH, NAME, "Free", NULL, NULL, "t", id), "Free");
}

static void run_allocate(const void *arg)
{
	allocate_free(NAME);
}

static void run_bare(const void *arg)
{
	allocate_free(BARE_NAME);
}

/* ---- the bare server ---- */

static int bare_allocate(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	static uint64_t next_id = 1;
	uint64_t capacity, alignment;
	uint32_t options;
	int fd, r;

	r = sd_bus_message_read(m, "ttu", &capacity, &alignment, &options);
	if (r < 0)
		return r;
	fd = memfd_create("bare", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("bare", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)capacity) < 0 || fallocate(fd, 0, 0, (off_t)capacity) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return sd_bus_error_set_errno(error, -r);
	}
	r = sd_bus_reply_method_return(m, "httus", fd, next_id++, capacity, options, "memfd");
	close(fd);
	return r;
}

static int bare_free(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable bare_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Allocate", "ttu", "httus", bare_allocate, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Free", "t", "", bare_free, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

static void serve_bare(const char *address)
{
	sd_bus *server = NULL;
	int r;

	r = sd_bus_new(&server);
	if (r >= 0)
		r = sd_bus_set_address(server, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(server, 1);
	if (r >= 0)
		r = sd_bus_negotiate_fds(server, 1);
	if (r >= 0)
		r = sd_bus_start(server);
	if (r >= 0)
		r = sd_bus_add_object_vtable(server, NULL, PATH, NAME, bare_vtable, NULL);
	if (r >= 0)
		r = sd_bus_request_name(server, BARE_NAME, 0);
	while (r >= 0) {
		r = sd_bus_process(server, NULL);
		if (r == 0)
			r = sd_bus_wait(server, UINT64_MAX);
	}
	_exit(r == -ECONNRESET || r == -ENOTCONN ? 0 : 1);
}

static pid_t start_bare(const char *address)
{
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		serve_bare(address);
	}
	return pid;
}

static void wait_for(const char *name)
{
	for (int tries = 0; tries < 500; tries++) {
		if (sd_bus_call_method(bus, name, PATH, "org.freedesktop.DBus.Peer", "Ping", NULL,
				       NULL, NULL) >= 0)
			return;
		usleep(10000);
	}
	fprintf(stderr, "iobuf-bench-dbus: %s did not appear on the bus\n", name);
	exit(1);
}

static pid_t start_bus(const char *config, char *address, size_t size)
{
	char fdarg[32];
	int pipefd[2];
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd) < 0)
		bench_die("pipe");
	pid = fork();
	if (pid == 0) {
		snprintf(fdarg, sizeof(fdarg), "--print-address=%d", pipefd[1]);
		execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nosyslog", "--config-file",
		       config, fdarg, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	n = read(pipefd[0], address, size - 1);
	close(pipefd[0]);
	if (n <= 0)
		bench_die("dbus-daemon");
	address[n] = '\0';
	address[strcspn(address, "\n")] = '\0';
	return pid;
}

int main(int argc, char **argv)
{
	static bench_fn *const subjects[] = { run_ping, run_allocate, run_bare };
	struct bench_daemon iobufd;
	char address[256];
	struct stats r[3];
	pid_t bus_pid, bare_pid;

	if (argc != 3) {
		fprintf(stderr, "usage: iobuf-bench-dbus IOBUFD BUS_CONFIG\n");
		return 2;
	}
	bus_pid = start_bus(argv[2], address, sizeof(address));
	bench_daemon_start(&iobufd, argv[1], "memfd", address);
	bare_pid = start_bare(address);
	check(sd_bus_new(&bus), "sd_bus_new");
	check(sd_bus_set_address(bus, address), "sd_bus_set_address");
	check(sd_bus_set_bus_client(bus, 1), "sd_bus_set_bus_client");
	check(sd_bus_negotiate_fds(bus, 1), "sd_bus_negotiate_fds");
	check(sd_bus_start(bus), "sd_bus_start");
	/* The daemon takes its name after its socket listens: wait for it. */
	wait_for(NAME);
	wait_for(BARE_NAME);

	bench_measure(subjects, 3, NULL, 2000, r);
	printf("latency in microseconds\n");
	printf("%-10s | %9s %9s\n", "", "median", "p99");
	printf("%-10s | %9.1f %9.1f\n", "ping", r[0].median_us, r[0].p99_us);
	printf("%-10s | %9.1f %9.1f\n", "allocate", r[1].median_us, r[1].p99_us);
	printf("%-10s | %9.1f %9.1f\n", "bare", r[2].median_us, r[2].p99_us);
	printf("allocate/ping %.2f (allocate makes two round trips), allocate/bare %.2f\n",
	       r[1].median_us / r[0].median_us, r[1].median_us / r[2].median_us);
	printf("BENCH dbus ping_median_us=%.2f ping_p99_us=%.2f allocate_median_us=%.2f "
	       "allocate_p99_us=%.2f bare_median_us=%.2f bare_p99_us=%.2f "
	       "allocate_over_ping=%.3f allocate_over_bare=%.3f\n",
	       r[0].median_us, r[0].p99_us, r[1].median_us, r[1].p99_us, r[2].median_us,
	       r[2].p99_us, r[1].median_us / r[0].median_us, r[1].median_us / r[2].median_us);
	bench_target("dbus_allocate_free", r[1].median_us / r[2].median_us, 1.1,
		     "iobufd Allocate+Free over a bare sd-bus server's, median");

	sd_bus_flush_close_unref(bus);
	kill(bare_pid, SIGTERM);
	waitpid(bare_pid, NULL, 0);
	bench_daemon_stop(&iobufd);
	kill(bus_pid, SIGTERM);
	waitpid(bus_pid, NULL, 0);
	return 0;
}
