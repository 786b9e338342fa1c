/* SPDX-License-Identifier: MIT */
/* The interface every heap implements; one heap per file in this directory. */
#ifndef IOBUFD_HEAP_H
#define IOBUFD_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* What a heap can do; a request is matched against this. */
struct heap_caps {
	bool contiguous;
	uint32_t cache_modes; /* bit (1 << mode) per IOBUF_CACHE_* mode it maps */
	bool wired;           /* can allocate up front, pinned */
	bool pageable;        /* can leave pages to first touch */
	bool purgeable;       /* can discard contents on request */
	bool mappable;        /* the task and the daemon can mmap() it */
	bool address_limit;   /* can keep below a physical address mask */
	uint64_t max_size;    /* 0: no limit of its own */
};

/* One allocation, as a heap sees it. */
struct heap_request {
	uint64_t id;
	uint64_t size;    /* page-rounded */
	uint32_t options; /* validated */
	const char *comm; /* the charged task's command name, for buffer names */
};

#define HEAP_ALIASES_MAX 4

struct heap {
	char name[WIRE_MAX_HEAP_NAME + 1];
	/* Other names of the same kernel pool, folded into this heap. */
	char aliases[HEAP_ALIASES_MAX][WIRE_MAX_HEAP_NAME + 1];
	unsigned alias_count;
	char device[64]; /* the node it uses, "" for none */
	struct heap_caps caps;
	uint32_t fd_flags; /* WIRE_BUFFER_* for its fds */
	/*
	 * A pool that may be set aside for some device: a CMA region of its
	 * own, or a vendor's dma-buf heap whose pool nothing tells (often a
	 * carve-out). It serves only what other heaps cannot.
	 */
	bool dedicated_pool;
	unsigned preference; /* the --heaps entry that chose it, from 1; 0 without --heaps */
	bool gone;         /* its device went away: it serves no more */
	bool full_logged;  /* said once: it ran out of memory, the next heap served */
	bool release_unknown_logged; /* said once: its releases cannot be seen */
	uint64_t buffers;  /* live buffers it served, and their bytes */
	uint64_t bytes;

	/*
	 * A new zero-filled fd for the request, or a negative errno. *size is
	 * the request's size and may be raised to what the heap really made.
	 */
	int (*allocate)(struct heap *heap, const struct heap_request *req, uint64_t *size);
	/*
	 * A new zero-filled GPU image, or a negative errno; fills layout's
	 * modifier, planes, buffer.size and buffer.flags. NULL: the heap
	 * creates no images.
	 */
	int (*allocate_image)(struct heap *heap, const struct heap_request *req,
			      const struct wire_allocate_image *image,
			      struct wire_allocate_image_reply *layout);
	/*
	 * The fd to hand the owner of a buffer it allocated as fd, or a
	 * negative errno. NULL: a duplicate of fd. (The memfd heap hands out a
	 * second open file: release.h tells why.)
	 */
	int (*owner_fd)(struct heap *heap, int fd);
	/*
	 * Makes ahead, once a reply is sent, what allocating buffer id will
	 * need, so that the request does not wait for it. NULL: nothing to make.
	 */
	void (*prepare)(struct heap *heap, uint64_t id);
	/* Discards the contents of an fd it allocated; it then reads as zero. NULL: cannot. */
	int (*purge)(struct heap *heap, int fd, uint64_t size);
	void (*destroy)(struct heap *heap);
};

/* The heaps in matching order. */
#define HEAPS_MAX 32
struct heap_list {
	struct heap *heaps[HEAPS_MAX];
	size_t count;
};

/* Appends a heap; a full list destroys it. */
void heap_list_add(struct heap_list *list, struct heap *heap);
/* The heap called name, or NULL. */
struct heap *heaps_find(const struct heap_list *list, const char *name);
/* Whether name is the heap's name or one of its aliases. */
bool heap_has_name(const struct heap *heap, const char *name);
/* Records name as another name of heap; false when it has too many. */
bool heap_add_alias(struct heap *heap, const char *name);

/* Each adds the heaps of its kind found on this machine; 0 or a negative errno. */
int heap_memfd_discover(struct heap_list *list);
int heap_dmaheap_discover(struct heap_list *list);
int heap_udmabuf_discover(struct heap_list *list);
int heap_dumb_discover(struct heap_list *list);
int heap_gbm_discover(struct heap_list *list);

/*
 * dmaheap.c: where the kernel tells what its dma-buf heaps are. Tests
 * point these at directories of their own.
 */
struct dmaheap_sources {
	const char *nodes;           /* /dev/dma_heap */
	const char *cma_areas;       /* /sys/kernel/mm/cma: one directory per CMA area */
	const char *reserved_memory; /* the devicetree's /reserved-memory nodes */
};
extern const struct dmaheap_sources dmaheap_sources_default;
int heap_dmaheap_discover_from(struct heap_list *list, const struct dmaheap_sources *sources);

/* memfd.c: a sealed memfd named name of size bytes, allocated up front when wired. */
int memfd_new(const char *name, uint64_t size, bool wired);

/*
 * drm.c: calls add with the primary node of every DRM device: those libdrm
 * enumerates, then virtual ones (vgem) it skips.
 */
void drm_add_heaps(struct heap_list *list, void (*add)(struct heap_list *, const char *node));
/*
 * Opens a DRM node for a heap of kind ("dumb", "gbm"), gives up DRM master,
 * and fills the heap's name ("<kind>/card0"), device, capabilities and fd
 * flags. Returns the fd or a negative errno.
 */
int drm_heap_open(struct heap *heap, const char *kind, const char *node);

/* dmabuf.c: names a dma-buf "iobuf:<id>:<comm>" for fdinfo and debugfs. */
void dmabuf_set_name(int fd, const struct heap_request *req);

/*
 * Lists of heap names separated by commas, where "NAME*" matches by prefix.
 * NULL: none given.
 */
struct heap_config {
	const char *select;     /* keep only these, in this order */
	const char *contiguous; /* dma-buf heaps known to be physically contiguous */
};

/*
 * Finds every heap, applies config and puts them in matching order: see
 * heaps_arrange().
 */
int heaps_init(struct heap_list *list, const struct heap_config *config);
/*
 * Moves the heaps in found (in the order found) to list: those config
 * selects, marked contiguous as it says, in matching order: by the --heaps
 * entry that chose them, then the one that gives away least first (see
 * iobufd(8)), then as found. Destroys the others. 0, or -ENODEV when no
 * heap is left.
 */
int heaps_arrange(struct heap_list *found, struct heap_list *list,
		  const struct heap_config *config);
void heaps_fini(struct heap_list *list);

/* The heap's capabilities in words: "CACHE_COPYBACK wired mappable". */
#define HEAP_DESCRIPTION_MAX 160
void heap_describe(const struct heap *heap, char *out, size_t size);

/* Logs one line per heap with its capabilities. */
void heaps_log(const struct heap_list *list);

/*
 * The first heap after `after` (NULL: from the start) that can serve
 * options (and physical_mask) at size, or NULL: the list is in matching
 * order, so that is the best one left. When none at all can, why says heap
 * by heap what each lacks.
 */
struct heap *heaps_match(const struct heap_list *list, const struct heap *after,
			 uint32_t options, uint64_t size, uint64_t physical_mask, char *why,
			 size_t why_size);

#endif
