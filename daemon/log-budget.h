/* SPDX-License-Identifier: MIT */
/*
 * Lines one uid's clients may make the daemon log: LOG_BUDGET_BURST at
 * once, then LOG_BUDGET_PER_SECOND. Past that their lines are dropped and
 * counted, and the count is logged once the uid may log again. A client
 * that loops on connecting and misbehaving fills nobody's journal.
 */
#ifndef IOBUFD_LOG_BUDGET_H
#define IOBUFD_LOG_BUDGET_H

#include <stdbool.h>
#include <sys/types.h>

#include "log.h"

#define LOG_BUDGET_BURST 20
#define LOG_BUDGET_PER_SECOND 5

/* Whether a line caused by uid's clients may be logged now. */
bool log_budget_take(uid_t uid);

/* log_msg() for a line a client of uid caused. */
#define log_for_uid(uid, priority, ...)                 \
	do {                                            \
		if (log_budget_take(uid))               \
			log_msg(priority, __VA_ARGS__); \
	} while (0)

#endif
