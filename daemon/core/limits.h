/* SPDX-License-Identifier: MIT */
/*
 * The limits in force, each with a name: the ones every request meets
 * (largest buffer, per client, per uid, over all clients, allocation rate)
 * and rules for groups of clients ("uid 1000", "unit *.service",
 * "cgroup /user.slice/..." globs) or a heap ("heap dma-heap/system"), each limiting
 * buffers and bytes. The config file, the command line, SetLimit and the
 * Limits property all speak these names:
 *
 *   max-buffer-size, max-client-buffers, max-client-bytes,
 *   max-uid-buffers, max-uid-bytes, max-uid-clients,
 *   max-total-buffers, max-total-bytes,
 *   max-client-allocations-per-second, max-volatile-bytes,
 *   "<kind> <match> max-buffers", "<kind> <match> max-bytes"
 *
 * 0 means no limit, except for the first three, which always hold.
 * max-uid-buffers and max-uid-clients default to a uid's share of the
 * daemon's file descriptors (fdbudget.h), and the buffer budget always holds.
 */
#ifndef IOBUFD_LIMITS_H
#define IOBUFD_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"
#include "reason.h"

#define LIMIT_RULES_MAX 64
#define LIMIT_MATCH_MAX 128
#define LIMIT_NAME_MAX (LIMIT_MATCH_MAX + 32)
/* A default that fd_budget_apply() turns into a share of the fds. */
#define LIMIT_FROM_FD_BUDGET UINT64_MAX

enum rule_kind { RULE_UID, RULE_UNIT, RULE_CGROUP, RULE_HEAP };

/* Buffers and bytes a group may hold; 0: no limit. */
struct quota {
	uint64_t buffers;
	uint64_t bytes;
};

struct limit_rule {
	enum rule_kind kind;
	char match[LIMIT_MATCH_MAX]; /* a uid, a glob(7) pattern, or a heap name */
	uid_t uid;                   /* RULE_UID: match, parsed */
	struct quota quota;
};

struct limits {
	uint64_t max_buffer_size;
	struct quota client; /* per connection or bus caller */
	struct quota uid;    /* per uid, over its clients, where no "uid N" rule says */
	uint64_t uid_clients; /* connections and bus callers per uid */
	struct quota total;  /* over every client: ENOMEM past it */
	uint64_t client_rate; /* allocations per second per client */
	uint64_t volatile_bytes; /* past it, the oldest volatile buffers are purged */
	uint64_t fd_buffers;  /* the buffer budget of fdbudget.h: not a setting */
	bool uid_buffers_shared; /* max-uid-buffers and max-uid-clients are the fd shares */
	bool uid_clients_shared;
	struct limit_rule rules[LIMIT_RULES_MAX];
	size_t rule_count;
};

/*
 * The defaults: 512M buffers, 4096 buffers and 2G per client, max-uid-buffers
 * and max-uid-clients from the fd budget, no others.
 */
void limits_default(struct limits *l);

/*
 * Sets the limit called name. 0, or -EINVAL with why naming what is
 * wrong; l is then unchanged.
 */
int limits_set(struct limits *l, const char *name, uint64_t value, struct reason *why);

/* Calls fn with every limit's name and value, the rules last. */
void limits_foreach(const struct limits *l, void (*fn)(const char *name, uint64_t value,
						       void *data), void *data);

/* Whether the rule covers the client (heap rules cover none). */
bool limit_rule_matches(const struct limit_rule *rule, const struct client *client);

/* "uid", "unit", "cgroup", "heap"; and back, -EINVAL for none of them. */
const char *rule_kind_name(enum rule_kind kind);
int rule_kind_from_name(const char *name, enum rule_kind *kind);

#endif
