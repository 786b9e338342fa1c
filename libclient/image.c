/* SPDX-License-Identifier: MIT */
/* GPU images: a buffer with a format, a modifier and a layout per plane. */
#include <errno.h>
#include <string.h>

#include "private.h"

/* What the wire cannot carry; the daemon checks the rest. */
static int check_request(const uint64_t *modifiers, unsigned modifier_count)
{
	if (modifier_count > IOBUF_IMAGE_MAX_MODIFIERS)
		return error_set(-EINVAL, "%u modifiers: at most %d may be offered",
				 modifier_count, IOBUF_IMAGE_MAX_MODIFIERS);
	if (modifier_count && !modifiers)
		return error_set(-EINVAL, "modifiers must not be NULL when modifier_count is %u",
				 modifier_count);
	return 0;
}

static void fill_image(struct iobuf *buf, const struct wire_message *request,
		       const struct wire_allocate_image_reply *reply)
{
	buf->is_image = true;
	buf->image = (struct iobuf_image){
		.width = request->allocate_image.width,
		.height = request->allocate_image.height,
		.drm_fourcc = request->allocate_image.fourcc,
		.modifier = reply->modifier,
		.plane_count = reply->plane_count,
	};
	for (unsigned i = 0; i < reply->plane_count; i++) {
		buf->image.planes[i].offset = reply->planes[i].offset;
		buf->image.planes[i].stride = reply->planes[i].stride;
	}
}

IOBUF_EXPORT struct iobuf *iobuf_image_in_task(struct iobuf_task *task, uint32_t width,
					       uint32_t height, uint32_t drm_fourcc,
					       const uint64_t *modifiers, unsigned modifier_count,
					       uint32_t usage)
{
	struct wire_message request = {
		.header.opcode = WIRE_ALLOCATE_IMAGE,
		.allocate_image = {
			.width = width,
			.height = height,
			.fourcc = drm_fourcc,
			.usage = usage,
			.modifier_count = modifier_count,
		},
	};
	struct wire_message reply;
	struct iobuf *buf;
	uint64_t generation;
	int fd, r;

	if (check_request(modifiers, modifier_count) < 0)
		return NULL; /* errno and the message are set */
	if (modifier_count)
		memcpy(request.allocate_image.modifiers, modifiers,
		       modifier_count * sizeof(*modifiers));
	task = task_or_self(task);
	if (!task)
		return NULL;
	r = spec_fill(&request.allocate_image.spec, task, NULL, NULL);
	if (r >= 0)
		r = task_call_made(task, &request, &reply, &fd, &generation);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	buf = buffer_adopt(task, generation, &reply.allocate_image_reply.buffer, fd,
			   reply.allocate_image_reply.buffer.size, 0);
	if (buf) {
		fill_image(buf, &request, &reply.allocate_image_reply);
		memcpy(buf->label, request.allocate_image.spec.label, sizeof(buf->label));
	}
	return buf;
}

IOBUF_EXPORT int iobuf_get_image(const struct iobuf *buf, struct iobuf_image *image)
{
	if (!buf->is_image)
		return error_set(-EINVAL, "buffer %llu is not an image",
				 (unsigned long long)buf->id);
	*image = buf->image;
	return 0;
}
