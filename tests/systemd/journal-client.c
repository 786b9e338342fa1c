/* SPDX-License-Identifier: MIT */
/*
 * One user's story for check-journal.sh: a labelled buffer allocated, one
 * refused by the client's byte limit, the first freed, and a goodbye.
 * Exits 0 when each step went as the story says.
 * Usage: journal-client SOCKET
 */
#include <errno.h>
#include <stdio.h>

#include "iobuf/iobuf.h"

int main(int argc, char **argv)
{
	struct iobuf_task *task;
	struct iobuf *kept, *refused;

	if (argc != 2) {
		fprintf(stderr, "usage: journal-client SOCKET\n");
		return 2;
	}
	task = iobuf_task_connect(argv[1]);
	if (!task || iobuf_task_set_label(task, "journal story") < 0) {
		fprintf(stderr, "journal-client: %s\n", iobuf_last_error());
		return 1;
	}
	kept = iobuf_in_task_with_options(task, 0, 16384, 0);
	refused = iobuf_in_task_with_options(task, 0, 1 << 20, 0);
	if (!kept || refused || errno != EDQUOT) {
		fprintf(stderr, "journal-client: expected one buffer and one EDQUOT: %s\n",
			iobuf_last_error());
		return 1;
	}
	iobuf_release(kept);
	iobuf_task_unref(task);
	return 0;
}
