/* SPDX-License-Identifier: MIT */
/* dma-buf heaps: the nodes under /dev/dma_heap, one heap per kernel pool. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/dma-heap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmabuf.h"
#include "heaps.h"
#include "iobuf/iobuf.h"
#include "log.h"

#define NODE_NAME_MAX 40 /* so "dma-heap/<node>" fits a heap name */

const struct dmaheap_sources dmaheap_sources_default = {
	.nodes = "/dev/dma_heap",
	.cma_areas = "/sys/kernel/mm/cma",
	.reserved_memory = "/sys/firmware/devicetree/base/reserved-memory",
};

/* A node of the heap directory, and the heap it is another name of. */
struct node {
	char name[NODE_NAME_MAX + 1];
	dev_t rdev;
	bool link;
	int same_as;       /* the node this one folds into; -1: its own heap */
	bool legacy_name;  /* folded because 6.17+ names the default CMA area twice */
};

#define UNSEEN (-2)
#define DEFAULT_CMA_HEAP "default_cma_region"

/*
 * The names upstream gives CMA heaps: 6.17+'s fixed name for the default
 * area, and the names that area had before (Linux's
 * Documentation/userspace-api/dma-buf-heaps.rst), which 6.17+ keeps as a
 * second node of the same heap.
 */
static const char *const cma_heap_names[] = {
	DEFAULT_CMA_HEAP, "reserved", "linux,cma", "default-pool",
};

#define MODE(m) (1u << ((m) >> IOBUF_CACHE_SHIFT))

static bool path_exists(const char *dir, const char *name, const char *leaf)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s/%s", dir, name, leaf) >= (int)sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

/*
 * Whether a CMA area backs the heap called node. The CMA heap names each of
 * its heaps after its area (6.17+: after the devicetree region), and the
 * kernel lists the areas in sysfs (CONFIG_CMA_SYSFS); a reusable
 * reserved-memory region in the devicetree is a CMA area.
 */
static bool is_cma_area(const char *node, const struct dmaheap_sources *sources)
{
	return path_exists(sources->cma_areas, node, ".") ||
	       path_exists(sources->reserved_memory, node, "reusable");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* What the kernel says of a heap's pool. */
struct pool {
	bool cma;      /* physically contiguous */
	bool uncached; /* "NAME-uncached": the uncached mapping of NAME's pool */
	bool shared;   /* the system heap or the default CMA area, not one set aside */
};

/* Adds what the name node says to *pool; a name folded into a heap adds too. */
static void learn_pool(const char *node, const struct dmaheap_sources *sources, struct pool *pool)
{
	char base[NODE_NAME_MAX + 1];

	snprintf(base, sizeof(base), "%s", node);
	if (ends_with(base, "-uncached")) { /* system-uncached, NXP's linux,cma-uncached */
		pool->uncached = true;
		base[strlen(base) - strlen("-uncached")] = '\0';
	}
	for (size_t i = 0; i < sizeof(cma_heap_names) / sizeof(*cma_heap_names); i++)
		if (strcmp(base, cma_heap_names[i]) == 0)
			pool->cma = pool->shared = true;
	if (is_cma_area(base, sources)) {
		pool->cma = true;
		pool->shared |= path_exists(sources->reserved_memory, base, "linux,cma-default");
	}
	pool->shared |= strcmp(base, "system") == 0;
}

static struct heap_caps caps_of(const struct pool *pool)
{
	return (struct heap_caps){
		.contiguous = pool->cma,
		.cache_modes = pool->uncached ? MODE(IOBUF_CACHE_INHIBIT) : MODE(IOBUF_CACHE_COPYBACK),
		.wired = true,
		.mappable = true,
	};
}

static int dmaheap_allocate(struct heap *heap, const struct heap_request *req, uint64_t *size)
{
	struct device_heap *h = (struct device_heap *)heap;
	struct dma_heap_allocation_data data = {
		.len = req->size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};

	if (ioctl(h->fd, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	dmabuf_set_name((int)data.fd, req);
	return (int)data.fd;
}

static const struct heap_ops dmaheap_ops = {
	.allocate = dmaheap_allocate,
	.destroy = device_heap_destroy,
};

/* Adds the heap of node i with the nodes folded into it as aliases. */
static void add(struct heap_list *list, const char *dir, const struct node *nodes, int count,
		int i, const struct dmaheap_sources *sources)
{
	struct pool pool = { 0 };
	struct device_heap *h = device_heap_new(sizeof(*h), &dmaheap_ops, NULL);
	char path[PATH_MAX];

	if (!h)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, nodes[i].name);
	h->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (h->fd < 0) {
		log_warning("skipping heap %s: %m", path);
		device_heap_destroy(&h->heap);
		return;
	}
	snprintf(h->heap.device, sizeof(h->heap.device), "%.63s", path);
	snprintf(h->heap.name, sizeof(h->heap.name), "dma-heap/%.40s", nodes[i].name);
	for (int k = 0; k < count; k++) {
		char alias[HEAP_NAME_MAX + 1];

		if (nodes[k].same_as != i)
			continue;
		snprintf(alias, sizeof(alias), "dma-heap/%.40s", nodes[k].name);
		if (!heap_add_alias(&h->heap, alias))
			log_warning("heap %s: too many other names, %s is not one", h->heap.name, alias);
		else if (nodes[k].legacy_name)
			log_info("heap %s: %s is the legacy name the kernel also gives this CMA "
				 "area, folded into it", h->heap.name, alias);
		else
			log_info("heap %s: %s is the same device (%u:%u), folded into it",
				 h->heap.name, alias, major(nodes[k].rdev), minor(nodes[k].rdev));
		learn_pool(nodes[k].name, sources, &pool);
	}
	pool.uncached = false; /* only the heap's own name says how it maps */
	learn_pool(nodes[i].name, sources, &pool);
	h->heap.caps = caps_of(&pool);
	h->heap.dedicated_pool = !pool.shared;
	h->heap.fd_flags = HEAP_FD_DMABUF | HEAP_FD_MAPPABLE;
	heap_list_add(list, &h->heap);
}

/* Reads the node called name in dir; false (having said why) when it is no heap node. */
static bool read_node(const char *dir, const char *name, struct node *node)
{
	char path[PATH_MAX];
	struct stat st;

	if (strlen(name) > NODE_NAME_MAX) {
		log_warning("skipping heap %s/%s: name longer than %d", dir, name, NODE_NAME_MAX);
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (lstat(path, &st) < 0) {
		log_warning("skipping heap %s: %m", path);
		return false;
	}
	*node = (struct node){ .link = S_ISLNK(st.st_mode), .same_as = UNSEEN };
	errno = 0;
	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode)) {
		log_warning("skipping heap %s: %s", path,
			    errno ? strerror(errno) : "not a character device");
		return false;
	}
	snprintf(node->name, sizeof(node->name), "%s", name);
	node->rdev = st.st_rdev;
	return true;
}

static int find_node(const struct node *nodes, int count, const char *name)
{
	for (int i = 0; i < count; i++)
		if (strcmp(nodes[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * One device seen under several names (a symlink such as Raspberry Pi's
 * vidbuf_cached) is one heap: the node that is no symlink keeps it.
 */
static void fold_same_devices(struct node *nodes, int count)
{
	for (int i = 0; i < count; i++) {
		int keeper = i;

		if (nodes[i].same_as != UNSEEN)
			continue;
		for (int j = i + 1; j < count; j++)
			if (nodes[j].rdev == nodes[i].rdev && nodes[keeper].link && !nodes[j].link)
				keeper = j;
		for (int j = i; j < count; j++)
			if (nodes[j].rdev == nodes[i].rdev)
				nodes[j].same_as = j == keeper ? -1 : keeper;
	}
}

/* The devicetree region that is the default CMA area (linux,cma-default), into name. */
static bool default_cma_region_name(const char *reserved_memory, char *name, size_t size)
{
	DIR *dir = opendir(reserved_memory);
	struct dirent *e;
	bool found = false;

	if (!dir)
		return false;
	while (!found && (e = readdir(dir)))
		if (e->d_name[0] != '.' && path_exists(reserved_memory, e->d_name, "linux,cma-default"))
			found = snprintf(name, size, "%s", e->d_name) < (int)size;
	closedir(dir);
	return found;
}

/*
 * Linux 6.17+ names the default CMA area default_cma_region and, for old
 * programs, makes a second node with its own device number under the
 * area's old name: the devicetree region marked linux,cma-default, or else
 * "reserved" (an area from the command line or the kernel's config), or
 * one of the names devicetrees give it. That node is the same heap.
 */
static void fold_legacy_cma_name(struct node *nodes, int count,
				 const struct dmaheap_sources *sources)
{
	static const char *const guesses[] = { "reserved", "linux,cma", "default-pool" };
	char region[NAME_MAX + 1];
	int keeper = find_node(nodes, count, DEFAULT_CMA_HEAP), legacy = -1;

	if (keeper < 0 || nodes[keeper].same_as >= 0)
		return;
	if (default_cma_region_name(sources->reserved_memory, region, sizeof(region)))
		legacy = find_node(nodes, count, region);
	for (size_t i = 0; legacy < 0 && i < sizeof(guesses) / sizeof(*guesses); i++)
		legacy = find_node(nodes, count, guesses[i]);
	if (legacy < 0 || legacy == keeper || nodes[legacy].same_as >= 0)
		return;
	for (int i = 0; i < count; i++)
		if (nodes[i].same_as == legacy)
			nodes[i].same_as = keeper;
	nodes[legacy].same_as = keeper;
	nodes[legacy].legacy_name = true;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int heap_dmaheap_discover_from(struct heap_list *list, const struct dmaheap_sources *sources)
{
	struct dirent **entries;
	struct node *nodes;
	int n = scandir(sources->nodes, &entries, NULL, by_name), count = 0;

	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	nodes = calloc((size_t)n + 1, sizeof(*nodes));
	for (int i = 0; i < n; i++) {
		if (nodes && entries[i]->d_name[0] != '.' &&
		    read_node(sources->nodes, entries[i]->d_name, &nodes[count]))
			count++;
		free(entries[i]);
	}
	free(entries);
	if (!nodes)
		return -ENOMEM;
	fold_same_devices(nodes, count);
	fold_legacy_cma_name(nodes, count, sources);
	for (int i = 0; i < count; i++)
		if (nodes[i].same_as == -1)
			add(list, sources->nodes, nodes, count, i, sources);
	free(nodes);
	return 0;
}

int heap_dmaheap_discover(struct heap_list *list)
{
	return heap_dmaheap_discover_from(list, &dmaheap_sources_default);
}
