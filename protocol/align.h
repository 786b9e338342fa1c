/* SPDX-License-Identifier: MIT */
/* Alignment arithmetic shared by iobufd and libiobuf. */
#ifndef IOBUF_PROTOCOL_ALIGN_H
#define IOBUF_PROTOCOL_ALIGN_H

#include <stdbool.h>
#include <stdint.h>

/* The largest alignment a request may ask for. */
#define ALIGN_MAX ((uint64_t)1 << 30)

static inline bool align_is_power_of_two(uint64_t value)
{
	return value != 0 && (value & (value - 1)) == 0;
}

/*
 * Rounds value up to a multiple of alignment (a power of two). Returns false
 * and leaves *result alone when the result would not fit in 64 bits.
 */
static inline bool align_up(uint64_t value, uint64_t alignment, uint64_t *result)
{
	uint64_t mask = alignment - 1;

	if (value > UINT64_MAX - mask)
		return false;
	*result = (value + mask) & ~mask;
	return true;
}

/*
 * The alignment an addressing mask implies, as IOKit derives it: the lowest
 * set bit of the mask, and at least a page. 0 for a mask of 0.
 */
static inline uint64_t align_from_physical_mask(uint64_t mask, uint64_t page_size)
{
	uint64_t lowest = mask & -mask;

	if (mask == 0)
		return 0;
	return lowest < page_size ? page_size : lowest;
}

/*
 * Whether a mask limits the highest address, rather than only asking for
 * alignment: every bit above its lowest set bit must be one otherwise.
 */
static inline bool align_mask_limits_address(uint64_t mask)
{
	uint64_t lowest = mask & -mask;

	return mask != 0 && (mask | (lowest - 1)) != UINT64_MAX;
}

#endif
