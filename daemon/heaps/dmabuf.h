/* SPDX-License-Identifier: MIT */
/* What every heap that hands out dma-bufs shares. */
#ifndef IOBUFD_DMABUF_H
#define IOBUFD_DMABUF_H

#include "heap.h"

/*
 * Names a dma-buf for fdinfo and debugfs: its label (label.h keeps it within
 * the kernel's 31 bytes), or "iobuf:<id>:<comm>" without one.
 */
void dmabuf_set_name(int fd, const struct heap_request *req);

#endif
