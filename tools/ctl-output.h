/* SPDX-License-Identifier: MIT */
/*
 * A command's answer, written once for both readers: a list of records is a
 * table for people and a JSON array for programs; a single record is
 * "Label: value" lines or a JSON object. Values are given field by field, in
 * the order of the fields.
 */
#ifndef IOBUFCTL_OUTPUT_H
#define IOBUFCTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl-format.h"

enum ctl_kind {
	CTL_TEXT,
	CTL_NUMBER,
	CTL_BYTES,   /* people read 4.0 KiB (in a record also the exact count), JSON the count */
	CTL_OPTIONS, /* IOBUF_* bits: "pageable,cache=copyback", a JSON array of the names */
	CTL_STATE,   /* a purgeable state's word */
	CTL_AGE,     /* microseconds since the epoch: people read "5min" (ago), JSON the number */
	CTL_LIMITS,  /* name -> value pairs, a JSON object */
};

struct ctl_field {
	const char *label; /* table header, or record label */
	const char *key;   /* JSON */
	enum ctl_kind kind;
};

#define CTL_LIMITS_MAX 160 /* the daemon's 8, and 64 rules of 2 */

/* Limits by name, as the Limits property has them (the first 16); names borrowed. */
struct ctl_limits {
	size_t n;
	const char *names[CTL_LIMITS_MAX];
	uint64_t values[CTL_LIMITS_MAX];
};

struct ctl_output {
	bool json, list;
	const struct ctl_field *fields;
	size_t n_fields, next;
	size_t label_width; /* a record's labels */
	int error; /* the first value that failed; the values after it are dropped */
	struct ctl_table table; /* a list for people */
	struct ctl_json js;
};

/* Starts a list (list true) or a record on stdout; a failure shows in o->error. */
void ctl_output_begin(struct ctl_output *o, bool json, bool list, const struct ctl_field *fields,
		      size_t n_fields);

/*
 * The next field's value, as its kind says. 0, or -ENOMEM, which o keeps:
 * every later call returns it and writes nothing.
 */
int ctl_output_text(struct ctl_output *o, const char *text);
int ctl_output_u64(struct ctl_output *o, uint64_t value);
int ctl_output_options(struct ctl_output *o, uint32_t bits);
int ctl_output_state(struct ctl_output *o, uint32_t state);
int ctl_output_limits(struct ctl_output *o, const struct ctl_limits *limits);

/*
 * Writes what is left (the table, the closing bracket) and frees it. 0, or
 * the first negative errno of the values or of writing the table.
 */
int ctl_output_end(struct ctl_output *o);

/* A limit's value as people read it: bytes for sizes, a plain count otherwise. */
void ctl_format_limit(const char *name, uint64_t value, char *out, size_t size);

#endif
