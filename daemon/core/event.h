/* SPDX-License-Identifier: MIT */
/*
 * What happened to a client or a buffer, logged once with the fields an
 * admin filters the journal on: IOBUFD_EVENT (the kind), IOBUFD_CLIENT,
 * IOBUFD_PID, IOBUFD_UID, IOBUFD_COMM, IOBUFD_UNIT, IOBUFD_BUFFER,
 * IOBUFD_HEAP, IOBUFD_SIZE, IOBUFD_LABEL and IOBUFD_LIMIT. The important
 * kinds carry a MESSAGE_ID of systemd/iobufd.catalog.
 */
#ifndef IOBUFD_EVENT_H
#define IOBUFD_EVENT_H

#include "client.h"
#include "reason.h"

/* MESSAGE_IDs, each explained in systemd/iobufd.catalog. */
#define EVENT_ID_REFUSED_BY_LIMIT "7640ecb8673d470c9e9b4dd734315315"
#define EVENT_ID_LEFT_HOLDING "af903863ed8a4eca98182760bcbc94c5"
#define EVENT_ID_PURGED "c7ebc3ef9ddf421bac9b9dc409d2b21b"
#define EVENT_ID_RESTORED "2ac271fea2294855b711a3cd5edc2e6d"

struct event {
	const char *kind;       /* allocate, free, refuse, purge, release, restore, connect, disconnect */
	const char *message_id; /* NULL for none */
	const struct client *client; /* whom it is about, or NULL */
	const struct buffer *buffer; /* which buffer, or NULL */
	const char *limit;           /* the limit a refusal met, or NULL */
};

/*
 * A refused request of client (request: "allocate", "AllocateEx", ...).
 * One that met a limit is a notice with EVENT_ID_REFUSED_BY_LIMIT, within
 * the client's uid's log budget; others are logged only with --verbose.
 */
void event_refused(const struct client *client, const char *request, const struct reason *why);

/* Logs the event as log_fields() does, at priority. */
void event_log(int priority, const struct event *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
