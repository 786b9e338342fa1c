/* SPDX-License-Identifier: MIT */
/* Sealed memfds: shmem that works everywhere, containers and CI included. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap.h"
#include "iobuf/iobuf.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

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

int memfd_new(const char *name, uint64_t size, bool wired)
{
	int fd, r;

	fd = create(name);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	/* Wired memory is allocated up front; pageable memory on first touch. */
	if (wired && fallocate(fd, 0, 0, (off_t)size) < 0)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, SEALS) < 0)
		goto fail;
	return fd;
fail:
	r = errno == ENOSPC ? -ENOMEM : -errno;
	close(fd);
	return r;
}

static int memfd_allocate(struct heap *heap, const struct heap_request *req, uint64_t *size)
{
	char name[32];

	snprintf(name, sizeof(name), "iobuf:%" PRIu64, req->id);
	return memfd_new(name, req->size, !(req->options & IOBUF_PAGEABLE));
}

static int memfd_purge(struct heap *heap, int fd, uint64_t size)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)size) < 0)
		return -errno;
	return 0;
}

static void memfd_destroy(struct heap *heap)
{
	free(heap);
}

int heap_memfd_discover(struct heap_list *list)
{
	struct heap *heap = calloc(1, sizeof(*heap));

	if (!heap)
		return -ENOMEM;
	*heap = (struct heap){
		.name = "memfd",
		.caps = {
			.cache_modes = 1u << (IOBUF_CACHE_COPYBACK >> IOBUF_CACHE_SHIFT),
			.wired = true,
			.pageable = true,
			.purgeable = true,
			.mappable = true,
		},
		.fd_flags = WIRE_BUFFER_MAPPABLE,
		.allocate = memfd_allocate,
		.purge = memfd_purge,
		.destroy = memfd_destroy,
	};
	heap_list_add(list, heap);
	return 0;
}
