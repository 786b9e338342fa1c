/* SPDX-License-Identifier: MIT */
/* The buffer descriptor: references, mapping, length and direction. */
#include <errno.h>
#include <linux/dma-buf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"

struct iobuf *buffer_new(struct iobuf_task *task, uint64_t generation,
			 const struct wire_allocate_reply *reply, int fd, size_t capacity,
			 size_t alignment)
{
	struct iobuf *buf;
	int r;

	buf = calloc(1, sizeof(*buf));
	if (!buf) {
		error_set(-ENOMEM, "out of memory");
		return NULL;
	}
	if (reply->flags & WIRE_BUFFER_MAPPABLE) {
		r = map_aligned(fd, reply->size, alignment, &buf->map);
		if (r < 0) {
			free(buf);
			error_set(r, "cannot map buffer %llu: %s", (unsigned long long)reply->id,
				  strerror(-r));
			return NULL;
		}
		buf->map_size = reply->size;
	}
	atomic_init(&buf->refs, 1);
	pthread_mutex_init(&buf->sync_lock, NULL);
	buf->task = task_ref(task);
	buf->id = reply->id;
	buf->generation = generation;
	buf->fd = fd;
	buf->capacity = capacity;
	buf->length = capacity;
	buf->options = reply->options;
	buf->flags = reply->flags;
	buf->direction = reply->options & IOBUF_DIRECTION_MASK;
	memcpy(buf->heap, reply->heap, sizeof(buf->heap));
	return buf;
}

IOBUF_EXPORT struct iobuf *iobuf_retain(struct iobuf *buf)
{
	if (buf)
		atomic_fetch_add(&buf->refs, 1);
	return buf;
}

/*
 * Sends free and does not wait for the answer. A forked child's copy is only
 * dropped locally; the parent owns it. A buffer whose connection is gone is
 * unknown to the daemon: only its fd and mapping go (nothing is sent then).
 */
static void tell_daemon_free(struct iobuf *buf)
{
	struct wire_message request = {
		.header.opcode = WIRE_FREE,
		.free.id = buf->id,
	};

	if (task_is_own(buf->task))
		(void)task_send_on(buf->task, buf->generation, &request);
}

IOBUF_EXPORT void iobuf_release(struct iobuf *buf)
{
	if (!buf || atomic_fetch_sub(&buf->refs, 1) != 1)
		return;
	if (buf->map)
		munmap(buf->map, buf->map_size);
	close(buf->fd);
	tell_daemon_free(buf);
	iobuf_task_unref(buf->task);
	pthread_mutex_destroy(&buf->sync_lock);
	free(buf);
}

IOBUF_EXPORT void *iobuf_get_bytes_no_copy(const struct iobuf *buf)
{
	if (!buf->map) {
		error_set(-EOPNOTSUPP, "buffer %llu from heap %s cannot be mapped by the CPU",
			  (unsigned long long)buf->id, buf->heap);
		return NULL;
	}
	return buf->map;
}

IOBUF_EXPORT void *iobuf_get_bytes_no_copy_range(const struct iobuf *buf, size_t start,
						 size_t length)
{
	/* As IOKit's getBytesNoCopy(start, length): within the length, not the capacity. */
	if (start >= buf->length || length > buf->length - start) {
		error_set(-ERANGE, "range %zu+%zu is outside the length %zu", start, length,
			  buf->length);
		return NULL;
	}
	if (!iobuf_get_bytes_no_copy(buf))
		return NULL;
	return (char *)buf->map + start;
}

IOBUF_EXPORT size_t iobuf_get_length(const struct iobuf *buf)
{
	return buf->length;
}

IOBUF_EXPORT int iobuf_set_length(struct iobuf *buf, size_t length)
{
	if (length > buf->capacity)
		return error_set(-ERANGE, "length %zu is past the capacity %zu", length,
				 buf->capacity);
	buf->length = length;
	return 0;
}

IOBUF_EXPORT size_t iobuf_get_capacity(const struct iobuf *buf)
{
	return buf->capacity;
}

IOBUF_EXPORT size_t iobuf_append_bytes(struct iobuf *buf, const void *bytes, size_t length)
{
	size_t room = buf->capacity - buf->length;
	size_t n = length < room ? length : room;

	if (n == 0 || !iobuf_get_bytes_no_copy(buf))
		return 0;
	memcpy((char *)buf->map + buf->length, bytes, n);
	buf->length += n;
	return n;
}

IOBUF_EXPORT uint32_t iobuf_get_direction(const struct iobuf *buf)
{
	return buf->direction;
}

IOBUF_EXPORT int iobuf_set_direction(struct iobuf *buf, uint32_t direction)
{
	if (direction & ~(uint32_t)IOBUF_DIRECTION_MASK)
		return error_set(-EINVAL, "direction 0x%x has bits outside IOBUF_DIRECTION_MASK",
				 direction);
	buf->direction = direction;
	return 0;
}

static uint64_t sync_access(uint32_t direction)
{
	switch (direction) {
	case IOBUF_DIRECTION_IN:
		return DMA_BUF_SYNC_READ;
	case IOBUF_DIRECTION_OUT:
		return DMA_BUF_SYNC_WRITE;
	}
	return DMA_BUF_SYNC_RW;
}

static int sync_dmabuf(struct iobuf *buf, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };
	int r;

	do
		r = ioctl(buf->fd, DMA_BUF_IOCTL_SYNC, &sync);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	if (r < 0)
		return error_set(-errno, "DMA_BUF_IOCTL_SYNC %s on buffer %llu from heap %s: %s",
				 flags & DMA_BUF_SYNC_END ? "END" : "START",
				 (unsigned long long)buf->id, buf->heap, strerror(errno));
	return 0;
}

/*
 * Ends the CPU's access to a dma-buf. The kernel wants an END to follow a
 * START (udmabuf refuses it otherwise), so a buffer whose CPU access we
 * never began gets a START first. That START says WRITE: it neither
 * invalidates caches nor moves the buffer, so what the CPU wrote before is
 * kept wherever caches are not coherent.
 */
static int end_cpu_access(struct iobuf *buf)
{
	int r;

	if (!buf->cpu_access) {
		r = sync_dmabuf(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
		if (r < 0)
			return r;
		buf->cpu_access = true;
	}
	r = sync_dmabuf(buf, DMA_BUF_SYNC_END | sync_access(buf->direction));
	if (r < 0)
		return r;
	buf->cpu_access = false;
	return 0;
}

static int begin_cpu_access(struct iobuf *buf)
{
	int r = sync_dmabuf(buf, DMA_BUF_SYNC_START | sync_access(buf->direction));

	if (r < 0)
		return r;
	buf->cpu_access = true;
	return 0;
}

/*
 * prepare and complete nest as IOKit's do: only the first prepare hands the
 * buffer to the device, only the complete matching it gives it back to the
 * CPU, and a complete without a prepare does nothing. A failed call does
 * not count.
 */
IOBUF_EXPORT int iobuf_prepare(struct iobuf *buf)
{
	int r = 0;

	pthread_mutex_lock(&buf->sync_lock);
	if (buf->prepared == 0 && (buf->flags & WIRE_BUFFER_DMABUF))
		r = end_cpu_access(buf);
	if (r == 0)
		buf->prepared++;
	pthread_mutex_unlock(&buf->sync_lock);
	return r;
}

IOBUF_EXPORT int iobuf_complete(struct iobuf *buf)
{
	int r = 0;

	pthread_mutex_lock(&buf->sync_lock);
	if (buf->prepared == 1 && (buf->flags & WIRE_BUFFER_DMABUF))
		r = begin_cpu_access(buf);
	if (r == 0 && buf->prepared > 0)
		buf->prepared--;
	pthread_mutex_unlock(&buf->sync_lock);
	return r;
}

IOBUF_EXPORT int iobuf_get_fd(const struct iobuf *buf)
{
	return buf->fd;
}

IOBUF_EXPORT uint32_t iobuf_get_options(const struct iobuf *buf)
{
	return buf->options;
}

IOBUF_EXPORT const char *iobuf_get_heap(const struct iobuf *buf)
{
	return buf->heap;
}

IOBUF_EXPORT const char *iobuf_get_label(const struct iobuf *buf)
{
	return buf->label;
}

IOBUF_EXPORT uint64_t iobuf_get_id(const struct iobuf *buf)
{
	return buf->id;
}
