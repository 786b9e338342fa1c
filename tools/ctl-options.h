/* SPDX-License-Identifier: MIT */
/*
 * What iobufctl reads from its command line and writes for the daemon's
 * numbers: option names <-> IOBUF_* bits, sizes with K/M/G suffixes, client
 * ids, uids, what usage totals by, and purgeable states.
 */
#ifndef IOBUFCTL_OPTIONS_H
#define IOBUFCTL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text ctl_options_format() writes, with its NUL. */
#define CTL_OPTIONS_TEXT_MAX 128

/*
 * Parses a comma-separated list of option names (see ctl_options_vocabulary)
 * into IOBUF_* bits; "" is no option. 0, or -EINVAL with *bad pointing at
 * the offending word in list (its length in *bad_len), or -EEXIST when two
 * cache modes conflict (*bad is the second one).
 */
int ctl_options_parse(const char *list, uint32_t *bits, const char **bad, size_t *bad_len);

/*
 * Names the bits, comma separated, in the vocabulary ctl_options_parse()
 * reads ("" for 0); bits no name covers are appended in hex. Truncated to
 * size; CTL_OPTIONS_TEXT_MAX holds any bits.
 */
void ctl_options_format(uint32_t bits, char *out, size_t size);

/*
 * Calls fn for each name ctl_options_format() would write, in order; for a
 * caller that lists them (JSON arrays).
 */
void ctl_options_foreach(uint32_t bits, void (*fn)(const char *name, void *data), void *data);

/* Every name ctl_options_parse() accepts, comma separated, for messages. */
extern const char ctl_options_vocabulary[];

/*
 * A decimal number with an optional K, M or G suffix (powers of 1024, either
 * case): 0, -EINVAL when it is not one, -ERANGE over 2^64-1.
 */
int ctl_parse_size(const char *text, uint64_t *value);

/* A client id: a decimal from 1 to 2^32-1. 0, -EINVAL or -ERANGE. */
int ctl_parse_client(const char *text, uint32_t *id);

/* A uid: a decimal from 0 to 2^32-1. 0, -EINVAL or -ERANGE. */
int ctl_parse_uid(const char *text, uint32_t *uid);

/* Whether usage --by takes word: one of ctl_usage_by_vocabulary, as ListUsage names them. */
bool ctl_usage_by_known(const char *word);

/* Every word usage --by takes, comma separated, for messages. */
extern const char ctl_usage_by_vocabulary[];

/* Whether a limit (by its name in the Limits property) counts bytes rather than things. */
bool ctl_limit_counts_bytes(const char *name);

/* A purgeable state's word ("non-volatile", "volatile", "empty", ...), or NULL. */
const char *ctl_state_name(uint32_t state);

#endif
