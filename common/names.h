/* SPDX-License-Identifier: MIT */
/*
 * The names iobufd, iobufctl, the tests and the benchmarks share, each
 * spelled once: where the daemon lives on D-Bus, what its limits and
 * settings are called (the config file, the command line, SetLimit and the
 * Limits property speak the same names) and the scopes that group clients
 * (limit rules, ListUsage, iobufctl usage --by).
 */
#ifndef IOBUF_COMMON_NAMES_H
#define IOBUF_COMMON_NAMES_H

/* D-Bus; protocol/org.iobufd.Allocator1.xml is the contract. */
#define IOBUF_BUS_NAME "org.iobufd.Allocator1"
#define IOBUF_BUS_INTERFACE IOBUF_BUS_NAME
#define IOBUF_BUS_PATH "/org/iobufd/Allocator1"
#define IOBUF_BUS_CLIENT_INTERFACE "org.iobufd.Client1"
#define IOBUF_BUS_BUFFER_INTERFACE "org.iobufd.Buffer1"
/* A client's object is IOBUF_BUS_CLIENTS_PATH "/ID", a buffer's likewise. */
#define IOBUF_BUS_CLIENTS_PATH IOBUF_BUS_PATH "/client"
#define IOBUF_BUS_BUFFERS_PATH IOBUF_BUS_PATH "/buffer"

/* The limits every request meets; in the config file under [limits]. */
#define IOBUF_LIMIT_MAX_BUFFER_SIZE "max-buffer-size"
#define IOBUF_LIMIT_MAX_CLIENT_BUFFERS "max-client-buffers"
#define IOBUF_LIMIT_MAX_CLIENT_BYTES "max-client-bytes"
#define IOBUF_LIMIT_MAX_UID_BUFFERS "max-uid-buffers"
#define IOBUF_LIMIT_MAX_UID_BYTES "max-uid-bytes"
#define IOBUF_LIMIT_MAX_UID_CLIENTS "max-uid-clients"
#define IOBUF_LIMIT_MAX_TOTAL_BUFFERS "max-total-buffers"
#define IOBUF_LIMIT_MAX_TOTAL_BYTES "max-total-bytes"
#define IOBUF_LIMIT_MAX_CLIENT_RATE "max-client-allocations-per-second"
#define IOBUF_LIMIT_MAX_VOLATILE_BYTES "max-volatile-bytes"

/* A rule's two limits: "SCOPE MATCH max-buffers", "SCOPE MATCH max-bytes". */
#define IOBUF_RULE_MAX_BUFFERS "max-buffers"
#define IOBUF_RULE_MAX_BYTES "max-bytes"

/* What groups clients: the first word of a rule, and what usage is totalled by. */
#define IOBUF_SCOPE_UID "uid"
#define IOBUF_SCOPE_UNIT "unit"
#define IOBUF_SCOPE_CGROUP "cgroup"
#define IOBUF_SCOPE_HEAP "heap"

/* The daemon's settings that are not limits: command-line options and [daemon] keys. */
#define IOBUF_SETTING_MAX_CLIENTS "max-clients"
#define IOBUF_SETTING_HEAPS "heaps"
#define IOBUF_SETTING_CONTIGUOUS_HEAPS "contiguous-heaps"
#define IOBUF_SETTING_MEMORY_PRESSURE "memory-pressure"

#endif
