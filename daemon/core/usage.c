/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "usage.h"

static const char *const by_words[] = {
	[USAGE_BY_UID] = IOBUF_SCOPE_UID,
	[USAGE_BY_UNIT] = IOBUF_SCOPE_UNIT,
	[USAGE_BY_CGROUP] = IOBUF_SCOPE_CGROUP,
	[USAGE_BY_HEAP] = IOBUF_SCOPE_HEAP,
};

const char usage_by_names[] =
	IOBUF_SCOPE_UID ", " IOBUF_SCOPE_UNIT ", " IOBUF_SCOPE_CGROUP " or " IOBUF_SCOPE_HEAP;

int usage_by_parse(const char *name, enum usage_by *by)
{
	for (size_t i = 0; i < sizeof(by_words) / sizeof(by_words[0]); i++)
		if (strcmp(name, by_words[i]) == 0) {
			*by = (enum usage_by)i;
			return 0;
		}
	return -EINVAL;
}

static char *client_key(const struct client *c, enum usage_by by)
{
	char uid[16];

	switch (by) {
	case USAGE_BY_UID:
		snprintf(uid, sizeof(uid), "%u", (unsigned)c->task.uid);
		return strdup(uid);
	case USAGE_BY_UNIT:
		return strdup(c->task.unit);
	default:
		return strdup(c->task.cgroup);
	}
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct usage_entry *)a)->key, ((const struct usage_entry *)b)->key);
}

static int by_bytes_then_key(const void *a, const void *b)
{
	const struct usage_entry *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void sort_entries(struct usage *u, int (*compare)(const void *, const void *))
{
	if (u->count > 1)
		qsort(u->entries, u->count, sizeof(*u->entries), compare);
}

/* Adds up neighbours with the same key: the entries are sorted by key. */
static void merge_same_keys(struct usage *u)
{
	size_t kept = 0;

	for (size_t i = 0; i < u->count; i++) {
		struct usage_entry *e = &u->entries[i];
		struct usage_entry *last = kept ? &u->entries[kept - 1] : NULL;

		if (last && strcmp(last->key, e->key) == 0) {
			last->clients += e->clients;
			last->buffers += e->buffers;
			last->bytes += e->bytes;
			free(e->key);
		} else {
			u->entries[kept++] = *e;
		}
	}
	u->count = kept;
}

/* One entry per client, sorted by key and merged: n log n for any number of clients. */
static int collect_clients(const struct allocator *a, enum usage_by by, struct usage *u)
{
	size_t n = 0;

	for (const struct client *c = a->client_list; c; c = c->next)
		n++;
	if (n && !(u->entries = calloc(n, sizeof(*u->entries))))
		return -ENOMEM;
	for (const struct client *c = a->client_list; c; c = c->next) {
		struct usage_entry *e = &u->entries[u->count];

		e->key = client_key(c, by);
		if (!e->key)
			return -ENOMEM;
		e->clients = 1;
		e->buffers = c->held.buffer_count;
		e->bytes = c->held.bytes;
		u->count++;
	}
	sort_entries(u, by_key);
	merge_same_keys(u);
	return 0;
}

static size_t heap_index(const struct heap_list *heaps, const struct heap *heap)
{
	size_t i = 0;

	while (i < heaps->count && heaps->heaps[i] != heap)
		i++;
	return i;
}

/* A client's buffers follow one another, so the last client counted tells a new one. */
static void count_buffers(const struct heap_list *heaps, const struct client *c,
			  struct usage_entry *entries, const struct client **last_counted)
{
	for (const struct buffer *b = c->held.buffers; b; b = b->next) {
		size_t i = heap_index(heaps, b->heap);

		if (i == heaps->count)
			continue; /* cannot be: a heap off the list was destroyed before serving */
		entries[i].buffers++;
		entries[i].bytes += b->size;
		if (last_counted[i] != c) {
			last_counted[i] = c;
			entries[i].clients++;
		}
	}
}

static int collect_heaps(const struct allocator *a, struct usage *u)
{
	const struct client *last_counted[HEAPS_MAX] = { 0 };
	const struct heap_list *heaps = &a->heaps;

	if (heaps->count && !(u->entries = calloc(heaps->count, sizeof(*u->entries))))
		return -ENOMEM;
	for (; u->count < heaps->count; u->count++) {
		u->entries[u->count].key = strdup(heaps->heaps[u->count]->name);
		if (!u->entries[u->count].key)
			return -ENOMEM;
	}
	for (const struct client *c = a->client_list; c; c = c->next)
		count_buffers(heaps, c, u->entries, last_counted);
	return 0;
}

int usage_collect(const struct allocator *a, enum usage_by by, struct usage *usage)
{
	int r;

	*usage = (struct usage){ 0 };
	r = by == USAGE_BY_HEAP ? collect_heaps(a, usage) : collect_clients(a, by, usage);
	if (r >= 0)
		sort_entries(usage, by_bytes_then_key);
	return r;
}

void usage_fini(struct usage *usage)
{
	for (size_t i = 0; i < usage->count; i++)
		free(usage->entries[i].key);
	free(usage->entries);
	*usage = (struct usage){ 0 };
}
