/* SPDX-License-Identifier: MIT */
/*
 * A client that lives through a restart of iobufd: it allocates and fills
 * buffers, says "ready", waits for a line on stdin (sent once iobufd has
 * been restarted) and then checks that its connection, buffers, contents,
 * states and charges are all still there. Prints "ok" or what went wrong.
 * Usage: restart-client SOCKET
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iobuf/iobuf.h"

#define WIRED_SIZE 65536
#define VOLATILE_SIZE 8192

static int failed(const char *what)
{
	printf("FAIL: %s (%s)\n", what, iobuf_last_error());
	return EXIT_FAILURE;
}

static void fill(struct iobuf *buf, unsigned char seed)
{
	unsigned char *bytes = iobuf_get_bytes_no_copy(buf);

	for (size_t i = 0; i < iobuf_get_capacity(buf); i++)
		bytes[i] = (unsigned char)(seed + i);
}

static int filled(struct iobuf *buf, unsigned char seed)
{
	const unsigned char *bytes = iobuf_get_bytes_no_copy(buf);

	for (size_t i = 0; i < iobuf_get_capacity(buf); i++)
		if (bytes[i] != (unsigned char)(seed + i))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	struct iobuf_task *task;
	struct iobuf *wired, *purgeable, *later;
	struct iobuf_usage before, after;
	enum iobuf_purgeable_state old;
	char line[16];

	if (argc != 2) {
		fprintf(stderr, "usage: restart-client SOCKET\n");
		return 2;
	}
	task = iobuf_task_connect(argv[1]);
	if (!task)
		return failed("connect");
	wired = iobuf_in_task_with_options(task, 0, WIRED_SIZE, 0);
	purgeable = iobuf_in_task_with_options(task, IOBUF_PAGEABLE | IOBUF_PURGEABLE,
					       VOLATILE_SIZE, 0);
	if (!wired || !purgeable)
		return failed("allocate");
	fill(wired, 3);
	fill(purgeable, 5);
	if (iobuf_set_purgeable(purgeable, IOBUF_PURGEABLE_VOLATILE, &old) < 0 ||
	    iobuf_task_get_usage(task, &before) < 0)
		return failed("before the restart");
	printf("ready %llu buffers %llu bytes\n", (unsigned long long)before.buffers,
	       (unsigned long long)before.bytes);
	fflush(stdout);

	if (!fgets(line, sizeof(line), stdin))
		return failed("no word to go on");
	if (iobuf_task_get_usage(task, &after) < 0)
		return failed("usage after the restart");
	if (after.buffers != before.buffers || after.bytes != before.bytes ||
	    after.total_bytes != before.total_bytes || after.clients != before.clients)
		return failed("the charge changed");
	if (!filled(wired, 3) || !filled(purgeable, 5))
		return failed("the contents changed");
	if (iobuf_set_purgeable(purgeable, IOBUF_PURGEABLE_NON_VOLATILE, &old) < 0 ||
	    old != IOBUF_PURGEABLE_VOLATILE)
		return failed("the purgeable state was lost");
	later = iobuf_in_task_with_options(task, 0, 4096, 0);
	if (!later || iobuf_get_id(later) <= iobuf_get_id(purgeable))
		return failed("a new buffer reused an id");
	iobuf_release(later);
	iobuf_release(wired);
	iobuf_release(purgeable);
	if (iobuf_task_get_usage(task, &after) < 0 || after.buffers || after.bytes)
		return failed("freeing after the restart");
	iobuf_task_unref(task);
	printf("ok\n");
	return EXIT_SUCCESS;
}
