/* SPDX-License-Identifier: MIT */
/*
 * What the dumb and GBM heaps share: DRM devices, and libdrm, loaded only
 * when /dev/dri has a card.
 */
#ifndef IOBUFD_DRM_H
#define IOBUFD_DRM_H

#include <stdint.h>
#include <sys/types.h>
#include <xf86drm.h>

#include "dl.h"
#include "heap.h"
#include "heaps.h"

/* The libdrm functions the heaps call, as libdrm.drmIoctl(...). */
struct libdrm {
	__typeof__(drmGetDevices2) *drmGetDevices2;
	__typeof__(drmFreeDevices) *drmFreeDevices;
	__typeof__(drmIsMaster) *drmIsMaster;
	__typeof__(drmDropMaster) *drmDropMaster;
	__typeof__(drmGetVersion) *drmGetVersion;
	__typeof__(drmFreeVersion) *drmFreeVersion;
	__typeof__(drmGetCap) *drmGetCap;
	__typeof__(drmIoctl) *drmIoctl;
	__typeof__(drmPrimeHandleToFD) *drmPrimeHandleToFD;
	__typeof__(drmCloseBufferHandle) *drmCloseBufferHandle;
};

/* Filled while libdrm_library has a reference: every DRM heap holds one. */
extern struct libdrm libdrm;
extern struct dl_library libdrm_library;

/*
 * Calls add with the primary node of every DRM device: those libdrm
 * enumerates, then virtual ones (vgem) it skips. Does nothing, loading no
 * library, when /dev/dri has no card; loads library (libdrm or one that
 * needs it) for the time it takes, and says once when it cannot.
 */
void drm_add_heaps(struct heap_list *list, struct dl_library *library,
		   void (*add)(struct heap_list *, const char *node));
/*
 * Opens a DRM node for a heap of kind ("dumb", "gbm") into h->fd, gives up
 * DRM master, and fills the heap's name ("<kind>/card0"), device,
 * capabilities and fd flags. 0 or a negative errno.
 */
int drm_heap_open(struct device_heap *h, const char *kind, const char *node);

/*
 * Clears size bytes of fd's memory from offset through a mapping: new DRM
 * memory is not zeroed by every driver (VRAM is not).
 */
int drm_zero_fill(int fd, off_t offset, uint64_t size);

#endif
