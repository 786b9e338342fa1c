/* SPDX-License-Identifier: MIT */
/*
 * A program that opens heaps, run by test-preload under
 * LD_PRELOAD=libiobuf-dmaheap.so. It exits 0 when every result is the
 * expected one, 1 with a line on stdout for each that is not.
 *
 *   dmaheap-probe open RESULT PATH
 *       Opens PATH through each of the eight entry points the shim takes
 *       (open, open64, openat and openat64 with AT_FDCWD, and glibc's
 *       fortified __open_2, __open64_2, __openat_2, __openat64_2), each
 *       looked up by name as a program's calls are. RESULT is "node" (the
 *       file PATH names, as stat(2) sees it) or an errno name; the opens
 *       leave no fd open (but for the shim's connection to iobufd).
 *   dmaheap-probe untouched
 *       Opens and ioctls that are not the shim's: each answer is the one
 *       the kernel gives for the raw system call.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#define ENTRY_POINTS 8

struct entry_point {
	const char *name;
	bool at;      /* takes a dirfd first */
	bool fortify; /* takes no mode */
};

static const struct entry_point entry_points[ENTRY_POINTS] = {
	{ "open", false, false },      { "open64", false, false },
	{ "openat", true, false },     { "openat64", true, false },
	{ "__open_2", false, true },   { "__open64_2", false, true },
	{ "__openat_2", true, true },  { "__openat64_2", true, true },
};

static int failures;

static void failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failed(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	failures++;
}

/* The entry point as the program's call finds it; it must be the shim's. */
static void *lookup(const char *name)
{
	void *fn = dlsym(RTLD_DEFAULT, name);
	Dl_info info;

	if (!fn || !dladdr(fn, &info) || !strstr(info.dli_fname, "libiobuf-dmaheap")) {
		printf("%s is not libiobuf-dmaheap's (%s)\n", name,
		       fn && dladdr(fn, &info) ? info.dli_fname : "not found");
		exit(1);
	}
	return fn;
}

/* Opens path through entry point e; the result, or -errno. */
static int open_through(const struct entry_point *e, const char *path, int flags)
{
	void *fn = lookup(e->name);
	int fd;

	if (e->at && e->fortify)
		fd = ((int (*)(int, const char *, int))fn)(AT_FDCWD, path, flags);
	else if (e->at)
		fd = ((int (*)(int, const char *, int, ...))fn)(AT_FDCWD, path, flags, 0);
	else if (e->fortify)
		fd = ((int (*)(const char *, int))fn)(path, flags);
	else
		fd = ((int (*)(const char *, int, ...))fn)(path, flags, 0);
	return fd < 0 ? -errno : fd;
}

static int open_fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	if (!dir) {
		printf("cannot list /proc/self/fd: %s\n", strerror(errno));
		exit(1);
	}
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

static const char *result_name(int r)
{
	return r >= 0 ? "an fd" : strerrorname_np(-r);
}

/* Whether r is an fd of the file at path. */
static bool is_node(int r, const char *path)
{
	struct stat of_fd, of_path;

	return r >= 0 && fstat(r, &of_fd) == 0 && stat(path, &of_path) == 0 &&
	       of_fd.st_dev == of_path.st_dev && of_fd.st_ino == of_path.st_ino;
}

static void expect_open(const char *expected, const char *path)
{
	int before, warm_up;

	/* The shim's connection to iobufd, if it opens one, stays: counted in before. */
	warm_up = open_through(&entry_points[0], path, O_RDWR | O_CLOEXEC);
	if (warm_up >= 0)
		close(warm_up);
	before = open_fd_count();
	for (size_t i = 0; i < ENTRY_POINTS; i++) {
		int r = open_through(&entry_points[i], path, O_RDWR | O_CLOEXEC);

		if (strcmp(expected, "node") == 0 ? !is_node(r, path)
						  : r >= 0 || strcmp(expected, result_name(r)) != 0)
			failed("%s(%s): %s, expected %s", entry_points[i].name, path,
			       r >= 0 ? "an fd of another file" : result_name(r), expected);
		if (r >= 0)
			close(r);
	}
	if (open_fd_count() != before)
		failed("%s: %d fds open after opening and closing it, %d before", path,
		       open_fd_count(), before);
}

/* Whether two results of opening path are the same: one errno, or fds of one file. */
static bool same_result(int a, int b)
{
	struct stat sa, sb;

	if (a < 0 || b < 0)
		return a == b;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static void expect_untouched_open(const char *path)
{
	int raw = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

	if (raw < 0)
		raw = -errno;
	for (size_t i = 0; i < ENTRY_POINTS; i++) {
		int r = open_through(&entry_points[i], path, O_RDONLY | O_CLOEXEC);

		if (!same_result(r, raw))
			failed("%s(%s): %s, the kernel says %s", entry_points[i].name, path,
			       result_name(r), result_name(raw));
		if (r >= 0)
			close(r);
	}
	if (raw >= 0)
		close(raw);
}

static void expect_untouched_ioctl(int fd, unsigned long request, void *arg, const char *what)
{
	long raw = syscall(SYS_ioctl, fd, request, arg);
	int raw_errno = raw < 0 ? errno : 0;
	int r = ioctl(fd, request, arg);

	if (r != raw || (r < 0 && errno != raw_errno))
		failed("ioctl %s: %d (%s), the kernel says %ld (%s)", what, r,
		       r < 0 ? strerrorname_np(errno) : "", raw,
		       raw < 0 ? strerrorname_np(raw_errno) : "");
}

static void untouched(void)
{
	static const char *const paths[] = {
		"/dev/null",
		"/dev/dma_heap",
		"/dev/dma_heap/",
		"/dev/dma_heap/system/",
		"/dev/dma_heap/system/x",
		"/dev/dma_heap/..",
		"/dev/dma_heap/.",
		"/dev//dma_heap/system",
		"dma_heap/system",
	};
	struct dma_heap_allocation_data data = { .len = 4096, .fd_flags = O_RDWR };
	int dev, relative, pipefd[2], queued = -1;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		expect_untouched_open(paths[i]);

	/* A path relative to a dirfd of /dev is not the shim's either. */
	dev = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	relative = openat(dev, "dma_heap/system", O_RDWR | O_CLOEXEC);
	if (relative >= 0 || (errno != ENOENT && errno != EACCES))
		failed("openat(/dev, dma_heap/system): %s", relative >= 0 ? "an fd" : strerrorname_np(errno));
	close(dev);

	if (pipe2(pipefd, O_CLOEXEC) < 0 || write(pipefd[1], "abc", 3) != 3) {
		failed("pipe: %s", strerror(errno));
		return;
	}
	if (ioctl(pipefd[0], FIONREAD, &queued) < 0 || queued != 3)
		failed("FIONREAD on a pipe: %d bytes, expected 3", queued);
	expect_untouched_ioctl(pipefd[0], DMA_HEAP_IOCTL_ALLOC, &data, "DMA_HEAP_IOCTL_ALLOC on a pipe");
	expect_untouched_ioctl(-1, DMA_HEAP_IOCTL_ALLOC, &data, "DMA_HEAP_IOCTL_ALLOC on fd -1");
	expect_untouched_ioctl(pipefd[0], FIONBIO, &(int){ 1 }, "FIONBIO on a pipe");
	close(pipefd[0]);
	close(pipefd[1]);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "open") == 0)
		expect_open(argv[2], argv[3]);
	else if (argc == 2 && strcmp(argv[1], "untouched") == 0)
		untouched();
	else {
		fprintf(stderr, "usage: %s open RESULT PATH | untouched\n", argv[0]);
		return 2;
	}
	return failures ? 1 : 0;
}
