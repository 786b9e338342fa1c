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

void heap_list_add(struct heap_list *list, struct heap *heap)
{
	if (list->count == HEAPS_MAX) {
		log_warning("ignoring heap %s: more than %d heaps", heap->name, HEAPS_MAX);
		heap->destroy(heap);
		return;
	}
	list->heaps[list->count++] = heap;
}

struct heap *heaps_find(const struct heap_list *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->heaps[i]->name, name) == 0)
			return list->heaps[i];
	return NULL;
}

/* Kernel heaps first, whenever their device exists; memfd serves the rest. */
static int discover(struct heap_list *list)
{
	int (*const kinds[])(struct heap_list *) = {
		heap_dmaheap_discover,
		heap_udmabuf_discover,
		heap_dumb_discover,
		heap_gbm_discover,
		heap_memfd_discover,
	};
	int r;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		r = kinds[i](list);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool name_matches(const char *name, const char *pattern, size_t len)
{
	if (len > 0 && pattern[len - 1] == '*')
		return strncmp(name, pattern, len - 1) == 0;
	return strlen(name) == len && strncmp(name, pattern, len) == 0;
}

/* Moves the heaps spec names from found to list, in spec's order. */
static void select_heaps(struct heap_list *found, struct heap_list *list, const char *spec)
{
	for (const char *p = spec; *p;) {
		size_t len = strcspn(p, ",");
		bool any = false;

		for (size_t i = 0; i < found->count; i++) {
			if (found->heaps[i] && name_matches(found->heaps[i]->name, p, len)) {
				heap_list_add(list, found->heaps[i]);
				found->heaps[i] = NULL;
				any = true;
			}
		}
		if (!any && len)
			log_warning("heap '%.*s' was asked for but is not on this machine", (int)len, p);
		p += len + (p[len] == ',');
	}
	for (size_t i = 0; i < found->count; i++)
		if (found->heaps[i])
			found->heaps[i]->destroy(found->heaps[i]);
}

/* Whether a comma-separated list of names and NAME* prefixes names name. */
static bool listed(const char *list, const char *name)
{
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if (len && name_matches(name, p, len))
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

/* Some platforms' dma-buf heaps are contiguous under names we cannot know. */
static void mark_contiguous(struct heap_list *list, const char *names)
{
	for (size_t i = 0; i < list->count; i++) {
		struct heap *h = list->heaps[i];

		if (!listed(names, h->name) || h->caps.contiguous)
			continue;
		if (strncmp(h->name, "dma-heap/", 9) != 0) {
			log_warning("only dma-buf heaps can be marked contiguous, not %s", h->name);
			continue;
		}
		h->caps.contiguous = true;
	}
}

int heaps_init(struct heap_list *list, const struct heap_config *config)
{
	struct heap_list found = { 0 };
	const char *select = config->select;
	int r;

	*list = (struct heap_list){ 0 };
	r = discover(select ? &found : list);
	if (r < 0) {
		heaps_fini(select ? &found : list);
		return r;
	}
	if (select)
		select_heaps(&found, list, select);
	if (config->contiguous)
		mark_contiguous(list, config->contiguous);
	if (list->count == 0) {
		log_error("no heap to serve from%s%s", select ? ": --heaps selects none of " : "",
			  select ? select : "");
		return -ENODEV;
	}
	return 0;
}

void heaps_fini(struct heap_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		list->heaps[i]->destroy(list->heaps[i]);
	list->count = 0;
}

void heap_describe(const struct heap *h, char *out, size_t size)
{
	char modes[96] = "";

	for (unsigned m = 1; m < sizeof(cache_names) / sizeof(*cache_names); m++)
		if (h->caps.cache_modes & (1u << m))
			snprintf(modes + strlen(modes), sizeof(modes) - strlen(modes), "%s%s",
				 modes[0] ? "," : "", cache_names[m]);
	snprintf(out, size, "%s%s%s%s%s%s%s%s", modes, h->caps.contiguous ? " contiguous" : "",
		 h->caps.wired ? " wired" : "", h->caps.pageable ? " pageable" : "",
		 h->caps.purgeable ? " purgeable" : "", h->caps.mappable ? " mappable" : "",
		 h->caps.address_limit ? " address-limit" : "", h->gone ? " gone" : "");
}

void heaps_log(const struct heap_list *list)
{
	char caps[HEAP_DESCRIPTION_MAX];

	for (size_t i = 0; i < list->count; i++) {
		const struct heap *h = list->heaps[i];

		heap_describe(h, caps, sizeof(caps));
		log_info("heap %s%s%s: %s", h->name, h->device[0] ? " on " : "", h->device, caps);
	}
}

/* The first option the heap cannot honour, by name, or NULL when it can serve. */
static const char *first_lack(const struct heap *h, uint32_t options, uint64_t size,
			      uint64_t physical_mask)
{
	unsigned mode = (options & IOBUF_CACHE_MASK) >> IOBUF_CACHE_SHIFT;

	if (mode == 0)
		mode = IOBUF_CACHE_COPYBACK >> IOBUF_CACHE_SHIFT;
	if (h->gone)
		return "a device (it went away)";
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

struct heap *heaps_match(const struct heap_list *list, const struct heap *after,
			 uint32_t options, uint64_t size, uint64_t physical_mask, char *why,
			 size_t why_size)
{
	size_t start = 0, used;

	while (after && start < list->count && list->heaps[start++] != after)
		;
	for (size_t i = start; i < list->count; i++)
		if (!first_lack(list->heaps[i], options, size, physical_mask))
			return list->heaps[i];
	if (after)
		return NULL;

	used = (size_t)snprintf(why, why_size, "no heap can serve the request:");
	for (size_t i = 0; i < list->count && used < why_size; i++)
		used += (size_t)snprintf(why + used, why_size - used, "%s %s lacks %s",
					 i ? ";" : "", list->heaps[i]->name,
					 first_lack(list->heaps[i], options, size, physical_mask));
	return NULL;
}
