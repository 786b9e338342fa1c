/* SPDX-License-Identifier: MIT */
/*
 * iobuf-demo: asks iobufd for buffers with several option sets and prints
 * what it got. Run it with iobufd listening at $IOBUFD_SOCKET.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iobuf/iobuf.h>

static void print_options(uint32_t options)
{
	static const char *const cache[] = { "CACHE_DEFAULT", "CACHE_INHIBIT", "CACHE_WRITETHRU",
					     "CACHE_COPYBACK", "CACHE_WRITECOMBINE" };
	static const char *const direction[] = { "DIRECTION_NONE", "DIRECTION_IN",
						 "DIRECTION_OUT", "DIRECTION_INOUT" };
	unsigned mode = (options & IOBUF_CACHE_MASK) >> IOBUF_CACHE_SHIFT;

	printf("%s", direction[options & IOBUF_DIRECTION_MASK]);
	if (options & IOBUF_PHYSICALLY_CONTIGUOUS)
		printf("|PHYSICALLY_CONTIGUOUS");
	if (options & IOBUF_PAGEABLE)
		printf("|PAGEABLE");
	if (options & IOBUF_PURGEABLE)
		printf("|PURGEABLE");
	if (options & IOBUF_KERNEL_USER_SHARED)
		printf("|KERNEL_USER_SHARED");
	printf("|%s", mode < 5 ? cache[mode] : "CACHE_?");
}

static void print_buffer(const char *label, struct iobuf *buf)
{
	printf("%-22s id %-4" PRIu64 " heap %-6s size %-9zu address %p options ", label,
	       iobuf_get_id(buf), iobuf_get_heap(buf), iobuf_get_capacity(buf),
	       iobuf_get_bytes_no_copy(buf));
	print_options(iobuf_get_options(buf));
	printf("\n");
}

/* Writes a pattern through the mapping and checks it reads back. */
static int exercise(struct iobuf *buf)
{
	unsigned char *bytes = iobuf_get_bytes_no_copy(buf);
	size_t n = iobuf_get_capacity(buf);

	for (size_t i = 0; i < n; i++)
		if (bytes[i] != 0)
			return -1; /* fresh memory must be zero */
	memset(bytes, 0xa5, n);
	return bytes[0] == 0xa5 && bytes[n - 1] == 0xa5 ? 0 : -1;
}

static struct iobuf *allocate(const char *label, uint32_t options, size_t capacity,
			      size_t alignment)
{
	struct iobuf *buf = iobuf_with_options(options, capacity, alignment);

	if (!buf) {
		fprintf(stderr, "%s: %s (%s)\n", label, strerror(errno), iobuf_last_error());
		return NULL;
	}
	print_buffer(label, buf);
	if (exercise(buf) < 0) {
		fprintf(stderr, "%s: memory did not read back as written\n", label);
		iobuf_release(buf);
		return NULL;
	}
	return buf;
}

static void print_usage(const char *when)
{
	struct iobuf_usage usage;

	if (iobuf_task_get_usage(iobuf_task_self(), &usage) == 0)
		printf("%s: %" PRIu64 " buffers, %" PRIu64 " bytes charged to this task\n", when,
		       usage.buffers, usage.bytes);
}

int main(void)
{
	static const char hello[] = "hello, device";
	enum iobuf_purgeable_state old;
	struct iobuf *bufs[5] = { 0 };
	int failed = 0;

	if (!iobuf_task_self()) {
		fprintf(stderr, "iobuf-demo: %s\n", iobuf_last_error());
		return EXIT_FAILURE;
	}
	print_usage("before");

	bufs[0] = allocate("wired", IOBUF_DIRECTION_INOUT, 64 << 10, 0);
	bufs[1] = allocate("pageable", IOBUF_DIRECTION_IN | IOBUF_PAGEABLE, 1 << 20, 4096);
	bufs[2] = allocate("pageable+purgeable", IOBUF_PAGEABLE | IOBUF_PURGEABLE, 256 << 10, 0);
	bufs[3] = allocate("2 MiB aligned", IOBUF_DIRECTION_OUT, 4 << 20, 2 << 20);
	bufs[4] = iobuf_with_bytes(hello, sizeof(hello), IOBUF_DIRECTION_OUT, 0);
	for (size_t i = 0; i < 4; i++)
		failed |= !bufs[i];
	if (bufs[4])
		print_buffer("with bytes", bufs[4]);
	else
		failed = 1;

	if (bufs[2] && iobuf_set_purgeable(bufs[2], IOBUF_PURGEABLE_VOLATILE, &old) == 0)
		printf("pageable+purgeable     made volatile (it was %s)\n",
		       old == IOBUF_PURGEABLE_NON_VOLATILE ? "non-volatile" : "?");
	else
		failed = 1;

	/* No memfd is physically contiguous: the daemon says so, nothing is downgraded. */
	if (iobuf_with_capacity(4096, IOBUF_DIRECTION_IN, 1)) {
		fprintf(stderr, "contiguous: unexpectedly granted\n");
		failed = 1;
	} else {
		printf("contiguous             refused: %s\n", iobuf_last_error());
	}

	print_usage("holding");
	for (size_t i = 0; i < 5; i++)
		iobuf_release(bufs[i]);
	print_usage("after release");
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
