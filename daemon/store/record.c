/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

struct record_entry {
	struct record_entry *next;
	uint64_t key;
	char name[];
};

static size_t slot_of(const struct record *r, uint64_t key)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (r->slot_count - 1);
}

static struct record_entry **find(const struct record *r, uint64_t key)
{
	struct record_entry **e;

	if (!r->slot_count)
		return NULL;
	for (e = &r->slots[slot_of(r, key)]; *e; e = &(*e)->next)
		if ((*e)->key == key)
			return e;
	return NULL;
}

const char *record_get(const struct record *r, uint64_t key)
{
	struct record_entry **e = find(r, key);

	return e ? (*e)->name : NULL;
}

/* Doubles the slots (at least 64) once there are as many entries. */
static int grow(struct record *r)
{
	size_t count = r->slot_count ? r->slot_count * 2 : 64;
	struct record_entry **slots = calloc(count, sizeof(*slots));
	struct record old = *r;

	if (!slots)
		return -ENOMEM;
	r->slots = slots;
	r->slot_count = count;
	for (size_t i = 0; i < old.slot_count; i++) {
		while (old.slots[i]) {
			struct record_entry *e = old.slots[i];
			size_t slot = slot_of(r, e->key);

			old.slots[i] = e->next;
			e->next = r->slots[slot];
			r->slots[slot] = e;
		}
	}
	free(old.slots);
	return 0;
}

int record_set(struct record *r, uint64_t key, const char *name)
{
	size_t len = strlen(name) + 1;
	struct record_entry *e;
	size_t slot;

	if (r->count >= r->slot_count && grow(r) < 0)
		return -ENOMEM;
	e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	e->key = key;
	memcpy(e->name, name, len);
	record_drop(r, key);
	slot = slot_of(r, key);
	e->next = r->slots[slot];
	r->slots[slot] = e;
	r->count++;
	return 0;
}

void record_drop(struct record *r, uint64_t key)
{
	struct record_entry **e = find(r, key), *gone;

	if (!e)
		return;
	gone = *e;
	*e = gone->next;
	free(gone);
	r->count--;
}

void record_fini(struct record *r)
{
	for (size_t i = 0; i < r->slot_count; i++) {
		while (r->slots[i]) {
			struct record_entry *e = r->slots[i];

			r->slots[i] = e->next;
			free(e);
		}
	}
	free(r->slots);
	*r = (struct record){ 0 };
}
