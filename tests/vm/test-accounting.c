/* SPDX-License-Identifier: MIT */
/*
 * What iobufd charges is what the kernel says the buffers are: the sizes in
 * /proc/<pid>/fdinfo of the dma-buf fds the client holds and of the daemon's
 * own, before and after frees, and after a client hangs up. Run in the qemu
 * guest by in-guest.sh as an unprivileged client that may read the fdinfo of
 * the iobufd whose pid is $IOBUFD_PID (CAP_SYS_PTRACE), and the daemon's only
 * client. With $IOBUF_HEAP that iobufd serves only that heap; without, it
 * serves every heap and each option set lands where it matches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include <cmocka.h>

#include "iobuf/iobuf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_HELD 64
#define MAX_DAEMON_FDS 512

/* Page multiples and not: the daemon rounds the latter up. */
static const size_t capacities[] = { 4096, 5000, 65537, 1 << 20 };

static const uint32_t option_sets[] = {
	IOBUF_DIRECTION_INOUT,
	IOBUF_DIRECTION_INOUT | IOBUF_PAGEABLE,
	IOBUF_DIRECTION_INOUT | IOBUF_PAGEABLE | IOBUF_PURGEABLE,
	IOBUF_DIRECTION_INOUT | IOBUF_CACHE_WRITECOMBINE,
	IOBUF_DIRECTION_INOUT | IOBUF_CACHE_INHIBIT,
};

/* GPU images, which only GBM heaps create; 100x30 has no round size. */
static const struct {
	uint32_t width, height;
} images[] = { { 256, 64 }, { 100, 30 } };

/* A file as the kernel shows it. */
struct file_view {
	uint64_t mnt_id;
	uint64_t ino;
	uint64_t size;
	bool dmabuf; /* its fdinfo names an exporter */
};

/* A buffer the client holds, what the daemon charged for it and its fd's file. */
struct held {
	struct iobuf *buf;
	size_t capacity;
	uint64_t charge;
	struct file_view file;
};

struct held_set {
	struct held held[MAX_HELD];
	size_t count;
};

/* The daemon's fds that are files of the kind buffers are. */
struct fd_table {
	struct file_view files[MAX_DAEMON_FDS];
	size_t count;
};

static const char *only_heap; /* $IOBUF_HEAP, or NULL */
static const char *daemon_pid;
static long page_size;

static bool read_fdinfo(const char *dir, const char *name, struct file_view *view)
{
	char path[128], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return false;
	*view = (struct file_view){ 0 };
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "mnt_id: %" SCNu64, &view->mnt_id);
		sscanf(line, "ino: %" SCNu64, &view->ino);
		sscanf(line, "size: %" SCNu64, &view->size);
		if (strncmp(line, "exp_name:", 9) == 0)
			view->dmabuf = true;
	}
	fclose(f);
	return true;
}

/*
 * The kernel's view of one of our fds: fdinfo's size for a dma-buf. A
 * memfd's fdinfo has no size line, so its size is the file's (fstat).
 */
static bool view_own_fd(int fd, struct file_view *view)
{
	char name[16];
	struct stat st;

	snprintf(name, sizeof(name), "%d", fd);
	if (!read_fdinfo("/proc/self/fdinfo", name, view))
		return false;
	if (!view->dmabuf) {
		if (fstat(fd, &st) < 0)
			return false;
		view->size = (uint64_t)st.st_size;
	}
	return true;
}

static bool same_file(const struct file_view *a, const struct file_view *b)
{
	return a->mnt_id == b->mnt_id && a->ino == b->ino;
}

static void read_daemon_fds(struct fd_table *table)
{
	char dir[64];
	struct dirent *entry;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fdinfo", daemon_pid);
	d = opendir(dir);
	if (!d)
		fail_msg("cannot list %s: %s", dir, strerror(errno));
	table->count = 0;
	while ((entry = readdir(d))) {
		if (entry->d_name[0] == '.')
			continue;
		if (table->count == MAX_DAEMON_FDS)
			fail_msg("iobufd holds more than %d fds", MAX_DAEMON_FDS);
		if (read_fdinfo(dir, entry->d_name, &table->files[table->count]))
			table->count++;
	}
	closedir(d);
}

static size_t dmabufs_in(const struct fd_table *table)
{
	size_t n = 0;

	for (size_t i = 0; i < table->count; i++)
		n += table->files[i].dmabuf;
	return n;
}

/* How many of the daemon's fds are file; each must have its size. */
static size_t daemon_copies(const struct fd_table *table, const struct file_view *file)
{
	size_t n = 0;

	for (size_t i = 0; i < table->count; i++) {
		if (!same_file(&table->files[i], file))
			continue;
		if (table->files[i].dmabuf && table->files[i].size != file->size)
			fail_msg("iobufd's fd of a dma-buf has size %" PRIu64 ", the client's %" PRIu64,
				 table->files[i].size, file->size);
		n++;
	}
	return n;
}

/* The daemon holds one fd of each of files and no other dma-buf. */
static void assert_daemon_holds(const struct file_view *files, size_t count)
{
	static struct fd_table table;
	size_t dmabufs = 0;

	read_daemon_fds(&table);
	for (size_t i = 0; i < count; i++) {
		size_t copies = daemon_copies(&table, &files[i]);

		if (copies != 1)
			fail_msg("iobufd holds %zu fds of a %" PRIu64 "-byte buffer, not 1", copies,
				 files[i].size);
		dmabufs += files[i].dmabuf;
	}
	if (dmabufs_in(&table) != dmabufs)
		fail_msg("iobufd holds %zu dma-buf fds for %zu dma-bufs", dmabufs_in(&table), dmabufs);
}

static void assert_daemon_holds_none(const struct file_view *files, size_t count)
{
	static struct fd_table table;

	read_daemon_fds(&table);
	for (size_t i = 0; i < count; i++)
		if (daemon_copies(&table, &files[i]))
			fail_msg("iobufd still holds a freed %" PRIu64 "-byte buffer", files[i].size);
}

static struct iobuf_usage usage_of(struct iobuf_task *task)
{
	struct iobuf_usage usage;

	if (iobuf_task_get_usage(task, &usage) < 0)
		fail_msg("usage: %s", iobuf_last_error());
	return usage;
}

/* Whether the daemon serves options here on the heap under test. */
static bool served(struct iobuf_task *task, uint32_t options)
{
	struct iobuf_match match;

	if (iobuf_task_query(task, options, capacities[0], 0, &match) < 0)
		return false;
	if (only_heap)
		assert_string_equal(match.heap, only_heap);
	return true;
}

/* Records buf, charged bytes_before + its charge, and the kernel's view of it. */
static void hold(struct held_set *set, struct iobuf_task *task, struct iobuf *buf,
		 uint64_t bytes_before)
{
	struct held *h = &set->held[set->count++];

	assert_true(set->count <= MAX_HELD);
	h->buf = buf;
	h->capacity = iobuf_get_capacity(buf);
	h->charge = usage_of(task).bytes - bytes_before;
	assert_true(view_own_fd(iobuf_get_fd(buf), &h->file));
}

static void allocate_images(struct held_set *set, struct iobuf_task *task)
{
	static const uint64_t linear = DRM_FORMAT_MOD_LINEAR;

	for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
		uint64_t before = usage_of(task).bytes;
		struct iobuf *buf = iobuf_image_in_task(task, images[i].width, images[i].height,
							DRM_FORMAT_XRGB8888, &linear, 1,
							IOBUF_IMAGE_LINEAR);

		if (!buf && errno == EOPNOTSUPP && (!only_heap || strncmp(only_heap, "gbm/", 4)))
			return; /* no GBM heap here */
		if (!buf)
			fail_msg("image %ux%u: %s", images[i].width, images[i].height,
				 iobuf_last_error());
		hold(set, task, buf, before);
	}
}

/* Every capacity in every option set served, and the images. */
static void allocate_all(struct held_set *set, struct iobuf_task *task)
{
	set->count = 0;
	for (size_t o = 0; o < ARRAY_SIZE(option_sets); o++) {
		if (!served(task, option_sets[o]))
			continue;
		for (size_t c = 0; c < ARRAY_SIZE(capacities); c++) {
			uint64_t before = usage_of(task).bytes;
			struct iobuf *buf = iobuf_in_task_with_options(task, option_sets[o],
								       capacities[c], 0);

			if (!buf)
				fail_msg("options 0x%x, %zu bytes: %s", option_sets[o],
					 capacities[c], iobuf_last_error());
			hold(set, task, buf, before);
		}
	}
	allocate_images(set, task);
	assert_true(set->count > 0);
}

static void release_all(struct held_set *set)
{
	for (size_t i = 0; i < set->count; i++)
		iobuf_release(set->held[i].buf);
	set->count = 0;
}

static size_t files_of(const struct held_set *set, struct file_view *files)
{
	size_t n = 0;

	for (size_t i = 0; i < set->count; i++)
		if (set->held[i].buf)
			files[n++] = set->held[i].file;
	return n;
}

static uint64_t kernel_bytes(const struct file_view *files, size_t count)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < count; i++)
		bytes += files[i].size;
	return bytes;
}

static int setup(void **state)
{
	only_heap = getenv("IOBUF_HEAP");
	daemon_pid = getenv("IOBUFD_PID");
	page_size = sysconf(_SC_PAGESIZE);
	assert_non_null(daemon_pid);
	return 0;
}

static void test_not_root_but_sees_the_daemon(void **state)
{
	char path[64], comm[32] = "";
	FILE *f;

	assert_true(geteuid() != 0);
	assert_int_equal(open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC), -1);
	snprintf(path, sizeof(path), "/proc/%s/comm", daemon_pid);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	assert_string_equal(comm, "iobufd\n");
}

/* Each buffer's fd is as large as what the daemon charged for it. */
static void test_fd_size_is_the_charge(void **state)
{
	struct held_set set;
	bool memfd_seen = false;

	allocate_all(&set, iobuf_task_self());
	for (size_t i = 0; i < set.count; i++) {
		const struct held *h = &set.held[i];

		print_message("%-16s %8zu bytes asked, %8" PRIu64 " charged, %8" PRIu64 " by %s\n",
			      iobuf_get_heap(h->buf), h->capacity, h->charge, h->file.size,
			      h->file.dmabuf ? "fdinfo" : "fstat");
		assert_true(h->charge == h->file.size);
		assert_true(h->file.size >= h->capacity);
		assert_true(h->file.size % (uint64_t)page_size == 0);
		memfd_seen |= strcmp(iobuf_get_heap(h->buf), "memfd") == 0;
		if (strcmp(iobuf_get_heap(h->buf), "memfd") && !h->file.dmabuf)
			fail_msg("%s handed out an fd that is no dma-buf", iobuf_get_heap(h->buf));
	}
	if (!only_heap)
		assert_true(memfd_seen);
	release_all(&set);
}

/* The client's usage, and the daemon's fds, add up to its fds' sizes. */
static void test_usage_is_the_kernel_sizes(void **state)
{
	struct held_set set;
	struct file_view files[MAX_HELD];
	struct iobuf_task *task = iobuf_task_self();
	struct iobuf_usage usage;
	size_t n;

	allocate_all(&set, task);
	n = files_of(&set, files);
	usage = usage_of(task);
	assert_int_equal(usage.buffers, n);
	assert_int_equal(usage.bytes, kernel_bytes(files, n));
	assert_int_equal(usage.total_buffers, n);
	assert_int_equal(usage.total_bytes, kernel_bytes(files, n));
	assert_daemon_holds(files, n);
	print_message("%zu buffers, %" PRIu64 " bytes on both sides\n", n, usage.bytes);
	release_all(&set);
}

/* Freeing drops both sides by exactly the freed fds' sizes. */
static void test_frees_drop_both_sides(void **state)
{
	struct held_set set;
	struct file_view freed[MAX_HELD], kept[MAX_HELD];
	struct iobuf_task *task = iobuf_task_self();
	struct iobuf_usage before, after;
	size_t n_freed = 0, n_kept;

	allocate_all(&set, task);
	before = usage_of(task);
	for (size_t i = 0; i < set.count; i += 2) {
		freed[n_freed++] = set.held[i].file;
		iobuf_release(set.held[i].buf);
		set.held[i].buf = NULL;
	}
	after = usage_of(task);
	assert_int_equal(before.buffers - after.buffers, n_freed);
	assert_int_equal(before.bytes - after.bytes, kernel_bytes(freed, n_freed));
	assert_int_equal(after.total_bytes, after.bytes);
	n_kept = files_of(&set, kept);
	assert_int_equal(after.bytes, kernel_bytes(kept, n_kept));
	assert_daemon_holds(kept, n_kept);
	assert_daemon_holds_none(freed, n_freed);
	for (size_t i = 0; i < set.count; i++)
		iobuf_release(set.held[i].buf);
	after = usage_of(task);
	assert_int_equal(after.buffers, 0);
	assert_int_equal(after.total_bytes, 0);
	assert_daemon_holds(NULL, 0);
	assert_daemon_holds_none(kept, n_kept);
}

static void wait_buffers(struct iobuf_task *task, uint64_t buffers)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };

	for (int i = 0; i < 500 && usage_of(task).buffers != buffers; i++)
		nanosleep(&pause, NULL);
	assert_int_equal(usage_of(task).buffers, buffers);
}

/*
 * Freeing ends the owner's use of a buffer, not its charge: one whose fd a
 * child still holds, or that is still mapped, stays charged (and held by
 * the daemon) until the last of those goes, on every heap.
 */
static void test_charge_lasts_as_long_as_the_memory(void **state)
{
	struct iobuf_task *task = iobuf_task_self();
	struct file_view files[MAX_HELD];
	void *maps[MAX_HELD];
	int dups[MAX_HELD], go[2];
	struct held_set set;
	size_t n, mapped = 0;
	pid_t child;
	char byte;

	allocate_all(&set, task);
	n = files_of(&set, files);
	for (size_t i = 0; i < n; i++) {
		dups[i] = fcntl(iobuf_get_fd(set.held[i].buf), F_DUPFD_CLOEXEC, 3);
		assert_true(dups[i] >= 0);
		maps[i] = mmap(NULL, (size_t)page_size, PROT_READ, MAP_SHARED, dups[i], 0);
		if (maps[i] == MAP_FAILED)
			maps[i] = NULL; /* an image that is not linear, a heap that does not map */
		mapped += maps[i] != NULL;
	}
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(go[1]);
		(void)!read(go[0], &byte, 1); /* holds the fds until go closes */
		_exit(0);
	}
	close(go[0]);
	for (size_t i = 0; i < n; i++)
		close(dups[i]);

	release_all(&set);
	assert_int_equal(usage_of(task).buffers, n);
	assert_daemon_holds(files, n);

	/* The child's fds go; what is still mapped here stays charged. */
	close(go[1]);
	assert_int_equal(waitpid(child, NULL, 0), child);
	wait_buffers(task, mapped);
	sleep(2); /* the daemon looks again every second: nothing more may go */
	assert_int_equal(usage_of(task).buffers, mapped);
	for (size_t i = 0; i < n; i++)
		if (maps[i])
			munmap(maps[i], (size_t)page_size);
	wait_buffers(task, 0);
	assert_daemon_holds_none(files, n);
	print_message("%zu freed buffers stayed charged while referenced, %zu of them mapped\n",
		      n, mapped);
}

/*
 * A child on a connection of its own: allocates what the daemon serves,
 * writes the views of its fds to report, and exits holding them all when go
 * closes. No cmocka here: a failed assertion would unwind into the parent's
 * copy of the test runner.
 */
static _Noreturn void hold_and_hang_up(int report, int go)
{
	struct iobuf_task *task = iobuf_task_connect(NULL);
	struct file_view files[ARRAY_SIZE(option_sets)];
	struct iobuf_match match;
	size_t n = 0;
	char byte;

	for (size_t o = 0; task && o < ARRAY_SIZE(option_sets); o++) {
		struct iobuf *buf;

		if (iobuf_task_query(task, option_sets[o], capacities[1], 0, &match) < 0)
			continue;
		buf = iobuf_in_task_with_options(task, option_sets[o], capacities[1], 0);
		if (!buf || !view_own_fd(iobuf_get_fd(buf), &files[n++]))
			_exit(1);
	}
	if (n == 0 || write(report, files, n * sizeof(files[0])) != (ssize_t)(n * sizeof(files[0])))
		_exit(1);
	close(report);
	(void)!read(go, &byte, 1);
	_exit(0);
}

static void wait_until_no_buffers(struct iobuf_task *task)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };

	for (int i = 0; i < 500 && usage_of(task).total_buffers; i++)
		nanosleep(&pause, NULL);
}

/* A client that hangs up holding buffers leaves nothing behind. */
static void test_hangup_leaves_nothing(void **state)
{
	struct file_view files[ARRAY_SIZE(option_sets)];
	struct iobuf_task *fresh;
	struct iobuf_usage usage, held_usage;
	int report[2], go[2], status;
	ssize_t got;
	size_t n;
	pid_t child;

	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(report[0]);
		close(go[1]);
		hold_and_hang_up(report[1], go[0]);
	}
	close(report[1]);
	close(go[0]);
	got = read(report[0], files, sizeof(files));
	close(report[0]);
	assert_true(got > 0 && got % (ssize_t)sizeof(files[0]) == 0);
	n = (size_t)got / sizeof(files[0]);

	fresh = iobuf_task_connect(NULL);
	assert_non_null(fresh);
	held_usage = usage_of(fresh);
	assert_int_equal(held_usage.total_buffers, n);
	assert_int_equal(held_usage.total_bytes, kernel_bytes(files, n));
	assert_daemon_holds(files, n);

	close(go[1]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	wait_until_no_buffers(fresh);
	usage = usage_of(fresh);
	assert_int_equal(usage.total_buffers, 0);
	assert_int_equal(usage.total_bytes, 0);
	assert_int_equal(usage.clients, held_usage.clients - 1);
	assert_daemon_holds(NULL, 0);
	assert_daemon_holds_none(files, n);
	print_message("a client that hung up holding %zu buffers (%" PRIu64 " bytes) left none\n",
		      n, held_usage.total_bytes);
	iobuf_task_unref(fresh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_root_but_sees_the_daemon),
		cmocka_unit_test(test_fd_size_is_the_charge),
		cmocka_unit_test(test_usage_is_the_kernel_sizes),
		cmocka_unit_test(test_frees_drop_both_sides),
		cmocka_unit_test(test_charge_lasts_as_long_as_the_memory),
		cmocka_unit_test(test_hangup_leaves_nothing),
	};
	const char *name = getenv("IOBUF_HEAP");

	return cmocka_run_group_tests_name(name ? name : "every heap", tests, setup, NULL);
}
