/* SPDX-License-Identifier: MIT */
/*
 * A task's connection and the requests in flight on it.
 *
 * Any number of threads send requests; each is queued (in the order sent,
 * which is the order the daemon answers in) and matched to its reply by
 * request id. A thread waiting for a reply reads the socket for everyone
 * while no other thread does ("whoever waits reads") and hands each reply
 * to its request. A request nobody waits for (a free, an asynchronous
 * allocation) is completed by whoever reads next.
 *
 * Every wait on the daemon (connect, send, receive) ends at the call's
 * deadline. A call whose deadline passes abandons its request: the reply,
 * when it comes, is dropped (a buffer it made is freed) and the connection
 * stays. A connection the daemon closed, or that carried a reply out of
 * turn, is broken: every request in flight fails, and the next call opens
 * a new one (a new generation; the ids of the old one mean nothing to the
 * daemon that answers now).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

/* Replies nobody waits for that may be outstanding before a release drains them. */
#define UNWAITED_DRAIN 32
/* ... and before it waits for some: the daemon's send buffer to us must not fill. */
#define UNWAITED_MAX 128

enum pending_kind {
	PENDING_WAITED,    /* a thread waits for it */
	PENDING_DETACHED,  /* a free nobody waits for: an error is kept for iobuf_task_flush() */
	PENDING_ASYNC,     /* completed by iobuf_task_dispatch() */
	PENDING_POOL,      /* an allocate-n that fills the task's pool (pool.c) */
	PENDING_ABANDONED, /* its caller gave up waiting: the reply is dropped */
};

struct pending {
	struct pending *next;
	enum pending_kind kind;
	uint32_t request_id;
	uint16_t opcode; /* the request's */
	uint64_t generation;
	bool sending; /* its sender is still in send(): a break or a reply leaves it to it */
	bool done;
	int error; /* 0, or a negative errno with message */
	char message[WIRE_MAX_ERROR_MESSAGE + 128];
	struct wire_message reply;
	struct passed_fds fds; /* passed with the reply */
	task_done_fn done_fn; /* PENDING_ASYNC */
	void *data;
};

static void close_socket_locked(struct iobuf_task *task)
{
	close(task->sock);
	task->sock = -1;
}

void task_orphan_locked(struct iobuf_task *task, uint64_t id)
{
	if (task->orphan_count < TASK_ORPHANS_MAX) {
		task->orphans[task->orphan_count++] = id;
		task->orphan_generation = task->generation;
	}
}

/* Notes the buffers a reply nobody takes made, for the next sender to free. */
static void orphan_made_locked(struct iobuf_task *task, const struct wire_message *reply)
{
	switch (reply->header.opcode) {
	case WIRE_ALLOCATE_REPLY:
		task_orphan_locked(task, reply->allocate_reply.id);
		break;
	case WIRE_ALLOCATE_IMAGE_REPLY:
		task_orphan_locked(task, reply->allocate_image_reply.buffer.id);
		break;
	case WIRE_ALLOCATE_N_REPLY:
		for (uint32_t i = 0; i < reply->allocate_n_reply.count; i++)
			task_orphan_locked(task, reply->allocate_n_reply.ids[i]);
		break;
	}
}

/* Puts p at the end of the queue that first and last hold. */
static void queue_append(struct pending **first, struct pending **last, struct pending *p)
{
	p->next = NULL;
	if (*last)
		(*last)->next = p;
	else
		*first = p;
	*last = p;
}

/* Puts a request that got its answer (or its failure) where its kind says. */
static void complete_locked(struct iobuf_task *task, struct pending *p)
{
	p->done = true;
	switch (p->kind) {
	case PENDING_WAITED:
		return; /* its thread wakes up: the caller broadcasts */
	case PENDING_ASYNC:
		queue_append(&task->completed, &task->completed_last, p);
		return;
	case PENDING_POOL:
		pool_filled_locked(task, p->error ? NULL : &p->reply.allocate_n_reply, &p->fds,
				   p->generation, (uintptr_t)p->data);
		break;
	case PENDING_DETACHED:
		if (p->error && !closed_by_daemon(p->error) && p->error != -ESTALE &&
		    !task->deferred_error) {
			task->deferred_error = p->error;
			snprintf(task->deferred_message, sizeof(task->deferred_message), "%s",
				 p->message);
		}
		break;
	case PENDING_ABANDONED:
		/* What an allocation its caller gave up on made is freed by the next sender. */
		if (!p->error && p->generation == task->generation && !task->broken)
			orphan_made_locked(task, &p->reply);
		break;
	}
	passed_fds_close(&p->fds);
	free(p);
}

static void fail_locked(struct pending *p, int error, const char *message)
{
	p->error = error;
	snprintf(p->message, sizeof(p->message), "%s", message);
}

/* A request in flight when the daemon hung up: what it was and where it went. */
static void fail_lost_locked(const struct iobuf_task *task, struct pending *p)
{
	p->error = -ECONNRESET;
	snprintf(p->message, sizeof(p->message), "connection to iobufd at %s lost before it "
		 "answered %s", task->path, wire_opcode_name(p->opcode));
}

/*
 * The connection is lost or its replies are out of turn: every request in
 * flight fails with error and message (NULL: the daemon hung up, each
 * request says so by its name), and the socket closes once no thread uses
 * it (a reader may still be in poll(): shutdown wakes it).
 */
static void break_locked(struct iobuf_task *task, int error, const char *message)
{
	struct pending *p, *next;

	if (!task->broken && task->sock >= 0)
		shutdown(task->sock, SHUT_RDWR);
	task->broken = true;
	for (p = task->first; p; p = next) {
		next = p->next;
		if (message)
			fail_locked(p, error, message);
		else
			fail_lost_locked(task, p);
		p->next = NULL;
		if (p->sending)
			continue; /* its sender completes it */
		complete_locked(task, p);
	}
	task->first = task->last = NULL;
	task->unwaited = 0;
	task->orphan_count = 0;
	if (task->sock >= 0 && task->sock_users == 0)
		close_socket_locked(task);
	pthread_cond_broadcast(&task->changed);
}

/* Hands a reply to the request at the head of the queue. */
static void deliver_locked(struct iobuf_task *task, const struct wire_message *reply,
			   struct passed_fds *fds)
{
	struct pending *p = task->first;
	char message[WIRE_MAX_ERROR_MESSAGE + 128];
	bool error = reply->header.opcode == WIRE_ERROR;

	/* The daemon says why it hangs up (too many clients) with request id 0. */
	if (error && reply->header.request_id == 0 && (!p || p->request_id != 0)) {
		passed_fds_close(fds);
		break_locked(task, -reply->error.error, reply->error.message);
		return;
	}
	if (!p || reply->header.request_id != p->request_id ||
	    (!error && reply->header.opcode != (p->opcode | WIRE_REPLY))) {
		snprintf(message, sizeof(message), "iobufd answered %s to %s",
			 wire_opcode_name(reply->header.opcode),
			 p ? wire_opcode_name(p->opcode) : "nothing asked");
		passed_fds_close(fds);
		break_locked(task, -EPROTO, message);
		return;
	}
	task->first = p->next;
	if (!task->first)
		task->last = NULL;
	if (p->kind != PENDING_WAITED && task->unwaited > 0)
		task->unwaited--;
	p->reply = *reply;
	p->fds = *fds;
	p->next = NULL;
	if (error)
		fail_locked(p, -reply->error.error, reply->error.message);
	if (p->sending)
		p->done = true; /* its sender, still in send(), completes it */
	else
		complete_locked(task, p);
	pthread_cond_broadcast(&task->changed);
}

/*
 * Reads one record for whoever waits, the lock held on entry and exit but
 * not while reading. The caller made sure no other thread reads. dl NULL:
 * only what is there already (-EAGAIN when nothing is).
 */
static int read_one_locked(struct iobuf_task *task, const struct deadline *dl)
{
	char message[WIRE_MAX_ERROR_MESSAGE + 128];
	struct wire_message reply;
	struct passed_fds fds = { .n = 0 };
	const char *reason = NULL;
	int sock = task->sock, r;

	task->reading = true;
	task->sock_users++;
	pthread_mutex_unlock(&task->lock);
	if (dl)
		r = recv_within(sock, &reply, &fds, &reason, dl);
	else
		r = wire_recv_fds(sock, &reply, fds.fd, WIRE_MAX_BATCH, &fds.n, MSG_DONTWAIT,
				  &reason);
	pthread_mutex_lock(&task->lock);
	task->reading = false;
	task->sock_users--;
	if (task->broken) {
		/* Broken meanwhile: what came is for a connection that is gone. */
		passed_fds_close(&fds);
		if (task->sock_users == 0 && task->sock >= 0)
			close_socket_locked(task);
	} else if (r == 0) {
		deliver_locked(task, &reply, &fds);
	} else if (r == -ECONNRESET) {
		break_locked(task, r, NULL);
	} else if (r != -ETIMEDOUT && r != -EAGAIN) {
		snprintf(message, sizeof(message), "bad reply from iobufd: %s",
			 reason ? reason : strerror(-r));
		break_locked(task, r, message);
	}
	pthread_cond_broadcast(&task->changed);
	return r;
}

/* Completes what has arrived already, without waiting; the lock held. */
static void read_available_locked(struct iobuf_task *task)
{
	while (!task->reading && !task->broken && task->first && read_one_locked(task, NULL) == 0)
		;
}

void task_read_available(struct iobuf_task *task)
{
	pthread_mutex_lock(&task->lock);
	read_available_locked(task);
	pthread_mutex_unlock(&task->lock);
}

/*
 * Waits, the lock held, until p is done or the deadline passes (then p is
 * abandoned to whoever reads its reply, and -ETIMEDOUT returned).
 */
static int wait_locked(struct iobuf_task *task, struct pending *p, const struct deadline *dl)
{
	struct timespec at = deadline_timespec(dl);
	int r;

	while (!p->done) {
		if (!task->reading) {
			r = read_one_locked(task, dl);
			if (r == -ETIMEDOUT && !p->done)
				break;
			continue;
		}
		if (dl->at_ns == NO_DEADLINE)
			r = pthread_cond_wait(&task->changed, &task->lock);
		else
			r = pthread_cond_clockwait(&task->changed, &task->lock, CLOCK_MONOTONIC, &at);
		if (r == ETIMEDOUT && !p->done)
			break;
	}
	if (p->done)
		return 0;
	p->kind = PENDING_ABANDONED;
	task->unwaited++;
	return -ETIMEDOUT;
}

/* Publishes a new connection's socket; the lock held, no request in flight. */
static void use_socket_locked(struct iobuf_task *task, int sock)
{
	task->sock = sock;
	task->broken = false;
	task->generation++;
	if (task->epoll_fd >= 0)
		(void)epoll_ctl(task->epoll_fd, EPOLL_CTL_ADD, sock,
				&(struct epoll_event){ .events = EPOLLIN });
}

/*
 * Opens a new connection when the task's is broken (or not yet open). 1
 * when it did, 0 when the connection was fine, or a negative errno.
 */
static int ensure_open(struct iobuf_task *task, const struct deadline *dl)
{
	struct timespec at = deadline_timespec(dl);
	int sock, r = 0;

	if (dl->at_ns == NO_DEADLINE)
		r = pthread_mutex_lock(&task->send_lock);
	else
		r = pthread_mutex_clocklock(&task->send_lock, CLOCK_MONOTONIC, &at);
	if (r == ETIMEDOUT)
		return error_set(-ETIMEDOUT, "another thread's request to iobufd at %s was not "
				 "sent within %u ms", task->path, dl->timeout_ms);
	pthread_mutex_lock(&task->lock);
	/* A reader still in poll() on the old socket closes it on its way out. */
	while (task->broken && task->sock >= 0)
		pthread_cond_wait(&task->changed, &task->lock);
	if (!task->broken) {
		pthread_mutex_unlock(&task->lock);
		pthread_mutex_unlock(&task->send_lock);
		return 0;
	}
	pthread_mutex_unlock(&task->lock);
	r = sock = open_socket(task->path, dl);
	if (sock >= 0) {
		r = greet(task, sock, dl);
		if (r < 0)
			close(sock);
	}
	if (r >= 0) {
		pthread_mutex_lock(&task->lock);
		use_socket_locked(task, sock);
		pthread_mutex_unlock(&task->lock);
		r = 1;
	}
	pthread_mutex_unlock(&task->send_lock);
	return r;
}

int task_connect(struct iobuf_task *task)
{
	struct deadline dl = task_deadline(task);
	int r = ensure_open(task, &dl);

	return r < 0 ? r : 0;
}

/* Takes p out of the queue, where it is (it may not be: a break empties the queue). */
static void unqueue_locked(struct iobuf_task *task, struct pending *p)
{
	struct pending **link = &task->first, *prev = NULL;

	while (*link && *link != p) {
		prev = *link;
		link = &(*link)->next;
	}
	if (!*link)
		return;
	*link = p->next;
	if (task->last == p)
		task->last = prev;
	if (p->kind != PENDING_WAITED && task->unwaited > 0)
		task->unwaited--;
}

/*
 * Queues p and sends request, send_lock held. Queued first: its reply may
 * come (and another thread read it) before send returns. On failure p
 * failed too (and, unless waited for, went where its kind says).
 */
static int send_queued(struct iobuf_task *task, struct pending *p, struct wire_message *request,
		       int send_fd, const uint64_t *bound, const struct deadline *dl)
{
	char message[WIRE_MAX_ERROR_MESSAGE + 128] = "";
	int sock, r;

	p->fds.n = 0;
	p->next = NULL;
	pthread_mutex_lock(&task->lock);
	if (task->broken || (bound && task->generation != *bound)) {
		r = bound ? -ESTALE : -EPIPE;
		snprintf(message, sizeof(message), "connection to iobufd at %s lost", task->path);
		goto failed;
	}
	request->header.request_id = task->next_request_id++;
	p->request_id = request->header.request_id;
	p->opcode = request->header.opcode;
	p->generation = task->generation;
	p->sending = true;
	queue_append(&task->first, &task->last, p);
	if (p->kind != PENDING_WAITED)
		task->unwaited++;
	sock = task->sock;
	task->sock_users++;
	pthread_mutex_unlock(&task->lock);
	r = send_within(sock, request, send_fd, dl);
	pthread_mutex_lock(&task->lock);
	task->sock_users--;
	p->sending = false;
	if (r == 0 && !p->error) {
		/* Answered already (another thread read it), or still to come. */
		if (p->done && p->kind != PENDING_WAITED)
			complete_locked(task, p);
		pthread_mutex_unlock(&task->lock);
		return 0;
	}
	if (p->error) {
		r = p->error; /* the connection broke meanwhile */
		snprintf(message, sizeof(message), "%s", p->message);
	} else if (r == -ETIMEDOUT) {
		snprintf(message, sizeof(message), "iobufd at %s took no %s request within %u ms",
			 task->path, wire_opcode_name(request->header.opcode), dl->timeout_ms);
	} else {
		snprintf(message, sizeof(message), "connection to iobufd at %s lost: %s",
			 task->path, strerror(-r));
	}
	unqueue_locked(task, p);
	if (closed_by_daemon(r)) {
		r = -EPIPE;
		break_locked(task, r, message);
	}
failed:
	if (task->broken && task->sock >= 0 && task->sock_users == 0)
		close_socket_locked(task);
	fail_locked(p, r, message);
	p->done = true;
	if (p->kind != PENDING_WAITED)
		complete_locked(task, p);
	pthread_cond_broadcast(&task->changed);
	pthread_mutex_unlock(&task->lock);
	return r;
}

/* Frees what allocations their callers gave up on made (complete_locked() noted them). */
static void send_orphan_frees(struct iobuf_task *task, const struct deadline *dl)
{
	struct wire_message request = { .header.opcode = WIRE_FREE };
	struct pending *p;
	uint64_t id, generation;

	for (;;) {
		pthread_mutex_lock(&task->lock);
		if (task->orphan_count == 0) {
			pthread_mutex_unlock(&task->lock);
			return;
		}
		id = task->orphans[--task->orphan_count];
		generation = task->orphan_generation;
		pthread_mutex_unlock(&task->lock);
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->kind = PENDING_DETACHED;
		request.free.id = id;
		(void)send_queued(task, p, &request, -1, &generation, dl);
	}
}

/* send_queued() after the orphans' frees, taking send_lock. */
static int send_request(struct iobuf_task *task, struct pending *p,
			struct wire_message *request, int send_fd, const uint64_t *bound,
			const struct deadline *dl)
{
	int r;

	pthread_mutex_lock(&task->send_lock);
	send_orphan_frees(task, dl);
	r = send_queued(task, p, request, send_fd, bound, dl);
	pthread_mutex_unlock(&task->send_lock);
	return r;
}

/*
 * Takes a waited request's outcome: its reply and the fds that came with it
 * (at most max: 0 when none is expected), or its error as the thread's.
 */
static int outcome(struct pending *p, struct wire_message *reply, struct passed_fds *fds,
		   size_t max)
{
	if (p->error) {
		passed_fds_close(&p->fds);
		return error_set(p->error, "%s", p->message);
	}
	if (p->fds.n > max) {
		passed_fds_close(&p->fds);
		return error_set(-EPROTO, "iobufd passed %zu fds with %s", p->fds.n,
				 wire_opcode_name(p->reply.header.opcode));
	}
	*reply = p->reply;
	if (fds)
		*fds = p->fds;
	return 0;
}

static int own_task(struct iobuf_task *task)
{
	if (!task_is_own(task))
		return error_set(-ECHILD, "this task's connection belongs to process %d; "
				 "connect again in the child", (int)task->pid);
	return 0;
}

/* One request, sent and waited for; the waited pending lives on the heap in case it is abandoned. */
static int call_once(struct iobuf_task *task, struct wire_message *request, int send_fd,
		     struct wire_message *reply, struct passed_fds *fds, size_t max,
		     const uint64_t *bound, uint64_t *generation, const struct deadline *dl)
{
	const char *name = wire_opcode_name(request->header.opcode);
	struct pending *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return error_set(-ENOMEM, "out of memory");
	p->kind = PENDING_WAITED;
	r = send_request(task, p, request, send_fd, bound, dl);
	if (r < 0) {
		r = r == -ESTALE ? -ESTALE : error_set(r, "%s", p->message);
		free(p);
		return r;
	}
	pthread_mutex_lock(&task->lock);
	r = wait_locked(task, p, dl);
	if (r == -ETIMEDOUT) {
		/* p is the reader's now. */
		pthread_mutex_unlock(&task->lock);
		return error_set(r, "iobufd at %s did not answer %s within %u ms", task->path,
				 name, dl->timeout_ms);
	}
	if (generation)
		*generation = p->generation;
	pthread_mutex_unlock(&task->lock);
	r = outcome(p, reply, fds, max);
	free(p);
	return r;
}

/*
 * The request, opening a new connection first when the task's is broken. A
 * connection the daemon closed before answering is replaced once and the
 * request sent again: the daemon released whatever that connection held, so
 * the first attempt left nothing behind. A request about a buffer (bound)
 * goes only on the connection that made it.
 */
static int call(struct iobuf_task *task, struct wire_message *request, int send_fd,
		struct wire_message *reply, struct passed_fds *fds, size_t max,
		const uint64_t *bound, uint64_t *generation)
{
	struct deadline dl = task_deadline(task);
	int opened = 0, r;

	if (fds)
		fds->n = 0;
	r = own_task(task);
	if (r < 0)
		return r;
	if (!bound) {
		opened = ensure_open(task, &dl);
		if (opened < 0)
			return opened;
	}
	r = call_once(task, request, send_fd, reply, fds, max, bound, generation, &dl);
	if (closed_by_daemon(r) && !bound && !opened) {
		r = ensure_open(task, &dl);
		if (r >= 0)
			r = call_once(task, request, send_fd, reply, fds, max, bound, generation,
				      &dl);
	}
	return r;
}

/* call() for a request answered with at most one fd, into *fd (-1 for none). */
static int call_one_fd(struct iobuf_task *task, struct wire_message *request,
		       struct wire_message *reply, int *fd, const uint64_t *bound,
		       uint64_t *generation)
{
	struct passed_fds fds;
	int r;

	r = call(task, request, -1, reply, &fds, fd ? 1 : 0, bound, generation);
	if (fd)
		*fd = r == 0 && fds.n ? fds.fd[0] : -1;
	return r;
}

int task_call(struct iobuf_task *task, struct wire_message *request,
	      struct wire_message *reply, int *fd)
{
	return call_one_fd(task, request, reply, fd, NULL, NULL);
}

int task_call_made(struct iobuf_task *task, struct wire_message *request,
		   struct wire_message *reply, int *fd, uint64_t *generation)
{
	return call_one_fd(task, request, reply, fd, NULL, generation);
}

int task_call_fds(struct iobuf_task *task, struct wire_message *request,
		  struct wire_message *reply, struct passed_fds *fds, uint64_t *generation)
{
	return call(task, request, -1, reply, fds, WIRE_MAX_BATCH, NULL, generation);
}

int task_call_on(struct iobuf_task *task, uint64_t generation, struct wire_message *request,
		 struct wire_message *reply)
{
	return call_one_fd(task, request, reply, NULL, &generation, NULL);
}

/* Keeps the replies nobody waits for from filling the daemon's send buffer. */
static void drain_unwaited(struct iobuf_task *task, const struct deadline *dl)
{
	pthread_mutex_lock(&task->lock);
	if (task->unwaited >= UNWAITED_DRAIN)
		read_available_locked(task);
	while (task->unwaited >= UNWAITED_MAX && !task->broken) {
		if (task->reading) {
			struct timespec at = deadline_timespec(dl);

			if (dl->at_ns == NO_DEADLINE)
				pthread_cond_wait(&task->changed, &task->lock);
			else if (pthread_cond_clockwait(&task->changed, &task->lock,
							CLOCK_MONOTONIC, &at) == ETIMEDOUT)
				break;
		} else if (read_one_locked(task, dl) == -ETIMEDOUT) {
			break;
		}
	}
	pthread_mutex_unlock(&task->lock);
}

int task_send_on(struct iobuf_task *task, uint64_t generation, struct wire_message *request)
{
	struct deadline dl = task_deadline(task);
	struct pending *p;
	int r;

	if (!task_is_own(task))
		return -ECHILD;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->kind = PENDING_DETACHED;
	r = send_request(task, p, request, -1, &generation, &dl);
	if (r == 0)
		drain_unwaited(task, &dl);
	return r;
}

int task_send_pool_fill(struct iobuf_task *task, struct wire_message *request, uintptr_t epoch)
{
	struct deadline dl = task_deadline(task);
	struct pending *p;

	if (!task_is_own(task))
		return -ECHILD;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->kind = PENDING_POOL;
	p->data = (void *)epoch;
	/* On failure the pool hears of it as of a reply. */
	return send_request(task, p, request, -1, NULL, &dl);
}

int task_call_async(struct iobuf_task *task, struct wire_message *request,
		    task_done_fn done_fn, void *data)
{
	struct deadline dl = task_deadline(task);
	struct pending *p;
	int r;

	r = own_task(task);
	if (r >= 0)
		r = ensure_open(task, &dl);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return error_set(-ENOMEM, "out of memory");
	*p = (struct pending){ .kind = PENDING_ASYNC, .done_fn = done_fn, .data = data };
	/* A failure to send completes it too: its callback reports it. */
	(void)send_request(task, p, request, -1, NULL, &dl);
	return 0;
}

IOBUF_EXPORT int iobuf_task_dispatch(struct iobuf_task *task)
{
	struct pending *done, *next;
	int n = 0;

	if (!task)
		return error_set(-EINVAL, "task must not be NULL");
	pthread_mutex_lock(&task->lock);
	read_available_locked(task);
	done = task->completed;
	task->completed = task->completed_last = NULL;
	pthread_mutex_unlock(&task->lock);
	for (; done; done = next, n++) {
		next = done->next;
		if (done->error)
			error_set(done->error, "%s", done->message);
		done->done_fn(task, &done->reply, done->fds.n ? done->fds.fd[0] : -1, done->error,
			      done->generation, done->data);
		free(done);
	}
	return n;
}

IOBUF_EXPORT int iobuf_task_get_fd(struct iobuf_task *task)
{
	int epoll_fd, r = 0;

	if (!task)
		return error_set(-EINVAL, "task must not be NULL");
	pthread_mutex_lock(&task->lock);
	if (task->epoll_fd < 0) {
		epoll_fd = epoll_create1(EPOLL_CLOEXEC);
		if (epoll_fd < 0)
			r = error_set(-errno, "cannot make the task's fd: %s", strerror(errno));
		else if (task->sock >= 0 && !task->broken &&
			 epoll_ctl(epoll_fd, EPOLL_CTL_ADD, task->sock,
				   &(struct epoll_event){ .events = EPOLLIN }) < 0)
			r = error_set(-errno, "cannot watch the task's socket: %s", strerror(errno));
		if (r < 0 && epoll_fd >= 0)
			close(epoll_fd);
		else
			task->epoll_fd = epoll_fd;
	}
	if (r == 0)
		r = task->epoll_fd;
	pthread_mutex_unlock(&task->lock);
	return r;
}

IOBUF_EXPORT int iobuf_task_flush(struct iobuf_task *task)
{
	struct wire_message request = { .header.opcode = WIRE_STATS };
	struct wire_message reply;
	int r;

	if (!task)
		return error_set(-EINVAL, "task must not be NULL");
	pool_send_claims(task);
	pthread_mutex_lock(&task->lock);
	/* Nothing in flight: nothing to wait for, and no connection to open. */
	if (!task->first && !task->deferred_error) {
		pthread_mutex_unlock(&task->lock);
		return 0;
	}
	pthread_mutex_unlock(&task->lock);
	/* Replies come in order: once this one is here, everything before it is. */
	if (task->first) {
		r = task_call(task, &request, &reply, NULL);
		if (r < 0)
			return r;
	}
	pthread_mutex_lock(&task->lock);
	r = task->deferred_error;
	if (r)
		error_set(r, "%s", task->deferred_message);
	task->deferred_error = 0;
	pthread_mutex_unlock(&task->lock);
	return r;
}

void task_connection_free(struct iobuf_task *task)
{
	struct pending *p, *next;

	for (p = task->first; p; p = next) {
		next = p->next;
		passed_fds_close(&p->fds);
		free(p);
	}
	for (p = task->completed; p; p = next) {
		next = p->next;
		passed_fds_close(&p->fds);
		free(p);
	}
	pool_drop(task);
	if (task->sock >= 0)
		close(task->sock);
	if (task->epoll_fd >= 0)
		close(task->epoll_fd);
}
