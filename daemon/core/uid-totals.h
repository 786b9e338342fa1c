/* SPDX-License-Identifier: MIT */
/*
 * What the clients of each uid hold together, kept as buffers are counted
 * and uncounted, so that a uid's limit is checked without a walk over
 * every client.
 */
#ifndef IOBUFD_UID_TOTALS_H
#define IOBUFD_UID_TOTALS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uid_total {
	uid_t uid;
	uint64_t buffers;
	uint64_t bytes;
};

/* An open-addressed table; entries stay once made (a machine has few uids). */
struct uid_totals {
	struct uid_total *slots;
	size_t capacity; /* a power of two, or 0 */
	size_t used;
};

/* Adds (or with a negative sign, takes) one buffer of size bytes to uid's. 0 or -ENOMEM. */
int uid_totals_add(struct uid_totals *t, uid_t uid, int sign, uint64_t size);
/* What uid holds; zeros for a uid never counted. */
struct uid_total uid_totals_get(const struct uid_totals *t, uid_t uid);
void uid_totals_fini(struct uid_totals *t);

#endif
