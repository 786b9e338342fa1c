/* SPDX-License-Identifier: MIT */
/*
 * iobufctl's output: aligned tables for people (through libsmartcols), sizes
 * in binary units, and a small JSON writer for programs.
 */
#ifndef IOBUFCTL_FORMAT_H
#define IOBUFCTL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest text ctl_format_bytes() writes, with its NUL. */
#define CTL_BYTES_TEXT_MAX 16

/* "512 B", "4.0 KiB", "1.5 MiB", ... up to EiB. */
void ctl_format_bytes(uint64_t bytes, char out[static CTL_BYTES_TEXT_MAX]);

/* Longest text ctl_format_age() writes, with its NUL. */
#define CTL_AGE_TEXT_MAX 16

/*
 * How long ago a time (microseconds since the epoch) was at now, as people
 * read it: "12s", "5min", "3h", "2d"; "0s" for a time after now.
 */
void ctl_format_age(uint64_t then_usec, uint64_t now_usec, char out[static CTL_AGE_TEXT_MAX]);

struct libscols_table;
struct libscols_line;

/*
 * A table for people, laid out by libsmartcols: columns two spaces apart,
 * each as wide as its widest cell in display cells (a CJK character takes
 * two), numbers aligned right, no trailing blanks. Filled row by row, left
 * to right, after its columns are named.
 */
struct ctl_table {
	struct libscols_table *table;
	struct libscols_line *row; /* the row being filled */
	size_t n_columns, next;    /* next: the column of row's next cell */
};

/* An empty table without columns. 0 or -ENOMEM. */
int ctl_table_init(struct ctl_table *t);
void ctl_table_fini(struct ctl_table *t);

/* Adds a column on the right, before any cell is added. 0 or -ENOMEM. */
int ctl_table_add_column(struct ctl_table *t, const char *header, bool right);

/*
 * Adds the next cell, left to right, top to bottom. Control characters
 * become '?', and "" is written "-". 0 or -ENOMEM.
 */
int ctl_table_add(struct ctl_table *t, const char *text);
int ctl_table_add_u64(struct ctl_table *t, uint64_t value);
int ctl_table_add_bytes(struct ctl_table *t, uint64_t bytes);

/*
 * The header and every full row to f (a partial last row is dropped); a
 * table without rows is its header. 0 or a negative errno.
 */
int ctl_table_print(struct ctl_table *t, FILE *f);

/*
 * One JSON document written as it goes: keys and values in order, commas
 * and escaping handled. Nesting up to 32 levels. Not libsmartcols': its
 * JSON (2.38) puts every list inside an object, has no empty arrays and no
 * object values, and spans lines; iobufctl's documents are none of that.
 */
struct ctl_json {
	FILE *f;
	unsigned depth;
	uint64_t has_items; /* bit n: level n has a value already */
	bool after_key;
};

void ctl_json_init(struct ctl_json *j, FILE *f);
void ctl_json_open(struct ctl_json *j, char bracket);   /* '{' or '[' */
void ctl_json_close(struct ctl_json *j, char bracket);  /* '}' or ']'; a newline at the end */
void ctl_json_key(struct ctl_json *j, const char *key);
void ctl_json_string(struct ctl_json *j, const char *s);
void ctl_json_u64(struct ctl_json *j, uint64_t value);
void ctl_json_key_string(struct ctl_json *j, const char *key, const char *s);
void ctl_json_key_u64(struct ctl_json *j, const char *key, uint64_t value);

/* s as a JSON string literal, quotes included. */
void ctl_json_write_string(FILE *f, const char *s);

#endif
