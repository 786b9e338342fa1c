/* SPDX-License-Identifier: MIT */
/*
 * iobufctl's commands, one function each. The command line is parsed and
 * checked before any of them runs; they talk to the daemon and print.
 */
#ifndef IOBUFCTL_COMMANDS_H
#define IOBUFCTL_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "ctl-output.h"

struct ctl_context {
	sd_bus *bus;
	bool json;
	const char *what; /* the command, for messages: "limits set" */
};

/* A command's arguments, as read from the command line. */
struct ctl_request {
	uint32_t client;     /* buffers --client, free-client; 0: none given */
	uint64_t size;       /* alloc */
	uint64_t alignment;  /* alloc --alignment */
	uint32_t options;    /* alloc --options */
	const char *limit;   /* limits set NAME */
	uint64_t value;      /* limits set ... VALUE */
	const char *by;      /* usage --by: "uid", "unit", "cgroup" or "heap" */
	const char *heap;    /* alloc --heap; NULL: the daemon chooses */
	const char *label;   /* alloc --label; NULL: none */
};

/*
 * Shared by the commands that list: writes the array of element (a struct
 * signature, "(sstt)") at reply's position as a list of fields, a row per
 * element, and unrefs reply. row reads one element and writes its values:
 * > 0 for a row, 0 past the last, or a negative errno. 0, or a negative
 * errno after saying that the reply could not be read.
 */
int ctl_print_list(const struct ctl_context *c, sd_bus_message *reply, const char *element,
		   const struct ctl_field *fields, size_t n_fields,
		   int (*row)(sd_bus_message *m, struct ctl_output *o, const void *data),
		   const void *data);

/*
 * Each returns 0, or a negative errno after saying what failed on stderr.
 * Anyone may run these:
 */
int ctl_status(const struct ctl_context *c, const struct ctl_request *req);
int ctl_heaps(const struct ctl_context *c, const struct ctl_request *req);
int ctl_limits(const struct ctl_context *c, const struct ctl_request *req);
int ctl_alloc(const struct ctl_context *c, const struct ctl_request *req);

/* The daemon lets only root and members of iobufd-admin run these: */
int ctl_clients(const struct ctl_context *c, const struct ctl_request *req);
int ctl_buffers(const struct ctl_context *c, const struct ctl_request *req);
int ctl_usage(const struct ctl_context *c, const struct ctl_request *req);
int ctl_limits_set(const struct ctl_context *c, const struct ctl_request *req);
int ctl_purge(const struct ctl_context *c, const struct ctl_request *req);
int ctl_free_client(const struct ctl_context *c, const struct ctl_request *req);

#endif
