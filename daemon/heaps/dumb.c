/* SPDX-License-Identifier: MIT */
/*
 * DRM dumb buffers: one heap per DRM device whose primary node creates them,
 * exported as dma-bufs. The GEM handle is closed once the dma-buf exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "heap.h"
#include "iobuf/iobuf.h"
#include "log.h"

/* Buffers are laid out as rows of PITCH bytes: 1024 pixels of 32 bits. */
#define BPP 32
#define WIDTH 1024
#define PITCH (WIDTH * BPP / 8)

struct dumb {
	struct heap heap;
	int fd;
};

/* New dumb memory is not zeroed by every driver (VRAM is not): clear it. */
static int zero_fill(int fd, uint32_t handle, uint64_t size)
{
	struct drm_mode_map_dumb map = { .handle = handle };
	void *p;

	if (drmIoctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &map) < 0)
		return -errno;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map.offset);
	if (p == MAP_FAILED)
		return -errno;
	memset(p, 0, size);
	munmap(p, size);
	return 0;
}

static int dumb_allocate(struct heap *heap, const struct heap_request *req, uint64_t *size)
{
	struct dumb *h = (struct dumb *)heap;
	struct drm_mode_create_dumb create = {
		.width = WIDTH,
		.height = (uint32_t)((req->size + PITCH - 1) / PITCH),
		.bpp = BPP,
	};
	int fd = -1, r;

	if (req->size / PITCH >= UINT32_MAX)
		return -EFBIG;
	if (drmIoctl(h->fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return -errno;
	r = zero_fill(h->fd, create.handle, create.size);
	if (r == 0 && drmPrimeHandleToFD(h->fd, create.handle, DRM_RDWR | DRM_CLOEXEC, &fd) < 0)
		r = -errno;
	drmCloseBufferHandle(h->fd, create.handle);
	if (r < 0)
		return r;
	dmabuf_set_name(fd, req);
	*size = create.size;
	return fd;
}

static void dumb_destroy(struct heap *heap)
{
	struct dumb *h = (struct dumb *)heap;

	close(h->fd);
	free(h);
}

/*
 * Whether the device creates dumb buffers and exports them. Asked by doing
 * it: DRM_CAP_DUMB_BUFFER is unanswered by drivers without modesetting
 * (vgem), which create them all the same.
 */
static bool serves_dumb_dmabufs(int fd)
{
	struct drm_mode_create_dumb create = { .width = 64, .height = 64, .bpp = BPP };
	uint64_t prime = 0;

	if (drmGetCap(fd, DRM_CAP_PRIME, &prime) < 0 || !(prime & DRM_PRIME_CAP_EXPORT) ||
	    drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return false;
	drmCloseBufferHandle(fd, create.handle);
	return true;
}

static void add(struct heap_list *list, const char *node)
{
	struct dumb *h = calloc(1, sizeof(*h));

	if (!h)
		return;
	h->fd = drm_heap_open(&h->heap, "dumb", node);
	if (h->fd < 0 || !serves_dumb_dmabufs(h->fd)) {
		if (h->fd >= 0)
			close(h->fd);
		free(h);
		return;
	}
	h->heap.allocate = dumb_allocate;
	h->heap.destroy = dumb_destroy;
	heap_list_add(list, &h->heap);
}

int heap_dumb_discover(struct heap_list *list)
{
	drm_add_heaps(list, add);
	return 0;
}
