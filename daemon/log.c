/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static bool verbose;

void log_set_verbose(bool on)
{
	verbose = on;
}

bool log_is_verbose(void)
{
	return verbose;
}

static void log_line(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* The journal reads "<N>" as the priority; a terminal gets plain text. */
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s%s\n", priority, line, suffix);
	else
		fprintf(stderr, "iobufd: %s%s\n", line, suffix);
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(priority, "", fmt, ap);
	va_end(ap);
}

int log_error_errno(int r, const char *fmt, ...)
{
	char suffix[128];
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(-r));
	va_start(ap, fmt);
	log_line(LOG_ERR, suffix, fmt, ap);
	va_end(ap);
	return r;
}
