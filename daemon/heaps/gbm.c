/* SPDX-License-Identifier: MIT */
/*
 * GBM: one heap per DRM device where Mesa's GBM creates buffers. Byte
 * buffers are linear R8 images; GPU images get the format and modifier the
 * client asks for. The buffer object goes once its dma-buf exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <gbm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <drm_fourcc.h>
#include <xf86drm.h>

#include "heap.h"
#include "iobuf/iobuf.h"
#include "log.h"

#define BYTES_WIDTH 4096 /* byte buffers are rows of 4096 R8 pixels */

struct gbm_heap {
	struct heap heap;
	int fd;
	struct gbm_device *device;
};

/* Clears a new buffer through its dma-buf; a buffer that cannot be cleared is not handed out. */
static int zero_fill(int fd, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	memset(p, 0, size);
	munmap(p, size);
	return 0;
}

static uint64_t fd_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	lseek(fd, 0, SEEK_SET);
	return end < 0 ? 0 : (uint64_t)end;
}

/*
 * The bo's dma-buf, writable (gbm_bo_get_fd() exports read-only), cleared
 * and named; or a negative errno. Destroys the bo.
 */
static int export(struct gbm_heap *h, struct gbm_bo *bo, const struct heap_request *req,
		  uint64_t *size)
{
	int fd = -1, r;

	r = drmPrimeHandleToFD(h->fd, gbm_bo_get_handle(bo).u32, DRM_RDWR | DRM_CLOEXEC, &fd);
	gbm_bo_destroy(bo);
	if (r < 0)
		return -errno;
	*size = fd_size(fd);
	r = *size ? zero_fill(fd, *size) : -EIO;
	if (r < 0) {
		close(fd);
		return r;
	}
	dmabuf_set_name(fd, req);
	return fd;
}

static int gbm_allocate(struct heap *heap, const struct heap_request *req, uint64_t *size)
{
	struct gbm_heap *h = (struct gbm_heap *)heap;
	uint64_t rows = (req->size + BYTES_WIDTH - 1) / BYTES_WIDTH;
	struct gbm_bo *bo;

	if (rows > UINT32_MAX)
		return -EFBIG;
	bo = gbm_bo_create(h->device, BYTES_WIDTH, (uint32_t)rows, GBM_FORMAT_R8,
			   GBM_BO_USE_LINEAR);
	if (!bo)
		return errno ? -errno : -ENOMEM;
	return export(h, bo, req, size);
}

static uint32_t gbm_usage(uint32_t usage)
{
	return (usage & IOBUF_IMAGE_SCANOUT ? GBM_BO_USE_SCANOUT : 0) |
	       (usage & IOBUF_IMAGE_RENDERING ? GBM_BO_USE_RENDERING : 0) |
	       (usage & IOBUF_IMAGE_LINEAR ? GBM_BO_USE_LINEAR : 0);
}

static bool offers(const struct wire_allocate_image *image, uint64_t modifier)
{
	for (uint32_t i = 0; i < image->modifier_count; i++)
		if (image->modifiers[i] == modifier)
			return true;
	return false;
}

/*
 * A bo with one of the modifiers offered. A backend that knows no modifiers
 * (kms_swrast) can still honour a client that accepts linear.
 */
static struct gbm_bo *create_image(struct gbm_heap *h, const struct wire_allocate_image *image,
				   uint32_t *flags)
{
	struct gbm_bo *bo;

	*flags = gbm_usage(image->usage);
	if (image->modifier_count) {
		bo = gbm_bo_create_with_modifiers2(h->device, image->width, image->height,
						   image->fourcc, image->modifiers,
						   image->modifier_count, *flags);
		if (bo || !offers(image, DRM_FORMAT_MOD_LINEAR))
			return bo;
		*flags |= GBM_BO_USE_LINEAR;
	}
	return gbm_bo_create(h->device, image->width, image->height, image->fourcc, *flags);
}

static int gbm_allocate_image(struct heap *heap, const struct heap_request *req,
			      const struct wire_allocate_image *image,
			      struct wire_allocate_image_reply *layout)
{
	struct gbm_heap *h = (struct gbm_heap *)heap;
	struct gbm_bo *bo;
	uint32_t flags;
	int planes;

	errno = 0;
	bo = create_image(h, image, &flags);
	if (!bo)
		return errno ? -errno : -EINVAL;
	planes = gbm_bo_get_plane_count(bo);
	if (planes < 1 || planes > WIRE_MAX_PLANES) {
		gbm_bo_destroy(bo);
		return -EOPNOTSUPP;
	}
	layout->modifier = gbm_bo_get_modifier(bo);
	if (layout->modifier == DRM_FORMAT_MOD_INVALID && (flags & GBM_BO_USE_LINEAR))
		layout->modifier = DRM_FORMAT_MOD_LINEAR;
	layout->plane_count = (uint32_t)planes;
	for (int i = 0; i < planes; i++) {
		layout->planes[i].offset = gbm_bo_get_offset(bo, i);
		layout->planes[i].stride = gbm_bo_get_stride_for_plane(bo, i);
	}
	layout->buffer.flags = WIRE_BUFFER_DMABUF;
	if (layout->modifier == DRM_FORMAT_MOD_LINEAR)
		layout->buffer.flags |= WIRE_BUFFER_MAPPABLE;
	return export(h, bo, req, &layout->buffer.size);
}

static void gbm_heap_destroy(struct heap *heap)
{
	struct gbm_heap *h = (struct gbm_heap *)heap;

	gbm_device_destroy(h->device);
	close(h->fd);
	free(h);
}

/* Whether GBM really creates buffers there: some nodes refuse at the first bo. */
static bool creates_buffers(struct gbm_device *device)
{
	struct gbm_bo *bo = gbm_bo_create(device, 64, 64, GBM_FORMAT_R8, GBM_BO_USE_LINEAR);

	if (!bo)
		return false;
	gbm_bo_destroy(bo);
	return true;
}

static void add(struct heap_list *list, const char *node)
{
	struct gbm_heap *h = calloc(1, sizeof(*h));

	if (!h)
		return;
	h->fd = drm_heap_open(&h->heap, "gbm", node);
	h->device = h->fd >= 0 ? gbm_create_device(h->fd) : NULL;
	if (!h->device || !creates_buffers(h->device)) {
		if (h->device)
			gbm_device_destroy(h->device);
		if (h->fd >= 0)
			close(h->fd);
		free(h);
		return;
	}
	h->heap.allocate = gbm_allocate;
	h->heap.allocate_image = gbm_allocate_image;
	h->heap.destroy = gbm_heap_destroy;
	heap_list_add(list, &h->heap);
}

int heap_gbm_discover(struct heap_list *list)
{
	drm_add_heaps(list, add);
	return 0;
}
