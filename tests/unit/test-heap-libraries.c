/* SPDX-License-Identifier: MIT */
/*
 * The DRM heaps reach libdrm and libgbm through dlopen(): finding the heaps
 * on a machine without a DRM card loads neither, a library or function
 * that is missing fails cleanly, and the last reference unloads what the
 * first one loaded, with the library it needs.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heaps/dl.h"
#include "heaps/drm.h"
#include "heaps/heaps.h"

#define LIBDRM "libdrm.so.2"
#define LIBGBM "libgbm.so.1"

/* How often the daemon's code asked to load libdrm or libgbm. */
static unsigned drm_library_opens;

/*
 * The daemon's dlopen() calls in this program come here first (a definition
 * in the executable comes before libc's), to be counted, and go on to libc.
 */
void *dlopen(const char *file, int mode)
{
	static void *(*libc_dlopen)(const char *, int);

	if (!libc_dlopen)
		*(void **)&libc_dlopen = dlsym(RTLD_NEXT, "dlopen");
	if (file && !(mode & RTLD_NOLOAD) && (strcmp(file, LIBDRM) == 0 || strcmp(file, LIBGBM) == 0))
		drm_library_opens++;
	return libc_dlopen(file, mode);
}

static bool loaded(const char *soname)
{
	void *handle = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);

	if (!handle)
		return false;
	dlclose(handle);
	return true;
}

/*
 * Whether soname is gone from the process, or was pinned there by another
 * user before the test (mesa's drivers, loaded through GBM where a card
 * exists, keep libdrm for good): only the daemon's own reference is then
 * the test's to check.
 */
static bool unloaded_unless_pinned(const char *soname, bool pinned)
{
	return pinned || !loaded(soname);
}

static int is_card(const struct dirent *e)
{
	return strncmp(e->d_name, "card", 4) == 0;
}

static bool has_drm_card(void)
{
	struct dirent **entries;
	int count = scandir("/dev/dri", &entries, is_card, alphasort);

	for (int i = 0; i < count; i++)
		free(entries[i]);
	if (count >= 0)
		free(entries);
	return count > 0;
}

static bool has_drm_heap(const struct heap_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		if (strncmp(list->heaps[i]->name, "dumb/", 5) == 0 ||
		    strncmp(list->heaps[i]->name, "gbm/", 4) == 0)
			return true;
	return false;
}

/*
 * Without a card neither library is even tried; with one, libdrm stays
 * loaded exactly while DRM heaps exist.
 */
static void test_discovery_loads_libdrm_only_for_a_card(void **state)
{
	struct heap_config config = { 0 };
	struct heap_list list;
	bool drm_heaps;

	drm_library_opens = 0;
	assert_false(loaded(LIBDRM));
	assert_false(loaded(LIBGBM));
	assert_int_equal(heaps_init(&list, &config), 0);
	drm_heaps = has_drm_heap(&list);
	if (!has_drm_card()) {
		assert_int_equal(drm_library_opens, 0);
		assert_false(drm_heaps);
	}
	assert_int_equal(loaded(LIBDRM), drm_heaps);
	assert_int_equal(libdrm_library.refs > 0, drm_heaps);
	heaps_fini(&list);
	assert_int_equal(libdrm_library.refs, 0);
	assert_null(libdrm_library.handle);
	/* Where DRM heaps were made, mesa's drivers keep libdrm in the process. */
	assert_true(unloaded_unless_pinned(LIBDRM, drm_heaps));
	assert_true(unloaded_unless_pinned(LIBGBM, drm_heaps));
}

struct one_function {
	void (*function)(void);
};

static void test_missing_library_fails_cleanly(void **state)
{
	static const struct dl_symbol symbols[] = { { "function", 0 } };
	struct one_function table = { 0 };
	struct dl_library lib = {
		.soname = "libiobufd-test-not-installed.so.0",
		.serves = "test heaps",
		.symbols = symbols,
		.symbol_count = 1,
		.functions = &table,
	};

	assert_int_equal(dl_library_ref(&lib), -ENOENT);
	assert_null(lib.handle);
	assert_int_equal(lib.refs, 0);
	assert_true(lib.failure_logged);
	assert_null(table.function);
	/* Asked again, it fails again without a second log line. */
	assert_int_equal(dl_library_ref(&lib), -ENOENT);
	assert_int_equal(lib.refs, 0);
}

/* A library without one of the functions is not kept loaded. */
static void test_missing_function_unloads(void **state)
{
	static const struct dl_symbol symbols[] = {
		{ "drmIoctl", 0 },
		{ "drmIobufdTestNoSuchFunction", sizeof(void (*)(void)) },
	};
	bool pinned = loaded(LIBDRM);
	void (*table[2])(void) = { 0 };
	struct dl_library lib = {
		.soname = LIBDRM,
		.serves = "test heaps",
		.symbols = symbols,
		.symbol_count = 2,
		.functions = table,
	};

	assert_int_equal(dl_library_ref(&lib), -ENOENT);
	assert_null(lib.handle);
	assert_true(lib.failure_logged);
	assert_true(unloaded_unless_pinned(LIBDRM, pinned));
}

/* A library that needs another loads it first; the last reference unloads both. */
static void test_references_load_and_unload_both(void **state)
{
	static const struct dl_symbol symbols[] = { { "gbm_create_device", 0 } };
	bool drm_pinned = loaded(LIBDRM), gbm_pinned = loaded(LIBGBM);
	struct one_function table = { 0 };
	struct dl_library gbm = {
		.soname = LIBGBM,
		.serves = "test heaps",
		.symbols = symbols,
		.symbol_count = 1,
		.functions = &table,
		.needs = &libdrm_library,
	};

	drm_library_opens = 0;
	assert_int_equal(dl_library_ref(&gbm), 0);
	assert_int_equal(drm_library_opens, 2);
	assert_true(loaded(LIBGBM));
	assert_true(loaded(LIBDRM));
	assert_int_equal(libdrm_library.refs, 1);
	assert_ptr_equal(table.function, dlsym(gbm.handle, "gbm_create_device"));
	assert_ptr_equal(libdrm.drmIoctl, dlsym(libdrm_library.handle, "drmIoctl"));
	assert_non_null(libdrm.drmCloseBufferHandle);

	assert_int_equal(dl_library_ref(&gbm), 0);
	assert_int_equal(gbm.refs, 2);
	assert_int_equal(libdrm_library.refs, 1);
	dl_library_unref(&gbm);
	assert_true(loaded(LIBGBM));
	dl_library_unref(&gbm);
	assert_int_equal(gbm.refs, 0);
	assert_int_equal(libdrm_library.refs, 0);
	assert_null(gbm.handle);
	assert_null(libdrm_library.handle);
	assert_true(unloaded_unless_pinned(LIBGBM, gbm_pinned));
	assert_true(unloaded_unless_pinned(LIBDRM, drm_pinned));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery_loads_libdrm_only_for_a_card),
		cmocka_unit_test(test_missing_library_fails_cleanly),
		cmocka_unit_test(test_missing_function_unloads),
		cmocka_unit_test(test_references_load_and_unload_both),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
