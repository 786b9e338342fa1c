/* SPDX-License-Identifier: MIT */
/*
 * What a heap is and what it implements; one heap kind per file in this
 * directory. The list of heaps, discovery and matching are heaps.h.
 */
#ifndef IOBUFD_HEAP_H
#define IOBUFD_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


/*
 * What a heap can do; a request is matched against this. Purging is not
 * here: a heap can purge when its ops have purge (heap_can_purge()).
 */
struct heap_caps {
	bool contiguous;
	uint32_t cache_modes; /* bit (1 << mode) per IOBUF_CACHE_* mode it maps */
	bool wired;           /* can allocate up front, pinned */
	bool pageable;        /* can leave pages to first touch */
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
	const char *label; /* its owner's name for it; NULL or "" for none */
};

struct heap;

/* What a kind of heap does; one const table per kind. */
/* The longest heap name, as in "dma-heap/linux,cma". */
#define HEAP_NAME_MAX 63

/* How the fd of a buffer may be used. */
enum {
	HEAP_FD_DMABUF = 1u << 0,   /* a dma-buf: devices import it; sync with DMA_BUF_IOCTL_SYNC */
	HEAP_FD_MAPPABLE = 1u << 1, /* the task may mmap() it */
};

#define IMAGE_MAX_MODIFIERS 16
#define IMAGE_MAX_PLANES 4

/* A GPU image as a client asks for it. */
struct image_request {
	uint32_t width;
	uint32_t height;
	uint32_t fourcc; /* DRM_FORMAT_* */
	uint32_t usage;  /* IOBUF_IMAGE_* */
	uint32_t modifier_count; /* 0: the heap chooses */
	uint64_t modifiers[IMAGE_MAX_MODIFIERS];
};

/* The image a heap made: how big, how its fd may be used, and its layout. */
struct image_layout {
	uint64_t size;
	uint32_t fd_flags; /* HEAP_FD_*: a linear image is mappable, a tiled one not */
	uint64_t modifier;
	uint32_t plane_count; /* 1 to IMAGE_MAX_PLANES */
	struct {
		uint32_t offset;
		uint32_t stride;
	} planes[IMAGE_MAX_PLANES];
};

struct heap_ops {
	/*
	 * A new zero-filled fd for the request, or a negative errno. *size is
	 * the request's size and may be raised to what the heap really made.
	 */
	int (*allocate)(struct heap *heap, const struct heap_request *req, uint64_t *size);
	/*
	 * A new zero-filled GPU image, or a negative errno; fills layout.
	 * NULL: the heap creates no images.
	 */
	int (*allocate_image)(struct heap *heap, const struct heap_request *req,
			      const struct image_request *image, struct image_layout *layout);
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
	/*
	 * Discards the contents of an fd it allocated; it then reads as zero.
	 * NULL: the heap cannot, and serves no PURGEABLE request.
	 */
	int (*purge)(struct heap *heap, int fd, uint64_t size);
	/* Lets go of all the heap holds, and of the heap. */
	void (*destroy)(struct heap *heap);
};

#define HEAP_ALIASES_MAX 4

struct heap {
	const struct heap_ops *ops;
	char name[HEAP_NAME_MAX + 1];
	/* Other names of the same kernel pool, folded into this heap. */
	char aliases[HEAP_ALIASES_MAX][HEAP_NAME_MAX + 1];
	unsigned alias_count;
	char device[64]; /* the node it uses, "" for none */
	struct heap_caps caps;
	uint32_t fd_flags; /* HEAP_FD_* for its fds */
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
};

static inline bool heap_can_purge(const struct heap *heap)
{
	return heap->ops->purge != NULL;
}

/* Whether name is the heap's name or one of its aliases. */
bool heap_has_name(const struct heap *heap, const char *name);
/* Records name as another name of heap; false when it has too many. */
bool heap_add_alias(struct heap *heap, const char *name);

struct dl_library;

/*
 * A heap that allocates through a device it holds open (a dma-buf heap
 * node, /dev/udmabuf, a DRM node) and, for DRM, through a library loaded
 * for it. Heaps that hold more start with this.
 */
struct device_heap {
	struct heap heap;
	int fd;                     /* -1 until opened */
	struct dl_library *library; /* NULL: none */
};

/*
 * A zeroed heap of size bytes (at least a struct device_heap) of kind ops,
 * holding a reference on library (NULL: none, else already loaded). NULL
 * when out of memory.
 */
struct device_heap *device_heap_new(size_t size, const struct heap_ops *ops,
				    struct dl_library *library);
/* Closes the device, lets go of the library, frees the heap: ops->destroy for most. */
void device_heap_destroy(struct heap *heap);

/* memfd.c: a sealed memfd named name of size bytes, allocated up front when wired. */
int memfd_new(const char *name, uint64_t size, bool wired);

/* Room for a memfd's name: "iobuf:<id>:<label>". */
#define MEMFD_NAME_MAX 64
/* The name of buffer id's memfd, "iobuf:<id>", with ":<label>" when it has one. */
void memfd_name(uint64_t id, const char *label, char *name, size_t size);

#endif
