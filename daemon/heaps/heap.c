/* SPDX-License-Identifier: MIT */
/* What every heap shares: its names, and the base of heaps that hold a device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dl.h"
#include "heap.h"

bool heap_has_name(const struct heap *heap, const char *name)
{
	if (strcmp(heap->name, name) == 0)
		return true;
	for (unsigned i = 0; i < heap->alias_count; i++)
		if (strcmp(heap->aliases[i], name) == 0)
			return true;
	return false;
}

bool heap_add_alias(struct heap *heap, const char *name)
{
	if (heap->alias_count == HEAP_ALIASES_MAX)
		return false;
	snprintf(heap->aliases[heap->alias_count++], sizeof(heap->aliases[0]), "%s", name);
	return true;
}

struct device_heap *device_heap_new(size_t size, const struct heap_ops *ops,
				    struct dl_library *library)
{
	struct device_heap *h = calloc(1, size);

	if (!h)
		return NULL;
	if (library && dl_library_ref(library) < 0) {
		free(h);
		return NULL;
	}
	h->heap.ops = ops;
	h->fd = -1;
	h->library = library;
	return h;
}

void device_heap_destroy(struct heap *heap)
{
	struct device_heap *h = (struct device_heap *)heap;

	if (h->fd >= 0)
		close(h->fd);
	dl_library_unref(h->library);
	free(h);
}
