/* SPDX-License-Identifier: MIT */
/*
 * A buffer's label: the name its owner gives it, shown as the dma-buf's or
 * memfd's name, by iobufctl, on D-Bus and in the journal. The rule is one,
 * checked by libiobuf before it sends and by iobufd on what it receives.
 */
#ifndef IOBUF_COMMON_LABEL_H
#define IOBUF_COMMON_LABEL_H

/* The kernel names a dma-buf with at most 31 bytes (DMA_BUF_NAME_LEN - 1). */
#define LABEL_MAX 31

/*
 * NULL when label is a good label: at most LABEL_MAX bytes of UTF-8 without
 * control characters ("" is no label). Otherwise what is wrong with it, as
 * words that follow "the label ".
 */
const char *label_problem(const char *label);

#endif
