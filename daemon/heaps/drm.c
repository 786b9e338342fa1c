/* SPDX-License-Identifier: MIT */
/* The DRM devices the dumb and GBM heaps may use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "drm.h"
#include "iobuf/iobuf.h"
#include "log.h"

#define DRM_DIR "/dev/dri"
#define DRM_DEVICES_MAX 16
#define DRM_NODE_PATH_MAX 32

struct libdrm libdrm;

static const struct dl_symbol libdrm_symbols[] = {
	DL_SYMBOL(struct libdrm, drmGetDevices2),
	DL_SYMBOL(struct libdrm, drmFreeDevices),
	DL_SYMBOL(struct libdrm, drmIsMaster),
	DL_SYMBOL(struct libdrm, drmDropMaster),
	DL_SYMBOL(struct libdrm, drmGetVersion),
	DL_SYMBOL(struct libdrm, drmFreeVersion),
	DL_SYMBOL(struct libdrm, drmGetCap),
	DL_SYMBOL(struct libdrm, drmIoctl),
	DL_SYMBOL(struct libdrm, drmPrimeHandleToFD),
	DL_SYMBOL(struct libdrm, drmCloseBufferHandle),
};

struct dl_library libdrm_library = {
	.soname = "libdrm.so.2",
	.serves = "dumb or GBM heaps",
	.symbols = libdrm_symbols,
	.symbol_count = sizeof(libdrm_symbols) / sizeof(*libdrm_symbols),
	.functions = &libdrm,
};

static int is_card(const struct dirent *e)
{
	return strncmp(e->d_name, "card", 4) == 0;
}

static bool listed(char (*nodes)[DRM_NODE_PATH_MAX], int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (strcmp(nodes[i], path) == 0)
			return true;
	return false;
}

/* The card nodes of /dev/dri by name; the count, 0 when there is none. */
static int card_nodes(struct dirent ***entries)
{
	int count = scandir(DRM_DIR, entries, is_card, alphasort);

	return count < 0 ? 0 : count;
}

static void free_entries(struct dirent **entries, int count)
{
	for (int i = 0; i < count; i++)
		free(entries[i]);
	free(entries);
}

static int primary_nodes(struct dirent **cards, int card_count,
			 char (*nodes)[DRM_NODE_PATH_MAX], int max)
{
	drmDevicePtr devices[DRM_DEVICES_MAX];
	int n = 0, found;

	found = libdrm.drmGetDevices2(0, devices, DRM_DEVICES_MAX);
	for (int i = 0; i < found && n < max; i++)
		if (devices[i]->available_nodes & (1 << DRM_NODE_PRIMARY))
			snprintf(nodes[n++], DRM_NODE_PATH_MAX, "%s",
				 devices[i]->nodes[DRM_NODE_PRIMARY]);
	if (found > 0)
		libdrm.drmFreeDevices(devices, found);

	/* libdrm skips virtual devices (vgem has no bus it knows): take them too. */
	for (int i = 0; i < card_count && n < max; i++) {
		char path[DRM_NODE_PATH_MAX];

		snprintf(path, sizeof(path), DRM_DIR "/%.16s", cards[i]->d_name);
		if (!listed(nodes, n, path))
			snprintf(nodes[n++], DRM_NODE_PATH_MAX, "%s", path);
	}
	return n;
}

void drm_add_heaps(struct heap_list *list, struct dl_library *library,
		   void (*add)(struct heap_list *, const char *node))
{
	char nodes[DRM_DEVICES_MAX][DRM_NODE_PATH_MAX];
	struct dirent **cards = NULL;
	int card_count = card_nodes(&cards), n = 0;

	if (card_count > 0 && dl_library_ref(library) == 0) {
		n = primary_nodes(cards, card_count, nodes, DRM_DEVICES_MAX);
		for (int i = 0; i < n; i++)
			add(list, nodes[i]);
		dl_library_unref(library);
	}
	free_entries(cards, card_count);
}

/* The cache mode a driver maps its buffers with: shmem (vgem) is cached, VRAM not. */
static uint32_t cache_mode_of(const char *driver)
{
	return strcmp(driver, "vgem") == 0 ? IOBUF_CACHE_COPYBACK : IOBUF_CACHE_WRITECOMBINE;
}

int drm_heap_open(struct device_heap *h, const char *kind, const char *node)
{
	struct heap *heap = &h->heap;
	drmVersionPtr version;

	h->fd = open(node, O_RDWR | O_CLOEXEC);
	if (h->fd < 0) {
		log_warning("skipping DRM device %s for %s heaps: %m", node, kind);
		return -errno;
	}
	/* Opening a primary node first makes us DRM master; a compositor needs it. */
	if (libdrm.drmIsMaster(h->fd))
		libdrm.drmDropMaster(h->fd);
	version = libdrm.drmGetVersion(h->fd);
	if (!version)
		return -ENODEV;
	snprintf(heap->name, sizeof(heap->name), "%s/%s", kind, strrchr(node, '/') + 1);
	snprintf(heap->device, sizeof(heap->device), "%.31s (%.24s)", node, version->name);
	heap->caps = (struct heap_caps){
		.cache_modes = 1u << (cache_mode_of(version->name) >> IOBUF_CACHE_SHIFT),
		.wired = true,
		.mappable = true,
	};
	heap->fd_flags = HEAP_FD_DMABUF | HEAP_FD_MAPPABLE;
	libdrm.drmFreeVersion(version);
	return 0;
}

int drm_zero_fill(int fd, off_t offset, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);

	if (p == MAP_FAILED)
		return -errno;
	memset(p, 0, size);
	munmap(p, size);
	return 0;
}
