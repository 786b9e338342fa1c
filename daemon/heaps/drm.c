/* SPDX-License-Identifier: MIT */
/* The DRM devices the dumb and GBM heaps may use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xf86drm.h>

#include "heap.h"

#define DRM_DEVICES_MAX 16
#define DRM_NODE_PATH_MAX 32
#include "iobuf/iobuf.h"
#include "log.h"

static bool listed(char (*nodes)[DRM_NODE_PATH_MAX], int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (strcmp(nodes[i], path) == 0)
			return true;
	return false;
}

static int primary_nodes(char (*nodes)[DRM_NODE_PATH_MAX], int max)
{
	drmDevicePtr devices[DRM_DEVICES_MAX];
	struct dirent **entries;
	int n = 0, count, found;

	found = drmGetDevices2(0, devices, DRM_DEVICES_MAX);
	for (int i = 0; i < found && n < max; i++)
		if (devices[i]->available_nodes & (1 << DRM_NODE_PRIMARY))
			snprintf(nodes[n++], DRM_NODE_PATH_MAX, "%s",
				 devices[i]->nodes[DRM_NODE_PRIMARY]);
	if (found > 0)
		drmFreeDevices(devices, found);

	/* libdrm skips virtual devices (vgem has no bus it knows): take them too. */
	count = scandir("/dev/dri", &entries, NULL, alphasort);
	for (int i = 0; i < count; i++) {
		char path[DRM_NODE_PATH_MAX];

		snprintf(path, sizeof(path), "/dev/dri/%.16s", entries[i]->d_name);
		if (strncmp(entries[i]->d_name, "card", 4) == 0 && n < max && !listed(nodes, n, path))
			snprintf(nodes[n++], DRM_NODE_PATH_MAX, "%s", path);
		free(entries[i]);
	}
	if (count >= 0)
		free(entries);
	return n;
}

void drm_add_heaps(struct heap_list *list, void (*add)(struct heap_list *, const char *node))
{
	char nodes[DRM_DEVICES_MAX][DRM_NODE_PATH_MAX];
	int n = primary_nodes(nodes, DRM_DEVICES_MAX);

	for (int i = 0; i < n; i++)
		add(list, nodes[i]);
}

/* The cache mode a driver maps its buffers with: shmem (vgem) is cached, VRAM not. */
static uint32_t cache_mode_of(const char *driver)
{
	return strcmp(driver, "vgem") == 0 ? IOBUF_CACHE_COPYBACK : IOBUF_CACHE_WRITECOMBINE;
}

int drm_heap_open(struct heap *heap, const char *kind, const char *node)
{
	drmVersionPtr version;
	int fd = open(node, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		log_warning("skipping DRM device %s for %s heaps: %m", node, kind);
		return -errno;
	}
	/* Opening a primary node first makes us DRM master; a compositor needs it. */
	if (drmIsMaster(fd))
		drmDropMaster(fd);
	version = drmGetVersion(fd);
	if (!version) {
		close(fd);
		return -ENODEV;
	}
	snprintf(heap->name, sizeof(heap->name), "%s/%s", kind, strrchr(node, '/') + 1);
	snprintf(heap->device, sizeof(heap->device), "%.31s (%.24s)", node, version->name);
	heap->caps = (struct heap_caps){
		.cache_modes = 1u << (cache_mode_of(version->name) >> IOBUF_CACHE_SHIFT),
		.wired = true,
		.mappable = true,
	};
	heap->fd_flags = WIRE_BUFFER_DMABUF | WIRE_BUFFER_MAPPABLE;
	drmFreeVersion(version);
	return fd;
}
