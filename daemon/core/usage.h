/* SPDX-License-Identifier: MIT */
/*
 * What the clients of every transport hold, totalled per uid, systemd unit,
 * cgroup or heap. A client charged to another task counts under that task's
 * uid, unit and cgroup, which are what it holds.
 */
#ifndef IOBUFD_USAGE_H
#define IOBUFD_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "allocator.h"

enum usage_by {
	USAGE_BY_UID,
	USAGE_BY_UNIT,
	USAGE_BY_CGROUP,
	USAGE_BY_HEAP,
};

/* What usage_by_parse() accepts, for messages: "uid, unit, cgroup or heap". */
extern const char usage_by_names[];

/* "uid", "unit", "cgroup" or "heap"; -EINVAL for anything else. */
int usage_by_parse(const char *name, enum usage_by *by);

struct usage_entry {
	/* The uid in decimal, the unit, the cgroup path or the heap name; "" for no unit or cgroup. */
	char *key;
	uint32_t clients; /* charged under the key; for a heap, those holding buffers on it */
	uint64_t buffers;
	uint64_t bytes;
};

struct usage {
	struct usage_entry *entries; /* by bytes, most first, then by key */
	size_t count;
};

/*
 * One entry per key among the live clients; by heap, one per heap the
 * daemon serves from, idle ones included. 0 or -ENOMEM; either way
 * usage_fini() frees what it holds.
 */
int usage_collect(const struct allocator *a, enum usage_by by, struct usage *usage);
void usage_fini(struct usage *usage);

#endif
