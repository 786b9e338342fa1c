/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ctl-options.h"
#include "ctl-output.h"

/* A people's list: a column per field, numbers and sizes aligned right. */
static int table_begin(struct ctl_output *o)
{
	int r = ctl_table_init(&o->table);

	for (size_t i = 0; r == 0 && i < o->n_fields; i++) {
		enum ctl_kind kind = o->fields[i].kind;

		r = ctl_table_add_column(&o->table, o->fields[i].label,
					 kind == CTL_NUMBER || kind == CTL_BYTES || kind == CTL_AGE);
	}
	return r;
}

void ctl_output_begin(struct ctl_output *o, bool json, bool list, const struct ctl_field *fields,
		      size_t n_fields)
{
	*o = (struct ctl_output){ .json = json, .list = list, .fields = fields,
				  .n_fields = n_fields };
	for (size_t i = 0; i < n_fields; i++)
		if (strlen(fields[i].label) + 1 > o->label_width)
			o->label_width = strlen(fields[i].label) + 1;
	if (json) {
		ctl_json_init(&o->js, stdout);
		ctl_json_open(&o->js, list ? '[' : '{');
	} else if (list) {
		o->error = table_begin(o);
	}
}

static const struct ctl_field *field_start(struct ctl_output *o)
{
	const struct ctl_field *field = &o->fields[o->next];

	if (o->json && o->list && o->next == 0)
		ctl_json_open(&o->js, '{');
	if (o->json)
		ctl_json_key(&o->js, field->key);
	return field;
}

static int field_done(struct ctl_output *o, int r)
{
	if (r < 0)
		o->error = r;
	if (++o->next < o->n_fields)
		return r;
	o->next = 0;
	if (o->json && o->list)
		ctl_json_close(&o->js, '}');
	return r;
}

/* A value as people read it: a table cell or a record line. */
static int human(struct ctl_output *o, const struct ctl_field *field, const char *text)
{
	if (o->list)
		return ctl_table_add(&o->table, text);
	printf("%s:%*s %s\n", field->label, (int)(o->label_width - strlen(field->label) - 1), "",
	       text[0] ? text : "-");
	return 0;
}

int ctl_output_text(struct ctl_output *o, const char *text)
{
	const struct ctl_field *field;

	if (o->error < 0)
		return o->error;
	field = field_start(o);
	if (o->json) {
		ctl_json_string(&o->js, text);
		return field_done(o, 0);
	}
	return field_done(o, human(o, field, text));
}

static void format_u64(const struct ctl_output *o, const struct ctl_field *field,
		       uint64_t value, char *out, size_t size)
{
	char bytes[CTL_BYTES_TEXT_MAX], age[CTL_AGE_TEXT_MAX];

	if (field->kind == CTL_AGE) {
		ctl_format_age(value, clock_usec(CLOCK_REALTIME), age);
		snprintf(out, size, "%s", age);
		return;
	}
	if (field->kind != CTL_BYTES) {
		snprintf(out, size, "%" PRIu64, value);
		return;
	}
	ctl_format_bytes(value, bytes);
	if (o->list)
		snprintf(out, size, "%s", bytes);
	else if (value < 1024)
		snprintf(out, size, "%" PRIu64, value);
	else
		snprintf(out, size, "%" PRIu64 " (%s)", value, bytes);
}

int ctl_output_u64(struct ctl_output *o, uint64_t value)
{
	const struct ctl_field *field;
	char text[48];

	if (o->error < 0)
		return o->error;
	field = field_start(o);
	if (o->json) {
		ctl_json_u64(&o->js, value);
		return field_done(o, 0);
	}
	format_u64(o, field, value, text, sizeof(text));
	return field_done(o, human(o, field, text));
}

static void json_name(const char *name, void *data)
{
	ctl_json_string(data, name);
}

int ctl_output_options(struct ctl_output *o, uint32_t bits)
{
	const struct ctl_field *field;
	char text[CTL_OPTIONS_TEXT_MAX];

	if (o->error < 0)
		return o->error;
	field = field_start(o);
	if (o->json) {
		ctl_json_open(&o->js, '[');
		ctl_options_foreach(bits, json_name, &o->js);
		ctl_json_close(&o->js, ']');
		return field_done(o, 0);
	}
	ctl_options_format(bits, text, sizeof(text));
	return field_done(o, human(o, field, text));
}

int ctl_output_state(struct ctl_output *o, uint32_t state)
{
	const char *name = ctl_state_name(state);
	char text[32];

	if (!name) {
		snprintf(text, sizeof(text), "unknown-%" PRIu32, state);
		name = text;
	}
	return ctl_output_text(o, name);
}

void ctl_format_limit(const char *name, uint64_t value, char *out, size_t size)
{
	char bytes[CTL_BYTES_TEXT_MAX];

	if (value == 0) {
		snprintf(out, size, "none");
	} else if (ctl_limit_counts_bytes(name)) {
		ctl_format_bytes(value, bytes);
		snprintf(out, size, "%s", bytes);
	} else {
		snprintf(out, size, "%" PRIu64, value);
	}
}

/* "max-buffer-size 512.0 MiB, max-client-buffers 4096, ...": the limits in force. */
static void format_limits(const struct ctl_limits *limits, char *out, size_t size)
{
	size_t used = 0;
	char value[32];

	out[0] = '\0';
	for (size_t i = 0; i < limits->n && used < size; i++) {
		int n;

		if (!limits->values[i])
			continue;
		ctl_format_limit(limits->names[i], limits->values[i], value, sizeof(value));
		n = snprintf(out + used, size - used, "%s%s %s", used ? ", " : "",
			     limits->names[i], value);
		if (n > 0)
			used += (size_t)n;
	}
}

int ctl_output_limits(struct ctl_output *o, const struct ctl_limits *limits)
{
	const struct ctl_field *field;
	char text[1024];

	if (o->error < 0)
		return o->error;
	field = field_start(o);
	if (o->json) {
		ctl_json_open(&o->js, '{');
		for (size_t i = 0; i < limits->n; i++)
			ctl_json_key_u64(&o->js, limits->names[i], limits->values[i]);
		ctl_json_close(&o->js, '}');
		return field_done(o, 0);
	}
	format_limits(limits, text, sizeof(text));
	return field_done(o, human(o, field, text));
}

int ctl_output_end(struct ctl_output *o)
{
	int r = o->error;

	if (o->json)
		ctl_json_close(&o->js, o->list ? ']' : '}');
	else if (o->list && r == 0)
		r = ctl_table_print(&o->table, stdout);
	ctl_table_fini(&o->table);
	return r;
}
