/* SPDX-License-Identifier: MIT */
/* The heap list and the matching of a request against capabilities. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "align.h"
#include "config.h"
#include "heaps.h"
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
		heap->ops->destroy(heap);
		return;
	}
	list->heaps[list->count++] = heap;
}

struct heap *heaps_find(const struct heap_list *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (heap_has_name(list->heaps[i], name))
			return list->heaps[i];
	return NULL;
}

/* Kernel heaps first, whenever their device exists; memfd serves the rest. */
static int discover(struct heap_list *list)
{
	int (*const kinds[])(struct heap_list *) = {
		heap_dmaheap_discover,
		heap_udmabuf_discover,
#if HAVE_DRM
		heap_dumb_discover,
#endif
#if HAVE_GBM
		heap_gbm_discover,
#endif
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

/*
 * Whether pattern (len bytes) names the heap by its name or an alias, or,
 * when bare, by a dma-buf heap's node name alone ("linux,cma").
 */
static bool names_heap(const struct heap *h, const char *pattern, size_t len, bool bare)
{
	if (name_matches(h->name, pattern, len))
		return true;
	for (unsigned i = 0; i < h->alias_count; i++)
		if (name_matches(h->aliases[i], pattern, len))
			return true;
	if (!bare || strncmp(h->name, "dma-heap/", 9) != 0)
		return false;
	if (name_matches(h->name + 9, pattern, len))
		return true;
	for (unsigned i = 0; i < h->alias_count; i++)
		if (name_matches(h->aliases[i] + 9, pattern, len))
			return true;
	return false;
}

/*
 * The length of the list entry at p. Heap names may hold commas
 * ("linux,cma"), so an entry runs to the farthest comma (or the end) that
 * still names one of the heaps; an entry that names none runs to the
 * first comma.
 */
static size_t entry_length(const char *p, struct heap *const *heaps, size_t count, bool bare)
{
	size_t len = 0;

	for (size_t end = strcspn(p, ",");; end += 1 + strcspn(p + end + 1, ",")) {
		for (size_t i = 0; i < count; i++)
			if (heaps[i] && names_heap(heaps[i], p, end, bare))
				len = end;
		if (!p[end])
			break;
	}
	return len ? len : strcspn(p, ",");
}

/* Moves the heaps spec names from found to list, each with its entry's preference. */
static void select_heaps(struct heap_list *found, struct heap_list *list, const char *spec)
{
	struct heap *all[HEAPS_MAX];
	unsigned entry = 0;

	memcpy(all, found->heaps, found->count * sizeof(*all));
	for (const char *p = spec; *p;) {
		size_t len = entry_length(p, all, found->count, false);
		bool any = false;

		entry++;
		for (size_t i = 0; i < found->count; i++) {
			if (names_heap(all[i], p, len, false)) {
				any = true;
				if (!found->heaps[i])
					continue; /* an earlier entry chose it */
				found->heaps[i]->preference = entry;
				heap_list_add(list, found->heaps[i]);
				found->heaps[i] = NULL;
			}
		}
		if (!any && len)
			log_warning("heap '%.*s' was asked for but is not on this machine", (int)len, p);
		p += len + (p[len] == ',');
	}
	for (size_t i = 0; i < found->count; i++)
		if (found->heaps[i])
			found->heaps[i]->ops->destroy(found->heaps[i]);
	found->count = 0;
}

/* Some platforms' dma-buf heaps are contiguous under names we cannot know. */
static void mark_contiguous(struct heap_list *list, const char *names)
{
	for (const char *p = names; *p;) {
		size_t len = entry_length(p, list->heaps, list->count, true);

		for (size_t i = 0; len && i < list->count; i++) {
			struct heap *h = list->heaps[i];

			if (!names_heap(h, p, len, true) || h->caps.contiguous)
				continue;
			if (strncmp(h->name, "dma-heap/", 9) != 0) {
				log_warning("only dma-buf heaps can be marked contiguous, not %s",
					    h->name);
				continue;
			}
			h->caps.contiguous = true;
			h->dedicated_pool = false; /* the admin says what it is */
		}
		p += len + (p[len] == ',');
	}
}

/*
 * What serving from a heap gives away; the heap with the least serves
 * first. The order and its reasons are iobufd(8)'s table; keep them alike.
 */
static unsigned cost(const struct heap *h)
{
	unsigned extras = (unsigned)__builtin_popcount(h->caps.cache_modes) + h->caps.wired +
			  h->caps.pageable + heap_can_purge(h) + h->caps.address_limit;

	return (unsigned)h->caps.contiguous << 8 | (unsigned)h->dedicated_pool << 7 |
	       (unsigned)!(h->fd_flags & HEAP_FD_DMABUF) << 6 |
	       (unsigned)!h->caps.mappable << 5 | (extras < 31 ? extras : 31);
}

static bool serves_before(const struct heap *a, const struct heap *b)
{
	if (a->preference != b->preference)
		return a->preference < b->preference;
	return cost(a) < cost(b);
}

/* A stable insertion sort: heaps that tie keep the order they were found in. */
static void sort_heaps(struct heap_list *list)
{
	for (size_t i = 1; i < list->count; i++) {
		struct heap *h = list->heaps[i];
		size_t j = i;

		for (; j > 0 && serves_before(h, list->heaps[j - 1]); j--)
			list->heaps[j] = list->heaps[j - 1];
		list->heaps[j] = h;
	}
}

int heaps_arrange(struct heap_list *found, struct heap_list *list,
		  const struct heap_config *config)
{
	*list = (struct heap_list){ 0 };
	if (config->select) {
		select_heaps(found, list, config->select);
	} else {
		*list = *found;
		*found = (struct heap_list){ 0 };
	}
	if (config->contiguous)
		mark_contiguous(list, config->contiguous);
	sort_heaps(list);
	if (list->count == 0) {
		log_error("no heap to serve from%s%s",
			  config->select ? ": --heaps selects none of " : "",
			  config->select ? config->select : "");
		return -ENODEV;
	}
	return 0;
}

int heaps_init(struct heap_list *list, const struct heap_config *config)
{
	struct heap_list found = { 0 };
	int r;

	*list = (struct heap_list){ 0 };
	r = discover(&found);
	if (r < 0) {
		heaps_fini(&found);
		return r;
	}
	return heaps_arrange(&found, list, config);
}

void heaps_fini(struct heap_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		list->heaps[i]->ops->destroy(list->heaps[i]);
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
		 heap_can_purge(h) ? " purgeable" : "", h->caps.mappable ? " mappable" : "",
		 h->caps.address_limit ? " address-limit" : "", h->gone ? " gone" : "");
}

void heaps_log(const struct heap_list *list)
{
	char caps[HEAP_DESCRIPTION_MAX];

	for (size_t i = 0; i < list->count; i++) {
		const struct heap *h = list->heaps[i];

		heap_describe(h, caps, sizeof(caps));
		log_info("heap %s%s%s: %s%s", h->name, h->device[0] ? " on " : "", h->device, caps,
			 h->dedicated_pool ? " (a pool that may be set aside for a device: it "
					     "serves only what other heaps cannot)" : "");
	}
}

const char *heap_lack(const struct heap *h, uint32_t options, uint64_t size,
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
	if ((options & IOBUF_PURGEABLE) && !heap_can_purge(h))
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
		if (!heap_lack(list->heaps[i], options, size, physical_mask))
			return list->heaps[i];
	if (after)
		return NULL;

	used = (size_t)snprintf(why, why_size, "no heap can serve the request:");
	for (size_t i = 0; i < list->count && used < why_size; i++)
		used += (size_t)snprintf(why + used, why_size - used, "%s %s lacks %s",
					 i ? ";" : "", list->heaps[i]->name,
					 heap_lack(list->heaps[i], options, size, physical_mask));
	return NULL;
}
