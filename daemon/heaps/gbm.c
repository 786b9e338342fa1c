/* SPDX-License-Identifier: MIT */
/*
 * GBM: one heap per DRM device where Mesa's GBM creates buffers. Byte
 * buffers are linear R8 images; GPU images get the format and modifier the
 * client asks for. The buffer object goes once its dma-buf exists.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h> /* O_RDWR, O_CLOEXEC behind DRM_RDWR, DRM_CLOEXEC */
#include <gbm.h>
#include <unistd.h>

#include "dmabuf.h"
#include "drm.h"
#include "iobuf/iobuf.h"

#define BYTES_WIDTH 4096 /* byte buffers are rows of 4096 R8 pixels */

/* The libgbm functions the heap calls, as libgbm.gbm_bo_create(...). */
struct libgbm {
	__typeof__(gbm_create_device) *gbm_create_device;
	__typeof__(gbm_device_destroy) *gbm_device_destroy;
	__typeof__(gbm_bo_create) *gbm_bo_create;
	__typeof__(gbm_bo_create_with_modifiers2) *gbm_bo_create_with_modifiers2;
	__typeof__(gbm_bo_destroy) *gbm_bo_destroy;
	__typeof__(gbm_bo_get_handle) *gbm_bo_get_handle;
	__typeof__(gbm_bo_get_plane_count) *gbm_bo_get_plane_count;
	__typeof__(gbm_bo_get_modifier) *gbm_bo_get_modifier;
	__typeof__(gbm_bo_get_offset) *gbm_bo_get_offset;
	__typeof__(gbm_bo_get_stride_for_plane) *gbm_bo_get_stride_for_plane;
};

static struct libgbm libgbm;

#define SYMBOL(function) DL_SYMBOL(struct libgbm, function)
static const struct dl_symbol libgbm_symbols[] = {
	SYMBOL(gbm_create_device),
	SYMBOL(gbm_device_destroy),
	SYMBOL(gbm_bo_create),
	SYMBOL(gbm_bo_create_with_modifiers2),
	SYMBOL(gbm_bo_destroy),
	SYMBOL(gbm_bo_get_handle),
	SYMBOL(gbm_bo_get_plane_count),
	SYMBOL(gbm_bo_get_modifier),
	SYMBOL(gbm_bo_get_offset),
	SYMBOL(gbm_bo_get_stride_for_plane),
};
#undef SYMBOL

/* Loaded while a GBM heap exists; it needs libdrm for the heap's DRM node. */
static struct dl_library libgbm_library = {
	.soname = "libgbm.so.1",
	.serves = "GBM heaps",
	.symbols = libgbm_symbols,
	.symbol_count = sizeof(libgbm_symbols) / sizeof(*libgbm_symbols),
	.functions = &libgbm,
	.needs = &libdrm_library,
};

struct gbm_heap {
	struct device_heap base;
	struct gbm_device *device;
};

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

	r = libdrm.drmPrimeHandleToFD(h->base.fd, libgbm.gbm_bo_get_handle(bo).u32,
				      DRM_RDWR | DRM_CLOEXEC, &fd);
	libgbm.gbm_bo_destroy(bo);
	if (r < 0)
		return -errno;
	*size = fd_size(fd);
	r = *size ? drm_zero_fill(fd, 0, *size) : -EIO;
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
	bo = libgbm.gbm_bo_create(h->device, BYTES_WIDTH, (uint32_t)rows, GBM_FORMAT_R8,
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

static bool offers(const struct image_request *image, uint64_t modifier)
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
static struct gbm_bo *create_image(struct gbm_heap *h, const struct image_request *image,
				   uint32_t *flags)
{
	struct gbm_bo *bo;

	*flags = gbm_usage(image->usage);
	if (image->modifier_count) {
		bo = libgbm.gbm_bo_create_with_modifiers2(h->device, image->width, image->height,
						   image->fourcc, image->modifiers,
						   image->modifier_count, *flags);
		if (bo || !offers(image, DRM_FORMAT_MOD_LINEAR))
			return bo;
		*flags |= GBM_BO_USE_LINEAR;
	}
	return libgbm.gbm_bo_create(h->device, image->width, image->height, image->fourcc, *flags);
}

static int gbm_allocate_image(struct heap *heap, const struct heap_request *req,
			      const struct image_request *image, struct image_layout *layout)
{
	struct gbm_heap *h = (struct gbm_heap *)heap;
	struct gbm_bo *bo;
	uint32_t flags;
	int planes;

	errno = 0;
	bo = create_image(h, image, &flags);
	if (!bo)
		return errno ? -errno : -EINVAL;
	planes = libgbm.gbm_bo_get_plane_count(bo);
	if (planes < 1 || planes > IMAGE_MAX_PLANES) {
		libgbm.gbm_bo_destroy(bo);
		return -EOPNOTSUPP;
	}
	layout->modifier = libgbm.gbm_bo_get_modifier(bo);
	if (layout->modifier == DRM_FORMAT_MOD_INVALID && (flags & GBM_BO_USE_LINEAR))
		layout->modifier = DRM_FORMAT_MOD_LINEAR;
	layout->plane_count = (uint32_t)planes;
	for (int i = 0; i < planes; i++) {
		layout->planes[i].offset = libgbm.gbm_bo_get_offset(bo, i);
		layout->planes[i].stride = libgbm.gbm_bo_get_stride_for_plane(bo, i);
	}
	layout->fd_flags = HEAP_FD_DMABUF;
	if (layout->modifier == DRM_FORMAT_MOD_LINEAR)
		layout->fd_flags |= HEAP_FD_MAPPABLE;
	return export(h, bo, req, &layout->size);
}

static void gbm_heap_destroy(struct heap *heap)
{
	struct gbm_heap *h = (struct gbm_heap *)heap;

	if (h->device)
		libgbm.gbm_device_destroy(h->device);
	device_heap_destroy(heap);
}

static const struct heap_ops gbm_heap_ops = {
	.allocate = gbm_allocate,
	.allocate_image = gbm_allocate_image,
	.destroy = gbm_heap_destroy,
};

/* Whether GBM really creates buffers there: some nodes refuse at the first bo. */
static bool creates_buffers(struct gbm_device *device)
{
	struct gbm_bo *bo = libgbm.gbm_bo_create(device, 64, 64, GBM_FORMAT_R8, GBM_BO_USE_LINEAR);

	if (!bo)
		return false;
	libgbm.gbm_bo_destroy(bo);
	return true;
}

static void add(struct heap_list *list, const char *node)
{
	struct gbm_heap *h = (struct gbm_heap *)device_heap_new(sizeof(*h), &gbm_heap_ops,
								 &libgbm_library);

	if (!h)
		return;
	if (drm_heap_open(&h->base, "gbm", node) == 0)
		h->device = libgbm.gbm_create_device(h->base.fd);
	if (!h->device || !creates_buffers(h->device)) {
		gbm_heap_destroy(&h->base.heap);
		return;
	}
	heap_list_add(list, &h->base.heap);
}

int heap_gbm_discover(struct heap_list *list)
{
	drm_add_heaps(list, &libgbm_library, add);
	return 0;
}
