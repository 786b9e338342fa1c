/* SPDX-License-Identifier: MIT */
/* libiobuf-dmaheap internals shared between its files. */
#ifndef IOBUF_PRELOAD_SHIM_H
#define IOBUF_PRELOAD_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "iobuf/iobuf.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

#define HEAP_DIR "/dev/dma_heap/"
/* iobufd's name for the kernel heap <name>. */
#define HEAP_PREFIX "dma-heap/"
/* The longest <name> iobufd can serve. */
#define HEAP_NAME_MAX (IOBUF_HEAP_NAME_MAX - (sizeof(HEAP_PREFIX) - 1))

/* real.c: the C library's functions this library stands in front of. */
enum real_open {
	REAL_OPEN,
	REAL_OPEN64,
	REAL_OPENAT,
	REAL_OPENAT64,
	REAL_OPEN_2,
	REAL_OPEN64_2,
	REAL_OPENAT_2,
	REAL_OPENAT64_2,
	REAL_OPEN_COUNT,
};
/* As the C library's function which; -1 + ENOSYS when it has none. */
int real_open(enum real_open which, int dirfd, const char *path, int flags, mode_t mode);
int real_ioctl(int fd, unsigned long request, void *arg);

/*
 * heap-open.c: what an open of path that returned fd (-1 with errno set
 * when it failed) becomes: fd itself, or a brokered heap fd. Returns an fd,
 * or -1 with errno set.
 */
int heap_open_after(const char *path, int flags, int fd);

/* heap-fd.c: the fds that stand for brokered heaps. */
/* A new fd for heap name, honouring O_CLOEXEC in flags; or a negative errno. */
int heap_fd_new(const char *name, int flags);
/*
 * Whether fd stands for a brokered heap; its name in name when it does.
 * Asks the kernel nothing until the first heap fd is made.
 */
bool heap_fd_name(int fd, char name[static HEAP_NAME_MAX + 1]);

/* heap-ioctl.c: DMA_HEAP_IOCTL_ALLOC's type and number, whatever the struct's size. */
bool heap_ioctl_is_alloc(unsigned long request);
/* Answers the request on a fd of heap name as the kernel would: 0 or a negative errno. */
int heap_ioctl_alloc(const char *name, unsigned int request, void *arg);

/* daemon.c: iobufd, on a task of the shim's own. */
/*
 * 0 when iobufd serves heap name, -ENODEV when it does not; another
 * negative errno when it cannot be asked (it is not running).
 */
int daemon_serves(const char *name);
/* A dma-buf fd of len bytes from heap name, close-on-exec or not; or a negative errno. */
int daemon_allocate(const char *name, uint64_t len, bool cloexec);

/* "libiobuf-dmaheap: " and the message, on stderr. */
void shim_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
