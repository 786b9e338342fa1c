/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-format.h"

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

void ctl_table_init(struct ctl_table *t, const struct ctl_column *columns, size_t n_columns)
{
	*t = (struct ctl_table){ .columns = columns, .n_columns = n_columns };
}

void ctl_table_fini(struct ctl_table *t)
{
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	*t = (struct ctl_table){ 0 };
}

int ctl_table_add(struct ctl_table *t, const char *text)
{
	char *cell;

	if (t->n_cells == t->allocated) {
		size_t n = t->allocated ? 2 * t->allocated : 64;
		char **cells = realloc(t->cells, n * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->allocated = n;
	}
	cell = strdup(text[0] ? text : "-");
	if (!cell)
		return -ENOMEM;
	for (char *p = cell; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	t->cells[t->n_cells++] = cell;
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

/* Characters on screen: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void print_cell(FILE *f, const char *text, size_t width, bool right, bool last)
{
	size_t pad = width - text_width(text);

	if (right)
		fprintf(f, "%*s", (int)pad, "");
	fputs(text, f);
	if (!last)
		fprintf(f, "%*s", (int)(right ? 2 : pad + 2), "");
}

static void print_row(const struct ctl_table *t, FILE *f, const char *const *row,
		      const size_t *widths)
{
	for (size_t c = 0; c < t->n_columns; c++)
		print_cell(f, row[c], widths[c], t->columns[c].right, c + 1 == t->n_columns);
	fputc('\n', f);
}

void ctl_table_print(const struct ctl_table *t, FILE *f)
{
	const char *header[CTL_TABLE_MAX_COLUMNS];
	size_t widths[CTL_TABLE_MAX_COLUMNS];
	size_t n = t->n_columns, full;

	if (n == 0 || n > CTL_TABLE_MAX_COLUMNS)
		return;
	full = t->n_cells - t->n_cells % n; /* a partial last row is not printed */
	for (size_t c = 0; c < n; c++) {
		header[c] = t->columns[c].header;
		widths[c] = text_width(header[c]);
	}
	for (size_t i = 0; i < full; i++) {
		size_t w = text_width(t->cells[i]);

		if (w > widths[i % n])
			widths[i % n] = w;
	}
	print_row(t, f, header, widths);
	for (size_t i = 0; i < full; i += n)
		print_row(t, f, (const char *const *)t->cells + i, widths);
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
