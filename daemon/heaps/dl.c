/* SPDX-License-Identifier: MIT */
/* Libraries the heaps load only when a device needs them. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include "dl.h"
#include "log.h"

static void log_failure(struct dl_library *lib, const char *why)
{
	if (lib->failure_logged)
		return;
	lib->failure_logged = true;
	log_warning("no %s: %s cannot be loaded: %s", lib->serves, lib->soname, why);
}

/* Fills the table; false, having said which function is missing, when one is. */
static bool resolve(struct dl_library *lib)
{
	char why[128];

	for (size_t i = 0; i < lib->symbol_count; i++) {
		void *function = dlsym(lib->handle, lib->symbols[i].name);

		if (!function) {
			snprintf(why, sizeof(why), "it lacks %s (too old a version)", lib->symbols[i].name);
			log_failure(lib, why);
			return false;
		}
		*(void **)((char *)lib->functions + lib->symbols[i].offset) = function;
	}
	return true;
}

int dl_library_ref(struct dl_library *lib)
{
	const char *why;

	if (lib->refs > 0) {
		lib->refs++;
		return 0;
	}
	if (lib->needs && dl_library_ref(lib->needs) < 0) {
		log_failure(lib, "it needs the library named above");
		return -ENOENT;
	}
	lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) {
		why = dlerror();
		log_failure(lib, why ? why : "not found");
	} else if (!resolve(lib)) {
		dlclose(lib->handle);
		lib->handle = NULL;
	}
	if (!lib->handle) {
		dl_library_unref(lib->needs);
		return -ENOENT;
	}
	lib->refs = 1;
	return 0;
}

void dl_library_unref(struct dl_library *lib)
{
	if (!lib || lib->refs == 0 || --lib->refs > 0)
		return;
	dlclose(lib->handle);
	lib->handle = NULL;
	dl_library_unref(lib->needs);
}
