/* SPDX-License-Identifier: MIT */
/* One line per event on stderr, with syslog priorities for the journal. */
#ifndef IOBUFD_LOG_H
#define IOBUFD_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_set_verbose(bool verbose);
bool log_is_verbose(void);
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
