/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "names.h"

/* A limit every request meets, where it lives in struct limits. */
struct scalar_limit {
	const char *name;
	size_t offset;
	bool may_be_zero; /* 0 turns it off */
};

#define SCALAR(name, field, zero) { name, offsetof(struct limits, field), zero }
static const struct scalar_limit scalars[] = {
	SCALAR(IOBUF_LIMIT_MAX_BUFFER_SIZE, max_buffer_size, false),
	SCALAR(IOBUF_LIMIT_MAX_CLIENT_BUFFERS, client.buffers, false),
	SCALAR(IOBUF_LIMIT_MAX_CLIENT_BYTES, client.bytes, false),
	SCALAR(IOBUF_LIMIT_MAX_UID_BUFFERS, uid.buffers, true),
	SCALAR(IOBUF_LIMIT_MAX_UID_BYTES, uid.bytes, true),
	SCALAR(IOBUF_LIMIT_MAX_UID_CLIENTS, uid_clients, true),
	SCALAR(IOBUF_LIMIT_MAX_TOTAL_BUFFERS, total.buffers, true),
	SCALAR(IOBUF_LIMIT_MAX_TOTAL_BYTES, total.bytes, true),
	SCALAR(IOBUF_LIMIT_MAX_CLIENT_RATE, client_rate, true),
	SCALAR(IOBUF_LIMIT_MAX_VOLATILE_BYTES, volatile_bytes, true),
};
#define SCALAR_COUNT (sizeof(scalars) / sizeof(scalars[0]))

static const char *const kind_names[] = {
	[RULE_UID] = IOBUF_SCOPE_UID,
	[RULE_UNIT] = IOBUF_SCOPE_UNIT,
	[RULE_CGROUP] = IOBUF_SCOPE_CGROUP,
	[RULE_HEAP] = IOBUF_SCOPE_HEAP,
};

void limits_default(struct limits *l)
{
	*l = (struct limits){
		.max_buffer_size = 512ull << 20,
		.client = { .buffers = 4096, .bytes = 2ull << 30 },
		.uid = { .buffers = LIMIT_FROM_FD_BUDGET },
		.uid_clients = LIMIT_FROM_FD_BUDGET,
		.fd_buffers = UINT64_MAX,
	};
}

const char *rule_kind_name(enum rule_kind kind)
{
	return kind_names[kind];
}

int rule_kind_from_name(const char *name, enum rule_kind *kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind = (enum rule_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

static uint64_t *scalar_field(struct limits *l, const struct scalar_limit *s)
{
	return (uint64_t *)((char *)l + s->offset);
}

static int set_scalar(struct limits *l, const struct scalar_limit *s, uint64_t value,
		      struct reason *why)
{
	if (value == 0 && !s->may_be_zero)
		return reason_set(why, -EINVAL, "limit %s must not be 0", s->name);
	*scalar_field(l, s) = value;
	return 0;
}

static bool parse_uid(const char *text, uid_t *uid)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end || errno || n >= UINT32_MAX)
		return false;
	*uid = (uid_t)n;
	return true;
}

static struct limit_rule *find_rule(struct limits *l, enum rule_kind kind, const char *match)
{
	for (size_t i = 0; i < l->rule_count; i++)
		if (l->rules[i].kind == kind && strcmp(l->rules[i].match, match) == 0)
			return &l->rules[i];
	return NULL;
}

/* "<kind> <match> max-buffers|max-bytes": the match may hold spaces, the key does not. */
static int set_rule(struct limits *l, const char *name, uint64_t value, struct reason *why)
{
	const char *space = strchr(name, ' '), *last = strrchr(name, ' ');
	char kind_name[16], match[LIMIT_MATCH_MAX];
	struct limit_rule *rule;
	enum rule_kind kind;
	uid_t uid = 0;
	bool bytes;

	if (!space || space == last || (size_t)(space - name) >= sizeof(kind_name) ||
	    (size_t)(last - space - 1) >= sizeof(match) || last == space + 1)
		goto unknown;
	snprintf(kind_name, sizeof(kind_name), "%.*s", (int)(space - name), name);
	snprintf(match, sizeof(match), "%.*s", (int)(last - space - 1), space + 1);
	if (rule_kind_from_name(kind_name, &kind) < 0)
		goto unknown;
	if (strcmp(last + 1, IOBUF_RULE_MAX_BYTES) == 0)
		bytes = true;
	else if (strcmp(last + 1, IOBUF_RULE_MAX_BUFFERS) == 0)
		bytes = false;
	else
		goto unknown;
	if (kind == RULE_UID && !parse_uid(match, &uid))
		return reason_set(why, -EINVAL, "'%s' is not a uid", match);

	rule = find_rule(l, kind, match);
	if (!rule) {
		if (l->rule_count == LIMIT_RULES_MAX)
			return reason_set(why, -EINVAL, "more than %d rules", LIMIT_RULES_MAX);
		rule = &l->rules[l->rule_count++];
		*rule = (struct limit_rule){ .kind = kind, .uid = uid };
		snprintf(rule->match, sizeof(rule->match), "%s", match);
	}
	*(bytes ? &rule->quota.bytes : &rule->quota.buffers) = value;
	return 0;
unknown:
	return reason_set(why, -EINVAL, "unknown limit '%.64s': max-buffer-size, "
			  "max-client-buffers, max-client-bytes, max-uid-*, max-total-*, "
			  "max-client-allocations-per-second, or "
			  "'uid|unit|cgroup|heap MATCH max-buffers|max-bytes'", name);
}

int limits_set(struct limits *l, const char *name, uint64_t value, struct reason *why)
{
	for (size_t i = 0; i < SCALAR_COUNT; i++)
		if (strcmp(name, scalars[i].name) == 0)
			return set_scalar(l, &scalars[i], value, why);
	return set_rule(l, name, value, why);
}

void limits_foreach(const struct limits *l, void (*fn)(const char *name, uint64_t value,
						       void *data), void *data)
{
	char name[LIMIT_NAME_MAX];

	for (size_t i = 0; i < SCALAR_COUNT; i++)
		fn(scalars[i].name, *scalar_field((struct limits *)l, &scalars[i]), data);
	for (size_t i = 0; i < l->rule_count; i++) {
		const struct limit_rule *r = &l->rules[i];

		snprintf(name, sizeof(name), "%s %s " IOBUF_RULE_MAX_BUFFERS, kind_names[r->kind], r->match);
		fn(name, r->quota.buffers, data);
		snprintf(name, sizeof(name), "%s %s " IOBUF_RULE_MAX_BYTES, kind_names[r->kind], r->match);
		fn(name, r->quota.bytes, data);
	}
}

bool limit_rule_matches(const struct limit_rule *rule, const struct client *client)
{
	switch (rule->kind) {
	case RULE_UID:
		return rule->uid == client->task.uid;
	case RULE_UNIT:
		return client->task.unit[0] && fnmatch(rule->match, client->task.unit, 0) == 0;
	case RULE_CGROUP:
		return client->task.cgroup[0] && fnmatch(rule->match, client->task.cgroup, 0) == 0;
	case RULE_HEAP:
		break;
	}
	return false;
}
