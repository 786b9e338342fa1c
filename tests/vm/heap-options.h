/* SPDX-License-Identifier: MIT */
/* What a client of one heap asks for, in the guest's per-heap runs. */
#ifndef IOBUF_TEST_HEAP_OPTIONS_H
#define IOBUF_TEST_HEAP_OPTIONS_H

#include <stdint.h>

/*
 * The first option set (plain, pageable, write-combined, uncached, each
 * with extra) that iobufd serves at size, in *options. 0, or -1 having
 * said why on stderr: iobufd serves another heap than heap, or none of them.
 */
int heap_options(const char *heap, uint32_t extra, uint64_t size, uint32_t *options);

#endif
