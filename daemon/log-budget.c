/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "log-budget.h"

/* The uids seen last; one not among them takes the place of the longest idle. */
#define LOG_BUDGET_UIDS 64

struct uid_budget {
	uid_t uid;
	bool used;
	double tokens;
	uint64_t refilled_usec;
	uint64_t dropped;
};

static struct uid_budget budgets[LOG_BUDGET_UIDS];

static struct uid_budget *budget_of(uid_t uid, uint64_t now)
{
	struct uid_budget *idlest = &budgets[0];

	for (size_t i = 0; i < LOG_BUDGET_UIDS; i++) {
		if (budgets[i].used && budgets[i].uid == uid)
			return &budgets[i];
		if (!budgets[i].used || budgets[i].refilled_usec < idlest->refilled_usec)
			idlest = &budgets[i];
		if (!budgets[i].used)
			break;
	}
	*idlest = (struct uid_budget){ .uid = uid, .used = true, .tokens = LOG_BUDGET_BURST,
				       .refilled_usec = now };
	return idlest;
}

bool log_budget_take(uid_t uid)
{
	uint64_t now = clock_usec(CLOCK_MONOTONIC);
	struct uid_budget *b = budget_of(uid, now);

	b->tokens += (double)(now - b->refilled_usec) * LOG_BUDGET_PER_SECOND / 1e6;
	if (b->tokens > LOG_BUDGET_BURST)
		b->tokens = LOG_BUDGET_BURST;
	b->refilled_usec = now;
	if (b->tokens < 1) {
		b->dropped++;
		return false;
	}
	b->tokens -= 1;
	if (b->dropped) {
		log_warning("uid %u: %" PRIu64 " lines its clients caused were not logged "
			    "(more than %d a second)", (unsigned)uid, b->dropped,
			    LOG_BUDGET_PER_SECOND);
		b->dropped = 0;
	}
	return true;
}
