/* SPDX-License-Identifier: MIT */
/*
 * DRM dumb buffers: one heap per DRM device whose primary node creates them,
 * exported as dma-bufs. The GEM handle is closed once the dma-buf exists.
 */
#include <errno.h>
#include <fcntl.h> /* O_RDWR, O_CLOEXEC behind DRM_RDWR, DRM_CLOEXEC */
#include <stdint.h>

#include "dmabuf.h"
#include "drm.h"

/* Buffers are laid out as rows of PITCH bytes: 1024 pixels of 32 bits. */
#define BPP 32
#define WIDTH 1024
#define PITCH (WIDTH * BPP / 8)

/* New dumb memory is not zeroed by every driver (VRAM is not): clear it. */
static int zero_fill(int fd, uint32_t handle, uint64_t size)
{
	struct drm_mode_map_dumb map = { .handle = handle };

	if (libdrm.drmIoctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &map) < 0)
		return -errno;
	return drm_zero_fill(fd, (off_t)map.offset, size);
}

static int dumb_allocate(struct heap *heap, const struct heap_request *req, uint64_t *size)
{
	struct device_heap *h = (struct device_heap *)heap;
	struct drm_mode_create_dumb create = {
		.width = WIDTH,
		.height = (uint32_t)((req->size + PITCH - 1) / PITCH),
		.bpp = BPP,
	};
	int fd = -1, r;

	if (req->size / PITCH >= UINT32_MAX)
		return -EFBIG;
	if (libdrm.drmIoctl(h->fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return -errno;
	r = zero_fill(h->fd, create.handle, create.size);
	if (r == 0 &&
	    libdrm.drmPrimeHandleToFD(h->fd, create.handle, DRM_RDWR | DRM_CLOEXEC, &fd) < 0)
		r = -errno;
	libdrm.drmCloseBufferHandle(h->fd, create.handle);
	if (r < 0)
		return r;
	dmabuf_set_name(fd, req);
	*size = create.size;
	return fd;
}

static const struct heap_ops dumb_ops = {
	.allocate = dumb_allocate,
	.destroy = device_heap_destroy,
};

/*
 * Whether the device creates dumb buffers and exports them. Asked by doing
 * it: DRM_CAP_DUMB_BUFFER is unanswered by drivers without modesetting
 * (vgem), which create them all the same.
 */
static bool serves_dumb_dmabufs(int fd)
{
	struct drm_mode_create_dumb create = { .width = 64, .height = 64, .bpp = BPP };
	uint64_t prime = 0;

	if (libdrm.drmGetCap(fd, DRM_CAP_PRIME, &prime) < 0 || !(prime & DRM_PRIME_CAP_EXPORT) ||
	    libdrm.drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return false;
	libdrm.drmCloseBufferHandle(fd, create.handle);
	return true;
}

static void add(struct heap_list *list, const char *node)
{
	struct device_heap *h = device_heap_new(sizeof(*h), &dumb_ops, &libdrm_library);

	if (!h)
		return;
	if (drm_heap_open(h, "dumb", node) < 0 || !serves_dumb_dmabufs(h->fd)) {
		device_heap_destroy(&h->heap);
		return;
	}
	heap_list_add(list, &h->heap);
}

int heap_dumb_discover(struct heap_list *list)
{
	drm_add_heaps(list, &libdrm_library, add);
	return 0;
}
