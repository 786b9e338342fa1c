/* SPDX-License-Identifier: MIT */
/*
 * Memory pressure: a PSI trigger on /proc/pressure/memory ("some|full
 * STALL_US WINDOW_US", see the kernel's psi.rst). Each time the kernel
 * reports that tasks stalled on memory that long within the window, every
 * volatile buffer is purged. Without PSI, or when the kernel refuses the
 * trigger, this is logged and volatile buffers are purged only past the
 * volatile budget and by an admin.
 */
#ifndef IOBUFD_PRESSURE_H
#define IOBUFD_PRESSURE_H

#include <stddef.h>
#include <systemd/sd-event.h>

#include "allocator.h"
#include "reason.h"

/*
 * The kernel lets processes without CAP_SYS_RESOURCE use only windows that
 * are multiples of 2 s, and the shipped unit grants no capabilities.
 */
#define PRESSURE_TRIGGER_DEFAULT "some 200000 2000000"
#define PRESSURE_TRIGGER_MAX 32 /* with the NUL */

struct pressure_watch {
	sd_event *event;
	struct allocator *allocator;
	sd_event_source *source;            /* owns the PSI fd; NULL when not armed */
	char trigger[PRESSURE_TRIGGER_MAX]; /* the one asked for, "off", or "" once gone */
};

/*
 * Reads text as "off" or a trigger and writes it to trigger (at least
 * PRESSURE_TRIGGER_MAX bytes) as the kernel reads it. 0, or -EINVAL with
 * why saying "'TEXT': what is wrong; expected ...".
 */
int pressure_trigger_parse(const char *text, char *trigger, struct reason *why);

/*
 * Arms trigger (as pressure_trigger_parse() gives it, or "off"). A kernel
 * without PSI, or one that refuses the trigger, is logged and not an
 * error: 0, or a negative errno when the event loop fails; call
 * pressure_watch_stop() in either case.
 */
int pressure_watch_start(struct pressure_watch *w, sd_event *event, struct allocator *allocator,
			 const char *trigger);
/* Arms trigger instead of the one in force, unless it is the same (SIGHUP). */
int pressure_watch_change(struct pressure_watch *w, const char *trigger);
void pressure_watch_stop(struct pressure_watch *w);

#endif
