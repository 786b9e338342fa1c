/* SPDX-License-Identifier: MIT */
/* Validation of an allocation request, before any heap is asked. */
#ifndef IOBUFD_REQUEST_H
#define IOBUFD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "reason.h"

/* An allocation as a client asks for it, from either front end. */
struct alloc_request {
	uint32_t options;
	uint64_t capacity;
	uint64_t alignment;
	uint64_t physical_mask; /* 0: anywhere */
};

/* 0, or -EINVAL/-EFBIG with a message in why (NUL-terminated). */
int request_check(const struct alloc_request *req, uint64_t max_buffer_size, struct reason *why);

/* The bytes a request allocates: capacity rounded up to the page size. */
uint64_t request_size(const struct alloc_request *req);

#endif
