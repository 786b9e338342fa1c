/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/charge.h"
#include "core/event.h"
#include "connection.h"
#include "list.h"
#include "log-budget.h"
#include "log.h"
#include "server.h"
#include "wire.h"

/* The reply to one request, the fds that go with it, and whether the connection must close after it. */
struct answer {
	struct wire_message msg;
	int fds[WIRE_MAX_BATCH];
	size_t n_fds;
	bool close;
};

/* The one fd of an allocate's answer, as the core hands it out. */
static int *one_fd(struct answer *ans)
{
	ans->n_fds = 1;
	ans->fds[0] = -1;
	return &ans->fds[0];
}

static void answer_error(struct answer *ans, int r, const char *why)
{
	ans->msg.header.opcode = WIRE_ERROR;
	ans->msg.error.error = -r;
	snprintf(ans->msg.error.message, sizeof(ans->msg.error.message), "%s", why);
}

/* A protocol violation: answered, logged, and the connection closed. */
static void violation(struct connection *conn, struct answer *ans, int r, const char *why)
{
	log_for_uid(conn->client.peer.uid, LOG_WARNING, "client %u (pid %d, %s): %s; disconnecting",
		    conn->client.id, (int)conn->client.task.pid, conn->client.task.comm, why);
	answer_error(ans, r, why);
	ans->close = true;
}

static void hello(struct connection *conn, const struct wire_message *req, struct answer *ans)
{
	struct reason why;

	if (conn->greeted) {
		violation(conn, ans, -EPROTO, "hello sent twice");
		return;
	}
	if (req->hello.version < WIRE_VERSION_MIN || req->hello.version > WIRE_VERSION) {
		violation(conn, ans, reason_set(&why, -EPROTONOSUPPORT, "protocol version %" PRIu32
						" not supported (this daemon speaks %d to %d)",
						req->hello.version, WIRE_VERSION_MIN, WIRE_VERSION),
			  why.text);
		return;
	}
	conn->greeted = true;
	conn->hello_deadline = sd_event_source_disable_unref(conn->hello_deadline);
	ans->msg.hello_reply.version = req->hello.version;
	fdstore_connection(&conn->server->allocator->store, &conn->client, conn->sock);
}

static int charge_to(struct connection *conn, int pidfd, struct wire_charge_to_reply *reply,
		     struct reason *why)
{
	struct server *server = conn->server;
	int r;

	if (pidfd < 0)
		return reason_set(why, -EINVAL, "charge-to carries the task's pidfd");
	r = charge_to_pidfd(server->allocator, server->event, &conn->client, pidfd, why);
	if (r < 0)
		return r;
	reply->pid = (uint32_t)conn->client.task.pid;
	reply->uid = (uint32_t)conn->client.task.uid;
	return 0;
}

/* The edge between the wire's records and the core's requests and results. */
static struct buffer_spec spec_of(const struct wire_spec *wire)
{
	return (struct buffer_spec){ .heap = wire->heap, .label = wire->label };
}

static struct alloc_request request_of(const struct wire_allocate *wire)
{
	return (struct alloc_request){ .options = wire->options, .capacity = wire->capacity,
				       .alignment = wire->alignment,
				       .physical_mask = wire->physical_mask,
				       .spec = spec_of(&wire->spec) };
}

_Static_assert(HEAP_NAME_MAX <= WIRE_MAX_HEAP_NAME, "a heap's name fits the wire's");

static uint32_t wire_flags_of(uint32_t fd_flags)
{
	return (fd_flags & HEAP_FD_DMABUF ? WIRE_BUFFER_DMABUF : 0) |
	       (fd_flags & HEAP_FD_MAPPABLE ? WIRE_BUFFER_MAPPABLE : 0);
}

static void reply_of(const struct alloc_result *made, struct wire_allocate_reply *reply)
{
	*reply = (struct wire_allocate_reply){ .id = made->id, .size = made->size,
					       .options = made->options,
					       .flags = wire_flags_of(made->fd_flags) };
	snprintf(reply->heap, sizeof(reply->heap), "%s", made->heap->name);
}

/* A batch's reply: what every buffer of it is; the ids are filled by the core. */
static void batch_reply_of(const struct alloc_result *made, uint32_t count,
			   struct wire_allocate_n_reply *reply)
{
	reply->count = count;
	reply->options = made->options;
	reply->flags = wire_flags_of(made->fd_flags);
	reply->size = made->size;
	snprintf(reply->heap, sizeof(reply->heap), "%s", made->heap->name);
}

_Static_assert(ALLOCATOR_MAX_BATCH == WIRE_MAX_BATCH, "a batch fits the wire's");
_Static_assert(IMAGE_MAX_MODIFIERS == WIRE_MAX_MODIFIERS, "an image request fits the wire's");
_Static_assert(IMAGE_MAX_PLANES == WIRE_MAX_PLANES, "an image layout fits the wire's");

static struct image_request image_request_of(const struct wire_allocate_image *wire)
{
	struct image_request req = { .width = wire->width, .height = wire->height,
				     .fourcc = wire->fourcc, .usage = wire->usage,
				     .modifier_count = wire->modifier_count };

	memcpy(req.modifiers, wire->modifiers, sizeof(req.modifiers));
	return req;
}

static void image_reply_of(const struct image_result *made,
			   struct wire_allocate_image_reply *reply)
{
	*reply = (struct wire_allocate_image_reply){ .modifier = made->layout.modifier,
						     .plane_count = made->layout.plane_count };
	reply_of(&made->buffer, &reply->buffer);
	for (uint32_t i = 0; i < made->layout.plane_count; i++)
		reply->planes[i] = (struct wire_image_plane){
			.offset = made->layout.planes[i].offset,
			.stride = made->layout.planes[i].stride,
		};
}

static void stats_reply_of(const struct allocator *a, const struct client *client,
			   struct wire_stats_reply *reply)
{
	struct allocator_stats stats;

	allocator_stats(a, client, &stats);
	*reply = (struct wire_stats_reply){ .client_buffers = stats.client_buffers,
					    .client_bytes = stats.client_bytes,
					    .total_buffers = stats.total_buffers,
					    .total_bytes = stats.total_bytes,
					    .clients = stats.clients };
}

/*
 * Answers a decoded request; ans->msg.header.opcode is preset to its reply.
 * passed_fd (charge-to's pidfd, else -1) is taken.
 */
static void dispatch(struct connection *conn, const struct wire_message *req, int passed_fd,
		     struct answer *ans)
{
	struct allocator *a = conn->server->allocator;
	struct alloc_request ask;
	struct alloc_result made;
	struct image_request image;
	struct buffer_spec spec;
	struct image_result image_made;
	struct reason why = { "" };
	int r = 0;

	if (req->header.opcode == WIRE_HELLO) {
		hello(conn, req, ans);
		return;
	}
	if (!conn->greeted) {
		if (passed_fd >= 0)
			close(passed_fd);
		violation(conn, ans, -EPROTO, "the first request must be hello");
		return;
	}
	switch (req->header.opcode) {
	case WIRE_ALLOCATE:
		ask = request_of(&req->allocate);
		r = allocator_allocate(a, &conn->client, &ask, &made, one_fd(ans), &why);
		if (r >= 0)
			reply_of(&made, &ans->msg.allocate_reply);
		break;
	case WIRE_ALLOCATE_IMAGE:
		image = image_request_of(&req->allocate_image);
		spec = spec_of(&req->allocate_image.spec);
		r = allocator_allocate_image(a, &conn->client, &image, &spec, &image_made,
					     one_fd(ans), &why);
		if (r >= 0)
			image_reply_of(&image_made, &ans->msg.allocate_image_reply);
		break;
	case WIRE_ALLOCATE_N:
		ask = request_of(&req->allocate_n.allocate);
		if (req->allocate_n.flags & ~(uint32_t)WIRE_BATCH_POOLED) {
			r = reason_set(&why, -EINVAL, "unknown batch flags 0x%x",
				       req->allocate_n.flags & ~(uint32_t)WIRE_BATCH_POOLED);
			break;
		}
		r = allocator_allocate_n(a, &conn->client, &ask, req->allocate_n.count,
					 req->allocate_n.flags & WIRE_BATCH_POOLED,
					 ans->msg.allocate_n_reply.ids, ans->fds, &made, &why);
		if (r >= 0) {
			ans->n_fds = req->allocate_n.count;
			batch_reply_of(&made, req->allocate_n.count, &ans->msg.allocate_n_reply);
		}
		break;
	case WIRE_QUERY:
		ask = request_of(&req->allocate);
		r = allocator_query(a, &ask, &made, &why);
		if (r >= 0)
			reply_of(&made, &ans->msg.allocate_reply);
		break;
	case WIRE_FREE:
		r = allocator_free(a, &conn->client, req->free.id, &why);
		break;
	case WIRE_CLAIM:
		for (uint32_t i = 0; i < req->claim.count && r >= 0; i++)
			r = allocator_claim(a, &conn->client, req->claim.ids[i], &why);
		break;
	case WIRE_SET_PURGEABLE:
		r = allocator_set_purgeable(a, &conn->client, req->set_purgeable.id,
					    req->set_purgeable.state,
					    &ans->msg.set_purgeable_reply.old_state, &why);
		break;
	case WIRE_STATS:
		stats_reply_of(a, &conn->client, &ans->msg.stats_reply);
		break;
	case WIRE_CHARGE_TO:
		r = charge_to(conn, passed_fd, &ans->msg.charge_to_reply, &why);
		passed_fd = -1;
		break;
	default:
		violation(conn, ans, -EBADMSG, "a reply opcode was sent as a request");
		return;
	}
	if (r < 0) {
		event_refused(&conn->client, wire_opcode_name(req->header.opcode), &why);
		answer_error(ans, r, why.text);
		ans->n_fds = 0; /* a refusal carries none */
	}
}

/* Reads one record and works out its answer. Returns false when nothing came. */
static bool handle_one(struct connection *conn, struct answer *ans)
{
	struct wire_message req = { 0 };
	struct reason why;
	const char *reason;
	int passed_fd, r;

	r = wire_recv(conn->sock, &req, &passed_fd, MSG_DONTWAIT, &reason);
	if (r == -EAGAIN)
		return false;
	ans->msg.header.request_id = req.header.request_id;
	ans->msg.header.opcode = req.header.opcode | WIRE_REPLY;
	if (r == -ECONNRESET || (r < 0 && !reason)) {
		ans->close = true;
		ans->msg.header.opcode = 0; /* nothing to send */
	} else if (r == -ENOSYS) {
		answer_error(ans, reason_set(&why, r, "unknown opcode 0x%04x", req.header.opcode),
			     why.text);
	} else if (r < 0) {
		violation(conn, ans, r, reason);
	} else if (passed_fd >= 0 && req.header.opcode != WIRE_CHARGE_TO) {
		close(passed_fd);
		violation(conn, ans, -EBADMSG, "only charge-to carries a file descriptor");
	} else {
		dispatch(conn, &req, passed_fd, ans);
	}
	return true;
}

/* Serves one record; false once the connection is closed. */
static bool serve_one(struct connection *conn, uint32_t revents, bool *idle)
{
	struct answer ans = { .n_fds = 0 };
	int r;

	if (!handle_one(conn, &ans)) {
		*idle = true;
		if (revents & (EPOLLHUP | EPOLLERR)) {
			connection_free(conn);
			return false;
		}
		return true;
	}
	if (ans.msg.header.opcode) {
		r = wire_send_fds(conn->sock, &ans.msg, ans.fds, ans.n_fds, MSG_DONTWAIT);
		/* A client may hang up without waiting for the answer to its last free. */
		if (r == -EPIPE || r == -ECONNRESET)
			ans.close = true;
		if (r < 0 && !ans.close) {
			log_for_uid(conn->client.peer.uid, LOG_WARNING,
				    "client %u (pid %d, %s): cannot send a reply: %s; disconnecting",
				    conn->client.id, (int)conn->client.task.pid, conn->client.task.comm,
				    strerror(-r));
			ans.close = true;
		}
	}
	for (size_t i = 0; i < ans.n_fds; i++)
		if (ans.fds[i] >= 0)
			close(ans.fds[i]);
	if (ans.close) {
		connection_free(conn);
		return false;
	}
	allocator_catch_up(conn->server->allocator, &conn->client);
	return true;
}

void connection_serve(struct connection *conn, uint32_t revents)
{
	bool idle = false;

	for (unsigned i = 0; i < CONNECTION_TURN_RECORDS && !idle; i++)
		if (!serve_one(conn, revents, &idle))
			return;
}

static int on_hello_deadline(sd_event_source *source, uint64_t usec, void *userdata)
{
	struct connection *conn = userdata;

	log_debug("client %u (pid %d, %s) said no hello within %llu s; disconnecting",
		  conn->client.id, (int)conn->client.task.pid, conn->client.task.comm,
		  HELLO_DEADLINE_USEC / 1000000);
	connection_free(conn);
	return 0;
}

static int watch(struct connection *conn)
{
	sd_event *event = conn->server->event;
	int r;

	r = server_watch_connection(conn->server, conn->sock, conn);
	if (r >= 0)
		conn->watched = true;
	if (r >= 0 && !conn->greeted)
		r = sd_event_add_time_relative(event, &conn->hello_deadline, CLOCK_MONOTONIC,
					       HELLO_DEADLINE_USEC, 0, on_hello_deadline, conn);
	return r;
}

static int connection_add(struct server *server, int sock, const struct ucred *peer,
			  unsigned id, bool greeted)
{
	struct connection *conn;
	int r;

	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(sock);
		return -ENOMEM;
	}
	conn->server = server;
	conn->sock = sock;
	conn->greeted = greeted;
	r = client_init(&conn->client, sock, peer);
	if (r >= 0)
		r = watch(conn);
	if (r < 0) {
		sd_event_source_disable_unref(conn->hello_deadline);
		if (conn->watched)
			server_unwatch_connection(server, sock);
		client_fini(&conn->client);
		close(sock);
		free(conn);
		return r;
	}
	LIST_PREPEND(server->connections, conn, next, prev);
	server->connection_count++;
	allocator_add_client(server->allocator, &conn->client, id);
	return 0;
}

int connection_new(struct server *server, int sock, const struct ucred *peer)
{
	return connection_add(server, sock, peer, 0, false);
}

int connection_adopt(struct server *server, int sock, unsigned client_id)
{
	return connection_add(server, sock, NULL, client_id, true);
}

void connection_free(struct connection *conn)
{
	struct server *server = conn->server;

	allocator_remove_client(server->allocator, &conn->client);
	LIST_REMOVE(server->connections, conn, next, prev);
	server->connection_count--;
	if (conn->watched)
		server_unwatch_connection(server, conn->sock);
	sd_event_source_disable_unref(conn->hello_deadline);
	close(conn->sock);
	free(conn);
}
