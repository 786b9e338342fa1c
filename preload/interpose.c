/* SPDX-License-Identifier: MIT */
/*
 * The symbols libiobuf-dmaheap.so puts in front of the C library's: open(2)
 * and its variants, glibc's fortified __open*_2 that _FORTIFY_SOURCE builds
 * call, and ioctl(2). Each calls the C library's first; only an open of
 * /dev/dma_heap/<name> the kernel refused, and DMA_HEAP_IOCTL_ALLOC on a
 * heap fd made here, become anything else.
 */
/*
 * This file defines the symbols themselves: <fcntl.h> must neither make
 * open() a fortified inline wrapper nor rename it to open64 (meson builds
 * with _FILE_OFFSET_BITS=64).
 */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#include "shim.h"

/* glibc's fortified entry points, declared by <fcntl.h> only in fortified builds. */
SHIM_EXPORT int __open_2(const char *path, int flags);
SHIM_EXPORT int __open64_2(const char *path, int flags);
SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags);
SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags);

/* Whether open(2) reads a mode argument for these flags. */
static bool needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static mode_t mode_arg(int flags, va_list *ap)
{
	return needs_mode(flags) ? va_arg(*ap, mode_t) : 0;
}

static int open_as(enum real_open which, int dirfd, const char *path, int flags, mode_t mode)
{
	return heap_open_after(path, flags, real_open(which, dirfd, path, flags, mode));
}

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, &ap);
	va_end(ap);
	return open_as(REAL_OPEN, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, &ap);
	va_end(ap);
	return open_as(REAL_OPEN64, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, &ap);
	va_end(ap);
	return open_as(REAL_OPENAT, dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, &ap);
	va_end(ap);
	return open_as(REAL_OPENAT64, dirfd, path, flags, mode);
}

SHIM_EXPORT int __open_2(const char *path, int flags)
{
	return open_as(REAL_OPEN_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
	return open_as(REAL_OPEN64_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return open_as(REAL_OPENAT_2, dirfd, path, flags, 0);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return open_as(REAL_OPENAT64_2, dirfd, path, flags, 0);
}

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	char name[HEAP_NAME_MAX + 1];
	va_list ap;
	void *arg;
	int r;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	/* The request first: most ioctls never cost an fstat(). */
	if (!heap_ioctl_is_alloc(request) || !heap_fd_name(fd, name))
		return real_ioctl(fd, request, arg);
	r = heap_ioctl_alloc(name, (unsigned int)request, arg);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}
