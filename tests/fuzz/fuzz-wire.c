/* SPDX-License-Identifier: MIT */
/*
 * The wire codec (protocol/wire.c), both ways, on every input:
 *
 *  - the input as a record: wire_decode() takes it or refuses it with a
 *    reason; whatever it takes encodes back to the very same bytes, and
 *    those decode to the same message;
 *  - the input as a struct wire_message: whatever wire_encode() takes
 *    decodes back to a message that encodes to the same bytes, never needs
 *    more room than it says, and is refused when the buffer is one byte short.
 */
#include <errno.h>
#include <string.h>

#include "fuzz-common.h"
#include "wire.h"

static uint16_t u16_at(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t u32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* A refused record: a reason, and for an unknown opcode the header as sent. */
static void check_refused(const uint8_t *data, size_t size, const struct wire_message *msg,
			  int r, const char *reason)
{
	fuzz_assert(r == -EBADMSG || r == -ENOSYS, "wire_decode returned %d", r);
	fuzz_assert(reason && reason[0], "a record of %zu bytes refused without a reason", size);
	if (r != -ENOSYS)
		return;
	fuzz_assert(size >= WIRE_HEADER_SIZE && size <= WIRE_MAX_MESSAGE,
		    "unknown opcode reported for a record of %zu bytes", size);
	fuzz_assert(msg->header.opcode == u16_at(data) && msg->header.size == size &&
			    msg->header.request_id == u32_at(data + 4),
		    "the header of a record with an unknown opcode is not filled in");
	fuzz_assert(strcmp(wire_opcode_name(msg->header.opcode), "unknown") == 0,
		    "opcode 0x%04x has a name (%s) but is unknown to the decoder",
		    msg->header.opcode, wire_opcode_name(msg->header.opcode));
}

static void check_decode(const uint8_t *data, size_t size)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	struct wire_message msg, again;
	const char *reason;
	ssize_t len;
	int r;

	r = wire_decode(data, size, &msg, &reason);
	if (r < 0) {
		check_refused(data, size, &msg, r, reason);
		return;
	}
	fuzz_assert(r == 0 && !reason, "wire_decode returned %d, reason %s", r,
		    reason ? reason : "none");
	fuzz_assert(msg.header.size == size, "decoded size %u of a %zu-byte record",
		    msg.header.size, size);

	len = wire_encode(&msg, buf, sizeof(buf));
	fuzz_assert(len == (ssize_t)size, "a %s record of %zu bytes encodes to %zd",
		    wire_opcode_name(msg.header.opcode), size, len);
	fuzz_assert(memcmp(buf, data, size) == 0, "a %s record encodes to other bytes",
		    wire_opcode_name(msg.header.opcode));

	r = wire_decode(buf, (size_t)len, &again, &reason);
	fuzz_assert(r == 0, "a re-encoded %s record is refused: %s",
		    wire_opcode_name(msg.header.opcode), reason);
	fuzz_assert(memcmp(&again, &msg, sizeof(msg)) == 0,
		    "a re-encoded %s record decodes to another message",
		    wire_opcode_name(msg.header.opcode));
}

/*
 * What the encoder writes but the decoder refuses: no sender of ours makes
 * such a message (heaps have names, errors are negative errnos negated).
 */
static bool encoder_only(const char *reason)
{
	return strcmp(reason, "heap name is empty") == 0 ||
	       strcmp(reason, "error code is not a positive errno") == 0;
}

/* Bytes copied in are any value; a bool holds only 0 or 1 (read as bytes, not as a bool). */
static void make_bool(bool *b)
{
	uint8_t byte;

	memcpy(&byte, b, 1);
	byte &= 1;
	memcpy(b, &byte, 1);
}

static void check_encode(const uint8_t *data, size_t size)
{
	struct wire_message msg = { 0 }, decoded;
	uint8_t buf[WIRE_MAX_MESSAGE], again[WIRE_MAX_MESSAGE];
	uint8_t *exact;
	const char *reason;
	ssize_t len, len_again;
	int r;

	if (size)
		memcpy(&msg, data, size < sizeof(msg) ? size : sizeof(msg));
	make_bool(&msg.allocate.spec.present);
	make_bool(&msg.allocate_image.spec.present);
	make_bool(&msg.allocate_n.allocate.spec.present);
	len = wire_encode(&msg, buf, sizeof(buf));
	if (len < 0) {
		fuzz_assert(len == -EINVAL, "wire_encode of opcode 0x%04x returned %zd",
			    msg.header.opcode, len);
		return;
	}
	fuzz_assert(len >= WIRE_HEADER_SIZE, "wire_encode wrote %zd bytes", len);

	/* One byte short: refused, and nothing written past the end (ASan). */
	exact = malloc((size_t)len);
	fuzz_assert(exact, "out of memory");
	fuzz_assert(wire_encode(&msg, exact, (size_t)len - 1) == -EMSGSIZE,
		    "%s encoded into a buffer one byte short", wire_opcode_name(msg.header.opcode));
	fuzz_assert(wire_encode(&msg, exact, (size_t)len) == len,
		    "%s does not fit the room it said it needs",
		    wire_opcode_name(msg.header.opcode));
	fuzz_assert(memcmp(exact, buf, (size_t)len) == 0, "%s encodes differently twice",
		    wire_opcode_name(msg.header.opcode));
	free(exact);

	r = wire_decode(buf, (size_t)len, &decoded, &reason);
	if (r < 0 && encoder_only(reason))
		return;
	fuzz_assert(r == 0, "an encoded %s is refused: %s", wire_opcode_name(msg.header.opcode),
		    reason);
	fuzz_assert(decoded.header.opcode == msg.header.opcode &&
			    decoded.header.request_id == msg.header.request_id &&
			    decoded.header.size == len,
		    "an encoded %s decodes to another header", wire_opcode_name(msg.header.opcode));
	len_again = wire_encode(&decoded, again, sizeof(again));
	fuzz_assert(len_again == len && memcmp(again, buf, (size_t)len) == 0,
		    "a decoded %s encodes to other bytes", wire_opcode_name(msg.header.opcode));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	return 0;
}
