/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "event.h"
#include "heaps/heap.h"
#include "log-budget.h"
#include "log.h"

struct event_fields {
	struct log_field fields[LOG_FIELDS_MAX];
	size_t n;
	char numbers[6][24];
	size_t n_numbers;
};

static void add(struct event_fields *f, const char *name, const char *value)
{
	if (value && value[0] && f->n < LOG_FIELDS_MAX)
		f->fields[f->n++] = (struct log_field){ name, value };
}

static void add_number(struct event_fields *f, const char *name, uint64_t value)
{
	char *text = f->numbers[f->n_numbers++];

	snprintf(text, sizeof(f->numbers[0]), "%" PRIu64, value);
	add(f, name, text);
}

static void add_client(struct event_fields *f, const struct client *c)
{
	add_number(f, "CLIENT", c->id);
	add_number(f, "PID", (uint64_t)c->task.pid);
	add_number(f, "UID", c->task.uid);
	add(f, "COMM", c->task.comm);
	add(f, "UNIT", c->task.unit);
}

static void add_buffer(struct event_fields *f, const struct buffer *b)
{
	add_number(f, "BUFFER", b->id);
	add(f, "HEAP", b->heap->name);
	add_number(f, "SIZE", b->size);
	add(f, "LABEL", b->label);
}

void event_log(int priority, const struct event *e, const char *fmt, ...)
{
	struct event_fields f = { .n = 0 };
	char line[1024];
	va_list ap;

	if (priority == LOG_DEBUG && !log_is_verbose())
		return;
	add(&f, "EVENT", e->kind);
	if (e->client)
		add_client(&f, e->client);
	if (e->buffer)
		add_buffer(&f, e->buffer);
	add(&f, "LIMIT", e->limit);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fields(priority, e->message_id, f.fields, f.n, "%s", line);
}

void event_refused(const struct client *client, const char *request, const struct reason *why)
{
	struct event e = { .kind = "refuse", .client = client };

	if (!why->limit[0]) {
		event_log(LOG_DEBUG, &e, "client %u: %s refused: %s", client->id, request,
			  why->text);
		return;
	}
	if (!log_budget_take(client->peer.uid))
		return;
	e.limit = why->limit;
	e.message_id = EVENT_ID_REFUSED_BY_LIMIT;
	event_log(LOG_NOTICE, &e, "client %u (pid %d, %s): %s refused by %s: %s", client->id,
		  (int)client->task.pid, client->task.comm, request, why->limit, why->text);
}
