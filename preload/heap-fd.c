/* SPDX-License-Identifier: MIT */
/*
 * The fds that stand for brokered heaps. Each heap is one empty memfd,
 * named "dma_heap:<name>" and sealed so that it stays empty, which this
 * library keeps open (close-on-exec) as its keeper. Every brokered open of
 * the heap reopens it through /proc/self/fd: as with the kernel's node,
 * each open is a file description of its own on the one inode of its heap.
 * ioctl() knows a heap fd by that inode (st_dev, st_ino), so dups and fds
 * passed on through fork() work too.
 *
 * A program may close the keeper or put another file in its place (a loop
 * closing every fd, dup2()); the next open of the heap makes a new memfd,
 * and fds of the old one still work: their heap is remembered by inode.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

struct heap_file {
	dev_t dev;
	ino_t ino;
	int keeper; /* this library's fd of it; -1 once the program took that fd over */
	char name[HEAP_NAME_MAX + 1];
};

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static struct heap_file *files;
static size_t file_count;
static atomic_bool any_file;

static void lock_files(void)
{
	pthread_mutex_lock(&files_lock);
}

static void unlock_files(void)
{
	pthread_mutex_unlock(&files_lock);
}

/* A fork() while another thread holds the lock would leave it held in the child. */
static void hold_across_forks(void)
{
	(void)pthread_atfork(lock_files, unlock_files, unlock_files);
}

static bool is_file(const struct heap_file *file, const struct stat *st)
{
	return st->st_dev == file->dev && st->st_ino == file->ino;
}

static bool keeper_is_ours(const struct heap_file *file)
{
	struct stat st;

	return file->keeper >= 0 && fstat(file->keeper, &st) == 0 && is_file(file, &st);
}

static int make_memfd(const char *name, struct stat *st)
{
	char memfd_name[sizeof("dma_heap:") + HEAP_NAME_MAX];
	int fd;

	snprintf(memfd_name, sizeof(memfd_name), "dma_heap:%s", name);
	fd = memfd_create(memfd_name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_ADD_SEALS, SEALS) < 0 || fstat(fd, st) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Adds a new file for heap name; its keeper, or a negative errno. */
static int add_file(const char *name)
{
	struct heap_file *grown;
	struct stat st;
	int fd;

	grown = realloc(files, (file_count + 1) * sizeof(*files));
	if (!grown)
		return -ENOMEM;
	files = grown;
	fd = make_memfd(name, &st);
	if (fd < 0)
		return fd;
	files[file_count] = (struct heap_file){ .dev = st.st_dev, .ino = st.st_ino, .keeper = fd };
	snprintf(files[file_count].name, sizeof(files[file_count].name), "%s", name);
	file_count++;
	atomic_store(&any_file, true);
	return fd;
}

/* The keeper of heap name's file, made when there is none; or a negative errno. */
static int keeper_of(const char *name)
{
	for (size_t i = 0; i < file_count; i++) {
		if (files[i].keeper < 0 || strcmp(files[i].name, name) != 0)
			continue;
		if (keeper_is_ours(&files[i]))
			return files[i].keeper;
		files[i].keeper = -1;
	}
	return add_file(name);
}

/* A new open of the keeper's file, with the open's access mode and fd flags. */
static int reopen(int keeper, int flags)
{
	char path[sizeof("/proc/self/fd/") + 12];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", keeper);
	fd = real_open(REAL_OPEN, AT_FDCWD, path, flags & (O_ACCMODE | O_CLOEXEC | O_NONBLOCK), 0);
	if (fd >= 0)
		return fd;
	/* No /proc (a bare chroot): a dup shares the keeper's file description, and works as well. */
	fd = fcntl(keeper, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	return fd < 0 ? -errno : fd;
}

int heap_fd_new(const char *name, int flags)
{
	int r;

	pthread_once(&fork_once, hold_across_forks);
	lock_files();
	r = keeper_of(name);
	if (r >= 0)
		r = reopen(r, flags);
	unlock_files();
	return r;
}

bool heap_fd_name(int fd, char name[static HEAP_NAME_MAX + 1])
{
	bool found = false;
	struct stat st;

	if (!atomic_load(&any_file) || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	lock_files();
	for (size_t i = 0; i < file_count && !found; i++) {
		if (is_file(&files[i], &st)) {
			memcpy(name, files[i].name, sizeof(files[i].name));
			found = true;
		}
	}
	unlock_files();
	return found;
}
