/* SPDX-License-Identifier: MIT */
/*
 * libiobuf: device-shareable buffers allocated by iobufd and charged to the
 * task that asked for them.
 *
 * A buffer descriptor (struct iobuf) is reference counted. Its memory stays
 * alive while the descriptor, or any fd the task passed on, is alive.
 *
 * Conventions:
 *  - Functions returning a pointer return NULL and set errno on failure.
 *  - Functions returning int return 0 (or a documented count) on success and
 *    a negative errno on failure.
 *  - After any failure, iobuf_last_error() describes it, in the daemon's
 *    words when the daemon refused the request.
 *  - All functions are thread-safe. A descriptor may be shared between
 *    threads; its length and direction are plain fields the caller
 *    serialises, as with any buffer.
 *
 * Waiting for the daemon: every call that waits for iobufd (to connect, to
 * take a request, to answer) waits at most the task's timeout, 5000 ms
 * unless $IOBUF_TIMEOUT_MS (milliseconds, read once per process; 0 waits
 * forever) or iobuf_task_set_timeout() says otherwise. It then fails with
 * ETIMEDOUT and a message naming the socket and what it waited for. The
 * connection stays: the late answer is dropped when it comes, and a buffer
 * it made is freed. Threads on one task do not wait for each other's
 * answers: each request is sent at once and matched to its own.
 *
 * When iobufd goes away: a task whose connection broke (the daemon closed
 * it, crashed or was restarted without keeping its connections) opens a new
 * connection, to the same socket path, on its next call; at most once per
 * call. A request not about an existing buffer
 * (allocate, image, query, usage) whose connection the daemon closed before
 * answering is sent once more on the new connection: the daemon released
 * whatever the closed connection held, so the first attempt left nothing
 * behind. Buffers already held stay
 * mapped and usable (their fds are the task's own), but the new daemon does
 * not know them: they are no longer charged to the task nor counted in its
 * usage or limits, iobuf_set_purgeable() fails with ESTALE, and the last
 * iobuf_release() only unmaps and closes. A restart that keeps its
 * connections (systemd's fd store) breaks nothing.
 *
 * Differences from IOKit. libiobuf follows IOBufferMemoryDescriptor as
 * XNU implements it (IOBufferMemoryDescriptor.cpp, IOMemoryDescriptor.cpp,
 * vm_object_purgable_control()), except where this list says, and why:
 *  - An alignment must be a power of two, up to 1 GiB (EINVAL otherwise).
 *    XNU passes any value to its allocators, which round it up or use
 *    alignment - 1 as a mask; a mapping is aligned by the same arithmetic,
 *    and a value that means different things on different paths is
 *    refused rather than guessed at.
 *  - An alignment aligns the task's mapping. Above a page it does not make
 *    the buffer PHYSICALLY_CONTIGUOUS, as XNU makes wired buffers: Linux
 *    heaps take no physical alignment, and no option is ever added or
 *    dropped silently (iobuf_get_options() is what the buffer is).
 *  - Buffers in a task may be wired. XNU refuses a buffer that is not
 *    pageable in any task but the kernel's; wired device memory for tasks
 *    is what iobufd is for.
 *  - IOBUF_PURGEABLE without IOBUF_PAGEABLE fails (EINVAL); XNU ignores the
 *    purgeable bit then. Nothing is silently dropped.
 *  - iobuf_with_options(), iobuf_with_capacity() and iobuf_with_bytes()
 *    allocate in the own task, where XNU's allocate in the kernel's.
 *  - Purgeable states are the four values of enum iobuf_purgeable_state;
 *    XNU's volatile groups, FIFO/LIFO behaviours and ordering bits or'd
 *    into a state fail with EINVAL. Volatile buffers are purged by iobufd,
 *    those made volatile longest ago first, past its volatile budget,
 *    under memory pressure or when an admin purges, not by the kernel's
 *    page-out as XNU's purgeable queues are.
 *  - iobuf_prepare() and iobuf_complete() nest and pair as IOKit's do, but
 *    do cache maintenance (DMA_BUF_IOCTL_SYNC) instead of wiring: the
 *    heap's memory is wired or pinned by the device that imports it.
 *  - iobuf_set_length() past the capacity fails with -ERANGE and
 *    iobuf_set_direction() with bits outside IOBUF_DIRECTION_MASK with
 *    -EINVAL, both changing nothing; XNU ignores the first and stores the
 *    second. iobuf_append_bytes() returns how many bytes it copied, where
 *    appendBytes() returns true.
 *  - iobuf_get_bytes_no_copy() fails with EOPNOTSUPP for a buffer the CPU
 *    cannot map (a GPU image that is not linear); XNU has no such buffer.
 */
#ifndef IOBUF_IOBUF_H
#define IOBUF_IOBUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Option bits. The values are ABI and travel on the wire unchanged. */
enum {
	/* The device writes the buffer (the CPU reads what it wrote). */
	IOBUF_DIRECTION_IN = 1u << 0,
	/* The device reads the buffer (the CPU wrote it). */
	IOBUF_DIRECTION_OUT = 1u << 1,
	IOBUF_DIRECTION_INOUT = IOBUF_DIRECTION_IN | IOBUF_DIRECTION_OUT,
	IOBUF_DIRECTION_MASK = IOBUF_DIRECTION_INOUT,

	/* Served only by a physically contiguous heap; never a fallback. */
	IOBUF_PHYSICALLY_CONTIGUOUS = 1u << 2,
	/* Not wired: shmem-backed, pages allocated on first touch. */
	IOBUF_PAGEABLE = 1u << 3,
	/* Has volatile/non-volatile/empty states. Requires IOBUF_PAGEABLE. */
	IOBUF_PURGEABLE = 1u << 4,
	/*
	 * CPU-mappable in the task and in the daemon at once. iobufd maps the
	 * buffer itself (shared, read-write) when it allocates it and keeps
	 * that mapping until the buffer is freed: the request fails with
	 * EOPNOTSUPP when no heap's memory can be mapped by both, so the task's
	 * own mapping is sure to work, and the pages stay reachable from the
	 * daemon for the buffer's whole life. iobufd itself neither reads nor
	 * writes the contents through it.
	 */
	IOBUF_KERNEL_USER_SHARED = 1u << 5,

	/* Cache mode: a 3-bit field, so modes exclude each other. */
	IOBUF_CACHE_SHIFT = 8,
	IOBUF_CACHE_MASK = 7u << IOBUF_CACHE_SHIFT,
	IOBUF_CACHE_DEFAULT = 0u << IOBUF_CACHE_SHIFT, /* granted as COPYBACK */
	IOBUF_CACHE_INHIBIT = 1u << IOBUF_CACHE_SHIFT,
	IOBUF_CACHE_WRITETHRU = 2u << IOBUF_CACHE_SHIFT,
	IOBUF_CACHE_COPYBACK = 3u << IOBUF_CACHE_SHIFT,
	IOBUF_CACHE_WRITECOMBINE = 4u << IOBUF_CACHE_SHIFT,

	/* Every bit this version knows. Others are rejected with EINVAL. */
	IOBUF_OPTIONS_KNOWN = IOBUF_DIRECTION_MASK | IOBUF_PHYSICALLY_CONTIGUOUS |
			      IOBUF_PAGEABLE | IOBUF_PURGEABLE |
			      IOBUF_KERNEL_USER_SHARED | IOBUF_CACHE_MASK,
};

/* Purgeable states, for iobuf_set_purgeable(). */
enum iobuf_purgeable_state {
	IOBUF_PURGEABLE_KEEP_CURRENT = 1, /* only read the current state */
	IOBUF_PURGEABLE_NON_VOLATILE = 2, /* contents must be kept */
	IOBUF_PURGEABLE_VOLATILE = 3,     /* contents may be discarded */
	IOBUF_PURGEABLE_EMPTY = 4,        /* contents were (or are now) discarded */
};

/* Longest heap name, without the terminating NUL. */
#define IOBUF_HEAP_NAME_MAX 63
/*
 * A buffer's label: at most 31 bytes of UTF-8 without control characters
 * (the kernel's limit for a dma-buf's name).
 */
#define IOBUF_LABEL_MAX 31

struct iobuf_task;
struct iobuf;

/*
 * The process's own task: a lazily opened connection to iobufd at
 * $IOBUFD_SOCKET, or /run/iobufd/iobufd.sock. The first call connects; later
 * calls return the same task, which reconnects to the same path when its
 * connection breaks (see "When iobufd goes away" above). In a forked child
 * the first call opens a new connection of the child's own. The returned
 * task is borrowed: do not unref it. NULL + errno when the daemon cannot be
 * reached.
 */
struct iobuf_task *iobuf_task_self(void);

/*
 * A new connection to the daemon listening at path (NULL: as
 * iobuf_task_self() chooses). Buffers allocated in it are charged to it.
 * Like the own task, it reconnects to path when its connection breaks; its
 * usage then counts only what it allocated since. Release with
 * iobuf_task_unref(). NULL + errno on failure: ENOENT or ECONNREFUSED when
 * no daemon listens (the message names the path), EPROTONOSUPPORT when the
 * daemon speaks another protocol version, ETIMEDOUT when the daemon did not
 * take the connection or answer within the default timeout.
 */
struct iobuf_task *iobuf_task_connect(const char *path);

/*
 * A new connection to the daemon via talks to (NULL: as iobuf_task_self()),
 * whose buffers are charged to the task pidfd (pidfd_open(2)) refers to,
 * not to the caller: its uid, pid, unit, cgroup and limits. For a
 * compositor or camera service allocating on a client's behalf. The caller
 * keeps its pidfd. Allowed when the caller has the target's uid, is root
 * or is in the iobufd-admin group. When the target exits, the task gets
 * no more buffers (ESRCH); mappings stay valid, and what they and other
 * references keep alive stays charged to the target until it is released
 * (see iobuf_release()). Release with iobuf_task_unref().
 *
 * The task keeps a duplicate of pidfd (closed by the last unref): when its
 * connection breaks, the new connection charges the same task again before
 * it carries any request, and a call fails with the daemon's answer (e.g.
 * ESRCH when the task has exited meanwhile) rather than allocate uncharged.
 *
 * NULL + errno: EPERM for a task the caller may not charge, ESRCH for one
 * that has exited, EBADF when pidfd is not a pidfd; as
 * iobuf_task_connect() when the daemon cannot be reached.
 */
struct iobuf_task *iobuf_task_for_pidfd(struct iobuf_task *via, int pidfd);

/*
 * Drops a reference to a task from iobuf_task_connect(). Buffers keep their
 * task alive; the connection closes when the last buffer and reference go.
 */
void iobuf_task_unref(struct iobuf_task *task);

/*
 * Sets how long each call on task waits for the daemon, in milliseconds; 0
 * waits forever. A new task starts with $IOBUF_TIMEOUT_MS, or 5000. It
 * applies from the next call on. 0, or -EINVAL for a NULL task.
 */
int iobuf_task_set_timeout(struct iobuf_task *task, unsigned msec);

/*
 * Requests in flight. Any number of threads may call on one task at once:
 * each request is sent at once and matched to its reply, whichever thread
 * reads it. iobuf_release() sends the free and returns without waiting
 * for the daemon's answer; a free the daemon refused is reported by
 * iobuf_task_flush().
 *
 * For a program with an event loop of its own (GLib, sd-event, libuv):
 * iobuf_in_task_async() sends an allocation and returns; poll the fd of
 * iobuf_task_get_fd() for input and call iobuf_task_dispatch() when it is
 * readable: it reads what has come without waiting and calls the
 * completion callbacks, in the calling thread.
 */

/*
 * An fd that polls readable (POLLIN, EPOLLIN) when replies have come for the
 * task: the same fd for the task's life, across reconnections. The task
 * owns it: do not close it. A negative errno on failure.
 */
int iobuf_task_get_fd(struct iobuf_task *task);

/*
 * Reads the replies that have come, without waiting, and calls the
 * callbacks of the asynchronous requests they complete. How many callbacks
 * ran, or a negative errno.
 */
int iobuf_task_dispatch(struct iobuf_task *task);

/*
 * Waits until every request sent on the task is answered (frees included).
 * 0, or the first error of a request nobody waited for (a free the daemon
 * refused), with its message; that error is then cleared.
 */
int iobuf_task_flush(struct iobuf_task *task);

/*
 * Called by iobuf_task_dispatch() when an asynchronous allocation is done:
 * buf is the caller's (one reference), or NULL with error a negative errno
 * (iobuf_last_error() has the message in the dispatching thread).
 */
typedef void (*iobuf_allocated_fn)(struct iobuf_task *task, struct iobuf *buf, int error,
				   void *userdata);

/*
 * As iobuf_in_task_with_options(), without waiting: done is called by
 * iobuf_task_dispatch() with the buffer or the failure. 0, or a negative
 * errno when nothing was sent (done is not called then).
 */
int iobuf_in_task_async(struct iobuf_task *task, uint32_t options, size_t capacity,
			size_t alignment, iobuf_allocated_fn done, void *userdata);

/* What the daemon charges to a task, and its totals over every task. */
struct iobuf_usage {
	uint64_t buffers;       /* live buffers charged to this task */
	uint64_t bytes;         /* their bytes, as allocated */
	uint64_t total_buffers; /* over every connected task */
	uint64_t total_bytes;
	uint32_t clients; /* connected tasks */
};

/* Fills *usage from the daemon. 0 or a negative errno. */
int iobuf_task_get_usage(struct iobuf_task *task, struct iobuf_usage *usage);

/* What the daemon would grant for a request, without allocating. */
struct iobuf_match {
	/*
	 * Bytes it would allocate: the capacity rounded up to pages. A heap
	 * whose driver rounds further (GBM makes whole rows) may make more;
	 * the allocation says, and charges, what it made.
	 */
	uint64_t size;
	uint32_t options; /* options it would grant */
	char heap[IOBUF_HEAP_NAME_MAX + 1];
};

/*
 * Asks whether iobuf_in_task_with_options() with these arguments would
 * succeed, and on which heap. 0 with *match filled, or the negative errno and
 * message the allocation would fail with.
 */
int iobuf_task_query(struct iobuf_task *task, uint32_t options, size_t capacity,
		     size_t alignment, struct iobuf_match *match);

/*
 * Allocates capacity bytes in task (NULL: iobuf_task_self()) and maps them.
 * alignment is a power of two (0 means 1); the mapping starts at an address
 * with those low bits zero, including alignments above a page. A cache mode
 * or IOBUF_KERNEL_USER_SHARED raises the alignment to a page. The length
 * starts equal to capacity. Memory that is not pageable is zero-filled and
 * allocated up front; pageable memory reads as zero too.
 *
 * Returns a descriptor the caller owns (one reference), or NULL + errno:
 * EINVAL for capacity 0, an alignment that is not a power of two, unknown
 * option bits or PURGEABLE without PAGEABLE; EOPNOTSUPP when no heap offers
 * what the options ask (the message lists the heaps); EFBIG over the
 * daemon's maximum buffer size; EDQUOT over a limit of the task (the message
 * names it); ENOENT/ECONNREFUSED when the daemon is not running.
 */
struct iobuf *iobuf_in_task_with_options(struct iobuf_task *task, uint32_t options,
					 size_t capacity, size_t alignment);

/* The most buffers one iobuf_in_task_with_options_n() makes. */
#define IOBUF_BATCH_MAX 64

/*
 * n (1 to IOBUF_BATCH_MAX) buffers as iobuf_in_task_with_options() makes
 * one, from one heap, in one request: bufs[0..n) get them (each the
 * caller's), all or none. 0, or a negative errno as that call fails, or
 * -EINVAL for n out of range; nothing is left charged on failure.
 */
int iobuf_in_task_with_options_n(struct iobuf_task *task, uint32_t options, size_t capacity,
				 size_t alignment, size_t n, struct iobuf **bufs);

/*
 * Keeps count (0 to IOBUF_BATCH_MAX) buffers of one kind ready in the task,
 * so that iobuf_in_task_with_options() with these options, capacity and
 * alignment (and no label of its own: the pool's carry the task's label)
 * takes one without waiting for the daemon. The pool is filled with one
 * request, sent without waiting, when it is down to half; its buffers are
 * the task's like any other: charged to it and counted by its limits.
 * iobufctl buffers lists those still in the pool as "pooled, not handed out
 * yet"; the daemon hears which were taken with the next fill, or at
 * iobuf_task_flush(), without a request of their own. count 0, or another
 * kind, gives back the buffers the pool holds. 0, or -EINVAL for count over
 * IOBUF_BATCH_MAX.
 */
int iobuf_task_set_pool(struct iobuf_task *task, uint32_t options, size_t capacity,
			size_t alignment, unsigned count);

/*
 * As iobuf_in_task_with_options(), and the buffer is labelled label ("" or
 * NULL: no label, not even the task's). A label names the buffer where
 * people look: the dma-buf's name in /proc/PID/fdinfo and debugfs, the
 * memfd's name ("memfd:iobuf:<id>:<label>" in /proc/PID/fd and maps),
 * iobufctl buffers, the buffer's Label on D-Bus and the daemon's journal
 * fields. EINVAL for a label over IOBUF_LABEL_MAX bytes, not UTF-8, or with
 * control characters.
 */
struct iobuf *iobuf_in_task_with_label(struct iobuf_task *task, uint32_t options,
				       size_t capacity, size_t alignment, const char *label);

/*
 * Sets the label of the task's later buffers that are given none (every
 * call but iobuf_in_task_with_label()); NULL or "" clears it. 0, or -EINVAL
 * as iobuf_in_task_with_label() says.
 */
int iobuf_task_set_label(struct iobuf_task *task, const char *label);

/* The buffer's label, "" for none. */
const char *iobuf_get_label(const struct iobuf *buf);

/*
 * As iobuf_in_task_with_options(), served only by the heap named heap (as
 * iobufctl heaps lists them, e.g. "dma-heap/system"), never by another when
 * it cannot. ENODEV when the daemon serves no heap of that name; EOPNOTSUPP
 * when the heap cannot serve the options (the message says what it lacks);
 * ENOMEM when it has no memory left for the request.
 */
struct iobuf *iobuf_in_task_from_heap(struct iobuf_task *task, const char *heap,
				      uint32_t options, size_t capacity, size_t alignment);

/* As iobuf_task_query(), for the heap named heap only; -ENODEV as above. */
int iobuf_task_query_heap(struct iobuf_task *task, const char *heap, uint32_t options,
			  size_t capacity, size_t alignment, struct iobuf_match *match);

/*
 * As iobuf_in_task_with_options(), with the alignment derived from an
 * addressing mask as IOKit does: the lowest set bit of physical_mask, and at
 * least a page. A mask that also limits the highest address (e.g.
 * 0x00000000fffff000 for 32-bit DMA) needs a heap that can honour it.
 */
struct iobuf *iobuf_in_task_with_physical_mask(struct iobuf_task *task,
					       uint32_t options, size_t capacity,
					       uint64_t physical_mask);

/* iobuf_in_task_with_options(iobuf_task_self(), options, capacity, alignment). */
struct iobuf *iobuf_with_options(uint32_t options, size_t capacity, size_t alignment);

/*
 * A buffer in the own task for a direction (IOBUF_DIRECTION_*), physically
 * contiguous when contiguous is non-zero. As IOKit's withCapacity, a
 * contiguous buffer is aligned to its capacity: to the power of two at or
 * above it when the capacity is none (XNU's allocators either round such
 * an alignment up or require the address bits of capacity - 1 to be zero;
 * the power of two meets both). A contiguous capacity over 1 GiB, the
 * largest alignment, fails with EINVAL. Not contiguous, it is not aligned
 * beyond the page every mapping starts on.
 */
struct iobuf *iobuf_with_capacity(size_t capacity, uint32_t direction, int contiguous);

/*
 * A buffer in the own task holding a copy of bytes: its length and capacity
 * are both length (which must not be 0, EINVAL). As IOKit's withBytes, it
 * is aligned to the length up to a page, contiguous or not (a mapping
 * always starts on a page).
 */
struct iobuf *iobuf_with_bytes(const void *bytes, size_t length, uint32_t direction,
			       int contiguous);

/* Usage bits for iobuf_image_in_task(). */
enum {
	IOBUF_IMAGE_SCANOUT = 1u << 0,   /* may be shown on a display (KMS) */
	IOBUF_IMAGE_RENDERING = 1u << 1, /* a GPU renders to it or samples it */
	IOBUF_IMAGE_LINEAR = 1u << 2,    /* rows in memory order; CPU-mappable */
	IOBUF_IMAGE_USAGE_KNOWN = IOBUF_IMAGE_SCANOUT | IOBUF_IMAGE_RENDERING |
				  IOBUF_IMAGE_LINEAR,
};

#define IOBUF_IMAGE_MAX_PLANES 4
#define IOBUF_IMAGE_MAX_MODIFIERS 16

/* The layout of an image buffer, as a GPU API imports it. */
struct iobuf_image {
	uint32_t width;
	uint32_t height;
	uint32_t drm_fourcc;
	uint64_t modifier; /* the DRM format modifier chosen */
	unsigned plane_count;
	struct {
		uint32_t offset; /* in the buffer's fd */
		uint32_t stride; /* bytes per row */
	} planes[IOBUF_IMAGE_MAX_PLANES];
};

/*
 * Allocates a GPU image in task (NULL: iobuf_task_self()) on a heap that
 * creates them (GBM): width x height pixels of drm_fourcc (DRM_FORMAT_*),
 * with one of the modifier_count modifiers (none: the heap chooses), for
 * usage (IOBUF_IMAGE_*). The descriptor works as any other: its capacity
 * and length are the fd's size, and it is mapped only when the modifier is
 * linear (iobuf_get_bytes_no_copy() fails with EOPNOTSUPP otherwise).
 * NULL + errno: EINVAL for a size of 0 or over 16384, unknown usage bits or
 * more than IOBUF_IMAGE_MAX_MODIFIERS modifiers; EOPNOTSUPP when no heap
 * creates images, or the heap refuses the format or modifiers; as
 * iobuf_in_task_with_options() otherwise.
 */
struct iobuf *iobuf_image_in_task(struct iobuf_task *task, uint32_t width, uint32_t height,
				  uint32_t drm_fourcc, const uint64_t *modifiers,
				  unsigned modifier_count, uint32_t usage);

/* Fills *image for a buffer from iobuf_image_in_task(); -EINVAL for others. */
int iobuf_get_image(const struct iobuf *buf, struct iobuf_image *image);

/* Adds a reference. Returns buf. */
struct iobuf *iobuf_retain(struct iobuf *buf);

/*
 * Drops a reference. The last one unmaps, closes the fd and sends the free
 * of the buffer's id to the daemon without waiting for its answer (unless
 * the connection that made the buffer is gone: the daemon no longer knows it
 * then); iobuf_task_flush() waits and reports a free the daemon refused.
 * Only when many frees are unanswered (the daemon is stopped) does it wait
 * for some answers, no longer than the task's timeout. NULL is ignored.
 *
 * A buffer's charge lasts as long as its memory, not until this call: while
 * a dup() of its fd, an fd passed to another process, a mapping or an
 * import into a device refers to it, it stays charged to this task (and its
 * uid, unit, cgroup and heap) and counted by their limits, also after the
 * task's connection has closed. It goes as the last of those goes. Where the
 * kernel does not tell the daemon when that is, the charge lasts until the
 * task's connection closes (iobufd(8), CHARGES).
 */
void iobuf_release(struct iobuf *buf);

/* The start of the mapping (aligned as requested). */
void *iobuf_get_bytes_no_copy(const struct iobuf *buf);

/*
 * The address of byte start, or NULL + ERANGE unless start lies below the
 * length and start + length within it, as IOKit's getBytesNoCopy(start,
 * length): bytes past iobuf_get_length() are out of range even below the
 * capacity, and a buffer whose length is 0 has none in range.
 */
void *iobuf_get_bytes_no_copy_range(const struct iobuf *buf, size_t start, size_t length);

/* The length in use: starts equal to capacity. */
size_t iobuf_get_length(const struct iobuf *buf);

/* Sets the length in use. -ERANGE past the capacity, leaving it unchanged. */
int iobuf_set_length(struct iobuf *buf, size_t length);

/* The capacity asked for (the fd may be larger: rounded up to a page). */
size_t iobuf_get_capacity(const struct iobuf *buf);

/*
 * Copies as many of length bytes as fit after the current length, moves
 * the length past them and returns how many were copied (0 when full).
 */
size_t iobuf_append_bytes(struct iobuf *buf, const void *bytes, size_t length);

/* The direction used by iobuf_prepare()/iobuf_complete(). */
uint32_t iobuf_get_direction(const struct iobuf *buf);

/* Sets it. -EINVAL for bits outside IOBUF_DIRECTION_MASK. */
int iobuf_set_direction(struct iobuf *buf, uint32_t direction);

/*
 * Moves a purgeable buffer to new_state (IOBUF_PURGEABLE_NON_VOLATILE,
 * _VOLATILE or _EMPTY; _KEEP_CURRENT only reads) and stores the state it had
 * before in *old_state (may be NULL), as XNU's vm_object_purgable_control():
 *  - NON_VOLATILE keeps the contents from then on. From EMPTY it reports
 *    IOBUF_PURGEABLE_EMPTY: the contents were lost, and the buffer reads as
 *    zero where it was not written since.
 *  - VOLATILE lets iobufd purge the buffer (see "Differences from IOKit");
 *    made volatile again, it counts as made volatile last. An EMPTY buffer
 *    stays EMPTY ("what's been emptied must stay empty"), and what was
 *    written to it since is discarded: only NON_VOLATILE makes it the
 *    owner's again, and that reports EMPTY.
 *  - EMPTY discards the contents now, in any state; the buffer reads as
 *    zero.
 * A buffer purged by iobufd is EMPTY. -EINVAL for a buffer that is not
 * purgeable or an unknown state; -ESTALE when the connection that made the
 * buffer is gone (the daemon no longer knows it).
 */
int iobuf_set_purgeable(struct iobuf *buf, enum iobuf_purgeable_state new_state,
			enum iobuf_purgeable_state *old_state);

/*
 * Brackets device access. Call iobuf_prepare() after the CPU wrote and
 * before the device uses the buffer, and iobuf_complete() after the device
 * is done and before the CPU reads. They nest as IOKit's do: only the first
 * of several iobuf_prepare() calls hands the buffer to the device, only the
 * iobuf_complete() matching it gives it back to the CPU, and an
 * iobuf_complete() without an iobuf_prepare() does nothing.
 *
 * For a dma-buf the hand-over ends the CPU's access with DMA_BUF_IOCTL_SYNC
 * (END) and the return begins it (START), READ/WRITE taken from the
 * direction. The kernel wants an END to follow a START (udmabuf refuses it
 * otherwise), so the first iobuf_prepare() of a buffer whose CPU access was
 * never begun begins it first, for WRITE only: that neither invalidates
 * caches nor moves the buffer, so what the CPU wrote is kept. For a memfd
 * they do nothing. 0 or a negative errno; a failed call does not count
 * (call it again, or not at all).
 */
int iobuf_prepare(struct iobuf *buf);
int iobuf_complete(struct iobuf *buf);

/*
 * The buffer's fd (a memfd or dma-buf), owned by the descriptor: dup() it to
 * keep it past iobuf_release(), or pass it to GL, Vulkan, V4L2 or KMS.
 */
int iobuf_get_fd(const struct iobuf *buf);

/* The options granted: exactly what the buffer is (cache mode resolved). */
uint32_t iobuf_get_options(const struct iobuf *buf);

/* The name of the heap that served the buffer, e.g. "memfd". */
const char *iobuf_get_heap(const struct iobuf *buf);

/* The daemon's id for the buffer; the memfd is named "iobuf:<id>". */
uint64_t iobuf_get_id(const struct iobuf *buf);

/* The calling thread's last error message ("" when none). */
const char *iobuf_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
