/* SPDX-License-Identifier: MIT */
/*
 * Whether an open of /dev/dma_heap/<name> is brokered. The kernel is asked
 * first: a node the program may open is the program's (unless
 * IOBUF_DMAHEAP=always); one it may not (EACCES, EPERM), or that does not
 * exist (ENOENT: a container without the node), is brokered when iobufd
 * serves heap dma-heap/<name>, and fails with ENOENT when it does not, as
 * for a heap the kernel does not have. When iobufd cannot be asked, the
 * kernel's answer stands. IOBUF_DMAHEAP=never leaves every open alone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

enum broker_mode {
	BROKER_REFUSED, /* the default: what the kernel refuses */
	BROKER_ALWAYS,
	BROKER_NEVER,
};

static pthread_once_t mode_once = PTHREAD_ONCE_INIT;
static enum broker_mode mode;

static void read_mode(void)
{
	const char *env = getenv("IOBUF_DMAHEAP");

	if (!env || !*env || strcmp(env, "auto") == 0)
		mode = BROKER_REFUSED;
	else if (strcmp(env, "always") == 0)
		mode = BROKER_ALWAYS;
	else if (strcmp(env, "never") == 0)
		mode = BROKER_NEVER;
	else
		shim_warn("IOBUF_DMAHEAP=%s is none of auto, always and never; taken as auto", env);
}

static enum broker_mode broker_mode(void)
{
	pthread_once(&mode_once, read_mode);
	return mode;
}

/* The <name> of /dev/dma_heap/<name>, or NULL for any other path. */
static const char *heap_name_of(const char *path)
{
	const char *name;

	if (strncmp(path, HEAP_DIR, sizeof(HEAP_DIR) - 1) != 0)
		return NULL;
	name = path + sizeof(HEAP_DIR) - 1;
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return NULL;
	return name;
}

/* The kernel's answer, fd or error, replaced by iobufd's when it has one. */
static int broker(const char *name, int flags, int fd, int error)
{
	int r = daemon_serves(name);

	if (r < 0 && r != -ENODEV) {
		errno = error;
		return fd;
	}
	r = r == 0 ? heap_fd_new(name, flags) : -ENOENT;
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

int heap_open_after(const char *path, int flags, int fd)
{
	int error = fd < 0 ? errno : 0;
	enum broker_mode m;
	const char *name;

	/* Only paths the kernel has read are read here. */
	if (fd < 0 && error != EACCES && error != EPERM && error != ENOENT)
		return fd;
	name = heap_name_of(path);
	if (!name)
		return fd;
	m = broker_mode();
	if (m == BROKER_NEVER || (fd >= 0 && m != BROKER_ALWAYS)) {
		if (fd < 0)
			errno = error;
		return fd;
	}
	return broker(name, flags, fd, error);
}
