/* SPDX-License-Identifier: MIT */
#ifndef IOBUF_COMMON_CLOCK_H
#define IOBUF_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The clock's time in microseconds. */
static inline uint64_t clock_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#endif
