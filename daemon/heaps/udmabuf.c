/* SPDX-License-Identifier: MIT */
/* udmabuf: a sealed memfd turned into a dma-buf that devices can import. */
#include <errno.h>
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dmabuf.h"
#include "heaps.h"
#include "iobuf/iobuf.h"
#include "log.h"

#define UDMABUF_DEVICE "/dev/udmabuf"
#define UDMABUF_SIZE_LIMIT "/sys/module/udmabuf/parameters/size_limit_mb"

static int udmabuf_allocate(struct heap *heap, const struct heap_request *req, uint64_t *size)
{
	struct device_heap *h = (struct device_heap *)heap;
	struct udmabuf_create create = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = req->size };
	char name[MEMFD_NAME_MAX];
	int memfd, fd;

	memfd_name(req->id, req->label, name, sizeof(name));
	/* udmabuf needs F_SEAL_SHRINK, which memfd_new() always sets. */
	memfd = memfd_new(name, req->size, false);
	if (memfd < 0)
		return memfd;
	create.memfd = (uint32_t)memfd;
	fd = ioctl(h->fd, UDMABUF_CREATE, &create);
	if (fd < 0)
		fd = -errno;
	close(memfd); /* the dma-buf holds the pages */
	if (fd >= 0)
		dmabuf_set_name(fd, req);
	return fd;
}

static const struct heap_ops udmabuf_ops = {
	.allocate = udmabuf_allocate,
	.destroy = device_heap_destroy,
};

/*
 * The most the driver makes at once (its size_limit_mb parameter, 64 MiB by
 * default): it refuses more with EINVAL, so larger requests go to the heaps
 * after it. 0 when it does not say.
 */
static uint64_t size_limit(void)
{
	unsigned long long mib = 0;
	FILE *f = fopen(UDMABUF_SIZE_LIMIT, "re");

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &mib) != 1 || mib > UINT64_MAX >> 20)
		mib = 0;
	fclose(f);
	return (uint64_t)mib << 20;
}

int heap_udmabuf_discover(struct heap_list *list)
{
	struct device_heap *h;
	int fd = open(UDMABUF_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			log_warning("skipping heap udmabuf: %s: %m", UDMABUF_DEVICE);
		return 0;
	}
	h = device_heap_new(sizeof(*h), &udmabuf_ops, NULL);
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->fd = fd;
	h->heap = (struct heap){
		.ops = &udmabuf_ops,
		.name = "udmabuf",
		.device = UDMABUF_DEVICE,
		.caps = {
			.cache_modes = 1u << (IOBUF_CACHE_COPYBACK >> IOBUF_CACHE_SHIFT),
			.pageable = true,
			.mappable = true,
			.max_size = size_limit(),
		},
		.fd_flags = HEAP_FD_DMABUF | HEAP_FD_MAPPABLE,
	};
	heap_list_add(list, &h->heap);
	return 0;
}
