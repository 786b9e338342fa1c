/* SPDX-License-Identifier: MIT */
/*
 * What the fd store holds, by key (a buffer id, a client id): the name each
 * fd was stored under, which is also the name it is taken back by.
 */
#ifndef IOBUFD_RECORD_H
#define IOBUFD_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct record_entry;

struct record {
	struct record_entry **slots;
	size_t slot_count; /* a power of two, or 0 before the first entry */
	size_t count;
};

/* The name stored for key, or NULL. */
const char *record_get(const struct record *r, uint64_t key);
/* Records (or replaces) key's name; -ENOMEM leaves the record as it was. */
int record_set(struct record *r, uint64_t key, const char *name);
void record_drop(struct record *r, uint64_t key);
void record_fini(struct record *r);

#endif
