/* SPDX-License-Identifier: MIT */
/* Validation of an allocation request, before any heap is asked. */
#ifndef IOBUFD_REQUEST_H
#define IOBUFD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"
#include "reason.h"

/* 0, or -EINVAL/-EFBIG with a message in why (NUL-terminated). */
int request_check(const struct wire_allocate *req, uint64_t max_buffer_size, struct reason *why);

/* The bytes a request allocates: capacity rounded up to the page size. */
uint64_t request_size(const struct wire_allocate *req);

#endif
