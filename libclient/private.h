/* SPDX-License-Identifier: MIT */
/* libiobuf internals shared between its files. */
#ifndef IOBUF_LIBCLIENT_PRIVATE_H
#define IOBUF_LIBCLIENT_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "iobuf/iobuf.h"
#include "wire.h"

#define IOBUF_EXPORT __attribute__((visibility("default")))

struct pending;

/* The fds that came with a reply. */
struct passed_fds {
	int fd[WIRE_MAX_BATCH];
	size_t n;
};

static inline void passed_fds_close(struct passed_fds *fds)
{
	for (size_t i = 0; i < fds->n; i++)
		close(fds->fd[i]);
	fds->n = 0;
}

/* Buffers made for callers that gave up waiting, freed by the next request sent. */
#define TASK_ORPHANS_MAX 64

/* A buffer the pool holds ready: the allocate-n reply's part for it. */
struct pooled {
	struct wire_allocate_reply reply;
	int fd;
	uint64_t generation;
};

/* Buffers of one kind kept ready for a task (pool.c), guarded by the task's lock. */
struct task_pool {
	unsigned target; /* how many to keep ready; 0: no pool */
	uint32_t options;
	size_t capacity;
	size_t alignment;
	bool filling; /* an allocate-n for it is in flight */
	uint64_t claimed[IOBUF_BATCH_MAX]; /* taken since the daemon was last told */
	size_t claimed_count;
	uint64_t claimed_generation;
	uintptr_t epoch; /* counts iobuf_task_set_pool() calls: a fill of an older one is not wanted */
	size_t count;
	struct pooled ready[IOBUF_BATCH_MAX];
};

struct iobuf_task {
	atomic_int refs;
	pid_t pid; /* the process that opened the connection */
	char path[108]; /* the daemon's socket */
	atomic_uint timeout_ms; /* for each call; 0: wait forever */
	int charge_pidfd; /* iobuf_task_for_pidfd: charged again on a new connection; else -1 */
	pthread_mutex_t label_lock; /* guards label */
	char label[IOBUF_LABEL_MAX + 1]; /* for its buffers that are given none */

	/* The connection and the requests in flight on it (pipeline.c). */
	pthread_mutex_t send_lock; /* one sender at a time, so the queue is in the order sent */
	pthread_mutex_t lock;      /* guards what follows; never held across a wait */
	pthread_cond_t changed;    /* a reply was handed out, or nobody reads any more */
	int sock;                  /* -1 while closed */
	int sock_users;            /* threads in a call on sock: the last closes a broken one */
	bool broken;               /* the next call opens a new connection */
	bool reading;              /* a thread reads replies for everyone */
	uint64_t generation;       /* of the connection, counting from 1; ids are per connection */
	uint32_t next_request_id;
	struct pending *first, *last;           /* sent and not answered, in order */
	struct pending *completed, *completed_last; /* answered, for iobuf_task_dispatch() */
	size_t unwaited;           /* requests in flight that no thread waits for */
	uint64_t orphans[TASK_ORPHANS_MAX];
	size_t orphan_count;
	uint64_t orphan_generation;
	int deferred_error;        /* of a request nobody waited for, for iobuf_task_flush() */
	char deferred_message[WIRE_MAX_ERROR_MESSAGE + 128];
	int epoll_fd;              /* iobuf_task_get_fd(), -1 until asked for */
	struct task_pool pool;
};

struct iobuf {
	atomic_int refs;
	struct iobuf_task *task;
	uint64_t id;
	uint64_t generation; /* of the task's connection that made it */
	int fd;
	void *map;       /* the whole mapping, NULL when not mappable */
	size_t map_size;
	size_t capacity;
	size_t length;
	uint32_t options;   /* as granted */
	uint32_t flags;     /* WIRE_BUFFER_* */
	uint32_t direction;
	pthread_mutex_t sync_lock; /* guards what follows */
	unsigned prepared;  /* iobuf_prepare() calls not yet completed */
	bool cpu_access;    /* a DMA_BUF_SYNC_START of ours is not yet ended */
	char heap[WIRE_MAX_HEAP_NAME + 1];
	char label[IOBUF_LABEL_MAX + 1];
	bool is_image;
	struct iobuf_image image; /* when is_image */
};

/*
 * error.c: records the message for iobuf_last_error(), sets errno to -error
 * and returns error, a negative errno (see error.c).
 */
int error_set(int error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_clear(void);

/* task.c */
struct iobuf_task *task_ref(struct iobuf_task *task);
/* The task's label for buffers given none, into out. */
void task_get_label(struct iobuf_task *task, char *out, size_t size);
/* Whether this process opened the task's connection (not a forked child). */
int task_is_own(const struct iobuf_task *task);
/* When a call must be over, and the timeout that set it (for messages). */
struct deadline {
	uint64_t at_ns; /* CLOCK_MONOTONIC; NO_DEADLINE: wait forever */
	unsigned timeout_ms;
};

#define NO_DEADLINE UINT64_MAX

/* socket.c: the deadline of a call on task, from its timeout. */
struct deadline task_deadline(struct iobuf_task *task);
/* The deadline as pthread_*_clock*() take it (CLOCK_MONOTONIC). */
struct timespec deadline_timespec(const struct deadline *dl);
/* A connected socket to the daemon at path, or a negative errno with the message set. */
int open_socket(const char *path, const struct deadline *dl);
/* hello, and charge-to for a task charging another, on a new connection's socket. */
int greet(struct iobuf_task *task, int sock, const struct deadline *dl);
/* One record sent (with send_fd, or -1) or received (its fds into *fds), within dl. */
int send_within(int sock, const struct wire_message *request, int send_fd,
		const struct deadline *dl);
int recv_within(int sock, struct wire_message *reply, struct passed_fds *fds,
		const char **reason, const struct deadline *dl);
/* Whether a connection failed because the daemon closed it (not a timeout or a bad reply). */
bool closed_by_daemon(int error);

/*
 * pool.c: takes the buffers of an allocate-n sent for the pool (reply NULL:
 * it failed), the task's lock held; and drops what the pool holds, for the
 * last unref.
 */
void pool_filled_locked(struct iobuf_task *task, const struct wire_allocate_n_reply *reply,
			struct passed_fds *fds, uint64_t generation, uintptr_t epoch);
void pool_drop(struct iobuf_task *task);
/* A buffer of the pool for this kind, adopted, or NULL (none ready: allocate as usual). */
struct iobuf *pool_take(struct iobuf_task *task, uint32_t options, size_t capacity,
			size_t alignment);
/* Tells the daemon, without waiting, which buffers were taken out of the pool. */
void pool_send_claims(struct iobuf_task *task);

/* pipeline.c: opens the task's connection (hello, charge-to). 0 or a negative errno. */
int task_connect(struct iobuf_task *task);
/* Closes the connection and drops what is in flight, for the last unref. */
void task_connection_free(struct iobuf_task *task);
/*
 * Sends request and waits for its reply. A WIRE_ERROR reply becomes the
 * negative errno with the daemon's message as last error. *fd (may be NULL
 * when no fd is expected) receives a passed fd or -1.
 */
int task_call(struct iobuf_task *task, struct wire_message *request,
	      struct wire_message *reply, int *fd);
/* task_call() for a request that makes a buffer: *generation gets the connection's. */
int task_call_made(struct iobuf_task *task, struct wire_message *request,
		   struct wire_message *reply, int *fd, uint64_t *generation);
/*
 * task_call() for a request about a buffer made on the connection of
 * generation: -ESTALE with no message, and nothing sent, once that
 * connection broke (the daemon that answers now does not know the buffer).
 */
int task_call_on(struct iobuf_task *task, uint64_t generation, struct wire_message *request,
		 struct wire_message *reply);
/* Notes a buffer of the current connection nobody holds, freed by the next request sent. */
void task_orphan_locked(struct iobuf_task *task, uint64_t id);
/* Takes the replies that have come, without waiting (unless another thread reads). */
void task_read_available(struct iobuf_task *task);
/* Sends an allocate-n for the pool; its reply goes to pool_filled_locked(). */
int task_send_pool_fill(struct iobuf_task *task, struct wire_message *request, uintptr_t epoch);
/* task_call_made() for a reply with up to WIRE_MAX_BATCH fds, into *fds. */
int task_call_fds(struct iobuf_task *task, struct wire_message *request,
		  struct wire_message *reply, struct passed_fds *fds, uint64_t *generation);
/*
 * Sends request about a buffer of the connection of generation and does not
 * wait: whoever reads next takes its reply, and an error is kept for
 * iobuf_task_flush(). 0, -ESTALE (nothing sent) or another negative errno.
 */
int task_send_on(struct iobuf_task *task, uint64_t generation, struct wire_message *request);
/*
 * What iobuf_task_dispatch() calls for an asynchronous request: its reply
 * (WIRE_ERROR when error is set), the fd that came with it (the callee's to
 * close) and the connection's generation.
 */
typedef void (*task_done_fn)(struct iobuf_task *task, const struct wire_message *reply, int fd,
			     int error, uint64_t generation, void *data);
/*
 * Sends request and returns: iobuf_task_dispatch() calls done_fn once its
 * reply (or failure) is in. 0, or a negative errno when nothing was sent and
 * done_fn will not be called.
 */
int task_call_async(struct iobuf_task *task, struct wire_message *request,
		    task_done_fn done_fn, void *data);

/* map.c: maps size bytes of fd at an address with alignment's bits zero. */
int map_aligned(int fd, size_t size, size_t alignment, void **addr);

/* alloc.c: task, or the process's own task when NULL (NULL + errno on failure). */
struct iobuf_task *task_or_self(struct iobuf_task *task);
/*
 * Fills a request's spec: the heap asked for (NULL: any) and the label
 * (NULL: the task's). 0, or -EINVAL with the message set for a name or label
 * the daemon would refuse.
 */
int spec_fill(struct wire_spec *spec, struct iobuf_task *task, const char *heap,
	      const char *label);
/*
 * A descriptor for a buffer allocated on the task's connection of
 * generation, taking fd (which may be -1: the daemon sent none). On failure
 * the fd is closed, the daemon is told to free the buffer, and NULL + errno
 * is returned.
 */
struct iobuf *buffer_adopt(struct iobuf_task *task, uint64_t generation,
			   const struct wire_allocate_reply *reply, int fd, size_t capacity,
			   size_t alignment);
/* Buffer i of an allocate-n reply, as an allocate reply says one. */
struct wire_allocate_reply batch_member(const struct wire_allocate_n_reply *reply, size_t i);
/*
 * Gives back, unseen, buffer id of the connection of generation: closes fd
 * (unless -1) and sends the free without waiting.
 */
void buffer_give_back(struct iobuf_task *task, uint64_t generation, uint64_t id, int fd);

/* buffer.c: a descriptor for an allocate reply; takes fd and a task ref. */
struct iobuf *buffer_new(struct iobuf_task *task, uint64_t generation,
			 const struct wire_allocate_reply *reply, int fd, size_t capacity,
			 size_t alignment);

#endif
