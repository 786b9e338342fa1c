/* SPDX-License-Identifier: MIT */
/*
 * The daemon's file descriptors, shared out so that no uid can take them
 * all. Every buffer holds one fd in the daemon and every client up to
 * three (its socket, its pidfd, the pidfd of a task it charges), however
 * little memory they hold. At start the soft RLIMIT_NOFILE is raised to
 * the hard one; of that:
 *
 *   - FD_RESERVE fds stay for the daemon's own work: accepting, D-Bus, the
 *     fd store, the event loop, logging, the heaps' devices;
 *   - clients get three each, and at most a quarter of the rest
 *     (max-clients is lowered to fit, with a log line);
 *   - buffers get what remains: the buffer budget, which holds over every
 *     client (ENOMEM past it);
 *   - each uid may hold an eighth of the buffer budget and an eighth of
 *     max-clients unless max-uid-buffers and max-uid-clients say otherwise.
 */
#ifndef IOBUFD_FDBUDGET_H
#define IOBUFD_FDBUDGET_H

#include <stdint.h>

#include "limits.h"

#define FD_RESERVE 64
#define FDS_PER_CLIENT 3
#define FD_SHARES_PER_UID 8

struct fd_budget {
	uint64_t nofile;      /* RLIMIT_NOFILE in force */
	uint64_t buffers;     /* how many buffers all clients may hold together */
	unsigned max_clients; /* max-clients as asked, lowered to fit */
};

/* Raises RLIMIT_NOFILE as far as allowed and shares it out for max_clients. */
void fd_budget_init(struct fd_budget *b, unsigned max_clients);

/* Gives max-uid-buffers and max-uid-clients, where nothing set them, their share. */
void fd_budget_apply(const struct fd_budget *b, struct limits *l);

#endif
