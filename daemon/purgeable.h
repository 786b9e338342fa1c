/* SPDX-License-Identifier: MIT */
/*
 * Purgeable memory, as IOKit has it: NON_VOLATILE buffers keep their
 * contents; VOLATILE ones may lose them, least recently made volatile
 * first, when the volatile budget (max-volatile-bytes) is passed or an
 * admin purges; a purged buffer is EMPTY, reads as zero, and says so when
 * its owner makes it non-volatile again.
 */
#ifndef IOBUFD_PURGEABLE_H
#define IOBUFD_PURGEABLE_H

#include "allocator.h"

/* Counts a buffer taken over from the previous iobufd in its state. */
void purgeable_adopt(struct allocator *a, struct buffer *b);
/* Stops counting a buffer that goes away. */
void purgeable_forget(struct allocator *a, struct buffer *b);

#endif
