/* SPDX-License-Identifier: MIT */
/* The heap list and the matching of a request against capabilities. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "align.h"
#include "heap.h"
#include "iobuf/iobuf.h"
#include "log.h"

static const char *const cache_names[] = {
	[1] = "CACHE_INHIBIT",
	[2] = "CACHE_WRITETHRU",
	[3] = "CACHE_COPYBACK",
	[4] = "CACHE_WRITECOMBINE",
};

int heaps_init(struct heap_list *list)
{
	*list = (struct heap_list){ 0 };
	list->heaps[0] = heap_memfd_new();
	if (!list->heaps[0])
		return -ENOMEM;
	list->count = 1;
	return 0;
}

void heaps_fini(struct heap_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		list->heaps[i]->destroy(list->heaps[i]);
	list->count = 0;
}

void heaps_log(const struct heap_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct heap *h = list->heaps[i];
		char modes[96] = "";

		for (unsigned m = 1; m < sizeof(cache_names) / sizeof(*cache_names); m++)
			if (h->caps.cache_modes & (1u << m))
				snprintf(modes + strlen(modes), sizeof(modes) - strlen(modes), "%s%s",
					 modes[0] ? "," : "", cache_names[m]);
		log_info("heap %s: %s%s%s%s%s%s%s", h->name, modes,
			 h->caps.contiguous ? " contiguous" : "", h->caps.wired ? " wired" : "",
			 h->caps.pageable ? " pageable" : "", h->caps.purgeable ? " purgeable" : "",
			 h->caps.mappable ? " mappable" : "",
			 h->caps.address_limit ? " address-limit" : "");
	}
}

/* The first option the heap cannot honour, by name, or NULL when it can serve. */
static const char *first_lack(const struct heap *h, uint32_t options, uint64_t size,
			      uint64_t physical_mask)
{
	unsigned mode = (options & IOBUF_CACHE_MASK) >> IOBUF_CACHE_SHIFT;

	if (mode == 0)
		mode = IOBUF_CACHE_COPYBACK >> IOBUF_CACHE_SHIFT;
	if ((options & IOBUF_PHYSICALLY_CONTIGUOUS) && !h->caps.contiguous)
		return "PHYSICALLY_CONTIGUOUS";
	if (!(h->caps.cache_modes & (1u << mode)))
		return cache_names[mode];
	if ((options & IOBUF_PAGEABLE) && !h->caps.pageable)
		return "PAGEABLE";
	if (!(options & IOBUF_PAGEABLE) && !h->caps.wired)
		return "wired memory (it is only PAGEABLE)";
	if ((options & IOBUF_PURGEABLE) && !h->caps.purgeable)
		return "PURGEABLE";
	if ((options & IOBUF_KERNEL_USER_SHARED) && !h->caps.mappable)
		return "KERNEL_USER_SHARED";
	if (align_mask_limits_address(physical_mask) && !h->caps.address_limit)
		return "a physical address limit";
	if (h->caps.max_size && size > h->caps.max_size)
		return "buffers this large";
	return NULL;
}

struct heap *heaps_match(const struct heap_list *list, uint32_t options, uint64_t size,
			 uint64_t physical_mask, char *why, size_t why_size)
{
	size_t used;

	for (size_t i = 0; i < list->count; i++)
		if (!first_lack(list->heaps[i], options, size, physical_mask))
			return list->heaps[i];

	used = (size_t)snprintf(why, why_size, "no heap can serve the request:");
	for (size_t i = 0; i < list->count && used < why_size; i++)
		used += (size_t)snprintf(why + used, why_size - used, "%s %s lacks %s",
					 i ? ";" : "", list->heaps[i]->name,
					 first_lack(list->heaps[i], options, size, physical_mask));
	return NULL;
}
