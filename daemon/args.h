/* SPDX-License-Identifier: MIT */
#ifndef IOBUFD_ARGS_H
#define IOBUFD_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "allocator.h"
#include "heaps/heap.h"

struct daemon_config {
	const char *socket_path;
	struct heap_config heaps; /* --heaps, --contiguous-heaps */
	const char *bus;          /* --bus: "system", "session" or an address; NULL: --no-dbus */
	bool bus_required;        /* --bus was given: failing to serve on it is fatal */
	struct limits limits;
	unsigned max_clients;
	bool verbose;
};

/*
 * Fills *config from the command line and the environment. Returns 1 to
 * run, 0 when --help or --version was answered, or a negative errno after
 * printing what is wrong.
 */
int args_parse(int argc, char **argv, struct daemon_config *config);

/* Parses "512M"-style sizes (K, M, G: powers of 1024). 0 or -EINVAL/-ERANGE. */
int args_parse_bytes(const char *text, uint64_t *bytes);

#endif
