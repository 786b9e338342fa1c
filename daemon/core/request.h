/* SPDX-License-Identifier: MIT */
/* Validation of an allocation request, before any heap is asked. */
#ifndef IOBUFD_REQUEST_H
#define IOBUFD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reason.h"

/* Which heap a client asks for and what it calls the buffer. */
struct buffer_spec {
	const char *heap;  /* borrowed; NULL or "": the daemon chooses */
	const char *label; /* borrowed; NULL or "": none */
};

/* An allocation as a client asks for it, from either front end. */
struct alloc_request {
	uint32_t options;
	uint64_t capacity;
	uint64_t alignment;
	uint64_t physical_mask; /* 0: anywhere */
	struct buffer_spec spec;
};

/* 0, or -EINVAL when the label breaks the rule of label.h (why says how). */
int spec_check(const struct buffer_spec *spec, struct reason *why);

/* Whether the client asked for one heap by name. */
static inline bool spec_names_heap(const struct buffer_spec *spec)
{
	return spec->heap && spec->heap[0];
}

/* 0, or -EINVAL/-EFBIG with a message in why (NUL-terminated); checks the spec too. */
int request_check(const struct alloc_request *req, uint64_t max_buffer_size, struct reason *why);

/* The bytes a request allocates: capacity rounded up to the page size. */
uint64_t request_size(const struct alloc_request *req);

#endif
