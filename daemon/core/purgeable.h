/* SPDX-License-Identifier: MIT */
/*
 * Purgeable memory, as IOKit has it: NON_VOLATILE buffers keep their
 * contents; VOLATILE ones may lose them, least recently made volatile
 * first, when the volatile budget (max-volatile-bytes) is passed or an
 * admin purges or memory is short; a purged buffer is EMPTY, reads as
 * zero, and says so when its owner makes it non-volatile again. An EMPTY
 * buffer made VOLATILE stays EMPTY (and is emptied again), as XNU's
 * vm_object_purgable_control() keeps it. Every transition reports the
 * state the buffer had before it.
 */
#ifndef IOBUFD_PURGEABLE_H
#define IOBUFD_PURGEABLE_H

#include "allocator.h"

/* Counts a buffer taken over from the previous iobufd in its state. */
void purgeable_adopt(struct allocator *a, struct buffer *b);
/* Stops counting a buffer that goes away. */
void purgeable_forget(struct allocator *a, struct buffer *b);

#endif
