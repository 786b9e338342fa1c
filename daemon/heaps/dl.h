/* SPDX-License-Identifier: MIT */
/*
 * A shared library loaded with dlopen() while something uses it: the DRM
 * heaps reach libdrm and libgbm this way, so that the daemon loads neither
 * on a machine without a DRM device.
 */
#ifndef IOBUFD_DL_H
#define IOBUFD_DL_H

#include <stdbool.h>
#include <stddef.h>

/* A function the library must have, and where in the table it goes. */
struct dl_symbol {
	const char *name;
	size_t offset;
};

#define DL_SYMBOL(table, function) { #function, offsetof(table, function) }

struct dl_library {
	const char *soname;              /* "libgbm.so.1" */
	const char *serves;              /* what it is loaded for, for the log: "GBM heaps" */
	const struct dl_symbol *symbols;
	size_t symbol_count;
	void *functions;                 /* the table symbols fill */
	struct dl_library *needs;        /* a library it needs loaded first, or NULL */
	void *handle;                    /* NULL: not loaded */
	unsigned refs;
	bool failure_logged;             /* said once why it cannot be loaded */
};

/*
 * Loads the library (and the one it needs) at the first reference and
 * fills its table. 0, or -ENOENT having logged once why it cannot.
 */
int dl_library_ref(struct dl_library *lib);
/* Drops a reference; the last one unloads the library. NULL is ignored. */
void dl_library_unref(struct dl_library *lib);

#endif
