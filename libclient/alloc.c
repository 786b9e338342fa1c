/* SPDX-License-Identifier: MIT */
/* Every way to ask iobufd for a buffer, and the requests about one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align.h"
#include "label.h"
#include "private.h"

static struct wire_message allocate_request(uint16_t opcode, uint32_t options, size_t capacity,
					    size_t alignment, uint64_t physical_mask)
{
	return (struct wire_message){
		.header.opcode = opcode,
		.allocate = {
			.options = options,
			.capacity = capacity,
			.alignment = alignment,
			.physical_mask = physical_mask,
			.spec.present = true,
		},
	};
}

_Static_assert(IOBUF_LABEL_MAX == LABEL_MAX, "one rule for labels");

int spec_fill(struct wire_spec *spec, struct iobuf_task *task, const char *heap,
	      const char *label)
{
	const char *problem;

	spec->present = true;
	if (heap && strlen(heap) > IOBUF_HEAP_NAME_MAX)
		return error_set(-EINVAL, "heap name \"%.63s...\" is longer than %d bytes", heap,
				 IOBUF_HEAP_NAME_MAX);
	snprintf(spec->heap, sizeof(spec->heap), "%s", heap ? heap : "");
	if (!label) {
		task_get_label(task, spec->label, sizeof(spec->label));
		return 0;
	}
	problem = label_problem(label);
	if (problem)
		return error_set(-EINVAL, "the label %s", problem);
	snprintf(spec->label, sizeof(spec->label), "%s", label);
	return 0;
}

struct iobuf_task *task_or_self(struct iobuf_task *task)
{
	return task ? task : iobuf_task_self();
}

struct iobuf *buffer_adopt(struct iobuf_task *task, uint64_t generation,
			   const struct wire_allocate_reply *reply, int fd, size_t capacity,
			   size_t alignment)
{
	struct wire_message free_request = {
		.header.opcode = WIRE_FREE,
		.free.id = reply->id,
	};
	struct wire_message free_reply;
	struct iobuf *buf = NULL;
	int saved;

	if (fd < 0)
		error_set(-EPROTO, "iobufd sent no fd with buffer %llu",
			  (unsigned long long)reply->id);
	else
		buf = buffer_new(task, generation, reply, fd, capacity, alignment);
	if (buf) {
		error_clear();
		return buf;
	}
	saved = errno;
	if (fd >= 0)
		close(fd);
	(void)task_call_on(task, generation, &free_request, &free_reply);
	errno = saved;
	return NULL;
}

/* An allocation on heap (NULL: any) labelled label (NULL: the task's label). */
static struct iobuf *allocate(struct iobuf_task *task, uint32_t options, size_t capacity,
			      size_t alignment, uint64_t physical_mask, const char *heap,
			      const char *label)
{
	struct wire_message request =
		allocate_request(WIRE_ALLOCATE, options, capacity, alignment, physical_mask);
	struct wire_message reply;
	uint64_t generation;
	struct iobuf *buf;
	int fd, r;

	task = task_or_self(task);
	if (!task)
		return NULL; /* errno and the message are set */
	/* A buffer of the task's pool, when it keeps this kind ready. */
	if (!heap && !label && !physical_mask) {
		buf = pool_take(task, options, capacity, alignment);
		if (buf) {
			task_get_label(task, buf->label, sizeof(buf->label));
			return buf;
		}
	}
	r = spec_fill(&request.allocate.spec, task, heap, label);
	if (r >= 0)
		r = task_call_made(task, &request, &reply, &fd, &generation);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	buf = buffer_adopt(task, generation, &reply.allocate_reply, fd, capacity, alignment);
	if (buf)
		memcpy(buf->label, request.allocate.spec.label, sizeof(buf->label));
	return buf;
}

struct wire_allocate_reply batch_member(const struct wire_allocate_n_reply *reply, size_t i)
{
	struct wire_allocate_reply one = { .id = reply->ids[i], .size = reply->size,
					   .options = reply->options, .flags = reply->flags };

	memcpy(one.heap, reply->heap, sizeof(one.heap));
	return one;
}

void buffer_give_back(struct iobuf_task *task, uint64_t generation, uint64_t id, int fd)
{
	struct wire_message free_request = { .header.opcode = WIRE_FREE, .free.id = id };

	if (fd >= 0)
		close(fd);
	(void)task_send_on(task, generation, &free_request);
}

/* Gives back, unseen, the buffers of a batch from index from on. */
static void give_back(struct iobuf_task *task, uint64_t generation,
		      const struct wire_allocate_n_reply *reply, struct passed_fds *fds,
		      size_t from)
{
	for (size_t i = from; i < reply->count; i++)
		buffer_give_back(task, generation, reply->ids[i], i < fds->n ? fds->fd[i] : -1);
}

IOBUF_EXPORT int iobuf_in_task_with_options_n(struct iobuf_task *task, uint32_t options,
					      size_t capacity, size_t alignment, size_t n,
					      struct iobuf **bufs)
{
	struct wire_message request = { .header.opcode = WIRE_ALLOCATE_N };
	struct wire_message reply;
	const struct wire_allocate_n_reply *made = &reply.allocate_n_reply;
	char message[WIRE_MAX_ERROR_MESSAGE + 128];
	struct passed_fds fds;
	uint64_t generation;
	size_t i;
	int r;

	if (n < 1 || n > IOBUF_BATCH_MAX || !bufs)
		return error_set(-EINVAL, "a batch is 1 to %d buffers into an array, not %zu",
				 IOBUF_BATCH_MAX, n);
	task = task_or_self(task);
	if (!task)
		return -errno;
	request.allocate_n.count = (uint32_t)n;
	request.allocate_n.allocate =
		allocate_request(WIRE_ALLOCATE, options, capacity, alignment, 0).allocate;
	r = spec_fill(&request.allocate_n.allocate.spec, task, NULL, NULL);
	if (r >= 0)
		r = task_call_fds(task, &request, &reply, &fds, &generation);
	if (r < 0)
		return r;
	if (made->count != n || fds.n != n) {
		give_back(task, generation, made, &fds, 0);
		return error_set(-EPROTO, "iobufd made %u buffers with %zu fds for a batch of %zu",
				 made->count, fds.n, n);
	}
	for (i = 0; i < n; i++) {
		struct wire_allocate_reply one = batch_member(made, i);

		bufs[i] = buffer_adopt(task, generation, &one, fds.fd[i], capacity, alignment);
		if (!bufs[i])
			break;
		memcpy(bufs[i]->label, request.allocate_n.allocate.spec.label,
		       sizeof(bufs[i]->label));
	}
	if (i == n)
		return 0;
	/* All or none, here too: what was adopted goes back with the rest. */
	r = -errno;
	snprintf(message, sizeof(message), "%s", iobuf_last_error());
	give_back(task, generation, made, &fds, i + 1);
	while (i-- > 0)
		iobuf_release(bufs[i]);
	return error_set(r, "%s", message);
}

/* An asynchronous allocation's callback and what the descriptor needs. */
struct async_allocation {
	iobuf_allocated_fn done;
	void *userdata;
	size_t capacity;
	size_t alignment;
	char label[IOBUF_LABEL_MAX + 1];
};

static void allocated(struct iobuf_task *task, const struct wire_message *reply, int fd,
		      int error, uint64_t generation, void *data)
{
	struct async_allocation *a = data;
	struct iobuf *buf = NULL;

	if (!error) {
		buf = buffer_adopt(task, generation, &reply->allocate_reply, fd, a->capacity,
				   a->alignment);
		if (buf)
			memcpy(buf->label, a->label, sizeof(buf->label));
		else
			error = -errno;
	} else if (fd >= 0) {
		close(fd);
	}
	a->done(task, buf, error, a->userdata);
	free(a);
}

IOBUF_EXPORT int iobuf_in_task_async(struct iobuf_task *task, uint32_t options, size_t capacity,
				     size_t alignment, iobuf_allocated_fn done, void *userdata)
{
	struct wire_message request =
		allocate_request(WIRE_ALLOCATE, options, capacity, alignment, 0);
	struct async_allocation *a;
	int r;

	if (!task || !done)
		return error_set(-EINVAL, "task and done must not be NULL");
	r = spec_fill(&request.allocate.spec, task, NULL, NULL);
	if (r < 0)
		return r;
	a = malloc(sizeof(*a));
	if (!a)
		return error_set(-ENOMEM, "out of memory");
	*a = (struct async_allocation){ .done = done, .userdata = userdata, .capacity = capacity,
					.alignment = alignment };
	memcpy(a->label, request.allocate.spec.label, sizeof(a->label));
	r = task_call_async(task, &request, allocated, a);
	if (r < 0)
		free(a);
	return r;
}

IOBUF_EXPORT struct iobuf *iobuf_in_task_with_options(struct iobuf_task *task, uint32_t options,
						      size_t capacity, size_t alignment)
{
	return allocate(task, options, capacity, alignment, 0, NULL, NULL);
}

IOBUF_EXPORT struct iobuf *iobuf_in_task_with_label(struct iobuf_task *task, uint32_t options,
						    size_t capacity, size_t alignment,
						    const char *label)
{
	return allocate(task, options, capacity, alignment, 0, NULL, label ? label : "");
}

IOBUF_EXPORT struct iobuf *iobuf_in_task_from_heap(struct iobuf_task *task, const char *heap,
						   uint32_t options, size_t capacity,
						   size_t alignment)
{
	if (!heap || !heap[0]) {
		error_set(-EINVAL, "a heap must be named");
		return NULL;
	}
	return allocate(task, options, capacity, alignment, 0, heap, NULL);
}

IOBUF_EXPORT struct iobuf *iobuf_in_task_with_physical_mask(struct iobuf_task *task,
							    uint32_t options, size_t capacity,
							    uint64_t physical_mask)
{
	uint64_t alignment = align_from_physical_mask(physical_mask, (uint64_t)sysconf(_SC_PAGESIZE));

	return allocate(task, options, capacity, alignment, physical_mask, NULL, NULL);
}

IOBUF_EXPORT struct iobuf *iobuf_with_options(uint32_t options, size_t capacity, size_t alignment)
{
	return allocate(NULL, options, capacity, alignment, 0, NULL, NULL);
}

/* The smallest power of two at or above value (at least 1); 0 when there is none. */
static uint64_t power_of_two_at_least(uint64_t value)
{
	uint64_t power = 1;

	while (power < value) {
		if (power > UINT64_MAX / 2)
			return 0;
		power <<= 1;
	}
	return power;
}

/*
 * As IOKit's withCapacity, a contiguous buffer is aligned to its capacity.
 * XNU hands a capacity that is not a power of two to its allocators as it
 * is: they either round it up to one or use capacity - 1 as the mask of
 * address bits that must be zero. The power of two at or above the
 * capacity satisfies both.
 */
IOBUF_EXPORT struct iobuf *iobuf_with_capacity(size_t capacity, uint32_t direction, int contiguous)
{
	uint32_t options = direction | (contiguous ? IOBUF_PHYSICALLY_CONTIGUOUS : 0);
	uint64_t alignment = 1;

	if (contiguous && capacity > 0) {
		alignment = power_of_two_at_least(capacity);
		if (alignment == 0 || alignment > ALIGN_MAX) {
			error_set(-EINVAL, "a contiguous buffer is aligned to its capacity, "
				  "and %zu bytes is over the largest alignment %llu",
				  capacity, (unsigned long long)ALIGN_MAX);
			return NULL;
		}
	}
	return allocate(NULL, options, capacity, alignment, 0, NULL, NULL);
}

/*
 * As IOKit's withBytes: aligned to the length up to a page (a mapping is
 * always page aligned), whether contiguous or not.
 */
IOBUF_EXPORT struct iobuf *iobuf_with_bytes(const void *bytes, size_t length, uint32_t direction,
					    int contiguous)
{
	uint32_t options = direction | (contiguous ? IOBUF_PHYSICALLY_CONTIGUOUS : 0);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct iobuf *buf;
	void *dst;

	buf = allocate(NULL, options, length, power_of_two_at_least(length < page ? length : page),
		       0, NULL, NULL);
	if (!buf)
		return NULL;
	dst = iobuf_get_bytes_no_copy(buf);
	if (!dst) {
		int saved = errno;

		iobuf_release(buf);
		errno = saved;
		return NULL;
	}
	memcpy(dst, bytes, length);
	return buf;
}

static int query(struct iobuf_task *task, const char *heap, uint32_t options, size_t capacity,
		 size_t alignment, struct iobuf_match *match)
{
	struct wire_message request = allocate_request(WIRE_QUERY, options, capacity, alignment, 0);
	struct wire_message reply;
	int r;

	if (!task || !match)
		return error_set(-EINVAL, "task and match must not be NULL");
	r = spec_fill(&request.allocate.spec, task, heap, "");
	if (r >= 0)
		r = task_call(task, &request, &reply, NULL);
	if (r < 0)
		return r;
	match->size = reply.allocate_reply.size;
	match->options = reply.allocate_reply.options;
	memcpy(match->heap, reply.allocate_reply.heap, sizeof(match->heap));
	return 0;
}

IOBUF_EXPORT int iobuf_task_query(struct iobuf_task *task, uint32_t options, size_t capacity,
				  size_t alignment, struct iobuf_match *match)
{
	return query(task, NULL, options, capacity, alignment, match);
}

IOBUF_EXPORT int iobuf_task_query_heap(struct iobuf_task *task, const char *heap,
				       uint32_t options, size_t capacity, size_t alignment,
				       struct iobuf_match *match)
{
	if (!heap || !heap[0])
		return error_set(-EINVAL, "a heap must be named");
	return query(task, heap, options, capacity, alignment, match);
}

IOBUF_EXPORT int iobuf_set_purgeable(struct iobuf *buf, enum iobuf_purgeable_state new_state,
				     enum iobuf_purgeable_state *old_state)
{
	struct wire_message request = {
		.header.opcode = WIRE_SET_PURGEABLE,
		.set_purgeable = { .id = buf->id, .state = (uint32_t)new_state },
	};
	struct wire_message reply;
	int r;

	r = task_call_on(buf->task, buf->generation, &request, &reply);
	if (r == -ESTALE)
		return error_set(r, "buffer %llu was made on a connection to iobufd at %s that "
				 "is gone: the daemon no longer knows it",
				 (unsigned long long)buf->id, buf->task->path);
	if (r < 0)
		return r;
	if (old_state)
		*old_state = (enum iobuf_purgeable_state)reply.set_purgeable_reply.old_state;
	return 0;
}
