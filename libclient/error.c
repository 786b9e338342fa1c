/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "private.h"

static _Thread_local char last_error[WIRE_MAX_ERROR_MESSAGE + 128];

int error_set(int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
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
