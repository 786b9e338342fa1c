/* SPDX-License-Identifier: MIT */
/* What the daemon tells its service manager: readiness, status, watchdog. */
#ifndef IOBUFD_NOTIFY_H
#define IOBUFD_NOTIFY_H

#include <systemd/sd-event.h>

#include "core/allocator.h"

struct notify {
	sd_event_source *timer;
	const struct allocator *allocator;
	char last[128];
};

/*
 * Sends READY=1 with the first STATUS=, keeps STATUS= current (at most once
 * a second, only when it changed) and, when the manager asks for a
 * watchdog, pings it from the event loop.
 */
int notify_ready(struct notify *n, sd_event *event, const struct allocator *allocator);
/* Sends STOPPING=1 and stops the updates. */
void notify_stopping(struct notify *n);

#endif
