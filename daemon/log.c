/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"

static bool verbose;
static enum log_target target = LOG_TARGET_AUTO;
static int to_journal = -1; /* learned on the first line in LOG_TARGET_AUTO */

void log_set_verbose(bool on)
{
	verbose = on;
}

bool log_is_verbose(void)
{
	return verbose;
}

void log_set_target(enum log_target t)
{
	target = t;
	to_journal = t == LOG_TARGET_AUTO ? -1 : t == LOG_TARGET_JOURNAL;
}

/* Whether stderr is the stream systemd connected to the journal ("DEV:INO" in $JOURNAL_STREAM). */
static bool stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static bool journal_wanted(void)
{
	if (to_journal < 0)
		to_journal = stderr_is_journal();
	return to_journal;
}

/* One journal entry: MESSAGE, PRIORITY, the identifier, MESSAGE_ID and the fields. */
static int send_to_journal(int priority, const char *message_id, const struct log_field *fields,
			   size_t n_fields, const char *message)
{
	char text[4 + LOG_FIELDS_MAX][640];
	struct iovec iov[4 + LOG_FIELDS_MAX];
	size_t n = 0;

	snprintf(text[n++], sizeof(text[0]), "MESSAGE=%s", message);
	snprintf(text[n++], sizeof(text[0]), "PRIORITY=%d", priority);
	snprintf(text[n++], sizeof(text[0]), "SYSLOG_IDENTIFIER=iobufd");
	if (message_id)
		snprintf(text[n++], sizeof(text[0]), "MESSAGE_ID=%s", message_id);
	for (size_t i = 0; i < n_fields && i < LOG_FIELDS_MAX; i++)
		snprintf(text[n++], sizeof(text[0]), "IOBUFD_%s=%s", fields[i].name,
			 fields[i].value);
	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){ .iov_base = text[i], .iov_len = strlen(text[i]) };
	return sd_journal_sendv(iov, (int)n);
}

static void log_line(int priority, const char *message_id, const struct log_field *fields,
		     size_t n_fields, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];
	size_t len;

	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	snprintf(line + len, sizeof(line) - len, "%s", suffix);
	if (journal_wanted() &&
	    send_to_journal(priority, message_id, fields, n_fields, line) >= 0)
		return;
	/* The journal reads "<N>" as the priority; a terminal gets plain text. */
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s\n", priority, line);
	else
		fprintf(stderr, "iobufd: %s\n", line);
}

void log_fields(int priority, const char *message_id, const struct log_field *fields,
		size_t n_fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(priority, message_id, fields, n_fields, "", fmt, ap);
	va_end(ap);
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(priority, NULL, NULL, 0, "", fmt, ap);
	va_end(ap);
}

int log_error_errno(int r, const char *fmt, ...)
{
	char suffix[128];
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(-r));
	va_start(ap, fmt);
	log_line(LOG_ERR, NULL, NULL, 0, suffix, fmt, ap);
	va_end(ap);
	return r;
}
