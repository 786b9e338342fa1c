/* SPDX-License-Identifier: MIT */
/*
 * The D-Bus path against the bare cost of D-Bus, through the same
 * dbus-daemon and to the same peer, in one run:
 *
 *   ping      org.freedesktop.DBus.Peer.Ping to iobufd: one bare round trip;
 *   allocate  Allocate (a 4 KiB memfd), map, touch, unmap, close, Free:
 *             two round trips and the allocation.
 *
 * Usage: iobuf-bench-dbus IOBUFD BUS_CONFIG  (a dbus-daemon config, e.g.
 * tests/dbus/bus.conf; this program starts its own bus and iobufd)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "common.h"
#include "names.h"

#define NAME IOBUF_BUS_NAME
#define PATH IOBUF_BUS_PATH

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

static void run_allocate(const void *arg)
{
	sd_bus_message *reply = NULL;
	const char *heap;
	uint64_t id, size;
	uint32_t granted;
	volatile char *p;
	int fd;

	check(sd_bus_call_method(bus, NAME, PATH, NAME, "Allocate", NULL, &reply, "ttu",
				 (uint64_t)4096, (uint64_t)0, (uint32_t)0),
	      "Allocate");
	check(sd_bus_message_read(reply, "httus", &fd, &id, &size, &granted, &heap), "reply");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		bench_die("mmap");
	p[0] = 1;
	munmap((void *)p, size);
	sd_bus_message_unref(reply); /* closes the fd */
	check(sd_bus_call_method(bus, NAME, PATH, NAME, "Free", NULL, NULL, "t", id), "Free");
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
	static bench_fn *const subjects[] = { run_ping, run_allocate };
	struct bench_daemon iobufd;
	char address[256];
	struct stats r[2];
	pid_t bus_pid;

	if (argc != 3) {
		fprintf(stderr, "usage: iobuf-bench-dbus IOBUFD BUS_CONFIG\n");
		return 2;
	}
	bus_pid = start_bus(argv[2], address, sizeof(address));
	bench_daemon_start(&iobufd, argv[1], "memfd", address);
	check(sd_bus_new(&bus), "sd_bus_new");
	check(sd_bus_set_address(bus, address), "sd_bus_set_address");
	check(sd_bus_set_bus_client(bus, 1), "sd_bus_set_bus_client");
	check(sd_bus_start(bus), "sd_bus_start");
	/* The daemon takes its name after its socket listens: wait for it. */
	for (int tries = 0; tries < 500; tries++) {
		if (sd_bus_call_method(bus, NAME, PATH, "org.freedesktop.DBus.Peer", "Ping", NULL,
				       NULL, NULL) >= 0)
			break;
		usleep(10000);
	}

	bench_measure(subjects, 2, NULL, 2000, r);
	printf("latency in microseconds\n");
	printf("%-10s | %9s %9s\n", "", "median", "p99");
	printf("%-10s | %9.1f %9.1f\n", "ping", r[0].median_us, r[0].p99_us);
	printf("%-10s | %9.1f %9.1f\n", "allocate", r[1].median_us, r[1].p99_us);
	printf("allocate/ping %.2f (allocate makes two round trips)\n",
	       r[1].median_us / r[0].median_us);
	printf("BENCH dbus ping_median_us=%.2f ping_p99_us=%.2f allocate_median_us=%.2f "
	       "allocate_p99_us=%.2f allocate_over_ping=%.3f\n",
	       r[0].median_us, r[0].p99_us, r[1].median_us, r[1].p99_us,
	       r[1].median_us / r[0].median_us);

	sd_bus_flush_close_unref(bus);
	bench_daemon_stop(&iobufd);
	kill(bus_pid, SIGTERM);
	waitpid(bus_pid, NULL, 0);
	return 0;
}
