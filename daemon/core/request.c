/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "align.h"
#include "iobuf/iobuf.h"
#include "label.h"
#include "request.h"

#define CACHE_MODE_MAX (IOBUF_CACHE_WRITECOMBINE >> IOBUF_CACHE_SHIFT)

static uint64_t page_size(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

int spec_check(const struct buffer_spec *spec, struct reason *why)
{
	const char *problem = spec->label ? label_problem(spec->label) : NULL;

	if (problem)
		return reason_set(why, -EINVAL, "the label %s", problem);
	return 0;
}

int request_check(const struct alloc_request *req, uint64_t max_buffer_size, struct reason *why)
{
	uint32_t unknown = req->options & ~(uint32_t)IOBUF_OPTIONS_KNOWN;
	uint32_t cache = (req->options & IOBUF_CACHE_MASK) >> IOBUF_CACHE_SHIFT;
	uint64_t rounded;

	if (req->capacity == 0)
		return reason_set(why, -EINVAL, "capacity must not be 0");
	if (req->alignment > 1 && !align_is_power_of_two(req->alignment))
		return reason_set(why, -EINVAL, "alignment %" PRIu64 " is not a power of two",
				  req->alignment);
	if (req->alignment > ALIGN_MAX)
		return reason_set(why, -EINVAL, "alignment %" PRIu64 " is over the maximum %" PRIu64,
				  req->alignment, ALIGN_MAX);
	if (unknown)
		return reason_set(why, -EINVAL, "unknown option bits 0x%x", unknown);
	if (cache > CACHE_MODE_MAX)
		return reason_set(why, -EINVAL, "unknown cache mode %u", cache);
	if ((req->options & IOBUF_PURGEABLE) && !(req->options & IOBUF_PAGEABLE))
		return reason_set(why, -EINVAL, "PURGEABLE requires PAGEABLE");
	if (req->capacity > max_buffer_size || !align_up(req->capacity, page_size(), &rounded)) {
		return reason_set(why, -EFBIG, "capacity %" PRIu64 " is over the maximum buffer "
				  "size %" PRIu64, req->capacity, max_buffer_size);
	}
	if (rounded > max_buffer_size) /* a limit that is not a whole number of pages */
		return reason_set(why, -EFBIG, "capacity %" PRIu64 " takes %" PRIu64 " bytes in "
				  "whole pages, over the maximum buffer size %" PRIu64,
				  req->capacity, rounded, max_buffer_size);
	return spec_check(&req->spec, why);
}

uint64_t request_size(const struct alloc_request *req)
{
	uint64_t size = 0;

	align_up(req->capacity, page_size(), &size);
	return size;
}
