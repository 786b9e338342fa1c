/* SPDX-License-Identifier: MIT */
/*
 * Why a request was refused, in words a person can act on. The core fills
 * one in; a front end sends it (the socket's error reply, a D-Bus error)
 * and the log quotes it.
 */
#ifndef IOBUFD_REASON_H
#define IOBUFD_REASON_H

#define REASON_MAX 512

struct reason {
	char text[REASON_MAX];
	char limit[96]; /* the limit met, as admins name it (names.h), "" when none */
};

/* Says why, and returns error (a negative errno): return reason_set(why, -E..., ...). */
int reason_set(struct reason *why, int error, const char *format, ...)
	__attribute__((format(printf, 3, 4)));
/* Names the limit the request met; returns error. */
int reason_limit(struct reason *why, int error, const char *format, ...)
	__attribute__((format(printf, 3, 4)));
/* Adds to what it says already, after "; ", and returns error. */
int reason_add(struct reason *why, int error, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

#endif
