/* SPDX-License-Identifier: MIT */
/* What every heap that hands out dma-bufs shares. */
#ifndef IOBUFD_DMABUF_H
#define IOBUFD_DMABUF_H

#include "heap.h"

/* Names a dma-buf "iobuf:<id>:<comm>" for fdinfo and debugfs. */
void dmabuf_set_name(int fd, const struct heap_request *req);

#endif
