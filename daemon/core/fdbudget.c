/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <sys/resource.h>

#include "fdbudget.h"
#include "log.h"

static uint64_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : (uint64_t)rl.rlim_cur;
}

void fd_budget_init(struct fd_budget *b, unsigned max_clients)
{
	uint64_t usable, client_room;

	b->nofile = raise_nofile();
	usable = b->nofile > FD_RESERVE ? b->nofile - FD_RESERVE : 0;
	client_room = usable / 4 / FDS_PER_CLIENT;
	b->max_clients = max_clients;
	if (b->max_clients > client_room) {
		b->max_clients = client_room ? (unsigned)client_room : 1;
		log_warning("RLIMIT_NOFILE is %" PRIu64 ": serving %u clients, not %u",
			    b->nofile, b->max_clients, max_clients);
	}
	b->buffers = usable - (uint64_t)b->max_clients * FDS_PER_CLIENT;
	if (usable < (uint64_t)b->max_clients * FDS_PER_CLIENT + 1)
		b->buffers = 1;
}

static uint64_t share(uint64_t whole)
{
	return whole / FD_SHARES_PER_UID ? whole / FD_SHARES_PER_UID : 1;
}

void fd_budget_apply(const struct fd_budget *b, struct limits *l)
{
	l->uid_buffers_shared = l->uid.buffers == LIMIT_FROM_FD_BUDGET;
	if (l->uid_buffers_shared)
		l->uid.buffers = share(b->buffers);
	l->uid_clients_shared = l->uid_clients == LIMIT_FROM_FD_BUDGET;
	if (l->uid_clients_shared)
		l->uid_clients = share(b->max_clients);
	l->fd_buffers = b->buffers;
}
