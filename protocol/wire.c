/* SPDX-License-Identifier: MIT */
/* Encoding and decoding of iobufd protocol messages; see README.md. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "wire.h"

struct writer {
	uint8_t *buf;
	size_t size;
	size_t pos;
	bool overflow;
};

struct reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	const char *error; /* the first problem found */
};

static void put(struct writer *w, const void *src, size_t n)
{
	if (w->overflow || n > w->size - w->pos) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->pos, src, n);
	w->pos += n;
}

static void put_u16(struct writer *w, uint16_t v)
{
	put(w, &v, sizeof(v));
}

static void put_u32(struct writer *w, uint32_t v)
{
	put(w, &v, sizeof(v));
}

static void put_u64(struct writer *w, uint64_t v)
{
	put(w, &v, sizeof(v));
}

static void put_string(struct writer *w, const char *s)
{
	uint16_t n = (uint16_t)strlen(s);

	put_u16(w, n);
	put(w, s, n);
}

static void fail(struct reader *r, const char *why)
{
	if (!r->error)
		r->error = why;
}

/* Copies n bytes out, or zeroes dst once anything went wrong. */
static void get(struct reader *r, void *dst, size_t n)
{
	if (!r->error && n > r->len - r->pos)
		fail(r, "message body is shorter than its opcode requires");
	if (r->error) {
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, r->buf + r->pos, n);
	r->pos += n;
}

static uint16_t get_u16(struct reader *r)
{
	uint16_t v;

	get(r, &v, sizeof(v));
	return v;
}

static uint32_t get_u32(struct reader *r)
{
	uint32_t v;

	get(r, &v, sizeof(v));
	return v;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t v;

	get(r, &v, sizeof(v));
	return v;
}

static void get_reserved(struct reader *r)
{
	if (get_u32(r) != 0)
		fail(r, "reserved field is not zero");
}

/* A length-prefixed string into out[max + 1], NUL-terminated. */
static void get_string(struct reader *r, char *out, size_t max)
{
	uint16_t n = get_u16(r);

	out[0] = '\0';
	if (r->error)
		return;
	if (n > max) {
		fail(r, "string is longer than its limit");
		return;
	}
	get(r, out, n);
	if (r->error) {
		out[0] = '\0';
		return;
	}
	out[n] = '\0';
	if (memchr(out, '\0', n))
		fail(r, "string contains a NUL byte");
}

static bool opcode_known(uint16_t opcode)
{
	switch (opcode) {
	case WIRE_HELLO:
	case WIRE_ALLOCATE:
	case WIRE_FREE:
	case WIRE_SET_PURGEABLE:
	case WIRE_QUERY:
	case WIRE_STATS:
	case WIRE_ALLOCATE_IMAGE:
	case WIRE_CHARGE_TO:
	case WIRE_ALLOCATE_N:
	case WIRE_CLAIM:
	case WIRE_HELLO_REPLY:
	case WIRE_ALLOCATE_REPLY:
	case WIRE_FREE_REPLY:
	case WIRE_SET_PURGEABLE_REPLY:
	case WIRE_QUERY_REPLY:
	case WIRE_STATS_REPLY:
	case WIRE_ALLOCATE_IMAGE_REPLY:
	case WIRE_CHARGE_TO_REPLY:
	case WIRE_ALLOCATE_N_REPLY:
	case WIRE_CLAIM_REPLY:
	case WIRE_ERROR:
		return true;
	}
	return false;
}

const char *wire_opcode_name(uint16_t opcode)
{
	switch (opcode) {
	case WIRE_HELLO: return "hello";
	case WIRE_ALLOCATE: return "allocate";
	case WIRE_FREE: return "free";
	case WIRE_SET_PURGEABLE: return "set-purgeable";
	case WIRE_QUERY: return "query";
	case WIRE_STATS: return "stats";
	case WIRE_ALLOCATE_IMAGE: return "allocate-image";
	case WIRE_CHARGE_TO: return "charge-to";
	case WIRE_ALLOCATE_N: return "allocate-n";
	case WIRE_CLAIM: return "claim";
	case WIRE_HELLO_REPLY: return "hello-reply";
	case WIRE_ALLOCATE_REPLY: return "allocate-reply";
	case WIRE_FREE_REPLY: return "free-reply";
	case WIRE_SET_PURGEABLE_REPLY: return "set-purgeable-reply";
	case WIRE_QUERY_REPLY: return "query-reply";
	case WIRE_STATS_REPLY: return "stats-reply";
	case WIRE_ALLOCATE_IMAGE_REPLY: return "allocate-image-reply";
	case WIRE_CHARGE_TO_REPLY: return "charge-to-reply";
	case WIRE_ALLOCATE_N_REPLY: return "allocate-n-reply";
	case WIRE_CLAIM_REPLY: return "claim-reply";
	case WIRE_ERROR: return "error";
	}
	return "unknown";
}

static bool spec_fits(const struct wire_spec *spec)
{
	return strnlen(spec->heap, WIRE_MAX_HEAP_NAME + 1) <= WIRE_MAX_HEAP_NAME &&
	       strnlen(spec->label, WIRE_MAX_LABEL + 1) <= WIRE_MAX_LABEL;
}

/* A reply names the heap that served: never empty. */
static bool heap_named(const char *heap)
{
	return heap[0] != '\0' && strnlen(heap, WIRE_MAX_HEAP_NAME + 1) <= WIRE_MAX_HEAP_NAME;
}

/* What the decoder would refuse, or an encoder would have to cut, is refused instead. */
static bool encodable(const struct wire_message *m)
{
	switch (m->header.opcode) {
	case WIRE_ALLOCATE_REPLY:
	case WIRE_QUERY_REPLY:
		return heap_named(m->allocate_reply.heap);
	case WIRE_ALLOCATE:
	case WIRE_QUERY:
		return spec_fits(&m->allocate.spec);
	case WIRE_ALLOCATE_N:
		return m->allocate_n.count >= 1 && m->allocate_n.count <= WIRE_MAX_BATCH &&
		       spec_fits(&m->allocate_n.allocate.spec);
	case WIRE_CLAIM:
		return m->claim.count >= 1 && m->claim.count <= WIRE_MAX_BATCH;
	case WIRE_ALLOCATE_N_REPLY:
		return heap_named(m->allocate_n_reply.heap) &&
		       m->allocate_n_reply.count >= 1 && m->allocate_n_reply.count <= WIRE_MAX_BATCH;
	case WIRE_ALLOCATE_IMAGE:
		return m->allocate_image.modifier_count <= WIRE_MAX_MODIFIERS &&
		       spec_fits(&m->allocate_image.spec);
	case WIRE_ALLOCATE_IMAGE_REPLY:
		return heap_named(m->allocate_image_reply.buffer.heap) &&
		       m->allocate_image_reply.plane_count >= 1 &&
		       m->allocate_image_reply.plane_count <= WIRE_MAX_PLANES;
	case WIRE_ERROR:
		return m->error.error > 0 &&
		       strnlen(m->error.message, WIRE_MAX_ERROR_MESSAGE + 1) <= WIRE_MAX_ERROR_MESSAGE;
	}
	return true;
}

static void put_buffer(struct writer *w, const struct wire_allocate_reply *b)
{
	put_u64(w, b->id);
	put_u64(w, b->size);
	put_u32(w, b->options);
	put_u32(w, b->flags);
	put_string(w, b->heap);
}

static void put_spec(struct writer *w, const struct wire_spec *spec)
{
	if (!spec->present)
		return;
	put_string(w, spec->heap);
	put_string(w, spec->label);
}

static void put_image(struct writer *w, const struct wire_allocate_image *img)
{
	put_u32(w, img->width);
	put_u32(w, img->height);
	put_u32(w, img->fourcc);
	put_u32(w, img->usage);
	put_u32(w, img->modifier_count);
	put_u32(w, 0);
	for (uint32_t i = 0; i < img->modifier_count; i++)
		put_u64(w, img->modifiers[i]);
	put_spec(w, &img->spec);
}

static void put_image_reply(struct writer *w, const struct wire_allocate_image_reply *img)
{
	put_u64(w, img->modifier);
	put_u32(w, img->plane_count);
	put_u32(w, 0);
	for (size_t i = 0; i < WIRE_MAX_PLANES; i++) {
		put_u32(w, img->planes[i].offset);
		put_u32(w, img->planes[i].stride);
	}
	put_buffer(w, &img->buffer);
}

static void put_allocate(struct writer *w, const struct wire_allocate *a)
{
	put_u32(w, a->options);
	put_u32(w, 0);
	put_u64(w, a->capacity);
	put_u64(w, a->alignment);
	put_u64(w, a->physical_mask);
	put_spec(w, &a->spec);
}

static void put_allocate_n_reply(struct writer *w, const struct wire_allocate_n_reply *r)
{
	put_u32(w, r->count);
	put_u32(w, r->options);
	put_u32(w, r->flags);
	put_u32(w, 0);
	put_u64(w, r->size);
	put_string(w, r->heap);
	for (uint32_t i = 0; i < r->count; i++)
		put_u64(w, r->ids[i]);
}

static void put_body(struct writer *w, const struct wire_message *m)
{
	switch (m->header.opcode) {
	case WIRE_HELLO:
		put_u32(w, m->hello.version);
		put_u32(w, 0);
		break;
	case WIRE_HELLO_REPLY:
		put_u32(w, m->hello_reply.version);
		put_u32(w, 0);
		break;
	case WIRE_ALLOCATE:
	case WIRE_QUERY:
		put_allocate(w, &m->allocate);
		break;
	case WIRE_ALLOCATE_N:
		put_u32(w, m->allocate_n.count);
		put_u32(w, m->allocate_n.flags);
		put_allocate(w, &m->allocate_n.allocate);
		break;
	case WIRE_ALLOCATE_N_REPLY:
		put_allocate_n_reply(w, &m->allocate_n_reply);
		break;
	case WIRE_FREE:
		put_u64(w, m->free.id);
		break;
	case WIRE_CLAIM:
		put_u32(w, m->claim.count);
		put_u32(w, 0);
		for (uint32_t i = 0; i < m->claim.count; i++)
			put_u64(w, m->claim.ids[i]);
		break;
	case WIRE_SET_PURGEABLE:
		put_u64(w, m->set_purgeable.id);
		put_u32(w, m->set_purgeable.state);
		put_u32(w, 0);
		break;
	case WIRE_ALLOCATE_REPLY:
	case WIRE_QUERY_REPLY:
		put_buffer(w, &m->allocate_reply);
		break;
	case WIRE_ALLOCATE_IMAGE:
		put_image(w, &m->allocate_image);
		break;
	case WIRE_ALLOCATE_IMAGE_REPLY:
		put_image_reply(w, &m->allocate_image_reply);
		break;
	case WIRE_SET_PURGEABLE_REPLY:
		put_u32(w, m->set_purgeable_reply.old_state);
		put_u32(w, 0);
		break;
	case WIRE_STATS_REPLY:
		put_u64(w, m->stats_reply.client_buffers);
		put_u64(w, m->stats_reply.client_bytes);
		put_u64(w, m->stats_reply.total_buffers);
		put_u64(w, m->stats_reply.total_bytes);
		put_u32(w, m->stats_reply.clients);
		put_u32(w, 0);
		break;
	case WIRE_CHARGE_TO_REPLY:
		put_u32(w, m->charge_to_reply.pid);
		put_u32(w, m->charge_to_reply.uid);
		break;
	case WIRE_ERROR:
		put_u32(w, (uint32_t)m->error.error);
		put_string(w, m->error.message);
		break;
	case WIRE_STATS:
	case WIRE_FREE_REPLY:
	case WIRE_CLAIM_REPLY:
	case WIRE_CHARGE_TO:
		break;
	}
}

static void get_buffer(struct reader *r, struct wire_allocate_reply *b)
{
	b->id = get_u64(r);
	b->size = get_u64(r);
	b->options = get_u32(r);
	b->flags = get_u32(r);
	get_string(r, b->heap, WIRE_MAX_HEAP_NAME);
	if (!r->error && b->heap[0] == '\0')
		fail(r, "heap name is empty");
}

/* The version 2 tail, when the body goes on after the version 1 fields. */
static void get_spec(struct reader *r, struct wire_spec *spec)
{
	if (r->error || r->pos == r->len)
		return;
	spec->present = true;
	get_string(r, spec->heap, WIRE_MAX_HEAP_NAME);
	get_string(r, spec->label, WIRE_MAX_LABEL);
}

static void get_image(struct reader *r, struct wire_allocate_image *img)
{
	img->width = get_u32(r);
	img->height = get_u32(r);
	img->fourcc = get_u32(r);
	img->usage = get_u32(r);
	img->modifier_count = get_u32(r);
	get_reserved(r);
	if (img->modifier_count > WIRE_MAX_MODIFIERS) {
		fail(r, "more modifiers than a message may carry");
		return;
	}
	for (uint32_t i = 0; i < img->modifier_count; i++)
		img->modifiers[i] = get_u64(r);
	get_spec(r, &img->spec);
}

static void get_image_reply(struct reader *r, struct wire_allocate_image_reply *img)
{
	img->modifier = get_u64(r);
	img->plane_count = get_u32(r);
	get_reserved(r);
	if (!r->error && (img->plane_count < 1 || img->plane_count > WIRE_MAX_PLANES))
		fail(r, "plane count is not 1 to 4");
	for (size_t i = 0; i < WIRE_MAX_PLANES; i++) {
		img->planes[i].offset = get_u32(r);
		img->planes[i].stride = get_u32(r);
	}
	get_buffer(r, &img->buffer);
}

static void get_allocate(struct reader *r, struct wire_allocate *a)
{
	a->options = get_u32(r);
	get_reserved(r);
	a->capacity = get_u64(r);
	a->alignment = get_u64(r);
	a->physical_mask = get_u64(r);
	get_spec(r, &a->spec);
}

static bool batch_count_fits(struct reader *r, uint32_t count)
{
	if (!r->error && (count < 1 || count > WIRE_MAX_BATCH))
		fail(r, "batch count is not 1 to 64");
	return !r->error;
}

static void get_allocate_n_reply(struct reader *r, struct wire_allocate_n_reply *reply)
{
	reply->count = get_u32(r);
	reply->options = get_u32(r);
	reply->flags = get_u32(r);
	get_reserved(r);
	reply->size = get_u64(r);
	get_string(r, reply->heap, WIRE_MAX_HEAP_NAME);
	if (!r->error && reply->heap[0] == '\0')
		fail(r, "heap name is empty");
	if (!batch_count_fits(r, reply->count))
		return;
	for (uint32_t i = 0; i < reply->count; i++)
		reply->ids[i] = get_u64(r);
}

static void get_body(struct reader *r, struct wire_message *m)
{
	switch (m->header.opcode) {
	case WIRE_HELLO:
		m->hello.version = get_u32(r);
		get_reserved(r);
		break;
	case WIRE_HELLO_REPLY:
		m->hello_reply.version = get_u32(r);
		get_reserved(r);
		break;
	case WIRE_ALLOCATE:
	case WIRE_QUERY:
		get_allocate(r, &m->allocate);
		break;
	case WIRE_ALLOCATE_N:
		m->allocate_n.count = get_u32(r);
		m->allocate_n.flags = get_u32(r);
		if (batch_count_fits(r, m->allocate_n.count))
			get_allocate(r, &m->allocate_n.allocate);
		break;
	case WIRE_ALLOCATE_N_REPLY:
		get_allocate_n_reply(r, &m->allocate_n_reply);
		break;
	case WIRE_FREE:
		m->free.id = get_u64(r);
		break;
	case WIRE_CLAIM:
		m->claim.count = get_u32(r);
		get_reserved(r);
		if (batch_count_fits(r, m->claim.count))
			for (uint32_t i = 0; i < m->claim.count; i++)
				m->claim.ids[i] = get_u64(r);
		break;
	case WIRE_SET_PURGEABLE:
		m->set_purgeable.id = get_u64(r);
		m->set_purgeable.state = get_u32(r);
		get_reserved(r);
		break;
	case WIRE_ALLOCATE_REPLY:
	case WIRE_QUERY_REPLY:
		get_buffer(r, &m->allocate_reply);
		break;
	case WIRE_ALLOCATE_IMAGE:
		get_image(r, &m->allocate_image);
		break;
	case WIRE_ALLOCATE_IMAGE_REPLY:
		get_image_reply(r, &m->allocate_image_reply);
		break;
	case WIRE_SET_PURGEABLE_REPLY:
		m->set_purgeable_reply.old_state = get_u32(r);
		get_reserved(r);
		break;
	case WIRE_STATS_REPLY:
		m->stats_reply.client_buffers = get_u64(r);
		m->stats_reply.client_bytes = get_u64(r);
		m->stats_reply.total_buffers = get_u64(r);
		m->stats_reply.total_bytes = get_u64(r);
		m->stats_reply.clients = get_u32(r);
		get_reserved(r);
		break;
	case WIRE_CHARGE_TO_REPLY:
		m->charge_to_reply.pid = get_u32(r);
		m->charge_to_reply.uid = get_u32(r);
		break;
	case WIRE_ERROR:
		m->error.error = (int32_t)get_u32(r);
		if (!r->error && m->error.error <= 0)
			fail(r, "error code is not a positive errno");
		get_string(r, m->error.message, WIRE_MAX_ERROR_MESSAGE);
		break;
	case WIRE_STATS:
	case WIRE_FREE_REPLY:
	case WIRE_CLAIM_REPLY:
	case WIRE_CHARGE_TO:
		break;
	}
}

ssize_t wire_encode(const struct wire_message *msg, void *buf, size_t size)
{
	struct writer w = { .buf = buf, .size = size };
	uint16_t total;

	if (!opcode_known(msg->header.opcode) || !encodable(msg))
		return -EINVAL;

	put_u16(&w, msg->header.opcode);
	put_u16(&w, 0); /* the size, patched below */
	put_u32(&w, msg->header.request_id);
	put_body(&w, msg);
	if (w.overflow || w.pos > WIRE_MAX_MESSAGE)
		return -EMSGSIZE;

	total = (uint16_t)w.pos;
	memcpy(w.buf + 2, &total, sizeof(total));
	return (ssize_t)w.pos;
}

int wire_decode(const void *buf, size_t len, struct wire_message *msg, const char **reason)
{
	struct reader r = { .buf = buf, .len = len };

	memset(msg, 0, sizeof(*msg));
	*reason = NULL;

	if (len < WIRE_HEADER_SIZE) {
		*reason = "truncated header: a message starts with 8 bytes";
		return -EBADMSG;
	}
	if (len > WIRE_MAX_MESSAGE) {
		*reason = "message is larger than 4096 bytes";
		return -EBADMSG;
	}
	msg->header.opcode = get_u16(&r);
	msg->header.size = get_u16(&r);
	msg->header.request_id = get_u32(&r);

	if (msg->header.size != len) {
		*reason = "size field does not match the message length";
		return -EBADMSG;
	}
	if (!opcode_known(msg->header.opcode)) {
		*reason = "unknown opcode";
		return -ENOSYS;
	}

	get_body(&r, msg);
	if (!r.error && r.pos != len)
		fail(&r, "message body is longer than its opcode allows");
	if (r.error) {
		*reason = r.error;
		return -EBADMSG;
	}
	return 0;
}
