/* SPDX-License-Identifier: MIT */
/*
 * Which heap serves what on real boards' dma-buf heap layouts. Each layout
 * is built as the kernel shows it: a heap directory of character devices
 * (made with mknod, so this runs as root) and symlinks, the CMA areas of
 * /sys/kernel/mm/cma and the devicetree's reserved-memory regions. The
 * daemon's own discovery, arrangement and matching then run on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "heaps/heaps.h"
#include "iobuf/iobuf.h"

#define CONTIGUOUS IOBUF_PHYSICALLY_CONTIGUOUS
#define PURGEABLE (IOBUF_PAGEABLE | IOBUF_PURGEABLE)

/*
 * A board's heaps. nodes: "NAME" is a device of its own, "NAME>TARGET" a
 * symlink; regions: reserved-memory nodes, all reusable (CMA), "NAME!"
 * also linux,cma-default.
 */
struct layout {
	const char *nodes[8];
	const char *cma_areas[4];
	const char *regions[4];
};

/* Raspberry Pi 5 (Raspberry Pi OS, 6.6 and 6.12): vidbuf_cached is a udev symlink. */
static const struct layout rpi5 = {
	.nodes = { "linux,cma", "system", "vidbuf_cached>linux,cma" },
	.cma_areas = { "linux,cma" },
	.regions = { "linux,cma!" },
};

/* i.MX8 with NXP's kernel: uncached twins of the CMA and system heaps. */
static const struct layout imx8 = {
	.nodes = { "linux,cma", "linux,cma-uncached", "system", "system-uncached" },
	.cma_areas = { "linux,cma" },
	.regions = { "linux,cma!" },
};

/* Qualcomm's downstream heaps next to the upstream system heap. */
static const struct layout qualcomm = {
	.nodes = { "qcom,display", "qcom,qseecom", "qcom,system", "qcom,system-uncached",
		   "system" },
};

/*
 * 6.18+ on a devicetree board: the default area under its fixed name and
 * its legacy name (another device number), and a region of its own.
 */
static const struct layout fixed_cma_name = {
	.nodes = { "camera@90000000", "default_cma_region", "linux,cma", "system" },
	.cma_areas = { "camera@90000000", "linux,cma" },
	.regions = { "camera@90000000", "linux,cma!" },
};

/* 6.17+ on x86 with cma= on the command line: no devicetree, no CMA sysfs. */
static const struct layout fixed_cma_name_x86 = {
	.nodes = { "default_cma_region", "reserved", "system" },
};

/* Before 6.17, cma= on the command line names the area "reserved". */
static const struct layout reserved_x86 = {
	.nodes = { "reserved", "system" },
};

static const struct layout x86 = {
	.nodes = { "system" },
};

struct board {
	char dir[64];
	char nodes[96];
	struct dmaheap_sources sources;
	struct heap_list heaps;
	char why[512];
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void make_file(const char *dir, const char *name, const char *leaf)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, leaf);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

/* Character devices every kernel has and root can open; the heaps never allocate here. */
static dev_t device_number(int i)
{
	static const unsigned minors[] = { 3, 5, 7, 8, 9, 11 };

	assert_true(i < (int)(sizeof(minors) / sizeof(*minors)));
	return makedev(1, minors[i]);
}

static void build(struct board *b, const struct layout *layout)
{
	char path[256], cma[96], regions[96];
	int devices = 0;

	snprintf(b->dir, sizeof(b->dir), "/tmp/test-heap-match.XXXXXX");
	assert_non_null(mkdtemp(b->dir));
	snprintf(b->nodes, sizeof(b->nodes), "%s/dma_heap", b->dir);
	snprintf(cma, sizeof(cma), "%s/cma", b->dir);
	snprintf(regions, sizeof(regions), "%s/reserved-memory", b->dir);
	assert_int_equal(mkdir(b->nodes, 0755), 0);
	assert_int_equal(mkdir(cma, 0755), 0);
	assert_int_equal(mkdir(regions, 0755), 0);
	for (int i = 0; layout->nodes[i]; i++) {
		const char *target = strchr(layout->nodes[i], '>');

		snprintf(path, sizeof(path), "%s/%.*s", b->nodes,
			 (int)strcspn(layout->nodes[i], ">"), layout->nodes[i]);
		if (target)
			assert_int_equal(symlink(target + 1, path), 0);
		else if (mknod(path, S_IFCHR | 0600, device_number(devices++)) < 0)
			fail_msg("mknod %s: %s (this test needs CAP_MKNOD)", path, strerror(errno));
	}
	for (int i = 0; layout->cma_areas[i]; i++)
		make_file(cma, layout->cma_areas[i], "alloc_pages_success");
	for (int i = 0; layout->regions[i]; i++) {
		const char *region = layout->regions[i];
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(region, "!"), region);
		make_file(regions, name, "reusable");
		if (strchr(region, '!'))
			make_file(regions, name, "linux,cma-default");
	}
	b->sources = (struct dmaheap_sources){
		.nodes = b->nodes,
		.cma_areas = strdup(cma),
		.reserved_memory = strdup(regions),
	};
}

/* The board's heaps and memfd, arranged as iobufd would with these settings. */
static struct board *board_with(const struct layout *layout, const char *select,
				const char *contiguous)
{
	struct board *b = calloc(1, sizeof(*b));
	struct heap_config config = { .select = select, .contiguous = contiguous };
	struct heap_list found = { 0 };

	assert_non_null(b);
	build(b, layout);
	assert_int_equal(heap_dmaheap_discover_from(&found, &b->sources), 0);
	assert_int_equal(heap_memfd_discover(&found), 0);
	assert_int_equal(heaps_arrange(&found, &b->heaps, &config), 0);
	assert_int_equal(found.count, 0);
	return b;
}

static struct board *board(const struct layout *layout)
{
	return board_with(layout, NULL, NULL);
}

static void board_free(struct board *b)
{
	heaps_fini(&b->heaps);
	assert_int_equal(nftw(b->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
	free((char *)b->sources.cma_areas);
	free((char *)b->sources.reserved_memory);
	free(b);
}

/* The heaps in matching order, separated by spaces. */
static const char *order(const struct board *b)
{
	static char out[512];

	out[0] = '\0';
	for (size_t i = 0; i < b->heaps.count; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "",
			 b->heaps.heaps[i]->name);
	return out;
}

/* The heap that serves a 1 MiB buffer with options, or "none". */
static const char *serves(struct board *b, uint32_t options)
{
	const struct heap *h = heaps_match(&b->heaps, NULL, options, 1 << 20, 0, b->why,
					   sizeof(b->why));

	return h ? h->name : "none";
}

/* The heap that serves options after `after` failed, or "none". */
static const char *then(struct board *b, const char *after, uint32_t options)
{
	const struct heap *failed = heaps_find(&b->heaps, after);
	const struct heap *h;

	assert_non_null(failed);
	h = heaps_match(&b->heaps, failed, options, 1 << 20, 0, b->why, sizeof(b->why));
	return h ? h->name : "none";
}

static struct heap *find(struct board *b, const char *name)
{
	struct heap *h = heaps_find(&b->heaps, name);

	if (!h)
		fail_msg("no heap %s among %s", name, order(b));
	return h;
}

static void test_rpi5_plain_requests_leave_cma_alone(void **state)
{
	struct board *b = board(&rpi5);

	assert_string_equal(order(b), "dma-heap/system memfd dma-heap/linux,cma");
	assert_string_equal(serves(b, 0), "dma-heap/system");
	assert_string_equal(serves(b, IOBUF_DIRECTION_OUT | IOBUF_CACHE_COPYBACK),
			    "dma-heap/system");
	assert_string_equal(serves(b, CONTIGUOUS), "dma-heap/linux,cma");
	assert_string_equal(serves(b, PURGEABLE), "memfd");
	assert_string_equal(serves(b, IOBUF_PAGEABLE), "memfd");
	/* Out of memory: memfd before the camera's CMA pool, CMA only when nothing else is left. */
	assert_string_equal(then(b, "dma-heap/system", 0), "memfd");
	assert_string_equal(then(b, "memfd", 0), "dma-heap/linux,cma");
	assert_string_equal(then(b, "dma-heap/linux,cma", CONTIGUOUS), "none");
	board_free(b);
}

static void test_rpi5_symlink_is_the_same_heap(void **state)
{
	struct board *b = board(&rpi5);
	struct heap *cma = find(b, "dma-heap/linux,cma");

	assert_int_equal(b->heaps.count, 3);
	assert_ptr_equal(heaps_find(&b->heaps, "dma-heap/vidbuf_cached"), cma);
	assert_int_equal(cma->alias_count, 1);
	assert_string_equal(cma->aliases[0], "dma-heap/vidbuf_cached");
	assert_true(heap_has_name(cma, "dma-heap/vidbuf_cached"));
	assert_false(heap_has_name(find(b, "dma-heap/system"), "dma-heap/vidbuf_cached"));
	assert_true(cma->caps.contiguous);
	assert_false(cma->dedicated_pool);
	board_free(b);
}

static void test_rpi5_heaps_selects_by_alias(void **state)
{
	struct board *b = board_with(&rpi5, "dma-heap/vidbuf_cached,memfd", NULL);

	assert_string_equal(order(b), "dma-heap/linux,cma memfd");
	/* The admin's order wins over what the heaps give away. */
	assert_string_equal(serves(b, 0), "dma-heap/linux,cma");
	assert_string_equal(serves(b, PURGEABLE), "memfd");
	board_free(b);
}

static void test_rpi5_heaps_with_a_comma_in_a_name(void **state)
{
	struct board *b = board_with(&rpi5, "memfd,dma-heap/linux,cma", NULL);

	assert_string_equal(order(b), "memfd dma-heap/linux,cma");
	assert_string_equal(serves(b, 0), "memfd");
	assert_string_equal(then(b, "memfd", 0), "dma-heap/linux,cma");
	board_free(b);
}

static void test_rpi5_prefix_entry_ranks_what_it_chose(void **state)
{
	struct board *b = board_with(&rpi5, "dma-heap/*,memfd", NULL);

	assert_string_equal(order(b), "dma-heap/system dma-heap/linux,cma memfd");
	assert_string_equal(serves(b, 0), "dma-heap/system");
	board_free(b);
}

static void test_imx8_uncached_twins(void **state)
{
	struct board *b = board(&imx8);
	struct heap *cma_uncached = find(b, "dma-heap/linux,cma-uncached");

	assert_string_equal(order(b), "dma-heap/system dma-heap/system-uncached memfd "
				      "dma-heap/linux,cma dma-heap/linux,cma-uncached");
	assert_string_equal(serves(b, 0), "dma-heap/system");
	assert_string_equal(serves(b, IOBUF_CACHE_INHIBIT), "dma-heap/system-uncached");
	assert_string_equal(serves(b, CONTIGUOUS), "dma-heap/linux,cma");
	assert_string_equal(serves(b, CONTIGUOUS | IOBUF_CACHE_INHIBIT),
			    "dma-heap/linux,cma-uncached");
	assert_string_equal(then(b, "dma-heap/system-uncached", IOBUF_CACHE_INHIBIT),
			    "dma-heap/linux,cma-uncached");
	assert_true(cma_uncached->caps.contiguous);
	assert_false(find(b, "dma-heap/system-uncached")->caps.contiguous);
	assert_string_equal(serves(b, IOBUF_CACHE_WRITECOMBINE), "none");
	board_free(b);
}

static void test_qualcomm_vendor_heaps_serve_last(void **state)
{
	struct board *b = board(&qualcomm);

	assert_string_equal(order(b), "dma-heap/system memfd dma-heap/qcom,display "
				      "dma-heap/qcom,qseecom dma-heap/qcom,system "
				      "dma-heap/qcom,system-uncached");
	assert_string_equal(serves(b, 0), "dma-heap/system");
	assert_string_equal(serves(b, IOBUF_CACHE_INHIBIT), "dma-heap/qcom,system-uncached");
	assert_true(find(b, "dma-heap/qcom,display")->dedicated_pool);
	assert_false(find(b, "dma-heap/system")->dedicated_pool);
	/* Nothing says which is CMA: a contiguous request fails rather than guess. */
	assert_string_equal(serves(b, CONTIGUOUS), "none");
	assert_non_null(strstr(b->why, "dma-heap/qcom,display lacks PHYSICALLY_CONTIGUOUS"));
	board_free(b);
}

static void test_qualcomm_declared_contiguous(void **state)
{
	struct board *b = board_with(&qualcomm, NULL, "qcom,display,dma-heap/qcom,qseecom");

	assert_string_equal(serves(b, CONTIGUOUS), "dma-heap/qcom,display");
	assert_string_equal(then(b, "dma-heap/qcom,display", CONTIGUOUS), "dma-heap/qcom,qseecom");
	assert_false(find(b, "dma-heap/qcom,system")->caps.contiguous);
	assert_string_equal(order(b), "dma-heap/system memfd dma-heap/qcom,system "
				      "dma-heap/qcom,system-uncached dma-heap/qcom,display "
				      "dma-heap/qcom,qseecom");
	board_free(b);
}

static void test_qualcomm_admin_prefers_a_vendor_heap(void **state)
{
	struct board *b = board_with(&qualcomm, "dma-heap/qcom,system,*", NULL);

	assert_string_equal(serves(b, 0), "dma-heap/qcom,system");
	assert_string_equal(then(b, "dma-heap/qcom,system", 0), "dma-heap/system");
	assert_int_equal(b->heaps.count, 6);
	board_free(b);
}

static void test_fixed_cma_name_folds_the_legacy_node(void **state)
{
	struct board *b = board(&fixed_cma_name);
	struct heap *def = find(b, "dma-heap/default_cma_region");

	assert_string_equal(order(b), "dma-heap/system memfd dma-heap/default_cma_region "
				      "dma-heap/camera@90000000");
	assert_ptr_equal(heaps_find(&b->heaps, "dma-heap/linux,cma"), def);
	assert_int_equal(def->alias_count, 1);
	assert_true(def->caps.contiguous);
	/* The camera's own region serves only when the default area cannot. */
	assert_true(find(b, "dma-heap/camera@90000000")->caps.contiguous);
	assert_true(find(b, "dma-heap/camera@90000000")->dedicated_pool);
	assert_string_equal(serves(b, CONTIGUOUS), "dma-heap/default_cma_region");
	assert_string_equal(then(b, "dma-heap/default_cma_region", CONTIGUOUS),
			    "dma-heap/camera@90000000");
	board_free(b);
}

static void test_fixed_cma_name_without_devicetree(void **state)
{
	struct board *b = board(&fixed_cma_name_x86);

	assert_string_equal(order(b), "dma-heap/system memfd dma-heap/default_cma_region");
	assert_true(heap_has_name(find(b, "dma-heap/default_cma_region"), "dma-heap/reserved"));
	board_free(b);
}

static void test_reserved_is_cma(void **state)
{
	struct board *b = board(&reserved_x86);

	assert_string_equal(order(b), "dma-heap/system memfd dma-heap/reserved");
	assert_string_equal(serves(b, CONTIGUOUS), "dma-heap/reserved");
	board_free(b);
}

static void test_x86_system_only(void **state)
{
	struct board *b = board(&x86);

	assert_string_equal(order(b), "dma-heap/system memfd");
	assert_string_equal(serves(b, 0), "dma-heap/system");
	assert_string_equal(serves(b, CONTIGUOUS), "none");
	assert_string_equal(b->why, "no heap can serve the request: dma-heap/system lacks "
				    "PHYSICALLY_CONTIGUOUS; memfd lacks PHYSICALLY_CONTIGUOUS");
	board_free(b);
}

static void test_system_declared_contiguous(void **state)
{
	struct board *b = board_with(&x86, NULL, "system");

	assert_string_equal(order(b), "memfd dma-heap/system");
	assert_string_equal(serves(b, 0), "memfd");
	assert_string_equal(serves(b, CONTIGUOUS), "dma-heap/system");
	board_free(b);
}

static void test_only_heap_nodes_count(void **state)
{
	static const struct layout odd = { .nodes = { "system", "dangling>gone" } };
	struct board *b;
	char path[160];
	int fd;

	b = board(&odd);
	assert_string_equal(order(b), "dma-heap/system memfd");
	snprintf(path, sizeof(path), "%s/README", b->nodes);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	heaps_fini(&b->heaps);
	assert_int_equal(heap_dmaheap_discover_from(&b->heaps, &b->sources), 0);
	assert_string_equal(order(b), "dma-heap/system");
	board_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rpi5_plain_requests_leave_cma_alone),
		cmocka_unit_test(test_rpi5_symlink_is_the_same_heap),
		cmocka_unit_test(test_rpi5_heaps_selects_by_alias),
		cmocka_unit_test(test_rpi5_heaps_with_a_comma_in_a_name),
		cmocka_unit_test(test_rpi5_prefix_entry_ranks_what_it_chose),
		cmocka_unit_test(test_imx8_uncached_twins),
		cmocka_unit_test(test_qualcomm_vendor_heaps_serve_last),
		cmocka_unit_test(test_qualcomm_declared_contiguous),
		cmocka_unit_test(test_qualcomm_admin_prefers_a_vendor_heap),
		cmocka_unit_test(test_fixed_cma_name_folds_the_legacy_node),
		cmocka_unit_test(test_fixed_cma_name_without_devicetree),
		cmocka_unit_test(test_reserved_is_cma),
		cmocka_unit_test(test_x86_system_only),
		cmocka_unit_test(test_system_declared_contiguous),
		cmocka_unit_test(test_only_heap_nodes_count),
	};

	return cmocka_run_group_tests_name("heap-match", tests, NULL, NULL);
}
