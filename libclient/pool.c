/* SPDX-License-Identifier: MIT */
/*
 * A task's prefetch pool: buffers of one kind allocated ahead, in one
 * allocate-n, so that an allocation of that kind takes one without a round
 * trip. They are the task's buffers like any other: charged to it, counted
 * by its limits, listed by iobufctl (as pooled, until the daemon hears they
 * were taken: with the next fill, or iobuf_task_flush()). The pool is
 * filled again, without waiting, when it is down to half.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "private.h"

/* A buffer the pool does not want: freed by the next request sent (as orphans are). */
static void unwanted_locked(struct iobuf_task *task, uint64_t id, uint64_t generation)
{
	if (generation == task->generation)
		task_orphan_locked(task, id);
}

void pool_filled_locked(struct iobuf_task *task, const struct wire_allocate_n_reply *reply,
			struct passed_fds *fds, uint64_t generation, uintptr_t epoch)
{
	struct task_pool *pool = &task->pool;

	pool->filling = false;
	if (!reply || reply->count != fds->n)
		return; /* the fds, if any, are closed with the pending */
	for (size_t i = 0; i < fds->n; i++) {
		if (epoch != pool->epoch || pool->target == 0 || pool->count == IOBUF_BATCH_MAX) {
			unwanted_locked(task, reply->ids[i], generation);
			continue; /* its fd is closed below */
		}
		pool->ready[pool->count++] = (struct pooled){
			.reply = batch_member(reply, i),
			.fd = fds->fd[i],
			.generation = generation,
		};
		fds->fd[i] = -1;
	}
	/* Those taken above are the pool's; close only what is left. */
	for (size_t i = 0; i < fds->n; i++)
		if (fds->fd[i] >= 0)
			close(fds->fd[i]);
	fds->n = 0;
}

/* Sends an allocate-n for what the pool lacks, when it is down to half and none is in flight. */
static void fill(struct iobuf_task *task)
{
	struct task_pool *pool = &task->pool;
	struct wire_message request = { .header.opcode = WIRE_ALLOCATE_N };
	uintptr_t epoch;
	unsigned lacking;

	pthread_mutex_lock(&task->lock);
	if (pool->target == 0 || pool->filling || task->broken || pool->count * 2 > pool->target) {
		pthread_mutex_unlock(&task->lock);
		return;
	}
	lacking = pool->target - (unsigned)pool->count;
	pool->filling = true;
	epoch = pool->epoch;
	request.allocate_n = (struct wire_allocate_n){
		.count = lacking,
		.flags = WIRE_BATCH_POOLED,
		.allocate = { .options = pool->options, .capacity = pool->capacity,
			      .alignment = pool->alignment, .spec.present = true },
	};
	pthread_mutex_unlock(&task->lock);
	pool_send_claims(task);
	task_get_label(task, request.allocate_n.allocate.spec.label,
		       sizeof(request.allocate_n.allocate.spec.label));
	if (task_send_pool_fill(task, &request, epoch) < 0) {
		pthread_mutex_lock(&task->lock);
		pool->filling = false;
		pthread_mutex_unlock(&task->lock);
	}
}

static bool pool_serves_locked(const struct task_pool *pool, uint32_t options, size_t capacity,
			       size_t alignment)
{
	return pool->target && pool->options == options && pool->capacity == capacity &&
	       pool->alignment == alignment;
}

/* Notes that a buffer left the pool; the daemon hears of it with the next fill or flush. */
static void claim_locked(struct task_pool *pool, const struct pooled *taken)
{
	if (pool->claimed_count && pool->claimed_generation != taken->generation)
		pool->claimed_count = 0; /* of a connection that is gone */
	if (pool->claimed_count < IOBUF_BATCH_MAX) {
		pool->claimed[pool->claimed_count++] = taken->reply.id;
		pool->claimed_generation = taken->generation;
	}
}

void pool_send_claims(struct iobuf_task *task)
{
	struct wire_message request = { .header.opcode = WIRE_CLAIM };
	uint64_t generation;

	pthread_mutex_lock(&task->lock);
	request.claim.count = (uint32_t)task->pool.claimed_count;
	memcpy(request.claim.ids, task->pool.claimed, request.claim.count * sizeof(uint64_t));
	generation = task->pool.claimed_generation;
	task->pool.claimed_count = 0;
	pthread_mutex_unlock(&task->lock);
	if (request.claim.count)
		(void)task_send_on(task, generation, &request);
}

struct iobuf *pool_take(struct iobuf_task *task, uint32_t options, size_t capacity,
			size_t alignment)
{
	struct task_pool *pool = &task->pool;
	struct pooled taken = { .fd = -1 };
	bool stale, low;

	pthread_mutex_lock(&task->lock);
	if (!pool_serves_locked(pool, options, capacity, alignment)) {
		pthread_mutex_unlock(&task->lock);
		return NULL;
	}
	low = pool->filling && pool->count * 2 <= pool->target;
	pthread_mutex_unlock(&task->lock);
	/* Running low with a fill in flight: take its answer if it has come. */
	if (low)
		task_read_available(task);
	pthread_mutex_lock(&task->lock);
	if (!pool_serves_locked(pool, options, capacity, alignment)) {
		pthread_mutex_unlock(&task->lock);
		return NULL;
	}
	while (pool->count > 0 && taken.fd < 0) {
		taken = pool->ready[0];
		memmove(pool->ready, pool->ready + 1, --pool->count * sizeof(pool->ready[0]));
		/* From a connection that broke: the daemon has let it go already. */
		stale = taken.generation != task->generation || task->broken;
		if (stale) {
			close(taken.fd);
			taken.fd = -1;
		}
	}
	if (taken.fd >= 0)
		claim_locked(pool, &taken);
	pthread_mutex_unlock(&task->lock);
	fill(task);
	if (taken.fd < 0)
		return NULL;
	return buffer_adopt(task, taken.generation, &taken.reply, taken.fd, capacity, alignment);
}

/* Gives back what the pool holds: closed here, freed in the daemon without waiting. */
static void give_back_ready(struct iobuf_task *task, struct pooled *ready, size_t count)
{
	for (size_t i = 0; i < count; i++)
		buffer_give_back(task, ready[i].generation, ready[i].reply.id, ready[i].fd);
}

IOBUF_EXPORT int iobuf_task_set_pool(struct iobuf_task *task, uint32_t options, size_t capacity,
				     size_t alignment, unsigned count)
{
	struct pooled dropped[IOBUF_BATCH_MAX];
	struct task_pool *pool;
	size_t n_dropped;

	if (!task)
		return error_set(-EINVAL, "task must not be NULL");
	if (count > IOBUF_BATCH_MAX)
		return error_set(-EINVAL, "a pool keeps at most %d buffers ready, not %u",
				 IOBUF_BATCH_MAX, count);
	pool = &task->pool;
	pool_send_claims(task);
	pthread_mutex_lock(&task->lock);
	n_dropped = pool->count;
	memcpy(dropped, pool->ready, n_dropped * sizeof(dropped[0]));
	*pool = (struct task_pool){ .target = count, .options = options, .capacity = capacity,
				    .alignment = alignment, .filling = pool->filling,
				    .epoch = pool->epoch + 1 };
	pthread_mutex_unlock(&task->lock);
	give_back_ready(task, dropped, n_dropped);
	fill(task);
	return 0;
}

void pool_drop(struct iobuf_task *task)
{
	for (size_t i = 0; i < task->pool.count; i++)
		close(task->pool.ready[i].fd);
	task->pool.count = 0;
}
