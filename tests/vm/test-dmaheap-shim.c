/* SPDX-License-Identifier: MIT */
/*
 * libiobuf-dmaheap.so against the real system heap, for what the kernel's
 * selftest does not cover. dmaheap-shim.sh runs it in the qemu guest under
 * LD_PRELOAD=libiobuf-dmaheap.so, as user nobody, once per way the shim
 * meets a program (argv[1]):
 *
 *   brokered     /dev/dma_heap/system is root-only; iobufd serves
 *                dma-heap/system with a per-client byte limit of 64 MiB.
 *   unserved     the node is root-only and iobufd serves memfd only.
 *   passthrough  the program may open the node; iobufd serves it too.
 *   always       as passthrough, with IOBUF_DMAHEAP=always.
 *   never        the node is root-only, with IOBUF_DMAHEAP=never.
 *   no-proc      as brokered, with no /proc mounted.
 *
 * The test's own libiobuf task reads the daemon's totals: the shim's
 * connection is another client of the same process.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include <cmocka.h>

#include "fdinfo.h"
#include "iobuf/iobuf.h"

#define HEAP_PATH "/dev/dma_heap/system"
#define ONE_MEG (1u << 20)
#define LIMIT (64u << 20) /* dmaheap-shim.sh's --max-client-bytes */
#define MAX_BUFFER_SIZE (512u << 20) /* iobufd's default --max-buffer-size */
#define DEFAULT_POLLMASK (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)

static int open_heap(int flags)
{
	int fd = open(HEAP_PATH, flags);

	if (fd < 0)
		fail_msg("open %s: %s", HEAP_PATH, strerror(errno));
	return fd;
}

/* DMA_HEAP_IOCTL_ALLOC as a program issues it: 0 with *dmabuf, or -errno. */
static int heap_alloc(int heap, uint64_t len, uint32_t fd_flags, int *dmabuf)
{
	struct dma_heap_allocation_data data = { .len = len, .fd_flags = fd_flags };

	*dmabuf = -1;
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	*dmabuf = (int)data.fd;
	return 0;
}

static int alloc_or_fail(int heap, uint64_t len, uint32_t fd_flags)
{
	int dmabuf, r = heap_alloc(heap, len, fd_flags, &dmabuf);

	if (r < 0)
		fail_msg("DMA_HEAP_IOCTL_ALLOC of %" PRIu64 " bytes: %s", len, strerror(-r));
	return dmabuf;
}

static bool cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	assert_true(flags >= 0);
	return flags & FD_CLOEXEC;
}

static size_t fd_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	assert_true(end >= 0);
	return (size_t)end;
}

static size_t open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

static struct iobuf_usage usage(void)
{
	struct iobuf_usage u;

	if (iobuf_task_get_usage(iobuf_task_self(), &u) < 0)
		fail_msg("usage: %s", iobuf_last_error());
	return u;
}

/* Waits up to 10 s for the daemon's totals to come to bytes. */
static void wait_total_bytes(uint64_t bytes)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 1000 && usage().total_bytes != bytes; i++)
		nanosleep(&tick, NULL);
	assert_int_equal(usage().total_bytes, bytes);
}

/* Whether fd is an fd of the kernel's node at HEAP_PATH. */
static bool is_kernel_node(int fd)
{
	struct stat of_fd, of_path;

	return fstat(fd, &of_fd) == 0 && stat(HEAP_PATH, &of_path) == 0 &&
	       S_ISCHR(of_fd.st_mode) && of_fd.st_rdev == of_path.st_rdev;
}

/* Maps a dma-buf, writes it, and reads back what it wrote, with the kernel's sync brackets. */
static void assert_usable(int dmabuf, size_t size)
{
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dmabuf, 0);

	assert_true(p != MAP_FAILED);
	assert_int_equal(ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &sync), 0);
	for (size_t i = 0; i < size; i += 4096)
		assert_int_equal(p[i], 0);
	memset(p, 0x5a, size);
	for (size_t i = 0; i < size; i += 4096)
		assert_int_equal(p[i], 0x5a);
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	assert_int_equal(ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &sync), 0);
	munmap(p, size);
}

/* stderr goes to a memfd until stderr_text() gives what was written and restores it. */
static int saved_stderr = -1;

static void capture_stderr(void)
{
	int memfd = memfd_create("stderr", MFD_CLOEXEC);

	assert_true(memfd >= 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(memfd, STDERR_FILENO), STDERR_FILENO);
	close(memfd);
}

static const char *stderr_text(void)
{
	static char text[4096];
	ssize_t n;

	fflush(stderr);
	n = pread(STDERR_FILENO, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	return text;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* brokered */

/* The heap fd is a real fd: fstat, poll, dup, close, O_CLOEXEC as opened, one inode per heap. */
static void test_heap_fd_is_an_fd(void **state)
{
	struct stat st, st_again;
	struct pollfd pfd;
	int heap, again, copy, dmabuf;
	size_t before;

	/* The shim's connection and keeper, once made, stay. */
	close(open_heap(O_RDWR | O_CLOEXEC));
	before = open_fds();

	heap = open_heap(O_RDWR | O_CLOEXEC);
	again = open_heap(O_RDONLY);
	assert_true(cloexec(heap));
	assert_false(cloexec(again));
	assert_int_equal(fstat(heap, &st), 0);
	assert_int_equal(fstat(again, &st_again), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 0);
	assert_true(st.st_dev == st_again.st_dev && st.st_ino == st_again.st_ino);
	assert_int_equal(fcntl(heap, F_GETFL) & O_ACCMODE, O_RDWR);
	assert_int_equal(fcntl(again, F_GETFL) & O_ACCMODE, O_RDONLY);

	/* As the kernel's node, which has no poll: ready at once. */
	pfd = (struct pollfd){ .fd = heap, .events = POLLIN | POLLOUT };
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(pfd.revents, POLLIN | POLLOUT);

	copy = dup(heap);
	assert_true(copy >= 0);
	close(heap);
	dmabuf = alloc_or_fail(copy, ONE_MEG, O_RDWR);
	assert_int_equal(fd_size(dmabuf), ONE_MEG);
	close(dmabuf);
	dmabuf = alloc_or_fail(again, 4096, O_RDWR);
	close(dmabuf);
	close(copy);
	close(again);
	assert_int_equal(open_fds(), before);
}

/* The dma-buf is the kernel's own, with the fd flags asked for, and usable. */
static void test_dmabuf_as_the_kernel_gives_it(void **state)
{
	char comm[16] = "", value[128];
	int heap = open_heap(O_RDWR | O_CLOEXEC);
	int with = alloc_or_fail(heap, ONE_MEG, O_RDWR | O_CLOEXEC);
	int without = alloc_or_fail(heap, 5000, O_RDONLY);

	assert_true(cloexec(with));
	assert_false(cloexec(without));
	fdinfo_value(with, "exp_name", value, sizeof(value));
	assert_string_equal(value, "system");
	fdinfo_value(with, "size", value, sizeof(value));
	assert_string_equal(value, "1048576");
	assert_int_equal(fd_size(without), 8192); /* PAGE_ALIGN(5000) */
	assert_int_equal(fcntl(with, F_GETFL) & O_ACCMODE, O_RDWR);
	/* Labelled with the program's name, the dma-buf's name is that. */
	assert_int_equal(prctl(PR_GET_NAME, comm), 0);
	fdinfo_value(with, "name", value, sizeof(value));
	assert_string_equal(value, comm);
	assert_usable(with, ONE_MEG);
	assert_usable(without, 8192);
	close(with);
	close(without);
	close(heap);
}

/* iobufd charges the buffer to the program while the program holds it. */
static void test_charged_to_the_program(void **state)
{
	int heap = open_heap(O_RDWR | O_CLOEXEC);
	uint64_t before = usage().total_bytes;
	struct iobuf_usage during;
	int dmabuf = alloc_or_fail(heap, ONE_MEG, O_RDWR | O_CLOEXEC);

	during = usage();
	assert_int_equal(during.total_bytes, before + ONE_MEG);
	assert_int_equal(during.clients, 2); /* this task and the shim's */
	close(dmabuf);
	wait_total_bytes(before);
	close(heap);
}

static int alloc_with(int heap, unsigned long request, void *arg)
{
	return ioctl(heap, request, arg) < 0 ? -errno : 0;
}

/* dma_heap_ioctl_allocate()'s refusals, and copy_{from,to}_user()'s. */
static void test_refused_as_the_kernel_refuses(void **state)
{
	static const uint32_t bad_fd_flags[] = { O_NONBLOCK, O_APPEND, O_CREAT, O_DIRECT, ~0u };
	struct dma_heap_allocation_data data;
	int heap = open_heap(O_RDWR | O_CLOEXEC);
	size_t before = open_fds();
	void *read_only;

	data = (struct dma_heap_allocation_data){ .len = ONE_MEG, .fd = 3 };
	assert_int_equal(alloc_with(heap, DMA_HEAP_IOCTL_ALLOC, &data), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_fd_flags) / sizeof(bad_fd_flags[0]); i++) {
		data = (struct dma_heap_allocation_data){ .len = ONE_MEG, .fd_flags = bad_fd_flags[i] };
		assert_int_equal(alloc_with(heap, DMA_HEAP_IOCTL_ALLOC, &data), -EINVAL);
	}
	data = (struct dma_heap_allocation_data){ .len = ONE_MEG, .heap_flags = 1 };
	assert_int_equal(alloc_with(heap, DMA_HEAP_IOCTL_ALLOC, &data), -EINVAL);
	data = (struct dma_heap_allocation_data){ .len = 0 };
	assert_int_equal(alloc_with(heap, DMA_HEAP_IOCTL_ALLOC, &data), -EINVAL);
	data = (struct dma_heap_allocation_data){ .len = UINT64_MAX - 100 }; /* PAGE_ALIGN wraps to 0 */
	assert_int_equal(alloc_with(heap, DMA_HEAP_IOCTL_ALLOC, &data), -EINVAL);

	/* A request that reads nothing in sees a zero length. */
	data = (struct dma_heap_allocation_data){ .len = ONE_MEG };
	assert_int_equal(alloc_with(heap, _IOR('H', 0, struct dma_heap_allocation_data), &data),
			 -EINVAL);
	assert_int_equal(alloc_with(heap, _IO('H', 0), NULL), -EINVAL);

	assert_int_equal(alloc_with(heap, DMA_HEAP_IOCTL_ALLOC, NULL), -EFAULT);
	assert_int_equal(alloc_with(heap, DMA_HEAP_IOCTL_ALLOC, (void *)16), -EFAULT);
	/* A struct the kernel cannot write back: the buffer is not kept. */
	read_only = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(read_only != MAP_FAILED);
	*(struct dma_heap_allocation_data *)read_only =
		(struct dma_heap_allocation_data){ .len = ONE_MEG, .fd_flags = O_RDWR };
	assert_int_equal(mprotect(read_only, 4096, PROT_READ), 0);
	assert_int_equal(alloc_with(heap, DMA_HEAP_IOCTL_ALLOC, read_only), -EFAULT);
	munmap(read_only, 4096);

	assert_int_equal(open_fds(), before);
	close(heap);
}

/* Older and newer userspace: a struct smaller or larger than today's. */
static void test_other_struct_sizes(void **state)
{
	struct older {
		uint64_t len;
		uint32_t fd;
		uint32_t fd_flags;
	} older = { .len = ONE_MEG, .fd_flags = O_RDWR | O_CLOEXEC };
	struct newer {
		uint64_t len;
		uint32_t fd;
		uint32_t fd_flags;
		uint64_t heap_flags;
		uint64_t garbage[3];
	} newer = { .len = ONE_MEG, .fd_flags = O_RDWR, .garbage = { 0xffffffff, 0x88888888, 0x11111111 } };
	/* Past the 128 bytes the kernel keeps on its stack. */
	struct much_newer {
		uint64_t len;
		uint32_t fd;
		uint32_t fd_flags;
		uint64_t heap_flags;
		unsigned char rest[200];
	} much_newer = { .len = 4096 };
	int heap = open_heap(O_RDWR | O_CLOEXEC);

	assert_int_equal(alloc_with(heap, _IOWR('H', 0, struct older), &older), 0);
	assert_true(cloexec((int)older.fd));
	assert_int_equal(fd_size((int)older.fd), ONE_MEG);
	close((int)older.fd);

	assert_int_equal(alloc_with(heap, _IOWR('H', 0, struct newer), &newer), 0);
	assert_false(cloexec((int)newer.fd));
	assert_int_equal(newer.garbage[0], 0xffffffff);
	assert_int_equal(newer.garbage[1], 0x88888888);
	assert_int_equal(newer.garbage[2], 0x11111111);
	close((int)newer.fd);

	memset(much_newer.rest, 0x77, sizeof(much_newer.rest));
	assert_int_equal(alloc_with(heap, _IOWR('H', 0, struct much_newer), &much_newer), 0);
	for (size_t i = 0; i < sizeof(much_newer.rest); i++)
		assert_int_equal(much_newer.rest[i], 0x77);
	close((int)much_newer.fd);
	close(heap);
}

/* The daemon's refusals come with its words on stderr, once per kind. */
static void test_limits_said_once(void **state)
{
	int heap = open_heap(O_RDWR | O_CLOEXEC);
	const char *said;
	int dmabuf;

	capture_stderr();
	assert_int_equal(heap_alloc(heap, 2 * LIMIT, O_RDWR, &dmabuf), -EDQUOT);
	assert_int_equal(heap_alloc(heap, 2 * LIMIT, O_RDWR, &dmabuf), -EDQUOT);
	assert_int_equal(heap_alloc(heap, 2ull * MAX_BUFFER_SIZE, O_RDWR, &dmabuf), -EFBIG);
	assert_int_equal(heap_alloc(heap, 2ull * MAX_BUFFER_SIZE, O_RDWR, &dmabuf), -EFBIG);
	said = stderr_text();
	if (count_lines(said) != 2 ||
	    !strstr(said, "libiobuf-dmaheap: 134217728 bytes from dma-heap/system: ") ||
	    !strstr(said, "per-client byte limit 67108864") ||
	    !strstr(said, "libiobuf-dmaheap: 1073741824 bytes from dma-heap/system: "))
		fail_msg("the shim said:\n%s", said);
	printf("the shim said:\n%s", said);
	close(heap);
}

/* A forked child allocates on its own connection through the heap fd it inherited. */
static void test_forked_child_allocates(void **state)
{
	int heap = open_heap(O_RDWR | O_CLOEXEC);
	int dmabuf = alloc_or_fail(heap, 4096, O_RDWR);
	int status;
	pid_t child;

	close(dmabuf);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct dma_heap_allocation_data data = { .len = ONE_MEG, .fd_flags = O_RDWR };

		_exit(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) == 0 && fd_size((int)data.fd) == ONE_MEG
			      ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	dmabuf = alloc_or_fail(heap, 4096, O_RDWR);
	close(dmabuf);
	close(heap);
}

/* A program that closes every fd it did not open: the shim makes the heap again. */
static void test_keeper_closed_by_the_program(void **state)
{
	int held = open_heap(O_RDWR | O_CLOEXEC);
	struct stat before, after;
	int reopened, dmabuf;
	struct dirent *entry;
	DIR *dir;

	assert_int_equal(fstat(held, &before), 0);
	dir = opendir("/proc/self/fd");
	assert_non_null(dir);
	while ((entry = readdir(dir))) {
		int fd = atoi(entry->d_name);
		struct stat st;

		if (entry->d_name[0] != '.' && fd != held && fd != dirfd(dir) && fstat(fd, &st) == 0 &&
		    st.st_dev == before.st_dev && st.st_ino == before.st_ino)
			close(fd);
	}
	closedir(dir);

	reopened = open_heap(O_RDWR | O_CLOEXEC);
	assert_int_equal(fstat(reopened, &after), 0);
	assert_false(after.st_ino == before.st_ino);
	dmabuf = alloc_or_fail(reopened, 4096, O_RDWR);
	close(dmabuf);
	dmabuf = alloc_or_fail(held, 4096, O_RDWR);
	close(dmabuf);
	close(reopened);
	close(held);
}

static void test_unknown_name_is_absent(void **state)
{
	assert_int_equal(open("/dev/dma_heap/none", O_RDWR), -1);
	assert_int_equal(errno, ENOENT);
}

/* unserved */

static void test_unserved_heap_is_absent(void **state)
{
	capture_stderr();
	assert_int_equal(open(HEAP_PATH, O_RDWR | O_CLOEXEC), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(stderr_text(), "");
}

/* passthrough and always */

/* A node the program may open is its own; iobufd never hears of it. */
static void test_open_node_is_the_kernels(void **state)
{
	int heap = open_heap(O_RDWR | O_CLOEXEC);
	char value[128];
	int dmabuf;

	assert_true(is_kernel_node(heap));
	dmabuf = alloc_or_fail(heap, ONE_MEG, O_RDWR | O_CLOEXEC);
	fdinfo_value(dmabuf, "exp_name", value, sizeof(value));
	assert_string_equal(value, "system");
	assert_usable(dmabuf, ONE_MEG);
	assert_int_equal(usage().clients, 1); /* this task only */
	assert_int_equal(usage().total_bytes, 0);
	close(dmabuf);
	close(heap);
}

static void test_always_brokers(void **state)
{
	int heap = open_heap(O_RDWR | O_CLOEXEC);
	int dmabuf;

	assert_false(is_kernel_node(heap));
	dmabuf = alloc_or_fail(heap, ONE_MEG, O_RDWR | O_CLOEXEC);
	assert_int_equal(usage().total_bytes, ONE_MEG);
	assert_usable(dmabuf, ONE_MEG);
	close(dmabuf);
	wait_total_bytes(0);
	close(heap);
}

/* never */

static void test_never_leaves_the_refusal(void **state)
{
	assert_int_equal(open(HEAP_PATH, O_RDWR | O_CLOEXEC), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(usage().clients, 1);
}

/* no-proc: heap fds are dups of the keeper, and work the same. */
static void test_without_proc(void **state)
{
	struct stat st, st_again;
	int heap, again, dmabuf;

	assert_int_equal(access("/proc/self/fd", F_OK), -1);
	heap = open_heap(O_RDWR | O_CLOEXEC);
	again = open_heap(O_RDWR);
	assert_true(cloexec(heap));
	assert_false(cloexec(again));
	assert_int_equal(fstat(heap, &st), 0);
	assert_int_equal(fstat(again, &st_again), 0);
	assert_true(st.st_ino == st_again.st_ino);
	dmabuf = alloc_or_fail(again, ONE_MEG, O_RDWR);
	assert_usable(dmabuf, ONE_MEG);
	close(dmabuf);
	close(heap);
	dmabuf = alloc_or_fail(again, 4096, O_RDWR);
	close(dmabuf);
	close(again);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest brokered[] = {
		cmocka_unit_test(test_heap_fd_is_an_fd),
		cmocka_unit_test(test_dmabuf_as_the_kernel_gives_it),
		cmocka_unit_test(test_charged_to_the_program),
		cmocka_unit_test(test_refused_as_the_kernel_refuses),
		cmocka_unit_test(test_other_struct_sizes),
		cmocka_unit_test(test_limits_said_once),
		cmocka_unit_test(test_forked_child_allocates),
		cmocka_unit_test(test_keeper_closed_by_the_program),
		cmocka_unit_test(test_unknown_name_is_absent),
	};
	static const struct CMUnitTest unserved[] = {
		cmocka_unit_test(test_unserved_heap_is_absent),
	};
	static const struct CMUnitTest passthrough[] = {
		cmocka_unit_test(test_open_node_is_the_kernels),
	};
	static const struct CMUnitTest always[] = {
		cmocka_unit_test(test_always_brokers),
	};
	static const struct CMUnitTest never[] = {
		cmocka_unit_test(test_never_leaves_the_refusal),
	};
	static const struct CMUnitTest no_proc[] = {
		cmocka_unit_test(test_without_proc),
	};
	const char *mode = argc == 2 ? argv[1] : "";

#define RUN(group) cmocka_run_group_tests_name(mode, group, NULL, NULL)
	if (strcmp(mode, "brokered") == 0)
		return RUN(brokered);
	if (strcmp(mode, "unserved") == 0)
		return RUN(unserved);
	if (strcmp(mode, "passthrough") == 0)
		return RUN(passthrough);
	if (strcmp(mode, "always") == 0)
		return RUN(always);
	if (strcmp(mode, "never") == 0)
		return RUN(never);
	if (strcmp(mode, "no-proc") == 0)
		return RUN(no_proc);
	fprintf(stderr, "usage: %s brokered|unserved|passthrough|always|never|no-proc\n", argv[0]);
	return 2;
}
