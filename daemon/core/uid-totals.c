/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "uid-totals.h"

static size_t slot_of(const struct uid_totals *t, uid_t uid)
{
	size_t i = ((size_t)uid * 0x9e3779b97f4a7c15ull) & (t->capacity - 1);

	while (t->slots[i].buffers != UINT64_MAX && t->slots[i].uid != uid)
		i = (i + 1) & (t->capacity - 1);
	return i;
}

static int grow(struct uid_totals *t)
{
	struct uid_totals bigger = { .capacity = t->capacity ? t->capacity * 2 : 16 };

	bigger.slots = malloc(bigger.capacity * sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	/* buffers == UINT64_MAX marks a free slot; no uid holds that many. */
	for (size_t i = 0; i < bigger.capacity; i++)
		bigger.slots[i] = (struct uid_total){ .buffers = UINT64_MAX };
	for (size_t i = 0; i < t->capacity; i++)
		if (t->slots[i].buffers != UINT64_MAX)
			bigger.slots[slot_of(&bigger, t->slots[i].uid)] = t->slots[i];
	bigger.used = t->used;
	free(t->slots);
	*t = bigger;
	return 0;
}

int uid_totals_add(struct uid_totals *t, uid_t uid, int sign, uint64_t size)
{
	struct uid_total *e;

	if ((t->used + 1) * 2 > t->capacity && grow(t) < 0)
		return -ENOMEM;
	e = &t->slots[slot_of(t, uid)];
	if (e->buffers == UINT64_MAX) {
		*e = (struct uid_total){ .uid = uid };
		t->used++;
	}
	if (sign > 0) {
		e->buffers++;
		e->bytes += size;
	} else {
		e->buffers--;
		e->bytes -= size;
	}
	return 0;
}

struct uid_total uid_totals_get(const struct uid_totals *t, uid_t uid)
{
	const struct uid_total *e;

	if (!t->capacity)
		return (struct uid_total){ .uid = uid };
	e = &t->slots[slot_of(t, uid)];
	return e->buffers == UINT64_MAX ? (struct uid_total){ .uid = uid } : *e;
}

void uid_totals_fini(struct uid_totals *t)
{
	free(t->slots);
	*t = (struct uid_totals){ 0 };
}
