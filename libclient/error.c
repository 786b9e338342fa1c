/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "private.h"

static _Thread_local char last_error[WIRE_MAX_ERROR_MESSAGE + 128];

/*
 * The one convention of libiobuf: error is a negative errno, as functions
 * returning int return it; errno is always the positive one, as callers of
 * functions returning a pointer read it. error_set() does both: it records
 * the message, sets errno to -error and returns error, so a failing function
 * ends with "return error_set(-E..., ...)" or "error_set(-E..., ...); return
 * NULL". Nothing that may change errno (close, free of a task) may run
 * between it and the return.
 */
int error_set(int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errno = -error;
	return error;
}

void error_clear(void)
{
	last_error[0] = '\0';
}

IOBUF_EXPORT const char *iobuf_last_error(void)
{
	return last_error;
}
