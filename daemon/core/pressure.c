/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "pressure.h"

#define PRESSURE_PATH "/proc/pressure/memory"
#define PURGED_ONLY "volatile buffers are purged only past max-volatile-bytes and by an admin"
#define BLANKS " \t"
#define WINDOW_MIN_US 500000
#define WINDOW_MAX_US 10000000
/* Without CAP_SYS_RESOURCE the kernel takes only windows of whole 2 s. */
#define UNPRIVILEGED_WINDOW_US 2000000
#define FORMS                                                                          \
	"expected 'off' or 'some|full STALL_US WINDOW_US' with 0 < STALL_US <= WINDOW_US " \
	"and WINDOW_US 500000 to 10000000"

/* Blanks, then a decimal number; *s then points past it. */
static int next_number(const char **s, uint64_t *n)
{
	const char *digits = *s + strspn(*s, BLANKS);
	char *end;

	if (digits == *s || !isdigit((unsigned char)*digits))
		return -EINVAL;
	errno = 0;
	*n = strtoull(digits, &end, 10);
	if (errno)
		return -errno;
	*s = end;
	return 0;
}

/* What is wrong with text as a trigger, or NULL after writing it to trigger. */
static const char *check_trigger(const char *text, char *trigger)
{
	const char *s = text + strspn(text, BLANKS), *kind = s;
	size_t kind_len = strcspn(s, BLANKS);
	uint64_t stall, window;

	if (kind_len != 4 || (strncmp(kind, "some", 4) != 0 && strncmp(kind, "full", 4) != 0))
		return "not a trigger";
	s += kind_len;
	if (next_number(&s, &stall) < 0 || next_number(&s, &window) < 0 || s[strspn(s, BLANKS)])
		return "not a trigger";
	if (window < WINDOW_MIN_US || window > WINDOW_MAX_US)
		return "WINDOW_US is not 500000 to 10000000";
	if (stall == 0)
		return "STALL_US is 0";
	if (stall > window)
		return "STALL_US is over WINDOW_US";
	snprintf(trigger, PRESSURE_TRIGGER_MAX, "%.4s %u %u", kind, (unsigned)stall,
		 (unsigned)window);
	return NULL;
}

int pressure_trigger_parse(const char *text, char *trigger, struct reason *why)
{
	const char *wrong;

	if (strcmp(text, "off") == 0) {
		snprintf(trigger, PRESSURE_TRIGGER_MAX, "off");
		return 0;
	}
	wrong = check_trigger(text, trigger);
	if (!wrong)
		return 0;
	return reason_set(why, -EINVAL, "'%s': %s; " FORMS, text, wrong);
}

static void disarm(struct pressure_watch *w)
{
	w->source = sd_event_source_disable_unref(w->source);
}

static int on_pressure(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct pressure_watch *w = userdata;

	if (revents & EPOLLERR) {
		log_warning("the memory pressure trigger is gone: " PURGED_ONLY);
		disarm(w);
		w->trigger[0] = '\0'; /* so that a reload arms it again */
		return 0;
	}
	if (allocator_purge(w->allocator, 0, "memory pressure") == 0)
		log_debug("memory pressure: no volatile buffer to purge");
	return 0;
}

/* The PSI file with trigger written to it, or a negative errno. */
static int open_trigger(const char *trigger)
{
	int fd = open(PRESSURE_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	/* The kernel reads the trigger with its NUL. */
	if (write(fd, trigger, strlen(trigger) + 1) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Why the kernel may have refused trigger with error r, when we can tell. */
static const char *refusal_hint(int r, const char *trigger)
{
	unsigned window = 0;

	if (r == -EPERM || r == -EACCES)
		return " (before Linux 6.5 only CAP_SYS_RESOURCE may set triggers)";
	if (r == -EINVAL && sscanf(trigger, "%*s %*u %u", &window) == 1 &&
	    window % UNPRIVILEGED_WINDOW_US)
		return " (without CAP_SYS_RESOURCE WINDOW_US must be a multiple of 2000000)";
	return "";
}

static int arm(struct pressure_watch *w)
{
	int fd, r;

	if (strcmp(w->trigger, "off") == 0) {
		log_info("memory-pressure is off: " PURGED_ONLY);
		return 0;
	}
	fd = open_trigger(w->trigger);
	if (fd == -ENOENT || fd == -EOPNOTSUPP) {
		log_info("no memory pressure information (" PRESSURE_PATH ": %s): " PURGED_ONLY,
			 strerror(-fd));
		return 0;
	}
	if (fd < 0) {
		log_warning("memory pressure trigger '%s' refused: %s%s; " PURGED_ONLY, w->trigger,
			    strerror(-fd), refusal_hint(fd, w->trigger));
		return 0;
	}
	r = sd_event_add_io(w->event, &w->source, fd, EPOLLPRI, on_pressure, w);
	if (r < 0) {
		close(fd);
		return log_error_errno(r, "cannot watch " PRESSURE_PATH);
	}
	(void)sd_event_source_set_io_fd_own(w->source, true);
	log_info("volatile buffers are purged under memory pressure '%s' (" PRESSURE_PATH ")",
		 w->trigger);
	return 0;
}

int pressure_watch_start(struct pressure_watch *w, sd_event *event, struct allocator *allocator,
			 const char *trigger)
{
	*w = (struct pressure_watch){ .event = event, .allocator = allocator };
	snprintf(w->trigger, sizeof(w->trigger), "%s", trigger);
	return arm(w);
}

int pressure_watch_change(struct pressure_watch *w, const char *trigger)
{
	if (strcmp(w->trigger, trigger) == 0)
		return 0;
	disarm(w);
	snprintf(w->trigger, sizeof(w->trigger), "%s", trigger);
	return arm(w);
}

void pressure_watch_stop(struct pressure_watch *w)
{
	disarm(w);
}
