/* SPDX-License-Identifier: MIT */
/* What every heap that hands out dma-bufs shares. */
#include <inttypes.h>
#include <linux/dma-buf.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "dmabuf.h"
#include "log.h"

void dmabuf_set_name(int fd, const struct heap_request *req)
{
	char name[DMA_BUF_NAME_LEN];

	if (req->label && req->label[0])
		snprintf(name, sizeof(name), "%s", req->label);
	else
		snprintf(name, sizeof(name), "iobuf:%" PRIu64 ":%s", req->id, req->comm);
	/* Only a debugging aid: a kernel without it still serves the buffer. */
	if (ioctl(fd, DMA_BUF_SET_NAME_B, name) < 0)
		log_debug("cannot name dma-buf %s: %m", name);
}
