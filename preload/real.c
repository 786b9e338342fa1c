/* SPDX-License-Identifier: MIT */
/*
 * The C library's open(2) family and ioctl(2), found behind this library
 * with dlsym(RTLD_NEXT) on first use. Threads that race to the first use
 * store the same pointer.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#include "shim.h"

typedef int (*open_fn)(const char *path, int flags, ...);
typedef int (*openat_fn)(int dirfd, const char *path, int flags, ...);
typedef int (*open_2_fn)(const char *path, int flags);
typedef int (*openat_2_fn)(int dirfd, const char *path, int flags);
typedef int (*ioctl_fn)(int fd, unsigned long request, ...);

static const char *const open_names[REAL_OPEN_COUNT] = {
	[REAL_OPEN] = "open",
	[REAL_OPEN64] = "open64",
	[REAL_OPENAT] = "openat",
	[REAL_OPENAT64] = "openat64",
	[REAL_OPEN_2] = "__open_2",
	[REAL_OPEN64_2] = "__open64_2",
	[REAL_OPENAT_2] = "__openat_2",
	[REAL_OPENAT64_2] = "__openat64_2",
};

static void *_Atomic open_fns[REAL_OPEN_COUNT];
static void *_Atomic ioctl_ptr;

static void *next_definition(void *_Atomic *slot, const char *name)
{
	void *fn = atomic_load_explicit(slot, memory_order_acquire);

	if (!fn) {
		fn = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, fn, memory_order_release);
	}
	if (!fn)
		errno = ENOSYS;
	return fn;
}

int real_open(enum real_open which, int dirfd, const char *path, int flags, mode_t mode)
{
	void *fn = next_definition(&open_fns[which], open_names[which]);

	if (!fn)
		return -1;
	switch (which) {
	case REAL_OPEN:
	case REAL_OPEN64:
		return ((open_fn)fn)(path, flags, mode);
	case REAL_OPENAT:
	case REAL_OPENAT64:
		return ((openat_fn)fn)(dirfd, path, flags, mode);
	case REAL_OPEN_2:
	case REAL_OPEN64_2:
		return ((open_2_fn)fn)(path, flags);
	case REAL_OPENAT_2:
	case REAL_OPENAT64_2:
		return ((openat_2_fn)fn)(dirfd, path, flags);
	case REAL_OPEN_COUNT:
		break;
	}
	errno = ENOSYS;
	return -1;
}

int real_ioctl(int fd, unsigned long request, void *arg)
{
	void *fn = next_definition(&ioctl_ptr, "ioctl");

	return fn ? ((ioctl_fn)fn)(fd, request, arg) : -1;
}
