/* SPDX-License-Identifier: MIT */
/* Sealed memfds: shmem that works everywhere, containers and CI included. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heaps.h"
#include "iobuf/iobuf.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/*
 * The memfd for the next buffer id and its owner's file, made once a reply
 * is sent (ops.prepare) so that an allocation only sizes and seals it.
 * fd is -1 when there is none; owner_fd outlives it from allocate() until
 * owner_fd() hands it out, for the fd allocate() returned (taken_fd).
 */
struct memfd_spare {
	uint64_t id;
	int fd;
	int owner_fd;
	int taken_fd;
};

struct memfd_heap {
	struct heap heap;
	int proc_fd_dir; /* /proc/self/fd: a walk from / costs more than the rest of a reopen */
	struct memfd_spare spare;
};

/* Whether the kernel knows MFD_NOEXEC_SEAL (6.3+); learned on first use. */
static bool noexec_unsupported;

static int create(const char *name)
{
	int fd;

	if (!noexec_unsupported) {
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
		if (fd >= 0 || errno != EINVAL)
			return fd;
		noexec_unsupported = true;
	}
	return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

/* Gives a new memfd its size and seals; wired memory is allocated up front. */
static int size_and_seal(int fd, uint64_t size, bool wired)
{
	if (ftruncate(fd, (off_t)size) < 0 ||
	    (wired && fallocate(fd, 0, 0, (off_t)size) < 0) ||
	    fcntl(fd, F_ADD_SEALS, SEALS) < 0)
		return errno == ENOSPC ? -ENOMEM : -errno;
	return 0;
}

int memfd_new(const char *name, uint64_t size, bool wired)
{
	int fd, r;

	fd = create(name);
	if (fd < 0)
		return -errno;
	r = size_and_seal(fd, size, wired);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

void memfd_name(uint64_t id, const char *label, char *name, size_t size)
{
	if (label && label[0])
		snprintf(name, size, "iobuf:%" PRIu64 ":%s", id, label);
	else
		snprintf(name, size, "iobuf:%" PRIu64, id);
}

/*
 * The owner gets a second open file of the memfd, which the kernel counts
 * as a writer of the inode (release.h tells why), and the inode's mode goes
 * to 0: every other file of it is the owner's.
 */
static int open_owner_file(struct memfd_heap *h, int fd)
{
	char name[16];
	int owner_fd;

	snprintf(name, sizeof(name), "%d", fd);
	owner_fd = openat(h->proc_fd_dir, name, O_RDWR | O_CLOEXEC);
	if (owner_fd < 0)
		return -errno;
	if (fchmod(fd, 0) < 0) {
		close(owner_fd);
		return -errno;
	}
	return owner_fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Drops the spare, or the owner's file of an allocation that was not handed out. */
static void spare_clear(struct memfd_spare *spare)
{
	close_fd(&spare->fd);
	close_fd(&spare->owner_fd);
	spare->taken_fd = -1;
}

static void memfd_prepare(struct heap *heap, uint64_t id)
{
	struct memfd_heap *h = (struct memfd_heap *)heap;
	struct memfd_spare *spare = &h->spare;
	char name[32];
	int r;

	if (spare->fd >= 0 && spare->id == id)
		return;
	spare_clear(spare);
	memfd_name(id, NULL, name, sizeof(name));
	spare->fd = create(name);
	if (spare->fd < 0)
		return;
	r = open_owner_file(h, spare->fd);
	if (r < 0) {
		spare_clear(spare);
		return;
	}
	spare->owner_fd = r;
	spare->id = id;
}

/* The spare, if it is named for this request, else a new memfd. */
static int take_spare(struct memfd_heap *h, const struct heap_request *req)
{
	struct memfd_spare *spare = &h->spare;
	char name[MEMFD_NAME_MAX];
	int fd;

	if (spare->fd < 0 || spare->id != req->id || (req->label && req->label[0])) {
		spare_clear(spare);
		memfd_name(req->id, req->label, name, sizeof(name));
		fd = create(name);
		return fd < 0 ? -errno : fd;
	}
	fd = spare->fd;
	spare->fd = -1;
	spare->taken_fd = fd;
	return fd;
}

static int memfd_allocate(struct heap *heap, const struct heap_request *req, uint64_t *size)
{
	struct memfd_heap *h = (struct memfd_heap *)heap;
	int fd, r;

	if (h->spare.taken_fd >= 0)
		spare_clear(&h->spare);
	fd = take_spare(h, req);
	if (fd < 0)
		return fd;
	r = size_and_seal(fd, req->size, !(req->options & IOBUF_PAGEABLE));
	if (r < 0) {
		spare_clear(&h->spare);
		close(fd);
		return r;
	}
	return fd;
}

static int memfd_owner_fd(struct heap *heap, int fd)
{
	struct memfd_heap *h = (struct memfd_heap *)heap;
	struct memfd_spare *spare = &h->spare;
	int owner_fd;

	if (spare->taken_fd != fd || spare->owner_fd < 0)
		return open_owner_file(h, fd);
	owner_fd = spare->owner_fd;
	spare->owner_fd = spare->taken_fd = -1;
	return owner_fd;
}

static int memfd_purge(struct heap *heap, int fd, uint64_t size)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)size) < 0)
		return -errno;
	return 0;
}

static void memfd_destroy(struct heap *heap)
{
	struct memfd_heap *h = (struct memfd_heap *)heap;

	spare_clear(&h->spare);
	close_fd(&h->proc_fd_dir);
	free(h);
}

static const struct heap_ops memfd_ops = {
	.allocate = memfd_allocate,
	.owner_fd = memfd_owner_fd,
	.prepare = memfd_prepare,
	.purge = memfd_purge,
	.destroy = memfd_destroy,
};

int heap_memfd_discover(struct heap_list *list)
{
	struct memfd_heap *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->proc_fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->proc_fd_dir < 0) {
		free(h);
		return -errno;
	}
	h->spare = (struct memfd_spare){ .fd = -1, .owner_fd = -1, .taken_fd = -1 };
	h->heap = (struct heap){
		.ops = &memfd_ops,
		.name = "memfd",
		.caps = {
			.cache_modes = 1u << (IOBUF_CACHE_COPYBACK >> IOBUF_CACHE_SHIFT),
			.wired = true,
			.pageable = true,
			.mappable = true,
		},
		.fd_flags = HEAP_FD_MAPPABLE,
	};
	heap_list_add(list, &h->heap);
	return 0;
}
