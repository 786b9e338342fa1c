/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

#define STATUS_INTERVAL_USEC 1000000

static void status_line(const struct allocator *a, char *out, size_t size)
{
	snprintf(out, size, "%u clients, %" PRIu64 " buffers, %" PRIu64 " bytes", a->clients,
		 a->buffers, a->bytes);
}

static int on_status_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
	struct notify *n = userdata;
	char line[sizeof(n->last)];

	status_line(n->allocator, line, sizeof(line));
	if (strcmp(line, n->last) != 0) {
		snprintf(n->last, sizeof(n->last), "%s", line);
		sd_notifyf(0, "STATUS=%s", line);
	}
	sd_event_source_set_time(source, usec + STATUS_INTERVAL_USEC);
	return 0;
}

int notify_ready(struct notify *n, sd_event *event, const struct allocator *allocator)
{
	int r;

	*n = (struct notify){ .allocator = allocator };
	/* sd-event sends WATCHDOG=1 itself when $WATCHDOG_USEC asks for it. */
	r = sd_event_set_watchdog(event, true);
	if (r < 0)
		return log_error_errno(r, "cannot set up the watchdog");
	/* Without a manager listening, status updates would only wake us up. */
	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	r = sd_event_add_time_relative(event, &n->timer, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC, 0,
				       on_status_timer, n);
	if (r < 0)
		return log_error_errno(r, "cannot set up status updates");
	r = sd_event_source_set_enabled(n->timer, SD_EVENT_ON);
	if (r < 0)
		return r;
	status_line(allocator, n->last, sizeof(n->last));
	sd_notifyf(0, "READY=1\nSTATUS=%s", n->last);
	return 0;
}

void notify_stopping(struct notify *n)
{
	n->timer = sd_event_source_disable_unref(n->timer);
	sd_notify(0, "STOPPING=1");
}
