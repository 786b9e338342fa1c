/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <libsmartcols.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-format.h"

void ctl_format_age(uint64_t then_usec, uint64_t now_usec, char out[static CTL_AGE_TEXT_MAX])
{
	static const struct {
		uint64_t seconds;
		const char *unit;
	} units[] = { { 86400, "d" }, { 3600, "h" }, { 60, "min" }, { 1, "s" } };
	uint64_t seconds = now_usec > then_usec ? (now_usec - then_usec) / 1000000 : 0;
	size_t i = 0;

	while (units[i].seconds > 1 && seconds < units[i].seconds)
		i++;
	snprintf(out, CTL_AGE_TEXT_MAX, "%" PRIu64 "%s", seconds / units[i].seconds,
		 units[i].unit);
}

void ctl_format_bytes(uint64_t bytes, char out[static CTL_BYTES_TEXT_MAX])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double value = (double)bytes / 1024;
	size_t unit = 0;

	if (bytes < 1024) {
		snprintf(out, CTL_BYTES_TEXT_MAX, "%" PRIu64 " B", bytes);
		return;
	}
	/* Up a unit as soon as one decimal would round to 1024.0. */
	while (value >= 1023.95 && unit + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024;
		unit++;
	}
	snprintf(out, CTL_BYTES_TEXT_MAX, "%.1f %s", value, units[unit]);
}

int ctl_table_init(struct ctl_table *t)
{
	*t = (struct ctl_table){ .table = scols_new_table() };
	if (!t->table)
		return -ENOMEM;
	if (scols_table_set_column_separator(t->table, "  ") < 0) {
		ctl_table_fini(t);
		return -ENOMEM;
	}
	return 0;
}

void ctl_table_fini(struct ctl_table *t)
{
	scols_unref_table(t->table);
	*t = (struct ctl_table){ 0 };
}

int ctl_table_add_column(struct ctl_table *t, const char *header, bool right)
{
	if (!scols_table_new_column(t->table, header, 0, right ? SCOLS_FL_RIGHT : 0))
		return -ENOMEM;
	t->n_columns++;
	return 0;
}

int ctl_table_add(struct ctl_table *t, const char *text)
{
	char *cell;
	int r;

	if (t->n_columns == 0)
		return -EINVAL;
	if (t->next == 0) {
		t->row = scols_table_new_line(t->table, NULL);
		if (!t->row)
			return -ENOMEM;
	}
	cell = strdup(text[0] ? text : "-");
	if (!cell)
		return -ENOMEM;
	/* libsmartcols would write them \x09; iobufctl has always shown '?'. */
	for (char *p = cell; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	r = scols_line_refer_data(t->row, t->next, cell);
	if (r < 0) {
		free(cell);
		return r;
	}
	t->next = (t->next + 1) % t->n_columns;
	return 0;
}

int ctl_table_add_u64(struct ctl_table *t, uint64_t value)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRIu64, value);
	return ctl_table_add(t, text);
}

int ctl_table_add_bytes(struct ctl_table *t, uint64_t bytes)
{
	char text[CTL_BYTES_TEXT_MAX];

	ctl_format_bytes(bytes, text);
	return ctl_table_add(t, text);
}

/* libsmartcols prints nothing for a table without rows; people still get the header. */
static void print_header(struct ctl_table *t, FILE *f)
{
	for (size_t c = 0; c < t->n_columns; c++) {
		struct libscols_column *column = scols_table_get_column(t->table, c);

		fprintf(f, "%s%s", c ? "  " : "",
			scols_cell_get_data(scols_column_get_header(column)));
	}
	fputc('\n', f);
}

int ctl_table_print(struct ctl_table *t, FILE *f)
{
	if (t->n_columns == 0)
		return 0;
	if (t->next != 0) {
		scols_table_remove_line(t->table, t->row);
		t->row = NULL;
		t->next = 0;
	}
	if (scols_table_get_nlines(t->table) == 0) {
		print_header(t, f);
		return 0;
	}
	scols_table_set_stream(t->table, f);
	return scols_print_table(t->table);
}

void ctl_json_write_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f); /* D-Bus strings are valid UTF-8 */
		}
	}
	fputc('"', f);
}

void ctl_json_init(struct ctl_json *j, FILE *f)
{
	*j = (struct ctl_json){ .f = f };
}

/* A comma before every value or key but a level's first; none after a key. */
static void separate(struct ctl_json *j)
{
	uint64_t bit = UINT64_C(1) << (j->depth & 63);

	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->has_items & bit)
		fputc(',', j->f);
	j->has_items |= bit;
}

void ctl_json_open(struct ctl_json *j, char bracket)
{
	separate(j);
	fputc(bracket, j->f);
	if (j->depth < 32)
		j->depth++;
	j->has_items &= ~(UINT64_C(1) << j->depth);
}

void ctl_json_close(struct ctl_json *j, char bracket)
{
	fputc(bracket, j->f);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		fputc('\n', j->f);
}

void ctl_json_key(struct ctl_json *j, const char *key)
{
	separate(j);
	ctl_json_write_string(j->f, key);
	fputc(':', j->f);
	j->after_key = true;
}

void ctl_json_string(struct ctl_json *j, const char *s)
{
	separate(j);
	ctl_json_write_string(j->f, s);
}

void ctl_json_u64(struct ctl_json *j, uint64_t value)
{
	separate(j);
	fprintf(j->f, "%" PRIu64, value);
}

void ctl_json_key_string(struct ctl_json *j, const char *key, const char *s)
{
	ctl_json_key(j, key);
	ctl_json_string(j, s);
}

void ctl_json_key_u64(struct ctl_json *j, const char *key, uint64_t value)
{
	ctl_json_key(j, key);
	ctl_json_u64(j, value);
}
