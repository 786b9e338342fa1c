/* SPDX-License-Identifier: MIT */
/* The interface every heap implements; one heap per file in this directory. */
#ifndef IOBUFD_HEAP_H
#define IOBUFD_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct heap {
	const char *name;
	struct heap_caps caps;
	uint32_t fd_flags; /* WIRE_BUFFER_* for its fds */

	/* A new fd of size bytes (page-rounded) for buffer id, or a negative errno. */
	int (*allocate)(struct heap *heap, uint64_t id, uint64_t size, uint32_t options);
	/* Discards the contents of an fd it allocated; it then reads as zero. */
	int (*purge)(struct heap *heap, int fd, uint64_t size);
	void (*destroy)(struct heap *heap);
};

struct heap *heap_memfd_new(void);

/* The heaps in matching order. */
#define HEAPS_MAX 16
struct heap_list {
	struct heap *heaps[HEAPS_MAX];
	size_t count;
};

int heaps_init(struct heap_list *list);
void heaps_fini(struct heap_list *list);

/* Logs one line per heap with its capabilities. */
void heaps_log(const struct heap_list *list);

/*
 * The first heap that can serve options (and physical_mask) at size, or
 * NULL with why saying, heap by heap, what each lacks.
 */
struct heap *heaps_match(const struct heap_list *list, uint32_t options, uint64_t size,
			 uint64_t physical_mask, char *why, size_t why_size);

#endif
