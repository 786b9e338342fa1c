/* SPDX-License-Identifier: MIT */
/* Whether a new buffer fits every limit in force, and what to say when not. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "allocator.h"
#include "clock.h"
#include "names.h"
#include "quota.h"

#define USEC_PER_SEC 1000000ull

/* Compares one group's use against its quota; -EDQUOT (or err) with why past it. */
/* What the two limits of a quota are called: "max-client-buffers", or a rule's "unit x max-bytes". */
struct quota_names {
	const char *scope; /* a rule's "SCOPE MATCH", or NULL */
	const char *buffers;
	const char *bytes;
};

static const struct quota_names client_names = { NULL, IOBUF_LIMIT_MAX_CLIENT_BUFFERS,
						 IOBUF_LIMIT_MAX_CLIENT_BYTES };
static const struct quota_names uid_names = { NULL, IOBUF_LIMIT_MAX_UID_BUFFERS,
					      IOBUF_LIMIT_MAX_UID_BYTES };
static const struct quota_names total_names = { NULL, IOBUF_LIMIT_MAX_TOTAL_BUFFERS,
						IOBUF_LIMIT_MAX_TOTAL_BYTES };

static int name_limit(struct reason *why, int err, const struct quota_names *names,
		      const char *name)
{
	if (names->scope)
		return reason_limit(why, err, "%s %s", names->scope, name);
	return reason_limit(why, err, "%s", name);
}

/* Whether one more buffer of size bytes would pass the quota. */
static bool exceeds(const struct quota *quota, uint64_t buffers, uint64_t bytes, uint64_t size)
{
	return (quota->buffers && buffers >= quota->buffers) ||
	       (quota->bytes && size > quota->bytes - (bytes < quota->bytes ? bytes : quota->bytes));
}

static int fits(const char *who, const struct quota_names *names, const struct quota *quota,
		uint64_t buffers, uint64_t bytes, uint64_t size, int err, struct reason *why)
{
	if (quota->buffers && buffers >= quota->buffers) {
		reason_set(why, err, "%s buffer limit %" PRIu64 " reached: %" PRIu64
			   " buffers in use", who, quota->buffers, buffers);
		return name_limit(why, err, names, names->buffers);
	}
	if (quota->bytes && size > quota->bytes - (bytes < quota->bytes ? bytes : quota->bytes)) {
		reason_set(why, err, "%s byte limit %" PRIu64 " exceeded: %" PRIu64
			   " bytes in use, %" PRIu64 " requested", who, quota->bytes, bytes, size);
		return name_limit(why, err, names, names->bytes);
	}
	return 0;
}

/* A rule's quota: its limits are "SCOPE MATCH max-buffers" and "... max-bytes". */
static int fits_rule(const char *who, const struct quota *quota, uint64_t buffers,
		     uint64_t bytes, uint64_t size, struct reason *why)
{
	const struct quota_names names = { who, IOBUF_RULE_MAX_BUFFERS, IOBUF_RULE_MAX_BYTES };

	return fits(who, &names, quota, buffers, bytes, size, -EDQUOT, why);
}

/* What the clients the rule covers hold together. */
static void rule_use(const struct allocator *a, const struct limit_rule *rule,
		     uint64_t *buffers, uint64_t *bytes)
{
	*buffers = *bytes = 0;
	for (const struct client *c = a->client_list; c; c = c->next) {
		if (limit_rule_matches(rule, c)) {
			*buffers += c->held.buffer_count;
			*bytes += c->held.bytes;
		}
	}
}

static int fits_uid(const struct allocator *a, const struct client *client, uint64_t size,
		    struct reason *why)
{
	const struct quota *quota = &a->limits.uid;
	struct uid_total held;
	char who[80];

	for (size_t i = 0; i < a->limits.rule_count; i++)
		if (a->limits.rules[i].kind == RULE_UID &&
		    limit_rule_matches(&a->limits.rules[i], client))
			quota = &a->limits.rules[i].quota;
	if (!quota->buffers && !quota->bytes)
		return 0;
	held = uid_totals_get(&a->uid_totals, client->task.uid);
	/* Words only for a refusal: nothing is formatted on the way of a request that fits. */
	if (!exceeds(quota, held.buffers, held.bytes, size))
		return 0;
	snprintf(who, sizeof(who), "uid %u%s", (unsigned)client->task.uid,
		 quota == &a->limits.uid && a->limits.uid_buffers_shared ?
			 " (its share of the daemon's file descriptors)" : "");
	if (quota != &a->limits.uid)
		return fits_rule(who, quota, held.buffers, held.bytes, size, why);
	return fits(who, &uid_names, quota, held.buffers, held.bytes, size, -EDQUOT, why);
}

static int fits_groups(const struct allocator *a, const struct client *client, uint64_t size,
		       struct reason *why)
{
	char who[LIMIT_MATCH_MAX + 16];
	uint64_t buffers, bytes;
	int r;

	for (size_t i = 0; i < a->limits.rule_count; i++) {
		const struct limit_rule *rule = &a->limits.rules[i];

		if (rule->kind == RULE_UID || !limit_rule_matches(rule, client))
			continue;
		rule_use(a, rule, &buffers, &bytes);
		snprintf(who, sizeof(who), "%s %s", rule_kind_name(rule->kind), rule->match);
		r = fits_rule(who, &rule->quota, buffers, bytes, size, why);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Every buffer holds an fd in the daemon: past the budget, no more (fdbudget.h). */
static int fits_fd_budget(const struct allocator *a, struct reason *why)
{
	if (a->buffers < a->limits.fd_buffers)
		return 0;
	reason_set(why, -ENOMEM, "the daemon's file descriptor budget for buffers %" PRIu64
		   " reached: %" PRIu64 " buffers held", a->limits.fd_buffers, a->buffers);
	return reason_limit(why, -ENOMEM, "file-descriptor-budget");
}

int quota_check_client(const struct allocator *a, const struct client *client, uint64_t size,
		       struct reason *why)
{
	int r;

	r = fits("per-client", &client_names, &a->limits.client, client->held.buffer_count,
		 client->held.bytes, size, -EDQUOT, why);
	if (r >= 0)
		r = fits_uid(a, client, size, why);
	if (r >= 0)
		r = fits_groups(a, client, size, why);
	if (r >= 0)
		r = fits("total", &total_names, &a->limits.total, a->buffers, a->bytes, size, -ENOMEM,
			 why);
	if (r >= 0)
		r = fits_fd_budget(a, why);
	return r;
}

int quota_check_uid_clients(const struct allocator *a, uid_t uid, struct reason *why)
{
	uint64_t clients = 0;

	if (!a->limits.uid_clients)
		return 0;
	for (const struct client *c = a->client_list; c; c = c->next)
		if (c->peer.uid == uid)
			clients++;
	if (clients < a->limits.uid_clients)
		return 0;
	return reason_set(why, -EUSERS, "uid %u client limit %" PRIu64 "%s reached: %" PRIu64
			  " clients connected", (unsigned)uid, a->limits.uid_clients,
			  a->limits.uid_clients_shared ? " (its share of max-clients)" : "", clients);
}

int quota_check_heap(const struct allocator *a, const struct heap *heap, uint64_t size,
		     struct reason *why)
{
	char who[LIMIT_MATCH_MAX + 16];

	for (size_t i = 0; i < a->limits.rule_count; i++) {
		const struct limit_rule *rule = &a->limits.rules[i];

		if (rule->kind != RULE_HEAP || !heap_has_name(heap, rule->match))
			continue;
		snprintf(who, sizeof(who), "heap %s", heap->name);
		return fits_rule(who, &rule->quota, heap->buffers, heap->bytes, size, why);
	}
	return 0;
}

int quota_check_rate(const struct allocator *a, struct client *client, struct reason *why)
{
	uint64_t rate = a->limits.client_rate, now;

	if (!rate)
		return 0;
	now = clock_usec(CLOCK_MONOTONIC);
	if (now - client->rate.window_start >= USEC_PER_SEC) {
		client->rate.window_start = now;
		client->rate.count = 0;
	}
	if (client->rate.count >= rate) {
		reason_set(why, -EAGAIN, "allocation rate limit %" PRIu64
			   " per second reached; try again later", rate);
		return reason_limit(why, -EAGAIN, IOBUF_LIMIT_MAX_CLIENT_RATE);
	}
	return 0;
}

void quota_count_allocation(struct client *client)
{
	client->rate.count++;
}
