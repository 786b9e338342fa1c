/* SPDX-License-Identifier: MIT */
/* What the kernel says of an fd's file in /proc/self/fdinfo, for the guest's tests. */
#ifndef IOBUF_TEST_FDINFO_H
#define IOBUF_TEST_FDINFO_H

#include <stddef.h>

/* The value of the "key:" line in the fd's fdinfo into value, or "" when it has none. */
void fdinfo_value(int fd, const char *key, char *value, size_t size);

#endif
