/* SPDX-License-Identifier: MIT */
#ifndef IOBUFD_ARGS_H
#define IOBUFD_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/allocator.h"
#include "core/pressure.h"
#include "heaps/heaps.h"
#include "log.h"

/* A limit given on the command line; it wins over the config file, also on reload. */
struct limit_override {
	const char *name;
	uint64_t value;
};

struct daemon_config {
	const char *socket_path;
	const char *config_path;  /* --config, or the default file */
	bool config_required;     /* --config was given: the file must exist */
	struct heap_config heaps; /* --heaps, --contiguous-heaps; NULL: the file's */
	const char *bus;          /* --bus: "system", "session" or an address; NULL: --no-dbus */
	bool bus_required;        /* --bus was given: failing to serve on it is fatal */
	struct limit_override overrides[8];
	size_t override_count;
	unsigned max_clients;     /* 0: the file's */
	char memory_pressure[PRESSURE_TRIGGER_MAX]; /* --memory-pressure, or "": the file's */
	bool verbose;
	enum log_target log_target; /* --log-target */
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
