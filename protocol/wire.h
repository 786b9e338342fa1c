/* SPDX-License-Identifier: MIT */
/*
 * The iobufd socket protocol: one message per SOCK_SEQPACKET record, fixed
 * little header, host byte order (the socket never leaves the machine).
 * protocol/README.md specifies every message byte by byte.
 *
 * Encoding and decoding live in wire.c, sending and receiving (with the fd
 * in SCM_RIGHTS) in wire_io.c. Nothing here is exported from libiobuf.
 */
#ifndef IOBUF_PROTOCOL_WIRE_H
#define IOBUF_PROTOCOL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The version libiobuf speaks; the daemon speaks every one from 1 to it. */
#define WIRE_VERSION 2
#define WIRE_VERSION_MIN 1

#define WIRE_HEADER_SIZE 8
#define WIRE_MAX_MESSAGE 4096
#define WIRE_MAX_HEAP_NAME 63
#define WIRE_MAX_ERROR_MESSAGE 511
#define WIRE_MAX_LABEL 255 /* on the wire; the daemon takes at most 31 bytes */
#define WIRE_MAX_MODIFIERS 16
#define WIRE_MAX_PLANES 4
#define WIRE_MAX_BATCH 64 /* buffers in one allocate-n: their fds in one SCM_RIGHTS */

enum wire_opcode {
	/* requests, client to daemon */
	WIRE_HELLO = 0x0001,
	WIRE_ALLOCATE = 0x0002,
	WIRE_FREE = 0x0003,
	WIRE_SET_PURGEABLE = 0x0004,
	WIRE_QUERY = 0x0005,
	WIRE_STATS = 0x0006,
	WIRE_ALLOCATE_IMAGE = 0x0007,
	WIRE_CHARGE_TO = 0x0008, /* the one request that carries an fd: a pidfd */
	WIRE_ALLOCATE_N = 0x0009,
	WIRE_CLAIM = 0x000a,

	/* replies, daemon to client: the request's opcode | WIRE_REPLY */
	WIRE_REPLY = 0x8000,
	WIRE_HELLO_REPLY = WIRE_REPLY | WIRE_HELLO,
	WIRE_ALLOCATE_REPLY = WIRE_REPLY | WIRE_ALLOCATE,
	WIRE_FREE_REPLY = WIRE_REPLY | WIRE_FREE,
	WIRE_SET_PURGEABLE_REPLY = WIRE_REPLY | WIRE_SET_PURGEABLE,
	WIRE_QUERY_REPLY = WIRE_REPLY | WIRE_QUERY,
	WIRE_STATS_REPLY = WIRE_REPLY | WIRE_STATS,
	WIRE_ALLOCATE_IMAGE_REPLY = WIRE_REPLY | WIRE_ALLOCATE_IMAGE,
	WIRE_CHARGE_TO_REPLY = WIRE_REPLY | WIRE_CHARGE_TO,
	WIRE_ALLOCATE_N_REPLY = WIRE_REPLY | WIRE_ALLOCATE_N,
	WIRE_CLAIM_REPLY = WIRE_REPLY | WIRE_CLAIM,
	WIRE_ERROR = 0xffff,
};

/* Bits of wire_allocate_reply.flags: what the fd is. */
enum {
	WIRE_BUFFER_DMABUF = 1u << 0,   /* a dma-buf: sync with DMA_BUF_IOCTL_SYNC */
	WIRE_BUFFER_MAPPABLE = 1u << 1, /* the task may mmap() it */
};

struct wire_header {
	uint16_t opcode;
	uint16_t size; /* of the whole message, header included */
	uint32_t request_id;
};

struct wire_hello {
	uint32_t version;
};

/*
 * What version 2 appends to allocate, query and allocate-image: the heap
 * asked for ("": the daemon chooses) and the buffer's label ("": none).
 * present is false for a version 1 body, which ends before it.
 */
struct wire_spec {
	bool present;
	char heap[WIRE_MAX_HEAP_NAME + 1];
	char label[WIRE_MAX_LABEL + 1];
};

/* WIRE_ALLOCATE and WIRE_QUERY */
struct wire_allocate {
	uint32_t options;
	uint64_t capacity;
	uint64_t alignment;
	uint64_t physical_mask;
	struct wire_spec spec;
};

/* Bits of wire_allocate_n.flags. */
enum {
	WIRE_BATCH_POOLED = 1u << 0, /* for the client's pool: listed as pooled until claimed */
};

/* WIRE_ALLOCATE_N: count buffers alike, all or none. */
struct wire_allocate_n {
	uint32_t count; /* 1 to WIRE_MAX_BATCH */
	uint32_t flags; /* WIRE_BATCH_* */
	struct wire_allocate allocate;
};

/* WIRE_ALLOCATE_N_REPLY: the buffers, their fds in this order in SCM_RIGHTS. */
struct wire_allocate_n_reply {
	uint32_t count;
	uint32_t options;
	uint32_t flags; /* WIRE_BUFFER_* */
	uint64_t size;  /* of each */
	char heap[WIRE_MAX_HEAP_NAME + 1];
	uint64_t ids[WIRE_MAX_BATCH];
};

/* WIRE_CLAIM: buffers the client took out of its pool. */
struct wire_claim {
	uint32_t count; /* 1 to WIRE_MAX_BATCH */
	uint64_t ids[WIRE_MAX_BATCH];
};

struct wire_free {
	uint64_t id;
};

struct wire_set_purgeable {
	uint64_t id;
	uint32_t state;
};

struct wire_hello_reply {
	uint32_t version;
};

/* WIRE_ALLOCATE_REPLY (an fd rides along) and WIRE_QUERY_REPLY (id 0, no fd) */
struct wire_allocate_reply {
	uint64_t id;
	uint64_t size;
	uint32_t options;
	uint32_t flags;
	char heap[WIRE_MAX_HEAP_NAME + 1];
};

/* WIRE_ALLOCATE_IMAGE: a GPU image; the heap picks one of the modifiers. */
struct wire_allocate_image {
	uint32_t width;
	uint32_t height;
	uint32_t fourcc; /* DRM_FORMAT_* */
	uint32_t usage;  /* IOBUF_IMAGE_* */
	uint32_t modifier_count; /* 0: the heap chooses */
	uint64_t modifiers[WIRE_MAX_MODIFIERS];
	struct wire_spec spec;
};

struct wire_image_plane {
	uint32_t offset;
	uint32_t stride;
};

/* WIRE_ALLOCATE_IMAGE_REPLY: the buffer, as for allocate, and its layout. */
struct wire_allocate_image_reply {
	struct wire_allocate_reply buffer;
	uint64_t modifier;
	uint32_t plane_count; /* 1 to WIRE_MAX_PLANES */
	struct wire_image_plane planes[WIRE_MAX_PLANES];
};

struct wire_set_purgeable_reply {
	uint32_t old_state;
};

struct wire_stats_reply {
	uint64_t client_buffers;
	uint64_t client_bytes;
	uint64_t total_buffers;
	uint64_t total_bytes;
	uint32_t clients;
};

/* WIRE_CHARGE_TO_REPLY: the task this connection's buffers are now charged to. */
struct wire_charge_to_reply {
	uint32_t pid;
	uint32_t uid;
};

struct wire_error {
	int32_t error; /* a positive errno */
	char message[WIRE_MAX_ERROR_MESSAGE + 1];
};

struct wire_message {
	struct wire_header header;
	union {
		struct wire_hello hello;
		struct wire_allocate allocate;
		struct wire_allocate_image allocate_image;
		struct wire_allocate_n allocate_n;
		struct wire_free free;
		struct wire_claim claim;
		struct wire_set_purgeable set_purgeable;
		struct wire_hello_reply hello_reply;
		struct wire_allocate_reply allocate_reply;
		struct wire_allocate_image_reply allocate_image_reply;
		struct wire_set_purgeable_reply set_purgeable_reply;
		struct wire_stats_reply stats_reply;
		struct wire_charge_to_reply charge_to_reply;
		struct wire_allocate_n_reply allocate_n_reply;
		struct wire_error error;
	};
};

/*
 * Encodes msg (header.size is computed) into buf. Returns the number of
 * bytes written, or -EINVAL for an unknown opcode or a string that is too
 * long, -EMSGSIZE when buf is too small.
 */
ssize_t wire_encode(const struct wire_message *msg, void *buf, size_t size);

/*
 * Decodes the record buf[0..len) into *msg. Returns 0, or -EBADMSG with
 * *reason (static text) saying what is wrong, or -ENOSYS for a well-formed
 * header whose opcode is unknown (msg->header is filled then).
 */
int wire_decode(const void *buf, size_t len, struct wire_message *msg, const char **reason);

/* The opcode's name for logs ("allocate"), or "unknown". */
const char *wire_opcode_name(uint16_t opcode);

/*
 * Encodes and sends msg as one record, with fd in SCM_RIGHTS when fd >= 0.
 * Never raises SIGPIPE. flags are passed to sendmsg (e.g. MSG_DONTWAIT).
 * Returns 0 or a negative errno.
 */
int wire_send(int sock, const struct wire_message *msg, int fd, int flags);
/* wire_send() with n fds (at most WIRE_MAX_BATCH) in SCM_RIGHTS. */
int wire_send_fds(int sock, const struct wire_message *msg, const int *fds, size_t n, int flags);

/*
 * Receives one record and decodes it into *msg. Every fd that came with it
 * is the caller's from then on: on success *fd gets it (close-on-exec), or
 * -1 when none came. On failure every fd that came is closed (*fd is -1)
 * and the return is -ECONNRESET at end of stream, -EMSGSIZE for a record
 * over WIRE_MAX_MESSAGE, -EBADMSG (with *reason) for a record with more
 * than one fd, the decoder's error (with *reason; msg->header is filled for
 * -ENOSYS), or another negative errno from recvmsg (e.g. -EAGAIN).
 */
int wire_recv(int sock, struct wire_message *msg, int *fd, int flags, const char **reason);
/*
 * wire_recv() taking up to max fds into fds (*n of them); a record with more
 * is -EBADMSG, its fds closed.
 */
int wire_recv_fds(int sock, struct wire_message *msg, int *fds, size_t max, size_t *n, int flags,
		  const char **reason);

#endif
