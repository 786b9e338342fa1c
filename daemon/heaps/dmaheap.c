/* SPDX-License-Identifier: MIT */
/* dma-buf heaps: every node under /dev/dma_heap, one heap each. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "heap.h"
#include "iobuf/iobuf.h"
#include "log.h"

#define DMA_HEAP_DIR "/dev/dma_heap"
#define NODE_NAME_MAX 40 /* so "dma-heap/<node>" fits a heap name */

struct dmaheap {
	struct heap heap;
	int fd;
};

#define MODE(m) (1u << ((m) >> IOBUF_CACHE_SHIFT))

/* What the kernel's heap of that name gives, by its name. */
static struct heap_caps caps_of(const char *node)
{
	struct heap_caps caps = {
		.cache_modes = MODE(IOBUF_CACHE_COPYBACK),
		.wired = true,
		.mappable = true,
	};

	if (strcmp(node, "system-uncached") == 0)
		caps.cache_modes = MODE(IOBUF_CACHE_INHIBIT);
	else if (strcmp(node, "linux,cma") == 0 || strcmp(node, "reserved") == 0 ||
		 strstr(node, "cma"))
		caps.contiguous = true;
	return caps;
}

static int dmaheap_allocate(struct heap *heap, const struct heap_request *req, uint64_t *size)
{
	struct dmaheap *h = (struct dmaheap *)heap;
	struct dma_heap_allocation_data data = {
		.len = req->size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};

	if (ioctl(h->fd, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	dmabuf_set_name((int)data.fd, req);
	return (int)data.fd;
}

static void dmaheap_destroy(struct heap *heap)
{
	struct dmaheap *h = (struct dmaheap *)heap;

	close(h->fd);
	free(h);
}

static void add(struct heap_list *list, const char *node)
{
	struct dmaheap *h;

	if (strlen(node) > NODE_NAME_MAX) {
		log_warning("skipping heap %s/%s: name longer than %d", DMA_HEAP_DIR, node,
			    NODE_NAME_MAX);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return;
	snprintf(h->heap.device, sizeof(h->heap.device), DMA_HEAP_DIR "/%.40s", node);
	h->fd = open(h->heap.device, O_RDONLY | O_CLOEXEC);
	if (h->fd < 0) {
		log_warning("skipping heap %s: %m", h->heap.device);
		free(h);
		return;
	}
	snprintf(h->heap.name, sizeof(h->heap.name), "dma-heap/%.40s", node);
	h->heap.caps = caps_of(node);
	h->heap.fd_flags = WIRE_BUFFER_DMABUF | WIRE_BUFFER_MAPPABLE;
	h->heap.allocate = dmaheap_allocate;
	h->heap.destroy = dmaheap_destroy;
	heap_list_add(list, &h->heap);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int heap_dmaheap_discover(struct heap_list *list)
{
	struct dirent **nodes;
	int n = scandir(DMA_HEAP_DIR, &nodes, NULL, by_name);

	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (nodes[i]->d_name[0] != '.')
			add(list, nodes[i]->d_name);
		free(nodes[i]);
	}
	free(nodes);
	return 0;
}
