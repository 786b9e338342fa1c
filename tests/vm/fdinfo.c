/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fdinfo.h"

void fdinfo_value(int fd, const char *key, char *value, size_t size)
{
	char path[64], line[256];
	size_t len = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	assert_non_null(f);
	value[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, len) == 0 && line[len] == ':') {
			snprintf(value, size, "%s", line + len + 1 + strspn(line + len + 1, " \t"));
			value[strcspn(value, "\n")] = '\0';
		}
	}
	fclose(f);
}
