/* SPDX-License-Identifier: MIT */
/*
 * The heaps of this machine: finding them, putting them in matching order,
 * matching a request against them, and saying what they are.
 */
#ifndef IOBUFD_HEAPS_H
#define IOBUFD_HEAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"

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

/*
 * Each adds the heaps of its kind found on this machine; 0 or a negative
 * errno. The dumb and GBM heaps exist only in builds with DRM (HAVE_DRM,
 * HAVE_GBM).
 */
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

/* The first option the heap cannot honour, by name, or NULL when it can serve. */
const char *heap_lack(const struct heap *h, uint32_t options, uint64_t size,
		      uint64_t physical_mask);

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
