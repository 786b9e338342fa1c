/* SPDX-License-Identifier: MIT */
/*
 * The limits a new buffer must fit (see limits.h). Each returns 0, or a
 * negative errno with why naming the limit,
 * its value and the use it met: -EDQUOT for a limit on a client, uid,
 * group or heap, -ENOMEM for the total over every client and the daemon's
 * fd budget, -EAGAIN for the allocation rate.
 */
#ifndef IOBUFD_QUOTA_H
#define IOBUFD_QUOTA_H

#include <stdint.h>
#include <sys/types.h>

#include "reason.h"


struct allocator;
struct client;
struct heap;

/* size more bytes for client: per client, its uid, its groups, the total. */
int quota_check_client(const struct allocator *a, const struct client *client, uint64_t size,
		       struct reason *why);
/* size more bytes on heap. */
int quota_check_heap(const struct allocator *a, const struct heap *heap, uint64_t size,
		     struct reason *why);
/* Whether uid may have one more client (connection or bus caller): -EUSERS if not. */
int quota_check_uid_clients(const struct allocator *a, uid_t uid, struct reason *why);
/* Whether the client may allocate once more within its rate. */
int quota_check_rate(const struct allocator *a, struct client *client, struct reason *why);
/* Counts an allocation made against the client's rate. */
void quota_count_allocation(struct client *client);

#endif
