/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "heap-options.h"
#include "iobuf/iobuf.h"

int heap_options(const char *heap, uint32_t extra, uint64_t size, uint32_t *options)
{
	static const uint32_t candidates[] = {
		0,
		IOBUF_PAGEABLE,
		IOBUF_CACHE_WRITECOMBINE,
		IOBUF_CACHE_INHIBIT,
	};
	struct iobuf_match match;

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (iobuf_task_query(iobuf_task_self(), candidates[i] | extra, size, 0, &match) < 0)
			continue;
		if (strcmp(match.heap, heap) != 0) {
			fprintf(stderr, "iobufd serves %s, not %s\n", match.heap, heap);
			return -1;
		}
		*options = candidates[i] | extra;
		return 0;
	}
	fprintf(stderr, "heap %s serves none of the option sets: %s\n", heap, iobuf_last_error());
	return -1;
}
