/* SPDX-License-Identifier: MIT */
/* A pattern a buffer is filled with before a restart and checked for after it. */
#ifndef IOBUF_TEST_PATTERN_H
#define IOBUF_TEST_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "iobuf/iobuf.h"

/* Byte i of the buffer becomes seed + i. */
static inline void fill_pattern(struct iobuf *buf, unsigned char seed)
{
	unsigned char *bytes = iobuf_get_bytes_no_copy(buf);

	for (size_t i = 0; i < iobuf_get_capacity(buf); i++)
		bytes[i] = (unsigned char)(seed + i);
}

static inline bool holds_pattern(struct iobuf *buf, unsigned char seed)
{
	const unsigned char *bytes = iobuf_get_bytes_no_copy(buf);

	for (size_t i = 0; i < iobuf_get_capacity(buf); i++)
		if (bytes[i] != (unsigned char)(seed + i))
			return false;
	return true;
}

#endif
