/* SPDX-License-Identifier: MIT */
/* The wire codec: every message round-trips; every malformed record is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iobuf/iobuf.h"
#include "wire.h"

static struct wire_message roundtrip(const struct wire_message *in)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	struct wire_message out;
	const char *reason;
	ssize_t len = wire_encode(in, buf, sizeof(buf));

	assert_true(len >= WIRE_HEADER_SIZE);
	assert_int_equal(wire_decode(buf, (size_t)len, &out, &reason), 0);
	assert_int_equal(out.header.opcode, in->header.opcode);
	assert_int_equal(out.header.size, len);
	assert_int_equal(out.header.request_id, in->header.request_id);
	return out;
}

static void test_requests_roundtrip(void **state)
{
	struct wire_message m = { .header = { WIRE_HELLO, 0, 7 }, .hello.version = 1 };
	struct wire_message out = roundtrip(&m);

	assert_int_equal(out.hello.version, 1);

	m = (struct wire_message){ .header = { WIRE_ALLOCATE, 0, UINT32_MAX },
				   .allocate = { 0x31b, UINT64_MAX, 1u << 21, 0xfffff000 } };
	out = roundtrip(&m);
	assert_memory_equal(&out.allocate, &m.allocate, sizeof(m.allocate));

	m.header.opcode = WIRE_QUERY;
	out = roundtrip(&m);
	assert_memory_equal(&out.allocate, &m.allocate, sizeof(m.allocate));
	assert_false(out.allocate.spec.present);

	/* Version 2 appends the heap asked for and the label, either of them empty. */
	m.allocate.spec = (struct wire_spec){ .present = true, .heap = "dma-heap/system" };
	memset(m.allocate.spec.label, 'l', WIRE_MAX_LABEL);
	out = roundtrip(&m);
	assert_memory_equal(&out.allocate, &m.allocate, sizeof(m.allocate));
	m.allocate.spec = (struct wire_spec){ .present = true };
	out = roundtrip(&m);
	assert_true(out.allocate.spec.present);
	assert_string_equal(out.allocate.spec.heap, "");
	assert_string_equal(out.allocate.spec.label, "");

	m = (struct wire_message){ .header = { WIRE_FREE, 0, 3 }, .free.id = UINT64_MAX };
	assert_true(roundtrip(&m).free.id == UINT64_MAX);

	m = (struct wire_message){ .header = { WIRE_SET_PURGEABLE, 0, 4 },
				   .set_purgeable = { 42, 3 } };
	out = roundtrip(&m);
	assert_int_equal(out.set_purgeable.id, 42);
	assert_int_equal(out.set_purgeable.state, 3);

	m = (struct wire_message){ .header = { WIRE_STATS, 0, 5 } };
	roundtrip(&m);
}

static void test_replies_roundtrip(void **state)
{
	struct wire_message m = { .header = { WIRE_ALLOCATE_REPLY, 0, 9 },
				  .allocate_reply = { 12, 8192, 0x309, WIRE_BUFFER_MAPPABLE } };
	struct wire_message out;

	memset(m.allocate_reply.heap, 'h', WIRE_MAX_HEAP_NAME); /* the longest name */
	out = roundtrip(&m);
	assert_int_equal(out.allocate_reply.id, 12);
	assert_int_equal(out.allocate_reply.size, 8192);
	assert_int_equal(out.allocate_reply.options, 0x309);
	assert_int_equal(out.allocate_reply.flags, WIRE_BUFFER_MAPPABLE);
	assert_string_equal(out.allocate_reply.heap, m.allocate_reply.heap);

	m.header.opcode = WIRE_QUERY_REPLY;
	assert_string_equal(roundtrip(&m).allocate_reply.heap, m.allocate_reply.heap);

	m = (struct wire_message){ .header = { WIRE_SET_PURGEABLE_REPLY, 0, 1 },
				   .set_purgeable_reply.old_state = 4 };
	assert_int_equal(roundtrip(&m).set_purgeable_reply.old_state, 4);

	m = (struct wire_message){ .header = { WIRE_STATS_REPLY, 0, 1 },
				   .stats_reply = { 1, 2, 3, UINT64_MAX, 5 } };
	out = roundtrip(&m);
	assert_memory_equal(&out.stats_reply, &m.stats_reply, sizeof(m.stats_reply));

	m = (struct wire_message){ .header = { WIRE_HELLO_REPLY, 0, 1 }, .hello_reply.version = 1 };
	assert_int_equal(roundtrip(&m).hello_reply.version, 1);

	m = (struct wire_message){ .header = { WIRE_FREE_REPLY, 0, 1 } };
	roundtrip(&m);

	m = (struct wire_message){ .header = { WIRE_ERROR, 0, 1 }, .error.error = EDQUOT };
	memset(m.error.message, 'e', WIRE_MAX_ERROR_MESSAGE);
	out = roundtrip(&m);
	assert_int_equal(out.error.error, EDQUOT);
	assert_string_equal(out.error.message, m.error.message);
}

static void test_encode_refuses(void **state)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	struct wire_message m = { .header.opcode = 0x0042 };

	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);

	m = (struct wire_message){ .header.opcode = WIRE_ALLOCATE };
	assert_int_equal(wire_encode(&m, buf, WIRE_HEADER_SIZE + 31), -EMSGSIZE);
	assert_int_equal(wire_encode(&m, buf, WIRE_HEADER_SIZE + 32), WIRE_HEADER_SIZE + 32);

	/* A string one byte over its limit is refused, not cut. */
	m = (struct wire_message){ .header.opcode = WIRE_ALLOCATE_REPLY };
	memset(m.allocate_reply.heap, 'h', sizeof(m.allocate_reply.heap));
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);

	/* Nor is what the decoder would refuse: a reply naming no heap, an errno of 0 or less. */
	m = (struct wire_message){ .header.opcode = WIRE_ALLOCATE_REPLY };
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = (struct wire_message){ .header.opcode = WIRE_ALLOCATE_N_REPLY,
				   .allocate_n_reply.count = 1 };
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = (struct wire_message){ .header.opcode = WIRE_ALLOCATE_IMAGE_REPLY,
				   .allocate_image_reply.plane_count = 1 };
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = (struct wire_message){ .header.opcode = WIRE_ERROR, .error.error = 0 };
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.error.error = -EIO;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
}

/* Encodes a valid message to tamper with. */
static size_t encode(uint16_t opcode, uint8_t *buf)
{
	struct wire_message m = { .header = { opcode, 0, 77 }, .hello.version = 1 };
	ssize_t len;

	if (opcode == WIRE_ALLOCATE_REPLY)
		strcpy(m.allocate_reply.heap, "memfd");
	if (opcode == WIRE_ERROR) {
		m.error.error = EINVAL;
		strcpy(m.error.message, "bad");
	}
	len = wire_encode(&m, buf, WIRE_MAX_MESSAGE);
	assert_true(len > 0);
	return (size_t)len;
}

/* A version 2 allocate asking for heap and label. */
static size_t encode_spec(const char *heap, const char *label, uint8_t *buf)
{
	struct wire_message m = { .header = { WIRE_ALLOCATE, 0, 78 },
				  .allocate = { .capacity = 4096, .spec.present = true } };
	ssize_t len;

	strcpy(m.allocate.spec.heap, heap);
	strcpy(m.allocate.spec.label, label);
	len = wire_encode(&m, buf, WIRE_MAX_MESSAGE);
	assert_true(len > 0);
	return (size_t)len;
}

static void set_size(uint8_t *buf, size_t size)
{
	uint16_t v = (uint16_t)size;

	memcpy(buf + 2, &v, sizeof(v));
}

static void expect_bad(const uint8_t *buf, size_t len, const char *words)
{
	struct wire_message m;
	const char *reason;

	assert_int_equal(wire_decode(buf, len, &m, &reason), -EBADMSG);
	assert_non_null(reason);
	assert_non_null(strstr(reason, words));
}

static void test_decode_refuses_malformed(void **state)
{
	uint8_t buf[WIRE_MAX_MESSAGE + 16] = { 0 };
	size_t len;

	expect_bad(buf, 0, "truncated header");
	expect_bad(buf, 3, "truncated header");
	expect_bad(buf, WIRE_HEADER_SIZE - 1, "truncated header");

	len = encode(WIRE_ALLOCATE, buf);
	set_size(buf, len + 1);
	expect_bad(buf, len, "size field");

	/* Body shorter than the opcode needs, with a matching size field. */
	set_size(buf, len - 4);
	expect_bad(buf, len - 4, "shorter");

	/* Body longer than the opcode allows. */
	len = encode(WIRE_FREE, buf);
	set_size(buf, len + 4);
	expect_bad(buf, len + 4, "longer");

	/* Past version 2's strings, or into them. */
	len = encode_spec("dma-heap/system", "camera", buf);
	set_size(buf, len + 1);
	expect_bad(buf, len + 1, "longer");
	set_size(buf, len - 1);
	expect_bad(buf, len - 1, "shorter");

	/* A reserved field that is not zero (hello's second word). */
	len = encode(WIRE_HELLO, buf);
	buf[12] = 1;
	expect_bad(buf, len, "reserved");

	expect_bad(buf, WIRE_MAX_MESSAGE + 1, "larger");
}

static void test_decode_refuses_bad_strings(void **state)
{
	uint8_t buf[WIRE_MAX_MESSAGE] = { 0 };
	size_t len = encode(WIRE_ALLOCATE_REPLY, buf); /* heap "memfd" at offset 32 */
	uint16_t n;

	buf[34 + 2] = '\0'; /* "me\0fd" */
	expect_bad(buf, len, "NUL");

	len = encode(WIRE_ALLOCATE_REPLY, buf);
	n = 6; /* one byte past the end */
	memcpy(buf + 32, &n, sizeof(n));
	expect_bad(buf, len, "shorter");

	n = WIRE_MAX_HEAP_NAME + 1;
	memcpy(buf + 32, &n, sizeof(n));
	set_size(buf, 34 + n);
	memset(buf + 34, 'x', n);
	expect_bad(buf, 34 + n, "limit");

	len = encode(WIRE_ALLOCATE_REPLY, buf);
	n = 0;
	memcpy(buf + 32, &n, sizeof(n));
	set_size(buf, 34);
	expect_bad(buf, 34, "empty");

	len = encode(WIRE_ERROR, buf);
	memset(buf + 8, 0, 4); /* errno 0 */
	expect_bad(buf, len, "errno");
}

static void test_batch_messages(void **state)
{
	struct wire_message m = {
		.header = { WIRE_ALLOCATE_N, 0, 11 },
		.allocate_n = { 64, WIRE_BATCH_POOLED,
				{ IOBUF_PAGEABLE, 4096, 0, 0, { .present = true, .label = "b" } } },
	};
	struct wire_message out = roundtrip(&m);
	uint8_t buf[WIRE_MAX_MESSAGE];
	const char *reason;
	ssize_t len;

	assert_memory_equal(&out.allocate_n, &m.allocate_n, sizeof(m.allocate_n));
	/* Neither side takes a batch of 0 or over 64 (the count is at offset 8). */
	len = wire_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	for (uint32_t count = 0; count <= 65; count += 65) {
		m.allocate_n.count = count;
		assert_int_equal(wire_encode(&m, buf + 2048, 2048), -EINVAL);
		memcpy(buf + 8, &count, sizeof(count));
		assert_int_equal(wire_decode(buf, (size_t)len, &out, &reason), -EBADMSG);
		assert_non_null(strstr(reason, "batch count"));
	}

	m = (struct wire_message){ .header = { WIRE_ALLOCATE_N_REPLY, 0, 11 },
				   .allocate_n_reply = { .count = 64, .options = 8, .flags = 2,
							 .size = 4096, .heap = "memfd" } };
	for (int i = 0; i < 64; i++)
		m.allocate_n_reply.ids[i] = 1000 + (uint64_t)i;
	out = roundtrip(&m);
	assert_memory_equal(&out.allocate_n_reply, &m.allocate_n_reply,
			    sizeof(m.allocate_n_reply));
	assert_int_equal(out.header.size, WIRE_HEADER_SIZE + 24 + 2 + 5 + 64 * 8);
	m.allocate_n_reply.count = 65;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	/* A reply with an empty heap name (its length is at offset 32) is malformed. */
	m.allocate_n_reply.count = 1;
	len = wire_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	memmove(buf + 34, buf + 39, (size_t)len - 39);
	memset(buf + 32, 0, 2);
	len -= 5;
	memcpy(buf + 2, &(uint16_t){ (uint16_t)len }, 2);
	assert_int_equal(wire_decode(buf, (size_t)len, &out, &reason), -EBADMSG);
	assert_non_null(strstr(reason, "heap name is empty"));

	m = (struct wire_message){ .header = { WIRE_CLAIM, 0, 12 },
				   .claim = { 2, { 7, UINT64_MAX - 1 } } };
	out = roundtrip(&m);
	assert_memory_equal(&out.claim, &m.claim, sizeof(m.claim));
	assert_int_equal(out.header.size, WIRE_HEADER_SIZE + 8 + 2 * 8);
	m.claim.count = 0;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = (struct wire_message){ .header = { WIRE_CLAIM_REPLY, 0, 12 } };
	assert_int_equal(roundtrip(&m).header.size, WIRE_HEADER_SIZE);
}

static void test_image_messages(void **state)
{
	struct wire_message m = {
		.header = { WIRE_ALLOCATE_IMAGE, 0, 9 },
		.allocate_image = { 640, 480, 0x34325258, 3, 2, { 0, 0x0100000000000001ull } },
	};
	struct wire_message out = roundtrip(&m);
	uint8_t buf[WIRE_MAX_MESSAGE];
	ssize_t len;

	assert_memory_equal(&out.allocate_image, &m.allocate_image, sizeof(m.allocate_image));
	assert_int_equal(out.header.size, WIRE_HEADER_SIZE + 24 + 16);
	m.allocate_image.spec = (struct wire_spec){ .present = true, .heap = "gbm/card1",
						    .label = "scanout" };
	out = roundtrip(&m);
	assert_memory_equal(&out.allocate_image, &m.allocate_image, sizeof(m.allocate_image));
	assert_int_equal(out.header.size, WIRE_HEADER_SIZE + 24 + 16 + 2 + 9 + 2 + 7);

	m = (struct wire_message){
		.header = { WIRE_ALLOCATE_IMAGE_REPLY, 0, 9 },
		.allocate_image_reply = {
			.buffer = { 5, 1228800, 3, WIRE_BUFFER_DMABUF, "gbm/card1" },
			.modifier = 0,
			.plane_count = 2,
			.planes = { { 0, 2560 }, { 1228800, 1280 } },
		},
	};
	out = roundtrip(&m);
	assert_memory_equal(&out.allocate_image_reply, &m.allocate_image_reply,
			    sizeof(m.allocate_image_reply));

	/* A count the encoder cannot send, and the decoder will not take. */
	m.allocate_image_reply.plane_count = 5;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.allocate_image_reply.plane_count = 0;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = (struct wire_message){ .header = { WIRE_ALLOCATE_IMAGE, 0, 1 },
				   .allocate_image = { 1, 1, 1, 0, WIRE_MAX_MODIFIERS } };
	len = wire_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	buf[WIRE_HEADER_SIZE + 16] = WIRE_MAX_MODIFIERS + 1;
	expect_bad(buf, (size_t)len, "more modifiers");
	m.allocate_image.modifier_count = WIRE_MAX_MODIFIERS + 1;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_decode_unknown_opcode(void **state)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	struct wire_message m;
	const char *reason;
	size_t len = encode(WIRE_HELLO, buf);
	uint16_t opcode = 0x0042;

	memcpy(buf, &opcode, sizeof(opcode));
	assert_int_equal(wire_decode(buf, len, &m, &reason), -ENOSYS);
	assert_int_equal(m.header.opcode, 0x0042);
	assert_int_equal(m.header.request_id, 77);
}

static void test_decode_survives_garbage(void **state)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	struct wire_message m;
	const char *reason;

	srand(1);
	for (int i = 0; i < 200000; i++) {
		size_t len = (size_t)rand() % 80;
		int r;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rand();
		if (len >= 4 && i % 2) {
			/* Make half of them pass the header checks to reach the bodies. */
			uint16_t opcode = (uint16_t)(rand() % 7 + (rand() % 2) * WIRE_REPLY);

			memcpy(buf, &opcode, 2);
			set_size(buf, len);
		}
		r = wire_decode(buf, len, &m, &reason);
		assert_true(r == 0 || r == -EBADMSG || r == -ENOSYS);
		assert_true(r == 0 || reason != NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_roundtrip),
		cmocka_unit_test(test_replies_roundtrip),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_decode_refuses_malformed),
		cmocka_unit_test(test_decode_refuses_bad_strings),
		cmocka_unit_test(test_image_messages),
		cmocka_unit_test(test_batch_messages),
		cmocka_unit_test(test_decode_unknown_opcode),
		cmocka_unit_test(test_decode_survives_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
