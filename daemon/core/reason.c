/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "reason.h"

int reason_set(struct reason *why, int error, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vsnprintf(why->text, sizeof(why->text), format, args);
	va_end(args);
	why->limit[0] = '\0';
	return error;
}

int reason_limit(struct reason *why, int error, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vsnprintf(why->limit, sizeof(why->limit), format, args);
	va_end(args);
	return error;
}

int reason_add(struct reason *why, int error, const char *format, ...)
{
	size_t used = strlen(why->text);
	va_list args;

	if (used && used + 2 < sizeof(why->text)) {
		memcpy(why->text + used, "; ", 3);
		used += 2;
	}
	va_start(args, format);
	vsnprintf(why->text + used, sizeof(why->text) - used, format, args);
	va_end(args);
	return error;
}
