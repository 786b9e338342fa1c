/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "fdstore.h"
#include "heaps/heap.h"
#include "label.h"
#include "log.h"

void fdstore_init(struct fdstore *store)
{
	const char *max = getenv("FDSTORE");
	unsigned long n = 0;
	char *end;

	*store = (struct fdstore){ 0 };
	if (!max || !getenv("NOTIFY_SOCKET"))
		return;
	errno = 0;
	n = strtoul(max, &end, 10);
	if (errno || *end || end == max || n > UINT32_MAX) {
		log_warning("ignoring FDSTORE=%s: not a count of fds", max);
		return;
	}
	store->max = (unsigned)n;
}

/* Whether the manager's $LISTEN_FDNAMES can carry name. */
static bool name_fits(const char *name)
{
	size_t len = strlen(name);

	if (len > FDSTORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e || name[i] == ':')
			return false;
	return true;
}

/* Whether the fd is now stored as name. */
static bool keep(struct fdstore *store, int fd, const char *name, bool poll)
{
	char message[FDSTORE_NAME_MAX + 64];
	int r;

	if (!store->max || store->stopping)
		return false;
	if (store->stored >= store->max) {
		if (!store->full_warned)
			log_warning("the fd store is full (%u fds): newer buffers and clients will "
				    "not survive a restart", store->max);
		store->full_warned = true;
		return false;
	}
	if (!name_fits(name)) {
		log_warning("cannot store \"%s\": not a valid fd name; it will not survive a restart",
			    name);
		return false;
	}
	/* The manager drops a stored connection that hangs up; buffers never do. */
	snprintf(message, sizeof(message), "FDSTORE=1\nFDNAME=%s%s", name,
		 poll ? "" : "\nFDPOLL=0");
	r = sd_pid_notify_with_fds(0, false, message, &fd, 1);
	if (r <= 0) {
		log_warning("cannot store %s with the service manager: %s", name,
			    r < 0 ? strerror(-r) : "no manager");
		return false;
	}
	store->stored++;
	return true;
}

void fdstore_forget_name(struct fdstore *store, const char *name)
{
	if (store->stopping)
		return;
	(void)sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", name);
	if (store->stored > 0)
		store->stored--;
}

static void connection_name(const struct client *client, char *out, size_t size)
{
	snprintf(out, size, "conn;client=%u", client->id);
}

/* The unique name without its leading ':', which fd names cannot hold. */
static const char *bus_name_field(const struct client *owner)
{
	return owner->bus_name && owner->bus_name[0] == ':' ? owner->bus_name + 1 : NULL;
}

static void charge_name(const struct client *client, char *out, size_t size)
{
	const char *bus = bus_name_field(client);

	snprintf(out, size, "charge;client=%u;pid=%d;uid=%u%s%s", client->id, (int)client->task.pid,
		 (unsigned)client->task.uid, bus ? ";bus=" : "", bus ? bus : "");
}

static void buffer_name(const struct buffer *b, const struct client *owner, char *out,
			size_t size)
{
	const char *bus = bus_name_field(owner);
	int n;

	n = snprintf(out, size,
		     "buf;id=%" PRIu64 ";client=%u;size=%" PRIu64 ";options=0x%x;state=%u;heap=%s%s%s",
		     b->id, b->client_id, b->size, b->options, b->purgeable_state, b->heap->name,
		     bus ? ";bus=" : "", bus ? bus : "");
	/* Who pays for it, should its owner be gone when the next iobufd starts. */
	if (n > 0 && (size_t)n < size)
		n += snprintf(out + n, size - (size_t)n, ";uid=%u;pid=%d%s;born=%" PRIu64,
			      (unsigned)owner->task.uid, (int)owner->task.pid,
			      b->freed ? ";freed=1" : "", b->created_usec);
	/* A label only where it fits: the rest must come back whatever the label. */
	if (b->label && n > 0 && (size_t)n + 7 + 2 * strlen(b->label) < size) {
		n += snprintf(out + n, size - (size_t)n, ";label=");
		for (const char *c = b->label; *c; c++)
			n += snprintf(out + n, size - (size_t)n, "%02x", (unsigned char)*c);
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The label a "label=" field holds in hex. */
static int parse_label(const char *value, char *out, size_t size)
{
	size_t len = strlen(value);
	int high, low;

	if (len % 2 || len / 2 >= size)
		return -EINVAL;
	for (size_t i = 0; i < len / 2; i++) {
		high = hex_digit(value[2 * i]);
		low = hex_digit(value[2 * i + 1]);
		if (high < 0 || low < 0)
			return -EINVAL;
		out[i] = (char)(high << 4 | low);
	}
	out[len / 2] = '\0';
	return label_problem(out) ? -EINVAL : 0;
}

/*
 * Stores fd as name under key in record, unless it is stored so already;
 * what was stored under key before is taken back first.
 */
static void store_as(struct fdstore *store, struct record *record, uint64_t key, int fd,
		     const char *name, bool poll)
{
	const char *stored = record_get(record, key);

	if (stored && strcmp(stored, name) == 0)
		return;
	if (stored) {
		fdstore_forget_name(store, stored);
		record_drop(record, key);
	}
	if (keep(store, fd, name, poll) && record_set(record, key, name) < 0)
		fdstore_forget_name(store, name); /* unrecorded, it could not be taken back */
}

static void forget(struct fdstore *store, struct record *record, uint64_t key)
{
	const char *stored = record_get(record, key);

	if (!stored || store->stopping)
		return;
	fdstore_forget_name(store, stored);
	record_drop(record, key);
}

void fdstore_connection(struct fdstore *store, const struct client *client, int sock)
{
	char name[FDSTORE_NAME_MAX + 2];

	if (!store->max)
		return;
	connection_name(client, name, sizeof(name));
	store_as(store, &store->connections, client->id, sock, name, true);
}

void fdstore_connection_gone(struct fdstore *store, const struct client *client)
{
	forget(store, &store->connections, client->id);
}

void fdstore_charge(struct fdstore *store, const struct client *client)
{
	char name[FDSTORE_NAME_MAX + 2];

	if (!store->max)
		return;
	charge_name(client, name, sizeof(name));
	store_as(store, &store->charges, client->id, client->task.pidfd, name, false);
}

void fdstore_charge_gone(struct fdstore *store, const struct client *client)
{
	forget(store, &store->charges, client->id);
}

void fdstore_buffer(struct fdstore *store, const struct buffer *buffer,
		    const struct client *owner)
{
	char name[FDSTORE_NAME_MAX + 2];

	if (!store->max) /* no store: no name to make on every allocation */
		return;
	buffer_name(buffer, owner, name, sizeof(name));
	store_as(store, &store->buffers, buffer->id, buffer->fd, name, false);
}

void fdstore_buffer_gone(struct fdstore *store, const struct buffer *buffer)
{
	forget(store, &store->buffers, buffer->id);
}

bool fdstore_holds_buffer(const struct fdstore *store, uint64_t id)
{
	return record_get(&store->buffers, id) != NULL;
}

void fdstore_adopt(struct fdstore *store, enum stored_kind kind, uint64_t key, const char *name)
{
	struct record *record = kind == STORED_CONNECTION ? &store->connections
				: kind == STORED_CHARGE ? &store->charges : &store->buffers;

	if (record_set(record, key, name) < 0)
		log_warning("out of memory: %s will not survive another restart", name);
}

void fdstore_stop(struct fdstore *store)
{
	store->stopping = true;
}

void fdstore_fini(struct fdstore *store)
{
	record_fini(&store->connections);
	record_fini(&store->charges);
	record_fini(&store->buffers);
}

/* A number of a stored name: decimal or 0x hex, at most max. */
static int parse_number(const char *value, uint64_t max, uint64_t *out)
{
	unsigned long long n;
	char *end;

	if (value[0] == '-')
		return -EINVAL;
	errno = 0;
	n = strtoull(value, &end, 0);
	if (errno || *end || end == value || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

/* The unique bus name a "bus=" field holds, its ':' put back. */
static int parse_bus_name(const char *value, char *out, size_t size)
{
	return snprintf(out, size, ":%s", value) < (int)size ? 0 : -EINVAL;
}

/* Parses one "key=value" field of a buffer's name into out. */
static int parse_buffer_field(const char *key, const char *value, void *data)
{
	struct stored_buffer *out = data;
	uint64_t n;

	if (strcmp(key, "heap") == 0)
		return snprintf(out->heap, sizeof(out->heap), "%s", value) <
				       (int)sizeof(out->heap) ? 0 : -EINVAL;
	if (strcmp(key, "bus") == 0)
		return parse_bus_name(value, out->bus_name, sizeof(out->bus_name));
	if (strcmp(key, "label") == 0)
		return parse_label(value, out->label, sizeof(out->label));
	if (parse_number(value, UINT64_MAX, &n) < 0)
		return -EINVAL;
	if (strcmp(key, "id") == 0)
		out->id = n;
	else if (strcmp(key, "born") == 0)
		out->created_usec = n;
	else if (strcmp(key, "size") == 0)
		out->size = n;
	else if (strcmp(key, "client") == 0 && n <= UINT32_MAX)
		out->client_id = (unsigned)n;
	else if (strcmp(key, "options") == 0 && n <= UINT32_MAX)
		out->options = (uint32_t)n;
	else if (strcmp(key, "state") == 0 && n <= UINT32_MAX)
		out->state = (uint32_t)n;
	else if (strcmp(key, "freed") == 0 && n == 1)
		out->freed = true;
	else if (strcmp(key, "uid") == 0 && n <= UINT32_MAX)
		out->uid = (uid_t)n, out->owner_known = true;
	else if (strcmp(key, "pid") == 0 && n <= INT32_MAX)
		out->pid = (pid_t)n;
	else
		return -EINVAL;
	return 0;
}

static int parse_charge_field(const char *key, const char *value, void *data)
{
	struct stored_charge *out = data;
	uint64_t n;

	if (strcmp(key, "bus") == 0)
		return parse_bus_name(value, out->bus_name, sizeof(out->bus_name));
	if (parse_number(value, INT32_MAX, &n) < 0)
		return -EINVAL;
	if (strcmp(key, "client") == 0)
		out->client_id = (unsigned)n;
	else if (strcmp(key, "pid") == 0)
		out->pid = (pid_t)n;
	else if (strcmp(key, "uid") == 0)
		out->uid = (uid_t)n;
	else
		return -EINVAL;
	return 0;
}

/* Feeds each "key=value" field after "KIND;" in name to parse_field. */
static int parse_fields(const char *name, const char *kind,
			int (*parse_field)(const char *key, const char *value, void *out),
			void *out)
{
	char copy[FDSTORE_NAME_MAX + 1];
	char *save = NULL, *field;
	size_t len = strlen(kind);
	int r;

	if (strncmp(name, kind, len) != 0 || name[len] != ';' ||
	    snprintf(copy, sizeof(copy), "%s", name + len + 1) >= (int)sizeof(copy))
		return -EINVAL;
	for (field = strtok_r(copy, ";", &save); field; field = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(field, '=');

		if (!eq)
			return -EINVAL;
		*eq = '\0';
		r = parse_field(field, eq + 1, out);
		if (r < 0)
			return r;
	}
	return 0;
}

int fdstore_parse_buffer(const char *name, struct stored_buffer *out)
{
	int r;

	*out = (struct stored_buffer){ .fd = -1 };
	r = parse_fields(name, "buf", parse_buffer_field, out);
	if (r >= 0 && (!out->id || !out->client_id || !out->size || !out->heap[0]))
		r = -EINVAL;
	return r;
}

int fdstore_parse_charge(const char *name, struct stored_charge *out)
{
	int r;

	*out = (struct stored_charge){ .fd = -1 };
	r = parse_fields(name, "charge", parse_charge_field, out);
	if (r >= 0 && (!out->client_id || !out->pid))
		r = -EINVAL;
	return r;
}

static int parse_connection(const char *name, struct stored_connection *out)
{
	uint64_t n;

	if (strncmp(name, "conn;client=", 12) != 0 || parse_number(name + 12, UINT32_MAX, &n) < 0 ||
	    n == 0)
		return -EINVAL;
	*out = (struct stored_connection){ .client_id = (unsigned)n, .fd = -1 };
	return 0;
}

/* Sorts one passed fd into h, taking it; anything unknown is closed. */
static void take_one(struct handover *h, struct fdstore *store, int fd, const char *name)
{
	struct stored_connection conn;
	struct stored_charge charge;
	struct stored_buffer buf;

	if (fdstore_parse_buffer(name, &buf) == 0) {
		buf.fd = fd;
		snprintf(buf.name, sizeof(buf.name), "%s", name);
		h->buffers[h->buffer_count++] = buf;
	} else if (fdstore_parse_charge(name, &charge) == 0) {
		charge.fd = fd;
		snprintf(charge.name, sizeof(charge.name), "%s", name);
		h->charges[h->charge_count++] = charge;
	} else if (parse_connection(name, &conn) == 0) {
		conn.fd = fd;
		snprintf(conn.name, sizeof(conn.name), "%s", name);
		h->connections[h->connection_count++] = conn;
	} else if (h->listen_fd < 0 && sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) > 0) {
		h->listen_fd = fd;
	} else {
		/* Dropped from the store too, or every restart would meet it again. */
		log_warning("dropping an fd named \"%s\": neither a listening SOCK_SEQPACKET unix "
			    "socket nor one this daemon stored", name);
		fdstore_forget_name(store, name);
		close(fd);
	}
}

int handover_take(struct handover *h, struct fdstore *store)
{
	char **names = NULL;
	int n, r = 0;

	*h = (struct handover){ .listen_fd = -1 };
	n = sd_listen_fds_with_names(1, &names);
	if (n < 0)
		return log_error_errno(n, "cannot take the fds the service manager passed");
	if (n > 0) {
		h->connections = calloc((size_t)n, sizeof(*h->connections));
		h->charges = calloc((size_t)n, sizeof(*h->charges));
		h->buffers = calloc((size_t)n, sizeof(*h->buffers));
		if (!h->connections || !h->charges || !h->buffers)
			r = log_error_errno(-ENOMEM, "cannot take %d fds", n);
	}
	store->stored = n > 0 ? (unsigned)n : 0; /* what is dropped below is taken back */
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (r < 0)
			close(fd);
		else
			take_one(h, store, fd, names && names[i] ? names[i] : "");
	}
	/* All that the manager passed is in its store, but for the socket unit's socket. */
	if (h->listen_fd >= 0 && store->stored > 0)
		store->stored--;
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	if (r < 0)
		handover_fini(h);
	return r;
}

void handover_fini(struct handover *h)
{
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	for (size_t i = 0; i < h->connection_count; i++)
		if (h->connections[i].fd >= 0)
			close(h->connections[i].fd);
	for (size_t i = 0; i < h->charge_count; i++)
		if (h->charges[i].fd >= 0)
			close(h->charges[i].fd);
	for (size_t i = 0; i < h->buffer_count; i++)
		if (h->buffers[i].fd >= 0)
			close(h->buffers[i].fd);
	free(h->connections);
	free(h->charges);
	free(h->buffers);
	*h = (struct handover){ .listen_fd = -1 };
}
