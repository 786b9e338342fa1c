/* SPDX-License-Identifier: MIT */
/*
 * How can a daemon see that a buffer's memory is really released: the last
 * fd, mapping, SCM_RIGHTS message in flight and DRM import gone? For each
 * kind of buffer iobufd makes, runs scenarios in which another holder
 * outlives the creator's fd and prints, at each step, what each mechanism saw
 * and how much memory came back (free pages and per-cpu lists in
 * /proc/zoneinfo, in MiB, during the inotify run):
 *   inotify       a watch on /proc/self/fd/N, added before the creator closes N
 *   count         the "count:" line of /proc/self/fdinfo/N, the creator keeping N
 *   fanotify-fid  an inode mark on fd N by a FAN_REPORT_FID group (unprivileged)
 *   fanotify-fd   an inode mark on fd N by a group with event fds (root only)
 * A '*' marks the step after which the memory is really gone. As root, it
 * also runs two scenarios as uid 65534 (the device nodes made 0666 meanwhile)
 * and lets uid 65534 try to watch buffers root made.
 *
 * It reports what the kernel does; it exits 0 unless it cannot run at all.
 * Usage: release-probe (run it in the qemu guest: tests/vm/guest-run.sh)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <drm_fourcc.h>
#include <gbm.h>
#include <xf86drm.h>

/* Big enough to see freed; VRAM (bochs) is small and not system memory. */
#define SIZE (32u << 20)
#define VRAM_SIZE (1u << 20)
#define NOBODY "65534"
#define MAX_STEPS 8
/* How long a step waits for events that may not come; our own closes
 * queue theirs before close() returns, a helper's before it answers. */
#define QUIET_MS 100
#define WATCH_MASK (IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_DELETE_SELF | IN_ATTRIB)

enum kind { MEMFD, DMA_HEAP, UDMABUF, VGEM_DUMB, BOCHS_DUMB, GBM_BO, KINDS };

static const char *const kind_names[KINDS] = {
	"memfd", "dma-heap", "udmabuf", "vgem-dumb", "bochs-dumb", "gbm-bo",
};

enum mechanism { INOTIFY, COUNT, FANOTIFY_FID, FANOTIFY_FD, MECHANISMS };

static const char *const mechanism_names[MECHANISMS] = {
	"inotify", "count", "fanotify-fid", "fanotify-fd",
};

static const int widths[MECHANISMS] = { 26, 8, 24, 24 };

struct step {
	char label[48];
	bool released; /* the memory is really gone after this step */
	char seen[MECHANISMS][40];
	long freed_mib;
};

struct run {
	enum kind kind;
	enum mechanism mechanism;
	int kept;   /* the creator's fd, kept open for COUNT */
	int notify; /* the inotify or fanotify fd */
	char armed[40]; /* why the mechanism could not be set up */
	long free_kib;
	int nsteps;
	struct step *steps;
};

static struct {
	int heap;
	int udmabuf;
	int vgem;
	int bochs;
	char vgem_node[32];
	char bochs_node[32];
	struct gbm_device *gbm;
} dev = { -1, -1, -1, -1, "", "", NULL };

static const char *errname(int error)
{
	const char *name = strerrorname_np(error);

	return name ? name : "E?";
}

/* Its pages allocated now, so that their release shows in MemFree. */
static int make_memfd(void)
{
	int fd = memfd_create("release-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int r;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, SIZE) < 0 || fallocate(fd, 0, 0, SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int make_heap_buffer(void)
{
	struct dma_heap_allocation_data data = { .len = SIZE, .fd_flags = O_RDWR | O_CLOEXEC };

	if (dev.heap < 0)
		return -ENODEV;
	if (ioctl(dev.heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	return (int)data.fd;
}

static int make_udmabuf(void)
{
	struct udmabuf_create create = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = SIZE };
	int memfd, fd;

	if (dev.udmabuf < 0)
		return -ENODEV;
	memfd = make_memfd();
	if (memfd < 0)
		return memfd;
	create.memfd = (uint32_t)memfd;
	fd = ioctl(dev.udmabuf, UDMABUF_CREATE, &create);
	if (fd < 0)
		fd = -errno;
	close(memfd);
	return fd;
}

static int gem_close(int drm, uint32_t handle)
{
	struct drm_gem_close arg = { .handle = handle };

	return drmIoctl(drm, DRM_IOCTL_GEM_CLOSE, &arg) < 0 ? -errno : 0;
}

/* vgem allocates shmem pages on first touch: touch them all. */
static void populate(int fd, size_t size)
{
	void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (map == MAP_FAILED)
		return;
	memset(map, 1, size);
	munmap(map, size);
}

/* A dumb buffer exported as a dma-buf; its GEM handle closed. */
static int make_dumb(int drm, size_t size)
{
	struct drm_mode_create_dumb create = { .width = 1024, .height = size / 4096, .bpp = 32 };
	int fd, r = 0;

	if (drm < 0)
		return -ENODEV;
	if (drmIoctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return -errno;
	if (drmPrimeHandleToFD(drm, create.handle, DRM_RDWR | DRM_CLOEXEC, &fd) < 0)
		r = -errno;
	gem_close(drm, create.handle);
	return r < 0 ? r : fd;
}

static int make_gbm_bo(void)
{
	struct gbm_bo *bo;
	int fd;

	if (!dev.gbm)
		return -ENODEV;
	errno = 0;
	bo = gbm_bo_create(dev.gbm, 256, 256, GBM_FORMAT_XRGB8888, GBM_BO_USE_LINEAR);
	if (!bo)
		return errno ? -errno : -EIO;
	fd = gbm_bo_get_fd(bo);
	gbm_bo_destroy(bo);
	return fd < 0 ? -EIO : fd;
}

static int make_buffer(enum kind kind)
{
	switch (kind) {
	case MEMFD: return make_memfd();
	case DMA_HEAP: return make_heap_buffer();
	case UDMABUF: return make_udmabuf();
	case VGEM_DUMB: {
		int fd = make_dumb(dev.vgem, SIZE);

		if (fd >= 0)
			populate(fd, SIZE);
		return fd;
	}
	case BOCHS_DUMB: return make_dumb(dev.bochs, VRAM_SIZE);
	case GBM_BO: return make_gbm_bo();
	default: return -EINVAL;
	}
}

/* The DRM node whose driver made a buffer of this kind, or NULL. */
static const char *own_node(enum kind kind)
{
	switch (kind) {
	case VGEM_DUMB: return dev.vgem_node;
	case BOCHS_DUMB:
	case GBM_BO: return dev.bochs_node;
	default: return NULL;
	}
}

static int open_card(const char *driver, char *node, size_t size)
{
	for (int i = 0; i < 16; i++) {
		char path[32];
		drmVersionPtr version;
		bool match;
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		version = drmGetVersion(fd);
		match = version && strcmp(version->name, driver) == 0;
		drmFreeVersion(version);
		if (match) {
			if (drmIsMaster(fd))
				drmDropMaster(fd);
			snprintf(node, size, "%s", path);
			return fd;
		}
		close(fd);
	}
	return -1;
}

static void open_devices(void)
{
	dev.heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
	dev.udmabuf = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	dev.vgem = open_card("vgem", dev.vgem_node, sizeof(dev.vgem_node));
	dev.bochs = open_card("bochs-drm", dev.bochs_node, sizeof(dev.bochs_node));
	if (dev.bochs >= 0)
		dev.gbm = gbm_create_device(dev.bochs);
}

static void close_devices(void)
{
	if (dev.gbm)
		gbm_device_destroy(dev.gbm);
	if (dev.heap >= 0)
		close(dev.heap);
	if (dev.udmabuf >= 0)
		close(dev.udmabuf);
	if (dev.vgem >= 0)
		close(dev.vgem);
	if (dev.bochs >= 0)
		close(dev.bochs);
}

static void append(char *out, size_t size, const char *word)
{
	size_t len = strlen(out);

	if (len < size)
		snprintf(out + len, size - len, "%s%s", len ? "," : "", word);
}

/* fanotify shares these bits with inotify, except IN_IGNORED. */
static void append_mask(char *out, size_t size, uint64_t mask)
{
	static const struct { uint64_t bit; const char *name; } names[] = {
		{ IN_OPEN, "open" },
		{ IN_CLOSE_WRITE, "close_w" },
		{ IN_CLOSE_NOWRITE, "close_nw" },
		{ IN_ATTRIB, "attrib" },
		{ IN_DELETE_SELF, "del_self" },
		{ IN_IGNORED, "ignored" },
		{ IN_Q_OVERFLOW, "overflow" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mask & names[i].bit)
			append(out, size, names[i].name);
}

static void read_inotify(int ifd, char *out, size_t size, int wait_ms)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd = { .fd = ifd, .events = POLLIN };

	while (poll(&pfd, 1, wait_ms) > 0) {
		ssize_t n = read(ifd, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *event = (const struct inotify_event *)p;

			append_mask(out, size, event->mask);
			p += sizeof(*event) + event->len;
		}
		wait_ms = 10;
	}
}

/* Reading an event may open a file for it; a failure drops that event. */
static void read_fanotify(int fan, char *out, size_t size, int wait_ms)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
	struct pollfd pfd = { .fd = fan, .events = POLLIN };

	for (int reads = 0; reads < 16 && poll(&pfd, 1, wait_ms) > 0; reads++) {
		ssize_t n = read(fan, buf, sizeof(buf));
		const struct fanotify_event_metadata *event = (const void *)buf;
		char word[24];

		wait_ms = 10;
		if (n < 0) {
			if (errno == EAGAIN)
				break;
			snprintf(word, sizeof(word), "read:%s", errname(errno));
			append(out, size, word);
			continue;
		}
		for (; FAN_EVENT_OK(event, n); event = FAN_EVENT_NEXT(event, n)) {
			append_mask(out, size, event->mask);
			if (event->fd >= 0) {
				append(out, size, "fd");
				close(event->fd);
			}
		}
	}
}

static void read_count(int fd, char *out, size_t size)
{
	char path[64], line[256];
	bool found = false;
	long count = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f) {
		snprintf(out, size, "%s", errname(errno));
		return;
	}
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "count: %ld", &count) == 1;
	fclose(f);
	if (found)
		snprintf(out, size, "%ld", count);
	else
		snprintf(out, size, "no line");
}

/*
 * Free memory counting the per-cpu page lists, where freed pages go first:
 * MemFree alone misses a freed buffer on a big machine.
 */
static long free_kib(void)
{
	char line[256];
	long pages, total = 0;
	FILE *f = fopen("/proc/zoneinfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " pages free %ld", &pages) == 1 ||
		    sscanf(line, " count: %ld", &pages) == 1)
			total += pages;
	fclose(f);
	return total * (sysconf(_SC_PAGESIZE) / 1024);
}

static void observe(struct run *run, char *out, size_t size, int wait_ms)
{
	out[0] = '\0';
	if (run->armed[0]) {
		snprintf(out, size, "x");
		return;
	}
	switch (run->mechanism) {
	case INOTIFY:
		read_inotify(run->notify, out, size, wait_ms);
		break;
	case COUNT:
		read_count(run->kept, out, size);
		break;
	case FANOTIFY_FID:
	case FANOTIFY_FD:
		read_fanotify(run->notify, out, size, wait_ms);
		break;
	default:
		break;
	}
	if (!out[0])
		snprintf(out, size, "-");
}

static void __attribute__((format(printf, 4, 5)))
step_after(struct run *run, int wait_ms, bool released, const char *format, ...)
{
	struct step *step;
	va_list args;

	if (run->nsteps == MAX_STEPS)
		return;
	step = &run->steps[run->nsteps++];
	if (!step->label[0]) {
		va_start(args, format);
		vsnprintf(step->label, sizeof(step->label), format, args);
		va_end(args);
		step->released = released;
	}
	observe(run, step->seen[run->mechanism], sizeof(step->seen[0]), wait_ms);
	if (run->mechanism == INOTIFY) {
		long now = free_kib();

		step->freed_mib = (now - run->free_kib) / 1024;
		run->free_kib = now;
	}
}

#define step(run, released, ...) step_after(run, QUIET_MS, released, __VA_ARGS__)

/* Sets up the run's mechanism on fd; on failure, run->armed says why. */
static void arm(struct run *run, int fd)
{
	bool fid = run->mechanism == FANOTIFY_FID;
	uint64_t mask = FAN_OPEN | FAN_CLOSE;
	char path[64];

	run->armed[0] = '\0';
	switch (run->mechanism) {
	case INOTIFY:
		run->notify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (run->notify < 0) {
			snprintf(run->armed, sizeof(run->armed), "inotify_init1: %s", errname(errno));
			return;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (inotify_add_watch(run->notify, path, WATCH_MASK) < 0)
			snprintf(run->armed, sizeof(run->armed), "add_watch: %s", errname(errno));
		break;
	case COUNT:
		break;
	case FANOTIFY_FID:
	case FANOTIFY_FD:
		run->notify = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
						    (fid ? FAN_REPORT_FID : 0),
					    O_RDONLY | O_CLOEXEC);
		if (run->notify < 0) {
			snprintf(run->armed, sizeof(run->armed), "fanotify_init: %s", errname(errno));
			return;
		}
		if (fid)
			mask |= FAN_ATTRIB | FAN_DELETE_SELF;
		if (fanotify_mark(run->notify, FAN_MARK_ADD | FAN_MARK_INODE, mask, fd, NULL) < 0)
			snprintf(run->armed, sizeof(run->armed), "fanotify_mark: %s", errname(errno));
		break;
	default:
		break;
	}
}

static int send_fd(int sock, int fd)
{
	char data = 'f';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr header;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

static int receive_fd(int sock)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr header;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/*
 * A forked process that holds a buffer for the scenario and acts on one-byte
 * commands: 'c' closes its fd, 'r' receives one from its socket. It keeps
 * nothing else the parent had open, so it holds no other reference.
 */
struct helper {
	pid_t pid;
	int to;
	int from;
};

static void close_all_but(const int *keep, size_t n)
{
	for (int fd = 3; fd < 1024; fd++) {
		bool kept = false;

		for (size_t i = 0; i < n; i++)
			kept = kept || keep[i] == fd;
		if (!kept)
			close(fd);
	}
}

static void __attribute__((noreturn)) helper_loop(int commands, int answers, int fd, int sock)
{
	char command;

	while (read(commands, &command, 1) == 1) {
		if (command == 'c') {
			close(fd);
			fd = -1;
		} else if (command == 'r') {
			fd = receive_fd(sock);
		} else {
			break;
		}
		if (write(answers, &command, 1) != 1)
			break;
	}
	_exit(0);
}

static void helper_stop(struct helper *helper);

static int helper_start(struct helper *helper, int fd, int sock)
{
	int down[2], up[2];
	char ready;

	if (pipe2(down, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(up, O_CLOEXEC) < 0) {
		close(down[0]);
		close(down[1]);
		return -errno;
	}
	fflush(stdout);
	helper->pid = fork();
	if (helper->pid == 0) {
		int keep[] = { down[0], up[1], fd, sock };

		close_all_but(keep, 4);
		if (write(up[1], "r", 1) != 1)
			_exit(1);
		helper_loop(down[0], up[1], fd, sock);
	}
	close(down[0]);
	close(up[1]);
	helper->to = down[1];
	helper->from = up[0];
	if (helper->pid < 0) {
		close(helper->to);
		close(helper->from);
		return -errno;
	}
	/* Ready: it holds nothing but what it was given. */
	if (read(helper->from, &ready, 1) != 1) {
		helper_stop(helper);
		return -EIO;
	}
	return 0;
}

static void helper_command(struct helper *helper, char command)
{
	char answer;

	if (write(helper->to, &command, 1) != 1 || read(helper->from, &answer, 1) != 1)
		fprintf(stderr, "release-probe: helper %d does not answer\n", (int)helper->pid);
}

static void helper_stop(struct helper *helper)
{
	close(helper->to);
	close(helper->from);
	waitpid(helper->pid, NULL, 0);
}

static off_t buffer_size(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);

	return size > 0 ? size : SIZE;
}

/* Each scenario gets the client's fd, a dup of the creator's, to consume. */
typedef void scenario_fn(struct run *run, int fd);

static void scenario_selftest(struct run *run, int fd)
{
	close(fd);
	step_after(run, 0, true, "fd closed, read without waiting");
}

static void scenario_fork(struct run *run, int fd)
{
	struct helper helper;
	int r = helper_start(&helper, fd, -1);

	close(fd);
	if (r < 0) {
		step(run, true, "fork: %s", errname(-r));
		return;
	}
	step(run, false, "parent closed its fd");
	helper_command(&helper, 'c');
	step(run, true, "child closed the inherited fd");
	helper_stop(&helper);
}

static void scenario_mmap(struct run *run, int fd)
{
	bool writable = (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR;
	off_t size = buffer_size(fd);
	volatile char *map;

	map = mmap(NULL, (size_t)size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		step(run, false, "mmap: %s", errname(errno));
		close(fd);
		step(run, true, "fd closed");
		return;
	}
	if (writable)
		map[0] = 1;
	(void)map[size - 1];
	close(fd);
	step(run, false, "fd closed, still mapped (%s)", writable ? "rw" : "ro");
	munmap((void *)map, (size_t)size);
	step(run, true, "munmap");
}

static void scenario_scm(struct run *run, int fd)
{
	struct helper helper;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		close(fd);
		step(run, true, "socketpair: %s", errname(errno));
		return;
	}
	r = helper_start(&helper, -1, sv[1]);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		close(fd);
		step(run, true, "fork: %s", errname(-r));
		return;
	}
	r = send_fd(sv[0], fd);
	close(fd);
	step(run, false, r < 0 ? "sendmsg: %s" : "sent, sender closed its fd%s", r < 0 ? errname(-r) : "");
	helper_command(&helper, 'r');
	close(sv[0]);
	step(run, false, "receiver took it; socket closed");
	helper_command(&helper, 'c');
	step(run, true, "receiver closed it");
	helper_stop(&helper);
}

static void scenario_reopen(struct run *run, int fd)
{
	char path[64];
	int again;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	again = open(path, O_RDWR | O_CLOEXEC);
	if (again < 0) {
		step(run, false, "reopen O_RDWR: %s", errname(errno));
		close(fd);
		step(run, true, "fd closed");
		return;
	}
	step(run, false, "reopened O_RDWR via /proc/self/fd");
	close(fd);
	step(run, false, "first file closed");
	close(again);
	step(run, true, "second file closed");
}

static void scenario_vgem_import(struct run *run, int fd)
{
	uint32_t handle;
	int importer = open(dev.vgem_node, O_RDWR | O_CLOEXEC);

	if (importer < 0) {
		step(run, false, "open %s: %s", dev.vgem_node, errname(errno));
		close(fd);
		step(run, true, "fd closed");
		return;
	}
	if (drmPrimeFDToHandle(importer, fd, &handle) < 0) {
		step(run, false, "vgem import: %s", errname(errno));
		close(importer);
		close(fd);
		step(run, true, "fd closed");
		return;
	}
	step(run, false, "imported into vgem");
	close(fd);
	step(run, false, "fd closed, GEM handle open");
	gem_close(importer, handle);
	step(run, true, "GEM handle closed");
	close(importer);
	step(run, false, "vgem fd closed");
}

static void scenario_in_flight(struct run *run, int fd)
{
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		close(fd);
		step(run, true, "socketpair: %s", errname(errno));
		return;
	}
	r = send_fd(sv[0], fd);
	close(fd);
	step(run, false, r < 0 ? "sendmsg: %s" : "in flight, fd closed%s", r < 0 ? errname(-r) : "");
	close(sv[0]);
	step(run, false, "sending end closed");
	close(sv[1]);
	step(run, true, "receiving end closed");
}

/*
 * The client imports the buffer into the device that made it and maps it
 * there (DRM_IOCTL_MODE_MAP_DUMB): that mapping holds the GEM object, not the
 * dma-buf.
 */
static void scenario_device_map(struct run *run, int fd)
{
	struct drm_mode_map_dumb map_dumb = { 0 };
	off_t size = buffer_size(fd);
	int device = open(own_node(run->kind), O_RDWR | O_CLOEXEC);
	void *map = MAP_FAILED;
	bool imported = false;

	if (device < 0) {
		step(run, false, "open %s: %s", own_node(run->kind), errname(errno));
		goto fail;
	}
	if (drmPrimeFDToHandle(device, fd, &map_dumb.handle) < 0) {
		step(run, false, "self-import: %s", errname(errno));
		goto fail;
	}
	imported = true;
	if (drmIoctl(device, DRM_IOCTL_MODE_MAP_DUMB, &map_dumb) < 0) {
		step(run, false, "MAP_DUMB: %s", errname(errno));
		goto fail;
	}
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, device, (off_t)map_dumb.offset);
	if (map == MAP_FAILED) {
		step(run, false, "mmap of the device: %s", errname(errno));
		goto fail;
	}
	step(run, false, "imported into own device, mapped there");
	close(fd);
	step(run, false, "fd closed");
	gem_close(device, map_dumb.handle);
	step(run, false, "GEM handle closed, device mapping stays");
	munmap(map, (size_t)size);
	step(run, true, "device mapping unmapped");
	close(device);
	step(run, false, "device fd closed");
	return;
fail:
	if (imported)
		gem_close(device, map_dumb.handle);
	if (device >= 0)
		close(device);
	close(fd);
	step(run, true, "fd closed");
}

/*
 * The pages of a mapping spliced into a pipe: the pipe holds page
 * references, as GUP pins (io_uring, RDMA, vfio) do, not the file.
 */
static void scenario_vmsplice(struct run *run, int fd)
{
	size_t size = (size_t)buffer_size(fd), spliced = 0;
	struct iovec iov;
	void *map;
	int pipes[2];

	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || pipe2(pipes, O_CLOEXEC | O_NONBLOCK) < 0) {
		step(run, false, "mmap or pipe: %s", errname(errno));
		if (map != MAP_FAILED)
			munmap(map, size);
		close(fd);
		step(run, true, "fd closed");
		return;
	}
	/* Root may make the pipe as big as the buffer; others up to pipe-max-size. */
	if (fcntl(pipes[1], F_SETPIPE_SZ, (int)size) < 0)
		fcntl(pipes[1], F_SETPIPE_SZ, 1 << 20);
	while (spliced < size) {
		ssize_t n;

		iov = (struct iovec){ .iov_base = (char *)map + spliced, .iov_len = size - spliced };
		n = vmsplice(pipes[1], &iov, 1, SPLICE_F_NONBLOCK);
		if (n <= 0)
			break;
		spliced += (size_t)n;
	}
	if (spliced)
		step(run, false, "vmspliced %zu KiB into a pipe", spliced >> 10);
	else
		step(run, false, "vmsplice: %s", errname(errno));
	munmap(map, size);
	close(fd);
	step(run, !spliced, "unmapped, fd closed");
	close(pipes[0]);
	close(pipes[1]);
	step(run, spliced != 0, "pipe closed");
}

/* An O_PATH file on the buffer's dentry: no access, but a reference. */
static void scenario_o_path(struct run *run, int fd)
{
	char path[64];
	int pinned;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	pinned = open(path, O_PATH | O_CLOEXEC);
	if (pinned < 0) {
		step(run, false, "O_PATH open: %s", errname(errno));
		close(fd);
		step(run, true, "fd closed");
		return;
	}
	step(run, false, "O_PATH open via /proc/self/fd");
	close(fd);
	step(run, false, "fd closed, O_PATH fd open");
	close(pinned);
	step(run, true, "O_PATH fd closed");
}

static bool any_kind(enum kind kind)
{
	return true;
}

static bool dmabuf_kind(enum kind kind)
{
	return kind != MEMFD && dev.vgem >= 0;
}

static bool drm_kind(enum kind kind)
{
	return own_node(kind) != NULL;
}

static const struct scenario {
	const char *name;
	const char *what;
	scenario_fn *fn;
	bool (*applies)(enum kind kind);
	bool unprivileged; /* also run as uid 65534 */
} scenarios[] = {
	{ "S0", "self-test: the only fd closed", scenario_selftest, any_kind, true },
	{ "S1", "a forked child holds an inherited dup", scenario_fork, any_kind, false },
	{ "S2", "a mapping outlives the fds", scenario_mmap, any_kind, true },
	{ "S3", "passed over SCM_RIGHTS to another process", scenario_scm, any_kind, false },
	{ "S4", "reopened via /proc/self/fd", scenario_reopen, any_kind, false },
	{ "S5", "imported into vgem (drmPrimeFDToHandle)", scenario_vgem_import, dmabuf_kind, false },
	{ "S6", "only holder an fd in flight in a unix socket", scenario_in_flight, any_kind, false },
	{ "S8", "imported into its own device and mapped there", scenario_device_map, drm_kind, false },
	{ "S9", "mapped pages spliced into a pipe", scenario_vmsplice, any_kind, false },
	{ "S10", "an O_PATH fd on the buffer", scenario_o_path, any_kind, false },
};

static void run_one(const struct scenario *scenario, enum kind kind, enum mechanism mechanism,
		    struct step *steps, char *armed, size_t armed_size)
{
	struct run run = {
		.kind = kind, .mechanism = mechanism, .kept = -1, .notify = -1, .steps = steps,
	};
	int fd = make_buffer(kind), client;

	if (fd < 0) {
		snprintf(armed, armed_size, "no buffer: %s", errname(-fd));
		return;
	}
	arm(&run, fd);
	run.free_kib = free_kib();
	client = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (mechanism == COUNT)
		run.kept = fd;
	else
		close(fd);
	scenario->fn(&run, client);
	if (run.kept >= 0)
		close(run.kept);
	if (run.notify >= 0)
		close(run.notify);
	snprintf(armed, armed_size, "%s", run.armed);
}

static void print_table(const struct scenario *scenario, enum kind kind,
			const struct step *steps, char armed[MECHANISMS][40])
{
	printf("-- %s %s: %s\n", kind_names[kind], scenario->name, scenario->what);
	for (int m = 0; m < MECHANISMS; m++)
		if (armed[m][0])
			printf("   %s not set up: %s\n", mechanism_names[m], armed[m]);
	printf("   %-44s", "step");
	for (int m = 0; m < MECHANISMS; m++)
		printf(" %-*s", widths[m], mechanism_names[m]);
	printf(" freed\n");
	for (int i = 0; i < MAX_STEPS && steps[i].label[0]; i++) {
		printf(" %c %-44s", steps[i].released ? '*' : ' ', steps[i].label);
		for (int m = 0; m < MECHANISMS; m++)
			printf(" %-*s", widths[m], steps[i].seen[m][0] ? steps[i].seen[m] : "");
		printf(" %+ld\n", steps[i].freed_mib);
	}
	fflush(stdout);
}

static bool kind_available(enum kind kind)
{
	int fd = make_buffer(kind);

	if (fd < 0) {
		printf("-- %s: no buffer (%s), skipped\n", kind_names[kind], errname(-fd));
		return false;
	}
	close(fd);
	return true;
}

static void run_scenarios(bool unprivileged_only)
{
	for (enum kind kind = 0; kind < KINDS; kind++) {
		if (!kind_available(kind))
			continue;
		for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
			struct step steps[MAX_STEPS] = { 0 };
			char armed[MECHANISMS][40] = { { 0 } };

			if (!scenarios[s].applies(kind) || (unprivileged_only && !scenarios[s].unprivileged))
				continue;
			for (enum mechanism m = 0; m < MECHANISMS; m++)
				run_one(&scenarios[s], kind, m, steps, armed[m], sizeof(armed[m]));
			print_table(&scenarios[s], kind, steps, armed);
		}
	}
}

static void print_setting(const char *path)
{
	char value[32] = "?";
	FILE *f = fopen(path, "re");

	if (f) {
		if (fscanf(f, "%31s", value) != 1)
			snprintf(value, sizeof(value), "?");
		fclose(f);
	}
	printf(" %s=%s", strrchr(path, '/') + 1, value);
}

static void print_header(void)
{
	struct utsname uts;

	uname(&uts);
	printf("== release-probe on %s, euid %d; vgem %s, bochs %s\n", uts.release, (int)geteuid(),
	       dev.vgem_node[0] ? dev.vgem_node : "none", dev.bochs_node[0] ? dev.bochs_node : "none");
	printf("  ");
	print_setting("/proc/sys/fs/inotify/max_user_instances");
	print_setting("/proc/sys/fs/inotify/max_user_watches");
	print_setting("/proc/sys/fs/inotify/max_queued_events");
	print_setting("/proc/sys/fs/fanotify/max_user_groups");
	print_setting("/proc/sys/fs/fanotify/max_user_marks");
	printf("\n");
	fflush(stdout);
}

/* Runs this program again as uid/gid 65534 without groups, as setpriv does it. */
static void __attribute__((noreturn)) exec_as_nobody(char *const *args)
{
	char self[PATH_MAX];
	char *argv[16] = { "setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups", self };
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		_exit(127);
	self[n] = '\0';
	for (int i = 5; *args && i < 15; args++)
		argv[i++] = *args;
	execvp("setpriv", argv);
	fprintf(stderr, "release-probe: cannot run setpriv: %s\n", strerror(errno));
	_exit(127);
}

static int run_as_nobody(char *const *args)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		exec_as_nobody(args);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

/*
 * Uid 65534 got fd from root and tries each mechanism on it; the parent has
 * closed its copy when a byte arrives on go. Then the last fd is closed.
 */
static int watch_inherited(const char *kind_name, int fd, int go)
{
	static const enum mechanism tried[] = { INOTIFY, COUNT, FANOTIFY_FID };
	struct run runs[3];
	char count_before[40], seen[40], byte;

	for (int i = 0; i < 3; i++) {
		runs[i] = (struct run){ .mechanism = tried[i], .kept = fd, .notify = -1 };
		arm(&runs[i], fd);
	}
	if (read(go, &byte, 1) != 1)
		return 1;
	close(go);
	observe(&runs[1], count_before, sizeof(count_before), 0);
	close(fd);
	printf("   %-12s", kind_name);
	for (int i = 0; i < 3; i++) {
		if (i == 1) {
			printf(" | count with only this fd: %s", count_before);
			continue;
		}
		observe(&runs[i], seen, sizeof(seen), QUIET_MS);
		printf(" | %s: %s -> %s", mechanism_names[tried[i]],
		       runs[i].armed[0] ? runs[i].armed : "ok", seen);
		if (runs[i].notify >= 0)
			close(runs[i].notify);
	}
	printf("\n");
	fflush(stdout);
	return 0;
}

static void root_made_nobody_watches(void)
{
	printf("-- S7 root made the buffer; uid %s got the fd and watches it\n", NOBODY);
	for (enum kind kind = 0; kind < KINDS; kind++) {
		char fd_arg[16], go_arg[16];
		char *args[] = { "--watch-inherited", (char *)kind_names[kind], fd_arg, go_arg, NULL };
		int made = make_buffer(kind), fd, go[2];
		pid_t pid;

		if (made < 0)
			continue;
		fd = fcntl(made, F_DUPFD, 3); /* not close-on-exec: the watcher inherits it */
		close(made);
		if (fd < 0 || pipe(go) < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		snprintf(fd_arg, sizeof(fd_arg), "%d", fd);
		snprintf(go_arg, sizeof(go_arg), "%d", go[0]);
		/* The watcher waits on go; our copy is closed by then. */
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			close(go[1]);
			exec_as_nobody(args);
		}
		close(fd);
		close(go[0]);
		if (pid < 0 || write(go[1], "g", 1) != 1)
			fprintf(stderr, "release-probe: cannot start the watcher\n");
		close(go[1]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

/* The nodes uid 65534 opens, made 0666 meanwhile as the brief's guest allows. */
struct node_mode {
	const char *path;
	mode_t mode;
	bool changed;
};

static void open_up_nodes(struct node_mode *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		nodes[i].changed = false;
		if (!nodes[i].path[0] || stat(nodes[i].path, &st) < 0)
			continue;
		nodes[i].mode = st.st_mode & 07777;
		nodes[i].changed = chmod(nodes[i].path, 0666) == 0;
	}
}

static void restore_nodes(const struct node_mode *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (nodes[i].changed)
			chmod(nodes[i].path, nodes[i].mode);
}

int main(int argc, char **argv)
{
	struct node_mode nodes[4];

	if (argc == 5 && strcmp(argv[1], "--watch-inherited") == 0)
		return watch_inherited(argv[2], atoi(argv[3]), atoi(argv[4]));
	open_devices();
	print_header();
	if (argc == 2 && strcmp(argv[1], "--unprivileged") == 0) {
		run_scenarios(true);
		close_devices();
		return 0;
	}
	run_scenarios(false);
	if (geteuid() == 0) {
		nodes[0] = (struct node_mode){ .path = "/dev/dma_heap/system" };
		nodes[1] = (struct node_mode){ .path = "/dev/udmabuf" };
		nodes[2] = (struct node_mode){ .path = dev.vgem_node };
		nodes[3] = (struct node_mode){ .path = dev.bochs_node };
		open_up_nodes(nodes, 4);
		printf("\n== S7: as uid %s, which makes the buffers itself\n", NOBODY);
		run_as_nobody((char *[]){ "--unprivileged", NULL });
		printf("\n");
		root_made_nobody_watches();
		restore_nodes(nodes, 4);
	}
	close_devices();
	return 0;
}
