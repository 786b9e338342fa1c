/* SPDX-License-Identifier: MIT */
/*
 * One line per event: on stderr, or to the journal with fields an admin can
 * filter on (journalctl IOBUFD_UID=1000) when iobufd runs under systemd or
 * is told to (--log-target=journal).
 */
#ifndef IOBUFD_LOG_H
#define IOBUFD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO,    /* the journal when stderr is connected to it ($JOURNAL_STREAM) */
	LOG_TARGET_JOURNAL, /* sd_journal_send(), stderr when the journal refuses */
	LOG_TARGET_STDERR,
};

/* A journal field of an event: IOBUFD_<name>=<value>. */
struct log_field {
	const char *name;
	const char *value;
};

/* The most fields an event carries. */
#define LOG_FIELDS_MAX 16

void log_set_verbose(bool verbose);
bool log_is_verbose(void);
void log_set_target(enum log_target target);

/*
 * Logs the line fmt says, with fields and a MESSAGE_ID (a catalog entry in
 * systemd/iobufd.catalog; NULL for none) where the journal gets it.
 */
void log_fields(int priority, const char *message_id, const struct log_field *fields,
		size_t n_fields, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs fmt followed by ": <strerror(-r)>" and returns r (a negative errno). */
int log_error_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_debug(...)                                  \
	do {                                            \
		if (log_is_verbose())                   \
			log_msg(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
