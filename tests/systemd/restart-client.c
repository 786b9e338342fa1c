/* SPDX-License-Identifier: MIT */
/*
 * A client that lives through a restart of iobufd: it allocates and fills
 * buffers, says "ready", waits for a line on stdin (sent once iobufd has
 * been restarted) and then checks that its connection, buffers, contents,
 * states and charges are all still there. Prints "ok" or what went wrong.
 * With a bus address it also holds a buffer from the D-Bus Allocate, charged
 * (ChargeTo) to a child of its own: after the restart the daemon still lists
 * that caller as the child, the buffer is still the caller's to free, and
 * the child's exit still ends the charge. Before and after the restart,
 * its charge and the daemon's totals must be the sizes the kernel gives the
 * fds it holds; "ready" lists those sizes.
 * Usage: restart-client SOCKET [BUS_ADDRESS]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "iobuf/iobuf.h"
#include "names.h"
#include "pattern.h"

#define BUS_NAME IOBUF_BUS_NAME
#define BUS_PATH IOBUF_BUS_PATH
#define BUS_SIZE 4096

#define WIRED_SIZE 65536
#define VOLATILE_SIZE 8192

static int failed(const char *what)
{
	printf("FAIL: %s (%s)\n", what, iobuf_last_error());
	return EXIT_FAILURE;
}

/*
 * A caller on the bus charged to a child, holding one buffer from Allocate,
 * mapped and filled.
 */
struct bus_buffer {
	sd_bus *bus;
	pid_t child;
	uint64_t id;
	unsigned char *map;
	int fd; /* its own copy, -1 without a bus */
};

/*
 * The size the kernel gives the fd's file: fdinfo's "size:" for a dma-buf;
 * a memfd's fdinfo has none, so its file size. 0 when unreadable.
 */
static uint64_t kernel_size(int fd)
{
	char path[64], line[128];
	uint64_t size = 0;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		sscanf(line, "size: %" SCNu64, &size);
	fclose(f);
	if (size == 0 && fstat(fd, &st) == 0)
		size = (uint64_t)st.st_size;
	return size;
}

/*
 * The task's charge is the sizes of its two buffers' fds, and the daemon's
 * totals those and the bus buffer's.
 */
static int charged_as_held(const struct iobuf_usage *usage, struct iobuf *wired,
			   struct iobuf *purgeable, const struct bus_buffer *b)
{
	uint64_t held = kernel_size(iobuf_get_fd(wired)) + kernel_size(iobuf_get_fd(purgeable));
	uint64_t bus_held = b->fd >= 0 ? kernel_size(b->fd) : 0;

	return usage->buffers == 2 && usage->bytes == held &&
	       usage->total_buffers == 2 + (b->fd >= 0) && usage->total_bytes == held + bus_held;
}

/* A child that waits to be killed, and dies with this process at the latest. */
static pid_t idle_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	return pid;
}

static int bus_charge_to_child(struct bus_buffer *b)
{
	int pidfd, r;

	b->child = idle_child();
	if (b->child < 0)
		return -1;
	pidfd = (int)syscall(SYS_pidfd_open, b->child, 0);
	if (pidfd < 0)
		return -1;
	r = sd_bus_call_method(b->bus, BUS_NAME, BUS_PATH, BUS_NAME, "ChargeTo", NULL, NULL, "h",
			       pidfd);
	close(pidfd);
	return r;
}

static int bus_allocate(const char *address, struct bus_buffer *b)
{
	sd_bus_message *reply = NULL;
	uint64_t size;
	uint32_t granted;
	const char *heap;
	int fd, r;

	r = sd_bus_new(&b->bus);
	if (r >= 0)
		r = sd_bus_set_address(b->bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(b->bus, 1);
	if (r >= 0)
		r = sd_bus_start(b->bus);
	if (r >= 0)
		r = bus_charge_to_child(b);
	if (r >= 0)
		r = sd_bus_call_method(b->bus, BUS_NAME, BUS_PATH, BUS_NAME, "Allocate", NULL, &reply,
				       "ttu", (uint64_t)BUS_SIZE, (uint64_t)0, IOBUF_PAGEABLE);
	if (r >= 0)
		r = sd_bus_message_read(reply, "httus", &fd, &b->id, &size, &granted, &heap);
	if (r >= 0) {
		b->map = mmap(NULL, BUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		r = b->map == MAP_FAILED ? -1 : 0;
	}
	if (r >= 0) {
		b->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		r = b->fd < 0 ? -1 : 0;
	}
	sd_bus_message_unref(reply);
	if (r < 0)
		return r;
	memset(b->map, 0x5a, BUS_SIZE);
	return 0;
}

/* Whether the daemon lists a bus client that is the child. */
static int bus_lists_child(struct bus_buffer *b)
{
	sd_bus_message *reply = NULL;
	const char *comm, *unit, *transport;
	uint32_t id, uid, pid;
	uint64_t buffers, bytes;
	int found = 0, r;

	r = sd_bus_call_method(b->bus, BUS_NAME, BUS_PATH, BUS_NAME, "ListClients", NULL, &reply,
			       "");
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "(uuussstt)");
	while (r > 0) {
		r = sd_bus_message_read(reply, "(uuussstt)", &id, &uid, &pid, &comm, &unit,
					&transport, &buffers, &bytes);
		if (r > 0 && (pid_t)pid == b->child && strcmp(transport, "bus") == 0 &&
		    bytes == BUS_SIZE)
			found = 1;
	}
	sd_bus_message_unref(reply);
	return found;
}

/* Frees the buffer, which must work once and only once. */
static int bus_free_twice(struct bus_buffer *b)
{
	int first, second;

	for (size_t i = 0; i < BUS_SIZE; i++)
		if (b->map[i] != 0x5a)
			return -1;
	first = sd_bus_call_method(b->bus, BUS_NAME, BUS_PATH, BUS_NAME, "Free", NULL, NULL, "t",
				   b->id);
	second = sd_bus_call_method(b->bus, BUS_NAME, BUS_PATH, BUS_NAME, "Free", NULL, NULL, "t",
				    b->id);
	munmap(b->map, BUS_SIZE);
	close(b->fd);
	return first >= 0 && second < 0 ? 0 : -1;
}

/* The child exits: the daemon watching it refuses the caller from then on. */
static int bus_charge_ends(struct bus_buffer *b)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int refused = 0;

	kill(b->child, SIGKILL);
	waitpid(b->child, NULL, 0);
	for (int tries = 0; tries < 100 && !refused; tries++) {
		if (sd_bus_call_method(b->bus, BUS_NAME, BUS_PATH, BUS_NAME, "Allocate", &error,
				       NULL, "ttu", (uint64_t)BUS_SIZE, (uint64_t)0, 0u) < 0)
			refused = strstr(error.message, "has exited") != NULL;
		sd_bus_error_free(&error);
		if (!refused)
			usleep(20000);
	}
	sd_bus_flush_close_unref(b->bus);
	return refused ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct bus_buffer bus_buffer = { .fd = -1 };
	struct iobuf_task *task;
	struct iobuf *wired, *purgeable, *later;
	struct iobuf_usage before, after;
	enum iobuf_purgeable_state old;
	char line[16];

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: restart-client SOCKET [BUS_ADDRESS]\n");
		return 2;
	}
	if (argc == 3 && bus_allocate(argv[2], &bus_buffer) < 0)
		return failed("allocate on the bus");
	task = iobuf_task_connect(argv[1]);
	if (!task)
		return failed("connect");
	wired = iobuf_in_task_with_options(task, 0, WIRED_SIZE, 0);
	purgeable = iobuf_in_task_with_options(task, IOBUF_PAGEABLE | IOBUF_PURGEABLE,
					       VOLATILE_SIZE, 0);
	if (!wired || !purgeable)
		return failed("allocate");
	fill_pattern(wired, 3);
	fill_pattern(purgeable, 5);
	if (iobuf_set_purgeable(purgeable, IOBUF_PURGEABLE_VOLATILE, &old) < 0 ||
	    iobuf_task_get_usage(task, &before) < 0)
		return failed("before the restart");
	if (!charged_as_held(&before, wired, purgeable, &bus_buffer))
		return failed("the charge is not the sizes of the fds held");
	printf("ready %" PRIu64 " buffers %" PRIu64 " bytes, total %" PRIu64 " buffers %" PRIu64
	       " bytes, fd sizes %" PRIu64 " %" PRIu64,
	       before.buffers, before.bytes, before.total_buffers, before.total_bytes,
	       kernel_size(iobuf_get_fd(wired)), kernel_size(iobuf_get_fd(purgeable)));
	if (bus_buffer.fd >= 0)
		printf(" %" PRIu64, kernel_size(bus_buffer.fd));
	printf("\n");
	fflush(stdout);

	if (!fgets(line, sizeof(line), stdin))
		return failed("no word to go on");
	if (iobuf_task_get_usage(task, &after) < 0)
		return failed("usage after the restart");
	if (after.buffers != before.buffers || after.bytes != before.bytes ||
	    after.total_bytes != before.total_bytes || after.clients != before.clients)
		return failed("the charge changed");
	if (!charged_as_held(&after, wired, purgeable, &bus_buffer))
		return failed("after the restart, the charge is not the sizes of the fds held");
	if (!holds_pattern(wired, 3) || !holds_pattern(purgeable, 5))
		return failed("the contents changed");
	if (argc == 3 && !bus_lists_child(&bus_buffer))
		return failed("the bus caller is no longer charged to its child");
	if (argc == 3 && bus_free_twice(&bus_buffer) < 0)
		return failed("the bus buffer is not the caller's any more");
	if (argc == 3 && bus_charge_ends(&bus_buffer) < 0)
		return failed("the child's exit did not end the bus caller's charge");
	if (iobuf_set_purgeable(purgeable, IOBUF_PURGEABLE_NON_VOLATILE, &old) < 0 ||
	    old != IOBUF_PURGEABLE_VOLATILE)
		return failed("the purgeable state was lost");
	later = iobuf_in_task_with_options(task, 0, 4096, 0);
	if (!later || iobuf_get_id(later) <= iobuf_get_id(purgeable))
		return failed("a new buffer reused an id");
	iobuf_release(later);
	iobuf_release(wired);
	iobuf_release(purgeable);
	if (iobuf_task_get_usage(task, &after) < 0 || after.buffers || after.bytes)
		return failed("freeing after the restart");
	iobuf_task_unref(task);
	printf("ok\n");
	return EXIT_SUCCESS;
}
