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

static bool serves_dumb_dmabufs(int fd)
{
	uint64_t dumb = 0, prime = 0;

	return drmGetCap(fd, DRM_CAP_DUMB_BUFFER, &dumb) == 0 && dumb &&
	       drmGetCap(fd, DRM_CAP_PRIME, &prime) == 0 && (prime & DRM_PRIME_CAP_EXPORT);
}

/* Whether the driver maps dumb buffers cached (shmem) rather than write-combined. */
static bool maps_cached(const char *driver)
{
	return strcmp(driver, "vgem") == 0;
}

static void add(struct heap_list *list, const char *node)
{
	struct dumb *h;
	drmVersionPtr version;
	int fd = open(node, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		log_warning("skipping DRM device %s: %m", node);
		return;
	}
	/* Opening a primary node first makes us DRM master; a compositor needs it. */
	if (drmIsMaster(fd))
		drmDropMaster(fd);
	version = drmGetVersion(fd);
	if (!version || !serves_dumb_dmabufs(fd) || !(h = calloc(1, sizeof(*h)))) {
		drmFreeVersion(version);
		close(fd);
		return;
	}
	snprintf(h->heap.name, sizeof(h->heap.name), "dumb/%s", strrchr(node, '/') + 1);
	snprintf(h->heap.device, sizeof(h->heap.device), "%s (%s)", node, version->name);
	h->heap.caps = (struct heap_caps){
		.cache_modes = 1u << ((maps_cached(version->name) ? IOBUF_CACHE_COPYBACK
								  : IOBUF_CACHE_WRITECOMBINE) >>
				      IOBUF_CACHE_SHIFT),
		.wired = true,
		.mappable = true,
	};
	h->heap.fd_flags = WIRE_BUFFER_DMABUF | WIRE_BUFFER_MAPPABLE;
	h->heap.allocate = dumb_allocate;
	h->heap.destroy = dumb_destroy;
	h->fd = fd;
	drmFreeVersion(version);
	heap_list_add(list, &h->heap);
}

int heap_dumb_discover(struct heap_list *list)
{
	drmDevicePtr devices[16];
	int n = drmGetDevices2(0, devices, 16);

	if (n < 0) {
		if (n != -ENOENT && n != -ENODEV)
			log_warning("cannot list DRM devices: %s", strerror(-n));
		return 0;
	}
	for (int i = 0; i < n; i++)
		if (devices[i]->available_nodes & (1 << DRM_NODE_PRIMARY))
			add(list, devices[i]->nodes[DRM_NODE_PRIMARY]);
	drmFreeDevices(devices, n);
	return 0;
}
